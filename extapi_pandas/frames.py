"""Build the small extracted frame: JSON values to pandas arrays with exact dtypes."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import pyarrow as pa

from extapi_pandas.dtypes import (
    DType,
    InvalidValue,
    build_array,
    convert_value,
    infer_dtype,
    object_array,
    parse_dtype,
)
from extapi_pandas.mapping import Column

__all__ = [
    "BuiltFrame",
    "ConversionFailure",
    "Describe",
    "Fix",
    "build_frame",
    "convert_column",
    "infer_dtype",
]

Describe = Callable[[str, InvalidValue], str]
"""A function that words the reason of a failed value from its column name and
error."""

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConversionFailure:
    """One value that could not be converted to its column's declared dtype.

    Attributes:
        row: Row of the small frame.
        column: Output column name.
        value: The JSON value as received.
        check: What failed, in pandera's style, such as `"dtype('Int64')"`.
        reason: Why, in a sentence.
    """

    row: int
    column: str
    value: Any
    check: str
    reason: str = ""


@dataclass(frozen=True)
class Fix:
    """One invalid value replaced under its column's `on_invalid` policy.

    Attributes:
        row: Row of the small frame.
        column: Output column name.
        value: The value as received.
        action: `"null"` or `"default"`.
        reason: Why the value was invalid.
    """

    row: int
    column: str
    value: Any
    action: str
    reason: str = ""


@dataclass
class BuiltFrame:
    """The converted frame, the values that failed, and the values replaced.

    A column with a failure under `on_invalid="raise"` keeps its received values in
    an object column, so the caller can report or drop exactly those rows.
    """

    frame: pd.DataFrame
    failures: list[ConversionFailure] = field(default_factory=list)
    fixes: list[Fix] = field(default_factory=list)


def build_frame(
    values: Mapping[str, Sequence[Any]],
    columns: Mapping[str, Column | str | None],
    rows: int,
    *,
    zones: Mapping[str, Sequence[Any]] | None = None,
    describe: Describe | None = None,
) -> BuiltFrame:
    """Build one frame from column values, converting each to its column's dtype.

    Args:
        values: Output column name to its JSON values, one per row.
        columns: Output column name to its `Column`, or to a dtype name or None.
            Undeclared columns get the dtype from `infer_dtype`.
        rows: Number of rows.
        zones: Per datetime column, the `assume_tz` zone of each row.
        describe: Words the reason of each failed value; None uses the error's
            message, whose fixes name the API route's options.

    Example:
        >>> built = build_frame({"stock": [3, None]}, {"stock": "Int64"}, 2)
        >>> built.frame["stock"].tolist()
        [3, <NA>]
    """
    arrays: dict[str, Any] = {}
    built = BuiltFrame(pd.DataFrame())
    for name, column_values in values.items():
        column = _as_column(columns.get(name))
        column_zones = (zones or {}).get(name)
        array, failures, fixes = convert_column(
            name, column_values, column, column_zones, describe
        )
        arrays[name] = array
        built.failures.extend(failures)
        built.fixes.extend(fixes)
    built.frame = pd.DataFrame(arrays, index=pd.RangeIndex(rows))
    return built


def _as_column(spec: Column | str | None) -> Column:
    if isinstance(spec, Column):
        return spec
    return Column("$", dtype=spec)


def convert_column(
    name: str,
    values: Sequence[Any],
    column: Column,
    zones: Sequence[Any] | None = None,
    describe: Describe | None = None,
) -> tuple[Any, list[ConversionFailure], list[Fix]]:
    """Convert one column's values, applying the column's `on_invalid` policy.

    `describe` words the reason of each failed value, as in `build_frame`.

    Returns:
        The pandas array (an object array of the received values when a failure
        remains), the failures under `on_invalid="raise"`, and the replaced values.
    """
    default = "list[string]" if column.split is not None else None
    dtype = parse_dtype(column.dtype or default or infer_dtype(list(values)))
    if column.dtype is None:
        logger.debug("column %r: inferred dtype %s", name, dtype.name)
    policy = "raise" if column.on_invalid is None else column.on_invalid
    converted: list[Any] = []
    failures: list[ConversionFailure] = []
    fixes: list[Fix] = []
    for row, value in enumerate(values):
        zone = zones[row] if zones is not None else None
        try:
            converted.append(_convert_one(value, dtype, column, zone))
        except InvalidValue as exc:
            reason = str(exc) if describe is None else describe(name, exc)
            replacement = _replacement(policy, dtype, column)
            if replacement is _NO_FIX:
                failures.append(
                    ConversionFailure(
                        row, name, value, f"dtype('{dtype.name}')", reason
                    )
                )
                converted.append(None)
                continue
            fixes.append(
                Fix(
                    row,
                    name,
                    value,
                    "null" if policy == "null" else "default",
                    reason,
                )
            )
            converted.append(replacement)
    if failures:
        return object_array(list(values)), failures, fixes
    try:
        return build_array(converted, dtype), failures, fixes
    except (ValueError, TypeError, OverflowError, pa.ArrowException) as exc:
        reason = f"building the {dtype.name} column failed: {exc}"
        failures = [
            ConversionFailure(row, name, value, f"dtype('{dtype.name}')", reason)
            for row, value in enumerate(values)
        ]
        return object_array(list(values)), failures, fixes


def _convert_one(value: Any, dtype: DType, column: Column, zone: Any) -> Any:
    converted = convert_value(value, dtype, unit=column.unit, zone=zone)
    if converted is None and not column.nullable:
        raise InvalidValue("null in a column declared nullable=False")
    return converted


class _NoFix:
    pass


_NO_FIX: Any = _NoFix()


def _replacement(policy: Any, dtype: DType, column: Column) -> Any:
    """Return the value that replaces an invalid one, or `_NO_FIX` to raise."""
    if isinstance(policy, str) and policy == "raise":
        return _NO_FIX
    if isinstance(policy, str) and policy == "null":
        return None if column.nullable and dtype.nullable else _NO_FIX
    # Column.__post_init__ has checked that the default converts.
    return convert_value(policy, dtype, unit=column.unit)
