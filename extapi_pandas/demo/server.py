"""Serve an aiohttp application on a loopback port from a background thread."""

from __future__ import annotations

import asyncio
import concurrent.futures
import ipaddress
import itertools
import logging
import ssl
import threading
from types import TracebackType
from typing import Self

from aiohttp import web

from extapi_pandas.demo.app import make_demo_app, request_count

__all__ = ["BackgroundServer", "DemoAPI"]

logger = logging.getLogger(__name__)

_START_TIMEOUT_S = 10.0
# Requests still running at stop() get this long to finish before their
# connections are closed, so a pending `delay_ms` request does not hold up stop().
_SHUTDOWN_TIMEOUT_S = 1.0
_STOP_TIMEOUT_S = _SHUTDOWN_TIMEOUT_S + 10.0
_thread_numbers = itertools.count(1)


class BackgroundServer:
    """An aiohttp application server on a loopback address, run in a daemon thread.

    The thread owns its own event loop, so synchronous code can start the server,
    send requests to it and stop it. The OS chooses a free port. A server starts at
    most once, so `start()` after `stop()` raises RuntimeError.

    Example:
        >>> with BackgroundServer(app) as server:
        ...     url = server.url("/offers?market=DE")

    Args:
        app: The application to serve. It must not be served anywhere else.
        host: Loopback IP address to listen on (127.0.0.0/8 or ::1).
        ssl_context: Server-side TLS context. With it, the server uses HTTPS.

    Raises:
        ValueError: If `host` is not a loopback IP address.
    """

    def __init__(
        self,
        app: web.Application,
        *,
        host: str = "127.0.0.1",
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        _validate_loopback_host(host)
        self._app = app
        self._host = host
        self._ssl_context = ssl_context
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop_event: asyncio.Event | None = None
        self._port: int | None = None
        self._started_once = False

    @property
    def app(self) -> web.Application:
        """The served application."""
        return self._app

    @property
    def host(self) -> str:
        """The loopback address the server listens on."""
        return self._host

    @property
    def is_running(self) -> bool:
        """Whether the server has started and not yet stopped."""
        return self._port is not None

    @property
    def port(self) -> int:
        """The TCP port the server listens on.

        Raises:
            RuntimeError: If the server is not running.
        """
        if self._port is None:
            raise RuntimeError("server is not running: call start() first")
        return self._port

    @property
    def base_url(self) -> str:
        """The URL of the server root without a trailing slash."""
        scheme = "https" if self._ssl_context is not None else "http"
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"{scheme}://{host}:{self.port}"

    def url(self, path: str) -> str:
        """Return the absolute URL of a path such as "/offers?market=DE" or "fx"."""
        return f"{self.base_url}/{path.lstrip('/')}"

    def start(self) -> Self:
        """Start the event loop thread and block until the server is listening.

        Returns:
            This server, so that `server = BackgroundServer(app).start()` works.

        Raises:
            RuntimeError: If the server was started before, or did not start within
                the start timeout.
            OSError: If the address cannot be bound.
        """
        with self._lock:
            if self._started_once:
                raise RuntimeError(
                    "server was already started: create a new BackgroundServer"
                )
            self._started_once = True
            started: concurrent.futures.Future[int] = concurrent.futures.Future()
            self._loop = asyncio.new_event_loop()
            self._stop_event = asyncio.Event()
            self._thread = threading.Thread(
                target=self._run_thread,
                args=(self._loop, self._stop_event, started),
                name=f"BackgroundServer-{next(_thread_numbers)}",
                daemon=True,
            )
            self._thread.start()
            try:
                self._port = started.result(timeout=_START_TIMEOUT_S)
            except TimeoutError:
                self._stop_thread()
                raise RuntimeError(
                    f"server on {self._host} did not start within {_START_TIMEOUT_S} s"
                ) from None
            except BaseException:
                self._stop_thread()
                raise
        logger.info("Serving on %s", self.base_url)
        return self

    def stop(self) -> None:
        """Shut the server down and join its thread. Later calls do nothing.

        Requests still running get one second to finish, then their connections are
        closed.

        Raises:
            RuntimeError: If called from a request handler of this server.
        """
        with self._lock:
            if self._thread is None:
                return
            if threading.current_thread() is self._thread:
                raise RuntimeError("stop() cannot run on the server's own thread")
            base_url = self.base_url
            self._port = None
            self._stop_thread()
        logger.info("Stopped server on %s", base_url)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        # start() and stop() block, so they run in a worker thread to keep the
        # caller's event loop responsive.
        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)

    def _run_thread(
        self,
        loop: asyncio.AbstractEventLoop,
        stop_event: asyncio.Event,
        started: concurrent.futures.Future[int],
    ) -> None:
        """Serve on `loop` until `stop_event` is set, then close the loop."""
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve(stop_event, started))
        except Exception:
            if started.done() and started.exception() is not None:
                # start() re-raises this error, so the debug log is enough.
                logger.debug("Server on %s failed to start", self._host, exc_info=True)
            else:
                logger.exception("Server on %s failed", self._host)
        finally:
            try:
                _cancel_pending_tasks(loop)
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.run_until_complete(loop.shutdown_default_executor())
            finally:
                asyncio.set_event_loop(None)
                loop.close()

    async def _serve(
        self, stop_event: asyncio.Event, started: concurrent.futures.Future[int]
    ) -> None:
        """Listen, report the bound port through `started`, and wait for stop."""
        runner = web.AppRunner(self._app, shutdown_timeout=_SHUTDOWN_TIMEOUT_S)
        try:
            await runner.setup()
            site = web.TCPSite(runner, self._host, 0, ssl_context=self._ssl_context)
            await site.start()
            started.set_result(runner.addresses[0][1])
            await stop_event.wait()
        except BaseException as exc:
            if not started.done():
                started.set_exception(exc)
            raise
        finally:
            await runner.cleanup()

    def _stop_thread(self) -> None:
        """Set the stop event, join the thread and forget loop and thread."""
        loop, thread, stop_event = self._loop, self._thread, self._stop_event
        self._loop = self._thread = self._stop_event = None
        if loop is None or thread is None or stop_event is None:
            return
        if thread.is_alive():
            # asyncio.Event is not thread-safe, so the loop itself must set it.
            loop.call_soon_threadsafe(stop_event.set)
        thread.join(timeout=_STOP_TIMEOUT_S)
        if thread.is_alive():
            logger.warning("Server thread %s did not stop in time", thread.name)


class DemoAPI(BackgroundServer):
    """A `BackgroundServer` that serves a fresh `make_demo_app()`.

    Args:
        host: Loopback IP address to listen on (127.0.0.0/8 or ::1).
        ssl_context: Server-side TLS context. With it, the server uses HTTPS.
    """

    def __init__(
        self, *, host: str = "127.0.0.1", ssl_context: ssl.SSLContext | None = None
    ) -> None:
        super().__init__(make_demo_app(), host=host, ssl_context=ssl_context)

    def request_count(self, path: str | None = None) -> int:
        """Return the requests received for `path` (such as "/offers"), or in total."""
        return request_count(self.app, path)


def _validate_loopback_host(host: str) -> None:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(
            f"invalid host {host!r}: expected a loopback IP address such as "
            "127.0.0.1 or ::1"
        ) from None
    if not address.is_loopback:
        raise ValueError(
            f"host {host!r} is not a loopback address: use an address in "
            "127.0.0.0/8 or ::1"
        )


def _cancel_pending_tasks(loop: asyncio.AbstractEventLoop) -> None:
    tasks = asyncio.all_tasks(loop)
    if not tasks:
        return
    for task in tasks:
        task.cancel()
    loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
