"""Response decoding end to end: content types, charsets, encodings, odd bodies."""

from __future__ import annotations

import asyncio
import gzip
import zlib
from collections.abc import Callable

import brotli
import pandas as pd
import pytest
from aiohttp import web
from conftest import HITS
from faults import RawServer, enrich_warnings, json_handler, read_request, unchanged

import extapi_pandas
from extapi_pandas import Retry
from extapi_pandas.demo import BackgroundServer
from extapi_pandas.errors import (
    DecodeError,
    InvalidJSON,
    MappingError,
    TruncatedResponse,
    ValidationError,
)

Serve = Callable[..., BackgroundServer]
OFFER = b'{"offer": {"code": "AUT-15", "pct": 15}}'
OFFER_COLUMNS = {"code": "$.offer.code", "pct": "$.offer.pct"}
FAST_RETRY = Retry(attempts=2, backoff=0.0)


def one_campaign() -> pd.DataFrame:
    return pd.DataFrame({"campaign": ["autumn", "autumn"], "profile": [1, 2]})


def offer_server(serve: Serve, headers: dict[str, str]) -> BackgroundServer:
    async def handle(request: web.Request) -> web.Response:
        response = web.Response(body=OFFER, headers=headers)
        if "Content-Type" not in headers:
            response.content_type = "application/octet-stream"
        return response

    return serve({"/offer": handle})


def test_html_labelled_json_warns_once(serve: Serve) -> None:
    server = offer_server(serve, {"Content-Type": "text/html; charset=utf-8"})

    result, messages = enrich_warnings(
        one_campaign(),
        server.url("/offer"),
        campaign="campaign",
        columns=OFFER_COLUMNS,
    )

    assert result["code"].tolist() == ["AUT-15", "AUT-15"]
    assert result["pct"].tolist() == [15, 15]
    assert len(messages) == 1
    assert "'autumn'" in messages[0]
    assert "text/html" in messages[0]


@pytest.mark.parametrize(
    ("content_type", "shown"),
    [("json", "'json'"), ("application/octet-stream", "application/octet-stream")],
)
def test_other_label_warns(serve: Serve, content_type: str, shown: str) -> None:
    server = offer_server(serve, {"Content-Type": content_type})

    result, messages = enrich_warnings(
        one_campaign(),
        server.url("/offer"),
        campaign="campaign",
        columns=OFFER_COLUMNS,
    )

    assert result["pct"].tolist() == [15, 15]
    assert len(messages) == 1
    assert shown in messages[0]


def test_missing_content_type_warns() -> None:
    async def handle(
        server: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await read_request(server, reader)
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(OFFER) + OFFER
        )
        await writer.drain()

    with RawServer(handle) as server:
        result, messages = enrich_warnings(
            one_campaign(), server.url("/offer"), columns=OFFER_COLUMNS
        )

    assert result["code"].tolist() == ["AUT-15", "AUT-15"]
    assert len(messages) == 1
    assert "no Content-Type" in messages[0]


@pytest.mark.parametrize(
    "content_type",
    ["application/vnd.api+json", "application/json; charset=utf-8", "Application/JSON"],
)
def test_json_types_parse_silently(serve: Serve, content_type: str) -> None:
    server = offer_server(serve, {"Content-Type": content_type})

    result, messages = enrich_warnings(
        one_campaign(), server.url("/offer"), columns=OFFER_COLUMNS
    )

    assert result["pct"].tolist() == [15, 15]
    assert messages == []


def test_strict_content_type_rejects_html(serve: Serve) -> None:
    server = offer_server(serve, {"Content-Type": "text/html"})
    audience = one_campaign()

    with (
        unchanged(audience),
        pytest.raises(
            InvalidJSON, match=r"'autumn'.*text/html.*strict_content_type=False"
        ),
    ):
        audience.extapi.enrich(
            server.url("/offer"),
            campaign="campaign",
            columns=OFFER_COLUMNS,
            strict_content_type=True,
        )


def test_maintenance_page_names_everything(serve: Serve) -> None:
    page = "<!doctype html><title>Down for maintenance</title><p>Back at 06:00 UTC.</p>"
    server = serve(
        {
            "/offer": json_handler(
                page, headers={"Content-Type": "text/html; charset=utf-8"}
            )
        }
    )
    audience = one_campaign()

    with unchanged(audience), pytest.raises(InvalidJSON) as caught:
        audience.extapi.enrich(
            server.url("/offer"), campaign="campaign", columns=OFFER_COLUMNS
        )

    message = str(caught.value)
    assert "'autumn'" in message
    assert "status 200" in message
    assert "text/html" in message
    assert "<!doctype html><title>Down for maintenance" in message
    assert caught.value.code == "invalid_json"


def test_utf8_bom_is_stripped(serve: Serve) -> None:
    body = b"\xef\xbb\xbf" + b'{"temp_c": 17.7}'
    server = serve({"/w": json_handler(body)})

    result = one_campaign().extapi.enrich(server.url("/w"), columns={"t": "$.temp_c"})

    assert result["t"].tolist() == [17.7, 17.7]


def test_latin1_charset_is_honoured(serve: Serve) -> None:
    body = '{"city": "Zürich"}'.encode("latin-1")
    server = serve(
        {
            "/c": json_handler(
                body, headers={"Content-Type": "application/json; charset=ISO-8859-1"}
            )
        }
    )

    result = one_campaign().extapi.enrich(server.url("/c"), columns={"c": "$.city"})

    assert result["c"].tolist() == ["Zürich", "Zürich"]


def test_invalid_utf8_is_decode_error(serve: Serve) -> None:
    server = serve({"/c": json_handler(b'{"city": "Z\xfcrich"}')})
    audience = one_campaign()

    with (
        unchanged(audience),
        pytest.raises(
            DecodeError, match=r"not valid utf-8 \(byte b'\\xfc' at position 11\)"
        ),
    ):
        audience.extapi.enrich(server.url("/c"), columns={"c": "$.city"})


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda data: zlib.compress(data, wbits=-15)),
        ("br", brotli.compress),
    ],
    ids=["gzip", "deflate-zlib", "deflate-raw", "br"],
)
def test_content_encodings_decode(
    serve: Serve, encoding: str, compress: Callable[[bytes], bytes]
) -> None:
    server = serve(
        {"/o": json_handler(compress(OFFER), headers={"Content-Encoding": encoding})}
    )

    result = one_campaign().extapi.enrich(server.url("/o"), columns=OFFER_COLUMNS)

    assert result["code"].tolist() == ["AUT-15", "AUT-15"]


def test_false_gzip_label_fails_once(serve: Serve) -> None:
    server = serve({"/o": json_handler(OFFER, headers={"Content-Encoding": "gzip"})})
    audience = one_campaign()

    with (
        unchanged(audience),
        pytest.raises(
            DecodeError, match=r"Content-Encoding 'gzip' but does not decompress"
        ) as caught,
    ):
        audience.extapi.enrich(
            server.url("/o"), columns=OFFER_COLUMNS, retries=FAST_RETRY
        )

    assert server.app[HITS]["/o"] == 1
    assert caught.value.code == "decode_error"


def test_unknown_encoding_lists_supported(serve: Serve) -> None:
    server = serve({"/o": json_handler(OFFER, headers={"Content-Encoding": "zstd"})})

    with pytest.raises(DecodeError, match=r"'zstd'; supported: identity, gzip"):
        one_campaign().extapi.enrich(server.url("/o"), columns=OFFER_COLUMNS)


def short_body_server(
    head: bytes, body: bytes
) -> Callable[[RawServer, asyncio.StreamReader, asyncio.StreamWriter], object]:
    async def handle(
        server: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await read_request(server, reader)
        writer.write(head + body)
        await writer.drain()

    return handle


def test_short_body_retried_then_fails() -> None:
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        b"Content-Length: 120\r\n\r\n"
    )
    body = OFFER[:36]
    audience = one_campaign()

    with (
        RawServer(short_body_server(head, body)) as server,
        unchanged(audience),
        pytest.raises(TruncatedResponse, match=r"36 of 120 bytes arrived") as caught,
    ):
        audience.extapi.enrich(
            server.url("/o"), columns=OFFER_COLUMNS, retries=FAST_RETRY
        )

    assert server.requests == 3
    assert "gave up after 3 attempts" in str(caught.value)


def test_cut_chunked_stream_retried() -> None:
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    body = b"%x\r\n%s\r\n" % (20, OFFER[:20])

    with (
        RawServer(short_body_server(head, body)) as server,
        pytest.raises(TruncatedResponse, match=r"cut short"),
    ):
        one_campaign().extapi.enrich(
            server.url("/o"), columns=OFFER_COLUMNS, retries=FAST_RETRY
        )

    assert server.requests == 3


def test_gzip_cut_by_close_retried() -> None:
    compressed = gzip.compress(OFFER * 50)
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        b"Content-Encoding: gzip\r\nConnection: close\r\n\r\n"
    )

    with (
        RawServer(short_body_server(head, compressed[:40])) as server,
        pytest.raises(TruncatedResponse, match=r"before its end marker"),
    ):
        one_campaign().extapi.enrich(
            server.url("/o"), columns=OFFER_COLUMNS, retries=FAST_RETRY
        )

    assert server.requests == 3


def test_empty_responses_null_with_warning(serve: Serve) -> None:
    async def no_content(request: web.Request) -> web.Response:
        return web.Response(status=204)

    server = serve(
        {
            "/c/ok": json_handler(OFFER),
            "/c/gone": no_content,
            "/c/blank": json_handler(b""),
        }
    )
    audience = pd.DataFrame({"campaign": ["ok", "gone", "blank", "ok"]})

    result, messages = enrich_warnings(
        audience,
        server.url("/c/{campaign}"),
        campaign="campaign",
        columns=OFFER_COLUMNS,
    )

    assert result["pct"].tolist()[0] == 15
    assert result["pct"].isna().tolist() == [False, True, True, False]
    assert result["code"].isna().tolist() == [False, True, True, False]
    assert result["pct"].dtype == "Int64"
    assert len(messages) == 1
    assert "'gone'" in messages[0]
    assert "'blank'" in messages[0]


def test_empty_response_required_column(serve: Serve) -> None:
    server = serve({"/c": json_handler(b"")})
    audience = one_campaign()

    with unchanged(audience), pytest.raises(MappingError, match=r"'code' are required"):
        audience.extapi.enrich(
            server.url("/c"),
            columns={"code": extapi_pandas.Column("$.offer.code", required=True)},
        )


def test_bare_nan_becomes_null(serve: Serve) -> None:
    server = serve({"/d": json_handler(b'{"discount": NaN, "cap": 10}')})

    result, messages = enrich_warnings(
        one_campaign(),
        server.url("/d"),
        campaign="campaign",
        columns={"discount": "$.discount", "cap": "$.cap"},
    )

    assert result["discount"].isna().all()
    assert result["cap"].tolist() == [10, 10]
    assert len(messages) == 1
    assert "NaN" in messages[0]
    assert "'autumn'" in messages[0]


def test_bare_infinity_fails_validation(serve: Serve) -> None:
    server = serve({"/d": json_handler(b'{"discount": 5, "cap": Infinity}')})
    audience = one_campaign()

    with (
        unchanged(audience),
        pytest.raises(
            ValidationError,
            match=r"column 'cap' contains inf.*allow_infinity=\['cap'\]",
        ) as caught,
    ):
        audience.extapi.enrich(
            server.url("/d"),
            campaign="campaign",
            columns={"discount": "$.discount", "cap": "$.cap"},
        )

    assert caught.value.failure_cases["column"].tolist() == ["cap"]


def test_allow_infinity_names_column(serve: Serve) -> None:
    server = serve({"/d": json_handler(b'{"discount": 5, "cap": -Infinity}')})

    result = one_campaign().extapi.enrich(
        server.url("/d"),
        columns={"discount": "$.discount", "cap": "$.cap"},
        allow_infinity=["cap"],
    )

    assert result["cap"].tolist() == [float("-inf"), float("-inf")]


def test_infinity_continue_marks_campaign(serve: Serve) -> None:
    server = serve(
        {
            "/d/a": json_handler(b'{"cap": 10}'),
            "/d/b": json_handler(b'{"cap": Infinity}'),
        }
    )
    audience = pd.DataFrame({"campaign": ["a", "b"]})

    result, _ = enrich_warnings(
        audience,
        server.url("/d/{campaign}"),
        campaign="campaign",
        columns={"cap": "$.cap"},
        on_error="continue",
    )

    assert result["extapi_status"].tolist() == ["ok", "validation_failed"]
    assert result["cap"].isna().tolist() == [False, True]


@pytest.mark.parametrize(
    ("depth", "max_depth", "pattern"),
    [
        (65, 64, r"nests deeper than max_depth=64"),
        (20_000, 64, r"nests too deep to parse"),
        (5, 4, r"nests deeper than max_depth=4"),
    ],
)
def test_deep_json_is_rejected(
    serve: Serve, depth: int, max_depth: int, pattern: str
) -> None:
    server = serve({"/d": json_handler("[" * depth + "]" * depth)})
    audience = one_campaign()

    with unchanged(audience), pytest.raises(InvalidJSON, match=pattern):
        audience.extapi.enrich(
            server.url("/d"), columns={"x": "$[0]"}, max_depth=max_depth
        )


def test_max_depth_can_be_raised(serve: Serve) -> None:
    nested = '{"a":' * 70 + "1" + "}" * 70
    server = serve({"/d": json_handler(nested)})

    result = one_campaign().extapi.enrich(
        server.url("/d"), columns={"x": "$" + ".a" * 70}, max_depth=80
    )

    assert result["x"].tolist() == [1, 1]
