"""Streaming decompression that never inflates past a byte budget."""

from __future__ import annotations

import zlib
from typing import Protocol

__all__ = ["SUPPORTED_ENCODINGS", "Decoder", "DecompressionError", "make_decoder"]

SUPPORTED_ENCODINGS = ("identity", "gzip", "x-gzip", "deflate", "br")


class DecompressionError(ValueError):
    """The body does not decompress with its declared Content-Encoding.

    Attributes:
        incomplete: True when the data was valid so far but ended before the
            stream's end marker.
    """

    def __init__(self, message: str, *, incomplete: bool = False) -> None:
        super().__init__(message)
        self.incomplete = incomplete


class Decoder(Protocol):
    """Decompresses a body chunk by chunk."""

    def feed(self, data: bytes, budget: int) -> bytes:
        """Decompress `data`; stop once the output passes `budget` bytes.

        Output longer than `budget` means the body is over the cap; the rest of the
        input is then left unread.
        """

    def finish(self) -> None:
        """Raise if the compressed stream ended before its end marker."""


class _Identity:
    def feed(self, data: bytes, budget: int) -> bytes:
        return data

    def finish(self) -> None:
        return None


class _Zlib:
    def __init__(self, encoding: str) -> None:
        self._encoding = encoding
        # 16 + MAX_WBITS reads the gzip wrapper; MAX_WBITS reads zlib-wrapped deflate.
        wbits = 16 + zlib.MAX_WBITS if "gzip" in encoding else zlib.MAX_WBITS
        self._inflater = zlib.decompressobj(wbits)
        self._may_be_raw = encoding == "deflate"

    def feed(self, data: bytes, budget: int) -> bytes:
        try:
            return self._feed(data, budget)
        except zlib.error as exc:
            raise DecompressionError(str(exc)) from exc

    def _feed(self, data: bytes, budget: int) -> bytes:
        try:
            out = self._inflater.decompress(data, budget + 1)
        except zlib.error:
            if not self._may_be_raw:
                raise
            # Some servers send raw deflate, without the zlib header, as "deflate".
            self._may_be_raw = False
            self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
            out = self._inflater.decompress(data, budget + 1)
        self._may_be_raw = False
        while self._inflater.unconsumed_tail and len(out) <= budget:
            out += self._inflater.decompress(
                self._inflater.unconsumed_tail, budget + 1 - len(out)
            )
        return out

    def finish(self) -> None:
        if not self._inflater.eof:
            raise DecompressionError(
                f"the {self._encoding} stream ended before its end marker",
                incomplete=True,
            )


class _Brotli:
    def __init__(self) -> None:
        import brotli

        self._error = brotli.error
        self._decompressor = brotli.Decompressor()

    def feed(self, data: bytes, budget: int) -> bytes:
        process = self._decompressor.process
        try:
            out: bytes = process(data, output_buffer_limit=budget + 1)
            while not self._decompressor.can_accept_more_data() and len(out) <= budget:
                out += process(b"", output_buffer_limit=budget + 1 - len(out))
        except self._error as exc:
            raise DecompressionError(str(exc) or "invalid br data") from exc
        # The brotli module (1.2) grows its buffer by whole blocks, so the output
        # can pass the budget by up to one block. The excess is dropped here.
        return out[: budget + 1]

    def finish(self) -> None:
        if not self._decompressor.is_finished():
            raise DecompressionError(
                "the br stream ended before its end marker", incomplete=True
            )


def make_decoder(content_encoding: str | None) -> Decoder:
    """Return a decoder for a `Content-Encoding` header value.

    Raises:
        ValueError: The encoding is not supported; the message lists those that are.
    """
    encoding = (content_encoding or "identity").strip().lower()
    if encoding in ("", "identity"):
        return _Identity()
    if encoding in ("gzip", "x-gzip", "deflate"):
        return _Zlib(encoding)
    if encoding == "br":
        return _Brotli()
    raise ValueError(
        f"unsupported Content-Encoding {content_encoding!r}; supported: "
        + ", ".join(SUPPORTED_ENCODINGS)
    )
