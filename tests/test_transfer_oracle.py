"""Oracle tests: `enrich_from_file` equals a left merge of the whole file in pandas.

Hypothesis draws audience keys: five dtypes, repeated and missing keys, keys that
differ only in case, padding or Unicode normalization, and very long keys. It also
draws per-profile files in every format, split over several files and read in small
chunks, so the pyarrow matcher matches several blocks. The reference takes the rows in
read order, drops rows with a missing key, keeps the first or last row of a repeated
key, and merges with `how="left"`. It follows the promises of `enrich_from_file`:
keys are text, a missing key never matches (an empty CSV field is a missing key),
the audience's index and order are kept, and `keep="raise"` rejects a repeated key
only when an audience row has it.
"""

from __future__ import annotations

import csv
import json
import os
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import extapi_pandas  # noqa: F401  (registers df.extapi)
from extapi_pandas import ExtapiWarning
from extapi_pandas.errors import TransferError

__all__: list[str] = []

EXAMPLES = int(os.environ.get("EXTAPI_HYPOTHESIS_EXAMPLES", "40"))
PROPERTY = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize="EXTAPI_HYPOTHESIS_EXAMPLES" not in os.environ,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

VALUE = "value"
SINGLE_KEY = ("profile_id",)
PAIR_KEY = ("country", "profile_id")
# Keys that a careless matcher would confuse. They differ in case, padding or
# Unicode normalization (NFC "é", and NFD "e" plus a combining accent). Others are
# emoji with a skin-tone modifier, right-to-left text, missing-value markers as
# text, leading zeros, CSV separators, quotes and line breaks, a NUL, a byte order
# mark inside a key, and two 2,000-character keys that differ in the last one.
KEY_POOL = (
    "a",
    "A",
    "a ",
    " a",
    "",
    " ",
    "\t",
    "\u00e9",
    "e\u0301",
    "\U0001f600",
    "\U0001f44d\U0001f3fd",
    "\u05e9\u05dc\u05d5\u05dd",
    "\u200fabc",
    "NA",
    "nan",
    "None",
    "null",
    "02139",
    "2139",
    "a,b",
    'say "hi"',
    "two\nlines",
    "carriage\rreturn",
    "nul\x00byte",
    "\ufeffbom",
    "x" * 2000,
    "x" * 1999 + "y",
)
# A smaller pool for keys of two columns, so that whole pairs still repeat.
PAIR_POOL = ("a", "A", "", " ", "\u00e9", "e\u0301", "NA")
AUDIENCE_DTYPES = ("str", "string[pyarrow]", "string[python]", "object", "category")
# The pyarrow matcher handles these audience dtypes, the pandas matcher the others.
FORMATS = {
    "csv": ".csv",
    "tsv": ".tsv",
    "jsonl": ".jsonl",
    "json": ".json",
    "parquet": ".parquet",
}
LAYOUTS = ("file", "folder", "glob", "list")
CHUNK_ROWS = (1, 2, 3, 7, 50_000)
MATCH_FIELDS = (
    "profiles_matched",
    "profiles_unmatched",
    "match_rate",
    "file_rows_read",
    "file_rows_used",
    "file_rows_unused",
    "duplicate_rows_dropped",
)

Key = tuple[str | None, ...]


@dataclass(frozen=True)
class Case:
    """One join: the audience keys, the files' keys in read order, the options.

    A key is a tuple with one text per key column, and None for a missing value. The
    value of row `j` of part `i` is `"p{i}r{j}"`, so the result shows which file row
    each profile received.
    """

    audience_keys: tuple[Key, ...]
    audience_dtypes: tuple[str, ...]
    parts: tuple[tuple[Key, ...], ...]
    file_format: str
    layout: str = "folder"
    keep: str = "raise"
    chunk_rows: int = 50_000
    audience_columns: tuple[str, ...] = SINGLE_KEY
    file_columns: tuple[str, ...] = SINGLE_KEY
    # A split inside the keys makes a pyarrow-backed audience column of two chunks,
    # and -1 keeps one chunk.
    audience_split: int = -1
    index_kind: str = "descending"
    parquet_dictionary: bool = False
    declare_key: bool = False


@dataclass(frozen=True)
class Expected:
    """The reference result: the new column and match statistics, or the error."""

    values: list[str | None]
    match: dict[str, Any]
    error: str | None


def single_case(
    audience_keys: Sequence[str | None],
    parts: Sequence[Sequence[str | None]],
    **options: Any,
) -> Case:
    """Return a case with a key of one column, from plain lists of keys."""
    return Case(
        audience_keys=tuple((key,) for key in audience_keys),
        audience_dtypes=(options.pop("dtype", "str"),),
        parts=tuple(tuple((key,) for key in part) for part in parts),
        file_format=options.pop("file_format", "csv"),
        **options,
    )


# Building the inputs


def key_series(keys: list[str | None], dtype: str, split: int) -> pd.Series:
    """Return one audience key column in `dtype`.

    An object column stores every other missing key as NaN instead of None. A
    category column has one category that no row uses.
    """
    if dtype == "object":
        values: list[Any] = list(keys)
        missing = [i for i, key in enumerate(keys) if key is None]
        for i in missing[1::2]:
            values[i] = np.nan
        return pd.Series(values, dtype=object)
    if dtype == "category":
        series = pd.Series(keys, dtype="category")
        return series.cat.add_categories(["unused-category"])
    series = pd.Series(keys, dtype=dtype)
    if 0 <= split <= len(keys):
        series = pd.concat([series.iloc[:split], series.iloc[split:]])
    return series.reset_index(drop=True)


def audience_index(count: int, kind: str) -> pd.Index:
    """Return an index whose labels are not the row positions."""
    if kind == "descending":
        return pd.Index([1000 - 7 * i for i in range(count)], name="row")
    if kind == "repeated":
        return pd.Index(["same"] * count, name="row")
    return pd.MultiIndex.from_arrays(
        [[i % 2 for i in range(count)], [f"r{i}" for i in range(count)]],
        names=["half", "row"],
    )


def build_audience(case: Case) -> pd.DataFrame:
    """Return the audience: the key columns, then an int column."""
    count = len(case.audience_keys)
    index = audience_index(count, case.index_kind)
    columns = {}
    for number, name in enumerate(case.audience_columns):
        keys = [key[number] for key in case.audience_keys]
        series = key_series(keys, case.audience_dtypes[number], case.audience_split)
        series.index = index
        columns[name] = series
    columns["segment"] = pd.Series(np.arange(count, dtype=np.int64), index=index)
    return pd.DataFrame(columns)


def part_name(case: Case, part: int) -> str:
    """Return the file name of a part.

    Folders and globs are read sorted by path, so the names ascend in read order.
    A list is read in its own order, so its names descend: reading by name would
    reverse the parts.
    """
    number = part if case.layout != "list" else len(case.parts) - 1 - part
    return f"part-{number:02d}{FORMATS[case.file_format]}"


def row_labels(part: int, rows: int) -> list[str]:
    return [f"p{part}r{row}" for row in range(rows)]


def part_columns(case: Case, part: int) -> dict[str, list[str | None]]:
    """Return a part's columns: the file key columns, then the value."""
    keys = case.parts[part]
    columns = {
        name: [key[number] for key in keys]
        for number, name in enumerate(case.file_columns)
    }
    columns[VALUE] = list(row_labels(part, len(keys)))
    return columns


def write_part(case: Case, path: Path, part: int) -> None:
    columns = part_columns(case, part)
    names = list(columns)
    rows = list(zip(*columns.values(), strict=True))
    if case.file_format in ("csv", "tsv"):
        delimiter = "," if case.file_format == "csv" else "\t"
        with path.open("w", encoding="utf-8", newline="") as handle:
            # With "\r\n" as line terminator, the writer quotes keys with either.
            writer = csv.writer(handle, delimiter=delimiter, lineterminator="\r\n")
            writer.writerow(names)
            writer.writerows(["" if v is None else v for v in row] for row in rows)
    elif case.file_format in ("jsonl", "json"):
        records = [dict(zip(names, row, strict=True)) for row in rows]
        if case.file_format == "jsonl":
            lines = [json.dumps(record, ensure_ascii=False) for record in records]
            text = "".join(line + "\n" for line in lines)
        else:
            text = json.dumps(records, ensure_ascii=False, indent=1)
        path.write_text(text, encoding="utf-8")
    else:
        arrays = {
            name: pa.array(values, type=pa.string()) for name, values in columns.items()
        }
        if case.parquet_dictionary:
            for name in case.file_columns:
                arrays[name] = arrays[name].dictionary_encode()
        pq.write_table(pa.table(arrays), path, row_group_size=3)


def write_source(case: Case, directory: Path) -> Any:
    """Write the parts and return the source argument for the case's layout."""
    folder = directory / "export"
    folder.mkdir()
    paths = []
    for part in range(len(case.parts)):
        path = folder / part_name(case, part)
        write_part(case, path, part)
        paths.append(path)
    # A folder read skips these files, which would fail to parse as data.
    (folder / "_SUCCESS").write_text("not data", encoding="utf-8")
    (folder / ".part-00.crc").write_text("not data", encoding="utf-8")
    if case.layout == "file":
        return paths[0]
    if case.layout == "folder":
        return folder
    if case.layout == "glob":
        return str(folder / f"part-*{FORMATS[case.file_format]}")
    return [str(path) for path in paths]


def join_option(case: Case) -> str | list[str] | dict[str, str]:
    """Return `on=` in the form a user would write for the case."""
    if case.audience_columns != case.file_columns:
        return dict(zip(case.audience_columns, case.file_columns, strict=True))
    if len(case.audience_columns) == 1:
        return case.audience_columns[0]
    return list(case.audience_columns)


def run_join(case: Case, audience: pd.DataFrame, source: Any) -> pd.DataFrame:
    declared = None
    if case.declare_key:
        declared = {name: "string" for name in case.file_columns}
    return audience.extapi.enrich_from_file(
        source,
        on=join_option(case),
        columns=[VALUE],
        keep=case.keep,
        chunk_rows=case.chunk_rows,
        dtype=declared,
    )


# The reference


def file_key_missing(value: str | None, file_format: str) -> bool:
    """Tell whether the route reads one file key value as missing.

    A CSV field cannot tell an empty text from no value, and the route reads an
    empty key field as missing. JSON null and a Parquet null are missing.
    """
    if value is None:
        return True
    return file_format in ("csv", "tsv") and value == ""


def encode_key(key: Key) -> str | None:
    """Return a key as one hashable text, or None when a part of it is missing."""
    if any(value is None for value in key):
        return None
    return json.dumps(list(key))


def show_key(key: Key) -> str:
    """Return a key as the duplicate error shows it: text, or a tuple of texts."""
    return repr(key[0]) if len(key) == 1 else repr(tuple(key))


def file_frame(case: Case) -> pd.DataFrame:
    """Return every file row in read order: encoded key, value, key as shown, place."""
    rows = []
    for part, keys in enumerate(case.parts):
        labels = row_labels(part, len(keys))
        for row, (key, label) in enumerate(zip(keys, labels, strict=True)):
            read = tuple(
                None if file_key_missing(v, case.file_format) else v for v in key
            )
            place = f"{part_name(case, part)} data row {row + 1}"
            rows.append((encode_key(read), label, show_key(key), place))
    return pd.DataFrame(rows, columns=["key", VALUE, "shown", "place"], dtype=object)


def oracle(case: Case) -> Expected:
    """Return what a whole-file pandas left merge gives for the case."""
    left = pd.DataFrame(
        {
            "key": pd.Series(
                [encode_key(key) for key in case.audience_keys], dtype=object
            )
        }
    )
    rows = file_frame(case)

    matched = rows[rows["key"].notna() & rows["key"].isin(set(left["key"].dropna()))]
    repeated = matched[matched["key"].duplicated(keep=False)]
    if case.keep == "raise" and len(repeated):
        return Expected([], {}, duplicate_message(case, repeated))
    kept = "first" if case.keep == "raise" else case.keep
    chosen = matched.drop_duplicates("key", keep=kept)
    merged = left.merge(
        chosen[["key", VALUE]], on="key", how="left", validate="many_to_one"
    )

    values = [None if pd.isna(value) else value for value in merged[VALUE]]
    profiles = len(values)
    matched_profiles = sum(value is not None for value in values)
    match = {
        "profiles_matched": matched_profiles,
        "profiles_unmatched": profiles - matched_profiles,
        "match_rate": round(matched_profiles / profiles, 6) if profiles else None,
        "file_rows_read": len(rows),
        "file_rows_used": len(chosen),
        "file_rows_unused": len(rows) - len(chosen),
        "duplicate_rows_dropped": len(matched) - len(chosen),
    }
    return Expected(values, match, None)


def duplicate_message(case: Case, repeated: pd.DataFrame) -> str:
    """Return a pattern for the start of the `keep="raise"` error.

    The error counts the repeated file rows and keys, and its first example is the
    repeated key that comes first in the file, with its row count and first row.
    """
    first = repeated.iloc[0]
    count = int((repeated["key"] == first["key"]).sum())
    text = (
        f"the file has {len(repeated)} rows for {repeated['key'].nunique()} "
        f"audience key(s) that appear more than once in {list(case.file_columns)}, "
        f"for example {first['shown']} ({count} rows: {first['place']}"
    )
    return re.escape(text)


# The comparison


def check_case(case: Case, directory: Path) -> None:
    """Run the join on real files and compare it with the reference."""
    audience = build_audience(case)
    before = audience.copy(deep=True)
    source = write_source(case, directory)
    expected = oracle(case)
    if expected.error is not None:
        with pytest.raises(TransferError, match=expected.error):
            run_join(case, audience, source)
        return
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ExtapiWarning)
        result = run_join(case, audience, source)
    no_match = [w for w in caught if issubclass(w.category, ExtapiWarning)]
    values = [None if pd.isna(value) else value for value in result[VALUE]]
    match = result.attrs["extapi"]["match"]

    assert values == expected.values
    for field in MATCH_FIELDS:
        assert match[field] == expected.match[field], field
    assert result.index.equals(audience.index)
    assert list(result.columns) == [*audience.columns, VALUE]
    pd.testing.assert_frame_equal(result[list(audience.columns)], before)
    pd.testing.assert_frame_equal(audience, before)
    warned = bool(len(audience)) and expected.match["profiles_matched"] == 0
    assert bool(no_match) == warned


# The strategies


@st.composite
def cases(draw: st.DrawFn, width: int) -> Case:
    """Draw a join on a key of `width` columns. Most file keys are audience keys.

    A part may have no rows, except in CSV: a CSV part with a header and no rows
    has its own test, because the pyarrow matcher misreads it.
    """
    pool = KEY_POOL if width == 1 else PAIR_POOL
    value = st.sampled_from((*pool, None))
    any_key = st.tuples(*[value] * width)
    audience_keys = draw(st.lists(any_key, max_size=12))
    file_format = draw(st.sampled_from(tuple(FORMATS)))
    layout = draw(st.sampled_from(LAYOUTS))
    part_count = 1 if layout == "file" else draw(st.integers(1, 3))
    file_key = any_key
    if audience_keys:
        file_key = st.one_of(st.sampled_from(audience_keys), any_key)
    min_rows = 1 if file_format in ("csv", "tsv") else 0
    parts = draw(
        st.lists(
            st.lists(file_key, min_size=min_rows, max_size=9).map(tuple),
            min_size=part_count,
            max_size=part_count,
        )
    )
    audience_columns = SINGLE_KEY if width == 1 else PAIR_KEY
    renamed = tuple(f"file_{name}" for name in audience_columns)
    return Case(
        audience_keys=tuple(audience_keys),
        audience_dtypes=tuple(
            draw(st.sampled_from(AUDIENCE_DTYPES)) for _ in range(width)
        ),
        parts=tuple(parts),
        file_format=file_format,
        layout=layout,
        keep=draw(st.sampled_from(("raise", "first", "last"))),
        chunk_rows=draw(st.sampled_from(CHUNK_ROWS)),
        audience_columns=audience_columns,
        file_columns=draw(st.sampled_from((audience_columns, renamed))),
        audience_split=draw(st.integers(-1, len(audience_keys))),
        index_kind=draw(st.sampled_from(("descending", "repeated", "multi"))),
        parquet_dictionary=draw(st.booleans()),
        declare_key=draw(st.booleans()),
    )


@PROPERTY
@given(case=cases(width=1))
def test_single_key_equals_merge(
    tmp_path_factory: pytest.TempPathFactory, case: Case
) -> None:
    check_case(case, tmp_path_factory.mktemp("oracle"))


@PROPERTY
@given(case=cases(width=2))
def test_two_column_key_equals_merge(
    tmp_path_factory: pytest.TempPathFactory, case: Case
) -> None:
    check_case(case, tmp_path_factory.mktemp("oracle"))


# A CSV part with a header and no rows

HEADER_ONLY_PARTS = {
    "first": [[], ["b", "a"], ["c"]],
    "middle": [["b"], [], ["a", "c"]],
    "last": [["b", "a"], ["c"], []],
}


# pyarrow's dictionary_encode drops zero-length chunks, such as the empty chunk of a
# header-only CSV part. The pyarrow matcher must still split file and audience keys
# at the right row.
@pytest.mark.parametrize("dtype", AUDIENCE_DTYPES)
@pytest.mark.parametrize("position", list(HEADER_ONLY_PARTS))
@pytest.mark.parametrize("declare_key", [False, True])
def test_header_only_csv_part(
    tmp_path: Path, dtype: str, position: str, declare_key: bool
) -> None:
    case = single_case(
        ["a", "b", "c", "z"],
        HEADER_ONLY_PARTS[position],
        dtype=dtype,
        declare_key=declare_key,
        chunk_rows=1,
    )

    check_case(case, tmp_path)


@pytest.mark.parametrize("dtype", AUDIENCE_DTYPES)
def test_header_only_csv_file_alone(tmp_path: Path, dtype: str) -> None:
    check_case(single_case(["a", None], [[]], dtype=dtype, layout="file"), tmp_path)


def test_header_only_part_keeps_rows(tmp_path: Path) -> None:
    # The audience column has two pyarrow chunks: ["a", "b"] and ["c", "d"].
    case = single_case(["a", "b", "c", "d"], [[], ["c", "d"]], audience_split=2)
    audience = build_audience(case)

    enriched = run_join(case, audience, write_source(case, tmp_path))

    assert enriched[VALUE].isna().tolist() == [True, True, False, False]
    assert enriched[VALUE].iloc[2:].tolist() == ["p1r0", "p1r1"]


# Keys that are not plain text in the file


@pytest.mark.parametrize("dtype", AUDIENCE_DTYPES)
@pytest.mark.parametrize("file_format", ["csv", "jsonl", "parquet"])
def test_partition_folder_key_equals_merge(
    tmp_path: Path, dtype: str, file_format: str
) -> None:
    # Folder names are URL-decoded ("%20" is a space), and Hive's
    # __HIVE_DEFAULT_PARTITION__ is a missing value.
    folders = {
        "a": "ra",
        "b%20c": "rbc",
        "%C3%A9": "re",
        "__HIVE_DEFAULT_PARTITION__": "rn",
    }
    for folder, label in folders.items():
        directory = tmp_path / "export" / f"profile_id={folder}"
        directory.mkdir(parents=True)
        path = directory / f"part{FORMATS[file_format]}"
        if file_format == "csv":
            path.write_text(f"{VALUE}\n{label}\n", encoding="utf-8")
        elif file_format == "jsonl":
            path.write_text(json.dumps({VALUE: label}) + "\n", encoding="utf-8")
        else:
            pq.write_table(pa.table({VALUE: [label]}), path)
    keys = ["b c", "a", None, "x", "\u00e9", "__HIVE_DEFAULT_PARTITION__"]
    audience = pd.DataFrame({"profile_id": key_series(keys, dtype, -1)})

    enriched = audience.extapi.enrich_from_file(
        tmp_path / "export", on="profile_id", chunk_rows=1
    )

    values = [None if pd.isna(value) else value for value in enriched[VALUE]]
    assert values == ["rbc", "ra", None, None, "re", None]
    assert enriched.attrs["extapi"]["match"]["file_rows_read"] == 4


@pytest.mark.parametrize("dtype", AUDIENCE_DTYPES)
@pytest.mark.parametrize("chunk_rows", [1, 50_000])
def test_json_number_keys_match_text(
    tmp_path: Path, dtype: str, chunk_rows: int
) -> None:
    path = tmp_path / "scores.jsonl"
    records = [
        {"profile_id": 7, VALUE: "int"},
        {"profile_id": 2.5, VALUE: "float"},
        {"profile_id": True, VALUE: "bool"},
        {"profile_id": None, VALUE: "null"},
        {VALUE: "absent"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    keys = ["true", "7", None, "2.5", "7.0"]
    audience = pd.DataFrame({"profile_id": key_series(keys, dtype, -1)})

    enriched = audience.extapi.enrich_from_file(
        path, on="profile_id", chunk_rows=chunk_rows
    )

    values = [None if pd.isna(value) else value for value in enriched[VALUE]]
    assert values == ["bool", "int", None, "float", None]
