"""Retries: which failures repeat, how long to wait, and which methods are safe."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest
from aiohttp import web
from conftest import HITS
from faults import unchanged

import extapi_pandas  # noqa: F401  (registers df.extapi)
from extapi_pandas import Retry, Timeout
from extapi_pandas.demo import BackgroundServer
from extapi_pandas.errors import ConfigurationError, ConnectError, HTTPStatusError
from extapi_pandas.http.retry import is_repeatable, parse_retry_after, retry_delay
from extapi_pandas.options import RETRYABLE_STATUSES

Serve = Callable[..., BackgroundServer]
COLUMNS = {"pct": "$.pct"}
FAST = Retry(attempts=3, backoff=0.0)


def audience() -> pd.DataFrame:
    return pd.DataFrame({"campaign": ["summer", "summer"], "profile": [1, 2]})


def flaky(
    failures: int, status: int, headers: dict[str, str] | None = None, path: str = "/o"
) -> dict[str, Callable[..., Any]]:
    """Routes whose handler fails `failures` times with `status`, then succeeds."""
    count = 0

    async def handle(request: web.Request) -> web.Response:
        nonlocal count
        count += 1
        if count <= failures:
            return web.Response(status=status, text="busy", headers=headers)
        return web.Response(body=b'{"pct": 12}', content_type="application/json")

    return {f"* {path}": handle}


@pytest.mark.parametrize("status", sorted(RETRYABLE_STATUSES))
def test_retryable_status_is_retried(serve: Serve, status: int) -> None:
    server = serve(flaky(2, status))

    result = audience().extapi.enrich(server.url("/o"), columns=COLUMNS, retries=FAST)

    assert result["pct"].tolist() == [12, 12]
    assert server.app[HITS]["/o"] == 3
    campaign = result.attrs["extapi"]["campaigns"][0]
    assert campaign["retried_after"] == [f"http_{status}"] * 2
    assert campaign["attempts"] == 3


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
def test_client_error_not_retried(serve: Serve, status: int) -> None:
    server = serve(flaky(5, status))
    frame = audience()

    with unchanged(frame), pytest.raises(HTTPStatusError, match=f"HTTP {status}"):
        frame.extapi.enrich(server.url("/o"), columns=COLUMNS, retries=FAST)

    assert server.app[HITS]["/o"] == 1


def test_retries_exhausted_raise_last(serve: Serve) -> None:
    server = serve(flaky(10, 503))

    with pytest.raises(
        HTTPStatusError, match=r"HTTP 503.*gave up after 4 attempts"
    ) as caught:
        audience().extapi.enrich(server.url("/o"), columns=COLUMNS, retries=FAST)

    assert server.app[HITS]["/o"] == 4
    assert caught.value.code == "http_503"


def test_default_is_three_retries(serve: Serve) -> None:
    server = serve(flaky(10, 503, headers={"Retry-After": "0"}))

    with pytest.raises(HTTPStatusError):
        audience().extapi.enrich(server.url("/o"), columns=COLUMNS)

    assert server.app[HITS]["/o"] == 4


def test_zero_retries_sends_once(serve: Serve) -> None:
    server = serve(flaky(1, 503))

    with pytest.raises(HTTPStatusError):
        audience().extapi.enrich(server.url("/o"), columns=COLUMNS, retries=0)

    assert server.app[HITS]["/o"] == 1


def test_post_not_retried_by_default(serve: Serve) -> None:
    server = serve(flaky(1, 503))

    with pytest.raises(HTTPStatusError, match=r"not retried.*unsafe_methods=True"):
        audience().extapi.enrich(
            server.url("/o"),
            method="POST",
            json={"n": 1},
            columns=COLUMNS,
            retries=FAST,
        )

    assert server.app[HITS]["/o"] == 1


@pytest.mark.parametrize(
    "options",
    [
        {"retries": Retry(attempts=2, backoff=0.0, unsafe_methods=True)},
        {"retries": FAST, "headers": {"Idempotency-Key": "campaign-{campaign}"}},
    ],
    ids=["unsafe_methods", "idempotency-key"],
)
def test_post_retried_when_declared_safe(serve: Serve, options: dict[str, Any]) -> None:
    server = serve(flaky(1, 503))

    result = audience().extapi.enrich(
        server.url("/o"), method="POST", json={"n": 1}, columns=COLUMNS, **options
    )

    assert result["pct"].tolist() == [12, 12]
    assert server.app[HITS]["/o"] == 2


def test_put_is_retried(serve: Serve) -> None:
    server = serve(flaky(1, 502))

    audience().extapi.enrich(
        server.url("/o"), method="PUT", json={"n": 1}, columns=COLUMNS, retries=FAST
    )

    assert server.app[HITS]["/o"] == 2


def test_retry_after_beyond_timeout_fails_fast(serve: Serve) -> None:
    server = serve(flaky(1, 429, headers={"Retry-After": "120"}))

    with pytest.raises(
        HTTPStatusError,
        match=r"Retry-After asked for 120 s, more "
        r"than the .* left of the total",
    ):
        audience().extapi.enrich(
            server.url("/o"), columns=COLUMNS, retries=FAST, timeout=5
        )

    assert server.app[HITS]["/o"] == 1


def test_retry_after_zero_is_honoured(serve: Serve) -> None:
    slow_backoff = Retry(attempts=1, backoff=1000.0, max_backoff=1000.0)
    server = serve(flaky(1, 503, headers={"Retry-After": "0"}))

    result = audience().extapi.enrich(
        server.url("/o"), columns=COLUMNS, retries=slow_backoff, timeout=20
    )

    assert result["pct"].tolist() == [12, 12]


def test_connection_refused_retried(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    server = serve({"/o": flaky(0, 200)["* /o"]})
    url = server.url("/o")
    server.stop()  # nothing listens on the port any more
    caplog.set_level(logging.WARNING, logger="extapi_pandas")

    with pytest.raises(ConnectError, match=r"connecting failed"):
        audience().extapi.enrich(
            url,
            method="POST",
            json={"n": 1},
            columns=COLUMNS,
            retries=Retry(attempts=2, backoff=0.0),
        )

    retries = [r for r in caplog.records if r.getMessage().startswith("retrying")]
    assert len(retries) == 2


def test_retry_logged_with_delay_and_reason(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    server = serve(flaky(1, 503))
    caplog.set_level(logging.INFO, logger="extapi_pandas")

    audience().extapi.enrich(server.url("/o"), columns=COLUMNS, retries=FAST)

    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "in 0.00 s (attempt 2 of 4) after http_503" in warnings[0].getMessage()
    requests = [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.INFO and " -> " in r.getMessage()
    ]
    assert len(requests) == 2
    assert requests[0].startswith("GET http://127.0.0.1:")
    assert "-> 503" in requests[0]
    assert "attempt 1)" in requests[0]
    assert "attempt 2)" in requests[1]


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("3", 3.0),
        (" 0 ", 0.0),
        ("1.5", 1.5),
        ("Wed, 21 Oct 2015 07:28:10 GMT", 10.0),
        ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),
        ("-1", None),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(value: str | None, seconds: float | None) -> None:
    now = dt.datetime(2015, 10, 21, 7, 28, 0, tzinfo=dt.UTC)

    assert parse_retry_after(value, now=now) == seconds


def test_backoff_is_full_jitter() -> None:
    retry = Retry(backoff=0.5, max_backoff=3.0)

    delays = {n: [retry.delay(n) for _ in range(200)] for n in (1, 2, 3, 4, 5)}

    for number, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 3.0), (5, 3.0)]:
        assert all(0 <= d <= ceiling for d in delays[number])
        assert min(delays[number]) < ceiling / 4


def test_delay_none_past_deadline() -> None:
    retry = Retry(backoff=0.0)

    assert retry_delay(retry, 1, retry_after=30.0, remaining=10.0) is None
    assert retry_delay(retry, 1, retry_after=3.0, remaining=10.0) == 3.0
    assert retry_delay(retry, 1, retry_after=None, remaining=10.0) == 0.0


@pytest.mark.parametrize(
    ("method", "headers", "retry", "expected"),
    [
        ("GET", {}, Retry(), True),
        ("PUT", {}, Retry(), True),
        ("POST", {}, Retry(), False),
        ("POST", {"idempotency-key": "k"}, Retry(), True),
        ("POST", {}, Retry(unsafe_methods=True), True),
    ],
)
def test_is_repeatable(
    method: str, headers: dict[str, str], retry: Retry, expected: bool
) -> None:
    assert is_repeatable(method, headers, retry) is expected


@pytest.mark.parametrize(
    ("options", "pattern"),
    [
        ({"attempts": -1}, r"Retry.attempts must be zero or more"),
        ({"attempts": 1.5}, r"Retry.attempts must be a whole number"),
        ({"backoff": -0.1}, r"Retry.backoff must be zero or more"),
        ({"statuses": {404}}, r"cannot include 404"),
        ({"statuses": {200}}, r"cannot include 200"),
        ({"statuses": {"503"}}, r"whole numbers, got '503'"),
    ],
)
def test_invalid_retry_rejected(options: dict[str, Any], pattern: str) -> None:
    with pytest.raises(ConfigurationError, match=pattern):
        Retry(**options)


def test_retry_accepts_too_early() -> None:
    assert 425 in Retry(statuses={425, 503}).statuses


@pytest.mark.parametrize(
    ("value", "pattern"),
    [
        (0, r"timeout.total must be more than zero"),
        ("10", r"timeout.total must be a number"),
    ],
)
def test_invalid_timeout_rejected(value: Any, pattern: str) -> None:
    with pytest.raises(ConfigurationError, match=pattern):
        Timeout.coerce(value)
