"""Tests for the response cache: in memory and in SQLite, TTL, keys and secrets."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pandera.pandas as pa
import pytest
from aiohttp import web
from conftest import HITS

from extapi_pandas import (
    BearerToken,
    Cache,
    ConfigurationError,
    ExtapiWarning,
    ExternalAPI,
    Secret,
)
from extapi_pandas.demo import BackgroundServer
from extapi_pandas.http.cache import (
    CachedResponse,
    _MemoryStore,
    clear_memory_cache,
    format_duration,
    parse_duration,
)
from extapi_pandas.report import Report

Serve = Callable[..., BackgroundServer]
TOKEN = "tok-cache-planted-91b2"
KEY = "key-cache-planted-44c7"
COOKIE = "cookie-cache-planted-0d3e"
AUDIENCE = pd.DataFrame(
    {"campaign_id": ["c1", "c1", "c2"], "market": ["DE", "DE", "FR"]}
)


@pytest.fixture(autouse=True)
def empty_memory_cache() -> Iterator[None]:
    clear_memory_cache()
    yield
    clear_memory_cache()


class OfferServer:
    """Serves `/offers?market=..` with a version that grows on every request."""

    def __init__(self, serve: Serve, *, status: int = 200, price: float = 10.0) -> None:
        self.version = 0
        self.status = status
        self.price = price
        self.echo_auth = False
        self.server = serve({"/offers": self.handle})

    async def handle(self, request: web.Request) -> web.Response:
        self.version += 1
        body: dict[str, Any] = {
            "market": request.query.get("market"),
            "version": self.version,
            "price": self.price,
        }
        if self.echo_auth:
            body["seen"] = request.headers.get("Authorization", "")
        response = web.json_response(body, status=self.status)
        response.headers["Set-Cookie"] = f"session={COOKIE}"
        return response

    @property
    def requests(self) -> int:
        return int(self.server.app[HITS]["/offers"])

    def api(self, **options: Any) -> ExternalAPI:
        defaults: dict[str, Any] = {
            "params": {"market": "{market}"},
            "campaign": "campaign_id",
            "columns": {"version": "$.version", "price": "$.price"},
            "cache": "5min",
        }
        return ExternalAPI(self.server.url("/offers"), **{**defaults, **options})


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("30s", 30.0),
        ("5min", 300.0),
        ("2h", 7200.0),
        ("1d", 86400.0),
        ("1.5h", 5400.0),
        ("90", 90.0),
        (45, 45.0),
        (0.5, 0.5),
        (dt.timedelta(minutes=2), 120.0),
    ],
)
def test_parse_duration(value: Any, seconds: float) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize(
    "value", ["5 weeks", "5m", "", "0s", "-1s", 0, -3, True, None, float("inf"), [5]]
)
def test_parse_duration_rejects(value: Any) -> None:
    with pytest.raises(ConfigurationError, match="'30s', '5min', '2h' or '1d'"):
        parse_duration(value)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(30, "30s"), (300, "5min"), (5400, "90min"), (7200, "2h"), (86400, "1d")],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_format_duration_keeps_fractions() -> None:
    assert format_duration(1.5) == 1.5


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        (False, None),
        ("5min", Cache(300)),
        (30, Cache(30)),
        ("refresh", Cache(refresh=True)),
        (Cache("1h", path="c.sqlite"), Cache(3600, path="c.sqlite")),
    ],
)
def test_cache_option_forms(value: Any, expected: Cache | None) -> None:
    assert ExternalAPI(
        "http://127.0.0.1:9/x", columns={"a": "$.a"}, cache=value
    ).cache == (expected)


def test_cache_true_rejected() -> None:
    with pytest.raises(ConfigurationError, match="cache=True does not say"):
        Cache.coerce(True)


def test_cache_is_off_by_default(serve: Serve) -> None:
    offers = OfferServer(serve)
    api = offers.api(cache=None)

    first = AUDIENCE.extapi.enrich(api)
    AUDIENCE.extapi.enrich(api)

    assert offers.requests == 4
    assert "cache_hit" not in first.attrs["extapi"]["campaigns"][0]


def test_second_call_sends_nothing(serve: Serve) -> None:
    offers = OfferServer(serve)
    api = offers.api()

    first = AUDIENCE.extapi.enrich(api)
    second = AUDIENCE.extapi.enrich(api)

    assert offers.requests == 2
    pd.testing.assert_frame_equal(second, first)


def test_cache_hits_marked_in_provenance(serve: Serve) -> None:
    offers = OfferServer(serve)
    api = offers.api()

    first = AUDIENCE.extapi.enrich(api)
    second = AUDIENCE.extapi.enrich(api)

    assert [c["cache_hit"] for c in first.attrs["extapi"]["campaigns"]] == [
        False,
        False,
    ]
    assert [c["cache_hit"] for c in second.attrs["extapi"]["campaigns"]] == [
        True,
        True,
    ]
    assert second.attrs["extapi"]["requests"] == 0


def test_cache_hits_in_report(serve: Serve) -> None:
    offers = OfferServer(serve)
    api = offers.api()
    AUDIENCE.extapi.enrich(api)

    report = Report.from_frame(AUDIENCE.extapi.enrich(api)).to_frame()

    assert report["cache_hit"].tolist() == [True, True]


def test_hit_keeps_original_fetch_time(serve: Serve) -> None:
    offers = OfferServer(serve)
    api = offers.api()

    first = AUDIENCE.extapi.enrich(api).attrs["extapi"]["campaigns"]
    second = AUDIENCE.extapi.enrich(api).attrs["extapi"]["campaigns"]

    assert [c["fetched_at"] for c in second] == [c["fetched_at"] for c in first]
    assert [c["sha256"] for c in second] == [c["sha256"] for c in first]


def test_refresh_bypasses_and_stores(serve: Serve) -> None:
    offers = OfferServer(serve)
    AUDIENCE.extapi.enrich(offers.api())

    refreshed = AUDIENCE.extapi.enrich(offers.api(cache="refresh"))
    reused = AUDIENCE.extapi.enrich(offers.api())

    assert offers.requests == 4
    assert refreshed["version"].tolist() == [3, 3, 4]
    assert reused["version"].tolist() == [3, 3, 4]


def test_invalid_response_not_cached(serve: Serve) -> None:
    offers = OfferServer(serve, price=-5.0)
    schema = pa.DataFrameSchema({"price": pa.Column(float, pa.Check.ge(0))})
    api = offers.api(schema=schema, on_error="continue")

    with pytest.warns(ExtapiWarning, match="failed"):
        first = AUDIENCE.extapi.enrich(api)
    with pytest.warns(ExtapiWarning, match="failed"):
        AUDIENCE.extapi.enrich(api)

    assert first["extapi_status"].tolist() == ["validation_failed"] * 3
    assert offers.requests == 4


def test_error_status_not_cached(serve: Serve) -> None:
    offers = OfferServer(serve, status=404)
    api = offers.api(on_error="continue", retries=0)

    with pytest.warns(ExtapiWarning, match="http_404"):
        AUDIENCE.extapi.enrich(api)
    with pytest.warns(ExtapiWarning, match="http_404"):
        AUDIENCE.extapi.enrich(api)

    assert offers.requests == 4


def test_other_token_misses(serve: Serve) -> None:
    offers = OfferServer(serve)

    AUDIENCE.extapi.enrich(offers.api(auth=BearerToken("token-one-aaaa")))
    AUDIENCE.extapi.enrich(offers.api(auth=BearerToken("token-two-bbbb")))
    AUDIENCE.extapi.enrich(offers.api(auth=BearerToken("token-one-aaaa")))

    assert offers.requests == 4


def test_other_header_misses(serve: Serve) -> None:
    offers = OfferServer(serve)

    AUDIENCE.extapi.enrich(offers.api(headers={"Accept-Language": "en"}))
    AUDIENCE.extapi.enrich(offers.api(headers={"Accept-Language": "de"}))

    assert offers.requests == 4


def test_other_secret_header_misses(serve: Serve) -> None:
    offers = OfferServer(serve)

    AUDIENCE.extapi.enrich(offers.api(headers={"X-Api-Key": "key-one-aaaa"}))
    AUDIENCE.extapi.enrich(offers.api(headers={"X-Api-Key": "key-two-bbbb"}))

    assert offers.requests == 4


def test_sqlite_cache_outlives_memory(serve: Serve, tmp_path: Path) -> None:
    offers = OfferServer(serve)
    path = tmp_path / "cache.sqlite"
    AUDIENCE.extapi.enrich(offers.api(cache=Cache("1h", path=path)))
    clear_memory_cache()

    second = AUDIENCE.extapi.enrich(offers.api(cache=Cache("1h", path=path)))

    assert offers.requests == 2
    assert [c["cache_hit"] for c in second.attrs["extapi"]["campaigns"]] == [
        True,
        True,
    ]


def test_sqlite_file_private(serve: Serve, tmp_path: Path) -> None:
    offers = OfferServer(serve)
    path = tmp_path / "cache.sqlite"

    AUDIENCE.extapi.enrich(offers.api(cache=Cache("1h", path=path)))

    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_expired_entry_fetched_again(serve: Serve, tmp_path: Path) -> None:
    offers = OfferServer(serve)
    path = tmp_path / "cache.sqlite"
    api = offers.api(cache=Cache("1h", path=path))
    AUDIENCE.extapi.enrich(api)
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE responses SET expires_at = 1")
    connection.close()

    again = AUDIENCE.extapi.enrich(api)

    assert offers.requests == 4
    assert again["version"].tolist() == [3, 3, 4]


def test_sqlite_holds_no_secret(serve: Serve, tmp_path: Path) -> None:
    offers = OfferServer(serve)
    path = tmp_path / "cache.sqlite"
    api = offers.api(
        cache=Cache("1h", path=path),
        auth=BearerToken(TOKEN),
        headers={"X-Api-Key": KEY},
        params={"market": "{market}", "api_key": KEY},
    )

    AUDIENCE.extapi.enrich(api)
    saved = path.read_bytes()

    assert b'"version"' in saved  # the file contains the response bodies
    assert TOKEN.encode() not in saved
    assert KEY.encode() not in saved
    assert COOKIE.encode() not in saved


def test_memory_entry_holds_no_secret(serve: Serve) -> None:
    from extapi_pandas.http.cache import _MEMORY

    offers = OfferServer(serve)
    api = offers.api(auth=BearerToken(TOKEN), headers={"X-Api-Key": KEY})

    AUDIENCE.extapi.enrich(api)
    entries = list(_MEMORY._entries.items())

    assert len(entries) == 2
    for key, entry in entries:
        assert TOKEN not in key + repr(entry.headers)
        assert KEY not in key + repr(entry.headers)
        assert COOKIE not in repr(entry.headers)


def test_body_with_secret_not_cached(serve: Serve) -> None:
    offers = OfferServer(serve)
    offers.echo_auth = True
    api = offers.api(auth=BearerToken(Secret(TOKEN)))

    AUDIENCE.extapi.enrich(api)
    AUDIENCE.extapi.enrich(api)

    assert offers.requests == 4


def test_foreign_sqlite_file_rejected(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE customers (id INTEGER)")
    connection.close()
    api = ExternalAPI(
        "http://127.0.0.1:9/x", columns={"a": "$.a"}, cache=Cache(path=path)
    )

    with pytest.raises(ConfigurationError, match="SQLite database of another program"):
        pd.DataFrame({"id": [1]}).extapi.enrich(api)


@pytest.mark.parametrize(
    ("name", "content", "pattern"),
    [
        ("text.sqlite", b"not a database, just text" * 10, "not a usable SQLite"),
        ("absent/cache.sqlite", None, "folder .* does not exist"),
    ],
)
def test_unusable_cache_file_rejected(
    tmp_path: Path, name: str, content: bytes | None, pattern: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    api = ExternalAPI(
        "http://127.0.0.1:9/x", columns={"a": "$.a"}, cache=Cache(path=path)
    )

    with pytest.raises(ConfigurationError, match=pattern):
        pd.DataFrame({"id": [1]}).extapi.enrich(api)


def test_memory_store_evicts_oldest() -> None:
    store = _MemoryStore(max_bytes=10)
    entry = CachedResponse(200, {}, b"123456", "u", "t", expires_at=2e9)

    store.put("first", entry)
    store.put("second", entry)

    assert store.get("first", 0) is None
    assert store.get("second", 0) == entry


def test_memory_store_drops_expired() -> None:
    store = _MemoryStore()
    store.put("key", CachedResponse(200, {}, b"x", "u", "t", expires_at=100.0))

    assert store.get("key", now=99.0) is not None
    assert store.get("key", now=100.0) is None
