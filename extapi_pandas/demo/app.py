"""Demo REST API that serves real-shaped JSON for examples, tests and benchmarks."""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import json
import logging
import re
import zlib
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from importlib import resources
from typing import Any

from aiohttp import web

__all__ = [
    "MAX_DELAY_MS",
    "MAX_VOUCHERS",
    "REQUEST_COUNTS",
    "make_demo_app",
    "request_count",
]

logger = logging.getLogger(__name__)

REQUEST_COUNTS: web.AppKey[Counter[str]] = web.AppKey(
    "extapi_demo_request_counts", Counter
)
"""Number of requests received per URL path, whatever their status."""

MAX_VOUCHERS = 10_000
"""Maximum `count` accepted by `POST /vouchers`. A larger count gets status 413."""

MAX_DELAY_MS = 30_000
"""Maximum value of the `delay_ms` query parameter, in milliseconds."""

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_DATE_PATTERN = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DELAY_PATTERN = re.compile(r"[0-9]{1,9}")

# Descriptions of the WMO weather interpretation codes (WMO table 4677) that
# `/weather` can return, worded as in the Open-Meteo forecast API documentation.
_WMO_SUMMARIES = {
    0: "clear sky",
    1: "mainly clear",
    2: "partly cloudy",
    3: "overcast",
    45: "fog",
    48: "depositing rime fog",
    61: "slight rain",
    63: "moderate rain",
    71: "slight snow fall",
    73: "moderate snow fall",
}

_VOUCHER_VALUES_EUR = (5, 5, 5, 10, 10, 20)

# Endpoints that return a stored response unchanged, with the file that contains it.
# The files are trimmed recordings of public APIs:
#   openmeteo_forecast.json     Open-Meteo /v1/forecast, a test fixture of the
#                               frenck/python-open-meteo client
#   openmeteo_air_quality.json  Open-Meteo /v1/air-quality, same client
#   football_data_matches.json  football-data.org v4 /matches, referee names redacted
#   frankfurter_timeseries.json Frankfurter v1 period rates (EUR to USD)
#   nager_public_holidays_gb.json  Nager.Date /api/v3/PublicHolidays/2025/GB
#   shopify_products.json       Shopify REST Admin /products.json, a fixture of
#                               Shopify/shopify_python_api
_STORED_RESPONSES = {
    "/forecast": "openmeteo_forecast.json",
    "/air-quality": "openmeteo_air_quality.json",
    "/fixtures": "football_data_matches.json",
    "/fx": "frankfurter_timeseries.json",
    "/holidays": "nager_public_holidays_gb.json",
    "/products.json": "shopify_products.json",
}


@dataclass(frozen=True)
class _DemoData:
    """Parsed data files that the dynamic endpoints build their responses from."""

    offers: dict[str, Any]
    weather_regions: dict[str, Any]
    forecast_daily: dict[str, list[Any]]


_DEMO_DATA: web.AppKey[_DemoData] = web.AppKey("extapi_demo_data", _DemoData)


def make_demo_app() -> web.Application:
    """Build the demo API application with a fresh request counter.

    Every endpoint accepts the query parameter `delay_ms` (0 to `MAX_DELAY_MS`) and
    waits that long before it responds. Errors are JSON objects of the form
    `{"error": "<message>"}`.

    Returns:
        The application, ready to be served by `BackgroundServer` or `web.run_app`.
    """
    app = web.Application(
        middlewares=[_count_requests, _convert_errors_to_json, _apply_delay]
    )
    app[REQUEST_COUNTS] = Counter()
    app[_DEMO_DATA] = _DemoData(
        offers=json.loads(_read_data_file("offers.json")),
        weather_regions=json.loads(_read_data_file("weather_regions.json")),
        forecast_daily=json.loads(_read_data_file("openmeteo_forecast.json"))["daily"],
    )
    app.router.add_get("/offers", _handle_offers)
    app.router.add_get("/weather", _handle_weather)
    app.router.add_post("/vouchers", _handle_vouchers)
    for path, file_name in _STORED_RESPONSES.items():
        app.router.add_get(path, _make_stored_handler(_read_data_file(file_name)))
    return app


def request_count(app: web.Application, path: str | None = None) -> int:
    """Return the number of requests the demo app received.

    Args:
        app: An application built by `make_demo_app`.
        path: URL path without query, such as `"/offers"`. None counts every path.

    Returns:
        The number of requests, including rejected ones.
    """
    counts = app[REQUEST_COUNTS]
    if path is not None:
        return counts[path]
    # In CPython, dict() copies a Counter in one C call under the GIL, so the sum
    # does not fail while the server thread adds a new path.
    return sum(dict(counts).values())


def _read_data_file(name: str) -> bytes:
    return (resources.files("extapi_pandas.demo") / "data" / name).read_bytes()


def _json_response(data: Any, *, status: int = 200) -> web.Response:
    # ensure_ascii=False keeps names like "Sac à dos" as UTF-8 bytes, which tests
    # the client's charset handling.
    return web.json_response(
        data, status=status, dumps=functools.partial(json.dumps, ensure_ascii=False)
    )


def _json_error(message: str, status: int) -> web.Response:
    return _json_response({"error": message}, status=status)


@web.middleware
async def _count_requests(
    request: web.Request, handler: _Handler
) -> web.StreamResponse:
    """Count the request, and log it if the response is an error."""
    request.app[REQUEST_COUNTS][request.path] += 1
    response = await handler(request)
    if response.status >= 400:
        logger.info(
            "Demo API returned %d for %s %s",
            response.status,
            request.method,
            request.path_qs,
        )
    return response


@web.middleware
async def _convert_errors_to_json(
    request: web.Request, handler: _Handler
) -> web.StreamResponse:
    """Turn aiohttp's plain-text 4xx/5xx responses and unexpected errors into JSON."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = _json_error(exc.reason.lower(), exc.status)
        if "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    except Exception:
        logger.exception("Demo API failed on %s %s", request.method, request.path_qs)
        return _json_error("internal server error", 500)


@web.middleware
async def _apply_delay(request: web.Request, handler: _Handler) -> web.StreamResponse:
    raw_delay = request.query.get("delay_ms")
    if raw_delay is not None:
        delay_ms = _parse_delay_ms(raw_delay)
        if delay_ms is None:
            return _json_error(
                f"invalid delay_ms {raw_delay!r}: expected an integer from 0 to "
                f"{MAX_DELAY_MS}",
                400,
            )
        await asyncio.sleep(delay_ms / 1000)
    return await handler(request)


def _parse_delay_ms(raw_delay: str) -> int | None:
    if not _DELAY_PATTERN.fullmatch(raw_delay):
        return None
    delay_ms = int(raw_delay)
    return delay_ms if delay_ms <= MAX_DELAY_MS else None


def _make_stored_handler(body: bytes) -> _Handler:
    # The bytes are served as stored, so number spellings such as 1.1050 and the
    # \u escapes of the recording reach the client unchanged.
    async def handle_stored(request: web.Request) -> web.StreamResponse:
        return web.Response(body=body, content_type="application/json", charset="utf-8")

    return handle_stored


async def _handle_offers(request: web.Request) -> web.StreamResponse:
    """Return the offers of one market, with prices as strings like Shopify's."""
    market = request.query.get("market", "").strip().upper()
    if not market:
        return _json_error("missing query parameter: market", 400)
    market_offers = request.app[_DEMO_DATA].offers.get(market)
    if market_offers is None:
        return _json_error("unknown market", 404)
    return _json_response(
        {
            "market": market,
            "currency": market_offers["currency"],
            "offers": market_offers["offers"],
        }
    )


async def _handle_weather(request: web.Request) -> web.StreamResponse:
    """Return one weather record per region for the `date` query parameter."""
    daily = request.app[_DEMO_DATA].forecast_daily
    raw_date = request.query.get("date")
    if raw_date is None:
        day = date.fromisoformat(daily["time"][0])
    else:
        parsed = _parse_date(raw_date)
        if parsed is None:
            return _json_error(f"invalid date {raw_date!r}: expected YYYY-MM-DD", 400)
        day = parsed
    regions = _regional_weather(day, daily, request.app[_DEMO_DATA].weather_regions)
    return _json_response({"date": day.isoformat(), "regions": regions})


def _parse_date(raw_date: str) -> date | None:
    if not _DATE_PATTERN.fullmatch(raw_date):
        return None
    try:
        return date.fromisoformat(raw_date)
    except ValueError:
        return None


def _regional_weather(
    day: date, daily: dict[str, list[Any]], regions: dict[str, Any]
) -> list[dict[str, Any]]:
    """Derive per-region weather for a date from the recorded 3-day forecast.

    The date picks one recorded day (dates cycle through the recording). Each region
    adds its fixed offsets plus a jitter seeded by date and region, so a date always
    gives the same records.
    """
    first_day = date.fromisoformat(daily["time"][0])
    index = (day - first_day).days % len(daily["time"])
    base_temp_c = float(daily["temperature_2m_max"][index])
    base_precip_pct = int(daily["precipitation_probability_max"][index])
    base_code = int(daily["weather_code"][index])

    records = []
    for region_code, offsets in regions.items():
        jitter = _jitter(f"{day.isoformat()}:{region_code}")
        temp_max_c = round(base_temp_c + offsets["temp_offset_c"] + 1.5 * jitter, 1)
        precip_prob_pct = base_precip_pct + offsets["precip_offset_pct"]
        precip_prob_pct = min(100, max(0, precip_prob_pct + round(10 * jitter)))
        weather_code = _weather_code(precip_prob_pct, temp_max_c, base_code)
        records.append(
            {
                "region_code": region_code,
                "temp_max_c": temp_max_c,
                "precip_prob_pct": precip_prob_pct,
                "weather_code": weather_code,
                "summary": _WMO_SUMMARIES[weather_code],
            }
        )
    return records


def _jitter(key: str) -> float:
    """Map a key to a number in [-1, 1] that is the same in every process."""
    return zlib.crc32(key.encode()) / 0xFFFFFFFF * 2 - 1


def _weather_code(precip_prob_pct: int, temp_max_c: float, base_code: int) -> int:
    """Pick a WMO weather code that fits the precipitation probability.

    Between 25 % and 45 % the recorded day's own code is kept.
    """
    snow = temp_max_c < 2
    if precip_prob_pct >= 70:
        return 73 if snow else 63
    if precip_prob_pct >= 45:
        return 71 if snow else 61
    if precip_prob_pct >= 25:
        return base_code
    if precip_prob_pct >= 10:
        return 2
    return 1


async def _handle_vouchers(request: web.Request) -> web.StreamResponse:
    """Issue `count` deterministic voucher codes for a campaign."""
    try:
        body = await request.json()
    except ValueError:
        return _json_error("invalid request body: expected JSON", 400)
    if not isinstance(body, dict):
        return _json_error("invalid request body: expected a JSON object", 400)

    campaign = body.get("campaign")
    count = body.get("count")
    if not isinstance(campaign, str) or not campaign:
        return _json_error("invalid campaign: expected a non-empty string", 400)
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        return _json_error(f"invalid count {count!r}: expected a positive integer", 400)
    if count > MAX_VOUCHERS:
        return _json_error(
            f"count {count} exceeds the maximum of {MAX_VOUCHERS} vouchers per request",
            413,
        )
    codes = [_make_voucher(campaign, index) for index in range(count)]
    return _json_response({"campaign": campaign, "codes": codes})


def _make_voucher(campaign: str, index: int) -> dict[str, Any]:
    """Derive a voucher from campaign and index, such as `{"code": "K3QF-...", ...}`.

    The code is 80 bits of SHA-256 in base32, so codes of one campaign do not collide
    in practice.
    """
    digest = hashlib.sha256(f"{campaign}:{index}".encode()).digest()
    text = base64.b32encode(digest[:10]).decode("ascii")
    code = "-".join(text[start : start + 4] for start in range(0, 16, 4))
    value_eur = _VOUCHER_VALUES_EUR[digest[10] % len(_VOUCHER_VALUES_EUR)]
    return {"code": code, "value_eur": value_eur}
