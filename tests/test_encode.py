"""Tests for key encoding across threads and the gather through campaign codes."""

from __future__ import annotations

import itertools
import threading
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from extapi_pandas import encode
from extapi_pandas.attach import take_column
from extapi_pandas.plan import group_campaigns


@pytest.fixture
def tiny_slices(monkeypatch: pytest.MonkeyPatch) -> None:
    """Split even small columns into many slices and run them on threads."""
    monkeypatch.setattr(encode, "_SLICE_ROWS", 7)
    monkeypatch.setattr(encode, "_BLOCK_ROWS", 5)
    monkeypatch.setattr(encode, "PARALLEL_ROWS", 1)


def random_keys(rows: int, distinct: int, seed: int, nulls: float = 0.0) -> list[Any]:
    rng = np.random.default_rng(seed)
    keys: list[Any] = [f"C-{k}" for k in rng.integers(0, distinct, rows)]
    for row in np.flatnonzero(rng.random(rows) < nulls):
        keys[row] = None
    return keys


def chunked(keys: list[Any], cuts: list[int]) -> pa.ChunkedArray:
    bounds = [0, *cuts, len(keys)]
    arrays = [
        pa.array(keys[start:end], type=pa.large_string())
        for start, end in itertools.pairwise(bounds)
    ]
    return pa.chunked_array(arrays, type=pa.large_string())


@pytest.mark.parametrize(
    ("rows", "distinct", "nulls", "cuts"),
    [
        (200, 3, 0.0, []),
        (200, 3, 0.1, [50, 51, 130]),
        (500, 150, 0.05, [100]),  # more than 127 values: int16 codes
        (60, 60, 0.0, [10, 20]),  # every key distinct
        (40, 5, 1.0, []),  # every key missing
    ],
)
@pytest.mark.usefixtures("tiny_slices")
def test_encode_arrow_matches_factorize(
    rows: int, distinct: int, nulls: float, cuts: list[int]
) -> None:
    keys = random_keys(rows, distinct, seed=rows + distinct, nulls=nulls)
    expected, uniques = pd.factorize(pd.Series(keys, dtype=object))

    encoded = encode.encode_arrow(chunked(keys, cuts))

    assert encoded.codes.tolist() == expected.tolist()
    assert encoded.count == len(uniques)
    assert encoded.codes.dtype == encode.code_dtype(len(uniques))


@pytest.mark.usefixtures("tiny_slices")
def test_encode_arrow_first_rows_and_counts() -> None:
    keys = random_keys(300, 9, seed=4, nulls=0.1)
    expected, uniques = pd.factorize(pd.Series(keys, dtype=object))

    encoded = encode.encode_arrow(chunked(keys, [100, 200]))

    first = [int(np.flatnonzero(expected == code)[0]) for code in range(len(uniques))]
    assert encoded.first_rows.tolist() == first
    assert encoded.counts.tolist() == np.bincount(expected[expected >= 0]).tolist()


def test_encode_arrow_empty_column() -> None:
    encoded = encode.encode_arrow(pa.chunked_array([], type=pa.large_string()))

    assert (len(encoded.codes), encoded.count) == (0, 0)


@pytest.mark.usefixtures("tiny_slices")
def test_first_rows_sorted_codes() -> None:
    codes = np.repeat(np.arange(6, dtype=np.int8), [3, 9, 1, 14, 2, 4])

    assert encode.first_rows(codes, 6).tolist() == [0, 3, 12, 13, 27, 29]


@pytest.mark.usefixtures("tiny_slices")
def test_first_rows_skips_missing_markers() -> None:
    codes = np.array([-1, -1, 0, 3, 0, -1, 3, 1, 2, 1], dtype=np.int16)

    # 3 marks a missing value here (at or above the count of 3)
    assert encode.first_rows(codes, 3).tolist() == [2, 7, 8]


def test_run_parallel_keeps_order_and_ends_threads() -> None:
    before = threading.active_count()
    tasks = [lambda i=i: i * i for i in range(20)]

    results = encode.run_parallel(tasks, rows=encode.PARALLEL_ROWS)

    assert results == [i * i for i in range(20)]
    assert threading.active_count() == before


def test_run_parallel_raises_task_error() -> None:
    def broken() -> int:
        raise ValueError("slice 3 failed")

    with pytest.raises(ValueError, match="slice 3 failed"):
        encode.run_parallel([lambda: 1, broken], rows=encode.PARALLEL_ROWS)


@pytest.mark.usefixtures("tiny_slices")
def test_group_campaigns_arrow_path_counts() -> None:
    keys = random_keys(120, 4, seed=9, nulls=0.1)
    audience = pd.DataFrame({"campaign": pd.array(keys, dtype="str")})

    grouping = group_campaigns(audience, ["campaign"], "skip")

    expected, uniques = pd.factorize(pd.Series(keys, dtype=object))
    assert grouping.keys == list(uniques)
    assert grouping.counts.tolist() == np.bincount(expected[expected >= 0]).tolist()


def test_group_campaigns_two_columns_with_gaps() -> None:
    audience = pd.DataFrame(
        {"a": ["x", "x", None, "y", "x", "y"], "b": [1.0, 2.0, 1.0, np.nan, 1.0, 2.0]}
    )

    grouping = group_campaigns(audience, ["a", "b"], "skip")

    assert grouping.codes.tolist() == [0, 1, -1, -1, 0, 2]
    assert grouping.keys == [["x", 1.0], ["x", 2.0], ["y", 2.0]]
    assert grouping.first_rows.tolist() == [0, 1, 5]


SMALL_COLUMNS = {
    "float": pd.Series([1.5, np.nan, 3.5]),
    "Float64": pd.Series(pd.array([1.5, None, 3.5], dtype="Float64")),
    "int": pd.Series([7, 8, 9]),
    "bool": pd.Series([False, True, False]),
    "str": pd.Series(pd.array(["a", None, "c"], dtype="str")),
    "datetime": pd.Series(pd.to_datetime(["2026-01-01", None, "2026-03-01"])),
    "datetime UTC": pd.Series(
        pd.to_datetime(["2026-01-01", "2026-02-01", None], utc=True)
    ),
    "object": pd.Series([{"a": 1}, None, [1, 2]], dtype=object),
}


@pytest.mark.parametrize("name", list(SMALL_COLUMNS))
@pytest.mark.parametrize("via", [[2, 0, 1], [2, -1, 1], [0, 0, -1], [1, 1, 1]])
def test_take_through_codes_equals_full_rows(name: str, via: list[int]) -> None:
    series = SMALL_COLUMNS[name]
    codes = np.array([0, 1, 2, -1, 2, 0, 1], dtype=np.int8)
    table = np.array(via)
    full = np.where(codes >= 0, table[codes], -1)

    composed = take_column(series, codes, as_category=True, via=table)
    direct = take_column(series, full, as_category=True)

    pd.testing.assert_series_equal(pd.Series(composed), pd.Series(direct))


def test_take_bool_last_value_true() -> None:
    # Only the appended filler marks a row without a value, never the column's own
    # last value (True here).
    series = pd.Series([False, True])

    taken = take_column(series, np.array([0, 1, 1]), as_category=False)

    assert taken.tolist() == [False, True, True]


def test_take_category_codes_distinct_values() -> None:
    series = pd.Series(pd.array(["a", "b", "c"], dtype="str"))
    codes = np.array([2, -1, 0, 1], dtype=np.int8)

    taken = take_column(series, codes, as_category=True, via=np.array([0, 1, 2]))

    assert taken.codes.tolist() == [2, -1, 0, 1]
    assert not np.shares_memory(taken.codes, codes)
