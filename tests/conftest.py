"""Shared fixtures: loopback servers started by the tests themselves."""

from __future__ import annotations

import ssl
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator

import pytest
import trustme
from aiohttp import web

from extapi_pandas.demo import BackgroundServer, DemoAPI

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
HITS = web.AppKey("hits", Counter)


@pytest.fixture(scope="session")
def demo_api() -> Iterator[DemoAPI]:
    """The demo API on 127.0.0.1, shared by the whole session (count with deltas)."""
    with DemoAPI() as server:
        yield server


@pytest.fixture
def serve() -> Iterator[Callable[..., BackgroundServer]]:
    """Start an aiohttp app on 127.0.0.1 for one test: `serve(routes)` or `serve(app)`.

    `routes` maps "METHOD /path" (or "/path" for GET) to a handler. Every request
    is counted in `app[HITS]` by path. The servers stop when the test ends.
    """
    started: list[BackgroundServer] = []

    def start(
        routes: dict[str, Handler] | web.Application,
        *,
        ssl_context: ssl.SSLContext | None = None,
    ) -> BackgroundServer:
        app = routes if isinstance(routes, web.Application) else _app(routes)
        server = BackgroundServer(app, ssl_context=ssl_context).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def _app(routes: dict[str, Handler]) -> web.Application:
    @web.middleware
    async def count(request: web.Request, handler: Handler) -> web.StreamResponse:
        request.app[HITS][request.path] += 1
        return await handler(request)

    app = web.Application(middlewares=[count])
    app[HITS] = Counter()
    for route, handler in routes.items():
        method, _, path = route.rpartition(" ")
        app.router.add_route(method or "GET", path, handler)
    return app


@pytest.fixture(scope="session")
def test_ca() -> trustme.CA:
    """A throwaway certificate authority for TLS servers on loopback."""
    return trustme.CA()


@pytest.fixture(scope="session")
def server_tls(test_ca: trustme.CA) -> ssl.SSLContext:
    """Server-side TLS context with a certificate for 127.0.0.1 and localhost."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    test_ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


@pytest.fixture(scope="session")
def client_tls(test_ca: trustme.CA) -> ssl.SSLContext:
    """Client-side TLS context that trusts only the test CA."""
    context = ssl.create_default_context()
    test_ca.configure_trust(context)
    return context
