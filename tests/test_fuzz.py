"""Fuzzed responses: a call either succeeds or raises ExtapiError, never anything else.

Each example is one `enrich` call against a raw loopback server that writes the
generated status line, headers and body byte for byte, so the headers can be wrong
in ways that aiohttp's own server would refuse to send. The example count is small
in CI. Set EXTAPI_HYPOTHESIS_EXAMPLES to run more, with fresh random examples each run.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import warnings
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import brotli
import pandas as pd
import pytest
from faults import RawServer, read_request
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from extapi_pandas import Column, ExtapiError

CORPUS = Path(__file__).resolve().parent / "data" / "hostile"
EXAMPLES = int(os.environ.get("EXTAPI_HYPOTHESIS_EXAMPLES", "60"))

# CI runs the same examples every time, so that a failure reproduces. A run with
# EXTAPI_HYPOTHESIS_EXAMPLES set explores new ones.
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize="EXTAPI_HYPOTHESIS_EXAMPLES" not in os.environ,
    suppress_health_check=[HealthCheck.too_slow],
)

COLUMNS = {
    "doc": Column("$", dtype="object"),
    "s": Column("$.s", dtype="string"),
    "i": Column("$.i", dtype="Int64"),
    "n": "$.n",
}

SEEDS = [
    b'{"s":"Caf\xc3\xa9","i":3,"n":[1,2.5,null]}',
    b'{"s":null,"i":"12","n":{"a":true}}',
    b"[]",
    b"null",
    (CORPUS / "truncated_060.body").read_bytes(),
    (CORPUS / "utf8_bom.body").read_bytes(),
]

HEADER_TEXT = st.text(
    alphabet=st.characters(
        min_codepoint=0x20, max_codepoint=0xFF, blacklist_characters="\r\n"
    ),
    max_size=40,
)
CONTENT_TYPES = st.one_of(
    st.sampled_from(
        [
            "application/json",
            "application/json; charset=utf-8",
            "application/problem+json",
            "text/plain",
            "text/html",
            "application/json; charset=latin-1",
            "application/json; charset=utf-16",
            "application/json; charset=nope",
            "application/json;charset=",
            ";",
            "",
            'application/json; charset="utf-8',
            "APPLICATION/JSON",
        ]
    ),
    HEADER_TEXT,
)
CONTENT_ENCODINGS = st.one_of(
    st.sampled_from(
        [
            "gzip",
            "x-gzip",
            "deflate",
            "br",
            "identity",
            "GZIP",
            " gzip ",
            "compress",
            "gzip, br",
            "zstd",
            "",
        ]
    ),
    HEADER_TEXT,
)
CONTENT_LENGTHS = st.one_of(
    st.sampled_from(
        [
            "-1",
            "abc",
            "1e3",
            " 12 ",
            "12, 12",
            "0x10",
            "",
            "99999999999999999999999",
            "\xb2",
        ]
    ),
    st.integers(min_value=0, max_value=10**7).map(str),
)
EXTRA_HEADERS = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "Transfer-Encoding",
                "Content-Type",
                "Content-Length",
                "Content-Encoding",
                "Retry-After",
                "Location",
                "X-Junk",
            ]
        ),
        st.one_of(
            st.sampled_from(["chunked", "gzip", "chunked, gzip", "identity", "0", "1"]),
            HEADER_TEXT,
        ),
    ),
    max_size=2,
)


def json_values(floats: st.SearchStrategy[float]) -> st.SearchStrategy[Any]:
    """Return nested JSON values whose keys often hit the mapped paths."""
    scalars = (
        st.none()
        | st.booleans()
        | st.integers(-(10**30), 10**30)
        | floats
        | st.text(max_size=20)
    )
    keys = st.sampled_from(["s", "i", "n", "x", ""]) | st.text(max_size=5)
    return st.recursive(
        scalars,
        lambda children: (
            st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=4)
        ),
        max_leaves=12,
    )


# Bodies may contain the non-JSON tokens NaN and Infinity. Documents are strict JSON.
JSON_VALUES = json_values(st.floats())
JSON_DOCUMENTS = json_values(st.floats(allow_nan=False, allow_infinity=False))


@dataclass
class Reply:
    """The bytes the raw server writes for the next request."""

    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b"{}"

    def encode(self) -> bytes:
        head = [f"HTTP/1.1 {self.status} Fuzzed"]
        head += [f"{name}: {value}" for name, value in self.headers]
        head.append("Connection: close")
        return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + self.body


class FuzzServer:
    """A raw loopback server that sends the current `Reply` to every request."""

    def __init__(self) -> None:
        self.reply = Reply()
        self.raw = RawServer(self._answer)

    async def _answer(
        self,
        server: RawServer,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        await read_request(server, reader)
        writer.write(self.reply.encode())
        await writer.drain()

    def url(self) -> str:
        return self.raw.url("/fuzz")


@pytest.fixture(scope="module")
def fuzz_server() -> Iterator[FuzzServer]:
    server = FuzzServer()
    with server.raw:
        yield server


def compress(body: bytes, encoding: str) -> bytes:
    """Compress `body` with the named Content-Encoding, when it is a known one."""
    name = encoding.strip().lower()
    if name in ("gzip", "x-gzip"):
        return gzip.compress(body)
    if name == "deflate":
        return zlib.compress(body)
    if name == "br":
        return brotli.compress(body)
    return body


def mutate(seed: bytes, position: int, cut: int, insert: bytes) -> bytes:
    """Splice `insert` into `seed` at `position`, dropping `cut` bytes there."""
    at = position % (len(seed) + 1)
    return seed[:at] + insert + seed[at + cut :]


BODIES = st.one_of(
    st.binary(max_size=200),
    JSON_VALUES.map(lambda value: json.dumps(value).encode()),
    st.builds(
        mutate,
        st.sampled_from(SEEDS),
        st.integers(0, 200),
        st.integers(0, 4),
        st.binary(max_size=4),
    ),
)


@st.composite
def replies(draw: st.DrawFn) -> Reply:
    """Draw a status, headers and body, the body compressed or not as labelled."""
    body = draw(BODIES)
    headers: list[tuple[str, str]] = []
    if draw(st.booleans()):
        headers.append(("Content-Type", draw(CONTENT_TYPES)))
    if draw(st.integers(0, 3)) == 0:
        encoding = draw(CONTENT_ENCODINGS)
        headers.append(("Content-Encoding", encoding))
        if draw(st.booleans()):
            # Compressed whole or cut short; otherwise the label is a lie.
            compressed = compress(body, encoding)
            body = compressed[: draw(st.integers(0, len(compressed)))]
            if draw(st.booleans()):
                body = compressed
    length = draw(st.sampled_from(["exact", "none", "fuzzed"]))
    if length == "exact":
        headers.append(("Content-Length", str(len(body))))
    elif length == "fuzzed":
        headers.append(("Content-Length", draw(CONTENT_LENGTHS)))
    headers += draw(EXTRA_HEADERS)
    status = draw(st.sampled_from([200, 200, 200, 201, 204, 206, 302, 404, 500, 503]))
    return Reply(status, headers, body)


def enrich_reply(server: FuzzServer, reply: Reply) -> pd.DataFrame:
    server.reply = reply
    audience = pd.DataFrame({"profile": [1, 2, 3]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # content-type, NaN and empty-body notes
        return audience.extapi.enrich(
            server.url(), columns=COLUMNS, retries=0, timeout=5
        )


@FUZZ
@given(reply=replies())
def test_fuzzed_response_raises_extapi_error(
    fuzz_server: FuzzServer, reply: Reply
) -> None:
    try:
        result = enrich_reply(fuzz_server, reply)
    except ExtapiError as exc:
        event(f"raised {exc.code}")
        return
    event("succeeded")

    assert list(result.columns) == ["profile", *COLUMNS]
    assert len(result) == 3


@FUZZ
@given(document=JSON_DOCUMENTS)
def test_fuzzed_json_document_maps(fuzz_server: FuzzServer, document: Any) -> None:
    body = json.dumps(document, allow_nan=False).encode()
    reply = Reply(
        200,
        [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
        body,
    )
    try:
        result = enrich_reply(fuzz_server, reply)
    except ExtapiError as exc:
        # A valid document fails only where the declared Int64 column cannot hold
        # the value at "$.i".
        assert exc.code == "validation_failed", str(exc)
        assert "column 'i'" in str(exc)
        return

    assert result["doc"].tolist() == [document] * 3
