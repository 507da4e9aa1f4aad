"""The fetch stage: one aiohttp session per call, one guarded request per campaign."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import urlencode

import aiohttp
from yarl import URL

from extapi_pandas.activity import ExternalAPI
from extapi_pandas.errors import (
    ExtapiError,
    GuardError,
    HTTPStatusError,
    RequestError,
    RequestTimeout,
    RequestTooLarge,
)
from extapi_pandas.http.auth import PreparedAuth
from extapi_pandas.http.body import read_body
from extapi_pandas.http.guard import GuardedResolver, check_url
from extapi_pandas.http.redirects import REDIRECT_STATUSES, Hop, next_hop
from extapi_pandas.http.retry import (
    RetryableFailure,
    is_repeatable,
    parse_retry_after,
    retry_delay,
)
from extapi_pandas.http.translate import translate_error
from extapi_pandas.plan import CampaignRequest
from extapi_pandas.redaction import Redactor

__all__ = ["Fetcher", "Response"]

logger = logging.getLogger(__name__)

_ERROR_PREVIEW_CHARS = 300
_NO_AUTH = PreparedAuth({}, {})


@dataclass(repr=False)
class Response:
    """A complete, decompressed response to a campaign request.

    Attributes:
        status: The HTTP status of the last response (after redirects).
        headers: Response headers, names lower-cased.
        body: The decompressed body.
        url: The redacted URL of the final response (after redirects).
        elapsed: Seconds from the first attempt to the end of the body.
        attempts: Requests sent, retries included.
        fetched_at: When the body arrived, UTC, ISO 8601.
        wire_bytes: Body bytes received before decompression.
        retries: The error code of each failed attempt that was retried.
        cache_hit: True when the cache served the response, False when the cache
            missed, None when no cache is configured.
        replayed: True when a recording served the response.
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
    cache_hit: bool | None = None
    replayed: bool = False

    @property
    def content_type(self) -> str | None:
        """The Content-Type header, or None."""
        return self.headers.get("content-type")

    def __repr__(self) -> str:
        # Headers and body are left out: a Set-Cookie header is a credential.
        return (
            f"Response(status={self.status}, url={self.url!r}, "
            f"bytes={len(self.body)}, content_type={self.content_type!r})"
        )


@dataclass
class _CampaignCall:
    """The state of one campaign's call across attempts."""

    request: CampaignRequest
    started: float
    total: float
    attempt: int = 0
    retried: list[str] = field(default_factory=list)
    last_error: ExtapiError | None = None

    @property
    def campaign(self) -> Any:
        return self.request.key

    def remaining(self) -> float:
        return self.total - (time.monotonic() - self.started)


class _AuthTransport:
    """Gives an auth scheme guarded POSTs within one campaign's call."""

    def __init__(self, fetcher: Fetcher, call: _CampaignCall) -> None:
        self._fetcher = fetcher
        self._call = call
        self.campaign = call.campaign

    async def post_form(
        self, url: str, form: Mapping[str, str], headers: Mapping[str, str]
    ) -> Response:
        return await self._fetcher._post_form(self._call, url, form, headers)

    def add_secret(self, value: str) -> None:
        self._fetcher._redactor.add(value)


class Fetcher:
    """Sends campaign requests for one enrichment call.

    Use as an async context manager: it owns one `aiohttp.ClientSession`, closed on
    every path, and limits requests in flight to `api.max_concurrency`.

    Args:
        api: The definition whose options apply.
        redactor: Masks secrets in logs and errors; secrets learned during the call
            (an OAuth2 token) are added to it.
        ssl_context: TLS settings; the system trust store when None.
        on_retry: Called with the request and the error code before each retry,
            for a progress display.
    """

    def __init__(
        self,
        api: ExternalAPI,
        redactor: Redactor,
        *,
        ssl_context: ssl.SSLContext | None = None,
        on_retry: Callable[[CampaignRequest, str], None] | None = None,
    ) -> None:
        self._api = api
        self._redactor = redactor
        self._ssl = ssl_context
        self._on_retry = on_retry
        self._semaphore = asyncio.Semaphore(api.max_concurrency)
        self._session: aiohttp.ClientSession | None = None
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
                total=None,
                connect=timeout.connect,
                sock_connect=timeout.connect,
                sock_read=timeout.read,
            ),
            auto_decompress=False,
            trust_env=False,
            raise_for_status=False,
            headers={
                "User-Agent": "extapi-pandas",
                "Accept-Encoding": "gzip, deflate, br",
                "Accept": "application/json",
            },
        )
        # NOTE: aiohttp resends a GET or PUT once, on a new connection, when the
        # connection drops before any response (RFC 9112 section 9.3.1 allows it;
        # it covers servers that close idle kept-alive connections). That resend
        # is not counted in Retry.attempts. A POST is never resent this way.
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
                total timeout passed. Known secrets are masked in the message and
                in the messages of its causes.
        """
        self._check_request_size(request)
        total = self._api.timeout.total
        async with self._semaphore:
            call = _CampaignCall(request, time.monotonic(), total)
            try:
                async with asyncio.timeout(total):
                    return await self._fetch_with_retries(call)
            except ExtapiError as exc:
                self._redactor.exception(exc)
                raise
            except TimeoutError:
                raise self._total_timeout(call) from None

    def _check_request_size(self, request: CampaignRequest) -> None:
        limit = self._api.guard.max_request_bytes
        if request.body is not None and len(request.body) > limit:
            raise RequestTooLarge(
                f"campaign {request.key!r}: the request body is {len(request.body)} "
                f"bytes, over the max_request_bytes limit of {limit}; raise "
                "max_request_bytes, or send per-profile data with enrich_from_file",
                campaign=request.key,
            )

    def _total_timeout(self, call: _CampaignCall) -> RequestTimeout:
        last = (
            ""
            if call.last_error is None
            else f"; the last failure was {call.last_error.code}"
        )
        return RequestTimeout(
            f"campaign {call.campaign!r}: no complete response within the total "
            f"timeout of {call.total:g} s (retries included) from "
            f"{self._redactor.url(call.request.url)}, after {call.attempt} "
            f"attempt(s){last}; raise timeout= if the API is slow",
            campaign=call.campaign,
        )

    async def _fetch_with_retries(self, call: _CampaignCall) -> Response:
        retry = self._api.retries
        request = call.request
        repeatable = is_repeatable(request.method, request.headers, retry)
        while True:
            call.attempt += 1
            try:
                response = await self._attempt(call)
            except RetryableFailure as failure:
                call.last_error = failure.error
                delay = self._plan_retry(call, failure, repeatable)
                call.retried.append(failure.error.code)
                logger.warning(
                    "retrying %s %s in %.2f s (attempt %d of %d) after %s: %s",
                    request.method,
                    self._redactor.url(request.url),
                    delay,
                    call.attempt + 1,
                    retry.attempts + 1,
                    failure.error.code,
                    self._redactor.text(str(failure.error)),
                )
                if self._on_retry is not None:
                    self._on_retry(request, failure.error.code)
                await asyncio.sleep(delay)
                continue
            response.attempts = call.attempt
            response.retries = list(call.retried)
            response.elapsed = time.monotonic() - call.started
            return response

    def _plan_retry(
        self, call: _CampaignCall, failure: RetryableFailure, repeatable: bool
    ) -> float:
        """Return the wait before the next attempt, or raise the final error."""
        retry = self._api.retries
        error = failure.error
        if failure.sent and not repeatable:
            _append(
                error,
                f"not retried, because {call.request.method} is repeated "
                "only with retries=Retry(unsafe_methods=True) or an "
                "Idempotency-Key header",
            )
            raise error from error.__cause__
        if call.attempt > retry.attempts:
            if call.attempt > 1:
                _append(error, f"gave up after {call.attempt} attempts")
            raise error from error.__cause__
        delay = retry_delay(retry, call.attempt, failure.retry_after, call.remaining())
        if delay is None:
            wait = (
                f"Retry-After asked for {failure.retry_after:g} s"
                if failure.retry_after is not None
                else "the next backoff"
            )
            _append(
                error,
                f"not retried after attempt {call.attempt}: {wait}, more "
                f"than the {max(call.remaining(), 0.0):.1f} s left of the total "
                "timeout",
            )
            raise error from error.__cause__
        return delay

    async def _attempt(self, call: _CampaignCall) -> Response:
        request = call.request
        hop = Hop(request.method, request.url, dict(request.headers), request.body)
        credentials = await self._credentials(call)
        response = await self._send(call, hop, credentials)
        renewed = (
            response.status == 401
            and self._api.auth is not None
            and await self._refresh_credentials(call, credentials)
        )
        if renewed:
            logger.info(
                "campaign %r: retrying once with renewed credentials", call.campaign
            )
            credentials = await self._credentials(call)
            response = await self._send(call, hop, credentials)
        return self._checked(call, response)

    async def _credentials(self, call: _CampaignCall) -> PreparedAuth:
        auth = self._api.auth
        if auth is None:
            return _NO_AUTH
        # One lock for the call, so that campaigns starting together share the
        # token that the first of them fetches.
        async with self._auth_lock:
            return await auth.prepare(_AuthTransport(self, call))

    async def _refresh_credentials(
        self, call: _CampaignCall, rejected: PreparedAuth
    ) -> bool:
        assert self._api.auth is not None
        async with self._auth_lock:
            return await self._api.auth.refresh(_AuthTransport(self, call), rejected)

    async def _post_form(
        self,
        call: _CampaignCall,
        url: str,
        form: Mapping[str, str],
        headers: Mapping[str, str],
    ) -> Response:
        """Send a form POST for an auth scheme, under the campaign's guard rails."""
        try:
            target = URL(url)
        except ValueError as exc:
            raise RequestError(
                f"campaign {call.campaign!r}: invalid token URL ({exc})",
                campaign=call.campaign,
            ) from None
        body = urlencode(dict(form)).encode("ascii")
        hop_headers = {**headers, "Content-Type": "application/x-www-form-urlencoded"}
        response = await self._send(
            call, Hop("POST", target, hop_headers, body), _NO_AUTH
        )
        if response.status in self._api.retries.statuses:
            error = HTTPStatusError(
                f"campaign {call.campaign!r}: the token endpoint {response.url} "
                f"responded with HTTP {response.status}",
                status=response.status,
                campaign=call.campaign,
            )
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            raise RetryableFailure(error, retry_after=retry_after)
        return response

    async def _send(
        self, call: _CampaignCall, first: Hop, credentials: PreparedAuth
    ) -> Response:
        """Send `first` and follow redirects as the guard rails allow."""
        hop = first
        visited: set[str] = set()
        redirects = 0
        while True:
            url, headers = hop.url, dict(hop.headers)
            if hop.credentials:
                if credentials.params:
                    url = url.extend_query(dict(credentials.params))
                headers.update(credentials.headers)
            check_url(url, self._api.guard, campaign=call.campaign)
            visited.add(str(hop.url))
            response = await self._exchange(
                call, hop.method, url, headers, hop.body, cookies=hop.credentials
            )
            if response.status not in REDIRECT_STATUSES:
                return response
            hop = next_hop(
                hop,
                status=response.status,
                location=response.headers.get("location"),
                origin=first.url,
                redirects=redirects,
                visited=visited,
                guard=self._api.guard,
                redactor=self._redactor,
                campaign=call.campaign,
            )
            redirects += 1

    async def _exchange(
        self,
        call: _CampaignCall,
        method: str,
        url: URL,
        headers: Mapping[str, str],
        body: bytes | None,
        *,
        cookies: bool = True,
    ) -> Response:
        assert self._session is not None, "Fetcher used outside 'async with'"
        shown = self._redactor.url(url)
        began = time.monotonic()
        # The cookie jar matches cookies by host name only, so a redirect to
        # another port of the same name would get them without this middleware.
        middlewares = () if cookies else (_without_cookies,)
        try:
            async with self._session.request(
                method,
                url,
                headers=headers,
                data=body,
                allow_redirects=False,
                middlewares=middlewares,
            ) as raw:
                content, wire = await read_body(
                    raw,
                    limit=self._api.guard.max_bytes,
                    campaign=call.campaign,
                    shown_url=shown,
                )
        except (aiohttp.ClientError, OSError, GuardError) as exc:
            error = translate_error(
                exc,
                campaign=call.campaign,
                shown_url=shown,
                timeout=self._api.timeout,
                redactor=self._redactor,
            )
            raise error  # noqa: B904 (the cause is chained inside)
        elapsed = time.monotonic() - began
        logger.info(
            "%s %s -> %d (%d bytes, %.3f s, attempt %d)",
            method,
            shown,
            raw.status,
            len(content),
            elapsed,
            call.attempt,
        )
        return Response(
            status=raw.status,
            headers={name.lower(): value for name, value in raw.headers.items()},
            body=content,
            url=shown,
            elapsed=elapsed,
            attempts=call.attempt,
            fetched_at=dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
            wire_bytes=wire,
        )

    def _checked(self, call: _CampaignCall, response: Response) -> Response:
        if 200 <= response.status < 300:
            return response
        preview = self._redactor.text(
            response.body[:_ERROR_PREVIEW_CHARS].decode("utf-8", "replace")
        )
        hint = (
            "; check the credentials given with auth="
            if response.status in (401, 403)
            else ""
        )
        error = HTTPStatusError(
            f"campaign {call.campaign!r}: {response.url} responded with HTTP "
            f"{response.status}; the body starts with {' '.join(preview.split())!r}"
            f"{hint}",
            status=response.status,
            campaign=call.campaign,
        )
        if response.status in self._api.retries.statuses:
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            raise RetryableFailure(error, retry_after=retry_after)
        raise error


async def _without_cookies(
    request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
) -> aiohttp.ClientResponse:
    request.headers.popall("Cookie", None)
    return await handler(request)


def _append(error: ExtapiError, sentence: str) -> None:
    message = str(error).rstrip(".")
    error.args = (f"{message} ({sentence})", *error.args[1:])
