"""A planted secret never shows in logs, errors, warnings, reprs or provenance."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import ssl
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pandas as pd
import pytest
from aiohttp import web
from faults import RawServer, unchanged

import extapi_pandas
from extapi_pandas import (
    ApiKey,
    BasicAuth,
    BearerToken,
    ExternalAPI,
    OAuth2ClientCredentials,
    RequestTimeout,
    Retry,
    Secret,
    Timeout,
)
from extapi_pandas.demo import BackgroundServer

Serve = Callable[..., BackgroundServer]
SECRET = "plant-7Qz9-secret"
ISSUED = "issued-Tk55-token"
NEEDLES = (SECRET, ISSUED, base64.b64encode(f"ann:{SECRET}".encode()).decode())
# Server-side loggers of the test servers see the request as sent; they are not
# the library's output.
SERVER_LOGGERS = ("aiohttp.access", "aiohttp.server", "aiohttp.web")


async def echo(request: web.Request, status: int, content_type: str) -> web.Response:
    """Respond with everything the request carried, as a careless server would."""
    text = json.dumps({"url": str(request.url), "headers": dict(request.headers)})
    return web.Response(status=status, text=text, content_type=content_type)


async def echo_401(request: web.Request) -> web.Response:
    return await echo(request, 401, "application/json")


async def echo_503(request: web.Request) -> web.Response:
    return await echo(request, 503, "application/json")


async def echo_html(request: web.Request) -> web.Response:
    response = await echo(request, 200, "text/html")
    response.text = f"<html><body>{response.text}</body></html>"
    return response


async def echo_redirect(request: web.Request) -> web.Response:
    return web.Response(status=302, headers={"Location": f"/next?k={SECRET}"})


async def ok(request: web.Request) -> web.Response:
    return web.json_response({"pct": 3})


async def token(request: web.Request) -> web.Response:
    return web.json_response(
        {"access_token": ISSUED, "token_type": "bearer", "expires_in": 600}
    )


ROUTES: dict[str, Callable[..., Any]] = {
    "/c/e401": echo_401,
    "/c/e503": echo_503,
    "/c/html": echo_html,
    "/c/moved": echo_redirect,
    "/c/ok": ok,
    "POST /token": token,
}


def credentials(kind: str, server: BackgroundServer) -> dict[str, Any]:
    """Keyword options that carry SECRET in the way `kind` names."""
    if kind == "bearer":
        return {"auth": BearerToken(SECRET)}
    if kind == "basic":
        return {"auth": BasicAuth("ann", Secret(SECRET))}
    if kind == "query-key":
        return {"auth": ApiKey(SECRET, name="appid", location="query")}
    if kind == "header-key":
        return {"auth": ApiKey(SECRET, name="X-Api-Key")}
    if kind == "oauth2":
        return {
            "auth": OAuth2ClientCredentials(
                server.url("/token"), client_id="crm", client_secret=SECRET
            )
        }
    if kind == "headers":
        return {"headers": {"Authorization": f"Bearer {SECRET}"}}
    return {"params": {"api_key": SECRET}}


KINDS = ["bearer", "basic", "query-key", "header-key", "oauth2", "headers", "params"]


def exception_texts(error: BaseException) -> Iterator[str]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield str(current)
        yield repr(current)
        yield from (str(note) for note in getattr(current, "__notes__", []))
        current = current.__cause__ or current.__context__


def assert_clean(texts: list[str]) -> None:
    for needle in NEEDLES:
        hits = [text for text in texts if needle in text]
        assert hits == []


@pytest.fixture
def outputs(caplog: pytest.LogCaptureFixture) -> Iterator[list[str]]:
    """Collects every log line (DEBUG included) and warning raised in the test."""
    collected: list[str] = []
    caplog.set_level(logging.DEBUG)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield collected
    collected.extend(str(w.message) for w in caught)
    collected.extend(
        record.getMessage()
        for record in caplog.records
        if not record.name.startswith(SERVER_LOGGERS)
    )
    assert_clean(collected)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("route", ["e401", "e503", "html", "moved"])
def test_failure_never_shows_secret(
    serve: Serve, outputs: list[str], kind: str, route: str
) -> None:
    server = serve(ROUTES)
    frame = pd.DataFrame({"campaign": [route]})

    with unchanged(frame), pytest.raises(extapi_pandas.ExtapiError) as caught:
        frame.extapi.enrich(
            server.url("/c/{campaign}"),
            campaign="campaign",
            columns={"pct": "$.pct"},
            retries=Retry(1, backoff=0.0),
            **credentials(kind, server),
        )

    outputs.extend(exception_texts(caught.value))


@pytest.mark.parametrize("kind", KINDS)
def test_continue_never_shows_secret(
    serve: Serve, outputs: list[str], kind: str
) -> None:
    server = serve(ROUTES)
    frame = pd.DataFrame({"campaign": ["ok", "e401", "e503", "html", "moved"]})

    result = frame.extapi.enrich(
        server.url("/c/{campaign}"),
        campaign="campaign",
        columns={"pct": "$.pct"},
        on_error="continue",
        retries=Retry(1, backoff=0.0),
        **credentials(kind, server),
    )

    assert result["extapi_status"].tolist()[0] == "ok"
    outputs.append(json.dumps(result.attrs["extapi"]))
    outputs.append(repr(result.attrs))


@pytest.mark.parametrize("kind", KINDS)
def test_connect_failure_never_shows_secret(
    serve: Serve, outputs: list[str], kind: str
) -> None:
    server = serve(ROUTES)
    closed = serve({})
    url = closed.url("/c/{campaign}")
    closed.stop()

    with pytest.raises(extapi_pandas.ConnectError) as caught:
        pd.DataFrame({"campaign": ["x"]}).extapi.enrich(
            url,
            campaign="campaign",
            columns={"pct": "$.pct"},
            retries=Retry(1, backoff=0.0),
            **credentials(kind, server),
        )

    outputs.extend(exception_texts(caught.value))


@pytest.mark.parametrize("kind", KINDS)
def test_config_reprs_never_show_secret(
    serve: Serve, outputs: list[str], kind: str
) -> None:
    server = serve(ROUTES)
    options = credentials(kind, server)
    api = ExternalAPI(
        server.url("/c/{campaign}"),
        campaign="campaign",
        columns={"pct": "$.pct"},
        **options,
    )

    outputs.extend(
        [repr(api), str(api), repr(api.guard), repr(api.retries), repr(api.timeout)]
    )
    if "auth" in options:
        outputs.extend([repr(options["auth"]), str(options["auth"])])


def test_oauth_token_masked_after_fetch(serve: Serve, outputs: list[str]) -> None:
    server = serve(ROUTES)
    auth = OAuth2ClientCredentials(
        server.url("/token"), client_id="crm", client_secret=SECRET
    )
    frame = pd.DataFrame({"campaign": ["ok"]})

    frame.extapi.enrich(
        server.url("/c/{campaign}"),
        campaign="campaign",
        columns={"pct": "$.pct"},
        auth=auth,
    )

    with pytest.raises(extapi_pandas.HTTPStatusError) as caught:
        pd.DataFrame({"campaign": ["e401"]}).extapi.enrich(
            server.url("/c/{campaign}"),
            campaign="campaign",
            columns={"pct": "$.pct"},
            auth=auth,
        )

    outputs.extend(exception_texts(caught.value))
    outputs.append(repr(auth))


def test_outputs_fixture_catches_a_leak() -> None:
    with pytest.raises(AssertionError):
        assert_clean([f"Authorization: Bearer {SECRET}"])


async def black_hole(
    server: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    await server.wait_for_close(reader)


@pytest.mark.parametrize("kind", ["query-key", "params"])
def test_connect_timeout_never_shows_secret(
    serve: Serve, outputs: list[str], client_tls: ssl.SSLContext, kind: str
) -> None:
    # aiohttp quotes the whole request URL, query included, in this error.
    server = serve(ROUTES)

    with RawServer(black_hole) as hole, pytest.raises(RequestTimeout) as caught:
        pd.DataFrame({"campaign": ["x"]}).extapi.enrich(
            hole.url("/c/{campaign}").replace("http://", "https://"),
            campaign="campaign",
            columns={"pct": "$.pct"},
            verify=client_tls,
            timeout=Timeout(total=10, connect=0.1, read=5),
            retries=0,
            **credentials(kind, server),
        )

    outputs.extend(exception_texts(caught.value))
    assert "Connection timeout to host" in str(caught.value.__cause__)
