"""Build the small extracted frame: JSON values to pandas arrays with exact dtypes."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["ConversionFailure", "build_frame", "infer_dtype", "to_array"]

logger = logging.getLogger(__name__)

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1


@dataclass(frozen=True)
class ConversionFailure:
    """One value that could not be converted to its column's declared dtype."""

    row: int
    column: str
    value: Any
    check: str


def infer_dtype(values: Sequence[Any]) -> str:
    """Return the pandas dtype that holds `values` without loss.

    Integers stay integers (`Int64`, never through float64), strings stay strings,
    nulls become `<NA>` in a nullable dtype, and nothing is parsed as a date.
    Lists, objects and mixed types give `object`, one whole value per row.
    """
    kinds = {type(value) for value in values if value is not None}
    if not kinds:
        return "string"
    if kinds == {bool}:
        return "boolean"
    if kinds == {int}:
        if all(_INT64_MIN <= v <= _INT64_MAX for v in values if v is not None):
            return "Int64"
        return "string"
    if kinds <= {int, float}:
        return "Float64"
    if kinds == {str}:
        return "string"
    return "object"


def to_array(values: Sequence[Any], dtype: str) -> Any:
    """Convert JSON values to a pandas array of `dtype`.

    Raises:
        ValueError: A value does not fit the dtype.
        TypeError: A value's type does not fit the dtype.
    """
    kind = _dtype_kind(dtype)
    if kind == "object":
        return _object_array(values)
    if kind == "string":
        return pd.array([_as_text(v) for v in values], dtype=dtype)
    if kind == "category":
        return pd.Categorical([_as_text(v) for v in values])
    if kind == "datetime":
        return _datetime_array(values, dtype)
    if kind == "boolean":
        return pd.array([_as_bool(v) for v in values], dtype=dtype)
    if kind in ("integer", "float"):
        return _numeric_array(values, dtype, integer=kind == "integer")
    return pd.array(list(values), dtype=dtype)


def build_frame(
    values: dict[str, list[Any]],
    declared: dict[str, str | None],
    rows: int,
) -> tuple[pd.DataFrame, list[ConversionFailure]]:
    """Build one frame from column values, converting each to its declared dtype.

    Undeclared columns get the dtype from `infer_dtype`. A column whose conversion
    fails is left as an object column, and each value that failed is returned as a
    `ConversionFailure`, so the caller can report or null exactly those rows.
    """
    arrays: dict[str, Any] = {}
    failures: list[ConversionFailure] = []
    for name, column_values in values.items():
        dtype = declared.get(name) or infer_dtype(column_values)
        if declared.get(name) is None:
            logger.debug("column %r: inferred dtype %s", name, dtype)
        try:
            arrays[name] = to_array(column_values, dtype)
        except (ValueError, TypeError, OverflowError):
            failures.extend(_find_failures(name, column_values, dtype))
            arrays[name] = _object_array(column_values)
    frame = pd.DataFrame(arrays, index=pd.RangeIndex(rows))
    return frame, failures


def _find_failures(name: str, values: Sequence[Any], dtype: str) -> list[ConversionFailure]:
    failures = []
    for row, value in enumerate(values):
        try:
            to_array([value], dtype)
        except (ValueError, TypeError, OverflowError):
            failures.append(ConversionFailure(row, name, value, f"dtype('{dtype}')"))
    if not failures:
        # Each value converts alone but not together (mixed timezones, for example).
        failures = [ConversionFailure(row, name, v, f"dtype('{dtype}')")
                    for row, v in enumerate(values)]
    return failures


def _dtype_kind(dtype: str) -> str:
    lowered = dtype.lower()
    if lowered in ("object", "list", "dict"):
        return "object"
    if lowered in ("string", "str") or lowered.startswith("string["):
        return "string"
    if lowered == "category":
        return "category"
    if lowered.startswith("datetime64") or lowered.startswith("timestamp"):
        return "datetime"
    if lowered in ("boolean", "bool"):
        return "boolean"
    resolved = pd.api.types.pandas_dtype(dtype)
    if pd.api.types.is_integer_dtype(resolved):
        return "integer"
    if pd.api.types.is_float_dtype(resolved):
        return "float"
    return "other"


def _object_array(values: Sequence[Any]) -> np.ndarray[Any, np.dtype[np.object_]]:
    # Filled element by element: np.array(values) would spread lists over a new axis.
    array = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):
        array[i] = value
    return array


def _as_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _as_bool(value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ValueError(f"{value!r} is not a boolean")


def _numeric_array(values: Sequence[Any], dtype: str, *, integer: bool) -> Any:
    converted: list[int | float | None] = []
    for value in values:
        if value is None:
            converted.append(None)
        elif isinstance(value, bool):
            raise TypeError(f"{value!r} is a boolean, not a number")
        elif isinstance(value, int | float):
            converted.append(value)
        elif isinstance(value, str):
            converted.append(_parse_number(value, integer=integer))
        else:
            raise TypeError(f"{value!r} is not a number")
    if integer:
        for number in converted:
            if isinstance(number, float) and not number.is_integer():
                raise ValueError(f"{number!r} is not a whole number")
            if number is not None and not _INT64_MIN <= number <= _INT64_MAX:
                raise OverflowError(f"{number!r} does not fit in 64 bits")
        converted = [None if n is None else int(n) for n in converted]
    return pd.array(converted, dtype=dtype)


def _parse_number(text: str, *, integer: bool) -> int | float:
    stripped = text.strip()
    try:
        return int(stripped)
    except ValueError:
        if integer:
            raise
        return float(stripped)


def _datetime_array(values: Sequence[Any], dtype: str) -> Any:
    resolved = pd.api.types.pandas_dtype(dtype)
    tz = getattr(resolved, "tz", None)
    for value in values:
        if value is not None and not isinstance(value, str):
            raise TypeError(
                f"{value!r} is not an ISO 8601 string; declare an integer dtype for "
                "epoch values"
            )
    series = pd.Series(values, dtype=object)
    parsed = pd.to_datetime(series, format="ISO8601", utc=tz is not None)
    if tz is not None:
        parsed = parsed.dt.tz_convert(tz)
    return parsed.astype(resolved).array
