"""Typed option groups for the fetch stage: timeouts, retries and guard rails."""

from __future__ import annotations

import dataclasses
import ipaddress
import math
import random
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from yarl import URL

from extapi_pandas.errors import ConfigurationError

__all__ = ["GUARD_FIELDS", "MIB", "RETRYABLE_STATUSES", "Guard", "Retry", "Timeout"]

MIB = 1024 * 1024

RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})

# Client errors that a later attempt can fix: request timeout, too early, too many
# requests. Any other 4xx means that the request itself is wrong, so it is never
# retried.
_RETRYABLE_CLIENT_ERRORS = frozenset({408, 425, 429})


def _require_positive(owner: str, name: str, value: float, *, allow_zero: bool) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigurationError(
            f"{owner}.{name} must be a number, got {type(value).__name__} {value!r}"
        )
    if not math.isfinite(value):
        raise ConfigurationError(
            f"{owner}.{name} must be a finite number, got {value!r}"
        )
    if value < 0 or (value == 0 and not allow_zero):
        bound = "zero or more" if allow_zero else "more than zero"
        raise ConfigurationError(f"{owner}.{name} must be {bound}, got {value!r}")


@dataclass(frozen=True)
class Timeout:
    """Time limits for one campaign's call, in seconds.

    Args:
        total: Limit for the whole call, retries and their waits included.
        connect: Limit for opening a connection (TCP and TLS), per attempt.
        read: Limit on silence while reading the response, per attempt.

    Example:
        >>> Timeout(total=20, connect=5)
        Timeout(total=20, connect=5, read=30.0)
    """

    total: float = 60.0
    connect: float = 10.0
    read: float = 30.0

    def __post_init__(self) -> None:
        for name in ("total", "connect", "read"):
            _require_positive("Timeout", name, getattr(self, name), allow_zero=False)

    @classmethod
    def coerce(cls, value: Timeout | float | int) -> Timeout:
        """Accept a `Timeout`, or a number of seconds for the total."""
        if isinstance(value, Timeout):
            return value
        _require_positive("timeout", "total", value, allow_zero=False)
        total = float(value)
        return cls(total=total, connect=min(10.0, total), read=min(30.0, total))


@dataclass(frozen=True)
class Retry:
    """When and how often a failed request is sent again.

    Waits grow exponentially with full jitter: before retry n the wait is a random
    time between 0 and `min(max_backoff, backoff * 2 ** (n - 1))`. A `Retry-After`
    header replaces the wait, within what is left of the total timeout.

    Args:
        attempts: Retries after the first try; 0 turns retrying off.
        backoff: Base of the exponential wait, in seconds.
        max_backoff: Cap on one wait, in seconds.
        statuses: HTTP statuses that are retried: 5xx, 408, 425 and 429 are
            accepted. Other statuses are never retried.
        unsafe_methods: Also retry POST requests. A POST is retried only with this
            set, or when the request carries an `Idempotency-Key` header, because
            repeating it could, for example, issue voucher codes twice.

    Example:
        >>> Retry(attempts=5, backoff=1.0).attempts
        5
    """

    attempts: int = 3
    backoff: float = 0.5
    max_backoff: float = 10.0
    statuses: frozenset[int] = field(default=RETRYABLE_STATUSES)
    unsafe_methods: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.attempts, bool) or not isinstance(self.attempts, int):
            raise ConfigurationError(
                f"Retry.attempts must be a whole number, got {self.attempts!r}"
            )
        _require_positive("Retry", "attempts", self.attempts, allow_zero=True)
        _require_positive("Retry", "backoff", self.backoff, allow_zero=True)
        _require_positive("Retry", "max_backoff", self.max_backoff, allow_zero=True)
        statuses = frozenset(self.statuses)
        for status in sorted(statuses, key=str):
            _check_retry_status(status)
        object.__setattr__(self, "statuses", statuses)

    @classmethod
    def coerce(cls, value: Retry | int) -> Retry:
        """Accept a `Retry`, or a number of retries."""
        if isinstance(value, Retry):
            return value
        return cls(attempts=value)

    def delay(self, retry_number: int) -> float:
        """Return the jittered wait before retry `retry_number` (1-based), seconds."""
        ceiling = min(self.max_backoff, self.backoff * 2 ** (retry_number - 1))
        return random.uniform(0, ceiling)


def _check_retry_status(status: Any) -> None:
    if isinstance(status, bool) or not isinstance(status, int):
        raise ConfigurationError(
            f"Retry.statuses must hold HTTP status codes as whole numbers, got "
            f"{status!r}"
        )
    if 500 <= status <= 599 or status in _RETRYABLE_CLIENT_ERRORS:
        return
    raise ConfigurationError(
        f"Retry.statuses cannot include {status}: only 5xx, 408, 425 and 429 can "
        "succeed on a later attempt; any other status means the request itself must "
        "change"
    )


@dataclass(frozen=True)
class Guard:
    """Guard rails on what a campaign call may send and accept.

    Args:
        allow_http: Allow plain HTTP to hosts other than loopback.
        allow_link_local: Allow link-local and cloud metadata addresses.
        follow_redirects: Follow 3xx redirects, but never from HTTPS to HTTP, and
            only to the host and port of the first request or to `redirect_hosts`.
        max_redirects: Redirects followed at most, when following is on.
        redirect_hosts: Other hosts that redirects may lead to when
            `follow_redirects` is on, as `"host"` (any port) or `"host:port"`.
            Credentials still go only to the origin of the first request.
        max_bytes: Maximum response body, counted after decompression.
        max_request_bytes: Maximum request body.
        max_depth: Maximum nesting depth of the JSON response.
        strict_content_type: Reject bodies not labelled as JSON, even when they parse.
        allow_infinity: Output columns that may hold the bare JSON tokens
            `Infinity` and `-Infinity`: True for all, or a collection of column
            names. In other columns such a value fails validation. NaN tokens are
            always read as null, with a warning.

    Example:
        >>> Guard(max_bytes=20 * MIB).max_bytes
        20971520
    """

    allow_http: bool = False
    allow_link_local: bool = False
    follow_redirects: bool = False
    max_redirects: int = 5
    redirect_hosts: tuple[str, ...] = ()
    max_bytes: int = 5 * MIB
    max_request_bytes: int = 5 * MIB
    max_depth: int = 64
    strict_content_type: bool = False
    allow_infinity: bool | frozenset[str] = False

    def __post_init__(self) -> None:
        for name in (
            "allow_http",
            "allow_link_local",
            "follow_redirects",
            "strict_content_type",
        ):
            value = getattr(self, name)
            if not isinstance(value, bool):
                raise ConfigurationError(
                    f"Guard.{name} must be True or False, got {value!r}"
                )
        object.__setattr__(
            self, "allow_infinity", _column_set("allow_infinity", self.allow_infinity)
        )
        object.__setattr__(self, "redirect_hosts", _redirect_hosts(self.redirect_hosts))
        for name in ("max_redirects", "max_bytes", "max_request_bytes", "max_depth"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigurationError(
                    f"Guard.{name} must be a whole number, got {value!r}"
                )
            _require_positive("Guard", name, value, allow_zero=name == "max_redirects")

    def replace(self, **changes: Any) -> Guard:
        """Return a copy with `changes` applied."""
        return dataclasses.replace(self, **changes)

    def allows_redirect_to(self, url: URL) -> bool:
        """Return True when `redirect_hosts` lists the host (and port) of `url`."""
        host = (url.raw_host or "").lower().rstrip(".")
        for entry in self.redirect_hosts:
            allowed_host, allowed_port = _split_host_port(entry)
            if allowed_host == host and allowed_port in (None, url.port):
                return True
        return False

    def allows_infinity(self, column: str) -> bool:
        """Return True when `column` may hold an infinite value."""
        if isinstance(self.allow_infinity, bool):
            return self.allow_infinity
        return column in self.allow_infinity


def _column_set(name: str, value: Any) -> bool | frozenset[str]:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return frozenset({value})
    if isinstance(value, Iterable):
        names = frozenset(value)
        if all(isinstance(item, str) for item in names):
            return names
    raise ConfigurationError(
        f"Guard.{name} must be True, False or a collection of column names, got "
        f"{value!r}"
    )


# Host names after IDNA encoding: dot-separated labels of letters, digits, "-" and
# "_" (the underscore is not valid in host names, but some internal names use it).
_HOST_NAME = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*")


def _redirect_hosts(value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ConfigurationError(
            "Guard.redirect_hosts must be a list of host names, such as "
            f"['cdn.example.com'] or ['files.example.com:8443'], got {value!r}"
        )
    hosts: list[str] = []
    for entry in value:
        host = _normalized_host(entry)
        if host not in hosts:
            hosts.append(host)
    return tuple(hosts)


def _normalized_host(entry: Any) -> str:
    """Return `entry` as a lower-case, IDNA-encoded `host` or `host:port`."""
    if not isinstance(entry, str):
        raise ConfigurationError(
            f"Guard.redirect_hosts must contain host names as strings, got {entry!r}"
        )
    host, port = _split_host_port(entry)
    bracketed = f"[{host}]" if ":" in host else host
    return bracketed if port is None else f"{bracketed}:{port}"


def _split_host_port(entry: str) -> tuple[str, int | None]:
    """Split a host entry into its host and its port (None for any port)."""
    text = entry.strip()
    invalid = ConfigurationError(
        f"Guard.redirect_hosts entry {entry!r} is not a host name or IP address "
        "with an optional port; write it like 'cdn.example.com', "
        "'cdn.example.com:8443' or '[2001:db8::1]:8443', without a scheme, path "
        "or wildcard"
    )
    try:
        return ipaddress.ip_address(text).compressed, None  # IPv6 without brackets
    except ValueError:
        pass
    try:
        parsed = URL(f"//{text}")
    except ValueError:
        raise invalid from None
    host = (parsed.raw_host or "").lower().rstrip(".")
    if (
        not text
        or parsed.user is not None
        or parsed.path not in ("", "/")
        or parsed.query_string
        or parsed.fragment
        or parsed.explicit_port == 0
    ):
        raise invalid
    try:
        host = ipaddress.ip_address(host).compressed
    except ValueError:
        if not _HOST_NAME.fullmatch(host):
            raise invalid from None
    return host, parsed.explicit_port


GUARD_FIELDS = frozenset(f.name for f in dataclasses.fields(Guard))
