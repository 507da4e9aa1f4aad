"""Tests for attaching results: broadcast, lookup by key, sequential, no copies."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from aiohttp import web

import extapi_pandas
from extapi_pandas.attach import (
    assemble,
    broadcast_rows,
    lookup_rows,
    resolve_names,
    sequential_rows,
    take_column,
)
from extapi_pandas.demo import BackgroundServer, DemoAPI, make_audience
from extapi_pandas.errors import AttachError

Serve = Callable[..., BackgroundServer]
WEATHER_COLUMNS = {"temp_max_c": "$.temp_max_c", "summary": "$.summary"}


def fetch_json(url: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def key_server(serve: Serve) -> BackgroundServer:
    """Serve `/k/{key}`, which returns `{"key": key, "n": <len(key)>}`."""

    async def reply(request: web.Request) -> web.Response:
        key = request.match_info["key"]
        return web.json_response({"key": key, "n": len(key)})

    return serve({"/k/{key}": reply})


def broadcast(
    server: BackgroundServer, frame: pd.DataFrame, **options: Any
) -> pd.DataFrame:
    columns = options.pop("columns", {"sent": "$.key", "n": "$.n"})
    return frame.extapi.enrich(
        server.url("/k/{key}"), campaign="key", columns=columns, **options
    )


def weather_audience() -> pd.DataFrame:
    audience = make_audience(300, campaigns=3, seed=5)
    dates = {
        "CMP-DE-01": "2025-06-01",
        "CMP-FR-01": "2025-06-02",
        "CMP-GB-01": "2025-06-03",
    }
    audience["send_date"] = audience["campaign_id"].map(dates)
    return audience


def enrich_weather(
    demo_api: DemoAPI, audience: pd.DataFrame, **options: Any
) -> pd.DataFrame:
    return audience.extapi.enrich(
        demo_api.url("/weather"),
        params={"date": "{send_date}"},
        campaign="campaign_id",
        records="$.regions[*]",
        on={"region": "region_code"},
        columns=WEATHER_COLUMNS,
        **options,
    )


def test_result_shares_numeric_memory(serve: Serve) -> None:
    frame = pd.DataFrame(
        {
            "key": ["a", "b", "a"],
            "x": [1.0, 2.0, 3.0],
            "y": [4.0, 5.0, 6.0],
            "m": [1, 2, 3],
        }
    )

    result = broadcast(key_server(serve), frame)

    for column in ("x", "y", "m"):
        assert np.shares_memory(result[column].to_numpy(), frame[column].to_numpy())


def test_result_shares_demo_audience_memory(serve: Serve) -> None:
    frame = make_audience(500, campaigns=5).rename(columns={"campaign_id": "key"})

    result = broadcast(key_server(serve), frame)

    assert np.shares_memory(
        result["lifetime_value_eur"].to_numpy(), frame["lifetime_value_eur"].to_numpy()
    )
    assert np.shares_memory(result["opted_in"].to_numpy(), frame["opted_in"].to_numpy())


def test_audience_columns_and_dtypes_kept(serve: Serve) -> None:
    frame = make_audience(200, campaigns=4).rename(columns={"campaign_id": "key"})

    result = broadcast(key_server(serve), frame)

    pd.testing.assert_frame_equal(result[list(frame.columns)], frame)
    assert result.dtypes[list(frame.columns)].to_dict() == frame.dtypes.to_dict()


def test_broadcast_values_per_row(serve: Serve) -> None:
    frame = make_audience(5000, campaigns=7).rename(columns={"campaign_id": "key"})

    result = broadcast(key_server(serve), frame, strings="str")

    assert result["sent"].tolist() == frame["key"].tolist()
    assert result["n"].tolist() == frame["key"].str.len().tolist()


@pytest.mark.parametrize(
    "index",
    [
        pd.Index([7, 7, 3, 3, 7, 1]),
        pd.Index(["f", "e", "d", "c", "b", "a"], name="profile"),
        pd.MultiIndex.from_arrays(
            [["x", "x", "y", "y", "z", "z"], [1, 2, 1, 2, 1, 1]], names=["market", "n"]
        ),
        pd.RangeIndex(10, 16),
        pd.DatetimeIndex(pd.date_range("2024-01-01", periods=6)[::-1]),
    ],
    ids=["duplicate", "strings", "multiindex", "shifted_range", "datetime"],
)
def test_index_and_order_kept(serve: Serve, index: pd.Index) -> None:
    frame = pd.DataFrame(
        {"key": ["b", "a", "b", "c", "a", "b"], "pos": range(6)}
    ).set_axis(index)

    result = broadcast(key_server(serve), frame, strings="str")

    assert result.index.equals(index)
    assert result["pos"].tolist() == list(range(6))
    assert result["sent"].tolist() == ["b", "a", "b", "c", "a", "b"]


def test_category_codes_per_row(serve: Serve) -> None:
    frame = pd.DataFrame({"key": ["b", "a", "b", "c"]})

    result = broadcast(key_server(serve), frame)

    assert isinstance(result["sent"].dtype, pd.CategoricalDtype)
    assert result["sent"].astype(str).tolist() == ["b", "a", "b", "c"]
    assert result["n"].dtype == "Int64"


def test_overwrite_replaces_column(serve: Serve) -> None:
    frame = pd.DataFrame({"key": ["a", "bb"], "n": [0.5, 0.5]})

    result = broadcast(
        key_server(serve), frame, columns={"n": "$.n"}, on_conflict="overwrite"
    )

    assert list(result.columns) == ["key", "n"]
    assert result["n"].tolist() == [1, 2]
    assert frame["n"].tolist() == [0.5, 0.5]


def test_suffix_keeps_both_columns(serve: Serve) -> None:
    frame = pd.DataFrame({"key": ["a", "bb"], "n": [0.5, 0.5], "n_extapi": [9, 9]})

    result = broadcast(
        key_server(serve), frame, columns={"n": "$.n"}, on_conflict="suffix"
    )

    assert list(result.columns) == ["key", "n", "n_extapi", "n_extapi2"]
    assert result["n"].tolist() == [0.5, 0.5]
    assert result["n_extapi2"].tolist() == [1, 2]


def test_suffix_names_in_provenance(serve: Serve) -> None:
    frame = pd.DataFrame({"key": ["a"], "n": [0.5]})

    result = broadcast(
        key_server(serve), frame, columns={"n": "$.n"}, on_conflict="suffix"
    )

    assert result.attrs["extapi"]["columns"]["n"]["column"] == "n_extapi"


def test_weather_lookup_every_row(demo_api: DemoAPI) -> None:
    audience = weather_audience()
    expected: dict[tuple[str, str], Any] = {}
    for date in audience["send_date"].unique():
        for record in fetch_json(demo_api.url(f"/weather?date={date}"))["regions"]:
            expected[(date, record["region_code"])] = record

    result = enrich_weather(demo_api, audience, strings="str")

    keys = list(zip(audience["send_date"], audience["region"], strict=True))
    assert result["temp_max_c"].tolist() == [expected[k]["temp_max_c"] for k in keys]
    assert result["summary"].tolist() == [expected[k]["summary"] for k in keys]


def test_lookup_one_request_per_campaign(demo_api: DemoAPI) -> None:
    before = demo_api.request_count("/weather")

    enrich_weather(demo_api, weather_audience())

    assert demo_api.request_count("/weather") - before == 3


def test_lookup_adds_no_key_column(demo_api: DemoAPI) -> None:
    audience = weather_audience()

    result = enrich_weather(demo_api, audience)

    assert list(result.columns) == [*audience.columns, "temp_max_c", "summary"]


def test_lookup_unmatched_rows_null(demo_api: DemoAPI) -> None:
    audience = weather_audience()
    audience.loc[[0, 5, 9], "region"] = "atlantis"
    audience.loc[[12], "region"] = None

    result = enrich_weather(demo_api, audience)

    unmatched = result.index.isin([0, 5, 9, 12])
    assert result.loc[unmatched, "temp_max_c"].isna().all()
    assert result.loc[~unmatched, "temp_max_c"].notna().all()
    assert result.attrs["extapi"]["rows_unmatched"] == 4
    assert result.attrs["extapi"]["rows_enriched"] == len(audience) - 4


def test_lookup_category_audience_key(demo_api: DemoAPI) -> None:
    audience = weather_audience()
    plain = enrich_weather(demo_api, audience)
    audience["region"] = audience["region"].astype("category")

    result = enrich_weather(demo_api, audience)

    assert result["temp_max_c"].tolist() == plain["temp_max_c"].tolist()


def test_lookup_key_dtype_mismatch(serve: Serve) -> None:
    async def regions(request: web.Request) -> web.Response:
        return web.json_response(
            {"rows": [{"code": "1", "v": 1}, {"code": "2", "v": 2}]}
        )

    server = serve({"/r": regions})
    frame = pd.DataFrame({"key": ["a", "a"], "region": [1, 2]})

    with pytest.raises(
        AttachError,
        match=r"audience column 'region' is int64 and response "
        r"column 'code' is string",
    ):
        frame.extapi.enrich(
            server.url("/r"),
            campaign="key",
            records="$.rows[*]",
            on={"region": "code"},
            columns={"v": "$.v"},
        )


def test_lookup_declared_key_dtype_matches(serve: Serve) -> None:
    async def regions(request: web.Request) -> web.Response:
        return web.json_response(
            {"rows": [{"code": "1", "v": 10}, {"code": "2", "v": 20}]}
        )

    server = serve({"/r": regions})
    frame = pd.DataFrame({"key": ["a", "a"], "region": [2, 1]})

    result = frame.extapi.enrich(
        server.url("/r"),
        campaign="key",
        records="$.rows[*]",
        on={"region": "code"},
        columns={"v": "$.v", "code": extapi_pandas.Column("$.code", dtype="Int64")},
    )

    assert result["v"].tolist() == [20, 10]


def test_lookup_duplicate_keys_raise(serve: Serve) -> None:
    async def regions(request: web.Request) -> web.Response:
        rows = [{"code": "n", "v": 1}, {"code": "s", "v": 2}, {"code": "n", "v": 3}]
        return web.json_response({"rows": rows})

    server = serve({"/r/{key}": regions})
    frame = pd.DataFrame({"key": ["a", "a"], "region": ["n", "s"]})

    with pytest.raises(
        AttachError, match=r"campaign 'a' has several records with key 'n'"
    ):
        frame.extapi.enrich(
            server.url("/r/{key}"),
            campaign="key",
            records="$.rows[*]",
            on={"region": "code"},
            columns={"v": "$.v"},
        )


def test_lookup_same_key_other_campaigns(serve: Serve) -> None:
    async def regions(request: web.Request) -> web.Response:
        offset = 100 if request.match_info["key"] == "b" else 0
        rows = [{"code": "n", "v": 1 + offset}, {"code": "s", "v": 2 + offset}]
        return web.json_response({"rows": rows})

    server = serve({"/r/{key}": regions})
    frame = pd.DataFrame({"key": ["a", "b", "a", "b"], "region": ["n", "n", "s", "s"]})

    result = frame.extapi.enrich(
        server.url("/r/{key}"),
        campaign="key",
        records="$.rows[*]",
        on={"region": "code"},
        columns={"v": "$.v"},
    )

    assert result["v"].tolist() == [1, 101, 2, 102]


def test_lookup_two_key_columns(serve: Serve) -> None:
    async def rows(request: web.Request) -> web.Response:
        data = [
            {"r": "n", "t": "gold", "v": 1},
            {"r": "n", "t": "bronze", "v": 2},
            {"r": "s", "t": "gold", "v": 3},
        ]
        return web.json_response({"rows": data})

    server = serve({"/r": rows})
    frame = pd.DataFrame(
        {
            "key": ["a"] * 4,
            "region": ["s", "n", "n", "s"],
            "tier": ["gold", "bronze", "gold", "bronze"],
        }
    )

    result = frame.extapi.enrich(
        server.url("/r"),
        campaign="key",
        records="$.rows[*]",
        on={"region": "r", "tier": "t"},
        columns={"v": "$.v"},
    )

    assert result["v"].tolist() == [3, 2, 1, pd.NA]


def test_vouchers_follow_audience_order(demo_api: DemoAPI) -> None:
    audience = make_audience(80, campaigns=3, seed=9)
    expected: dict[str, list[str]] = {}
    for key, size in audience["campaign_id"].value_counts().items():
        reply = fetch_json(
            demo_api.url("/vouchers"), {"campaign": key, "count": int(size)}
        )
        expected[str(key)] = [voucher["code"] for voucher in reply["codes"]]
    rank = audience.groupby("campaign_id").cumcount()

    result = audience.extapi.enrich(
        demo_api.url("/vouchers"),
        method="POST",
        json={"campaign": "{campaign_id}", "count": "{count}"},
        campaign="campaign_id",
        records="$.codes[*]",
        assign="sequential",
        columns={"code": "$.code", "value_eur": "$.value_eur"},
        strings="str",
    )

    codes = [expected[k][i] for k, i in zip(audience["campaign_id"], rank, strict=True)]
    assert result["code"].tolist() == codes
    assert result["code"].is_unique
    assert result["value_eur"].dtype == "Int64"


def test_sequential_too_few_records(serve: Serve) -> None:
    async def short(request: web.Request) -> web.Response:
        body = await request.json()
        return web.json_response(
            {"codes": [{"code": f"c{i}"} for i in range(body["count"] - 1)]}
        )

    server = serve({"POST /v": short})
    frame = pd.DataFrame({"key": ["a"] * 5 + ["b"] * 2})

    with pytest.raises(
        AttachError,
        match=r"campaign 'a' has 5 profiles but the response has 4 "
        r"records, so 1 profiles get none",
    ) as caught:
        frame.extapi.enrich(
            server.url("/v"),
            method="POST",
            json={"count": "{count}"},
            campaign="key",
            records="$.codes[*]",
            assign="sequential",
            columns={"code": "$.code"},
        )

    assert caught.value.campaign == "a"


def test_sequential_extra_records_ignored(serve: Serve) -> None:
    async def many(request: web.Request) -> web.Response:
        return web.json_response({"codes": [{"code": f"c{i}"} for i in range(10)]})

    server = serve({"/v": many})
    frame = pd.DataFrame({"key": ["a", "b", "a"]})

    result = frame.extapi.enrich(
        server.url("/v"),
        campaign="key",
        records="$.codes[*]",
        assign="sequential",
        columns={"code": "$.code"},
        strings="str",
    )

    assert result["code"].tolist() == ["c0", "c0", "c1"]


def test_broadcast_rows_maps_codes() -> None:
    codes = np.array([1, 0, -1, 1], dtype=np.int8)

    rows = broadcast_rows(codes, np.array([5, -1]))

    assert rows.tolist() == [-1, 5, -1, -1]


def test_lookup_rows_matches_per_campaign() -> None:
    codes = np.array([0, 1, 0, 1, -1])
    audience_keys = [pd.Series(["n", "n", "s", "x", "n"])]
    record_campaigns = np.array([0, 0, 1])
    record_keys = [pd.Series(["s", "n", "n"])]

    rows = lookup_rows(
        codes,
        audience_keys,
        record_campaigns,
        record_keys,
        [("region", "code")],
        ["a", "b"],
    )

    assert rows.tolist() == [1, 2, 0, -1, -1]


def test_sequential_rows_rank_in_order() -> None:
    codes = np.array([1, 0, 1, 1, 0])

    rows, short = sequential_rows(codes, np.array([0, 3]), np.array([3, 2]))

    assert rows.tolist() == [3, 0, 4, -1, 1]
    assert short.tolist() == [0, 1]


def test_take_column_category_codes() -> None:
    series = pd.Series(pd.array(["x", "y", None], dtype="string"))

    taken = take_column(series, np.array([1, -1, 0, 2, 1]), as_category=True)

    assert list(taken.categories) == ["x", "y"]
    assert taken.codes.tolist() == [1, -1, 0, -1, 1]


def test_take_column_numbers_keep_dtype() -> None:
    series = pd.Series(pd.array([1, 2], dtype="Int64"))

    taken = take_column(series, np.array([1, -1, 0]), as_category=True)

    assert taken.dtype == "Int64"
    assert taken.tolist() == [2, pd.NA, 1]


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ("overwrite", {"a": "a", "b": "b"}),
        ("suffix", {"a": "a_extapi", "b": "b"}),
    ],
)
def test_resolve_names_policies(policy: str, expected: dict[str, str]) -> None:
    assert resolve_names(["a", "z"], ["a", "b"], policy) == expected


def test_resolve_names_raise_lists_clashes() -> None:
    with pytest.raises(AttachError, match=r"new column\(s\) 'a', 'z' already exist"):
        resolve_names(["a", "z"], ["a", "b", "z"], "raise")


def test_assemble_keeps_audience_unchanged() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0]})

    result = assemble(frame, {"y": np.array([3, 4])})

    assert list(frame.columns) == ["x"]
    assert list(result.columns) == ["x", "y"]
    assert np.shares_memory(result["x"].to_numpy(), frame["x"].to_numpy())


def test_lookup_all_campaigns_failed_keeps_rows(
    serve: Callable[..., BackgroundServer],
) -> None:
    async def down(request: web.Request) -> web.Response:
        return web.Response(status=404, text="gone")

    url = serve({"/weather": down}).url("/weather")
    audience = pd.DataFrame({"region": ["north", "south"]})
    with pytest.warns(extapi_pandas.ExtapiWarning, match="failed"):
        result = audience.extapi.enrich(
            url,
            records="$.regions[*]",
            on={"region": "region_code"},
            columns={"temp": "$.temp"},
            on_error="continue",
        )
    assert result["temp"].isna().all()
    assert result["extapi_status"].tolist() == ["http_404", "http_404"]


def test_lookup_matching_nothing_warns(serve: Callable[..., BackgroundServer]) -> None:
    async def weather(request: web.Request) -> web.Response:
        return web.json_response({"regions": [{"code": "N", "temp": 3.5}]})

    url = serve({"/weather": weather}).url("/weather")
    audience = pd.DataFrame({"region": ["north", "south"]})
    with pytest.warns(extapi_pandas.ExtapiWarning, match="matched no profile"):
        result = audience.extapi.enrich(
            url,
            records="$.regions[*]",
            on={"region": "code"},
            columns={"temp": "$.temp"},
        )
    assert result["temp"].isna().all()
