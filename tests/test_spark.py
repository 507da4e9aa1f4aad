"""Tests of the Spark engine: `extapi_pandas.spark.enrich` on a local Spark session."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pandas as pd
import pytest
from aiohttp import web
from conftest import HITS

pytest.importorskip("pyspark")

from pyspark.sql import DataFrame as SparkDataFrame
from pyspark.sql import SparkSession

import extapi_pandas  # noqa: F401  (registers df.extapi)
from extapi_pandas import (
    Column,
    ConfigurationError,
    PerProfileDataWarning,
    TemplateError,
)
from extapi_pandas import spark as extapi_spark
from extapi_pandas.demo import BackgroundServer, DemoAPI
from extapi_pandas.demo.audience import make_audience

Serve = Callable[..., BackgroundServer]

COLUMNS = ["profile_id", "campaign_id", "market", "region"]
SCHEMA = "profile_id string, campaign_id string, market string, region string"
OFFERS = {
    "params": {"market": "{market}"},
    "campaign": "campaign_id",
    "columns": {"offer": "$.offers[0].name", "price": "$.offers[0].price"},
}
WEATHER = {
    "params": {"date": "2025-06-01"},
    "campaign": "campaign_id",
    "records": "$.regions[*]",
    "on": {"region": "region_code"},
    "columns": {"temp": "$.temp_max_c", "summary": "$.summary"},
}


@pytest.fixture(scope="module")
def spark() -> Iterator[SparkSession]:
    """A local Spark session bound to 127.0.0.1, shared by this module."""
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # pyspark on pandas 3
        session = (
            SparkSession.builder.master("local[2]")
            .appName("extapi-pandas-tests")
            .config("spark.ui.enabled", "false")
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.sql.shuffle.partitions", "2")
            .config("spark.sql.session.timeZone", "UTC")
            .getOrCreate()
        )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def audience_frame() -> pd.DataFrame:
    return make_audience(400, campaigns=5, seed=2)[COLUMNS]


@pytest.fixture(scope="module")
def audience(spark: SparkSession, audience_frame: pd.DataFrame) -> SparkDataFrame:
    rows = [tuple(row) for row in audience_frame.itertuples(index=False)]
    return spark.createDataFrame(rows, SCHEMA)


def python_rows(frame: pd.DataFrame) -> list[tuple[Any, ...]]:
    """Return the rows of a pandas result as Spark collects them, sorted."""
    rows = []
    for row in frame.astype(object).itertuples(index=False):
        rows.append(tuple(_python(value) for value in row))
    return sorted(rows, key=repr)


def _python(value: Any) -> Any:
    if isinstance(value, pd.Timestamp):
        return value.tz_convert("UTC").tz_localize(None).to_pydatetime()
    if not isinstance(value, list) and pd.isna(value):
        return None
    return value


def spark_rows(frame: SparkDataFrame) -> list[tuple[Any, ...]]:
    return sorted((tuple(row) for row in frame.collect()), key=repr)


@pytest.mark.parametrize(
    ("path", "options"),
    [("/offers", OFFERS), ("/weather", WEATHER)],
    ids=["broadcast", "lookup"],
)
def test_spark_equals_pandas(
    demo_api: DemoAPI,
    audience: SparkDataFrame,
    audience_frame: pd.DataFrame,
    path: str,
    options: dict[str, Any],
) -> None:
    before = demo_api.request_count(path)

    enriched = extapi_spark.enrich(audience, demo_api.url(path), **options)
    sent = demo_api.request_count(path) - before
    expected = audience_frame.extapi.enrich(demo_api.url(path), **options)

    assert sent == 5
    assert spark_rows(enriched) == python_rows(expected)


def test_input_unchanged(
    demo_api: DemoAPI, audience: SparkDataFrame, audience_frame: pd.DataFrame
) -> None:
    extapi_spark.enrich(audience, demo_api.url("/offers"), **OFFERS)

    assert audience.columns == COLUMNS
    assert spark_rows(audience) == python_rows(audience_frame)


def test_continue_status_equals_pandas(
    serve: Serve, audience: SparkDataFrame, audience_frame: pd.DataFrame
) -> None:
    async def handler(request: web.Request) -> web.Response:
        if request.query["market"] == "FR":
            return web.Response(status=404, text="no offers")
        return web.json_response({"pct": 10})

    server = serve({"/deals": handler})
    options = {
        "params": {"market": "{market}"},
        "campaign": "campaign_id",
        "columns": {"pct": "$.pct"},
        "on_error": "continue",
        "retries": 0,
    }

    with pytest.warns(UserWarning, match="failed"):
        enriched = extapi_spark.enrich(audience, server.url("/deals"), **options)
    with pytest.warns(UserWarning, match="failed"):
        expected = audience_frame.extapi.enrich(server.url("/deals"), **options)

    assert spark_rows(enriched) == python_rows(expected)


def test_types_mapped_to_spark(serve: Serve, spark: SparkSession) -> None:
    document = {
        "n": 5,
        "x": 1.5,
        "ok": True,
        "at": "2025-01-01T10:00:00+02:00",
        "tags": ["a", "b"],
        "day": "2025-01-02",
        "name": "n1",
    }

    async def handler(request: web.Request) -> web.Response:
        return web.json_response(document)

    server = serve({"/t": handler})
    sdf = spark.createDataFrame([("a",), ("b",)], "c string")
    columns = {
        "n": Column("$.n", dtype="Int64"),
        "x": Column("$.x", dtype="Float64"),
        "ok": Column("$.ok", dtype="boolean"),
        "at": Column("$.at", dtype="datetime64[ns, UTC]"),
        "tags": Column("$.tags", dtype="list[string]"),
        "day": Column("$.day", dtype="date"),
        "name": "$.name",
    }

    enriched = extapi_spark.enrich(sdf, server.url("/t"), campaign="c", columns=columns)

    assert enriched.schema.simpleString() == (
        "struct<c:string,n:bigint,x:double,ok:boolean,at:timestamp,"
        "tags:array<string>,day:date,name:string>"
    )
    assert enriched.where("c = 'a'").collect()[0].asDict() == {
        "c": "a",
        "n": 5,
        "x": 1.5,
        "ok": True,
        "at": dt.datetime(2025, 1, 1, 8, 0),
        "tags": ["a", "b"],
        "day": dt.date(2025, 1, 2),
        "name": "n1",
    }


def test_overwrite_keeps_position(demo_api: DemoAPI, spark: SparkSession) -> None:
    sdf = spark.createDataFrame(
        [("DE", "old", 1)], "market string, offer string, n long"
    )

    enriched = extapi_spark.enrich(
        sdf,
        demo_api.url("/offers"),
        params={"market": "{market}"},
        campaign="market",
        columns={"offer": "$.offers[0].name"},
        on_conflict="overwrite",
    )

    assert enriched.columns == ["market", "offer", "n"]
    assert enriched.collect()[0]["offer"] != "old"


def test_missing_campaign_skip(demo_api: DemoAPI, spark: SparkSession) -> None:
    sdf = spark.createDataFrame([("DE",), (None,), ("FR",)], "market string")

    enriched = extapi_spark.enrich(
        sdf,
        demo_api.url("/offers"),
        params={"market": "{market}"},
        campaign="market",
        columns={"offer": "$.offers[0].name"},
        missing_campaign="skip",
        on_error="continue",
    )
    statuses = {row["market"]: row["extapi_status"] for row in enriched.collect()}

    assert statuses == {"DE": "ok", None: "skipped", "FR": "ok"}


def test_missing_campaign_raises(demo_api: DemoAPI, spark: SparkSession) -> None:
    sdf = spark.createDataFrame([("DE",), (None,)], "market string")
    before = demo_api.request_count("/offers")

    with pytest.raises(ConfigurationError, match=r"1 row\(s\) have no campaign key"):
        extapi_spark.enrich(
            sdf,
            demo_api.url("/offers"),
            params={"market": "{market}"},
            campaign="market",
            columns={"offer": "$.offers[0].name"},
        )
    assert demo_api.request_count("/offers") == before


def test_template_varies_in_campaign(serve: Serve, spark: SparkSession) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response({})

    server = serve({"/x": handler})
    sdf = spark.createDataFrame([("a", "DE"), ("a", "FR")], "c string, m string")

    with pytest.raises(TemplateError, match="varies within campaign 'a'"):
        extapi_spark.enrich(
            sdf,
            server.url("/x"),
            params={"m": "{m}"},
            campaign="c",
            columns={"v": "$.v"},
        )
    assert server.app[HITS]["/x"] == 0


def test_missing_placeholder_value_rejected(serve: Serve, spark: SparkSession) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response({})

    server = serve({"/x": handler})
    sdf = spark.createDataFrame(
        [("a", "DE"), ("b", None), ("b", None)], "c string, m string"
    )

    with pytest.raises(TemplateError, match=r"\{m\} \(in params\).*\('b'\)"):
        extapi_spark.enrich(
            sdf,
            server.url("/x"),
            params={"m": "{m}"},
            campaign="c",
            columns={"v": "$.v"},
        )
    assert server.app[HITS]["/x"] == 0


def test_body_warning_names_audience_key(serve: Serve, spark: SparkSession) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response({"offer": "spring", "terms": "x" * 4096})

    server = serve({"/offer": handler})
    sdf = spark.createDataFrame(
        [("c1", "DE"), ("c2", "DE")], "CustomerID string, m string"
    )

    with pytest.warns(PerProfileDataWarning, match="larger than") as caught:
        extapi_spark.enrich(
            sdf,
            server.url("/offer"),
            columns={"offer": "$.offer"},
            per_profile={"body_bytes": 1024},
        )

    assert "on='CustomerID'" in str(caught[0].message)


def test_per_profile_warning_from_key_counts(serve: Serve, spark: SparkSession) -> None:
    document = {"profiles": [{"id": f"p{i:05d}", "score": i} for i in range(10)]}

    async def handler(request: web.Request) -> web.Response:
        return web.json_response(document)

    server = serve({"/scores": handler})
    sdf = spark.range(2000).selectExpr("format_string('p%05d', id) AS id")

    with pytest.warns(PerProfileDataWarning, match="enrich_from_file") as caught:
        extapi_spark.enrich(
            sdf,
            server.url("/scores"),
            records="$.profiles[*]",
            on={"id": "id"},
            columns={"score": "$.score"},
        )

    assert caught[0].filename == __file__


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"records": "$.codes[*]", "assign": "sequential"}, "have no order"),
        (
            {"method": "POST", "payload": {"data": ["market"]}},
            "payload data are not supported on Spark",
        ),
    ],
)
def test_unsupported_options(
    audience: SparkDataFrame, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        extapi_spark.enrich(
            audience,
            "http://127.0.0.1:9/x",
            campaign="campaign_id",
            columns={"v": "$.v"},
            **options,
        )


def test_import_does_not_load_pyspark() -> None:
    code = "import sys, extapi_pandas.spark; print('pyspark' in sys.modules)"

    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )

    assert output.stdout.strip() == "False"
