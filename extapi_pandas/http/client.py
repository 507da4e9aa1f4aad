"""The fetch stage: one aiohttp session per call, one guarded request per campaign."""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import logging
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import aiohttp
from yarl import URL

from extapi_pandas.activity import ExternalAPI
from extapi_pandas.errors import (
    ConnectError,
    DecodeError,
    ExtapiError,
    GuardError,
    HTTPStatusError,
    RedirectError,
    RequestTimeout,
    ResponseTooLarge,
    TruncatedResponse,
)
from extapi_pandas.http.auth import PreparedAuth
from extapi_pandas.http.decode import DecompressionError, make_decoder
from extapi_pandas.http.guard import GuardedResolver, check_url
from extapi_pandas.plan import CampaignRequest
from extapi_pandas.redaction import Redactor

__all__ = ["Fetcher", "Response"]

logger = logging.getLogger("extapi_pandas.http")

_CHUNK = 64 * 1024
_ERROR_PREVIEW_BYTES = 300
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


@dataclass
class Response:
    """A complete, decompressed response to a campaign request.

    Attributes:
        url: The redacted URL that answered (after redirects).
        elapsed: Seconds from the first attempt to the end of the body.
        attempts: Requests sent, retries included.
        fetched_at: When the body arrived, UTC, ISO 8601.
    """

    status: int
    headers: dict[str, str]
    body: bytes
    url: str
    elapsed: float
    attempts: int
    fetched_at: str
    wire_bytes: int = 0
    retries: list[str] = field(default_factory=list)

    @property
    def content_type(self) -> str | None:
        """The Content-Type header, or None."""
        return self.headers.get("content-type")


class _Retryable(Exception):
    """An attempt failed in a way that another attempt may fix."""

    def __init__(self, error: ExtapiError, retry_after: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


class Fetcher:
    """Sends campaign requests for one enrichment call.

    Use as an async context manager: it owns one `aiohttp.ClientSession`, closed on
    every path, and limits requests in flight to `api.max_concurrency`.

    Args:
        api: The definition whose options apply.
        redactor: Masks secrets in logs and errors.
        ssl_context: TLS settings; the system trust store when None.
    """

    def __init__(
        self,
        api: ExternalAPI,
        redactor: Redactor,
        *,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._api = api
        self._redactor = redactor
        self._ssl = ssl_context
        self._semaphore = asyncio.Semaphore(api.max_concurrency)
        self._session: aiohttp.ClientSession | None = None
        self._auth: PreparedAuth | None = None
        self._auth_lock = asyncio.Lock()

    async def __aenter__(self) -> Fetcher:
        timeout = self._api.timeout
        connector = aiohttp.TCPConnector(
            limit=self._api.max_concurrency,
            resolver=GuardedResolver(self._api.guard),
            ssl=self._ssl if self._ssl is not None else True,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(
                total=None, connect=timeout.connect, sock_read=timeout.read
            ),
            auto_decompress=False,
            trust_env=False,
            raise_for_status=False,
            headers={"User-Agent": "extapi-pandas", "Accept-Encoding": "gzip, deflate, br",
                     "Accept": "application/json"},
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def fetch(self, request: CampaignRequest) -> Response:
        """Send one campaign's request, with retries, within the total timeout.

        Raises:
            ExtapiError: The request failed for good; `RequestTimeout` when the
                total timeout passed.
        """
        total = self._api.timeout.total
        started = time.monotonic()
        async with self._semaphore:
            try:
                async with asyncio.timeout(total):
                    return await self._fetch_with_retries(request, started)
            except TimeoutError as exc:
                if isinstance(exc, ExtapiError):
                    raise
                raise RequestTimeout(
                    f"campaign {request.key!r}: no complete response within the total "
                    f"timeout of {total:g} s (retries included) from "
                    f"{self._redactor.url(request.url)}; raise timeout= if the API is "
                    "slow",
                    campaign=request.key,
                ) from None

    async def _fetch_with_retries(
        self, request: CampaignRequest, started: float
    ) -> Response:
        retry = self._api.retries
        may_retry = request.method != "POST" or retry.unsafe_methods or any(
            name.lower() == "idempotency-key" for name in request.headers
        )
        notes: list[str] = []
        attempt = 0
        while True:
            attempt += 1
            try:
                response = await self._attempt(request, attempt, started)
                response.retries = notes
                return response
            except _Retryable as failure:
                if not may_retry or attempt > retry.attempts:
                    raise failure.error from failure.error.__cause__
                delay = self._delay(failure, attempt, started)
                notes.append(failure.error.code)
                logger.warning(
                    "retrying %s %s in %.2f s (attempt %d of %d): %s",
                    request.method, self._redactor.url(request.url), delay, attempt + 1,
                    retry.attempts + 1, self._redactor.text(str(failure.error)),
                )
                await asyncio.sleep(delay)

    def _delay(self, failure: _Retryable, attempt: int, started: float) -> float:
        delay = self._api.retries.delay(attempt)
        if failure.retry_after is not None:
            remaining = self._api.timeout.total - (time.monotonic() - started)
            if failure.retry_after >= remaining:
                raise failure.error
            delay = failure.retry_after
        return delay

    async def _attempt(
        self, request: CampaignRequest, attempt: int, started: float
    ) -> Response:
        assert self._session is not None, "Fetcher used outside 'async with'"
        auth = await self._prepared_auth()
        url = request.url.extend_query(dict(auth.params)) if auth.params else request.url
        headers = {**request.headers, **auth.headers}
        guard = self._api.guard
        redirects = 0
        visited = {str(url)}
        while True:
            check_url(url, guard)
            response = await self._exchange(request, url, headers, attempt, started)
            if response.status not in _REDIRECT_STATUSES:
                return self._checked(request, response)
            url = self._next_url(request, url, response, redirects, visited)
            redirects += 1

    def _next_url(
        self, request: CampaignRequest, url: URL, response: Response, redirects: int,
        visited: set[str],
    ) -> URL:
        guard = self._api.guard
        location = response.headers.get("location")
        shown = self._redactor.url(url)
        if not guard.follow_redirects:
            raise RedirectError(
                f"campaign {request.key!r}: {shown} answered {response.status} "
                f"redirecting to {self._redactor.text(location or '(no Location)')}; "
                "redirects are not followed by default. Call the final URL directly, "
                "or pass follow_redirects=True",
                campaign=request.key,
            )
        if not location:
            raise RedirectError(
                f"campaign {request.key!r}: {shown} answered {response.status} without "
                "a Location header", campaign=request.key)
        target = url.join(URL(location))
        if redirects >= guard.max_redirects:
            raise RedirectError(
                f"campaign {request.key!r}: more than max_redirects="
                f"{guard.max_redirects} redirects from {shown}", campaign=request.key)
        if str(target) in visited:
            raise RedirectError(
                f"campaign {request.key!r}: redirect loop at "
                f"{self._redactor.url(target)}", campaign=request.key)
        if url.scheme == "https" and target.scheme != "https":
            raise GuardError(
                f"campaign {request.key!r}: {shown} redirects from HTTPS to "
                f"{self._redactor.url(target)}, which would expose the request; "
                "this is never followed", campaign=request.key)
        if (target.host, target.port) != (url.host, url.port):
            raise GuardError(
                f"campaign {request.key!r}: {shown} redirects to another host "
                f"({target.host}); only same-host redirects are followed, so that "
                "credentials never reach another host. Call that host directly",
                campaign=request.key)
        visited.add(str(target))
        return target

    async def _exchange(
        self, request: CampaignRequest, url: URL, headers: Mapping[str, str],
        attempt: int, started: float,
    ) -> Response:
        assert self._session is not None
        shown = self._redactor.url(url)
        try:
            async with self._session.request(
                request.method, url, headers=headers, data=request.body,
                allow_redirects=False,
            ) as raw:
                body, wire = await self._read_body(request, raw)
                elapsed = time.monotonic() - started
                logger.info(
                    "%s %s -> %d (%d bytes, %.3f s, attempt %d)", request.method, shown,
                    raw.status, len(body), elapsed, attempt,
                )
                return Response(
                    status=raw.status,
                    headers={k.lower(): v for k, v in raw.headers.items()},
                    body=body, url=shown, elapsed=elapsed, attempts=attempt,
                    fetched_at=dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
                    wire_bytes=wire,
                )
        except aiohttp.ClientPayloadError as exc:
            raise _Retryable(TruncatedResponse(
                f"campaign {request.key!r}: the response from {shown} ended early "
                f"({_payload_detail(exc)}); the connection broke mid-body",
                campaign=request.key)) from exc
        except aiohttp.ServerTimeoutError as exc:
            raise _Retryable(RequestTimeout(
                f"campaign {request.key!r}: {shown} sent nothing for "
                f"{self._api.timeout.read:g} s (read timeout) or did not connect within "
                f"{self._api.timeout.connect:g} s; raise timeout=Timeout(...) if the "
                "API is slow", campaign=request.key)) from exc
        except (aiohttp.ClientConnectionError, OSError) as exc:
            raise _Retryable(ConnectError(
                f"campaign {request.key!r}: connecting to {shown} failed: "
                f"{self._redactor.text(str(exc)) or type(exc).__name__}",
                campaign=request.key)) from exc

    async def _read_body(
        self, request: CampaignRequest, raw: aiohttp.ClientResponse
    ) -> tuple[bytes, int]:
        limit = self._api.guard.max_bytes
        announced = raw.headers.get("Content-Length")
        encoding = raw.headers.get("Content-Encoding")
        if encoding is None and announced is not None and announced.isdigit() and int(
            announced
        ) > limit:
            raise self._too_large(request, f"Content-Length {announced}")
        try:
            decoder = make_decoder(encoding)
        except ValueError as exc:
            raise DecodeError(f"campaign {request.key!r}: {exc}",
                              campaign=request.key) from exc
        chunks: list[bytes] = []
        size = wire = 0
        try:
            async for chunk in raw.content.iter_chunked(_CHUNK):
                wire += len(chunk)
                data = decoder.feed(chunk, limit - size)
                size += len(data)
                if size > limit:
                    raise self._too_large(request, "the body")
                chunks.append(data)
            decoder.finish()
        except DecompressionError as exc:
            raise DecodeError(
                f"campaign {request.key!r}: the body is labelled Content-Encoding "
                f"{encoding!r} but could not be decompressed ({exc}); the server "
                "mislabels its responses",
                campaign=request.key,
            ) from exc
        return b"".join(chunks), wire

    def _too_large(self, request: CampaignRequest, what: str) -> ResponseTooLarge:
        limit = self._api.guard.max_bytes
        return ResponseTooLarge(
            f"campaign {request.key!r}: {what} is over the max_bytes limit of {limit} "
            "bytes (counted after decompression); campaign-wide data is usually "
            "small, so check the request, or raise max_bytes",
            campaign=request.key,
        )

    def _checked(self, request: CampaignRequest, response: Response) -> Response:
        if 200 <= response.status < 300:
            return response
        preview = self._redactor.text(
            response.body[:_ERROR_PREVIEW_BYTES].decode("utf-8", "replace"))
        error = HTTPStatusError(
            f"campaign {request.key!r}: {response.url} answered HTTP "
            f"{response.status}; body starts with {' '.join(preview.split())!r}",
            status=response.status, campaign=request.key,
        )
        if response.status in self._api.retries.statuses:
            raise _Retryable(error, _retry_after(response.headers.get("retry-after")))
        raise error

    async def _prepared_auth(self) -> PreparedAuth:
        if self._api.auth is None:
            return PreparedAuth({}, {})
        async with self._auth_lock:
            if self._auth is None:
                self._auth = await self._api.auth.prepare(self._session)
            return self._auth


def _retry_after(value: str | None) -> float | None:
    """Parse a Retry-After header: delay seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())


def _payload_detail(exc: aiohttp.ClientPayloadError) -> str:
    text = str(exc)
    return text or type(exc).__name__
