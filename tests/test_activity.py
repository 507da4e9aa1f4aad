"""Tests for `ExternalAPI`, the reusable definition, and `build_api`, its keywords."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest

import extapi_pandas  # noqa: F401  (registers DataFrame.extapi)
from extapi_pandas import BearerToken, Column, ExternalAPI, Guard, Retry, Timeout
from extapi_pandas.activity import build_api
from extapi_pandas.demo import DemoAPI, make_audience
from extapi_pandas.errors import ConfigurationError, InvalidPathError

URL = "https://api.example.com/offers"
TOKEN = "tok-9d8e7f6a5b"


def api(**options: Any) -> ExternalAPI:
    options.setdefault("columns", {"offer": "$.offers[0].name"})
    return ExternalAPI(URL, **options)


def test_defaults() -> None:
    definition = api()

    assert definition.method == "GET"
    assert definition.timeout == Timeout(total=60.0)
    assert definition.retries == Retry(attempts=3)
    assert definition.guard == Guard()
    assert definition.max_concurrency == 16
    assert definition.on_error == "raise"
    assert definition.on_conflict == "raise"
    assert definition.missing_campaign == "raise"
    assert definition.strings == "category"
    assert definition.campaign_columns == []


def test_method_is_upper_cased() -> None:
    assert api(method="put", json={"a": 1}).method == "PUT"


def test_timeout_number_is_total() -> None:
    definition = api(timeout=5)

    assert definition.timeout.total == 5.0
    assert definition.timeout.connect == 5.0


def test_retries_number_is_attempts() -> None:
    assert api(retries=0).retries.attempts == 0


def test_definition_is_frozen() -> None:
    definition = api()

    with pytest.raises(dataclasses.FrozenInstanceError):
        definition.url = "https://other.example.com"  # type: ignore[misc]


def test_paths_compiled_on_construction() -> None:
    with pytest.raises(InvalidPathError, match=r"for column 'offer'"):
        api(columns={"offer": "$.offers["})


def test_campaign_columns_as_list() -> None:
    assert api(campaign="campaign_id").campaign_columns == ["campaign_id"]
    assert api(campaign=("market", "wave")).campaign_columns == ["market", "wave"]


@pytest.mark.parametrize(
    ("options", "mode"),
    [
        ({}, "broadcast"),
        ({"records": "$.r[*]", "on": {"region": "code"}}, "lookup"),
        ({"records": "$.r[*]", "assign": "sequential"}, "sequential"),
    ],
)
def test_resolved_assign(options: dict[str, Any], mode: str) -> None:
    assert api(**options).resolved_assign == mode


def test_lookup_key_read_not_added() -> None:
    definition = api(
        records="$.regions[*]",
        on={"region": "region_code"},
        columns={"temp": "$.temp_max_c"},
    )

    assert definition.output_columns == ["temp"]
    assert definition.mapping.names == ["temp", "region_code"]


def test_lookup_key_declared_kept() -> None:
    definition = api(
        records="$.r[*]",
        on={"region": "code"},
        columns={"code": Column("$.c", dtype="Int64"), "v": "$.v"},
    )

    assert definition.mapping.columns["code"].dtype == "Int64"
    assert definition.output_columns == ["v"]


def test_replace_returns_new_definition() -> None:
    definition = api(campaign="campaign_id")

    changed = definition.replace(method="POST", json={"n": "{count}"})

    assert changed.method == "POST"
    assert changed.campaign == "campaign_id"
    assert definition.method == "GET"


def test_replace_rejects_unknown_option() -> None:
    with pytest.raises(ConfigurationError, match=r"unknown option\(s\) 'colour'"):
        api().replace(colour="blue")


def test_build_api_folds_guard_fields() -> None:
    definition = build_api(
        URL, {"columns": {"a": "$.a"}, "max_bytes": 1024, "follow_redirects": True}
    )

    assert definition.guard.max_bytes == 1024
    assert definition.guard.follow_redirects is True


def test_build_api_keeps_definition_guard() -> None:
    base = api(guard=Guard(max_depth=8))

    definition = build_api(base, {"max_bytes": 2048})

    assert definition.guard.max_depth == 8
    assert definition.guard.max_bytes == 2048


def test_build_api_overrides_definition() -> None:
    base = api(campaign="campaign_id", max_concurrency=2)

    definition = build_api(base, {"max_concurrency": 8})

    assert definition.max_concurrency == 8
    assert definition.campaign == "campaign_id"


def test_unknown_option_lists_valid_options() -> None:
    with pytest.raises(ConfigurationError) as caught:
        build_api(URL, {"columns": {"a": "$.a"}, "retry": 3})

    message = str(caught.value)
    assert message.startswith("unknown option(s) 'retry'; valid options are: url,")
    for name in ("retries", "timeout", "max_concurrency", "allow_http", "max_depth"):
        assert name in message


def test_repr_masks_secrets() -> None:
    definition = api(
        headers={"Authorization": f"Bearer {TOKEN}", "X-Trace": "1"},
        params={"api_key": TOKEN, "market": "{market}"},
        auth=BearerToken(TOKEN),
    )

    text = repr(definition)

    assert TOKEN not in text
    assert "'api_key': '[secure]'" in text
    assert "'market': '{market}'" in text


def test_redactor_masks_header_secret() -> None:
    definition = api(headers={"Authorization": f"Bearer {TOKEN}"})

    assert definition.redactor().text(f"got {TOKEN}") == "got [secure]"


def test_bad_ca_bundle_rejected(tmp_path: Any) -> None:
    missing = tmp_path / "missing.pem"

    with pytest.raises(ConfigurationError, match=r"is not a readable PEM file"):
        api(verify=str(missing)).ssl_context()


def test_definition_reused_across_audiences(demo_api: DemoAPI) -> None:
    definition = ExternalAPI(
        demo_api.url("/offers"),
        params={"market": "{market}"},
        campaign="campaign_id",
        columns={"currency": "$.currency"},
    )
    small = make_audience(20, campaigns=2, seed=1)
    large = make_audience(200, campaigns=5, seed=2)

    first = small.extapi.enrich(definition)
    second = large.extapi.enrich(definition, strings="str")

    assert first["currency"].notna().all()
    assert isinstance(second["currency"].dtype, pd.StringDtype)
    assert definition.strings == "category"


def test_keyword_overrides_definition(demo_api: DemoAPI) -> None:
    definition = ExternalAPI(
        demo_api.url("/offers"),
        params={"market": "{market}"},
        campaign="campaign_id",
        columns={"c": "$.currency"},
    )
    frame = make_audience(10, campaigns=1)

    result = frame.extapi.enrich(definition, columns={"m": "$.market"})

    assert "m" in result.columns
    assert "c" not in result.columns


@pytest.mark.parametrize(
    ("factory", "pattern"),
    [
        (
            lambda: ExternalAPI("", columns={"a": "$.a"}),
            r"url must be a non-empty string, got ''",
        ),
        (
            lambda: ExternalAPI(None, columns={"a": "$.a"}),  # type: ignore[arg-type]
            r"url must be a non-empty string, got None",
        ),
        (lambda: Timeout(total=0), r"Timeout\.total must be more than zero, got 0"),
        (lambda: Retry(attempts=1.5), r"Retry\.attempts must be a whole number"),
        (lambda: Retry(backoff=-1), r"Retry\.backoff must be zero or more"),
        (lambda: Guard(max_depth=0), r"Guard\.max_depth must be more than zero"),
        (
            lambda: Column.coerce(3, name="a"),  # type: ignore[arg-type]
            r"column 'a' must be a JSONPath string or a Column, got int 3",
        ),
    ],
)
def test_invalid_definition_parts(factory: Callable[[], Any], pattern: str) -> None:
    with pytest.raises(ConfigurationError, match=pattern):
        factory()


# The constructor takes the same keywords as enrich


def test_constructor_folds_guard_keywords() -> None:
    api = ExternalAPI(
        "http://127.0.0.1:9/x",
        columns={"v": "$.v"},
        follow_redirects=True,
        redirect_hosts=["localhost"],
    )

    assert api.guard.follow_redirects is True
    assert api.guard.redirect_hosts == ("localhost",)


def test_constructor_unknown_keyword_listed() -> None:
    with pytest.raises(ConfigurationError, match=r"unknown option\(s\) 'colums'"):
        ExternalAPI("http://127.0.0.1:9/x", colums={"v": "$.v"})


def test_constructor_extra_positional_rejected() -> None:
    with pytest.raises(ConfigurationError, match="as keywords after the URL"):
        ExternalAPI("http://127.0.0.1:9/x", "GET", follow_redirects=True)
