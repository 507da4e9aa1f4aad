"""Fault-injection helpers for the fetch-stage tests: raw loopback sockets, checks."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import copy
import threading
import warnings
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pandas as pd
from aiohttp import web

__all__ = [
    "RawServer",
    "enrich_warnings",
    "json_handler",
    "read_request",
    "unchanged",
]

RawHandler = Callable[
    ["RawServer", asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]
]


class RawServer:
    """A TCP server on 127.0.0.1 whose handler writes whatever bytes it likes.

    For faults that aiohttp's server refuses to produce: a body shorter than its
    Content-Length, a chunked stream cut short, a missing Content-Type, a server
    that drips bytes or never responds. The handler runs on the server's own event
    loop thread; `requests` counts request heads read by `read_request`, and
    `disconnects` counts connections that the client closed while the handler
    waited with `wait_for_close`.
    """

    def __init__(self, handler: RawHandler) -> None:
        self._handler = handler
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, daemon=True, name="RawServer"
        )
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._lock = threading.Lock()
        self.requests = 0
        self.disconnects = 0
        self.port = 0

    def __enter__(self) -> RawServer:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._start(), self._loop)
        self.port = future.result(timeout=10)
        return self

    def __exit__(self, *exc_info: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def url(self, path: str) -> str:
        """Return the http URL of `path` on this server."""
        return f"http://127.0.0.1:{self.port}/{path.lstrip('/')}"

    def count_request(self) -> None:
        """Count one request head read."""
        with self._lock:
            self.requests += 1

    def wait_disconnects(self, expected: int, timeout: float = 10.0) -> int:
        """Wait until `expected` client disconnects were seen; return the count."""
        future = asyncio.run_coroutine_threadsafe(
            self._wait_disconnects(expected, timeout), self._loop
        )
        with contextlib.suppress(concurrent.futures.TimeoutError):
            future.result(timeout=timeout + 1)
        return self.disconnects

    async def wait_for_close(self, reader: asyncio.StreamReader) -> None:
        """Wait until the client closes the connection, and count it."""
        while await reader.read(1024):
            pass
        self.disconnects += 1

    async def _wait_disconnects(self, expected: int, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while self.disconnects < expected:
                    await asyncio.sleep(0.01)

    async def _start(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._handler(self, reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()


async def read_request(server: RawServer, reader: asyncio.StreamReader) -> str:
    """Read one request head (and its body, if it announces one); return the head."""
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
    server.count_request()
    for line in head.split("\r\n"):
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length" and value.strip().isdigit():
            await reader.readexactly(int(value))
    return head


def json_handler(
    body: bytes | str,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """Return an aiohttp handler that responds with `body` and `headers`."""
    payload = body.encode() if isinstance(body, str) else body
    merged = {"Content-Type": "application/json", **(headers or {})}

    async def handle(request: web.Request) -> web.Response:
        return web.Response(body=payload, status=status, headers=merged)

    return handle


@contextlib.contextmanager
def unchanged(frame: pd.DataFrame) -> Iterator[None]:
    """Check that the block leaves `frame` as it was, also when the block raises."""
    before = copy.deepcopy(frame)
    attrs: dict[str, Any] = copy.deepcopy(frame.attrs)
    try:
        yield
    finally:
        pd.testing.assert_frame_equal(frame, before)
        assert frame.attrs == attrs


def enrich_warnings(
    audience: pd.DataFrame, source: Any, **options: Any
) -> tuple[pd.DataFrame, list[str]]:
    """Run `audience.extapi.enrich` and return the result and its warning messages."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = audience.extapi.enrich(source, **options)
    return result, [
        str(w.message) for w in caught if issubclass(w.category, UserWarning)
    ]
