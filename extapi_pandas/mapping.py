"""Column mappings: JSONPaths (RFC 9535) compiled once and applied to each response."""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
from collections import abc
from dataclasses import dataclass, field
from typing import Any, Literal

from extapi_pandas.dtypes import (
    EPOCH_UNITS,
    DType,
    InvalidValue,
    convert_value,
    parse_dtype,
    parse_zone,
    replace_surrogates,
)
from extapi_pandas.errors import ConfigurationError, InvalidPathError, MappingError

__all__ = [
    "Column",
    "CompiledMapping",
    "CompiledPath",
    "Extraction",
    "Mapping",
    "compile_mapping",
    "extract_document",
    "missing_required_error",
]

logger = logging.getLogger(__name__)

OnInvalid = Literal["raise", "null"] | str | int | float | bool | None


@dataclass(frozen=True, repr=False)
class Column:
    """How one output column is read from a response and typed.

    Args:
        path: JSONPath (RFC 9535) of the value. Inside `records`, `$` is the record.
        dtype: The column's dtype: `"Int64"`, `"Float64"`, `"string"`, `"boolean"`,
            `"datetime64[ns, UTC]"`, `"date"`, `"category"`, `"object"` or
            `"list[<dtype>]"`. None infers it from the values.
        required: Raise for the campaigns where the path matches no node, instead
            of giving `<NA>`.
        nullable: Whether the column may hold `<NA>`; a null in a column with
            `nullable=False` is an invalid value.
        many: Keep every matched node as one list value, instead of requiring at
            most one node.
        first: Keep the first of several matched nodes.
        count: Give the number of matched nodes (`Int64`).
        join: Join a list value (or the nodes of `many=True`) into one string with
            this separator; nulls in the list are skipped.
        split: Split a string value into a list on this separator; the dtype is
            `list[string]` unless declared.
        unit: Read numbers as epoch time in this unit (`"s"`, `"ms"`, `"us"`,
            `"ns"`); needs a datetime dtype.
        assume_tz: Zone of timestamps without a UTC offset: a name such as
            `"Europe/Amsterdam"`, a fixed offset such as `"+02:00"`, offset seconds,
            or the JSONPath of a field of the response that contains one of these
            (read from the document root, even under `records`), such as
            `"$.utc_offset_seconds"`. None uses the `assume_tz` of the call.
        na_values: Values that mean "missing", such as `["-", "n/a"]`; they become
            `<NA>`. None uses the `na_values` of the call.
        on_invalid: What a value that does not fit the dtype, or fails the schema,
            becomes: `"raise"` (an error naming the campaign, column and value),
            `"null"` (`<NA>`), or any other value, used as the default. None uses
            the `on_invalid` of the call.

    Example:
        >>> Column("$.offers[0].price", dtype="Float64", required=True).required
        True
    """

    path: str
    dtype: str | None = None
    required: bool = False
    nullable: bool = True
    many: bool = False
    first: bool = False
    count: bool = False
    join: str | None = None
    split: str | None = None
    unit: str | None = None
    assume_tz: str | int | None = None
    na_values: tuple[Any, ...] | None = None
    on_invalid: OnInvalid = None

    def __post_init__(self) -> None:
        if not isinstance(self.path, str):
            raise ConfigurationError(f"Column path must be a string, got {self.path!r}")
        if self.na_values is not None:
            object.__setattr__(self, "na_values", _na_tuple(self.na_values))
        dtype = parse_dtype(self.dtype) if self.dtype is not None else None
        self._check_selection(dtype)
        self._check_time(dtype)
        self._check_default(dtype)

    def _check_selection(self, dtype: DType | None) -> None:
        chosen = [name for name in ("many", "first", "count") if getattr(self, name)]
        if len(chosen) > 1:
            raise ConfigurationError(
                f"Column {self.path!r}: {' and '.join(chosen)} exclude each other; "
                "pick one way to read several matched nodes"
            )
        if self.join is not None and self.split is not None:
            raise ConfigurationError(
                f"Column {self.path!r}: join= and split= exclude each other"
            )
        kind = dtype.kind if dtype is not None else None
        if self.count and kind not in (None, "integer", "float"):
            raise ConfigurationError(
                f"Column {self.path!r}: count=True gives a number, "
                f"so dtype {self.dtype!r} does not fit"
            )
        if self.join is not None and kind not in (None, "string", "category"):
            raise ConfigurationError(
                f"Column {self.path!r}: join= gives a string, so "
                f"dtype {self.dtype!r} does not fit"
            )
        listy = self.many or self.split is not None
        if listy and self.join is None and kind not in (None, "list", "object"):
            raise ConfigurationError(
                f"Column {self.path!r}: {'many=True' if self.many else 'split='} gives "
                f"a list per row; declare dtype='list[{self.dtype}]' or 'object'"
            )

    def _check_time(self, dtype: DType | None) -> None:
        timed = dtype is not None and (
            dtype.kind == "datetime"
            or (dtype.element is not None and dtype.element.kind == "datetime")
        )
        if self.unit is not None:
            if self.unit not in EPOCH_UNITS:
                raise ConfigurationError(
                    f"Column {self.path!r}: invalid unit "
                    f"{self.unit!r}; valid units are "
                    f"{', '.join(EPOCH_UNITS)}"
                )
            if not timed:
                raise ConfigurationError(
                    f"Column {self.path!r}: unit={self.unit!r} reads epoch numbers "
                    "as timestamps, so it needs dtype='datetime64[ns, UTC]'"
                )
        if self.assume_tz is not None:
            if not timed:
                raise ConfigurationError(
                    f"Column {self.path!r}: assume_tz= applies to timestamps, so it "
                    "needs dtype='datetime64[ns, UTC]'"
                )
            if not (isinstance(self.assume_tz, str) and self.assume_tz.startswith("$")):
                try:
                    parse_zone(self.assume_tz)
                except InvalidValue as exc:
                    raise ConfigurationError(
                        f"Column {self.path!r}: invalid assume_tz: {exc}"
                    ) from exc

    def _check_default(self, dtype: DType | None) -> None:
        policy = self.on_invalid
        if policy is None or (isinstance(policy, str) and policy in ("raise", "null")):
            return
        if dtype is None:
            return
        try:
            convert_value(policy, dtype, unit=self.unit)
        except InvalidValue as exc:
            raise ConfigurationError(
                f"Column {self.path!r}: the on_invalid default {policy!r} does not fit "
                f"dtype {dtype.name!r} ({exc}); pass on_invalid='raise', 'null', or a "
                "default of that dtype"
            ) from exc

    def __repr__(self) -> str:
        changed = [
            f"{spec.name}={getattr(self, spec.name)!r}"
            for spec in dataclasses.fields(self)[1:]
            if getattr(self, spec.name) != spec.default
        ]
        return f"Column({', '.join([repr(self.path), *changed])})"

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

    @property
    def parsed_dtype(self) -> DType | None:
        """The parsed `dtype`, or None when it is inferred from the values."""
        return None if self.dtype is None else parse_dtype(self.dtype)

    @property
    def timed(self) -> bool:
        """Whether the column contains timestamps, alone or in lists."""
        dtype = self.parsed_dtype
        if dtype is None:
            return False
        return dtype.kind == "datetime" or (
            dtype.element is not None and dtype.element.kind == "datetime"
        )


def _na_tuple(values: Any) -> tuple[Any, ...]:
    if isinstance(values, str | int | float) and not isinstance(values, bool):
        values = (values,)
    if not isinstance(values, abc.Iterable) or isinstance(values, abc.Mapping):
        raise ConfigurationError(
            f"na_values must be a list of strings or numbers, got {values!r}"
        )
    out = tuple(values)
    for value in out:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ConfigurationError(
                f"na_values entries must be strings or numbers, got {value!r}"
            )
    return out


class Mapping(abc.MutableMapping[str, Column]):
    """An editable mapping of output columns to `Column`s, plus the records path.

    `infer_mapping` returns one. Pass it to `enrich` or `extract` as `columns=`
    (its `records` is used unless the call gives its own), edit it like a dict,
    and print it as Python code (`str(mapping)`) or TOML (`mapping.to_toml()`).

    Attributes:
        records: JSONPath of the records, or None for one row per response.
        notes: Per column, what inference was unsure about; shown as comments.

    Example:
        >>> mapping = Mapping({"city": "$.city.name"})
        >>> mapping["aqi"] = Column("$.aqi", dtype="Int64", na_values=["-"])
        >>> list(mapping)
        ['city', 'aqi']
    """

    def __init__(
        self,
        columns: abc.Mapping[str, str | Column] | None = None,
        *,
        records: str | None = None,
    ) -> None:
        self._columns: dict[str, Column] = {}
        if records is not None and not isinstance(records, str):
            raise ConfigurationError(
                f"records must be a JSONPath string, got {records!r}"
            )
        self.records = records
        self.notes: dict[str, str] = {}
        for name, spec in (columns or {}).items():
            self[name] = spec

    def __getitem__(self, name: str) -> Column:
        return self._columns[name]

    def __setitem__(self, name: str, spec: str | Column) -> None:
        if not isinstance(name, str) or not name:
            raise ConfigurationError(
                f"output column names must be non-empty strings, got {name!r}"
            )
        self._columns[name] = Column.coerce(spec, name=name)

    def __delitem__(self, name: str) -> None:
        del self._columns[name]
        self.notes.pop(name, None)

    def __iter__(self) -> abc.Iterator[str]:
        return iter(self._columns)

    def __len__(self) -> int:
        return len(self._columns)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Mapping):
            return NotImplemented
        return self.records == other.records and self._columns == other._columns

    __hash__ = None  # type: ignore[assignment]

    def rename(self, names: abc.Mapping[str, str]) -> None:
        """Rename columns in place, keeping their order.

        Raises:
            ConfigurationError: A name is unknown, or a new name is already taken.
        """
        unknown = [old for old in names if old not in self._columns]
        if unknown:
            raise ConfigurationError(
                f"cannot rename unknown column(s) {unknown}; the "
                f"columns are {list(self._columns)}"
            )
        renamed = {names.get(old, old): column for old, column in self._columns.items()}
        if len(renamed) < len(self._columns):
            raise ConfigurationError(f"renaming {dict(names)} gives duplicate names")
        self._columns = renamed
        self.notes = {names.get(old, old): note for old, note in self.notes.items()}

    def to_dict(self) -> dict[str, Any]:
        """Return the mapping as plain data (the layout `to_toml` writes)."""
        from extapi_pandas.mapping_io import mapping_to_dict

        return mapping_to_dict(self)

    @classmethod
    def from_dict(cls, data: abc.Mapping[str, Any]) -> Mapping:
        """Build a mapping from the plain data of `to_dict`."""
        from extapi_pandas.mapping_io import mapping_from_dict

        return mapping_from_dict(data)

    def to_python(self, *, model: str = "ResponseModel") -> str:
        """Return Python code: `records`, the `columns=` argument and a pandera model.

        Args:
            model: Name of the generated `pandera.pandas.DataFrameModel` class.
        """
        from extapi_pandas.mapping_io import mapping_to_python

        return mapping_to_python(self, model=model)

    def to_toml(self) -> str:
        """Return the mapping as TOML, which `Mapping.from_toml` reads back."""
        from extapi_pandas.mapping_io import mapping_to_toml

        return mapping_to_toml(self)

    @classmethod
    def from_toml(cls, text: str) -> Mapping:
        """Read a mapping written by `to_toml`.

        Raises:
            ConfigurationError: The text is not valid TOML or not a mapping.
        """
        from extapi_pandas.mapping_io import mapping_from_toml

        return mapping_from_toml(text)

    def __repr__(self) -> str:
        paths = {name: column.path for name, column in self._columns.items()}
        return f"Mapping({paths!r}, records={self.records!r})"

    def __str__(self) -> str:
        return self.to_python()


@functools.lru_cache(maxsize=1024)
def _compile_query(path: str) -> Any:
    """Compile a JSONPath once per process. Compiled queries are read-only."""
    import jsonpath_rfc9535

    return jsonpath_rfc9535.compile(path)


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
        import jsonpath_rfc9535  # imported on first use: it costs about 30 ms

        try:
            self._query = _compile_query(path)
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
            elif not isinstance(current, list) or not (
                -len(current) <= step < len(current)
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
    """Return the name and index steps of a singular query, else None."""
    from jsonpath_rfc9535.selectors import IndexSelector, NameSelector

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
    """Output columns with the call's defaults applied, and their compiled paths.

    Attributes:
        columns: Output column name to its `Column`, with `assume_tz`, `na_values`
            and `on_invalid` filled from the call where the column left them unset.
        paths: Output column name to its compiled path.
        records: The compiled records path, or None for one row per document.
        zone_paths: For columns whose `assume_tz` is a JSONPath, that path.
        na: Per column, the `na_values` as (kind, value) keys.
    """

    columns: dict[str, Column]
    paths: dict[str, CompiledPath]
    records: CompiledPath | None = None
    zone_paths: dict[str, CompiledPath] = field(default_factory=dict)
    na: dict[str, frozenset[tuple[str, Any]]] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        """The output column names, in mapping order."""
        return list(self.columns)


def compile_mapping(
    columns: abc.Mapping[str, str | Column] | CompiledMapping,
    *,
    records: str | None = None,
    assume_tz: str | int | None = None,
    na_values: abc.Iterable[Any] | None = None,
    on_invalid: OnInvalid = "raise",
) -> CompiledMapping:
    """Compile every JSONPath of a mapping once, before any request is sent.

    Args:
        columns: Output column name to JSONPath string or `Column`; a `Mapping`
            brings its own `records` unless `records` is given.
        records: JSONPath of the records; see `extract_document`.
        assume_tz: Default `Column.assume_tz` for timestamp columns.
        na_values: Default `Column.na_values`.
        on_invalid: Default `Column.on_invalid`.

    Raises:
        ConfigurationError: The mapping is empty, a column name is not a string, or
            a default does not fit a column.
        InvalidPathError: A path does not compile; the message shows the position.

    Example:
        >>> mapping = compile_mapping({"offer": "$.offers[0].name"})
        >>> mapping.names
        ['offer']
    """
    if isinstance(columns, CompiledMapping):
        return columns
    if isinstance(columns, Mapping) and records is None:
        records = columns.records
    if not isinstance(columns, abc.Mapping) or not columns:
        raise ConfigurationError(
            "columns= must map each output column to a JSONPath, for example "
            "columns={'offer': '$.offers[0].name'}; "
            "extapi_pandas.infer_mapping(sample) proposes one from a sample response"
        )
    defaults = _Defaults(
        assume_tz, None if na_values is None else _na_tuple(na_values), on_invalid
    )
    compiled = CompiledMapping({}, {})
    for name, spec in columns.items():
        if not isinstance(name, str) or not name:
            raise ConfigurationError(
                f"output column names must be non-empty strings, got {name!r}"
            )
        column = defaults.apply(Column.coerce(spec, name=name), name)
        compiled.columns[name] = column
        compiled.paths[name] = CompiledPath(column.path, owner=f"column {name!r}")
        if isinstance(column.assume_tz, str) and column.assume_tz.startswith("$"):
            compiled.zone_paths[name] = CompiledPath(
                column.assume_tz, owner=f"assume_tz of column {name!r}"
            )
        if column.na_values:
            compiled.na[name] = frozenset(
                key for key in map(_na_key, column.na_values) if key is not None
            )
    records_path = (
        CompiledPath(records, owner="records=") if records is not None else None
    )
    return dataclasses.replace(compiled, records=records_path)


@dataclass(frozen=True)
class _Defaults:
    assume_tz: str | int | None
    na_values: tuple[Any, ...] | None
    on_invalid: OnInvalid

    def apply(self, column: Column, name: str) -> Column:
        changes: dict[str, Any] = {}
        if column.assume_tz is None and self.assume_tz is not None and column.timed:
            changes["assume_tz"] = self.assume_tz
        if column.na_values is None and self.na_values is not None:
            changes["na_values"] = self.na_values
        if column.on_invalid is None and self.on_invalid not in (None, "raise"):
            changes["on_invalid"] = self.on_invalid
        if not changes:
            return column
        try:
            return dataclasses.replace(column, **changes)
        except ConfigurationError as exc:
            raise ConfigurationError(f"column {name!r}: {exc}") from exc


def _na_key(value: Any) -> tuple[str, Any] | None:
    if isinstance(value, str):
        return ("text", value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return ("number", value)
    return None


@dataclass
class Extraction:
    """Values extracted from one document, column by column.

    Attributes:
        values: Output column name to its JSON values, one per row.
        rows: Number of rows (1 without records, else the number of records).
        missing: Per column, how many rows had no node at the path (a missing key
            or a null parent).
        nulls: Per column, how many rows had a JSON null at the path, or a value
            listed in `na_values`.
        invalid: Per column, how many values `on_invalid` replaced.
        lacking: Required columns that matched no node, with how many rows.
        zones: Per timestamp column with `assume_tz`, the zone of each row.
        notes: Warnings about this document, such as replaced lone surrogates.
    """

    values: dict[str, list[Any]]
    rows: int
    missing: dict[str, int] = field(default_factory=dict)
    nulls: dict[str, int] = field(default_factory=dict)
    invalid: dict[str, int] = field(default_factory=dict)
    lacking: dict[str, int] = field(default_factory=dict)
    zones: dict[str, list[Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def extract_document(
    document: Any,
    mapping: CompiledMapping,
    *,
    campaign: Any = None,
    defer_required: bool = False,
) -> Extraction:
    """Apply a compiled mapping to one JSON document.

    With `records`, each element of the array the path selects is one row. A path
    that selects an object of equal-length arrays (a column-oriented response
    such as Open-Meteo's `daily`) is zipped into one record per index.

    Args:
        document: The parsed JSON document.
        mapping: The compiled mapping.
        campaign: The campaign key, named in errors and notes.
        defer_required: Record missing required columns in `Extraction.lacking`
            instead of raising, so the caller can name every campaign at once.

    Raises:
        MappingError: A path matched several nodes without `many=True` or
            `first=True`, a required column matched none, or the zipped arrays
            differ in length.
    """
    records = _select_records(document, mapping, campaign)
    extraction = Extraction({}, len(records))
    for name, column in mapping.columns.items():
        _extract_column(extraction, name, column, records, mapping, campaign)
    _add_zones(extraction, document, mapping)
    if extraction.lacking and not defer_required:
        raise missing_required_error(
            {campaign: list(extraction.lacking)}, mapping, source="document"
        )
    return extraction


def _extract_column(
    extraction: Extraction,
    name: str,
    column: Column,
    records: list[Any],
    mapping: CompiledMapping,
    campaign: Any,
) -> None:
    path = mapping.paths[name]
    na = mapping.na.get(name, frozenset())
    out: list[Any] = []
    missing = nulls = replaced = 0
    for record in records:
        matched = path.select(record)
        if not matched and column.required:
            extraction.lacking[name] = extraction.lacking.get(name, 0) + 1
        value, state = _read_nodes(matched, column, name, campaign)
        if state == "value" and na and _na_key(value) in na:
            value, state = None, "null"
        if state == "missing":
            missing += 1
        elif state == "null":
            nulls += 1
        value, count = replace_surrogates(_reshape(value, column))
        replaced += count
        out.append(value)
    extraction.values[name] = out
    extraction.missing[name] = missing
    extraction.nulls[name] = nulls
    if replaced:
        extraction.notes.append(
            f"{_campaign_prefix(campaign)}column {name!r}: {replaced} string(s) held "
            "lone UTF-16 surrogates, which pandas' Arrow-backed strings cannot hold; "
            "they were replaced with U+FFFD"
        )


def _read_nodes(
    matched: list[Any], column: Column, name: str, campaign: Any
) -> tuple[Any, str]:
    """Reduce the matched nodes to one value, with its state: "value", "null" or
    "missing"."""
    if column.count:
        return len(matched), "value"
    if column.many:
        return list(matched), "value"
    if not matched:
        return None, "missing"
    if len(matched) > 1 and not column.first:
        raise MappingError(
            f"column {name!r}: JSONPath {column.path!r} matched {len(matched)} "
            f"nodes{_for_campaign(campaign)}, but a column takes one value per "
            "row; select one node (for example with [0] or a filter), pass "
            "Column(path, first=True) to keep the first, Column(path, many=True) to "
            "keep them all as a list, or use records= to get one row per element",
            campaign=campaign,
        )
    value = matched[0]
    return value, "null" if value is None else "value"


def _reshape(value: Any, column: Column) -> Any:
    if column.join is not None and isinstance(value, list):
        return column.join.join(_join_text(item) for item in value if item is not None)
    if column.split is not None and isinstance(value, str):
        return value.split(column.split)
    return value


def _join_text(item: Any) -> str:
    if isinstance(item, str):
        return item
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, int | float):
        return str(item) if isinstance(item, int) else repr(item)
    return json.dumps(item, ensure_ascii=False)


def _add_zones(extraction: Extraction, document: Any, mapping: CompiledMapping) -> None:
    for name, column in mapping.columns.items():
        if column.assume_tz is None:
            continue
        zone: Any = column.assume_tz
        zone_path = mapping.zone_paths.get(name)
        if zone_path is not None:
            found = zone_path.select(document)
            zone = found[0] if len(found) == 1 else None
        extraction.zones[name] = [zone] * extraction.rows


def _select_records(
    document: Any, mapping: CompiledMapping, campaign: Any
) -> list[Any]:
    if mapping.records is None:
        return [document]
    found = mapping.records.select(document)
    if len(found) == 1 and isinstance(found[0], list):
        # A path to the array itself ('$.regions') is read as its elements
        # ('$.regions[*]'), which is what the caller means either way.
        return list(found[0])
    if len(found) == 1 and _is_columnar(found[0]):
        return _zip_arrays(found[0], mapping.records.path, campaign)
    if not found:
        logger.debug(
            "records path %r matched nothing%s",
            mapping.records.path,
            _for_campaign(campaign),
        )
    return found


def _is_columnar(node: Any) -> bool:
    return (
        isinstance(node, dict)
        and bool(node)
        and all(isinstance(value, list) for value in node.values())
    )


def _zip_arrays(node: dict[str, list[Any]], path: str, campaign: Any) -> list[Any]:
    lengths = {key: len(values) for key, values in node.items()}
    if len(set(lengths.values())) > 1:
        described = ", ".join(f"{key}: {length}" for key, length in lengths.items())
        raise MappingError(
            f"records={path!r} selects an object of arrays{_for_campaign(campaign)}, "
            f"but their lengths differ ({described}), so they cannot be zipped into "
            "records; point records= at an object whose arrays run in parallel, or "
            "map the arrays as list columns without records=",
            campaign=campaign,
        )
    size = next(iter(lengths.values()))
    logger.debug(
        "records path %r selects %d parallel arrays of %d items; zipping",
        path,
        len(node),
        size,
    )
    return [{key: values[i] for key, values in node.items()} for i in range(size)]


def missing_required_error(
    lacking: abc.Mapping[Any, abc.Sequence[str]],
    mapping: CompiledMapping,
    *,
    source: str = "response",
) -> MappingError:
    """Return the error for required columns that matched no node.

    Args:
        lacking: Campaign key (None for a single document) to the required columns
            its response lacks; only those campaigns are named.
        mapping: The compiled mapping, for the paths.
        source: `"response"` for a campaign call, whose fix points to
            `df.extapi.preview`, or `"document"` for a JSON value in hand.
    """
    by_column: dict[str, list[Any]] = {}
    for campaign, names in lacking.items():
        for name in names:
            by_column.setdefault(name, []).append(campaign)
    parts = []
    for name, campaigns in by_column.items():
        where = (
            ""
            if campaigns == [None]
            else (" for campaign(s) " + ", ".join(map(repr, campaigns)))
        )
        parts.append(f"{name!r} (JSONPath {mapping.columns[name].path!r}){where}")
    keys = list(lacking)
    against = (
        "the document"
        if source == "document"
        else "the response (df.extapi.preview shows one)"
    )
    return MappingError(
        f"required column(s) matched no node: {'; '.join(parts)}; check the path "
        f"against {against}, or drop required=True to get <NA>",
        campaign=keys[0] if len(keys) == 1 else None,
    )


def _for_campaign(campaign: Any) -> str:
    return "" if campaign is None else f" for campaign {campaign!r}"


def _campaign_prefix(campaign: Any) -> str:
    return "" if campaign is None else f"campaign {campaign!r}: "
