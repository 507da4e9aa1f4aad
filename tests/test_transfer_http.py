"""Tests of `enrich_from_file` over HTTP(S), against loopback servers of the tests."""

from __future__ import annotations

import gzip
import json
import ssl
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from aiohttp import web
from conftest import HITS

import extapi_pandas  # noqa: F401  (registers df.extapi)
from extapi_pandas import ApiKey, BearerToken, Guard
from extapi_pandas.demo import BackgroundServer
from extapi_pandas.errors import (
    ConfigurationError,
    GuardError,
    RedirectError,
    TransferError,
)
from extapi_pandas.transfer.remote import check_source_url

Serve = Callable[..., BackgroundServer]
FOOTFALL_CSV = b"postal_code,footfall_index\n02139,1.35\n00501,0.42\n"
TOKEN = "tok-file-route-5d1e9c"


def postal_audience() -> pd.DataFrame:
    return pd.DataFrame({"postal_code": ["02139", "00501"]})


async def footfall(request: web.Request) -> web.Response:
    return web.Response(body=FOOTFALL_CSV, content_type="text/csv")


def test_http_csv_source(serve: Serve) -> None:
    server = serve({"* /footfall.csv": footfall})
    enriched = postal_audience().extapi.enrich_from_file(
        server.url("/footfall.csv"), on="postal_code"
    )
    assert enriched["footfall_index"].tolist() == [1.35, 0.42]
    assert enriched.attrs["extapi"]["source"]["path"] == server.url("/footfall.csv")


def test_http_gzip_jsonl(serve: Serve) -> None:
    lines = b'{"postal_code": "02139", "v": 1}\n{"postal_code": "00501", "v": 2}\n'

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=gzip.compress(lines))

    server = serve({"* /v.jsonl.gz": handler})
    enriched = postal_audience().extapi.enrich_from_file(
        server.url("/v.jsonl.gz"), on="postal_code"
    )
    assert enriched["v"].tolist() == [1, 2]


def test_http_parquet_byte_ranges(serve: Serve, tmp_path: Path) -> None:
    path = tmp_path / "scores.parquet"
    pd.DataFrame({"postal_code": ["00501", "02139"], "score": [2.0, 1.0]}).to_parquet(
        path
    )
    ranges: list[str | None] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        ranges.append(request.headers.get("Range"))
        return web.FileResponse(path)

    server = serve({"* /scores.parquet": handler})
    enriched = postal_audience().extapi.enrich_from_file(
        server.url("/scores.parquet"), on="postal_code"
    )
    assert enriched["score"].tolist() == [1.0, 2.0]
    assert any(value is not None for value in ranges)


def test_https_with_test_ca(
    serve: Serve, server_tls: ssl.SSLContext, client_tls: ssl.SSLContext
) -> None:
    server = serve({"* /footfall.csv": footfall}, ssl_context=server_tls)
    url = server.url("/footfall.csv")
    assert url.startswith("https://")
    enriched = postal_audience().extapi.enrich_from_file(
        url, on="postal_code", verify=client_tls
    )
    assert enriched["footfall_index"].tolist() == [1.35, 0.42]


def test_https_untrusted_certificate(serve: Serve, server_tls: ssl.SSLContext) -> None:
    server = serve({"* /footfall.csv": footfall}, ssl_context=server_tls)
    with pytest.raises(TransferError, match=r"(?i)certificate"):
        postal_audience().extapi.enrich_from_file(
            server.url("/footfall.csv"), on="postal_code"
        )


def protected(expected: dict[str, str]) -> Callable[[web.Request], object]:
    async def handler(request: web.Request) -> web.Response:
        headers_ok = all(
            request.headers.get(k) == v for k, v in expected.items() if k != "query"
        )
        query_ok = "query" not in expected or request.query.get("api_key") == TOKEN
        if not (headers_ok and query_ok):
            return web.Response(status=401, text="missing credentials")
        return web.Response(body=FOOTFALL_CSV)

    return handler


def test_bearer_token_sent(serve: Serve) -> None:
    server = serve({"* /f.csv": protected({"Authorization": f"Bearer {TOKEN}"})})
    enriched = postal_audience().extapi.enrich_from_file(
        server.url("/f.csv"), on="postal_code", auth=BearerToken(TOKEN)
    )
    assert enriched["footfall_index"].tolist() == [1.35, 0.42]
    assert TOKEN not in json.dumps(enriched.attrs["extapi"])


def test_missing_auth_is_http_401(serve: Serve) -> None:
    server = serve({"* /f.csv": protected({"Authorization": f"Bearer {TOKEN}"})})
    with pytest.raises(TransferError, match="returned HTTP 401"):
        postal_audience().extapi.enrich_from_file(
            server.url("/f.csv"), on="postal_code"
        )


def test_query_api_key_masked(serve: Serve) -> None:
    server = serve({"* /f.csv": protected({"query": "api_key"})})
    auth = ApiKey(TOKEN, name="api_key", location="query")
    enriched = postal_audience().extapi.enrich_from_file(
        server.url("/f.csv"), on="postal_code", auth=auth
    )
    assert enriched["footfall_index"].tolist() == [1.35, 0.42]
    assert TOKEN not in json.dumps(enriched.attrs["extapi"])


def test_token_not_in_errors(serve: Serve) -> None:
    async def failing(request: web.Request) -> web.Response:
        return web.Response(status=500, text=f"broken for {TOKEN}")

    server = serve({"* /f.csv": failing})
    with pytest.raises(TransferError) as caught:
        postal_audience().extapi.enrich_from_file(
            server.url(f"/f.csv?api_key={TOKEN}"),
            on="postal_code",
            auth=BearerToken(TOKEN),
        )
    assert TOKEN not in str(caught.value)
    assert "HTTP 500" in str(caught.value)


def test_http_404_not_found(serve: Serve) -> None:
    server = serve({"* /other.csv": footfall})
    with pytest.raises(TransferError, match="was not found"):
        postal_audience().extapi.enrich_from_file(
            server.url("/missing.csv"), on="postal_code"
        )


async def to_footfall(request: web.Request) -> web.Response:
    raise web.HTTPFound("/footfall.csv")


def test_redirect_not_followed(serve: Serve) -> None:
    server = serve({"* /old.csv": to_footfall, "* /footfall.csv": footfall})
    with pytest.raises(RedirectError, match="follow_redirects=True"):
        postal_audience().extapi.enrich_from_file(
            server.url("/old.csv"), on="postal_code"
        )


def test_same_host_redirect_followed(serve: Serve) -> None:
    server = serve({"* /old.csv": to_footfall, "* /footfall.csv": footfall})
    enriched = postal_audience().extapi.enrich_from_file(
        server.url("/old.csv"), on="postal_code", follow_redirects=True
    )
    assert enriched["footfall_index"].tolist() == [1.35, 0.42]


def test_other_host_redirect_rejected(serve: Serve) -> None:
    target = serve({"* /footfall.csv": footfall})

    async def elsewhere(request: web.Request) -> web.Response:
        raise web.HTTPFound(target.url("/footfall.csv"))

    server = serve({"* /old.csv": elsewhere})
    with pytest.raises(RedirectError) as caught:
        postal_audience().extapi.enrich_from_file(
            server.url("/old.csv"), on="postal_code", follow_redirects=True
        )
    message = str(caught.value)
    assert f"another host (127.0.0.1:{target.port})" in message
    assert f"than the first request (127.0.0.1:{server.port})" in message
    assert f"redirect_hosts=['127.0.0.1:{target.port}']" in message
    assert sum(target.app[HITS].values()) == 0


class HeaderLog:
    """Serves the footfall file and records the headers and query of each request."""

    def __init__(self) -> None:
        self.seen: list[dict[str, str]] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.seen.append({**request.headers, **request.query})
        return web.Response(body=FOOTFALL_CSV, content_type="text/csv")


@pytest.mark.parametrize(
    ("options", "query"),
    [
        ({"auth": BearerToken(TOKEN)}, ""),
        ({"storage_options": {"headers": {"X-Api-Key": TOKEN}}}, ""),
        ({"auth": ApiKey(TOKEN, name="api_key", location="query")}, "?x=1"),
    ],
    ids=["bearer", "storage-header", "echoed-query-key"],
)
def test_allowed_host_gets_no_credentials(
    serve: Serve, options: dict[str, object], query: str
) -> None:
    log = HeaderLog()
    target = serve({"* /footfall.csv": log.handle})

    async def elsewhere(request: web.Request) -> web.Response:
        # The source echoes its query, and with it a query API key, if any.
        echoed = f"?{request.query_string}" if query else ""
        raise web.HTTPFound(target.url("/footfall.csv") + echoed)

    server = serve({"* /old.csv": elsewhere})
    enriched = postal_audience().extapi.enrich_from_file(
        server.url("/old.csv"),
        on="postal_code",
        follow_redirects=True,
        redirect_hosts=[f"127.0.0.1:{target.port}"],
        **options,
    )
    assert enriched["footfall_index"].tolist() == [1.35, 0.42]
    assert log.seen != []
    assert all(TOKEN not in value for seen in log.seen for value in seen.values())


def test_file_route_keeps_max_redirects_zero(serve: Serve) -> None:
    server = serve({"* /old.csv": to_footfall, "* /footfall.csv": footfall})
    with pytest.raises(RedirectError, match=r"max_redirects=0"):
        postal_audience().extapi.enrich_from_file(
            server.url("/old.csv"),
            on="postal_code",
            follow_redirects=True,
            max_redirects=0,
        )
    assert server.app[HITS]["/footfall.csv"] == 0


def test_file_route_invalid_redirect_hosts(serve: Serve) -> None:
    server = serve({"* /footfall.csv": footfall})
    with pytest.raises(ConfigurationError, match=r"must be a list of host names"):
        postal_audience().extapi.enrich_from_file(
            server.url("/footfall.csv"), on="postal_code", redirect_hosts="127.0.0.1"
        )
    assert server.app[HITS]["/footfall.csv"] == 0


@pytest.mark.parametrize(
    ("url", "guard", "message"),
    [
        ("http://files.example.com/p.csv", Guard(), "plain HTTP"),
        ("https://169.254.169.254/latest/p.csv", Guard(), "link-local or cloud"),
        ("https://metadata.google.internal/p.csv", Guard(), "link-local or cloud"),
        ("ftp://127.0.0.1/p.csv", Guard(), "scheme 'ftp'"),
    ],
)
def test_source_url_guard(url: str, guard: Guard, message: str) -> None:
    with pytest.raises(GuardError, match=message):
        check_source_url(url, guard)


def test_loopback_http_allowed() -> None:
    assert check_source_url("http://127.0.0.1:9/p.csv", Guard()).host == "127.0.0.1"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"storage_options": {"client_kwargs": {}}}, "not taken for HTTP"),
        ({"verify": False}, "cannot be turned off"),
        ({"auth": "token"}, "auth must be an Auth"),
        ({"guard": "strict"}, "guard must be a Guard"),
    ],
)
def test_invalid_http_options(
    serve: Serve, options: dict[str, object], message: str
) -> None:
    server = serve({"* /footfall.csv": footfall})
    with pytest.raises(ConfigurationError, match=message):
        postal_audience().extapi.enrich_from_file(
            server.url("/footfall.csv"), on="postal_code", **options
        )
    assert sum(server.app[HITS].values()) == 0


def test_http_glob_rejected() -> None:
    with pytest.raises(ConfigurationError, match="globs are not supported over HTTP"):
        postal_audience().extapi.enrich_from_file(
            "http://127.0.0.1:9/parts/*.csv", on="postal_code"
        )
