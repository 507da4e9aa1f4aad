"""Cancellation mid-call: a KeyboardInterrupt or a cancelled task leaves nothing behind.

A raw loopback server keeps each campaign's request waiting at one stage: no response
yet, half a body sent, or a 503 whose Retry-After puts the client to sleep. The call
is then interrupted, and the test checks that no thread, task or client session is
left, that the server saw every connection close, and that the next call works.
"""

from __future__ import annotations

import asyncio
import gc
import signal
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import aiohttp
import pandas as pd
import pytest
from faults import RawServer, json_handler, read_request

from extapi_pandas.demo import BackgroundServer

Serve = Callable[..., BackgroundServer]

CAMPAIGNS = 3
OPTIONS: dict[str, Any] = {
    "campaign": "campaign",
    "params": {"c": "{campaign}"},
    "columns": {"value": "$.value"},
    "timeout": 30,
}
STAGES = ["headers", "body", "retry_wait"]


async def hold_at_headers(
    server: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    await read_request(server, reader)
    await server.wait_for_close(reader)


async def hold_in_body(
    server: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    await read_request(server, reader)
    writer.write(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        b'Content-Length: 100\r\n\r\n{"value": '
    )
    await writer.drain()
    await server.wait_for_close(reader)


async def hold_in_retry_wait(
    server: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    await read_request(server, reader)
    # The connection stays open (keep-alive) while the client sleeps 20 s.
    writer.write(
        b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 20\r\n"
        b"Content-Length: 0\r\n\r\n"
    )
    await writer.drain()
    await server.wait_for_close(reader)


HANDLERS = {
    "headers": hold_at_headers,
    "body": hold_in_body,
    "retry_wait": hold_in_retry_wait,
}


@pytest.fixture(params=STAGES)
def held_server(request: pytest.FixtureRequest) -> Iterator[RawServer]:
    """Start a raw server that keeps every request waiting at one of the stages."""
    with RawServer(HANDLERS[request.param]) as server:
        yield server


@pytest.fixture
def good_url(serve: Serve) -> str:
    server = serve({"/ok": json_handler('{"value": 7}')})
    return server.url("/ok")


def audience() -> pd.DataFrame:
    keys = [f"C{number}" for number in range(CAMPAIGNS)]
    return pd.DataFrame({"campaign": pd.array(keys * 2, dtype="str")})


def unclosed_resources() -> list[str]:
    """Collect garbage and return open client sessions and resource warnings."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gc.collect()
        sessions = [
            repr(o)
            for o in gc.get_objects()
            if isinstance(o, aiohttp.ClientSession) and not o.closed
        ]
    return sessions + [
        str(w.message)
        for w in caught
        if issubclass(w.category, ResourceWarning) or "Unclosed" in str(w.message)
    ]


def wait_for_requests(server: RawServer, count: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while server.requests < count:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def interrupt_after_requests(server: RawServer) -> threading.Thread:
    """Send SIGINT to the main thread once every campaign's request has arrived.

    After 10 s without them it sends the signal anyway: the call's 30 s timeout
    keeps the main thread inside `enrich` until then, and the test then fails on
    the request count instead of hanging.
    """
    main = threading.main_thread().ident
    assert main is not None

    def interrupt() -> None:
        wait_for_requests(server, CAMPAIGNS)
        signal.pthread_kill(main, signal.SIGINT)

    thread = threading.Thread(target=interrupt, name="test-interrupter", daemon=True)
    thread.start()
    return thread


@pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(),
    reason="SIGINT reaches only the main thread",
)
def test_interrupt_leaves_nothing_running(
    held_server: RawServer, good_url: str
) -> None:
    threads_before = set(threading.enumerate())
    frame = audience()

    interrupter = interrupt_after_requests(held_server)
    with pytest.raises(KeyboardInterrupt):
        frame.extapi.enrich(held_server.url("/held"), **OPTIONS)
    interrupter.join()

    assert held_server.requests == CAMPAIGNS
    assert set(threading.enumerate()) == threads_before
    assert held_server.wait_disconnects(CAMPAIGNS) == CAMPAIGNS
    assert unclosed_resources() == []
    result = frame.extapi.enrich(good_url, **OPTIONS)
    assert result["value"].tolist() == [7] * len(frame)


async def wait_for_requests_async(server: RawServer, count: int) -> None:
    async with asyncio.timeout(10):
        while server.requests < count:
            await asyncio.sleep(0.005)


@pytest.mark.asyncio
async def test_cancelled_task_leaves_nothing_running(
    held_server: RawServer, good_url: str
) -> None:
    threads_before = set(threading.enumerate())
    tasks_before = asyncio.all_tasks()
    frame = audience()

    task = asyncio.create_task(
        frame.extapi.aenrich(held_server.url("/held"), **OPTIONS)
    )
    await wait_for_requests_async(held_server, CAMPAIGNS)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert asyncio.all_tasks() == tasks_before
    assert set(threading.enumerate()) == threads_before
    disconnects = await asyncio.to_thread(held_server.wait_disconnects, CAMPAIGNS)
    assert disconnects == CAMPAIGNS
    assert unclosed_resources() == []
    result = await frame.extapi.aenrich(good_url, **OPTIONS)
    assert result["value"].tolist() == [7] * len(frame)
