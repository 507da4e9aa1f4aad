"""A planted token never shows up in any output, whatever fault the call runs into.

Every fault of the fetch stage (timeouts, 5xx, invalid JSON, a body too large,
redirects, a TLS failure, a refused connection) runs with the token in a bearer
header, in an API-key query parameter and in a plain credential header. The servers
echo the request, token included, in every body they send. The test then searches
the DEBUG log, the error's message, repr and traceback, the provenance in `attrs`,
the report, the warnings, the preview and the generated code for the token, raw and
percent-encoded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import ssl
import traceback
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pandas as pd
import pytest
from aiohttp import web
from faults import RawServer, read_request
from yarl import URL

from extapi_pandas import (
    ApiKey,
    BearerToken,
    Cache,
    ExtapiError,
    Recording,
    Retry,
    Timeout,
)
from extapi_pandas.activity import build_api
from extapi_pandas.codegen import api_options, enrich_code
from extapi_pandas.demo import BackgroundServer

Serve = Callable[..., BackgroundServer]

TOKEN = "tok/Planted+7f3a=9c1e5b"
# The token as written, fully percent-encoded, form-encoded, and as yarl encodes a
# query value (which keeps "/").
FORMS = {
    TOKEN,
    quote(TOKEN, safe=""),
    quote_plus(TOKEN),
    URL.build(query={"k": TOKEN}).raw_query_string[2:],
}

PLACEMENTS: dict[str, dict[str, Any]] = {
    "bearer": {"auth": BearerToken(TOKEN)},
    "query": {"auth": ApiKey(TOKEN, name="appid", location="query")},
    "header": {"headers": {"X-Api-Key": TOKEN}},
}

# Fault name: (path on the echo server or None, the error code it must produce,
# extra options).
FAULTS: dict[str, tuple[str | None, str, dict[str, Any]]] = {
    "read_timeout": (None, "timeout", {}),
    "connect_timeout": (None, "timeout", {}),
    "http_500": ("/status/500", "http_500", {}),
    "http_503": ("/status/503", "http_503", {}),
    "invalid_json": ("/invalid", "invalid_json", {}),
    "too_large": ("/large", "too_large", {"max_bytes": 64}),
    "redirect_refused": ("/redirect", "redirect", {}),
    "redirect_loop": ("/loop", "redirect", {"follow_redirects": True}),
    "tls_failure": (None, "connection_error", {}),
    "connection_refused": (None, "connection_error", {}),
}
COMMON: dict[str, Any] = {
    "columns": {"value": "$.value"},
    "timeout": Timeout(total=5, connect=0.2, read=0.2),
    "retries": Retry(attempts=1, backoff=0.01),
}


def echo(request: web.Request) -> str:
    """Return the request line and headers as received, token included."""
    lines = [f"{request.method} {request.raw_path}", f"query: {dict(request.query)}"]
    lines += [f"{name}: {value}" for name, value in request.headers.items()]
    return "\n".join(lines)


class EchoServer:
    """Serves each fault path with a body that repeats the request."""

    def __init__(self, serve: Serve, ssl_context: ssl.SSLContext | None = None):
        self.seen: list[str] = []
        self.server = serve(
            {
                "/status/{code}": self._status,
                "/invalid": self._invalid,
                "/large": self._large,
                "/redirect": self._redirect,
                "/loop": self._redirect,
            },
            ssl_context=ssl_context,
        )

    def _record(self, request: web.Request) -> str:
        text = echo(request)
        self.seen.append(text)
        return text

    async def _status(self, request: web.Request) -> web.Response:
        status = int(request.match_info["code"])
        return web.Response(status=status, text=self._record(request))

    async def _invalid(self, request: web.Request) -> web.Response:
        return web.Response(text=self._record(request), content_type="application/json")

    async def _large(self, request: web.Request) -> web.Response:
        return web.json_response({"value": self._record(request) * 4})

    async def _redirect(self, request: web.Request) -> web.Response:
        self._record(request)
        location = f"{request.path}?leak={quote(TOKEN, safe='')}&raw={TOKEN}"
        return web.Response(status=302, headers={"Location": location})


@contextlib.contextmanager
def full_backlog() -> Iterator[int]:
    """Yield a loopback port whose accept queue is full, so connecting times out."""
    listener = socket.socket()
    fillers: list[socket.socket] = []
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        for _ in range(3):
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
            fillers.append(filler)
        yield port
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def never_answer(seen: list[str]) -> Callable[..., Any]:
    """Return a raw handler that reads the request, records it and never responds."""

    async def handle(
        server: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        seen.append(await read_request(server, reader))
        await server.wait_for_close(reader)

    return handle


@dataclass
class Target:
    """Where a fault happens, and the requests its server received."""

    fault: str
    url: str
    seen: list[str] = field(default_factory=list)


@pytest.fixture
def target(
    request: pytest.FixtureRequest, serve: Serve, server_tls: ssl.SSLContext
) -> Iterator[Target]:
    fault = request.param
    path = FAULTS[fault][0]
    if path is not None:
        echo_server = EchoServer(serve)
        yield Target(fault, echo_server.server.url(path), echo_server.seen)
    elif fault == "read_timeout":
        seen: list[str] = []
        with RawServer(never_answer(seen)) as raw:
            yield Target(fault, raw.url("/slow"), seen)
    elif fault == "connect_timeout":
        with full_backlog() as port:
            yield Target(fault, f"http://127.0.0.1:{port}/stalled")
    elif fault == "tls_failure":
        tls_server = EchoServer(serve, ssl_context=server_tls)
        yield Target(fault, tls_server.server.url("/status/200"), tls_server.seen)
    else:
        yield Target(fault, f"http://127.0.0.1:{closed_port()}/refused")


def leaked(surfaces: dict[str, str]) -> list[str]:
    """Return the names of the surfaces that contain the token in any form."""
    return [
        name for name, text in surfaces.items() if any(form in text for form in FORMS)
    ]


def error_surfaces(prefix: str, error: BaseException) -> dict[str, str]:
    return {
        f"{prefix} message": str(error),
        f"{prefix} repr": repr(error),
        f"{prefix} traceback": "".join(traceback.format_exception(error)),
        f"{prefix} attributes": repr(vars(error)),
    }


def collect_surfaces(
    url: str,
    options: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
    files: Path | None = None,
) -> tuple[dict[str, str], str]:
    """Run the call in both error modes and a preview, and return surfaces and code.

    With `files`, the continuing call also records the run and caches responses
    there, and the bytes of both files become surfaces.
    """
    frame = pd.DataFrame({"profile": [1, 2]})
    stored: dict[str, Any] = {}
    if files is not None:
        stored = {
            "replay": Recording(str(files / "run.json"), mode="record"),
            "cache": Cache("5min", path=str(files / "cache.sqlite")),
        }
    api = build_api(url, options)
    surfaces = {
        "repr(api)": repr(api),
        "generated code": enrich_code(api_options(api)),
    }
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(ExtapiError) as raised:
            frame.extapi.enrich(url, **options)
        result = frame.extapi.enrich(url, on_error="continue", **options, **stored)
        with pytest.raises(ExtapiError) as previewed:
            frame.extapi.preview(url, **options)
    report = result.extapi.report()
    surfaces |= error_surfaces("error", raised.value)
    surfaces |= error_surfaces("preview error", previewed.value)
    surfaces["attrs"] = json.dumps(result.attrs)
    surfaces["report"] = "\n".join(
        [repr(report), report._repr_html_(), report.to_frame().to_string()]
    )
    surfaces["warnings"] = "\n".join(str(w.message) for w in caught)
    surfaces["log text"] = caplog.text
    surfaces["log messages"] = "\n".join(r.getMessage() for r in caplog.records)
    for name in ("run.json", "cache.sqlite"):
        if files is not None and (files / name).exists():
            surfaces[name] = (files / name).read_bytes().decode("latin-1")
    return surfaces, raised.value.code


@pytest.mark.parametrize("placement", list(PLACEMENTS))
@pytest.mark.parametrize("target", list(FAULTS), indirect=True)
def test_token_never_leaks(
    target: Target,
    placement: str,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    caplog.set_level(logging.DEBUG, logger="extapi_pandas")
    _, expected_code, extra = FAULTS[target.fault]
    options = {**COMMON, **PLACEMENTS[placement], **extra}

    surfaces, code = collect_surfaces(target.url, options, caplog, tmp_path)
    assert "run.json" in surfaces  # failures are recorded too

    assert code == expected_code
    assert leaked(surfaces) == []
    if target.seen:  # the token reached the server, so the bodies echoed it
        assert any(form in "\n".join(target.seen) for form in FORMS)


@pytest.mark.parametrize("placement", list(PLACEMENTS))
def test_token_absent_after_success(
    serve: Serve, placement: str, caplog: pytest.LogCaptureFixture
) -> None:
    async def answer(request: web.Request) -> web.Response:
        return web.json_response({"value": 1, "echo": echo(request)})

    server = serve({"/ok": answer})
    url = server.url("/ok")
    caplog.set_level(logging.DEBUG, logger="extapi_pandas")
    options = {**COMMON, **PLACEMENTS[placement]}
    frame = pd.DataFrame({"profile": [1, 2]})

    result = frame.extapi.enrich(url, **options)
    preview = frame.extapi.preview(url, **options)
    report = result.extapi.report()
    surfaces = {
        "attrs": json.dumps(result.attrs),
        "report": repr(report) + report._repr_html_(),
        "preview": repr(preview) + preview._repr_html_(),
        "preview code": preview.to_code(),
        "log text": caplog.text,
    }

    assert result["value"].tolist() == [1, 1]
    assert leaked(surfaces) == []
