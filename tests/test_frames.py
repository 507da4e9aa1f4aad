"""Building the small frame, per-column error policies, and whole-value broadcast."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pytest
from aiohttp import web

from extapi_pandas import Column, ConfigurationError, ValidationError, extract
from extapi_pandas.demo import BackgroundServer
from extapi_pandas.frames import build_frame

Serve = Callable[..., BackgroundServer]


def campaign_api(serve: Serve, responses: dict[str, Any]) -> str:
    """Serve `responses[campaign]` at /data?campaign=...; return the URL."""

    async def answer(request: web.Request) -> web.Response:
        return web.json_response(responses[request.query["campaign"]])

    return serve({"/data": answer}).url("/data")


def enrich(audience: pd.DataFrame, url: str, **options: Any) -> pd.DataFrame:
    options.setdefault("campaign", "campaign_id")
    options.setdefault("params", {"campaign": "{campaign_id}"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return audience.extapi.enrich(url, retries=0, timeout=5, **options)


# build_frame


def test_build_frame_declared_dtypes() -> None:
    built = build_frame(
        {"n": [3, None], "s": ["a", None]}, {"n": "Int64", "s": None}, 2
    )
    assert str(built.frame["n"].dtype) == "Int64"
    assert isinstance(built.frame["s"].dtype, pd.StringDtype)


def test_build_frame_failure_keeps_raw_values() -> None:
    built = build_frame({"n": [3, "x"]}, {"n": "Int64"}, 2)
    assert built.frame["n"].dtype == object
    assert built.frame["n"].tolist() == [3, "x"]


def test_build_frame_reports_failed_row() -> None:
    built = build_frame({"n": [3, "x"]}, {"n": "Int64"}, 2)
    assert [(f.row, f.column, f.value) for f in built.failures] == [(1, "n", "x")]


def test_build_frame_zones_per_row() -> None:
    built = build_frame(
        {"t": ["2026-01-01T12:00", "2026-01-01T12:00"]},
        {"t": Column("$", dtype="datetime64[ns, UTC]")},
        2,
        zones={"t": [0, 3600]},
    )
    assert built.frame["t"].tolist() == [
        pd.Timestamp("2026-01-01T12:00Z"),
        pd.Timestamp("2026-01-01T11:00Z"),
    ]


def test_object_column_holds_lists_whole() -> None:
    built = build_frame({"v": [[1, 2], {"a": 1}]}, {"v": None}, 2)
    assert built.frame["v"].tolist() == [[1, 2], {"a": 1}]


# on_invalid from conversion failures


def test_on_invalid_null_replaces_value() -> None:
    frame = extract(
        {"r": [{"n": "5"}, {"n": "unlimited"}]},
        records="$.r",
        columns={"n": Column("$.n", dtype="Int64", on_invalid="null")},
    )
    assert frame["n"].tolist() == [5, pd.NA]


def test_on_invalid_default_replaces_value() -> None:
    frame = extract(
        {"r": [{"n": "5"}, {"n": "unlimited"}]},
        records="$.r",
        columns={"n": Column("$.n", dtype="Int64", on_invalid=-1)},
    )
    assert frame["n"].tolist() == [5, -1]


def test_on_invalid_counted_in_attrs() -> None:
    frame = extract(
        {"r": [{"n": "x"}, {"n": "y"}]},
        records="$.r",
        columns={"n": Column("$.n", dtype="Int64", on_invalid="null")},
    )
    assert frame.attrs["extapi"]["invalid"] == {"n": 2}


def test_on_invalid_call_default() -> None:
    frame = extract(
        {"n": "x"}, columns={"n": Column("$.n", dtype="Int64")}, on_invalid="null"
    )
    assert frame["n"].iloc[0] is pd.NA


def test_on_invalid_raise_names_value() -> None:
    with pytest.raises(ValidationError, match=r"column 'n': value 'x'"):
        extract(
            {"n": "x"},
            columns={"n": Column("$.n", dtype="Int64", on_invalid="raise")},
            on_invalid="null",
        )


def test_on_invalid_default_must_fit_dtype() -> None:
    with pytest.raises(ConfigurationError, match="does not fit dtype 'Int64'"):
        Column("$.n", dtype="Int64", on_invalid="none")


def test_not_nullable_null_fails() -> None:
    with pytest.raises(ValidationError, match="declared nullable=False"):
        extract(
            {"n": None}, columns={"n": Column("$.n", dtype="Int64", nullable=False)}
        )


def test_not_nullable_null_takes_default() -> None:
    frame = extract(
        {"n": None},
        columns={"n": Column("$.n", dtype="Int64", nullable=False, on_invalid=0)},
    )
    assert frame["n"].tolist() == [0]


def test_not_nullable_ignores_null_policy() -> None:
    with pytest.raises(ValidationError, match="nullable=False"):
        extract(
            {"n": None},
            columns={
                "n": Column("$.n", dtype="Int64", nullable=False, on_invalid="null")
            },
        )


# on_invalid from pandera failure cases


SCHEMA = pa.DataFrameSchema(
    {"pct": pa.Column("Int64", pa.Check.le(100), nullable=True)}
)


def test_schema_failure_raises_by_default() -> None:
    with pytest.raises(ValidationError, match=r"value 150 failed less_than_or_equal"):
        extract(
            {"pct": 150}, columns={"pct": Column("$.pct", dtype="Int64")}, schema=SCHEMA
        )


def test_schema_failure_nulled_by_policy() -> None:
    frame = extract(
        {"r": [{"pct": 50}, {"pct": 150}]},
        records="$.r",
        schema=SCHEMA,
        columns={"pct": Column("$.pct", dtype="Int64", on_invalid="null")},
    )
    assert frame["pct"].tolist() == [50, pd.NA]


def test_schema_failure_takes_default() -> None:
    frame = extract(
        {"pct": 150},
        schema=SCHEMA,
        columns={"pct": Column("$.pct", dtype="Int64", on_invalid=100)},
    )
    assert frame["pct"].tolist() == [100]


def test_schema_fix_counted_in_attrs() -> None:
    frame = extract(
        {"pct": 150},
        schema=SCHEMA,
        columns={"pct": Column("$.pct", dtype="Int64", on_invalid=100)},
    )
    assert frame.attrs["extapi"]["invalid"] == {"pct": 1}


def test_schema_keeps_string_na() -> None:
    schema = pa.DataFrameSchema({"s": pa.Column("string", nullable=True)})
    frame = extract(
        {"r": [{"s": "a"}, {"s": None}]},
        records="$.r",
        schema=schema,
        columns={"s": "$.s"},
    )
    assert frame["s"].iloc[1] is pd.NA


# Policies through enrich: reported in the provenance


def test_enrich_on_invalid_in_provenance(serve: Serve) -> None:
    url = campaign_api(serve, {"A": {"stock": "unlimited"}, "B": {"stock": 4}})
    audience = pd.DataFrame({"campaign_id": ["A", "B"]})
    result = enrich(
        audience,
        url,
        columns={"stock": Column("$.stock", dtype="Int64", on_invalid="null")},
    )
    campaigns = result.attrs["extapi"]["campaigns"]
    assert [entry["invalid"] for entry in campaigns] == [{"stock": 1}, {}]
    assert result["stock"].tolist() == [pd.NA, 4]


def test_enrich_invalid_names_campaign(serve: Serve) -> None:
    url = campaign_api(serve, {"A": {"stock": 3}, "B": {"stock": "unlimited"}})
    audience = pd.DataFrame({"campaign_id": ["A", "B"]})
    with pytest.raises(
        ValidationError, match=r"campaign 'B', column 'stock': value 'unlimited'"
    ):
        enrich(audience, url, columns={"stock": Column("$.stock", dtype="Int64")})


def test_enrich_naive_timestamp_names_campaign(serve: Serve) -> None:
    url = campaign_api(serve, {"A": {"t": "2026-10-03T12:30"}})
    audience = pd.DataFrame({"campaign_id": ["A"]})
    with pytest.raises(
        ValidationError, match=r"campaign 'A', .*'2026-10-03T12:30' has no UTC offset"
    ):
        enrich(audience, url, columns={"t": Column("$.t", dtype="datetime64[ns, UTC]")})


def test_enrich_assume_tz_per_campaign(serve: Serve) -> None:
    url = campaign_api(
        serve,
        {
            "A": {"utc_offset_seconds": 7200, "t": "2026-10-03T12:30"},
            "B": {"utc_offset_seconds": 0, "t": "2026-10-03T12:30"},
        },
    )
    audience = pd.DataFrame({"campaign_id": ["A", "B"]})
    result = enrich(
        audience,
        url,
        assume_tz="$.utc_offset_seconds",
        columns={"t": Column("$.t", dtype="datetime64[ns, UTC]")},
    )
    assert result["t"].tolist() == [
        pd.Timestamp("2026-10-03T10:30Z"),
        pd.Timestamp("2026-10-03T12:30Z"),
    ]


# Small inputs from the issue


def test_stock_nullable_int64(serve: Serve) -> None:
    url = campaign_api(
        serve, {"A": {"stock": 3}, "B": {"stock": 3}, "C": {"stock": None}}
    )
    audience = pd.DataFrame({"campaign_id": ["A", "B", "C"]})
    result = enrich(
        audience,
        url,
        columns={"stock": Column("$.stock", dtype="Int64", nullable=True)},
    )
    assert str(result["stock"].dtype) == "Int64"
    assert result["stock"].tolist() == [3, 3, pd.NA]


def test_empty_offers_keep_rows(serve: Serve) -> None:
    url = campaign_api(
        serve,
        {
            "A": {
                "offers": [{"id": "o1", "name": "Winter"}, {"id": "o2", "name": "Ski"}]
            },
            "B": {"offers": []},
        },
    )
    audience = pd.DataFrame({"campaign_id": ["A", "B", "B"]})
    result = enrich(
        audience,
        url,
        columns={
            "top_offer": "$.offers[0].name",
            "offer_ids": Column("$.offers[*].id", many=True),
        },
    )
    assert len(result) == 3
    assert result["top_offer"].isna().tolist() == [False, True, True]
    assert result["offer_ids"].tolist() == [["o1", "o2"], [], []]


def test_empty_offers_counted_missing(serve: Serve) -> None:
    url = campaign_api(
        serve, {"A": {"offers": [{"name": "Winter"}]}, "B": {"offers": []}}
    )
    audience = pd.DataFrame({"campaign_id": ["A", "B"]})
    result = enrich(audience, url, columns={"top_offer": "$.offers[0].name"})
    missing = [entry["missing"] for entry in result.attrs["extapi"]["campaigns"]]
    assert missing == [{}, {"top_offer": 1}]


# Lists and objects broadcast whole


@pytest.mark.parametrize("profiles", [1, 2, 3])
def test_tags_broadcast_whole(serve: Serve, profiles: int) -> None:
    url = campaign_api(serve, {"A": {"tags": ["outdoor", "family"]}})
    audience = pd.DataFrame({"campaign_id": ["A"] * profiles})
    result = enrich(audience, url, columns={"tags": "$.tags"})
    assert result["tags"].tolist() == [["outdoor", "family"]] * profiles


def test_tags_joined_on_request(serve: Serve) -> None:
    url = campaign_api(serve, {"A": {"tags": ["outdoor", "family"]}})
    audience = pd.DataFrame({"campaign_id": ["A", "A"]})
    result = enrich(audience, url, columns={"tags": Column("$.tags", join="|")})
    assert result["tags"].tolist() == ["outdoor|family", "outdoor|family"]


def test_typed_list_broadcast_whole(serve: Serve) -> None:
    url = campaign_api(serve, {"A": {"v": [1, 2]}, "B": {"v": [3]}})
    audience = pd.DataFrame({"campaign_id": ["A", "B", "A"]})
    result = enrich(audience, url, columns={"v": Column("$.v", dtype="list[Int64]")})
    assert result["v"].tolist() == [[1, 2], [3], [1, 2]]


def test_object_broadcast_whole(serve: Serve) -> None:
    url = campaign_api(serve, {"A": {"odds": {"msg": "off", "home": 2}}})
    audience = pd.DataFrame({"campaign_id": ["A", "A"]})
    result = enrich(audience, url, columns={"odds": "$.odds"})
    assert result["odds"].tolist() == [{"msg": "off", "home": 2}] * 2


def test_list_column_with_failed_campaign(serve: Serve) -> None:
    url = campaign_api(serve, {"A": {"tags": ["a", "b"]}, "B": {"tags": "x"}})
    audience = pd.DataFrame({"campaign_id": ["A", "B"]})
    result = enrich(
        audience,
        url,
        on_error="continue",
        columns={"tags": Column("$.tags", dtype="list[string]")},
    )
    assert result["tags"].iloc[0] == ["a", "b"]
    assert pd.isna(result["tags"].iloc[1])
    assert result["extapi_status"].tolist() == ["ok", "validation_failed"]


def test_broadcast_keeps_int64_exact(serve: Serve) -> None:
    url = campaign_api(serve, {"A": {"id": 9007199254740993}})
    audience = pd.DataFrame({"campaign_id": ["A"] * 3})
    result = enrich(audience, url, columns={"id": "$.id"})
    assert result["id"].tolist() == [9007199254740993] * 3
    assert np.all(result["id"].to_numpy(dtype="int64") == 9007199254740993)
