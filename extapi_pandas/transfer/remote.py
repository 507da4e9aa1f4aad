"""An fsspec HTTP file system under the guard rails and auth of the API route."""

from __future__ import annotations

import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from yarl import URL

from extapi_pandas.errors import ConfigurationError, GuardError, RedirectError
from extapi_pandas.http.auth import Auth, PreparedAuth, TokenReply
from extapi_pandas.http.guard import GuardedResolver, check_url
from extapi_pandas.http.redirects import check_redirect_host, host_key
from extapi_pandas.options import Guard, Timeout
from extapi_pandas.redaction import Redactor, is_sensitive_name

__all__ = ["HttpSettings", "check_source_url", "open_http_filesystem"]

_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# Token endpoint replies are small JSON documents; more than this is an error page.
_MAX_TOKEN_REPLY_BYTES = 1024 * 1024
# The storage_options that the guarded HTTP file system accepts.
_HTTP_OPTIONS = frozenset({"headers", "block_size"})


@dataclass(frozen=True)
class HttpSettings:
    """Options of HTTP(S) sources.

    Attributes:
        guard: Scheme, host and redirect rules, as for campaign calls.
        auth: Credentials sent to the source's hosts only.
        verify: True for the system trust store, a CA bundle path, or a context.
        timeout: Connect and read (silence) limits; no total limit applies, so
            that a large file can take as long as it needs.
    """

    guard: Guard
    auth: Auth | None
    verify: bool | str | ssl.SSLContext
    timeout: Timeout


@dataclass
class _TokenReply:
    status: int
    body: bytes
    url: str


class _SessionTransport:
    """The `AuthTransport` of an HTTP source: token requests under the same guard."""

    campaign: Any = None

    def __init__(
        self, session: aiohttp.ClientSession, guard: Guard, redactor: Redactor
    ) -> None:
        self._session = session
        self._guard = guard
        self._redactor = redactor

    async def post_form(
        self, url: str, form: Mapping[str, str], headers: Mapping[str, str]
    ) -> TokenReply:
        target = URL(url)
        check_url(target, self._guard)
        # The session middleware is left out because it would strip the client
        # credentials from a token endpoint on another origin than the files.
        async with self._session.post(
            target,
            data=dict(form),
            headers=dict(headers),
            allow_redirects=False,
            middlewares=(),
        ) as response:
            body = await response.content.read(_MAX_TOKEN_REPLY_BYTES)
            return _TokenReply(response.status, body, self._redactor.url(target))

    def add_secret(self, value: str) -> None:
        self._redactor.add(value)


def check_source_url(url: str, guard: Guard) -> URL:
    """Parse a source URL and apply the guard rails of the API route to it.

    Raises:
        GuardError: The scheme, host or address is not allowed.
    """
    parsed = URL(url)
    check_url(parsed, guard)
    return parsed


def open_http_filesystem(
    urls: list[str],
    settings: HttpSettings,
    storage_options: Mapping[str, Any] | None,
    redactor: Redactor,
) -> tuple[Any, Callable[[], None]]:
    """Build an fsspec `HTTPFileSystem` whose session enforces the guard rails.

    Every request, redirects included, passes `check_url`, and every resolved
    address passes the link-local check. Redirects are followed only with
    `follow_redirects`, and only to the hosts and ports of `urls` or to
    `redirect_hosts`. Credentials go only to the origins of `urls`, so requests
    to other origins lose credential headers, userinfo and secret query values.

    Returns:
        The file system, and a function that closes its session.

    Raises:
        GuardError: A URL breaks a guard rail (checked before anything is sent).
        ConfigurationError: `storage_options` has keys this file system does not
            take.
    """
    from fsspec.asyn import sync
    from fsspec.implementations.http import HTTPFileSystem

    options = dict(storage_options or {})
    unknown = sorted(set(options) - _HTTP_OPTIONS)
    if unknown:
        raise ConfigurationError(
            f"storage_options {', '.join(map(repr, unknown))} are not taken for "
            f"HTTP sources; valid keys are {', '.join(sorted(_HTTP_OPTIONS))} (use "
            "auth=, verify= and the guard options for the rest)"
        )
    origins = {_origin(check_source_url(url, settings.guard)) for url in urls}
    state = _SessionState(settings, redactor, origins)
    fs = HTTPFileSystem(
        get_client=state.create,
        skip_instance_cache=True,
        block_size=options.pop("block_size", None),
        headers=dict(options.pop("headers", {})),
        allow_redirects=settings.guard.follow_redirects,
        max_redirects=settings.guard.max_redirects,
    )

    def close() -> None:
        if state.session is not None and not state.session.closed:
            sync(fs.loop, state.session.close)

    return fs, close


class _SessionState:
    """Creates the guarded session on fsspec's event loop and keeps it for closing."""

    def __init__(
        self, settings: HttpSettings, redactor: Redactor, origins: set[tuple[Any, ...]]
    ) -> None:
        self.settings = settings
        self.redactor = redactor
        self.origins = origins
        self.session: aiohttp.ClientSession | None = None
        self.prepared: PreparedAuth | None = None

    async def create(self, **_: Any) -> aiohttp.ClientSession:
        settings = self.settings
        connector = aiohttp.TCPConnector(
            resolver=GuardedResolver(settings.guard), ssl=_ssl_context(settings.verify)
        )
        self.session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(
                total=None,
                connect=settings.timeout.connect,
                sock_read=settings.timeout.read,
            ),
            trust_env=False,
            middlewares=(self.middleware,),
            # Files are compressed by their own extension; asking for identity
            # keeps Content-Length and byte ranges about the stored bytes.
            headers={"User-Agent": "extapi-pandas", "Accept-Encoding": "identity"},
        )
        if settings.auth is not None:
            transport = _SessionTransport(self.session, settings.guard, self.redactor)
            self.prepared = await settings.auth.prepare(transport)
            self.redactor.add(*settings.auth.secrets())
        return self.session

    async def middleware(
        self, request: aiohttp.ClientRequest, handler: Any
    ) -> aiohttp.ClientResponse:
        check_url(request.url, self.settings.guard)
        if _origin(request.url) not in self.origins:
            _strip_credentials(request, self.redactor)
        elif self.prepared is not None:
            request.headers.update(self.prepared.headers)
            if self.prepared.params:
                request.url = request.url.extend_query(dict(self.prepared.params))
        response: aiohttp.ClientResponse = await handler(request)
        if response.status in _REDIRECT_STATUSES:
            try:
                self._check_redirect(request.url, response)
            except (GuardError, RedirectError):
                response.release()
                raise
        return response

    def _check_redirect(self, url: URL, response: aiohttp.ClientResponse) -> None:
        guard = self.settings.guard
        shown = self.redactor.url(url)
        location = response.headers.get("Location")
        if not guard.follow_redirects:
            raise RedirectError(
                f"{shown} returned {response.status}, a redirect to "
                f"{self.redactor.text(location or '(no Location)')}; redirects are "
                "not followed by default. Use the final URL, or pass "
                "follow_redirects=True"
            )
        if guard.max_redirects == 0:
            # aiohttp 3.14 reads max_redirects=0 as "no limit", so it is kept here.
            raise RedirectError(
                f"{shown} returned {response.status}, a redirect, but "
                "max_redirects=0 allows none. Use the final URL, or raise "
                "max_redirects"
            )
        if not location:
            return
        target = url.join(URL(location))
        if url.scheme == "https" and target.scheme != "https":
            raise GuardError(
                f"{shown} redirects from HTTPS to {self.redactor.url(target)}, which "
                "would expose the request; this is never followed"
            )
        check_url(target, guard)
        check_redirect_host(
            target,
            {(host, port) for _, host, port in self.origins},
            guard,
            prefix=f"{shown} responded with {response.status}",
            redactor=self.redactor,
        )


def _origin(url: URL) -> tuple[str | None, str, int | None]:
    return (url.scheme, *host_key(url))


def _strip_credentials(request: aiohttp.ClientRequest, redactor: Redactor) -> None:
    """Remove credential headers, userinfo and secret query values from `request`.

    aiohttp 3.14 drops only Authorization, Cookie and Proxy-Authorization when a
    redirect changes the origin, so headers from `storage_options`, such as an
    API key, would go along.
    """
    for name in set(request.headers):
        values = request.headers.getall(name)
        if is_sensitive_name(name) or any(redactor.text(v) != v for v in values):
            request.headers.popall(name, None)
    url = request.url
    if url.query and any(redactor.text(v) != v for v in url.query.values()):
        url = url.with_query(
            [(name, v) for name, v in url.query.items() if redactor.text(v) == v]
        )
    if url.user is not None:
        url = url.with_user(None)
    request.url = url


def _ssl_context(verify: bool | str | ssl.SSLContext) -> ssl.SSLContext | bool:
    if isinstance(verify, ssl.SSLContext):
        return verify
    if isinstance(verify, str):
        try:
            return ssl.create_default_context(cafile=verify)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigurationError(
                f"verify={verify!r} is not a readable PEM file of CA certificates: "
                f"{exc}"
            ) from exc
    if verify is not True:
        raise ConfigurationError(
            f"verify must be True, a path to a CA bundle or an ssl.SSLContext, got "
            f"{verify!r}; certificate checks cannot be turned off"
        )
    return True
