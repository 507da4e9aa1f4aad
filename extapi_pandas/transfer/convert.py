"""Give file columns the dtypes of the API route: exact integers, text kept as text."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from extapi_pandas.dtypes import DType, InvalidValue, MissingOffset, parse_dtype
from extapi_pandas.frames import BuiltFrame, ConversionFailure, build_frame
from extapi_pandas.values import python_scalar

__all__ = [
    "NULL_TOKENS",
    "apply_declared",
    "arrow_to_pandas",
    "build_declared",
    "declared_zone",
    "describe_invalid",
    "infer_text_column",
    "key_text",
    "text_keys",
]

# pandas' default missing-value markers for CSV (read_csv's na_values). They mark
# missing values in value columns; key columns keep them as text, because "NA"
# is also a country code.
NULL_TOKENS = frozenset(
    {
        "",
        "#N/A",
        "#N/A N/A",
        "#NA",
        "-1.#IND",
        "-1.#QNAN",
        "-NaN",
        "-nan",
        "1.#IND",
        "1.#QNAN",
        "<NA>",
        "N/A",
        "NA",
        "NULL",
        "NaN",
        "None",
        "n/a",
        "nan",
        "null",
    }
)

# Numbers with a leading zero ("02139", "007") are codes, not quantities, so they
# match neither pattern and their column stays text.
_INTEGER = re.compile(r"[+-]?(?:0|[1-9][0-9]*)")
_DECIMAL = re.compile(
    r"[+-]?(?:(?:0|[1-9][0-9]*)(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
)
_INT64_DIGITS = 18  # every integer with at most 18 digits fits in int64


def infer_text_column(series: pd.Series) -> pd.Series:
    """Convert a column of CSV text the way the API route infers JSON values.

    Whole numbers become `Int64` (never through float64), other numbers `Float64`,
    `true`/`false` `boolean`, and everything else `string`. Nothing becomes a date.
    """
    values = series.mask(series.isin(NULL_TOKENS))
    present = values.dropna()
    if len(present) and present.str.fullmatch(_INTEGER).all():
        if present.str.lstrip("+-").str.len().max() <= _INT64_DIGITS:
            return values.astype("Int64")
        return _large_integers(values)
    if len(present) and present.str.fullmatch(_DECIMAL).all():
        return pd.to_numeric(values).astype("Float64")
    lowered = present.str.lower()
    if len(present) and lowered.isin(("true", "false")).all():
        return values.str.lower().map({"true": True, "false": False}).astype("boolean")
    return values.astype("string")


def _large_integers(values: pd.Series) -> pd.Series:
    numbers = [None if pd.isna(v) else int(v) for v in values]
    if all(n is None or -(2**63) <= n < 2**63 for n in numbers):
        return pd.Series(pd.array(numbers, dtype="Int64"), index=values.index)
    # Like the API route: integers beyond 64 bits stay exact as text.
    return values.astype("string")


def apply_declared(
    frame: pd.DataFrame, declared: Mapping[str, str]
) -> tuple[pd.DataFrame, list[ConversionFailure]]:
    """Convert the declared columns of `frame` with the API route's conversions.

    Returns:
        The frame with those columns converted (a failed column keeps its values
        as objects), and one `ConversionFailure` per value that did not convert.
    """
    names = [name for name in declared if name in frame.columns]
    if not names:
        return frame, []
    result = frame.copy(deep=False)
    failures: list[ConversionFailure] = []
    for name in list(names):
        stored = _stored_timestamps(frame[name], name, parse_dtype(declared[name]))
        if stored is not None:
            result[name] = stored[0].array
            failures.extend(stored[1])
            names.remove(name)
    if not names:
        return result, failures
    values = {name: [python_scalar(v) for v in frame[name].tolist()] for name in names}
    built = build_declared(values, {name: declared[name] for name in names}, len(frame))
    for name in names:
        result[name] = built.frame[name].array
    return result, failures + built.failures


def _stored_timestamps(
    series: pd.Series, name: str, dtype: DType
) -> tuple[pd.Series, list[ConversionFailure]] | None:
    """Convert a column stored as timestamps (Parquet) to a declared timestamp dtype.

    A zoned column is converted to the declared zone, and a naive one is read in
    it. A local time that the zone skips or repeats becomes a failure. Returns None
    when the conversion does not apply (text values, another dtype, or a zoned
    column declared naive), and the value-by-value conversion then runs.
    """
    if dtype.kind != "datetime" or not pd.api.types.is_datetime64_any_dtype(
        series.dtype
    ):
        return None
    target = dtype.pandas
    zone = getattr(target, "tz", None)
    unit = getattr(target, "unit", None) or np.datetime_data(target)[0]
    stored_zone = getattr(series.dtype, "tz", None)
    if zone is None and stored_zone is not None:
        return None
    failures: list[ConversionFailure] = []
    if zone is not None and stored_zone is not None:
        series = series.dt.tz_convert(zone)
    elif zone is not None:
        localized = series.dt.tz_localize(zone, ambiguous="NaT", nonexistent="NaT")
        for row in np.flatnonzero(
            localized.isna().to_numpy() & series.notna().to_numpy()
        ):
            failures.append(
                ConversionFailure(
                    int(row),
                    name,
                    series.iloc[row],
                    f"dtype({str(target)!r})",
                    f"{series.iloc[row]} does not exist or is ambiguous in {zone} (a "
                    "daylight saving change); fix the value in the file",
                )
            )
        series = localized
    converted: pd.Series = series.dt.as_unit(unit)
    return converted, failures


def build_declared(
    values: Mapping[str, Sequence[Any]], declared: Mapping[str, str], rows: int
) -> BuiltFrame:
    """Build a frame of file values with the dtypes in `dtype=`, as `build_frame`.

    A timestamp without a UTC offset is read in the zone of its column's dtype,
    as pandas does (`"datetime64[ns, Europe/Amsterdam]"`), because the file route
    has no `assume_tz=`. Failures name `dtype=` as the fix.
    """
    zones = {}
    for name, dtype_name in declared.items():
        zone = declared_zone(parse_dtype(dtype_name))
        if zone is not None and name in values:
            zones[name] = [zone] * rows
    return build_frame(values, declared, rows, zones=zones, describe=describe_invalid)


def declared_zone(dtype: DType) -> dt.tzinfo | None:
    """Return the zone of a timestamp dtype, or of a list of them; None if naive."""
    if dtype.kind == "list" and dtype.element is not None:
        dtype = dtype.element
    if dtype.kind != "datetime":
        return None
    zone = getattr(dtype.pandas, "tz", None)
    return zone if isinstance(zone, dt.tzinfo) else None


def describe_invalid(column: str, error: InvalidValue) -> str:
    """Return why a file value failed its dtype, with the file route's fix."""
    if not isinstance(error, MissingOffset):
        return str(error)
    zoned = "datetime64[ns, Europe/Amsterdam]"
    if error.element is not None:
        zoned = f"list[{zoned}]"
    return error.describe(
        "declare the zone the file's times are in with a zoned dtype, such as "
        f"dtype={{{column!r}: {zoned!r}}}, or write the offset into the file "
        "('2026-10-03T12:30+02:00')"
    )


def key_text(value: Any) -> Any:
    """Return a JSON key value as text, so `1234` and `"1234"` are the same key."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def arrow_to_pandas(table: Any) -> pd.DataFrame:
    """Convert an Arrow table with nullable pandas dtypes (`Int64`, `Float64`,
    `boolean`, `string`), as the API route builds its columns."""
    import pyarrow as pa

    mapping: dict[Any, Any] = {
        pa.int8(): pd.Int8Dtype(),
        pa.int16(): pd.Int16Dtype(),
        pa.int32(): pd.Int32Dtype(),
        pa.int64(): pd.Int64Dtype(),
        pa.uint8(): pd.UInt8Dtype(),
        pa.uint16(): pd.UInt16Dtype(),
        pa.uint32(): pd.UInt32Dtype(),
        pa.uint64(): pd.UInt64Dtype(),
        pa.float32(): pd.Float32Dtype(),
        pa.float64(): pd.Float64Dtype(),
        pa.bool_(): pd.BooleanDtype(),
        pa.string(): pd.StringDtype(),
        pa.large_string(): pd.StringDtype(),
    }
    frame: pd.DataFrame = table.to_pandas(types_mapper=mapping.get)
    return frame


def text_keys(values: Sequence[Any]) -> pd.Series:
    """Return key values as a text Series, missing values as NA."""
    return pd.Series(
        np.asarray([key_text(v) for v in values], dtype=object), dtype="str"
    )
