"""Typed option groups for the fetch stage: timeouts, retries and guard rails."""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass, field
from typing import Any

from extapi_pandas.errors import ConfigurationError

__all__ = ["MIB", "Guard", "Retry", "Timeout"]

MIB = 1024 * 1024

RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


def _require_positive(owner: str, name: str, value: float, *, allow_zero: bool) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigurationError(
            f"{owner}.{name} must be a number, got {type(value).__name__} {value!r}"
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
        statuses: HTTP statuses that are retried. Other statuses are never retried.
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
        object.__setattr__(self, "statuses", frozenset(self.statuses))

    @classmethod
    def coerce(cls, value: Retry | int) -> Retry:
        """Accept a `Retry`, or a number of retries."""
        if isinstance(value, Retry):
            return value
        return cls(attempts=value)

    def delay(self, retry_number: int) -> float:
        """Return the jittered wait before retry `retry_number` (1-based), in seconds."""
        ceiling = min(self.max_backoff, self.backoff * 2 ** (retry_number - 1))
        return random.uniform(0, ceiling)


@dataclass(frozen=True)
class Guard:
    """Guard rails on what a campaign call may send and accept.

    Args:
        allow_http: Allow plain HTTP to hosts other than loopback.
        allow_link_local: Allow link-local and cloud metadata addresses.
        follow_redirects: Follow 3xx redirects (same host, never HTTPS to HTTP).
        max_redirects: Redirects followed at most, when following is on.
        max_bytes: Maximum response body, counted after decompression.
        max_request_bytes: Maximum request body.
        max_depth: Maximum nesting depth of the JSON response.
        strict_content_type: Reject bodies not labelled as JSON, even when they parse.

    Example:
        >>> Guard(max_bytes=20 * MIB).max_bytes
        20971520
    """

    allow_http: bool = False
    allow_link_local: bool = False
    follow_redirects: bool = False
    max_redirects: int = 5
    max_bytes: int = 5 * MIB
    max_request_bytes: int = 5 * MIB
    max_depth: int = 64
    strict_content_type: bool = False

    def __post_init__(self) -> None:
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


GUARD_FIELDS = frozenset(f.name for f in dataclasses.fields(Guard))
