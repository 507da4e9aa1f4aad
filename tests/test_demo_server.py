"""Tests for the loopback BackgroundServer and the demo API it serves."""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
import trustme
from aiohttp import web

from extapi_pandas.demo import (
    MARKETS,
    MAX_VOUCHERS,
    REGIONS,
    REQUEST_COUNTS,
    BackgroundServer,
    DemoAPI,
    make_demo_app,
    request_count,
)

JSON_CONTENT_TYPE = "application/json; charset=utf-8"


def has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


IPV6_LOOPBACK = has_ipv6_loopback()

GET_PATHS = [
    "/offers?market=DE",
    "/weather",
    "/forecast",
    "/air-quality",
    "/fixtures",
    "/fx",
    "/holidays",
    "/products.json",
]


@dataclass(frozen=True)
class Reply:
    """Status, Content-Type, raw body and parsed JSON of one response."""

    status: int
    content_type: str
    text: str
    data: Any


async def fetch(
    url: str,
    *,
    method: str = "GET",
    json_body: Any = None,
    ssl_context: ssl.SSLContext | None = None,
) -> Reply:
    """Send one request with a fresh client session and parse the JSON body."""
    async with (
        aiohttp.ClientSession() as session,
        session.request(
            method, url, json=json_body, ssl=ssl_context if ssl_context else True
        ) as response,
    ):
        text = await response.text()
        data = await response.json(content_type=None)
        return Reply(response.status, response.headers["Content-Type"], text, data)


@pytest.fixture(scope="module")
def demo_api() -> Iterator[DemoAPI]:
    with DemoAPI() as api:
        yield api


@pytest.fixture
def fresh_api() -> Iterator[DemoAPI]:
    with DemoAPI() as api:
        yield api


def server_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("BackgroundServer-")}


# Server lifecycle


def test_server_listens_on_loopback(demo_api: DemoAPI) -> None:
    assert demo_api.base_url == f"http://127.0.0.1:{demo_api.port}"


def test_server_port_is_assigned(demo_api: DemoAPI) -> None:
    assert demo_api.port > 0


def test_url_joins_path(demo_api: DemoAPI) -> None:
    assert demo_api.url("fx") == demo_api.url("/fx")


@pytest.mark.parametrize(
    "host", ["0.0.0.0", "192.168.1.10", "10.0.0.1", "::", "localhost", ""]
)
def test_non_loopback_host_rejected(host: str) -> None:
    with pytest.raises(ValueError, match="loopback"):
        BackgroundServer(web.Application(), host=host)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1"])
def test_loopback_host_accepted(host: str) -> None:
    server = BackgroundServer(web.Application(), host=host)
    assert server.host == host


def test_port_before_start_raises() -> None:
    server = DemoAPI()
    with pytest.raises(RuntimeError, match="not running"):
        _ = server.port


def test_stop_joins_thread() -> None:
    before = server_threads()
    server = DemoAPI().start()
    running = server_threads() - before
    server.stop()
    assert len(running) == 1
    assert server_threads() == before
    assert not any(thread.is_alive() for thread in running)


def test_stop_is_idempotent() -> None:
    server = DemoAPI().start()
    server.stop()
    server.stop()
    assert not server.is_running


def test_stop_without_start() -> None:
    server = DemoAPI()
    server.stop()
    assert not server.is_running


def test_restart_after_stop_raises() -> None:
    server = DemoAPI().start()
    server.stop()
    with pytest.raises(RuntimeError, match="already started"):
        server.start()


def test_start_failure_raises_and_cleans() -> None:
    async def fail_startup(app: web.Application) -> None:
        raise RuntimeError("startup hook failed")

    app = web.Application()
    app.on_startup.append(fail_startup)
    before = server_threads()
    server = BackgroundServer(app)
    with pytest.raises(RuntimeError, match="startup hook failed"):
        server.start()
    assert server_threads() == before
    assert not server.is_running


@pytest.mark.skipif(not IPV6_LOOPBACK, reason="no IPv6 loopback on this machine")
def test_ipv6_loopback_url_brackets() -> None:
    with BackgroundServer(web.Application(), host="::1") as server:
        assert server.base_url == f"http://[::1]:{server.port}"


@pytest.mark.asyncio
async def test_stop_closes_port() -> None:
    server = DemoAPI().start()
    url = server.url("/fx")
    server.stop()
    with pytest.raises(aiohttp.ClientConnectionError):
        await fetch(url)


@pytest.mark.asyncio
async def test_stop_ends_pending_request() -> None:
    server = DemoAPI().start()
    pending = asyncio.ensure_future(fetch(server.url("/fx?delay_ms=20000")))
    await asyncio.sleep(0.2)
    started = time.perf_counter()
    await asyncio.to_thread(server.stop)
    elapsed = time.perf_counter() - started
    with pytest.raises(aiohttp.ClientError):
        await pending
    assert elapsed < 5


@pytest.mark.asyncio
async def test_async_context_manager_serves() -> None:
    async with DemoAPI() as api:
        reply = await fetch(api.url("/fx"))
    assert reply.status == 200
    assert not api.is_running


@pytest.mark.asyncio
async def test_generic_app_served() -> None:
    async def hello(request: web.Request) -> web.Response:
        return web.json_response({"hello": "world"})

    app = web.Application()
    app.router.add_get("/hello", hello)
    with BackgroundServer(app) as server:
        reply = await fetch(server.url("/hello"))
    assert reply.data == {"hello": "world"}


@pytest.fixture(scope="module")
def tls_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def tls_api(tls_ca: trustme.CA) -> Iterator[DemoAPI]:
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls_ca.issue_cert("127.0.0.1").configure_cert(server_context)
    with DemoAPI(ssl_context=server_context) as api:
        yield api


def test_tls_base_url_uses_https(tls_api: DemoAPI) -> None:
    assert tls_api.base_url.startswith("https://127.0.0.1:")


@pytest.mark.asyncio
async def test_tls_trusted_ca_succeeds(tls_api: DemoAPI, tls_ca: trustme.CA) -> None:
    client_context = ssl.create_default_context()
    tls_ca.configure_trust(client_context)
    reply = await fetch(tls_api.url("/offers?market=FR"), ssl_context=client_context)
    assert reply.status == 200
    assert reply.data["market"] == "FR"


@pytest.mark.asyncio
async def test_tls_untrusted_ca_fails(tls_api: DemoAPI) -> None:
    with pytest.raises(aiohttp.ClientConnectorCertificateError):
        await fetch(tls_api.url("/fx"), ssl_context=ssl.create_default_context())


# Response format


@pytest.mark.asyncio
@pytest.mark.parametrize("path", GET_PATHS)
async def test_get_endpoint_json_utf8(demo_api: DemoAPI, path: str) -> None:
    reply = await fetch(demo_api.url(path))
    assert reply.status == 200
    assert reply.content_type == JSON_CONTENT_TYPE


@pytest.mark.asyncio
async def test_unknown_path_json_404(demo_api: DemoAPI) -> None:
    reply = await fetch(demo_api.url("/no-such-endpoint"))
    assert reply.status == 404
    assert reply.content_type == JSON_CONTENT_TYPE
    assert reply.data == {"error": "not found"}


@pytest.mark.asyncio
async def test_wrong_method_json_405(demo_api: DemoAPI) -> None:
    reply = await fetch(demo_api.url("/vouchers"))
    assert reply.status == 405
    assert reply.data == {"error": "method not allowed"}


# /offers


@pytest.mark.asyncio
@pytest.mark.parametrize("market", MARKETS)
async def test_offers_shape_per_market(demo_api: DemoAPI, market: str) -> None:
    reply = await fetch(demo_api.url(f"/offers?market={market}"))
    assert reply.status == 200
    assert reply.data["market"] == market
    assert reply.data["currency"] in {"EUR", "GBP", "USD"}
    assert len(reply.data["offers"]) >= 2
    for offer in reply.data["offers"]:
        assert set(offer) == {
            "id", "name", "price", "discount_pct", "valid_until", "tags"
        }  # fmt: skip
        assert isinstance(offer["id"], int)
        assert isinstance(offer["price"], str)
        assert Decimal(offer["price"]) >= 0
        assert 0 <= offer["discount_pct"] <= 100
        assert isinstance(offer["tags"], list)


@pytest.mark.asyncio
async def test_offers_currency_by_market(demo_api: DemoAPI) -> None:
    gb = await fetch(demo_api.url("/offers?market=GB"))
    us = await fetch(demo_api.url("/offers?market=US"))
    de = await fetch(demo_api.url("/offers?market=DE"))
    assert gb.data["currency"] == "GBP"
    assert us.data["currency"] == "USD"
    assert de.data["currency"] == "EUR"


@pytest.mark.asyncio
async def test_offers_market_case_insensitive(demo_api: DemoAPI) -> None:
    reply = await fetch(demo_api.url("/offers?market=nl"))
    assert reply.data["market"] == "NL"


@pytest.mark.asyncio
async def test_offers_non_ascii_name(demo_api: DemoAPI) -> None:
    reply = await fetch(demo_api.url("/offers?market=FR"))
    assert reply.data["offers"][0]["name"] == "Sac à dos randonnée 30 L"


@pytest.mark.asyncio
async def test_offers_unknown_market_404(demo_api: DemoAPI) -> None:
    reply = await fetch(demo_api.url("/offers?market=XX"))
    assert reply.status == 404
    assert reply.content_type == JSON_CONTENT_TYPE
    assert reply.data == {"error": "unknown market"}


@pytest.mark.asyncio
async def test_offers_missing_market_400(demo_api: DemoAPI) -> None:
    reply = await fetch(demo_api.url("/offers"))
    assert reply.status == 400
    assert "market" in reply.data["error"]


# /weather


@pytest.mark.asyncio
async def test_weather_record_shape(demo_api: DemoAPI) -> None:
    reply = await fetch(demo_api.url("/weather?date=2026-10-04"))
    assert reply.data["date"] == "2026-10-04"
    for record in reply.data["regions"]:
        assert isinstance(record["region_code"], str)
        assert isinstance(record["temp_max_c"], float)
        assert 0 <= record["precip_prob_pct"] <= 100
        assert isinstance(record["weather_code"], int)
        assert isinstance(record["summary"], str)


@pytest.mark.asyncio
async def test_weather_regions_match_audience(demo_api: DemoAPI) -> None:
    reply = await fetch(demo_api.url("/weather"))
    codes = [record["region_code"] for record in reply.data["regions"]]
    assert codes == list(REGIONS)


@pytest.mark.asyncio
async def test_weather_default_date(demo_api: DemoAPI) -> None:
    reply = await fetch(demo_api.url("/weather"))
    assert reply.data["date"] == "2026-10-03"


@pytest.mark.asyncio
async def test_weather_same_date_same_values(demo_api: DemoAPI) -> None:
    first = await fetch(demo_api.url("/weather?date=2027-03-14"))
    second = await fetch(demo_api.url("/weather?date=2027-03-14"))
    assert first.data == second.data


@pytest.mark.asyncio
async def test_weather_dates_differ(demo_api: DemoAPI) -> None:
    first = await fetch(demo_api.url("/weather?date=2026-10-03"))
    second = await fetch(demo_api.url("/weather?date=2026-10-04"))
    assert first.data["regions"] != second.data["regions"]


@pytest.mark.asyncio
async def test_weather_summaries_vary(demo_api: DemoAPI) -> None:
    reply = await fetch(demo_api.url("/weather?date=2026-10-03"))
    summaries = {record["summary"] for record in reply.data["regions"]}
    assert len(summaries) >= 2


@pytest.mark.asyncio
@pytest.mark.parametrize("raw_date", ["2026-13-01", "03.10.2026", "20261003", "x"])
async def test_weather_invalid_date_400(demo_api: DemoAPI, raw_date: str) -> None:
    reply = await fetch(demo_api.url(f"/weather?date={raw_date}"))
    assert reply.status == 400
    assert raw_date in reply.data["error"]


# Stored recordings


@pytest.mark.asyncio
async def test_forecast_keeps_nulls(demo_api: DemoAPI) -> None:
    reply = await fetch(demo_api.url("/forecast"))
    assert reply.data["current"]["albedo"] is None
    assert reply.data["daily"]["moonrise"][1] is None


@pytest.mark.asyncio
async def test_air_quality_unit_decoded(demo_api: DemoAPI) -> None:
    reply = await fetch(demo_api.url("/air-quality"))
    assert reply.data["current_units"]["pm2_5"] == "μg/m³"
    assert reply.data["current"]["pm2_5"] == 22.1


@pytest.mark.asyncio
async def test_fixtures_match_ids(demo_api: DemoAPI) -> None:
    reply = await fetch(demo_api.url("/fixtures"))
    ids = [match["id"] for match in reply.data["matches"]]
    assert ids == [435943, 538050]


@pytest.mark.asyncio
async def test_fx_keeps_number_spelling(demo_api: DemoAPI) -> None:
    reply = await fetch(demo_api.url("/fx"))
    assert '"USD": 1.1050' in reply.text
    assert reply.data["rates"]["2025-07-01"]["USD"] == 1.105


@pytest.mark.asyncio
async def test_holidays_top_level_array(demo_api: DemoAPI) -> None:
    reply = await fetch(demo_api.url("/holidays"))
    assert isinstance(reply.data, list)
    assert reply.data[0]["countryCode"] == "GB"


@pytest.mark.asyncio
async def test_products_price_is_string(demo_api: DemoAPI) -> None:
    reply = await fetch(demo_api.url("/products.json"))
    assert reply.data[0]["variants"][0]["price"] == "199.00"


# POST /vouchers


@pytest.mark.asyncio
async def test_vouchers_returns_count_codes(demo_api: DemoAPI) -> None:
    body = {"campaign": "CMP-DE-01", "count": 25}
    reply = await fetch(demo_api.url("/vouchers"), method="POST", json_body=body)
    assert reply.status == 200
    assert reply.data["campaign"] == "CMP-DE-01"
    assert len(reply.data["codes"]) == 25
    assert len({voucher["code"] for voucher in reply.data["codes"]}) == 25
    assert all(voucher["value_eur"] > 0 for voucher in reply.data["codes"])


@pytest.mark.asyncio
async def test_vouchers_deterministic(demo_api: DemoAPI) -> None:
    body = {"campaign": "CMP-FR-01", "count": 3}
    first = await fetch(demo_api.url("/vouchers"), method="POST", json_body=body)
    second = await fetch(demo_api.url("/vouchers"), method="POST", json_body=body)
    assert first.data == second.data


@pytest.mark.asyncio
async def test_vouchers_differ_by_campaign(demo_api: DemoAPI) -> None:
    url = demo_api.url("/vouchers")
    first = await fetch(url, method="POST", json_body={"campaign": "A", "count": 1})
    second = await fetch(url, method="POST", json_body={"campaign": "B", "count": 1})
    assert first.data["codes"][0]["code"] != second.data["codes"][0]["code"]


@pytest.mark.asyncio
async def test_vouchers_maximum_count_accepted(demo_api: DemoAPI) -> None:
    body = {"campaign": "CMP-US-01", "count": MAX_VOUCHERS}
    reply = await fetch(demo_api.url("/vouchers"), method="POST", json_body=body)
    assert reply.status == 200
    assert len(reply.data["codes"]) == MAX_VOUCHERS


@pytest.mark.asyncio
async def test_vouchers_over_limit_413(demo_api: DemoAPI) -> None:
    body = {"campaign": "CMP-US-01", "count": MAX_VOUCHERS + 1}
    reply = await fetch(demo_api.url("/vouchers"), method="POST", json_body=body)
    assert reply.status == 413
    assert reply.content_type == JSON_CONTENT_TYPE
    assert str(MAX_VOUCHERS) in reply.data["error"]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "body",
    [
        [1, 2],
        {"count": 3},
        {"campaign": "", "count": 3},
        {"campaign": "CMP-DE-01"},
        {"campaign": "CMP-DE-01", "count": 0},
        {"campaign": "CMP-DE-01", "count": "3"},
        {"campaign": "CMP-DE-01", "count": True},
    ],
)
async def test_vouchers_invalid_body_400(demo_api: DemoAPI, body: Any) -> None:
    reply = await fetch(demo_api.url("/vouchers"), method="POST", json_body=body)
    assert reply.status == 400
    assert reply.data["error"].startswith("invalid")


@pytest.mark.asyncio
async def test_vouchers_non_json_body_400(demo_api: DemoAPI) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.post(demo_api.url("/vouchers"), data=b"not json") as response,
    ):
        data = await response.json()
    assert response.status == 400
    assert data["error"].startswith("invalid request body")


# Request counting and delay


@pytest.mark.asyncio
async def test_request_count_per_path(fresh_api: DemoAPI) -> None:
    for market in ("DE", "FR", "GB"):
        await fetch(fresh_api.url(f"/offers?market={market}"))
    await fetch(fresh_api.url("/weather"))
    assert fresh_api.request_count("/offers") == 3
    assert fresh_api.request_count("/weather") == 1
    assert fresh_api.request_count("/fx") == 0
    assert fresh_api.request_count() == 4


@pytest.mark.asyncio
async def test_request_count_includes_errors(fresh_api: DemoAPI) -> None:
    await fetch(fresh_api.url("/offers?market=XX"))
    await fetch(fresh_api.url("/missing"))
    assert fresh_api.request_count("/offers") == 1
    assert fresh_api.request_count("/missing") == 1


def test_request_counts_app_key() -> None:
    app = make_demo_app()
    app[REQUEST_COUNTS]["/offers"] += 2
    assert request_count(app, "/offers") == 2
    assert request_count(app) == 2


@pytest.mark.asyncio
async def test_delay_ms_delays_response(demo_api: DemoAPI) -> None:
    started = time.perf_counter()
    reply = await fetch(demo_api.url("/offers?market=DE&delay_ms=300"))
    elapsed = time.perf_counter() - started
    assert reply.status == 200
    assert elapsed >= 0.3


@pytest.mark.asyncio
async def test_delay_ms_on_post(demo_api: DemoAPI) -> None:
    url = demo_api.url("/vouchers?delay_ms=200")
    started = time.perf_counter()
    await fetch(url, method="POST", json_body={"campaign": "C", "count": 1})
    assert time.perf_counter() - started >= 0.2


@pytest.mark.asyncio
@pytest.mark.parametrize("raw_delay", ["-5", "abc", "1.5", "30001"])
async def test_delay_ms_invalid_400(demo_api: DemoAPI, raw_delay: str) -> None:
    reply = await fetch(demo_api.url(f"/fx?delay_ms={raw_delay}"))
    assert reply.status == 400
    assert "delay_ms" in reply.data["error"]
