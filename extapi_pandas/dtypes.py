"""Declared column dtypes: parse their names and convert JSON values to them exactly."""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd
import pyarrow as pa

from extapi_pandas.errors import ConfigurationError

__all__ = [
    "DTYPE_NAMES",
    "EPOCH_UNITS",
    "DType",
    "InvalidValue",
    "MissingOffset",
    "build_array",
    "convert_value",
    "infer_dtype",
    "object_array",
    "parse_dtype",
    "parse_zone",
    "replace_surrogates",
]

Kind = Literal[
    "object",
    "string",
    "category",
    "boolean",
    "integer",
    "float",
    "datetime",
    "date",
    "list",
    "other",
]

DTYPE_NAMES = (
    "string",
    "Int64",
    "Float64",
    "boolean",
    "datetime64[ns, UTC]",
    "date",
    "category",
    "object",
    "list[<dtype>]",
)
"""The usual dtype names, listed in errors; other pandas numeric names work too."""

EPOCH_UNITS = ("s", "ms", "us", "ns")
TimeUnit = Literal["s", "ms", "us", "ns"]

_INT_TEXT = re.compile(r"[+-]?[0-9]+")
_NUMBER_TEXT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_ISO_TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"(?:[Tt ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,9})?)?"
    r"(?P<offset>[Zz]|[+-][0-9]{2}(?::?[0-9]{2})?)?)?"
)
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_FIXED_OFFSET = re.compile(r"(?P<sign>[+-])(?P<hours>[0-9]{2}):?(?P<minutes>[0-9]{2})?")
_SURROGATES = re.compile("[\ud800-\udfff]")


class InvalidValue(ValueError):
    """A JSON value does not fit a column's dtype. The message gives the reason."""


class MissingOffset(InvalidValue):
    """A timestamp has no UTC offset, and no zone was given to read it in.

    The message names the API route's fix, `assume_tz=`. The file route has no
    such option, so it words its own fix with `describe`.

    Attributes:
        text: The timestamp as received.
        element: Its position when it is an element of a list value, else None.
    """

    def __init__(self, text: str, *, element: int | None = None) -> None:
        self.text = text
        self.element = element
        super().__init__(
            self.describe(
                "pass assume_tz= a zone name such as 'Europe/Amsterdam', or the "
                "JSONPath of the response's offset field such as "
                "'$.utc_offset_seconds'"
            )
        )

    def describe(self, fix: str) -> str:
        """Return the message with `fix` as what to do next."""
        where = "" if self.element is None else f"element {self.element}: "
        return (
            f"{where}timestamp {_show(self.text)} has no UTC offset, so its instant "
            f"is unknown; {fix}"
        )


@dataclass(frozen=True)
class DType:
    """A parsed dtype name.

    Attributes:
        name: The name as declared, such as `"Int64"` or `"list[Float64]"`.
        kind: The conversion family.
        pandas: The pandas dtype of the built column; None for `object`.
        element: For `list[...]`, the dtype of the elements.
    """

    name: str
    kind: Kind
    pandas: Any = None
    element: DType | None = None

    @property
    def nullable(self) -> bool:
        """Whether the pandas dtype can hold a missing value."""
        if self.kind in ("integer", "boolean"):
            return isinstance(self.pandas, pd.api.extensions.ExtensionDtype)
        return True

    @property
    def arrow(self) -> pa.DataType:
        """The Arrow type of a list element of this dtype."""
        return _arrow_type(self)


@functools.lru_cache(maxsize=256)
def parse_dtype(name: str) -> DType:
    """Parse a dtype name such as `"Int64"`, `"date"` or `"list[string]"`.

    Raises:
        ConfigurationError: The name is not a dtype; the message lists the usual ones.
    """
    if not isinstance(name, str) or not name.strip():
        raise _unknown_dtype(name)
    text = name.strip()
    lowered = text.lower()
    if lowered.startswith("list[") and lowered.endswith("]"):
        element = parse_dtype(text[5:-1])
        if element.kind in ("list", "object", "category", "other"):
            raise ConfigurationError(
                f"invalid dtype {name!r}: list elements must be scalar, one of string, "
                "Int64, Float64, boolean, date or datetime64[ns, UTC]; use 'object' "
                "for lists of objects"
            )
        return DType(text, "list", pd.ArrowDtype(pa.list_(element.arrow)), element)
    simple = _simple_dtype(text, lowered)
    if simple is not None:
        return simple
    try:
        resolved = pd.api.types.pandas_dtype(text)
    except (TypeError, ValueError) as exc:
        raise _unknown_dtype(name) from exc
    return DType(text, _numeric_kind(resolved), resolved)


def _simple_dtype(text: str, lowered: str) -> DType | None:
    if lowered in ("object", "list", "dict"):
        return DType(text, "object")
    if lowered == "string" or lowered.startswith("string["):
        return DType(text, "string", pd.api.types.pandas_dtype(text))
    if lowered == "str":
        return DType(text, "string", pd.api.types.pandas_dtype("str"))
    if lowered == "category":
        return DType(text, "category", "category")
    if lowered in ("boolean", "bool"):
        return DType(text, "boolean", pd.api.types.pandas_dtype(lowered))
    if lowered in ("date", "date32", "date32[pyarrow]", "date32[day][pyarrow]"):
        return DType(text, "date", pd.ArrowDtype(pa.date32()))
    if lowered.startswith(("datetime64", "timestamp")):
        try:
            resolved = pd.api.types.pandas_dtype(text)
        except (TypeError, ValueError) as exc:
            raise _unknown_dtype(text) from exc
        return DType(text, "datetime", resolved)
    return None


def _numeric_kind(resolved: Any) -> Kind:
    if pd.api.types.is_bool_dtype(resolved):
        return "boolean"
    if pd.api.types.is_integer_dtype(resolved):
        return "integer"
    if pd.api.types.is_float_dtype(resolved):
        return "float"
    return "other"


def _unknown_dtype(name: Any) -> ConfigurationError:
    return ConfigurationError(
        f"unknown dtype {name!r}; use one of {', '.join(DTYPE_NAMES)}, or another "
        "pandas dtype name"
    )


def _arrow_type(dtype: DType) -> pa.DataType:
    if dtype.kind == "string":
        return pa.large_string()
    if dtype.kind == "date":
        return pa.date32()
    if dtype.kind == "boolean":
        return pa.bool_()
    if dtype.kind in ("integer", "float"):
        return pa.from_numpy_dtype(np.dtype(dtype.pandas.type))
    if dtype.kind == "datetime":
        return pa.timestamp(
            getattr(dtype.pandas, "unit", "ns"), tz=_tz_name(dtype.pandas)
        )
    raise ConfigurationError(f"dtype {dtype.name!r} cannot be a list element")


def _tz_name(resolved: Any) -> str | None:
    tz = getattr(resolved, "tz", None)
    return None if tz is None else str(tz)


_FLOAT_EXACT = 2**53


def infer_dtype(values: list[Any]) -> str:
    """Return the name of the dtype that stores undeclared `values` without loss.

    Integers stay integers (`Int64`, never through float64) and become `string`
    beyond 64 bits. Integers mixed with floats give `Float64` while every integer
    is within 2**53, and `object` (exact values) beyond. Strings stay strings and
    are never parsed as dates or numbers. Lists, objects and other mixed types give
    `object`, one whole value per row.
    """
    kinds = {type(value) for value in values if value is not None}
    if not kinds:
        return "string"
    if kinds == {bool}:
        return "boolean"
    if kinds == {int}:
        if all(_fits(v, np.int64) for v in values if v is not None):
            return "Int64"
        return "string"
    if kinds <= {int, float}:
        # A float64 stores integers up to 2**53 exactly. A larger one beside floats
        # goes to an object column, which keeps it exact instead of rounding it.
        exact = all(abs(v) <= _FLOAT_EXACT for v in values if type(v) is int)
        return "Float64" if exact else "object"
    if kinds == {str}:
        return "string"
    return "object"


def convert_value(
    value: Any, dtype: DType, *, unit: str | None = None, zone: Any = None
) -> Any:
    """Convert one JSON value to the Python value that `build_array` stores.

    Args:
        value: A JSON value (None, bool, int, float, str, list or dict).
        dtype: The column's dtype.
        unit: For datetime columns, the unit of epoch numbers (`"s"`, `"ms"`, ...).
        zone: For datetime columns, the zone of timestamps without an offset: a zone
            name, a fixed offset such as `"+02:00"`, or offset seconds.

    Raises:
        InvalidValue: The value does not fit. The message gives the reason and the fix.
    """
    if value is None:
        if not dtype.nullable:
            raise InvalidValue(
                f"dtype {dtype.name!r} cannot hold a null; declare its nullable "
                "form, such as 'Int64' or 'boolean'"
            )
        return None
    converter = _CONVERTERS.get(dtype.kind)
    if converter is None:
        return value
    return converter(value, dtype, unit, zone)


def _to_text(value: Any, dtype: DType, unit: Any, zone: Any) -> str:
    if isinstance(value, str):
        return _clean_text(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    return _clean_text(json.dumps(value, ensure_ascii=False, allow_nan=False))


def _clean_text(text: str) -> str:
    if text.isascii():
        return text
    return _SURROGATES.sub("\ufffd", text)


def _to_bool(value: Any, dtype: DType, unit: Any, zone: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise InvalidValue(f"{_show(value)} is not a boolean (true/false, or 0/1)")


def _to_int(value: Any, dtype: DType, unit: Any, zone: Any) -> int:
    number = _whole_number(value)
    scalar_type = np.dtype(dtype.pandas.type)
    if not _fits(number, scalar_type.type):
        info = np.iinfo(scalar_type)
        raise InvalidValue(
            f"{_show(value)} is outside the range of {dtype.name} ({info.min} to "
            f"{info.max}); declare dtype='string' to keep it exact"
        )
    return number


def _whole_number(value: Any) -> int:
    if isinstance(value, bool):
        raise InvalidValue(f"{_show(value)} is a boolean, not a number")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise InvalidValue(f"{_show(value)} is not a whole number")
    if isinstance(value, str):
        text = value.strip()
        if _INT_TEXT.fullmatch(text):
            return int(text)
        if _NUMBER_TEXT.fullmatch(text):
            try:
                exact = Decimal(text)
            except InvalidOperation as exc:  # pragma: no cover - the regex rules it out
                raise InvalidValue(f"{_show(value)} is not a number") from exc
            if exact == exact.to_integral_value():
                return int(exact)
            raise InvalidValue(f"{_show(value)} is not a whole number")
    raise InvalidValue(f"{_show(value)} is not a number")


def _to_float(value: Any, dtype: DType, unit: Any, zone: Any) -> float:
    if isinstance(value, bool):
        raise InvalidValue(f"{_show(value)} is a boolean, not a number")
    if isinstance(value, float):
        return value
    if isinstance(value, int):
        try:
            return float(value)
        except OverflowError as exc:
            raise InvalidValue(f"{_show(value)} is too large for a float") from exc
    if isinstance(value, str) and _NUMBER_TEXT.fullmatch(value.strip()):
        return float(value.strip())
    raise InvalidValue(f"{_show(value)} is not a number")


def _to_timestamp(
    value: Any, dtype: DType, unit: str | None, zone: Any
) -> pd.Timestamp:
    if unit is not None:
        stamp = _from_epoch(value, unit)
    elif isinstance(value, str):
        stamp = _from_iso(value, zone)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        raise InvalidValue(
            f"{_show(value)} is a number, not an ISO 8601 timestamp; for epoch values "
            "declare Column(..., unit='s') or unit='ms'"
        )
    else:
        raise InvalidValue(f"{_show(value)} is not an ISO 8601 timestamp")
    target = dtype.pandas
    try:
        if getattr(target, "tz", None) is None:
            stamp = stamp.tz_convert("UTC").tz_localize(None)
        else:
            stamp = stamp.tz_convert(target.tz)
        return stamp.as_unit(_unit_of(target))
    except (OverflowError, ValueError) as exc:
        raise InvalidValue(
            f"{_show(value)} is outside the range of {dtype.name}"
        ) from exc


def _unit_of(target: Any) -> TimeUnit:
    unit = getattr(target, "unit", None) or np.datetime_data(np.dtype(target))[0]
    if unit not in EPOCH_UNITS:
        raise InvalidValue(f"unsupported timestamp unit {unit!r}")
    return cast(TimeUnit, unit)


def _from_epoch(value: Any, unit: str) -> pd.Timestamp:
    if isinstance(value, str) and _NUMBER_TEXT.fullmatch(value.strip()):
        value = (
            _whole_number(value) if _INT_TEXT.fullmatch(value.strip()) else float(value)
        )
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidValue(
            f"{_show(value)} is not an epoch number in unit {unit!r}; drop unit= to "
            "read ISO 8601 text"
        )
    try:
        return pd.Timestamp(value, unit=unit, tz="UTC")
    except (OverflowError, ValueError) as exc:
        raise InvalidValue(f"{_show(value)} is out of range in unit {unit!r}") from exc


def _from_iso(text: str, zone: Any) -> pd.Timestamp:
    match = _ISO_TIMESTAMP.fullmatch(text.strip())
    if match is None:
        raise InvalidValue(f"{_show(text)} is not an ISO 8601 timestamp")
    try:
        stamp = pd.Timestamp(text.strip().upper())
    except ValueError as exc:
        raise InvalidValue(f"{_show(text)} is not a valid date or time: {exc}") from exc
    if match.group("offset") is not None:
        return stamp.tz_convert("UTC")
    if zone is None:
        raise MissingOffset(text)
    tz = parse_zone(zone)
    try:
        return stamp.tz_localize(tz).tz_convert("UTC")
    except ValueError as exc:
        raise InvalidValue(
            f"timestamp {_show(text)} does not exist or is ambiguous in {str(tz)!r} "
            f"(a daylight saving change): {exc}"
        ) from exc


def parse_zone(zone: Any) -> dt.tzinfo:
    """Return the time zone for an `assume_tz` value.

    Args:
        zone: A zone name (`"Europe/Amsterdam"`, `"UTC"`), a fixed offset
            (`"+02:00"`, `"-0530"`), offset seconds east of UTC (`7200`), or a
            `tzinfo`, returned as it is.

    Raises:
        InvalidValue: The zone is unknown or the offset is out of range.
    """
    if isinstance(zone, dt.tzinfo):
        return zone
    if isinstance(zone, bool):
        raise InvalidValue(f"time zone {zone!r} is not a zone name or offset")
    if isinstance(zone, int | float):
        if not float(zone).is_integer() or abs(zone) >= 86_400:
            raise InvalidValue(
                f"offset {zone!r} is not a whole number of seconds under one day"
            )
        return dt.timezone(dt.timedelta(seconds=int(zone)))
    if not isinstance(zone, str):
        raise InvalidValue(f"time zone {zone!r} is not a zone name or offset")
    return _named_zone(zone.strip())


@functools.lru_cache(maxsize=128)
def _named_zone(name: str) -> dt.tzinfo:
    if name.upper() in ("UTC", "Z", "GMT"):
        return dt.UTC
    fixed = _FIXED_OFFSET.fullmatch(name)
    if fixed is not None:
        minutes = int(fixed["hours"]) * 60 + int(fixed["minutes"] or 0)
        if minutes >= 24 * 60:
            raise InvalidValue(f"offset {name!r} is out of range")
        sign = -1 if fixed["sign"] == "-" else 1
        return dt.timezone(dt.timedelta(minutes=sign * minutes))
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidValue(
            f"unknown time zone {name!r}; use an IANA name such as 'Europe/Amsterdam' "
            "or an offset such as '+02:00'"
        ) from exc


def _to_date(value: Any, dtype: DType, unit: Any, zone: Any) -> dt.date:
    if isinstance(value, str) and _ISO_DATE.fullmatch(value.strip()):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError as exc:
            raise InvalidValue(f"{_show(value)} is not a valid date: {exc}") from exc
    raise InvalidValue(f"{_show(value)} is not a date (YYYY-MM-DD)")


def _to_list(value: Any, dtype: DType, unit: str | None, zone: Any) -> list[Any]:
    if not isinstance(value, list):
        raise InvalidValue(f"{_show(value)} is not a list")
    element = dtype.element
    assert element is not None
    out = []
    for i, item in enumerate(value):
        try:
            out.append(convert_value(item, element, unit=unit, zone=zone))
        except MissingOffset as exc:
            raise MissingOffset(exc.text, element=i) from exc
        except InvalidValue as exc:
            raise InvalidValue(f"element {i}: {exc}") from exc
    return out


_CONVERTERS = {
    "string": _to_text,
    "category": _to_text,
    "boolean": _to_bool,
    "integer": _to_int,
    "float": _to_float,
    "datetime": _to_timestamp,
    "date": _to_date,
    "list": _to_list,
}


def build_array(converted: list[Any], dtype: DType) -> Any:
    """Build the pandas array of `dtype` from values returned by `convert_value`."""
    if dtype.kind == "object":
        return object_array(converted)
    if dtype.kind == "category":
        return pd.Categorical(converted)
    if dtype.kind == "datetime":
        series = pd.Series(converted, dtype=object)
        parsed = pd.to_datetime(
            series, utc=getattr(dtype.pandas, "tz", None) is not None
        )
        return parsed.astype(dtype.pandas).array
    if dtype.kind == "list":
        arrow = pa.array(converted, type=dtype.pandas.pyarrow_dtype)
        return pd.arrays.ArrowExtensionArray(arrow)
    return pd.array(converted, dtype=dtype.pandas)


def object_array(values: list[Any]) -> np.ndarray[Any, np.dtype[np.object_]]:
    """Return an object array holding each value whole, lists and dicts included."""
    # Filled element by element: np.array(values) would spread lists over a new axis.
    array = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):
        array[i] = value
    return array


def replace_surrogates(value: Any) -> tuple[Any, int]:
    """Replace lone UTF-16 surrogates in strings, nested ones included, with U+FFFD.

    JSON escapes such as `"\\ud800"` decode to Python strings that UTF-8, and so
    pandas' Arrow-backed strings, cannot hold.

    Returns:
        The cleaned value and the number of strings that changed.
    """
    if isinstance(value, str):
        if value.isascii() or _SURROGATES.search(value) is None:
            return value, 0
        return _SURROGATES.sub("\ufffd", value), 1
    if isinstance(value, list):
        changed = 0
        items = []
        for item in value:
            clean, count = replace_surrogates(item)
            items.append(clean)
            changed += count
        return (items, changed) if changed else (value, 0)
    if isinstance(value, dict):
        changed = 0
        members = {}
        for key, item in value.items():
            clean_key, key_count = replace_surrogates(key)
            clean, count = replace_surrogates(item)
            members[clean_key] = clean
            changed += key_count + count
        return (members, changed) if changed else (value, 0)
    return value, 0


def _fits(number: int, scalar_type: Any) -> bool:
    info = np.iinfo(scalar_type)
    return int(info.min) <= number <= int(info.max)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
