"""Infer a column mapping (names, JSONPaths, dtypes, nullability) from a sample."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from typing import Any, Literal

from extapi_pandas.dtypes import replace_surrogates
from extapi_pandas.errors import ConfigurationError
from extapi_pandas.flatten import (
    Leaf,
    column_name,
    find_record_arrays,
    flatten_records,
    is_columnar,
    json_path,
    scalar_count,
)
from extapi_pandas.mapping import Column, CompiledPath, Mapping

__all__ = ["infer_mapping"]

logger = logging.getLogger(__name__)

OnCollision = Literal["raise", "prefix", "suffix"]

_ISO_WITH_OFFSET = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,9})?)?"
    r"(?:[Zz]|[+-][0-9]{2}(?::?[0-9]{2})?)"
)
_ISO_NAIVE = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,9})?)?"
)
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_INT64 = (-(2**63), 2**63 - 1)


def infer_mapping(
    sample: Any,
    *,
    records: str | Literal[False] | None = None,
    sep: str = "_",
    join: str | None = None,
    index_limit: int = 3,
    on_collision: OnCollision = "raise",
    prefix: str = "extapi_",
    suffix: str = "_extapi",
    audience_columns: Iterable[Any] = (),
    max_columns: int = 200,
) -> Mapping:
    """Propose a mapping from a sample response: one column per value.

    Nested objects give `parent_child` columns. Arrays of scalars give list
    columns, or strings with `join`. Arrays of objects inside a row give indexed
    columns (`offers_0_name`) for their first `index_limit` elements. Objects whose
    keys are data (dates, ids) stay whole. Each column gets a dtype that stores the
    sample's values exactly, and is nullable when a record lacks it or has null.

    Args:
        sample: A parsed JSON response.
        records: JSONPath of the records (one row each), False for one row per
            response, or None to pick the largest array of objects when it holds
            at least half of the sample's values (the guess is logged). A path to
            an object of parallel arrays zips them into records.
        sep: Separator between the parts of generated names.
        join: Join arrays of scalars into strings with this separator.
        index_limit: Elements of an inner array of objects that get columns.
        on_collision: What to do when two paths, or a path and an audience column,
            give the same name: `"raise"`, or keep both by adding `prefix` or
            `suffix` to the deeper (or later) one.
        prefix: Added by `on_collision="prefix"`.
        suffix: Added by `on_collision="suffix"`.
        audience_columns: Names the new columns must not take.
        max_columns: Raise when flattening gives more columns than this.

    Returns:
        An editable `Mapping` that carries its `records` path.

    Raises:
        ConfigurationError: Names collide under `on_collision="raise"`, there are
            more than `max_columns` columns, or `records` selects nothing.

    Example:
        >>> mapping = infer_mapping({"offer": {"id": "X1", "price": 9.5}})
        >>> {name: column.path for name, column in mapping.items()}
        {'offer_id': '$.offer.id', 'offer_price': '$.offer.price'}
    """
    _check_options(on_collision, index_limit, max_columns)
    sample, _ = replace_surrogates(sample)
    rows, records_path = _records_of(sample, records)
    leaves, notes = flatten_records(rows, index_limit=index_limit)
    for note in notes:
        logger.info("infer_mapping: %s", note)
    if len(leaves) > max_columns:
        raise ConfigurationError(
            f"the sample flattens to {len(leaves)} columns, over max_columns="
            f"{max_columns}; pass records= to pick the rows, lower index_limit, or "
            "raise max_columns"
        )
    names = _assign_names(
        leaves, sep, on_collision, prefix, suffix, {str(c) for c in audience_columns}
    )
    mapping = Mapping(records=records_path)
    mapping.notes = {}
    for name, leaf in zip(names, leaves, strict=True):
        column, column_note = _leaf_column(leaf, len(rows), join)
        mapping[name] = column
        if column_note is not None:
            mapping.notes[name] = column_note
            logger.info(
                "infer_mapping: column %r (%s): %s", name, column.path, column_note
            )
    logger.info(
        "infer_mapping: %d column(s) from %d row(s)%s",
        len(mapping),
        len(rows),
        "" if records_path is None else f" of {records_path!r}",
    )
    return mapping


def _check_options(on_collision: str, index_limit: int, max_columns: int) -> None:
    if on_collision not in ("raise", "prefix", "suffix"):
        raise ConfigurationError(
            f"invalid on_collision={on_collision!r}; valid values "
            "are 'raise', 'prefix', 'suffix'"
        )
    for name, value in (("index_limit", index_limit), ("max_columns", max_columns)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigurationError(
                f"{name} must be a whole number of 0 or more, got {value!r}"
            )


def _records_of(
    sample: Any, records: str | Literal[False] | None
) -> tuple[list[Any], str | None]:
    if records is False:
        return [sample], None
    if isinstance(records, str):
        found = CompiledPath(records, owner="records=").select(sample)
        if len(found) == 1 and isinstance(found[0], list):
            found = found[0]
        elif len(found) == 1 and is_columnar(found[0]):
            found = _zip(found[0])
        if not found:
            raise ConfigurationError(
                f"records={records!r} selects no element of the "
                "sample; check the path, or pass records=False"
            )
        return list(found), records
    if records is not None:
        raise ConfigurationError(
            f"records must be a JSONPath, False or None, got {records!r}"
        )
    return _detect_records(sample)


def _detect_records(sample: Any) -> tuple[list[Any], str | None]:
    total = scalar_count(sample)
    candidates = find_record_arrays(sample)
    if candidates and candidates[0].values * 2 >= total:
        chosen = candidates[0]
        logger.info(
            "infer_mapping: using records=%r, the array of %d objects that contains %d "
            "of the sample's %d values; pass records=%r to pin it, or records=False "
            "for one row per response",
            chosen.path,
            chosen.size,
            chosen.values,
            total,
            chosen.path,
        )
        found = CompiledPath(chosen.path, owner="records=").select(sample)
        return found, chosen.path
    logger.info(
        "infer_mapping: no array of objects contains most of the sample, so it "
        "gives one row per response; pass records= to pick an array"
    )
    _hint_columnar(sample)
    return [sample], None


def _hint_columnar(sample: Any) -> None:
    if not isinstance(sample, dict):
        return
    for key, value in sample.items():
        if is_columnar(value):
            path = json_path([key])
            logger.info(
                "infer_mapping: %s contains parallel arrays; pass records=%r to "
                "zip them into one row per index",
                path,
                path,
            )


def _zip(node: dict[str, list[Any]]) -> list[dict[str, Any]]:
    size = len(next(iter(node.values())))
    return [{key: values[i] for key, values in node.items()} for i in range(size)]


def _assign_names(
    leaves: Sequence[Leaf],
    sep: str,
    on_collision: str,
    prefix: str,
    suffix: str,
    audience: set[str],
) -> list[str]:
    """Give each leaf a unique name, or raise naming both sources of a collision."""
    names = [column_name(leaf.steps, sep) for leaf in leaves]
    owners: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        owners.setdefault(name, []).append(i)
    clashes = {
        name: found
        for name, found in owners.items()
        if len(found) > 1 or name in audience
    }
    if not clashes:
        return names
    if on_collision == "raise":
        raise _collision_error(clashes, leaves, audience)
    taken = set(names) | audience
    for name, found in clashes.items():
        # The shallowest path keeps the name (the first of them on a tie), unless
        # the audience has the name, in which case every path is renamed.
        ranked = sorted(found, key=lambda i: (len(leaves[i].steps), i))
        renamed = ranked if name in audience else ranked[1:]
        for i in renamed:
            names[i] = _free_name(name, on_collision, prefix, suffix, taken)
            taken.add(names[i])
            logger.info(
                "infer_mapping: %s is named %r, because %r is taken",
                json_path(leaves[i].steps),
                names[i],
                name,
            )
    return names


def _free_name(
    name: str, on_collision: str, prefix: str, suffix: str, taken: set[str]
) -> str:
    base = prefix + name if on_collision == "prefix" else name + suffix
    candidate, number = base, 2
    while candidate in taken:
        candidate, number = f"{base}{number}", number + 1
    return candidate


def _collision_error(
    clashes: dict[str, list[int]], leaves: Sequence[Leaf], audience: set[str]
) -> ConfigurationError:
    lines = []
    for name, found in clashes.items():
        sources = [json_path(leaves[i].steps) for i in found]
        if name in audience:
            sources.append(f"audience column {name!r}")
        lines.append(f"  {name!r}: {' and '.join(sources)}")
    return ConfigurationError(
        "generated column names collide:\n" + "\n".join(lines) + "\n"
        "Pass on_collision='prefix' or on_collision='suffix' to keep both (the "
        "deeper path gets the prefix or suffix), change sep=, or rename the columns "
        "in the returned mapping"
    )


def _leaf_column(leaf: Leaf, rows: int, join: str | None) -> tuple[Column, str | None]:
    path = json_path(leaf.steps)
    nullable = leaf.present < rows or any(value is None for value in leaf.values)
    note = leaf.note
    if leaf.shape == "object":
        return Column(path, dtype="object", nullable=nullable), note
    if leaf.shape == "list":
        if join is not None:
            return Column(path, dtype="string", nullable=nullable, join=join), note
        list_dtype, list_note = _list_dtype(leaf.values)
        return Column(path, dtype=list_dtype, nullable=nullable), note or list_note
    dtype, scalar_note = _scalar_dtype(leaf.values)
    return Column(path, dtype=dtype, nullable=nullable), note or scalar_note


def _scalar_dtype(values: Sequence[Any]) -> tuple[str | None, str | None]:
    """Return the dtype that stores `values` exactly, and a note when unsure."""
    present = [value for value in values if value is not None]
    kinds = {type(value) for value in present}
    if not kinds:
        return None, "null in every sample row; declare its dtype"
    if kinds == {bool}:
        return "boolean", None
    if kinds == {int}:
        if all(_INT64[0] <= value <= _INT64[1] for value in present):
            return "Int64", None
        return "string", "integers beyond 64 bits, kept exact as text"
    if kinds <= {int, float}:
        return "Float64", None
    if kinds == {str}:
        return _text_dtype(present)
    return None, f"mixed value types ({', '.join(sorted(k.__name__ for k in kinds))})"


def _text_dtype(texts: Sequence[str]) -> tuple[str, str | None]:
    if all(_ISO_WITH_OFFSET.fullmatch(text) for text in texts):
        return "datetime64[ns, UTC]", None
    if all(_ISO_DATE.fullmatch(text) for text in texts):
        return "date", None
    if all(_ISO_NAIVE.fullmatch(text) for text in texts):
        return "string", (
            "timestamps without a UTC offset, kept as text; declare "
            "dtype='datetime64[ns, UTC]' with assume_tz= to read them as instants"
        )
    return "string", None


def _list_dtype(lists: Sequence[Any]) -> tuple[str, str | None]:
    items = [item for value in lists if isinstance(value, list) for item in value]
    present = [item for item in items if item is not None]
    if not present:
        return "object", "only empty or null lists in the sample, kept as objects"
    if any(isinstance(item, list | dict) for item in present):
        return "object", None
    element, _ = _scalar_dtype(present)
    if element is None:
        return "object", "lists of mixed value types, kept as objects"
    return f"list[{element}]", None
