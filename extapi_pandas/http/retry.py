"""Retry policy of the fetch stage: which failures repeat, and how long to wait."""

from __future__ import annotations

import datetime as dt
import email.utils
from collections.abc import Mapping

from extapi_pandas.errors import ExtapiError
from extapi_pandas.options import Retry

__all__ = ["RetryableFailure", "is_repeatable", "parse_retry_after", "retry_delay"]

# Methods that RFC 9110 defines as idempotent, among those this library sends.
_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})


class RetryableFailure(Exception):
    """An attempt failed in a way that another attempt may fix.

    Args:
        error: The error to raise when no attempt is left.
        retry_after: Seconds the server asked to wait (`Retry-After`), if any.
        sent: False when the request surely never reached the server (the
            connection failed), so that repeating it is safe for any method.
    """

    def __init__(
        self, error: ExtapiError, *, retry_after: float | None = None, sent: bool = True
    ) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after
        self.sent = sent


def is_repeatable(method: str, headers: Mapping[str, str], retry: Retry) -> bool:
    """Return True when sending the request twice cannot do harm twice.

    Idempotent methods are repeatable. POST is repeatable only when the caller
    says so: `Retry(unsafe_methods=True)`, or an `Idempotency-Key` header.
    """
    if method.upper() in _IDEMPOTENT_METHODS or retry.unsafe_methods:
        return True
    return any(name.lower() == "idempotency-key" for name in headers)


def retry_delay(
    retry: Retry, retry_number: int, retry_after: float | None, remaining: float
) -> float | None:
    """Return the wait before retry `retry_number` (1-based), in seconds.

    A `Retry-After` value replaces the jittered backoff. Returns None when the
    wait would use up what is left of the total timeout (`remaining`), because an
    attempt after it could not finish in time.
    """
    delay = retry.delay(retry_number) if retry_after is None else retry_after
    if delay >= remaining:
        return None
    return delay


def parse_retry_after(
    value: str | None, *, now: dt.datetime | None = None
) -> float | None:
    """Parse a `Retry-After` header (RFC 9110): delay seconds or an HTTP date.

    Returns:
        The wait in seconds (zero for a date in the past), or None when the header
        is absent or unreadable.
    """
    if not value:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        seconds = None
    if seconds is not None:
        return seconds if seconds >= 0 and seconds == seconds else None
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    current = now if now is not None else dt.datetime.now(dt.UTC)
    return max(0.0, (when - current).total_seconds())
