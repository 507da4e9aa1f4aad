"""Size caps, timeouts and TLS: the limits every campaign request runs under."""

from __future__ import annotations

import asyncio
import gzip
import logging
import ssl
import zlib
from collections.abc import Callable

import brotli
import pandas as pd
import pytest
import trustme
from aiohttp import web
from conftest import HITS
from faults import RawServer, json_handler, read_request, unchanged

import extapi_pandas
from extapi_pandas import Retry, Timeout
from extapi_pandas.demo import BackgroundServer
from extapi_pandas.errors import (
    ConnectError,
    RequestTimeout,
    RequestTooLarge,
    ResponseTooLarge,
)
from extapi_pandas.http.decode import make_decoder
from extapi_pandas.options import MIB

Serve = Callable[..., BackgroundServer]
COLUMNS = {"pct": "$.pct"}
NO_RETRY = Retry(attempts=0)


def audience() -> pd.DataFrame:
    return pd.DataFrame({"campaign": ["winter", "winter"]})


def padded(size: int) -> bytes:
    """A JSON document of `size` bytes."""
    head = b'{"pct": 1, "pad": "'
    return head + b"x" * (size - len(head) - 2) + b'"}'


def test_body_at_cap_accepted(serve: Serve) -> None:
    server = serve({"/o": json_handler(padded(4096))})

    result = audience().extapi.enrich(server.url("/o"), columns=COLUMNS, max_bytes=4096)

    assert result["pct"].tolist() == [1, 1]


def test_content_length_over_cap(serve: Serve) -> None:
    server = serve({"/o": json_handler(padded(4097))})
    frame = audience()

    with (
        unchanged(frame),
        pytest.raises(
            ResponseTooLarge,
            match=r"'winter': Content-Length 4097 is over the max_bytes "
            r"limit of 4096",
        ) as caught,
    ):
        frame.extapi.enrich(
            server.url("/o"), campaign="campaign", columns=COLUMNS, max_bytes=4096
        )

    assert caught.value.code == "too_large"


def test_streamed_body_over_cap(serve: Serve) -> None:
    async def stream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        for _ in range(64):
            await response.write(b" " * 1024)
        await response.write(b'{"pct": 1}')
        await response.write_eof()
        return response

    server = serve({"/o": stream})

    with pytest.raises(ResponseTooLarge, match=r"the body is over the max_bytes"):
        audience().extapi.enrich(server.url("/o"), columns=COLUMNS, max_bytes=16_000)


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [("gzip", gzip.compress), ("deflate", zlib.compress), ("br", brotli.compress)],
)
def test_compression_bomb_stopped(
    serve: Serve, encoding: str, compress: Callable[[bytes], bytes]
) -> None:
    bomb = compress(b'{"pct": 1, "pad": "' + b"0" * (8 * MIB) + b'"}')
    server = serve({"/o": json_handler(bomb, headers={"Content-Encoding": encoding})})

    with pytest.raises(ResponseTooLarge, match=r"counted after decompression"):
        audience().extapi.enrich(server.url("/o"), columns=COLUMNS, max_bytes=MIB)


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br"])
def test_decoder_never_inflates_past_budget(encoding: str) -> None:
    raw = b"0" * (4 * MIB)
    compressed = {
        "gzip": gzip.compress,
        "deflate": zlib.compress,
        "br": brotli.compress,
    }[encoding](raw)
    decoder = make_decoder(encoding)

    out = decoder.feed(compressed, 1000)

    assert len(compressed) < 50_000
    assert 1000 < len(out) <= 1001


def test_request_body_over_cap(serve: Serve) -> None:
    server = serve({"POST /o": json_handler('{"pct": 1}')})
    frame = pd.DataFrame({"campaign": ["winter"], "note": ["x" * 2000]})

    with unchanged(frame), pytest.raises(RequestTooLarge, match=r"max_request_bytes"):
        frame.extapi.enrich(
            server.url("/o"),
            method="POST",
            json={"n": "{note}"},
            columns=COLUMNS,
            max_request_bytes=1000,
        )

    assert server.app[HITS]["/o"] == 0


def drip_server(interval: float) -> Callable[..., object]:
    async def handle(
        server: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await read_request(server, reader)
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100000\r\n\r\n"
        )
        while True:
            writer.write(b" ")
            await writer.drain()
            await asyncio.sleep(interval)

    return handle


def test_dripping_server_cut_by_total() -> None:
    frame = audience()

    with (
        RawServer(drip_server(0.02)) as server,
        unchanged(frame),
        pytest.raises(
            RequestTimeout,
            match=r"'winter': no complete response within the total "
            r"timeout of 0.5 s \(retries included\).*timeout=",
        ) as caught,
    ):
        frame.extapi.enrich(
            server.url("/o"),
            campaign="campaign",
            columns=COLUMNS,
            timeout=Timeout(total=0.5, connect=5, read=5),
        )

    assert caught.value.code == "timeout"


def test_silent_server_hits_read_timeout() -> None:
    async def silent(
        server: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await read_request(server, reader)
        await server.wait_for_close(reader)

    with (
        RawServer(silent) as server,
        pytest.raises(
            RequestTimeout,
            match=r"sent nothing for 0.2 s \(the read timeout\).*"
            r"gave up after 2 attempts",
        ),
    ):
        audience().extapi.enrich(
            server.url("/o"),
            columns=COLUMNS,
            timeout=Timeout(total=20, connect=5, read=0.2),
            retries=Retry(attempts=1, backoff=0.0),
        )

    assert server.requests == 2


def test_tls_with_trusted_ca(
    serve: Serve, server_tls: ssl.SSLContext, client_tls: ssl.SSLContext
) -> None:
    server = serve({"/o": json_handler('{"pct": 2}')}, ssl_context=server_tls)

    result = audience().extapi.enrich(
        server.url("/o"), columns=COLUMNS, verify=client_tls
    )

    assert server.url("/o").startswith("https://")
    assert result["pct"].tolist() == [2, 2]


def test_untrusted_certificate_not_retried(
    serve: Serve, server_tls: ssl.SSLContext, caplog: pytest.LogCaptureFixture
) -> None:
    other_ca = trustme.CA()
    context = ssl.create_default_context()
    other_ca.configure_trust(context)
    server = serve({"/o": json_handler('{"pct": 2}')}, ssl_context=server_tls)
    caplog.set_level(logging.WARNING, logger="extapi_pandas")

    with pytest.raises(ConnectError, match=r"TLS handshake failed.*verify="):
        audience().extapi.enrich(server.url("/o"), columns=COLUMNS, verify=context)

    assert not [r for r in caplog.records if "retrying" in r.getMessage()]


def test_plain_http_to_tls_port_fails(serve: Serve, server_tls: ssl.SSLContext) -> None:
    server = serve({"/o": json_handler('{"pct": 2}')}, ssl_context=server_tls)
    plain = server.url("/o").replace("https://", "http://")

    with pytest.raises(extapi_pandas.ExtapiError):
        audience().extapi.enrich(plain, columns=COLUMNS, retries=NO_RETRY)


async def black_hole(
    server: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """Accept the connection and never respond, not even to a TLS handshake."""
    await server.wait_for_close(reader)


def test_stalled_handshake_hits_connect_timeout(client_tls: ssl.SSLContext) -> None:
    with RawServer(black_hole) as server:
        with pytest.raises(
            RequestTimeout,
            match=r"did not accept a connection within the connect timeout of 0.2 s"
            r".*gave up after 2 attempts",
        ):
            audience().extapi.enrich(
                server.url("/o").replace("http://", "https://"),
                columns=COLUMNS,
                verify=client_tls,
                timeout=Timeout(total=20, connect=0.2, read=5),
                retries=Retry(attempts=1, backoff=0.0),
            )
        disconnects = server.wait_disconnects(2)

    assert disconnects == 2
