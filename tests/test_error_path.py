"""The error path: on_error="continue" keeps going, on_error="raise" cleans up."""

from __future__ import annotations

import asyncio
import gc
import json
import threading
import warnings
from collections.abc import Iterator

import pandas as pd
import pytest
from faults import RawServer, enrich_warnings, read_request, unchanged

import extapi_pandas  # noqa: F401  (registers df.extapi)
from extapi_pandas import Retry, Timeout
from extapi_pandas.errors import HTTPStatusError

COLUMNS = {"pct": "$.pct"}
FAILURE_CODES = {
    "ok": "ok",
    "busy": "http_503",
    "gone": "http_404",
    "html": "invalid_json",
    "big": "too_large",
    "slow": "timeout",
    "inf": "validation_failed",
}


def http_response(status: int, body: bytes, content_type: str) -> bytes:
    reason = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}[status]
    return (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body


async def route_faults(
    server: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """Respond to /c/<name> with the fault that FAILURE_CODES names for it."""
    head = await read_request(server, reader)
    name = head.split(" ")[1].rsplit("/", 1)[-1]
    if name == "slow":
        await server.wait_for_close(reader)
        return
    answers = {
        "ok": (200, b'{"pct": 20}', "application/json"),
        "busy": (503, b"try later", "text/plain"),
        "gone": (404, b"no such campaign", "text/plain"),
        "html": (200, b"<!doctype html><title>Down</title>", "text/html"),
        "big": (200, b'{"pct": 1, "pad": "' + b"x" * 5000 + b'"}', "application/json"),
        "inf": (200, b'{"pct": Infinity}', "application/json"),
        "fail": (404, b"no such campaign", "text/plain"),
    }
    writer.write(http_response(*answers[name]))
    await writer.drain()


def fault_audience() -> pd.DataFrame:
    names = list(FAILURE_CODES)
    return pd.DataFrame(
        {
            "campaign": names + names[::-1],
            "profile": range(2 * len(names)),
        }
    )


Continued = tuple[pd.DataFrame, list[str], RawServer]


@pytest.fixture(scope="module")
def continued() -> Iterator[Continued]:
    """One call with on_error="continue" over every kind of failure."""
    frame = fault_audience()
    with RawServer(route_faults) as server, unchanged(frame):
        result, messages = enrich_warnings(
            frame,
            server.url("/c/{campaign}"),
            campaign="campaign",
            columns=COLUMNS,
            on_error="continue",
            max_bytes=4000,
            timeout=Timeout(total=0.5, connect=5, read=5),
            retries=Retry(attempts=1, backoff=0.0),
        )
    yield result, messages, server


def test_continue_sets_status_codes(continued: Continued) -> None:
    result, _, _ = continued

    expected = [FAILURE_CODES[name] for name in result["campaign"]]
    assert result["extapi_status"].tolist() == expected


def test_continue_nulls_failed_rows(continued: Continued) -> None:
    result, _, _ = continued

    ok = result["campaign"] == "ok"
    assert result.loc[ok, "pct"].tolist() == [20, 20]
    assert result.loc[~ok, "pct"].isna().all()
    assert result["pct"].dtype == "Int64"


def test_continue_keeps_audience_columns(continued: Continued) -> None:
    result, _, _ = continued

    pd.testing.assert_frame_equal(result[["campaign", "profile"]], fault_audience())


def test_continue_warns_once_summarising(continued: Continued) -> None:
    _, messages, _ = continued

    summaries = [m for m in messages if "campaign(s) failed" in m]
    assert len(summaries) == 1
    for code in set(FAILURE_CODES.values()) - {"ok"}:
        assert code in summaries[0]


def test_continue_provenance_lists_failures(continued: Continued) -> None:
    result, _, _ = continued

    entries = {
        entry["campaign"]: entry for entry in result.attrs["extapi"]["campaigns"]
    }
    assert entries["ok"]["status"] == "ok"
    assert "error" not in entries["ok"]
    assert entries["busy"]["status"] == "http_503"
    assert "responded with HTTP 503" in entries["busy"]["error"]
    assert "max_bytes" in entries["big"]["error"]
    assert "total timeout" in entries["slow"]["error"]
    assert "allow_infinity" in entries["inf"]["error"]
    json.dumps(result.attrs["extapi"])


def test_continue_retries_only_transient(continued: Continued) -> None:
    _, _, server = continued

    # One request per campaign plus one retry of the 503. The slow campaign's
    # only attempt is cut by the total timeout, which leaves no time to retry.
    assert server.requests == len(FAILURE_CODES) + 1


def hanging_audience() -> pd.DataFrame:
    return pd.DataFrame({"campaign": ["slow", "fail", "slow2", "slow3"]})


async def hang_or_fail(
    server: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    head = await read_request(server, reader)
    if "/c/fail" in head:
        await asyncio.sleep(0.1)  # the slow requests are in flight by now
        writer.write(http_response(404, b"no such campaign", "text/plain"))
        await writer.drain()
        return
    await server.wait_for_close(reader)


def loop_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("extapi")]


def test_raise_cancels_other_campaigns() -> None:
    frame = hanging_audience()

    with RawServer(hang_or_fail) as server:
        with unchanged(frame), pytest.raises(HTTPStatusError, match=r"'fail'.*404"):
            frame.extapi.enrich(
                server.url("/c/{campaign}"), campaign="campaign", columns=COLUMNS
            )
        disconnects = server.wait_disconnects(3)

    assert disconnects == 3
    assert server.requests == 4


def test_raise_leaves_no_thread() -> None:
    before = set(threading.enumerate())

    with RawServer(hang_or_fail) as server, pytest.raises(HTTPStatusError):
        hanging_audience().extapi.enrich(
            server.url("/c/{campaign}"), campaign="campaign", columns=COLUMNS
        )

    assert loop_threads() == []
    assert set(threading.enumerate()) <= before


def test_raise_leaves_no_unclosed_session() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with RawServer(hang_or_fail) as server, pytest.raises(HTTPStatusError):
            hanging_audience().extapi.enrich(
                server.url("/c/{campaign}"), campaign="campaign", columns=COLUMNS
            )
        gc.collect()

    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]


@pytest.mark.asyncio
async def test_aenrich_raise_leaves_no_task() -> None:
    frame = hanging_audience()

    with RawServer(hang_or_fail) as server:
        with unchanged(frame), pytest.raises(HTTPStatusError):
            await frame.extapi.aenrich(
                server.url("/c/{campaign}"), campaign="campaign", columns=COLUMNS
            )
        tasks = asyncio.all_tasks() - {asyncio.current_task()}
        disconnects = await asyncio.to_thread(server.wait_disconnects, 3)

    assert tasks == set()
    assert disconnects == 3


def test_continue_with_all_failed() -> None:
    frame = pd.DataFrame({"campaign": ["gone", "fail"]})

    with RawServer(route_faults) as server, unchanged(frame):
        result, messages = enrich_warnings(
            frame,
            server.url("/c/{campaign}"),
            campaign="campaign",
            columns=COLUMNS,
            on_error="continue",
        )

    assert result["extapi_status"].tolist() == ["http_404", "http_404"]
    assert result["pct"].isna().all()
    assert any("2 of 2 campaign(s) failed" in m for m in messages)
