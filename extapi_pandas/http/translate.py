"""Translate aiohttp and socket errors into the library's error tree."""

from __future__ import annotations

from typing import Any

import aiohttp

from extapi_pandas.errors import (
    ConnectError,
    ExtapiError,
    GuardError,
    RequestError,
    RequestTimeout,
    ResponseError,
)
from extapi_pandas.http.retry import RetryableFailure
from extapi_pandas.options import Timeout
from extapi_pandas.redaction import Redactor

__all__ = ["caused", "translate_error"]


def caused(error: ExtapiError, cause: BaseException) -> ExtapiError:
    """Chain `cause` to `error`, which is raised later, away from its except block."""
    error.__cause__ = cause
    return error


def translate_error(
    exc: BaseException,
    *,
    campaign: Any,
    shown_url: str,
    timeout: Timeout,
    redactor: Redactor,
) -> ExtapiError | RetryableFailure:
    """Return the library error for `exc`, wrapped when another attempt may help.

    Args:
        exc: The error raised while sending the request or reading the response.
        campaign: The campaign key, for the message.
        shown_url: The redacted request URL, for the message.
        timeout: The timeouts in force, quoted in timeout messages.
        redactor: Masks secrets that the foreign message may quote.
    """
    prefix = f"campaign {campaign!r}: {shown_url}"
    if isinstance(exc, GuardError):
        return caused(
            GuardError(f"campaign {campaign!r}: {exc}", campaign=campaign), exc
        )
    if isinstance(exc, aiohttp.ServerTimeoutError):
        return _timeout_error(exc, prefix, campaign, timeout)

    detail = redactor.text(str(exc)) or type(exc).__name__
    if isinstance(exc, aiohttp.ClientSSLError):
        error: ExtapiError = ConnectError(
            f"{prefix}: the TLS handshake failed ({detail}); check that the server's "
            "certificate is valid for this host, or pass verify= with the CA bundle "
            "that signed it",
            campaign=campaign,
        )
        return caused(error, exc)
    if isinstance(exc, aiohttp.ClientConnectorError):
        error = ConnectError(
            f"{prefix}: connecting failed ({detail})", campaign=campaign
        )
        # The connection never opened, so the server never saw the request.
        return RetryableFailure(caused(error, exc), sent=False)
    if isinstance(exc, aiohttp.InvalidURL):
        error = RequestError(f"{prefix}: invalid URL ({detail})", campaign=campaign)
        return caused(error, exc)
    if isinstance(exc, aiohttp.ClientResponseError):
        error = ResponseError(
            f"{prefix} sent an invalid HTTP response ({detail})", campaign=campaign
        )
        return caused(error, exc)

    error = ConnectError(
        f"{prefix}: the connection failed ({detail})", campaign=campaign
    )
    return RetryableFailure(caused(error, exc))


def _timeout_error(
    exc: aiohttp.ServerTimeoutError, prefix: str, campaign: Any, timeout: Timeout
) -> RetryableFailure:
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        error = RequestTimeout(
            f"{prefix} did not accept a connection within the connect timeout of "
            f"{timeout.connect:g} s; raise timeout=Timeout(connect=...) if the "
            "network is slow",
            campaign=campaign,
        )
        return RetryableFailure(caused(error, exc), sent=False)
    error = RequestTimeout(
        f"{prefix} sent nothing for {timeout.read:g} s (the read timeout); raise "
        "timeout=Timeout(read=...) if the API is slow",
        campaign=campaign,
    )
    return RetryableFailure(caused(error, exc))
