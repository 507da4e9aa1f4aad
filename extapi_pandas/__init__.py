"""Campaign-wide REST enrichment for pandas: one request per campaign, not per row.

Example:
    >>> import extapi_pandas  # registers DataFrame.extapi
    >>> enriched = audience.extapi.enrich(  # doctest: +SKIP
    ...     "https://api.example.com/offers",
    ...     campaign="campaign_id",
    ...     columns={"offer": "$.offers[0].name"},
    ... )
"""

from __future__ import annotations

from extapi_pandas import accessor as _accessor  # noqa: F401  (registers df.extapi)
from extapi_pandas.activity import ExternalAPI
from extapi_pandas.enrich import ExtapiWarning, extract
from extapi_pandas.errors import (
    AttachError,
    ConfigurationError,
    ConnectError,
    DecodeError,
    ExtapiError,
    GuardError,
    HTTPStatusError,
    InvalidJSON,
    InvalidPathError,
    MappingError,
    PerProfileDataWarning,
    RedirectError,
    RequestError,
    RequestTimeout,
    RequestTooLarge,
    ResponseError,
    ResponseTooLarge,
    TemplateError,
    TransferError,
    TransportError,
    TruncatedResponse,
    ValidationError,
)
from extapi_pandas.http.auth import (
    ApiKey,
    Auth,
    BasicAuth,
    BearerToken,
    OAuth2ClientCredentials,
)
from extapi_pandas.infer import infer_mapping
from extapi_pandas.mapping import Column, Mapping
from extapi_pandas.options import Guard, Retry, Timeout
from extapi_pandas.payload import Payload
from extapi_pandas.perprofile import PerProfileLimits
from extapi_pandas.provenance import library_version as _library_version
from extapi_pandas.redaction import Secret

__version__ = _library_version()

__all__ = [
    "ApiKey",
    "AttachError",
    "Auth",
    "BasicAuth",
    "BearerToken",
    "Column",
    "ConfigurationError",
    "ConnectError",
    "DecodeError",
    "ExtapiError",
    "ExtapiWarning",
    "ExternalAPI",
    "Guard",
    "GuardError",
    "HTTPStatusError",
    "InvalidJSON",
    "InvalidPathError",
    "Mapping",
    "MappingError",
    "OAuth2ClientCredentials",
    "Payload",
    "PerProfileDataWarning",
    "PerProfileLimits",
    "RedirectError",
    "RequestError",
    "RequestTimeout",
    "RequestTooLarge",
    "ResponseError",
    "ResponseTooLarge",
    "Retry",
    "Secret",
    "TemplateError",
    "Timeout",
    "TransferError",
    "TransportError",
    "TruncatedResponse",
    "ValidationError",
    "__version__",
    "extract",
    "infer_mapping",
]
