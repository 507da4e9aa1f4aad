"""Read a response body while streaming: size cap, decompression, truncation."""

from __future__ import annotations

import re
from typing import Any

import aiohttp

from extapi_pandas.errors import DecodeError, ResponseTooLarge, TruncatedResponse
from extapi_pandas.http.decode import DecompressionError, make_decoder
from extapi_pandas.http.retry import RetryableFailure

__all__ = ["read_body"]

_CHUNK = 64 * 1024
# aiohttp 3.14 describes a short body as "received 36 of 120 bytes".
_AIOHTTP_COUNTS = re.compile(r"received (\d+) of (\d+) bytes")


async def read_body(
    raw: aiohttp.ClientResponse, *, limit: int, campaign: Any, shown_url: str
) -> tuple[bytes, int]:
    """Read and decompress the body, never holding more than `limit` bytes of it.

    Returns:
        The decompressed body and the number of bytes received on the wire.

    Raises:
        ResponseTooLarge: The decompressed body passed `limit` (or Content-Length
            announced that it would).
        DecodeError: The body does not decompress with its Content-Encoding.
        RetryableFailure: The body ended before its announced length, or a
            chunked or compressed stream was cut short; wraps `TruncatedResponse`.
    """
    encoding = raw.headers.get("Content-Encoding")
    announced = _content_length(raw)
    if encoding is None and announced is not None and announced > limit:
        raise _too_large(campaign, f"Content-Length {announced}", limit)
    try:
        decoder = make_decoder(encoding)
    except ValueError as exc:
        raise DecodeError(f"campaign {campaign!r}: {exc}", campaign=campaign) from None

    chunks: list[bytes] = []
    size = wire = 0
    try:
        async for chunk in raw.content.iter_chunked(_CHUNK):
            wire += len(chunk)
            data = decoder.feed(chunk, limit - size)
            size += len(data)
            if size > limit:
                raise _too_large(campaign, "the body", limit)
            chunks.append(data)
        decoder.finish()
    except aiohttp.ClientPayloadError as exc:
        error = _truncated(campaign, shown_url, _shortfall(exc, wire, announced, raw))
        error.__cause__ = exc
        raise RetryableFailure(error) from exc
    except DecompressionError as exc:
        raise _decompression_failure(exc, raw, campaign, shown_url, wire) from None
    return b"".join(chunks), wire


def _content_length(raw: aiohttp.ClientResponse) -> int | None:
    value = raw.headers.get("Content-Length", "").strip()
    return int(value) if value.isdigit() else None


def _too_large(campaign: Any, what: str, limit: int) -> ResponseTooLarge:
    return ResponseTooLarge(
        f"campaign {campaign!r}: {what} is over the max_bytes limit of {limit} bytes "
        "(counted after decompression); campaign-wide data is usually small, so "
        "check the request, or raise max_bytes",
        campaign=campaign,
    )


def _truncated(campaign: Any, shown_url: str, detail: str) -> TruncatedResponse:
    return TruncatedResponse(
        f"campaign {campaign!r}: the response from {shown_url} was cut short: "
        f"{detail}; the partial body was discarded",
        campaign=campaign,
    )


def _shortfall(
    exc: aiohttp.ClientPayloadError,
    wire: int,
    announced: int | None,
    raw: aiohttp.ClientResponse,
) -> str:
    # aiohttp may raise before handing over the last bytes it buffered, so its
    # own count, when it gives one, is the more accurate.
    causes = f"{exc} {exc.__cause__ or ''}"
    counts = _AIOHTTP_COUNTS.search(causes)
    if counts is not None:
        return f"{counts.group(1)} of {counts.group(2)} bytes arrived"
    if announced is not None:
        return f"{wire} of {announced} bytes arrived"
    if "chunked" in raw.headers.get("Transfer-Encoding", "").lower():
        return f"the chunked body ended after {wire} bytes, before its last chunk"
    return f"the body ended after {wire} bytes ({type(exc).__name__})"


def _decompression_failure(
    exc: DecompressionError,
    raw: aiohttp.ClientResponse,
    campaign: Any,
    shown_url: str,
    wire: int,
) -> DecodeError | RetryableFailure:
    encoding = raw.headers.get("Content-Encoding")
    delimited_by_close = (
        _content_length(raw) is None
        and "chunked" not in raw.headers.get("Transfer-Encoding", "").lower()
    )
    if exc.incomplete and delimited_by_close:
        # Without a length or chunking, a closed connection is the only end of
        # the body, so a stream short of its end marker was cut in transit.
        return RetryableFailure(
            _truncated(
                campaign,
                shown_url,
                f"the {encoding} stream ended after {wire} bytes, before its end "
                "marker",
            )
        )
    return DecodeError(
        f"campaign {campaign!r}: the body from {shown_url} is labelled "
        f"Content-Encoding {encoding!r} but does not decompress ({exc}); the server "
        "mislabels its responses, so retrying cannot help",
        campaign=campaign,
    )
