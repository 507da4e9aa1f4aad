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

import sys as _sys
from typing import TYPE_CHECKING, Any

from extapi_pandas import accessor as _accessor  # noqa: F401  (registers df.extapi)
from extapi_pandas.activity import ExternalAPI
from extapi_pandas.errors import (
    AttachError,
    ConfigurationError,
    ConnectError,
    DecodeError,
    ExtapiError,
    ExtapiWarning,
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
from extapi_pandas.http.cache import Cache
from extapi_pandas.infer import infer_mapping
from extapi_pandas.mapping import Column, Mapping
from extapi_pandas.options import Guard, Retry, Timeout
from extapi_pandas.payload import Payload
from extapi_pandas.perprofile import PerProfileLimits
from extapi_pandas.redaction import Secret
from extapi_pandas.replay import Recording

# Dask's accessor is registered only where Dask is already loaded, so that this
# import never loads Dask; `import extapi_pandas.dask` registers it in any order.
if "dask.dataframe" in _sys.modules:
    from extapi_pandas import dask as _dask  # noqa: F401  (registers ddf.extapi)

__all__ = [
    "ApiKey",
    "AttachError",
    "Auth",
    "BasicAuth",
    "BearerToken",
    "Cache",
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
    "Recording",
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


if TYPE_CHECKING:
    from extapi_pandas.enrich import extract


def __dir__() -> list[str]:
    # Lazily loaded names are listed too, for tab completion in notebooks.
    return sorted(set(globals()) | set(__all__))


def __getattr__(name: str) -> Any:
    # The version is read from the installed metadata on first access, because
    # importlib.metadata costs about 20 ms at import time.
    if name == "__version__":
        from extapi_pandas.provenance import library_version

        return library_version()
    # extract() lives with the pipeline, which imports asyncio, so it loads on
    # first use and `import extapi_pandas` stays light.
    if name == "extract":
        from extapi_pandas.enrich import extract

        return extract
    raise AttributeError(f"module 'extapi_pandas' has no attribute {name!r}")
