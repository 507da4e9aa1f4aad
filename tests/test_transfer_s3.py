"""Tests of `enrich_from_file` on S3, served by moto's standalone server on loopback."""

from __future__ import annotations

import io
import json
from typing import Any

import pandas as pd
import pytest
from s3_fixtures import (  # noqa: F401  (fixtures used by name)
    SECRET_KEY,
    moto_endpoint_fixture,
    s3_bucket_fixture,
)

import extapi_pandas  # noqa: F401  (registers df.extapi)
from extapi_pandas.errors import TransferError

S3Bucket = tuple[Any, str, dict[str, Any]]


def profiles_audience(count: int) -> pd.DataFrame:
    return pd.DataFrame({"profile_id": [f"p{i:04d}" for i in range(count)]})


def put_parquet(fs: Any, path: str, frame: pd.DataFrame) -> None:
    buffer = io.BytesIO()
    frame.to_parquet(buffer)
    fs.pipe(path, buffer.getvalue())


def test_s3_csv_file(s3_bucket: S3Bucket) -> None:
    fs, bucket, options = s3_bucket
    fs.pipe(
        f"{bucket}/footfall.csv",
        b"postal_code,footfall_index\n02139,1.35\n00501,0.42\n",
    )
    audience = pd.DataFrame({"postal_code": ["02139", "00501"]})
    enriched = audience.extapi.enrich_from_file(
        f"s3://{bucket}/footfall.csv", on="postal_code", storage_options=options
    )
    assert enriched["footfall_index"].tolist() == [1.35, 0.42]
    assert enriched["postal_code"].tolist() == ["02139", "00501"]


def test_s3_partitioned_parquet(s3_bucket: S3Bucket) -> None:
    fs, bucket, options = s3_bucket
    for region, ids in {"EU": ["p0000", "p0002"], "US": ["p0001", "zz"]}.items():
        frame = pd.DataFrame({"profile_id": ids, "score": [1.0, 2.0]})
        put_parquet(fs, f"{bucket}/scores/region={region}/part-0.parquet", frame)
    fs.pipe(f"{bucket}/scores/_SUCCESS", b"")
    enriched = profiles_audience(3).extapi.enrich_from_file(
        f"s3://{bucket}/scores", on="profile_id", storage_options=options
    )
    assert enriched["region"].tolist() == ["EU", "US", "EU"]
    assert enriched["score"].tolist() == [1.0, 1.0, 2.0]
    assert enriched.attrs["extapi"]["match"]["file_rows_unused"] == 1
    assert enriched.attrs["extapi"]["source"]["bytes"] > 0


def test_s3_glob_of_jsonl(s3_bucket: S3Bucket) -> None:
    fs, bucket, options = s3_bucket
    for part in range(2):
        fs.pipe(
            f"{bucket}/watch/part-{part}.jsonl",
            json.dumps(
                {"profile_id": f"p000{part}", "watch_time_ms": 1700000000000 + part}
            ).encode(),
        )
    enriched = profiles_audience(2).extapi.enrich_from_file(
        f"s3://{bucket}/watch/*.jsonl", on="profile_id", storage_options=options
    )
    assert str(enriched["watch_time_ms"].dtype) == "Int64"
    assert enriched["watch_time_ms"].tolist() == [1700000000000, 1700000000001]


def test_s3_missing_key_masks_secret(s3_bucket: S3Bucket) -> None:
    _, bucket, options = s3_bucket
    with pytest.raises(TransferError, match="was not found") as caught:
        profiles_audience(1).extapi.enrich_from_file(
            f"s3://{bucket}/absent.csv", on="profile_id", storage_options=options
        )
    assert SECRET_KEY not in str(caught.value)
