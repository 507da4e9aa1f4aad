"""Exact dtypes: integers, floats, booleans, timestamps, dates, lists and bad text."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pandas as pd
import pytest

from extapi_pandas import Column, ConfigurationError, ValidationError, extract
from extapi_pandas.dtypes import (
    InvalidValue,
    convert_value,
    infer_dtype,
    parse_dtype,
    parse_zone,
    replace_surrogates,
)


def one(document: Any, spec: str | Column, **options: Any) -> Any:
    """Extract one column from `document` and return its only value."""
    frame = extract(document, columns={"x": spec}, **options)
    return frame["x"].iloc[0]


def column_of(document: Any, spec: str | Column, **options: Any) -> pd.Series:
    return extract(document, columns={"x": spec}, **options)["x"]


# Integers


def test_int_beyond_float_precision_exact() -> None:
    document = json.loads('{"id": 9007199254740993}')
    assert one(document, Column("$.id", dtype="Int64")) == 9007199254740993


def test_int64_max_exact() -> None:
    assert one({"id": 2**63 - 1}, Column("$.id", dtype="Int64")) == 2**63 - 1


def test_undeclared_ints_with_null_are_int64() -> None:
    series = extract(
        {"r": [{"n": 9007199254740993}, {"n": None}]},
        columns={"n": "$.n"},
        records="$.r",
    )["n"]
    assert str(series.dtype) == "Int64"
    assert series.iloc[0] == 9007199254740993
    assert series.iloc[1] is pd.NA


def test_undeclared_int_beyond_int64_is_string() -> None:
    series = column_of({"id": 2**64}, "$.id")
    assert isinstance(series.dtype, pd.StringDtype)
    assert series.iloc[0] == str(2**64)


def test_declared_int_beyond_int64_fails() -> None:
    with pytest.raises(ValidationError, match=r"outside the range of Int64") as info:
        one({"id": 2**63}, Column("$.id", dtype="Int64"))
    assert info.value.failure_cases["value"].tolist() == [2**63]


@pytest.mark.parametrize("value", [5, "5", " 12 ", "+7", 5.0, "1e3"])
def test_declared_int_coerces(value: Any) -> None:
    expected = {"1e3": 1000, " 12 ": 12, "+7": 7}.get(value, 5)
    assert one({"n": value}, Column("$.n", dtype="Int64")) == expected


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("unlimited", "'unlimited' is not a number"),
        ("1_000", "'1_000' is not a number"),
        (2.5, "2.5 is not a whole number"),
        ("2.5", "'2.5' is not a whole number"),
        (True, "True is a boolean"),
        ([1], r"\[1\] is not a number"),
    ],
)
def test_declared_int_rejects(value: Any, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        one({"n": value}, Column("$.n", dtype="Int64"))


def test_invalid_number_error_names_column() -> None:
    with pytest.raises(ValidationError, match=r"column 'x': value 'unlimited'"):
        one({"n": "unlimited"}, Column("$.n", dtype="Int64"))


def test_na_values_read_word_as_na() -> None:
    value = one(
        {"n": "unlimited"}, Column("$.n", dtype="Int64"), na_values=["unlimited"]
    )
    assert value is pd.NA


def test_column_na_values_override_call() -> None:
    value = one(
        {"aqi": "-"}, Column("$.aqi", dtype="Int64", na_values=["-"]), na_values=["n/a"]
    )
    assert value is pd.NA


def test_int32_range_checked() -> None:
    with pytest.raises(ValidationError, match=r"outside the range of Int32"):
        one({"n": 2**31}, Column("$.n", dtype="Int32"))


def test_numpy_int_rejects_null() -> None:
    with pytest.raises(ValidationError, match=r"cannot hold a null"):
        one({"n": None}, Column("$.n", dtype="int64"))


# Strings and floats


def test_numeric_text_stays_string() -> None:
    series = column_of({"zip": "007"}, "$.zip")
    assert isinstance(series.dtype, pd.StringDtype)
    assert series.iloc[0] == "007"


def test_date_named_column_stays_string() -> None:
    series = extract(
        {"created_at": "2024-01-01"}, columns={"created_at": "$.created_at"}
    )["created_at"]
    assert isinstance(series.dtype, pd.StringDtype)


def test_float_equals_python_float_of_literal() -> None:
    document = json.loads('{"rate": 1.1050, "t": 138.76497745513916}')
    frame = extract(document, columns={"rate": "$.rate", "t": "$.t"})
    assert frame["rate"].iloc[0] == float("1.1050")
    assert frame["t"].iloc[0] == float("138.76497745513916")


def test_float_text_parses_exactly() -> None:
    assert one({"p": "199.00"}, Column("$.p", dtype="Float64")) == float("199.00")


def test_int_in_float_column_is_float() -> None:
    series = column_of({"t": 16}, Column("$.t", dtype="Float64"))
    assert str(series.dtype) == "Float64"
    assert series.iloc[0] == 16.0


@pytest.mark.parametrize("text", ["nan", "inf", "1,5", "five"])
def test_float_rejects_non_numeric_text(text: str) -> None:
    with pytest.raises(ValidationError, match="is not a number"):
        one({"p": text}, Column("$.p", dtype="Float64"))


def test_string_dtype_writes_numbers_as_text() -> None:
    assert one({"n": 5}, Column("$.n", dtype="string")) == "5"


# Booleans


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        (False, False),
        (1, True),
        (0, False),
        ("true", True),
        (" FALSE ", False),
    ],
)
def test_declared_boolean_accepts(value: Any, expected: bool) -> None:
    assert one({"b": value}, Column("$.b", dtype="boolean")) == expected


@pytest.mark.parametrize("value", [2, "yes", 1.0, "1"])
def test_declared_boolean_rejects(value: Any) -> None:
    with pytest.raises(ValidationError, match="is not a boolean"):
        one({"b": value}, Column("$.b", dtype="boolean"))


def test_undeclared_zero_one_stays_int() -> None:
    assert str(column_of({"b": 1}, "$.b").dtype) == "Int64"


def test_nullable_boolean_keeps_null() -> None:
    series = extract(
        {"r": [{"w": True}, {"w": None}]},
        columns={"w": Column("$.w", dtype="boolean")},
        records="$.r",
    )["w"]
    assert str(series.dtype) == "boolean"
    assert series.iloc[1] is pd.NA


# Timestamps


UTC = "datetime64[ns, UTC]"


def test_offset_timestamp_converts_to_utc() -> None:
    value = one({"t": "2023-08-07T17:00:00+02:00"}, Column("$.t", dtype=UTC))
    assert value == pd.Timestamp("2023-08-07T15:00:00Z")


def test_zulu_timestamp_is_tz_aware() -> None:
    series = column_of({"t": "2023-08-11T19:00:00Z"}, Column("$.t", dtype=UTC))
    assert str(series.dtype) == UTC


def test_mixed_offsets_convert_each() -> None:
    series = extract(
        {"r": [{"t": "2011-10-20T14:05:13-04:00"}, {"t": "2007-12-31T19:00:00-05:00"}]},
        columns={"t": Column("$.t", dtype=UTC)},
        records="$.r",
    )["t"]
    assert series.tolist() == [
        pd.Timestamp("2011-10-20T18:05:13Z"),
        pd.Timestamp("2008-01-01T00:00:00Z"),
    ]


def test_naive_timestamp_without_policy_fails() -> None:
    with pytest.raises(ValidationError, match=r"'2026-10-03T12:30' has no UTC offset"):
        one({"t": "2026-10-03T12:30"}, Column("$.t", dtype=UTC))


def test_naive_timestamp_error_suggests_assume_tz() -> None:
    with pytest.raises(ValidationError, match=r"pass assume_tz="):
        one({"t": "2026-10-03T12:30"}, Column("$.t", dtype=UTC))


@pytest.mark.parametrize(
    ("assume_tz", "expected"),
    [
        ("Europe/Amsterdam", "2026-10-03T10:30Z"),
        ("+02:00", "2026-10-03T10:30Z"),
        ("-0530", "2026-10-03T18:00Z"),
        (7200, "2026-10-03T10:30Z"),
        ("UTC", "2026-10-03T12:30Z"),
    ],
)
def test_assume_tz_localizes_naive(assume_tz: Any, expected: str) -> None:
    value = one(
        {"t": "2026-10-03T12:30"}, Column("$.t", dtype=UTC), assume_tz=assume_tz
    )
    assert value == pd.Timestamp(expected)


def test_assume_tz_follows_dst() -> None:
    frame = extract(
        {"r": [{"t": "2026-01-15T12:00"}, {"t": "2026-07-15T12:00"}]},
        columns={"t": Column("$.t", dtype=UTC, assume_tz="Europe/Amsterdam")},
        records="$.r",
    )
    assert frame["t"].tolist() == [
        pd.Timestamp("2026-01-15T11:00Z"),
        pd.Timestamp("2026-07-15T10:00Z"),
    ]


def test_assume_tz_path_reads_offset_field() -> None:
    document = {"utc_offset_seconds": 7200, "current": {"time": "2026-10-03T12:30"}}
    column = Column("$.current.time", dtype=UTC, assume_tz="$.utc_offset_seconds")
    assert one(document, column) == pd.Timestamp("2026-10-03T10:30Z")


def test_assume_tz_path_reads_zone_name() -> None:
    document = {"timezone": "Europe/Amsterdam", "t": "2026-10-03T12:30"}
    column = Column("$.t", dtype=UTC, assume_tz="$.timezone")
    assert one(document, column) == pd.Timestamp("2026-10-03T10:30Z")


def test_assume_tz_path_missing_fails() -> None:
    column = Column("$.t", dtype=UTC, assume_tz="$.utc_offset_seconds")
    with pytest.raises(ValidationError, match="has no UTC offset"):
        one({"t": "2026-10-03T12:30"}, column)


def test_assume_tz_keeps_explicit_offset() -> None:
    value = one(
        {"t": "2026-10-03T12:30+00:00"},
        Column("$.t", dtype=UTC),
        assume_tz="Europe/Amsterdam",
    )
    assert value == pd.Timestamp("2026-10-03T12:30Z")


def test_nonexistent_local_time_fails() -> None:
    with pytest.raises(ValidationError, match="does not exist or is ambiguous"):
        one(
            {"t": "2026-03-29T02:30"},
            Column("$.t", dtype=UTC),
            assume_tz="Europe/Amsterdam",
        )


@pytest.mark.parametrize(
    ("unit", "value", "expected"),
    [
        ("s", 1691427600, "2023-08-07T17:00:00Z"),
        ("ms", 1691427600123, "2023-08-07T17:00:00.123Z"),
        ("s", "1672948800", "2023-01-05T20:00:00Z"),
    ],
)
def test_epoch_with_unit(unit: str, value: Any, expected: str) -> None:
    assert one({"t": value}, Column("$.t", dtype=UTC, unit=unit)) == pd.Timestamp(
        expected
    )


def test_epoch_number_needs_unit() -> None:
    with pytest.raises(ValidationError, match=r"declare Column\(\.\.\., unit='s'\)"):
        one({"t": 1691427600}, Column("$.t", dtype=UTC))


def test_timestamp_rejects_free_text() -> None:
    with pytest.raises(ValidationError, match="is not an ISO 8601 timestamp"):
        one({"t": "Aug 7 2023"}, Column("$.t", dtype=UTC))


def test_timestamp_rejects_invalid_day() -> None:
    with pytest.raises(ValidationError, match="is not a valid date or time"):
        one({"t": "2023-02-30T10:00Z"}, Column("$.t", dtype=UTC))


def test_timestamp_out_of_ns_range_fails() -> None:
    with pytest.raises(ValidationError, match="outside the range"):
        one({"t": "3000-01-01T00:00Z"}, Column("$.t", dtype=UTC))


def test_timestamp_to_other_zone() -> None:
    series = column_of(
        {"t": "2023-08-07T15:00:00Z"},
        Column("$.t", dtype="datetime64[ns, Europe/Amsterdam]"),
    )
    assert str(series.dtype) == "datetime64[ns, Europe/Amsterdam]"
    assert series.iloc[0].hour == 17


def test_naive_dtype_stores_utc_wall_time() -> None:
    series = column_of(
        {"t": "2023-08-07T17:00:00+02:00"}, Column("$.t", dtype="datetime64[ns]")
    )
    assert series.iloc[0] == pd.Timestamp("2023-08-07T15:00:00")


# Dates


def test_plain_date_declared_as_date() -> None:
    series = column_of({"d": "2025-05-05"}, Column("$.d", dtype="date"))
    assert series.iloc[0] == dt.date(2025, 5, 5)
    assert "date32" in str(series.dtype)


def test_date_rejects_timestamp() -> None:
    with pytest.raises(ValidationError, match=r"is not a date \(YYYY-MM-DD\)"):
        one({"d": "2025-05-05T10:00"}, Column("$.d", dtype="date"))


# Lists


def test_list_elements_converted() -> None:
    value = one({"v": [0, 1, None]}, Column("$.v", dtype="list[boolean]"))
    assert value == [False, True, None]


def test_list_of_all_nulls_keeps_dtype() -> None:
    series = column_of({"v": [None, None]}, Column("$.v", dtype="list[Float64]"))
    assert "double" in str(series.dtype)


def test_list_element_error_names_index() -> None:
    with pytest.raises(ValidationError, match=r"element 1: 'x' is not a number"):
        one({"v": [1, "x"]}, Column("$.v", dtype="list[Int64]"))


def test_list_of_dates() -> None:
    value = one({"v": ["2025-01-01", "2025-12-26"]}, Column("$.v", dtype="list[date]"))
    assert value == [dt.date(2025, 1, 1), dt.date(2025, 12, 26)]


# Text pandas cannot hold


def test_lone_surrogate_replaced_with_warning() -> None:
    document = json.loads('{"name": "caf\\ud800e"}')
    with pytest.warns(UserWarning, match="lone UTF-16 surrogates"):
        value = one(document, "$.name")
    assert value == "caf\ufffde"


def test_lone_surrogate_in_declared_string() -> None:
    document = json.loads('{"name": "\\udc00"}')
    with pytest.warns(UserWarning, match="replaced with U\\+FFFD"):
        value = one(document, Column("$.name", dtype="string"))
    assert value == "\ufffd"


def test_surrogate_pair_kept() -> None:
    document = json.loads('{"name": "\\ud83d\\ude00"}')
    assert one(document, "$.name") == "\U0001f600"


def test_replace_surrogates_nested() -> None:
    cleaned, count = replace_surrogates({"a": ["ok", "\ud800"], "\udfff": 1})
    assert cleaned == {"a": ["ok", "\ufffd"], "\ufffd": 1}
    assert count == 2


def test_convert_value_scrubs_without_extraction() -> None:
    assert convert_value("\ud800", parse_dtype("string")) == "\ufffd"


# Dtype names and helpers


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("integer", "unknown dtype 'integer'"),
        ("", "unknown dtype ''"),
        ("list[object]", "list elements must be scalar"),
        ("list[list[Int64]]", "list elements must be scalar"),
        ("datetime64[xx]", "unknown dtype"),
    ],
)
def test_parse_dtype_rejects(name: str, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        parse_dtype(name)


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("Int64", "integer"),
        ("UInt8", "integer"),
        ("Float64", "float"),
        ("float32", "float"),
        ("boolean", "boolean"),
        ("string", "string"),
        ("str", "string"),
        ("date", "date"),
        ("datetime64[ns, UTC]", "datetime"),
        ("category", "category"),
        ("object", "object"),
        ("list[string]", "list"),
    ],
)
def test_parse_dtype_kinds(name: str, kind: str) -> None:
    assert parse_dtype(name).kind == kind


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([None], "string"),
        ([True, None], "boolean"),
        ([1, None, 2**63 - 1], "Int64"),
        ([2**63], "string"),
        ([1, 2.5], "Float64"),
        (["a"], "string"),
        ([[1]], "object"),
        ([1, "a"], "object"),
    ],
)
def test_infer_dtype(values: list[Any], expected: str) -> None:
    assert infer_dtype(values) == expected


@pytest.mark.parametrize("zone", ["Mars/Olympus", "+25:00", 90000, True, 1.5])
def test_parse_zone_rejects(zone: Any) -> None:
    with pytest.raises(InvalidValue):
        parse_zone(zone)
