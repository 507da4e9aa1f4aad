"""Redirect policy: when a 3xx is followed, where to, and with which credentials."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from typing import Any

from yarl import URL

from extapi_pandas.errors import GuardError, RedirectError
from extapi_pandas.http.guard import check_url
from extapi_pandas.options import Guard
from extapi_pandas.redaction import Redactor, is_sensitive_name

__all__ = [
    "REDIRECT_STATUSES",
    "Hop",
    "check_redirect_host",
    "host_key",
    "next_hop",
    "same_origin",
]

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True)
class Hop:
    """One request of a redirect chain, before auth is added.

    Attributes:
        method: The HTTP method.
        url: The URL, without the auth scheme's query parameters.
        headers: Request headers, without the auth scheme's headers.
        body: The request body, or None.
        credentials: Whether auth headers, parameters and cookies go with this
            request. False once the chain has left the first request's origin.
    """

    method: str
    url: URL
    headers: dict[str, str]
    body: bytes | None
    credentials: bool = True


def same_origin(first: URL, second: URL) -> bool:
    """Return True when both URLs have the same scheme, host and port."""
    return (first.scheme, first.host, first.port) == (
        second.scheme,
        second.host,
        second.port,
    )


def host_key(url: URL) -> tuple[str, int | None]:
    """Return the host (lower-case, IDNA-encoded) and the port of `url`."""
    return (url.raw_host or "").lower().rstrip("."), url.port


def check_redirect_host(
    target: URL,
    first_hosts: Collection[tuple[str, int | None]],
    guard: Guard,
    *,
    prefix: str,
    redactor: Redactor,
    campaign: Any = None,
) -> None:
    """Reject a redirect to a host and port that the chain may not reach.

    Args:
        target: The URL the redirect leads to.
        first_hosts: `host_key` values of the URLs that were requested first.
        guard: The guard rails in force, whose `redirect_hosts` lists other hosts.
        prefix: The start of the message: which request got which status.
        redactor: Masks secrets in the message.
        campaign: The campaign key, for the error.

    Raises:
        RedirectError: `target` is on none of `first_hosts` and not in
            `guard.redirect_hosts`.
    """
    if host_key(target) in first_hosts or guard.allows_redirect_to(target):
        return
    first = ", ".join(sorted(_host_text(*key) for key in first_hosts))
    raise RedirectError(
        f"{prefix} redirecting to {redactor.url(target)}, on another host "
        f"({_host_text(*host_key(target))}) than the first request ({first}). "
        "follow_redirects=True follows redirects to the same host only. Call that "
        f"URL directly, or pass redirect_hosts=[{_suggested_entry(target)!r}] to "
        "follow it without credentials",
        campaign=campaign,
    )


def _host_text(host: str, port: int | None) -> str:
    bracketed = f"[{host}]" if ":" in host else host
    return bracketed if port is None else f"{bracketed}:{port}"


def _suggested_entry(target: URL) -> str:
    """Return the `redirect_hosts` entry for `target`, without a default port."""
    host, port = host_key(target)
    default = {"http": 80, "https": 443}.get(target.scheme)
    return _host_text(host, None if port == default else port)


def next_hop(
    hop: Hop,
    *,
    status: int,
    location: str | None,
    origin: URL,
    redirects: int,
    visited: set[str],
    guard: Guard,
    redactor: Redactor,
    campaign: Any,
) -> Hop:
    """Return the request that follows a redirect response, or raise.

    Args:
        hop: The request that got the redirect response.
        status: The redirect status.
        location: The `Location` header, if any.
        origin: The first URL of the chain. Credentials go only to its origin,
            and the chain stays on its host unless `guard.redirect_hosts` lists
            another one.
        redirects: Redirects followed so far.
        visited: URLs requested so far in the chain, to detect loops.
        guard: The guard rails in force.
        redactor: Masks secrets in messages, and tells whether a value is one.
        campaign: The campaign key, for messages.

    Raises:
        RedirectError: Redirects are off, the limit is reached, the chain loops,
            the Location header is missing or invalid, or the target is on another
            host that `guard.redirect_hosts` does not list.
        GuardError: The redirect goes from HTTPS to HTTP, its target breaks the
            scheme or address rules of `check_url`, or it would carry a body
            holding credentials to another origin.
    """
    shown = redactor.url(hop.url)
    prefix = f"campaign {campaign!r}: {shown} responded with {status}"
    if not guard.follow_redirects:
        target_text = redactor.text(location) if location else "(no Location)"
        raise RedirectError(
            f"{prefix} redirecting to {target_text}; redirects are not followed by "
            "default. Call the final URL directly, or pass follow_redirects=True",
            campaign=campaign,
        )
    target = _target(hop.url, location, prefix, campaign)
    if redirects >= guard.max_redirects:
        raise RedirectError(
            f"{prefix} after {redirects} redirects, and max_redirects="
            f"{guard.max_redirects}; call the final URL directly, or raise "
            "max_redirects",
            campaign=campaign,
        )
    if str(target) in visited:
        raise RedirectError(
            f"{prefix} redirecting back to {redactor.url(target)}: a redirect loop",
            campaign=campaign,
        )
    if hop.url.scheme == "https" and target.scheme != "https":
        raise GuardError(
            f"{prefix} redirecting from HTTPS to {redactor.url(target)}, which would "
            "send the request unencrypted; such a redirect is never followed, so "
            "call an HTTPS URL that does not redirect",
            campaign=campaign,
        )
    # The scheme and address rules come before the host rule, so that the error
    # does not suggest listing a host that would be rejected anyway.
    check_url(target, guard, campaign=campaign)
    check_redirect_host(
        target,
        {host_key(origin)},
        guard,
        prefix=prefix,
        redactor=redactor,
        campaign=campaign,
    )
    method, body = _method_and_body(hop, status)
    if same_origin(origin, target) and hop.credentials:
        return replace(hop, method=method, url=target, body=body)
    return _without_credentials(hop, target, method, body, redactor, prefix, campaign)


def _target(url: URL, location: str | None, prefix: str, campaign: Any) -> URL:
    if not location:
        raise RedirectError(f"{prefix} without a Location header", campaign=campaign)
    try:
        return url.join(URL(location.strip()))
    except ValueError as exc:
        raise RedirectError(
            f"{prefix} with an invalid Location header ({exc})", campaign=campaign
        ) from None


def _method_and_body(hop: Hop, status: int) -> tuple[str, bytes | None]:
    # RFC 9110, section 15.4: 303 turns any method but HEAD into GET; clients
    # commonly do the same for POST after 301 and 302. 307 and 308 keep both.
    if (status == 303 and hop.method != "HEAD") or (
        status in (301, 302) and hop.method == "POST"
    ):
        return "GET", None
    return hop.method, hop.body


def _without_credentials(
    hop: Hop,
    target: URL,
    method: str,
    body: bytes | None,
    redactor: Redactor,
    prefix: str,
    campaign: Any,
) -> Hop:
    if body is not None and redactor.text(body.decode("utf-8", "replace")) != (
        body.decode("utf-8", "replace")
    ):
        raise GuardError(
            f"{prefix} redirecting to another origin ({target.origin()}) with a "
            "request body that holds credentials; it is not followed, so call that "
            "host directly",
            campaign=campaign,
        )
    headers = {
        name: value
        for name, value in hop.headers.items()
        if not is_sensitive_name(name) and redactor.text(value) == value
    }
    if target.query:
        kept = [
            (name, value)
            for name, value in target.query.items()
            if redactor.text(value) == value
        ]
        target = target.with_query(kept)
    if target.user is not None:
        target = target.with_user(None)  # aiohttp sends userinfo as Authorization
    return Hop(method, target, headers, body, credentials=False)
