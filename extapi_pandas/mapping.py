"""Column mappings: JSONPath (RFC 9535) expressions compiled once, applied per response."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import jsonpath_rfc9535
from jsonpath_rfc9535.selectors import IndexSelector, NameSelector

from extapi_pandas.errors import ConfigurationError, InvalidPathError, MappingError

__all__ = [
    "Column",
    "CompiledMapping",
    "CompiledPath",
    "Extraction",
    "compile_mapping",
    "extract_document",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Column:
    """How one output column is read from a response.

    Args:
        path: JSONPath (RFC 9535) of the value. Inside `records`, `$` is the record.
        dtype: pandas dtype to convert to, such as `"Int64"`, `"Float64"`, `"string"`,
            `"boolean"` or `"datetime64[ns, UTC]"`. None infers it from the values.
        required: Raise when the path matches no node, instead of giving `<NA>`.
        many: Keep every matched node as one list value, instead of requiring at
            most one node.

    Example:
        >>> Column("$.offers[0].price", dtype="Float64", required=True).required
        True
    """

    path: str
    dtype: str | None = None
    required: bool = False
    many: bool = False

    @classmethod
    def coerce(cls, value: str | Column, *, name: str) -> Column:
        """Accept a `Column` or a bare JSONPath string."""
        if isinstance(value, Column):
            return value
        if isinstance(value, str):
            return cls(value)
        raise ConfigurationError(
            f"column {name!r} must be a JSONPath string or a Column, got "
            f"{type(value).__name__} {value!r}"
        )


class CompiledPath:
    """A compiled JSONPath, with a direct lookup for singular paths such as `$.a[0].b`.

    Args:
        path: The JSONPath text.
        owner: What the path is for, named in errors ("column 'offer'").
    """

    __slots__ = ("_query", "_steps", "path")

    def __init__(self, path: str, *, owner: str) -> None:
        if not isinstance(path, str) or not path.startswith("$"):
            raise InvalidPathError(
                f"invalid JSONPath {path!r} for {owner}: a path starts with '$', the "
                f"root of the document, for example '$.{str(path).lstrip('.')}'"
            )
        try:
            self._query = jsonpath_rfc9535.compile(path)
        except jsonpath_rfc9535.JSONPathError as exc:
            raise InvalidPathError(_describe_syntax_error(path, owner, exc)) from exc
        self.path = path
        self._steps = _singular_steps(self._query)

    def select(self, value: Any) -> list[Any]:
        """Return the values of every node the path matches in `value`."""
        if self._steps is None:
            return [node.value for node in self._query.finditer(value)]
        current = value
        for step in self._steps:
            if isinstance(step, str):
                if not isinstance(current, dict) or step not in current:
                    return []
                current = current[step]
            else:
                if not isinstance(current, list) or not -len(current) <= step < len(
                    current
                ):
                    return []
                current = current[step]
        return [current]

    def __repr__(self) -> str:
        return f"CompiledPath({self.path!r})"


def _describe_syntax_error(path: str, owner: str, exc: Exception) -> str:
    token = getattr(exc, "token", None)
    position = getattr(token, "index", None)
    reason = getattr(token, "message", None) or str(exc).split(", line")[0]
    message = f"invalid JSONPath {path!r} for {owner}: {reason}"
    if isinstance(position, int):
        message += f" at position {position}\n    {path}\n    {' ' * position}^"
    return message


def _singular_steps(query: Any) -> tuple[str | int, ...] | None:
    """Return the name and index steps of a singular query, or None for other queries."""
    if not query.singular_query():
        return None
    steps: list[str | int] = []
    for segment in query.segments:
        selector = segment.selectors[0]
        if isinstance(selector, NameSelector):
            steps.append(selector.name)
        elif isinstance(selector, IndexSelector):
            steps.append(selector.index)
        else:
            return None
    return tuple(steps)


@dataclass(frozen=True)
class CompiledMapping:
    """Output columns and their compiled paths, plus the optional records path."""

    columns: dict[str, Column]
    paths: dict[str, CompiledPath]
    records: CompiledPath | None = None

    @property
    def names(self) -> list[str]:
        """The output column names, in mapping order."""
        return list(self.columns)


def compile_mapping(
    columns: Mapping[str, str | Column] | CompiledMapping, *, records: str | None = None
) -> CompiledMapping:
    """Compile every JSONPath of a mapping once, before any request is sent.

    Raises:
        ConfigurationError: The mapping is empty or a column name is not a string.
        InvalidPathError: A path does not compile; the message shows the position.

    Example:
        >>> mapping = compile_mapping({"offer": "$.offers[0].name"})
        >>> mapping.names
        ['offer']
    """
    if isinstance(columns, CompiledMapping):
        return columns
    if not isinstance(columns, Mapping) or not columns:
        raise ConfigurationError(
            "columns= must map each output column to a JSONPath, for example "
            "columns={'offer': '$.offers[0].name'}; "
            "extapi_pandas.infer_mapping(sample) proposes one from a sample response"
        )
    specs: dict[str, Column] = {}
    paths: dict[str, CompiledPath] = {}
    for name, spec in columns.items():
        if not isinstance(name, str) or not name:
            raise ConfigurationError(
                f"output column names must be non-empty strings, got {name!r}"
            )
        column = Column.coerce(spec, name=name)
        specs[name] = column
        paths[name] = CompiledPath(column.path, owner=f"column {name!r}")
    records_path = (
        CompiledPath(records, owner="records=") if records is not None else None
    )
    return CompiledMapping(specs, paths, records_path)


@dataclass
class Extraction:
    """Values extracted from one document, column by column.

    Attributes:
        values: Output column name to its values, one per row.
        rows: Number of rows (1 without records, else the number of records).
        missing: Per column, how many rows had no node at the path.
        nulls: Per column, how many rows had a JSON null at the path.
    """

    values: dict[str, list[Any]]
    rows: int
    missing: dict[str, int] = field(default_factory=dict)
    nulls: dict[str, int] = field(default_factory=dict)


def extract_document(
    document: Any, mapping: CompiledMapping, *, campaign: Any = None
) -> Extraction:
    """Apply a compiled mapping to one JSON document.

    Raises:
        MappingError: A path matched several nodes without `many=True`, a required
            column matched none, or `records` matched nothing that is a list.
    """
    records = _select_records(document, mapping, campaign)
    values: dict[str, list[Any]] = {name: [] for name in mapping.columns}
    missing = dict.fromkeys(mapping.columns, 0)
    nulls = dict.fromkeys(mapping.columns, 0)
    for name, column in mapping.columns.items():
        path = mapping.paths[name]
        out = values[name]
        for record in records:
            matched = path.select(record)
            if column.many:
                out.append(matched)
                continue
            if not matched:
                if column.required:
                    raise _required_error(name, column, campaign)
                missing[name] += 1
                out.append(None)
            elif len(matched) == 1:
                value = matched[0]
                if value is None:
                    nulls[name] += 1
                out.append(value)
            else:
                raise MappingError(
                    f"column {name!r}: JSONPath {column.path!r} matched {len(matched)} "
                    f"nodes{_for_campaign(campaign)}, but a column takes one value per "
                    "row; select one node (for example with [0] or a filter), pass "
                    "Column(path, many=True) to keep them all as a list, or use "
                    "records= to get one row per element",
                    campaign=campaign,
                )
    return Extraction(values, len(records), missing, nulls)


def _select_records(document: Any, mapping: CompiledMapping, campaign: Any) -> list[Any]:
    if mapping.records is None:
        return [document]
    found = mapping.records.select(document)
    if len(found) == 1 and isinstance(found[0], list):
        # A path to the array itself ('$.regions') is read as its elements
        # ('$.regions[*]'), which is what the caller means either way.
        logger.debug("records path %r selects an array; using its elements",
                     mapping.records.path)
        return found[0]
    if not found:
        logger.debug("records path %r matched nothing%s", mapping.records.path,
                     _for_campaign(campaign))
    return found


def _required_error(name: str, column: Column, campaign: Any) -> MappingError:
    return MappingError(
        f"required column {name!r}: JSONPath {column.path!r} matched no node"
        f"{_for_campaign(campaign)}; check the path against the response "
        "(df.extapi.preview shows one), or drop required=True to get <NA>",
        campaign=campaign,
    )


def _for_campaign(campaign: Any) -> str:
    return "" if campaign is None else f" for campaign {campaign!r}"
