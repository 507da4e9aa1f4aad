"""Tests that the package exports its documented names and every module has __all__."""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

import pytest

import extapi_pandas

EXPECTED_EXPORTS = {
    # Entry points and definitions
    "ExternalAPI",
    "Column",
    "Mapping",
    "Payload",
    "extract",
    "infer_mapping",
    "PerProfileLimits",
    "__version__",
    # Options and authentication
    "Guard",
    "Retry",
    "Timeout",
    "Auth",
    "ApiKey",
    "BasicAuth",
    "BearerToken",
    "OAuth2ClientCredentials",
    "Secret",
    # Caching and recording
    "Cache",
    "Recording",
    # Warnings
    "ExtapiWarning",
    "PerProfileDataWarning",
    # The error tree
    "ExtapiError",
    "ConfigurationError",
    "InvalidPathError",
    "TemplateError",
    "RequestError",
    "GuardError",
    "RequestTooLarge",
    "TransportError",
    "ConnectError",
    "RequestTimeout",
    "TruncatedResponse",
    "ResponseError",
    "HTTPStatusError",
    "RedirectError",
    "ResponseTooLarge",
    "DecodeError",
    "InvalidJSON",
    "MappingError",
    "ValidationError",
    "AttachError",
    "TransferError",
}


def all_modules() -> list[str]:
    names = ["extapi_pandas"]
    for info in pkgutil.walk_packages(extapi_pandas.__path__, "extapi_pandas."):
        if info.name.rsplit(".", 1)[-1] != "__main__":
            names.append(info.name)
    return names


def test_exports_match_documented_names() -> None:
    exported = set(extapi_pandas.__all__)

    assert sorted(exported - EXPECTED_EXPORTS) == []
    assert sorted(EXPECTED_EXPORTS - exported) == []


def test_exports_have_no_duplicates() -> None:
    assert len(extapi_pandas.__all__) == len(set(extapi_pandas.__all__))


@pytest.mark.parametrize("name", sorted(EXPECTED_EXPORTS))
def test_export_resolves(name: str) -> None:
    assert getattr(extapi_pandas, name) is not None


def test_star_import_gives_exports() -> None:
    namespace: dict[str, object] = {}

    exec("from extapi_pandas import *", namespace)

    assert set(namespace) - {"__builtins__"} == set(extapi_pandas.__all__)


def test_version_is_text() -> None:
    assert isinstance(extapi_pandas.__version__, str)
    assert extapi_pandas.__version__


@pytest.mark.parametrize("module_name", all_modules())
def test_module_declares_all(module_name: str) -> None:
    module: ModuleType = importlib.import_module(module_name)

    assert isinstance(getattr(module, "__all__", None), list | tuple)


@pytest.mark.parametrize("module_name", all_modules())
def test_module_all_names_resolve(module_name: str) -> None:
    module = importlib.import_module(module_name)

    missing = [
        name for name in getattr(module, "__all__", []) if not hasattr(module, name)
    ]

    assert missing == []


def test_module_list_is_complete() -> None:
    names = all_modules()

    for expected in (
        "extapi_pandas.enrich",
        "extapi_pandas.plan",
        "extapi_pandas.http.client",
        "extapi_pandas.demo.app",
    ):
        assert expected in names
