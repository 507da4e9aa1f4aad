"""Values that must survive attach exactly: no float upcast, no rounding."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pandas as pd
import pytest
from aiohttp import web

import extapi_pandas  # noqa: F401  (registers df.extapi)
from extapi_pandas import Column
from extapi_pandas.demo import BackgroundServer

BIG = 9007199254740993  # 2**53 + 1: the first integer a float64 cannot hold


def lookup_server(serve: Callable[..., BackgroundServer]) -> str:
    async def rows(request: web.Request) -> web.Response:
        await asyncio.sleep(0)
        return web.json_response({"rows": [{"k": "a", "id": BIG, "flag": True}]})

    return serve({"/rows": rows}).url("/rows")


@pytest.mark.parametrize("dtype", ["int64", "Int64"])
def test_declared_int_with_gaps_exact(
    serve: Callable[..., BackgroundServer], dtype: str
) -> None:
    audience = pd.DataFrame({"k": ["a", "b"]})
    result = audience.extapi.enrich(
        lookup_server(serve),
        records="$.rows[*]",
        on={"k": "k"},
        columns={"id": Column("$.id", dtype=dtype)},
    )
    assert result["id"].dtype == "Int64"
    assert result["id"].iloc[0] == BIG
    assert result["id"].isna().tolist() == [False, True]


def test_declared_bool_with_gaps_nullable(
    serve: Callable[..., BackgroundServer],
) -> None:
    audience = pd.DataFrame({"k": ["a", "b"]})
    result = audience.extapi.enrich(
        lookup_server(serve),
        records="$.rows[*]",
        on={"k": "k"},
        columns={"flag": Column("$.flag", dtype="bool")},
    )
    assert result["flag"].dtype == "boolean"
    assert result["flag"].tolist()[0] is True
    assert result["flag"].isna().tolist() == [False, True]


def test_declared_int_without_gaps_stays_numpy(
    serve: Callable[..., BackgroundServer],
) -> None:
    audience = pd.DataFrame({"k": ["a", "a"]})
    result = audience.extapi.enrich(
        lookup_server(serve),
        records="$.rows[*]",
        on={"k": "k"},
        columns={"id": Column("$.id", dtype="int64")},
    )
    assert result["id"].dtype == "int64"
    assert result["id"].tolist() == [BIG, BIG]


def test_big_int_beside_float_exact(serve: Callable[..., BackgroundServer]) -> None:
    async def value(request: web.Request) -> web.Response:
        body = {"A": {"v": BIG}, "B": {"v": 1.5}}[request.query["c"]]
        return web.json_response(body)

    url = serve({"/v": value}).url("/v")
    audience = pd.DataFrame({"c": ["A", "B"]})
    result = audience.extapi.enrich(
        url, campaign="c", params={"c": "{c}"}, columns={"v": "$.v"}
    )
    assert result["v"].dtype == object
    assert result["v"].tolist() == [BIG, 1.5]


def test_small_int_beside_float_is_float(
    serve: Callable[..., BackgroundServer],
) -> None:
    async def value(request: web.Request) -> web.Response:
        body = {"A": {"v": 3}, "B": {"v": 1.5}}[request.query["c"]]
        return web.json_response(body)

    url = serve({"/v": value}).url("/v")
    audience = pd.DataFrame({"c": ["A", "B"]})
    result = audience.extapi.enrich(
        url, campaign="c", params={"c": "{c}"}, columns={"v": "$.v"}
    )
    assert result["v"].dtype == "Float64"
    assert result["v"].tolist() == [3.0, 1.5]
