"""Attempts and secrets on paths found by a new user's trial."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import pandas as pd
import pytest
from aiohttp import web
from faults import RawServer, read_request

import extapi_pandas  # noqa: F401  (registers df.extapi)
from extapi_pandas import BearerToken, ExtapiError, HTTPStatusError, Retry
from extapi_pandas.demo import BackgroundServer

TOKEN = "tok+en/abc=Planted9"


async def hang_up(
    server: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    await read_request(server, reader)  # then close without answering


@pytest.mark.parametrize(("retries", "expected"), [(0, 1), (1, 2), (2, 3)])
def test_disconnect_post_counted_attempts(retries: int, expected: int) -> None:
    with RawServer(hang_up) as server:
        with pytest.raises(ExtapiError):
            pd.DataFrame({"c": ["A"]}).extapi.enrich(
                server.url("/x"),
                method="POST",
                json={"campaign": "A"},
                columns={"v": "$.v"},
                retries=Retry(attempts=retries, backoff=0.01, unsafe_methods=True),
                timeout=10,
            )
        assert server.requests == expected


@pytest.mark.parametrize("retries", [0, 1])
def test_disconnect_get_resent_once_per_attempt(retries: int) -> None:
    # aiohttp resends an idempotent request once when the connection drops before
    # any response (RFC 9112 section 9.3.1), on top of each counted attempt.
    with RawServer(hang_up) as server:
        with pytest.raises(ExtapiError):
            pd.DataFrame({"c": ["A"]}).extapi.enrich(
                server.url("/x"),
                columns={"v": "$.v"},
                retries=Retry(attempts=retries, backoff=0.01),
                timeout=10,
            )
        assert server.requests == 2 * (retries + 1)


def test_url_query_secret_masked_in_body(
    serve: Callable[..., BackgroundServer],
) -> None:
    async def echo(request: web.Request) -> web.Response:
        return web.Response(status=400, text="bad key " + request.query["api_key"])

    url = serve({"/x": echo}).url("/x") + "?api_key=Planted123456"
    with pytest.raises(HTTPStatusError) as caught:
        pd.DataFrame({"c": ["A"]}).extapi.enrich(url, columns={"v": "$.v"})
    assert "Planted123456" not in str(caught.value)
    assert "[secure]" in str(caught.value)


def test_followed_redirect_hides_echoed_token(
    serve: Callable[..., BackgroundServer], caplog: pytest.LogCaptureFixture
) -> None:
    async def bounce(request: web.Request) -> web.Response:
        token = request.headers["Authorization"].split()[1]
        raise web.HTTPFound(f"/ok?x={token}")

    async def ok(request: web.Request) -> web.Response:
        return web.json_response({"v": 1})

    url = serve({"/r": bounce, "/ok": ok}).url("/r")
    caplog.set_level(logging.DEBUG, logger="extapi_pandas")
    result = pd.DataFrame({"c": ["A"]}).extapi.enrich(
        url, columns={"v": "$.v"}, auth=BearerToken(TOKEN), follow_redirects=True
    )
    shown = str(result.attrs["extapi"]) + caplog.text
    for form in (TOKEN, TOKEN.replace("+", " "), "tok en/abc%3D"):
        assert form not in shown
    assert result["v"].tolist() == [1]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"params": [("a", "b")]}, r"params= must map names to values"),
        ({"headers": "X-A: 1"}, r"headers= must map names to values"),
        ({"method": "POST", "json": {"a": object()}}, r"cannot be sent as JSON"),
        ({"timeout": float("nan")}, r"must be a finite number"),
    ],
)
def test_invalid_option_types_rejected(
    serve: Callable[..., BackgroundServer], options: dict[str, object], message: str
) -> None:
    url = serve({"/x": _unused}).url("/x")
    with pytest.raises(ExtapiError, match=message):
        pd.DataFrame({"c": ["A"]}).extapi.enrich(url, columns={"v": "$.v"}, **options)


def test_unhashable_campaign_cells_rejected(
    serve: Callable[..., BackgroundServer],
) -> None:
    url = serve({"/x": _unused}).url("/x")
    audience = pd.DataFrame({"c": [["a"], ["b"]]})
    with pytest.raises(ExtapiError, match=r"cannot name a campaign"):
        audience.extapi.enrich(url, campaign="c", columns={"v": "$.v"})


def test_overwrite_of_repeated_label_rejected(
    serve: Callable[..., BackgroundServer],
) -> None:
    url = serve({"/x": _unused}).url("/x")
    audience = pd.DataFrame([["A", 1, 2]], columns=["c", "x", "x"])
    with pytest.raises(ExtapiError, match=r"several columns labelled 'x'"):
        audience.extapi.enrich(
            url, campaign="c", columns={"x": "$.v"}, on_conflict="overwrite"
        )


async def _unused(request: web.Request) -> web.Response:
    return web.json_response({"v": 1})


def test_none_header_left_out(serve: Callable[..., BackgroundServer]) -> None:
    seen: list[dict[str, str]] = []

    async def record(request: web.Request) -> web.Response:
        seen.append(dict(request.headers))
        return web.json_response({"v": 1})

    url = serve({"/x": record}).url("/x")
    pd.DataFrame({"c": ["A"]}).extapi.enrich(
        url, columns={"v": "$.v"}, headers={"X-Present": "1", "X-Absent": None}
    )
    assert seen[0]["X-Present"] == "1"
    assert "X-Absent" not in seen[0]
