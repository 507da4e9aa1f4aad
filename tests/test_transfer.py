"""Tests of `df.extapi.enrich_from_file` on local and in-memory files."""

from __future__ import annotations

import ast
import bz2
import gzip
import importlib.util
import json
import lzma
import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import fsspec
import numpy as np
import pandas as pd
import pandera.pandas as pa
import pytest

import extapi_pandas
from extapi_pandas import ExtapiWarning
from extapi_pandas.errors import ConfigurationError, TransferError, ValidationError

FOOTFALL_CSV = "postal_code,footfall_index\n02139,1.35\n00501,0.42\n"
FOOTFALL_JSONL = (
    '{"postal_code": "02139", "footfall_index": 1.35}\n'
    '{"postal_code": "00501", "footfall_index": 0.42}\n'
)


def postal_audience() -> pd.DataFrame:
    return pd.DataFrame({"postal_code": ["02139", "00501"], "segment": ["a", "b"]})


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding=encoding)
    return path


def profiles_audience(count: int = 6) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "profile_id": [f"p{i}" for i in range(count)],
            "age": np.arange(20, 20 + count, dtype=np.int64),
        },
        index=pd.Index([100 - i for i in range(count)], name="row"),
    )


# Small inputs: leading zeros, a byte order mark, epoch numbers


def test_csv_postal_codes_all_match(tmp_path: Path) -> None:
    path = write(tmp_path / "footfall.csv", FOOTFALL_CSV)
    enriched = postal_audience().extapi.enrich_from_file(path, on="postal_code")
    assert enriched["footfall_index"].notna().all()
    assert enriched["postal_code"].tolist() == ["02139", "00501"]
    assert enriched["footfall_index"].tolist() == [1.35, 0.42]
    assert enriched.attrs["extapi"]["match"]["profiles_matched"] == 2
    assert enriched.attrs["extapi"]["match"]["profiles_unmatched"] == 0


def test_jsonl_bom_same_result(tmp_path: Path) -> None:
    path = write(tmp_path / "footfall.jsonl", "\ufeff" + FOOTFALL_JSONL)
    enriched = postal_audience().extapi.enrich_from_file(path, on="postal_code")
    assert "\ufeffpostal_code" not in enriched.columns
    assert enriched["footfall_index"].tolist() == [1.35, 0.42]
    assert enriched["postal_code"].tolist() == ["02139", "00501"]


def test_csv_bom_same_result(tmp_path: Path) -> None:
    path = write(tmp_path / "footfall.csv", "\ufeff" + FOOTFALL_CSV)
    enriched = postal_audience().extapi.enrich_from_file(path, on="postal_code")
    assert "\ufeffpostal_code" not in enriched.columns
    assert enriched["footfall_index"].tolist() == [1.35, 0.42]


def test_jsonl_epoch_millis_stay_int64(tmp_path: Path) -> None:
    lines = [
        {"profile_id": "p0", "watch_time_ms": 1700000000000},
        {"profile_id": "p1", "watch_time_ms": 1700000000123},
    ]
    path = write(tmp_path / "watch.jsonl", "".join(json.dumps(x) + "\n" for x in lines))
    enriched = profiles_audience(2).extapi.enrich_from_file(path, on="profile_id")
    assert str(enriched["watch_time_ms"].dtype) == "Int64"
    assert enriched["watch_time_ms"].tolist() == [1700000000000, 1700000000123]


def test_csv_date_named_column_not_parsed(tmp_path: Path) -> None:
    path = write(
        tmp_path / "p.csv",
        "profile_id,created_at,last_seen_date\np0,1700000000,2024-01-02\n",
    )
    enriched = profiles_audience(1).extapi.enrich_from_file(path, on="profile_id")
    assert str(enriched["created_at"].dtype) == "Int64"
    assert enriched["last_seen_date"].tolist() == ["2024-01-02"]


# Formats and sources


def test_json_array_file(tmp_path: Path) -> None:
    records = [
        {"postal_code": "02139", "footfall_index": 1.35, "tags": ["x"]},
        {"postal_code": "00501", "footfall_index": 0.42, "tags": []},
    ]
    path = write(tmp_path / "footfall.json", json.dumps(records, indent=2))
    enriched = postal_audience().extapi.enrich_from_file(path, on="postal_code")
    assert enriched["footfall_index"].tolist() == [1.35, 0.42]
    assert enriched["tags"].tolist() == [["x"], []]


def test_json_file_of_lines(tmp_path: Path) -> None:
    path = write(tmp_path / "footfall.json", FOOTFALL_JSONL)
    enriched = postal_audience().extapi.enrich_from_file(path, on="postal_code")
    assert enriched["footfall_index"].tolist() == [1.35, 0.42]


def test_json_array_across_blocks(tmp_path: Path) -> None:
    # Elements longer than the 1 MiB read block cross block boundaries.
    records = [{"profile_id": f"p{i}", "note": "x" * 700_000} for i in range(4)]
    path = write(tmp_path / "big.json", json.dumps(records))
    enriched = profiles_audience(4).extapi.enrich_from_file(path, on="profile_id")
    assert enriched["note"].str.len().tolist() == [700_000] * 4


def test_parquet_projection_and_rename(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "profile_id": ["p1", "p0", "zz"],
            "score": [0.5, 0.25, 9.0],
            "unused": [1, 2, 3],
        }
    )
    frame.to_parquet(tmp_path / "scores.parquet")
    enriched = profiles_audience(3).extapi.enrich_from_file(
        tmp_path / "scores.parquet", on="profile_id", columns={"churn": "score"}
    )
    assert enriched["churn"].tolist()[:2] == [0.25, 0.5]
    assert "unused" not in enriched.columns
    assert enriched.attrs["extapi"]["match"]["file_rows_unused"] == 1


def test_parquet_small_batches(tmp_path: Path) -> None:
    count = 50
    frame = pd.DataFrame(
        {"profile_id": [f"p{i}" for i in range(count)], "visits": np.arange(count)}
    )
    frame.to_parquet(tmp_path / "v.parquet", row_group_size=7)
    enriched = profiles_audience(count).extapi.enrich_from_file(
        tmp_path / "v.parquet", on="profile_id", chunk_rows=3
    )
    assert enriched["visits"].tolist() == list(range(count))
    assert str(enriched["visits"].dtype) == "Int64"


@pytest.mark.parametrize(
    ("suffix", "compress"),
    [(".gz", gzip.compress), (".bz2", bz2.compress), (".xz", lzma.compress)],
)
def test_compressed_csv(
    tmp_path: Path, suffix: str, compress: Callable[[bytes], bytes]
) -> None:
    path = tmp_path / f"footfall.csv{suffix}"
    path.write_bytes(compress(FOOTFALL_CSV.encode()))
    enriched = postal_audience().extapi.enrich_from_file(path, on="postal_code")
    assert enriched["footfall_index"].tolist() == [1.35, 0.42]
    assert enriched.attrs["extapi"]["source"]["compression"] != []


def test_zstd_jsonl(tmp_path: Path) -> None:
    zstandard = pytest.importorskip("zstandard")
    path = tmp_path / "footfall.jsonl.zst"
    path.write_bytes(zstandard.ZstdCompressor().compress(FOOTFALL_JSONL.encode()))
    enriched = postal_audience().extapi.enrich_from_file(path, on="postal_code")
    assert enriched["footfall_index"].tolist() == [1.35, 0.42]


def test_format_overrides_extension(tmp_path: Path) -> None:
    path = write(tmp_path / "export.txt", FOOTFALL_CSV)
    enriched = postal_audience().extapi.enrich_from_file(
        path, on="postal_code", format="csv"
    )
    assert enriched["footfall_index"].tolist() == [1.35, 0.42]


def test_tsv_by_extension(tmp_path: Path) -> None:
    path = write(tmp_path / "footfall.tsv", FOOTFALL_CSV.replace(",", "\t"))
    enriched = postal_audience().extapi.enrich_from_file(path, on="postal_code")
    assert enriched["footfall_index"].tolist() == [1.35, 0.42]


def test_folder_with_hive_partitions(tmp_path: Path) -> None:
    write(tmp_path / "export/region=EU/part-0.csv", "profile_id,score\np0,1\np1,2\n")
    write(tmp_path / "export/region=US/part-0.csv", "profile_id,score\np2,3\n")
    write(tmp_path / "export/_SUCCESS", "")
    write(tmp_path / "export/.part-0.csv.crc", "junk")
    enriched = profiles_audience(4).extapi.enrich_from_file(
        tmp_path / "export", on="profile_id"
    )
    assert enriched["region"].tolist() == ["EU", "EU", "US", pd.NA]
    assert enriched["score"].tolist()[:3] == [1, 2, 3]
    assert enriched.attrs["extapi"]["source"]["files"] == 2


def test_glob_of_parquet_parts(tmp_path: Path) -> None:
    for part in range(3):
        pd.DataFrame({"profile_id": [f"p{part}"], "score": [part * 1.5]}).to_parquet(
            tmp_path / f"part-{part}.parquet"
        )
    write(tmp_path / "README.md", "not data")
    enriched = profiles_audience(3).extapi.enrich_from_file(
        str(tmp_path / "part-*.parquet"), on="profile_id"
    )
    assert enriched["score"].tolist() == [0.0, 1.5, 3.0]


def test_parquet_partitions_in_memory() -> None:
    fs = fsspec.filesystem("memory")
    for region, ids in {"EU": ["p0"], "US": ["p1"]}.items():
        with fs.open(f"/parts/region={region}/data.parquet", "wb") as handle:
            pd.DataFrame({"profile_id": ids, "score": [1.0]}).to_parquet(handle)
    try:
        enriched = profiles_audience(2).extapi.enrich_from_file(
            "memory://parts", on="profile_id"
        )
    finally:
        fs.rm("/parts", recursive=True)
    assert enriched["region"].tolist() == ["EU", "US"]


def test_memory_url_source() -> None:
    fs = fsspec.filesystem("memory")
    fs.pipe("/footfall/data.csv", FOOTFALL_CSV.encode())
    try:
        enriched = postal_audience().extapi.enrich_from_file(
            "memory://footfall/data.csv", on="postal_code"
        )
    finally:
        fs.rm("/footfall", recursive=True)
    assert enriched["footfall_index"].tolist() == [1.35, 0.42]


def test_file_url_source(tmp_path: Path) -> None:
    path = write(tmp_path / "footfall.csv", FOOTFALL_CSV)
    enriched = postal_audience().extapi.enrich_from_file(
        path.as_uri(), on="postal_code"
    )
    assert enriched["footfall_index"].tolist() == [1.35, 0.42]


def test_list_of_paths(tmp_path: Path) -> None:
    first = write(tmp_path / "a.csv", "postal_code,footfall_index\n02139,1.35\n")
    second = write(tmp_path / "b.csv", "postal_code,footfall_index\n00501,0.42\n")
    enriched = postal_audience().extapi.enrich_from_file(
        [first, second], on="postal_code"
    )
    assert enriched["footfall_index"].tolist() == [1.35, 0.42]


# Keys


def test_na_key_is_text(tmp_path: Path) -> None:
    audience = pd.DataFrame({"country": ["NA", "DE"]})
    path = write(tmp_path / "c.csv", "country,population\nNA,2600000\nDE,NA\n")
    enriched = audience.extapi.enrich_from_file(path, on="country")
    assert enriched["population"].tolist() == [2600000, pd.NA]


def test_value_leading_zeros_stay_text(tmp_path: Path) -> None:
    path = write(tmp_path / "p.csv", "profile_id,store\np0,007\np1,120\n")
    enriched = profiles_audience(2).extapi.enrich_from_file(path, on="profile_id")
    assert enriched["store"].tolist() == ["007", "120"]


def test_numeric_file_key_read_as_text(tmp_path: Path) -> None:
    path = write(tmp_path / "z.jsonl", '{"zip": 2139, "v": 1}\n')
    audience = pd.DataFrame({"zip": ["2139", "501"]})
    enriched = audience.extapi.enrich_from_file(path, on="zip")
    assert enriched["v"].tolist() == [1, pd.NA]


def test_key_dtype_mismatch_names_both(tmp_path: Path) -> None:
    path = write(tmp_path / "n.csv", "customer,score\n1,0.5\n")
    audience = pd.DataFrame({"customer": np.array([1, 2], dtype=np.int64)})
    with pytest.raises(TransferError, match=r"is int64 .* is str \(read as text"):
        audience.extapi.enrich_from_file(path, on="customer")


def test_parquet_key_dtype_mismatch(tmp_path: Path) -> None:
    pd.DataFrame({"customer": [1, 2], "score": [0.5, 0.7]}).to_parquet(
        tmp_path / "n.parquet"
    )
    audience = pd.DataFrame({"customer": ["1", "2"]})
    with pytest.raises(TransferError, match=r"is str and file column .* is int64"):
        audience.extapi.enrich_from_file(tmp_path / "n.parquet", on="customer")


def test_declared_key_dtype_matches(tmp_path: Path) -> None:
    path = write(tmp_path / "n.csv", "customer,score\n1,0.5\n2,0.7\n")
    audience = pd.DataFrame({"customer": np.array([2, 1], dtype=np.int64)})
    enriched = audience.extapi.enrich_from_file(
        path, on="customer", dtype={"customer": "Int64"}
    )
    assert enriched["score"].tolist() == [0.7, 0.5]


def test_declared_key_invalid_value(tmp_path: Path) -> None:
    path = write(tmp_path / "n.csv", "customer,score\nabc,0.5\n")
    audience = pd.DataFrame({"customer": np.array([1], dtype=np.int64)})
    with pytest.raises(TransferError, match=r"'abc'.*Int64"):
        audience.extapi.enrich_from_file(
            path, on="customer", dtype={"customer": "Int64"}
        )


def test_key_mapping_to_file_column(tmp_path: Path) -> None:
    path = write(tmp_path / "f.csv", "zip,footfall_index\n00501,0.42\n02139,1.35\n")
    enriched = postal_audience().extapi.enrich_from_file(
        path, on={"postal_code": "zip"}
    )
    assert enriched["footfall_index"].tolist() == [1.35, 0.42]
    assert "zip" not in enriched.columns


def test_multi_column_key(tmp_path: Path) -> None:
    audience = pd.DataFrame(
        {"store": ["s1", "s1", "s2", None], "day": ["mon", "tue", "mon", "mon"]}
    )
    path = write(tmp_path / "k.csv", "store,day,visits\ns1,tue,5\ns2,mon,7\ns1,mon,3\n")
    enriched = audience.extapi.enrich_from_file(path, on=["store", "day"])
    assert enriched["visits"].tolist() == [3, 5, 7, pd.NA]


def test_duplicate_keys_rejected(tmp_path: Path) -> None:
    path = write(tmp_path / "d.csv", "profile_id,score\np0,1\np1,2\np0,3\n")
    with pytest.raises(
        TransferError,
        match=r"'p0' \(2 rows: d.csv data row 1, d.csv "
        r"data row 3\).*keep='first'",
    ):
        profiles_audience(2).extapi.enrich_from_file(path, on="profile_id")


@pytest.mark.parametrize(("keep", "expected"), [("first", 1), ("last", 3)])
def test_duplicate_keys_keep(tmp_path: Path, keep: str, expected: int) -> None:
    path = write(tmp_path / "d.csv", "profile_id,score\np0,1\np1,2\np0,3\n")
    enriched = profiles_audience(2).extapi.enrich_from_file(
        path, on="profile_id", keep=keep, chunk_rows=1
    )
    assert enriched["score"].iloc[0] == expected
    assert enriched.attrs["extapi"]["match"]["duplicate_rows_dropped"] == 1


def test_duplicates_outside_audience_ignored(tmp_path: Path) -> None:
    path = write(tmp_path / "d.csv", "profile_id,score\np0,1\nzz,2\nzz,3\n")
    enriched = profiles_audience(1).extapi.enrich_from_file(path, on="profile_id")
    assert enriched["score"].tolist() == [1]


# The join


def test_index_order_and_input_kept(tmp_path: Path) -> None:
    audience = profiles_audience(4)
    before = audience.copy()
    path = write(tmp_path / "s.csv", "profile_id,score\np3,3\np1,1\n")
    enriched = audience.extapi.enrich_from_file(path, on="profile_id")
    assert enriched.index.equals(audience.index)
    assert enriched["profile_id"].tolist() == before["profile_id"].tolist()
    assert enriched["score"].tolist() == [pd.NA, 1, pd.NA, 3]
    pd.testing.assert_frame_equal(audience, before)


def test_audience_columns_not_copied(tmp_path: Path) -> None:
    audience = profiles_audience(4)
    path = write(tmp_path / "s.csv", "profile_id,score\np3,3\n")
    enriched = audience.extapi.enrich_from_file(path, on="profile_id")
    assert np.shares_memory(enriched["age"].to_numpy(), audience["age"].to_numpy())


def test_match_rate_in_attrs(tmp_path: Path) -> None:
    path = write(tmp_path / "s.csv", "profile_id,score\np0,1\np1,2\nx,3\ny,4\nz,5\n")
    enriched = profiles_audience(4).extapi.enrich_from_file(path, on="profile_id")
    match = enriched.attrs["extapi"]["match"]
    assert match["profiles_matched"] == 2
    assert match["profiles_unmatched"] == 2
    assert match["file_rows_read"] == 5
    assert match["file_rows_unused"] == 3
    assert match["match_rate"] == 0.5
    assert json.loads(json.dumps(enriched.attrs["extapi"]))["route"] == "file"


def test_chunks_give_same_dtypes(tmp_path: Path) -> None:
    rows = [f"p{i},{i}" for i in range(5)] + ["p5,2.5"]
    path = write(tmp_path / "s.csv", "profile_id,score\n" + "\n".join(rows) + "\n")
    enriched = profiles_audience(6).extapi.enrich_from_file(
        path, on="profile_id", chunk_rows=2
    )
    assert str(enriched["score"].dtype) == "Float64"
    assert enriched["score"].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 2.5]


def test_jsonl_fields_vary_by_chunk(tmp_path: Path) -> None:
    lines = [
        '{"profile_id": "p0", "a": 1}',
        '{"profile_id": "p1"}',
        '{"profile_id": "p2", "b": "x"}',
    ]
    path = write(tmp_path / "v.jsonl", "\n".join(lines))
    enriched = profiles_audience(3).extapi.enrich_from_file(
        path, on="profile_id", chunk_rows=1
    )
    assert enriched["a"].tolist() == [1, pd.NA, pd.NA]
    assert enriched["b"].tolist() == [pd.NA, pd.NA, "x"]


def test_name_collision_rejected(tmp_path: Path) -> None:
    path = write(tmp_path / "s.csv", "profile_id,age\np0,99\n")
    with pytest.raises(extapi_pandas.AttachError, match="on_conflict='suffix'"):
        profiles_audience(1).extapi.enrich_from_file(path, on="profile_id")


def test_name_collision_suffix(tmp_path: Path) -> None:
    path = write(tmp_path / "s.csv", "profile_id,age\np0,99\n")
    enriched = profiles_audience(1).extapi.enrich_from_file(
        path, on="profile_id", on_conflict="suffix"
    )
    assert enriched["age_extapi"].tolist() == [99]
    assert enriched["age"].tolist() == [20]


def test_no_match_warns(tmp_path: Path) -> None:
    path = write(tmp_path / "z.csv", "postal_code,footfall_index\n2139,1.35\n")
    with pytest.warns(ExtapiWarning, match="no profile matched") as caught:
        postal_audience().extapi.enrich_from_file(path, on="postal_code")
    assert caught[0].filename == __file__


def test_empty_audience(tmp_path: Path) -> None:
    path = write(tmp_path / "f.csv", FOOTFALL_CSV)
    audience = postal_audience().iloc[:0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        enriched = audience.extapi.enrich_from_file(path, on="postal_code")
    assert list(enriched.columns) == ["postal_code", "segment", "footfall_index"]


# Validation


def test_schema_failure_reports_cases(tmp_path: Path) -> None:
    path = write(tmp_path / "s.csv", "profile_id,score\np0,0.5\np1,7\nzz,9\n")
    schema = pa.DataFrameSchema({"score": pa.Column(float, pa.Check.le(1))})
    with pytest.raises(ValidationError, match="key 'p1', column 'score'") as caught:
        profiles_audience(2).extapi.enrich_from_file(
            path, on="profile_id", schema=schema
        )
    cases = caught.value.failure_cases
    assert cases["key"].tolist() == ["p1"]
    assert list(cases.columns) == ["key", "column", "value", "check"]


def test_schema_coerces_file_rows(tmp_path: Path) -> None:
    path = write(tmp_path / "s.csv", "profile_id,score\np0,1\n")
    schema = pa.DataFrameSchema({"score": pa.Column(float)})
    enriched = profiles_audience(1).extapi.enrich_from_file(
        path, on="profile_id", schema=schema
    )
    assert enriched["score"].dtype == np.float64


def test_declared_dtype_failure(tmp_path: Path) -> None:
    path = write(tmp_path / "s.csv", "profile_id,visits\np0,3\np1,many\n")
    with pytest.raises(ValidationError, match="'many'") as caught:
        profiles_audience(2).extapi.enrich_from_file(
            path, on="profile_id", dtype={"visits": "Int64"}
        )
    assert caught.value.failure_cases["key"].tolist() == ["p1"]


def test_declared_datetime_dtype(tmp_path: Path) -> None:
    path = write(tmp_path / "s.csv", "profile_id,seen\np0,2024-05-01T10:00:00Z\n")
    enriched = profiles_audience(1).extapi.enrich_from_file(
        path, on="profile_id", dtype={"seen": "datetime64[ns, UTC]"}
    )
    assert str(enriched["seen"].dtype) == "datetime64[ns, UTC]"


def write_seen(path: Path, stamps: list[Any]) -> Path:
    """Write profile_id and seen columns, the stamps kept as text in every format."""
    frame = pd.DataFrame({"profile_id": [f"p{i}" for i in range(len(stamps))]})
    frame["seen"] = pd.Series(stamps, dtype=object)
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    elif path.suffix == ".jsonl":
        frame.to_json(path, orient="records", lines=True)
    else:
        frame.astype({"seen": "str"}).to_parquet(path)
    return path


@pytest.mark.parametrize("name", ["s.csv", "s.jsonl", "s.parquet"])
def test_naive_timestamp_advice_fits_file_route(tmp_path: Path, name: str) -> None:
    path = write_seen(tmp_path / name, ["2024-03-01T10:00:00"])

    with pytest.raises(ValidationError, match="has no UTC offset") as caught:
        profiles_audience(1).extapi.enrich_from_file(
            path, on="profile_id", dtype={"seen": "datetime64[ns]"}
        )

    message = str(caught.value)
    assert "assume_tz" not in message
    assert "dtype={'seen': 'datetime64[ns, Europe/Amsterdam]'}" in message


@pytest.mark.parametrize("name", ["s.csv", "s.jsonl", "s.parquet"])
def test_advised_zoned_dtype_works(tmp_path: Path, name: str) -> None:
    path = write_seen(
        tmp_path / name, ["2024-03-01T10:00:00", "2024-07-01T10:00+00:00"]
    )
    with pytest.raises(ValidationError) as caught:
        profiles_audience(2).extapi.enrich_from_file(
            path, on="profile_id", dtype={"seen": "datetime64[ns]"}
        )
    advised = caught.value.failure_cases["check"].iloc[0]
    advice = re.search(r"such as dtype=(\{[^}]*\})", advised)
    assert advice is not None
    dtype = ast.literal_eval(advice.group(1))

    enriched = profiles_audience(2).extapi.enrich_from_file(
        path, on="profile_id", dtype=dtype
    )

    seen = enriched["seen"]
    assert str(seen.dtype) == "datetime64[ns, Europe/Amsterdam]"
    assert seen.iloc[0] == pd.Timestamp("2024-03-01T09:00:00Z")
    assert seen.iloc[1] == pd.Timestamp("2024-07-01T10:00:00Z")


def test_utc_dtype_reads_naive_as_utc(tmp_path: Path) -> None:
    path = write_seen(tmp_path / "s.csv", ["2024-03-01T10:00:00"])

    enriched = profiles_audience(1).extapi.enrich_from_file(
        path, on="profile_id", dtype={"seen": "datetime64[ns, UTC]"}
    )

    assert enriched["seen"].iloc[0] == pd.Timestamp("2024-03-01T10:00:00Z")


def test_zoned_dtype_daylight_gap_fails(tmp_path: Path) -> None:
    path = write_seen(tmp_path / "s.csv", ["2024-03-31T02:30:00"])

    with pytest.raises(
        ValidationError, match=r"does not exist or is ambiguous in 'Europe/Amsterdam'"
    ):
        profiles_audience(1).extapi.enrich_from_file(
            path,
            on="profile_id",
            dtype={"seen": "datetime64[ns, Europe/Amsterdam]"},
        )


def test_naive_list_timestamp_advice(tmp_path: Path) -> None:
    path = write(
        tmp_path / "s.jsonl",
        '{"profile_id": "p0", "seen": ["2024-03-01T10:00Z", "2024-03-01T11:00"]}\n',
    )
    naive = {"seen": "list[datetime64[ns]]"}
    zoned = {"seen": "list[datetime64[ns, Europe/Amsterdam]]"}

    with pytest.raises(ValidationError) as caught:
        profiles_audience(1).extapi.enrich_from_file(path, on="profile_id", dtype=naive)
    enriched = profiles_audience(1).extapi.enrich_from_file(
        path, on="profile_id", dtype=zoned
    )

    message = str(caught.value)
    assert "element 1: timestamp '2024-03-01T11:00' has no UTC offset" in message
    assert f"dtype={zoned!r}" in message
    assert "assume_tz" not in message
    assert enriched["seen"].iloc[0][1] == pd.Timestamp("2024-03-01T10:00:00Z")


def test_naive_key_advice_fits_file_route(tmp_path: Path) -> None:
    path = write(tmp_path / "s.csv", "day,score\n2024-03-01T10:00:00,1\n")
    audience = pd.DataFrame({"day": pd.to_datetime(["2024-03-01T10:00:00"])})

    with pytest.raises(TransferError, match="key column 'day'") as caught:
        audience.extapi.enrich_from_file(
            path, on="day", dtype={"day": "datetime64[ns]"}
        )

    assert "assume_tz" not in str(caught.value)
    assert "dtype={'day': 'datetime64[ns, Europe/Amsterdam]'}" in str(caught.value)


def test_zoned_key_dtype_reads_naive(tmp_path: Path) -> None:
    path = write(tmp_path / "s.csv", "day,score\n2024-03-01T10:00:00,1\n")
    audience = pd.DataFrame(
        {"day": pd.to_datetime(["2024-03-01T10:00:00"]).tz_localize("UTC")}
    )

    enriched = audience.extapi.enrich_from_file(
        path, on="day", dtype={"day": "datetime64[ns, UTC]"}
    )

    assert enriched["score"].tolist() == [1]


# Invalid input


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"on": 5}, ConfigurationError, "on= names the join key"),
        ({"on": "missing"}, ConfigurationError, "audience does not have"),
        ({"on": "postal_code", "keep": "any"}, ConfigurationError, "invalid keep"),
        ({"on": "postal_code", "chunk_rows": 0}, ConfigurationError, "chunk_rows"),
        ({"on": "postal_code", "columns": 5}, ConfigurationError, "columns= lists"),
        ({"on": "postal_code", "format": "xml"}, ConfigurationError, "invalid format"),
        ({"on": "postal_code", "on_conflict": "x"}, ConfigurationError, "on_conflict"),
        (
            {"on": "postal_code", "colums": ["a"]},
            ConfigurationError,
            "unknown option.*'colums'",
        ),
        (
            {"on": "postal_code", "columns": ["nope"]},
            TransferError,
            "no column.*'nope'.*'footfall_index'",
        ),
    ],
)
def test_invalid_options(
    tmp_path: Path, options: dict[str, Any], error: type[Exception], message: str
) -> None:
    path = write(tmp_path / "f.csv", FOOTFALL_CSV)
    with pytest.raises(error, match=message):
        postal_audience().extapi.enrich_from_file(path, **options)


@pytest.mark.parametrize(
    ("name", "content", "error", "message"),
    [
        ("missing.csv", None, TransferError, "was not found"),
        ("data.dat", "x", ConfigurationError, "cannot tell the format"),
        ("empty.csv", "", TransferError, "is empty"),
        (
            "bad.jsonl",
            '{"postal_code": "1"}\n{oops\n',
            TransferError,
            "line 2 is not valid JSON",
        ),
        (
            "list.jsonl",
            '["postal_code"]\n',
            TransferError,
            "is a JSON list, not an object",
        ),
        (
            "cut.json",
            '[{"postal_code": "1"}, {"postal_',
            TransferError,
            "element 1 is not valid JSON",
        ),
        ("open.json", '[{"postal_code": "1"}', TransferError, "truncated"),
        ("numbers.json", "[1, 2]", TransferError, "element 0 starts with '1'"),
        ("scalar.json", '"text"', TransferError, "must hold an array"),
        ("broken.parquet", "not parquet", TransferError, "not a valid Parquet"),
        (
            "latin.csv",
            "postal_code,name\n02139,caf\xe9\n",
            TransferError,
            "not valid utf-8",
        ),
    ],
)
def test_unreadable_files(
    tmp_path: Path, name: str, content: str | None, error: type[Exception], message: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content.encode("latin-1"))
    with pytest.raises(error, match=message):
        postal_audience().extapi.enrich_from_file(path, on="postal_code")


def test_latin1_with_encoding(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes("postal_code,name\n02139,caf\xe9\n".encode("latin-1"))
    enriched = postal_audience().extapi.enrich_from_file(
        path, on="postal_code", encoding="latin-1"
    )
    assert enriched["name"].tolist() == ["caf\xe9", pd.NA]


def test_mixed_formats_rejected(tmp_path: Path) -> None:
    write(tmp_path / "mix/a.csv", FOOTFALL_CSV)
    write(tmp_path / "mix/b.jsonl", FOOTFALL_JSONL)
    with pytest.raises(TransferError, match="mix formats"):
        postal_audience().extapi.enrich_from_file(tmp_path / "mix", on="postal_code")


def test_empty_folder_rejected(tmp_path: Path) -> None:
    (tmp_path / "none").mkdir()
    with pytest.raises(TransferError, match="no data files found"):
        postal_audience().extapi.enrich_from_file(tmp_path / "none", on="postal_code")


def test_compressed_parquet_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="Parquet inside gzip"):
        postal_audience().extapi.enrich_from_file(
            tmp_path / "x.parquet.gz", on="postal_code"
        )


@pytest.mark.parametrize(
    ("source", "module", "extra"),
    [
        ("sftp://127.0.0.1/exports/p.csv", "paramiko", "sftp"),
        ("abfs://exports/p.csv", "adlfs", "azure"),
        ("s3://exports/p.csv", "s3fs", "s3"),
    ],
)
def test_missing_extra_named(
    monkeypatch: pytest.MonkeyPatch, source: str, module: str, extra: str
) -> None:
    real = importlib.util.find_spec

    def find_spec(name: str, *args: Any) -> Any:
        return None if name == module else real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    with pytest.raises(ConfigurationError, match=rf"extapi-pandas\[{extra}\]"):
        postal_audience().extapi.enrich_from_file(source, on="postal_code")


def test_missing_zstd_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "zstandard" else real(name, *a),
    )
    with pytest.raises(ConfigurationError, match=r"extapi-pandas\[zstd\]"):
        postal_audience().extapi.enrich_from_file(
            tmp_path / "p.csv.zst", on="postal_code"
        )


def test_empty_jsonl_gives_null_columns(tmp_path: Path) -> None:
    path = write(tmp_path / "none.jsonl", "\n")
    with pytest.warns(ExtapiWarning, match="0 file row"):
        enriched = postal_audience().extapi.enrich_from_file(
            path, on="postal_code", columns=["footfall_index"]
        )
    assert enriched["footfall_index"].isna().all()


def test_categorical_audience_key(tmp_path: Path) -> None:
    path = write(tmp_path / "f.csv", FOOTFALL_CSV)
    audience = postal_audience().astype({"postal_code": "category"})
    enriched = audience.extapi.enrich_from_file(path, on="postal_code")
    assert enriched["footfall_index"].tolist() == [1.35, 0.42]


def test_collision_checked_before_reading(tmp_path: Path) -> None:
    with pytest.raises(extapi_pandas.AttachError, match="already exist"):
        postal_audience().extapi.enrich_from_file(
            tmp_path / "missing.csv", on="postal_code", columns=["segment"]
        )


def test_uninstalled_protocol_package() -> None:
    if importlib.util.find_spec("gcsfs") is not None:
        pytest.skip("gcsfs is installed")
    with pytest.raises(ConfigurationError, match=r"not installed.*gcsfs"):
        postal_audience().extapi.enrich_from_file(
            "gs://exports/p.csv", on="postal_code"
        )


# Parquet columns stored as timestamps, parts of different types, mixed keys


def write_parquet_times(path: Path) -> Path:
    frame = pd.DataFrame(
        {
            "pid": ["a", "b"],
            "aware": pd.to_datetime(["2026-10-03 12:30Z", None], utc=True),
            "naive": pd.to_datetime(["2026-10-03 12:30", "2026-03-29 02:30"]),
        }
    )
    frame.to_parquet(path)
    return path


@pytest.mark.parametrize(
    ("dtype", "expected"),
    [
        ("datetime64[ns, UTC]", "2026-10-03 12:30:00+00:00"),
        ("datetime64[us, Europe/Amsterdam]", "2026-10-03 14:30:00+02:00"),
    ],
)
def test_parquet_aware_timestamps_declared(
    tmp_path: Path, dtype: str, expected: str
) -> None:
    path = write_parquet_times(tmp_path / "t.parquet")
    audience = pd.DataFrame({"pid": ["a", "b"]})

    enriched = audience.extapi.enrich_from_file(
        path, on="pid", columns=["aware"], dtype={"aware": dtype}
    )

    assert str(enriched["aware"].dtype) == dtype
    assert str(enriched["aware"].iloc[0]) == expected
    assert pd.isna(enriched["aware"].iloc[1])


def test_parquet_naive_timestamps_read_in_zone(tmp_path: Path) -> None:
    path = write_parquet_times(tmp_path / "t.parquet")
    audience = pd.DataFrame({"pid": ["a"]})

    enriched = audience.extapi.enrich_from_file(
        path, on="pid", columns=["naive"], dtype={"naive": "datetime64[ns, UTC]"}
    )

    assert str(enriched["naive"].iloc[0]) == "2026-10-03 12:30:00+00:00"


def test_parquet_skipped_local_time_fails(tmp_path: Path) -> None:
    path = write_parquet_times(tmp_path / "t.parquet")
    audience = pd.DataFrame({"pid": ["a", "b"]})

    with pytest.raises(ValidationError, match=r"key 'b'.*does not exist or is"):
        audience.extapi.enrich_from_file(
            path,
            on="pid",
            columns=["naive"],
            dtype={"naive": "datetime64[ns, Europe/Amsterdam]"},
        )


def test_parquet_parts_widen_numbers(tmp_path: Path) -> None:
    (tmp_path / "parts").mkdir()
    pd.DataFrame({"pid": ["p0"], "v": [1]}).to_parquet(tmp_path / "parts/a.parquet")
    pd.DataFrame({"pid": ["p1"], "v": [1.5]}).to_parquet(tmp_path / "parts/b.parquet")
    audience = pd.DataFrame({"pid": ["p0", "p1"]})

    enriched = audience.extapi.enrich_from_file(tmp_path / "parts", on="pid")

    assert enriched["v"].tolist() == [1.0, 1.5]


def test_parquet_parts_incompatible_types(tmp_path: Path) -> None:
    (tmp_path / "parts").mkdir()
    pd.DataFrame({"pid": ["p0"], "v": [1.5]}).to_parquet(tmp_path / "parts/a.parquet")
    pd.DataFrame({"pid": ["p1"], "v": ["x"]}).to_parquet(tmp_path / "parts/b.parquet")
    audience = pd.DataFrame({"pid": ["p0", "p1"]})

    with pytest.raises(TransferError, match="same column types"):
        audience.extapi.enrich_from_file(tmp_path / "parts", on="pid")


def test_mixed_audience_key_advice(tmp_path: Path) -> None:
    path = write(tmp_path / "k.csv", "pid,v\n1,a\np1,b\n")
    audience = pd.DataFrame({"pid": pd.Series([1, "p1", None], dtype=object)})

    with pytest.raises(TransferError, match=r"mixed.*astype\('str'\)") as caught:
        audience.extapi.enrich_from_file(path, on="pid")

    assert "dtype=" not in str(caught.value)
