"""Exceptions and warnings raised by extapi_pandas.

Every exception derives from `ExtapiError`, grouped by the pipeline stage that raises it:

    ExtapiError
    ├── ConfigurationError (also ValueError)    invalid options, before any request
    │   ├── InvalidPathError                    a JSONPath that does not compile
    │   └── TemplateError                       an unknown or per-profile placeholder
    ├── RequestError                            a request that cannot be sent as asked
    │   ├── GuardError                          a guard rail rejected the request
    │   └── RequestTooLarge                     the request body is over `max_request_bytes`
    ├── TransportError                          the exchange with the server failed
    │   ├── ConnectError                        no connection, or it broke mid-response
    │   ├── RequestTimeout (also TimeoutError)  a connect, read or total timeout passed
    │   └── TruncatedResponse                   fewer body bytes than announced
    ├── ResponseError                           the server responded, but not usefully
    │   ├── HTTPStatusError                     a status outside 2xx
    │   ├── RedirectError                       a 3xx that is not followed
    │   ├── ResponseTooLarge                    the body passed `max_bytes`
    │   ├── DecodeError                         content encoding or charset failed
    │   └── InvalidJSON                         the body is not JSON, or nests too deep
    ├── MappingError                            a JSONPath matched the wrong number of nodes
    ├── ValidationError                         pandera rejected the extracted rows
    ├── AttachError                             the result cannot be attached to the audience
    └── TransferError                           the bulk file route failed

Each error carries `code`, the short token written to the `extapi_status` column when
`on_error="continue"`, and `campaign`, the campaign it concerns (None when it concerns
the whole call).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "AttachError",
    "ConfigurationError",
    "ConnectError",
    "DecodeError",
    "ExtapiError",
    "ExtapiWarning",
    "GuardError",
    "HTTPStatusError",
    "InvalidJSON",
    "InvalidPathError",
    "MappingError",
    "PerProfileDataWarning",
    "RedirectError",
    "RequestError",
    "RequestTimeout",
    "RequestTooLarge",
    "ResponseError",
    "ResponseTooLarge",
    "TemplateError",
    "TransferError",
    "TransportError",
    "TruncatedResponse",
    "ValidationError",
]


class ExtapiError(Exception):
    """Root of every exception raised by extapi_pandas.

    Attributes:
        code: Short status token for the `extapi_status` column, such as `"timeout"`.
        campaign: The campaign key the error concerns, or None for the whole call.
    """

    code: str = "error"

    def __init__(self, message: str, *, campaign: Any = None) -> None:
        super().__init__(message)
        self.campaign = campaign


class ConfigurationError(ExtapiError, ValueError):
    """An option or definition is invalid; raised before any request is sent."""

    code = "invalid_configuration"


class InvalidPathError(ConfigurationError):
    """A JSONPath expression does not compile."""

    code = "invalid_path"


class TemplateError(ConfigurationError):
    """A `{placeholder}` names no column, or its column varies within a campaign."""

    code = "invalid_template"


class RequestError(ExtapiError):
    """A request cannot be sent as configured."""

    code = "request_failed"


class GuardError(RequestError):
    """A guard rail rejected the request; the message names the option that lifts it."""

    code = "guard_rejected"


class RequestTooLarge(RequestError):
    """The rendered request body is larger than `max_request_bytes`."""

    code = "request_too_large"


class TransportError(ExtapiError):
    """The exchange with the server failed before a complete response arrived."""

    code = "connection_error"


class ConnectError(TransportError):
    """The connection could not be opened, or broke during the exchange."""

    code = "connection_error"


class RequestTimeout(TransportError, TimeoutError):
    """A connect, idle-read or total timeout passed."""

    code = "timeout"


class TruncatedResponse(TransportError):
    """The body ended before the length the server announced."""

    code = "truncated"


class ResponseError(ExtapiError):
    """The server responded, but the response cannot be used."""

    code = "invalid_response"


class HTTPStatusError(ResponseError):
    """The server responded with a status outside 2xx.

    Attributes:
        status: The HTTP status code.
    """

    def __init__(self, message: str, *, status: int, campaign: Any = None) -> None:
        super().__init__(message, campaign=campaign)
        self.status = status

    @property
    def code(self) -> str:  # type: ignore[override]
        return f"http_{self.status}"


class RedirectError(ResponseError):
    """A redirect was not followed, or broke a redirect rule."""

    code = "redirect"


class ResponseTooLarge(ResponseError):
    """The decompressed body passed `max_bytes`."""

    code = "too_large"


class DecodeError(ResponseError):
    """The body could not be decompressed or decoded to text."""

    code = "decode_error"


class InvalidJSON(ResponseError):
    """The body is not valid JSON, or nests deeper than `max_depth`."""

    code = "invalid_json"


class MappingError(ExtapiError):
    """A column's JSONPath matched several nodes, or a required column matched none."""

    code = "mapping_failed"


class ValidationError(ExtapiError):
    """pandera rejected the extracted rows.

    Attributes:
        failure_cases: One row per failed check, with the columns `campaign`,
            `column`, `value` and `check`.
    """

    code = "validation_failed"

    def __init__(
        self, message: str, *, failure_cases: pd.DataFrame, campaign: Any = None
    ) -> None:
        super().__init__(message, campaign=campaign)
        self.failure_cases = failure_cases


class AttachError(ExtapiError):
    """The extracted rows cannot be attached to the audience."""

    code = "attach_failed"


class TransferError(ExtapiError):
    """The bulk file route failed to read, validate or join a file."""

    code = "transfer_failed"


class ExtapiWarning(UserWarning):
    """A response was used, but something about it deserves a look."""


class PerProfileDataWarning(UserWarning):
    """The work looks per-profile, which belongs in `df.extapi.enrich_from_file`."""
