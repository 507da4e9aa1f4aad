"""Tests for the ipywidgets builder, driven from code as notebook 02 drives it."""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest
from aiohttp import web

import extapi_pandas  # noqa: F401  (registers df.extapi)
from extapi_pandas import (
    ApiKey,
    BasicAuth,
    BearerToken,
    Column,
    ConfigurationError,
    HTTPStatusError,
)
from extapi_pandas.demo import BackgroundServer, DemoAPI

pytest.importorskip("ipywidgets")

from extapi_pandas.widgets import Builder

AUDIENCE = pd.DataFrame(
    {
        "profile_id": [1, 2, 3, 4, 5, 6],
        "campaign_id": ["c1", "c1", "c2", "c3", "c3", "c3"],
        "market": ["DE", "DE", "FR", "GB", "GB", "GB"],
        "region": ["north", "south", "east", "north", "west", "coast"],
    }
)
TOKEN = "tok-5ecr3t-builder"


def _offers_builder(api: DemoAPI) -> Builder:
    builder = AUDIENCE.extapi.builder()
    builder.url.value = api.url("/offers")
    builder.campaign.value = "campaign_id"
    builder.params.add("market", "{market}")
    return builder


def _stream(output: Any, name: str) -> str:
    return "".join(item["text"] for item in output.outputs if item.get("name") == name)


def test_builder_needs_ipywidgets(monkeypatch: pytest.MonkeyPatch) -> None:
    for module in [
        name for name in sys.modules if name.startswith("extapi_pandas.widgets")
    ]:
        monkeypatch.delitem(sys.modules, module)
    monkeypatch.setitem(sys.modules, "ipywidgets", None)
    with pytest.raises(ConfigurationError, match=r'pip install "extapi-pandas\[ui\]"'):
        AUDIENCE.extapi.builder()


def test_builder_offers_frame_columns() -> None:
    builder = AUDIENCE.extapi.builder()
    assert builder.campaign.options == (
        "(whole frame)",
        "profile_id",
        "campaign_id",
        "market",
        "region",
    )


def test_builder_lists_campaign_values() -> None:
    builder = AUDIENCE.extapi.builder()
    builder.campaign.value = "campaign_id"
    assert [value for _, value in builder.campaign_value.options] == [
        "(first campaign)",
        "c1",
        "c2",
        "c3",
    ]


def test_builder_help_lists_placeholders() -> None:
    page = AUDIENCE.extapi.builder().help.value
    assert "<code>{count}</code>" in page
    assert "<code>{market}</code>" in page


def test_builder_displays_as_widget() -> None:
    bundle = AUDIENCE.extapi.builder()._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle


def test_send_test_request_shows_status(demo_api: DemoAPI) -> None:
    builder = _offers_builder(demo_api)
    preview = builder.send_test_request()
    assert preview is not None
    assert preview.status == 200
    assert _stream(builder.output, "stdout").startswith("Test request 1: HTTP 200 in ")


def test_send_test_request_shows_tree(demo_api: DemoAPI) -> None:
    builder = _offers_builder(demo_api)
    builder.send_test_request()
    assert 'title="$.offers[0].name"' in builder.response_view.value


def test_send_test_request_fills_mapping(demo_api: DemoAPI) -> None:
    builder = _offers_builder(demo_api)
    builder.send_test_request()
    rows = {
        row.name.value: (row.path.value, row.dtype.value)
        for row in builder.mapping.rows
    }
    assert rows["offers_0_name"] == ("$.offers[0].name", "string")
    assert rows["offers_0_discount_pct"] == ("$.offers[0].discount_pct", "Int64")
    assert rows["offers_0_tags"] == ("$.offers[0].tags", "list[string]")
    assert rows["market_extapi"] == ("$.market", "string")


def test_send_keeps_edited_mapping(demo_api: DemoAPI) -> None:
    builder = _offers_builder(demo_api)
    builder.send_test_request()
    builder.mapping.rows[0].name.value = "renamed"
    builder.send_test_request()
    assert builder.mapping.rows[0].name.value == "renamed"


def test_send_uses_chosen_campaign(demo_api: DemoAPI) -> None:
    builder = _offers_builder(demo_api)
    builder.campaign_value.value = "c2"
    preview = builder.send_test_request()
    assert preview is not None
    assert preview.document["market"] == "FR"


def test_send_failure_raises_and_shows(demo_api: DemoAPI) -> None:
    builder = _offers_builder(demo_api)
    builder.params.set({"market": "XX"})
    with pytest.raises(HTTPStatusError):
        builder.send_test_request()
    assert "Test request failed: campaign 'c1'" in _stream(builder.output, "stderr")


def test_send_button_runs_in_background(
    serve: Callable[..., BackgroundServer],
) -> None:
    release = threading.Event()

    async def slow(request: web.Request) -> web.Response:
        for _ in range(1000):  # at most 10 s, so a broken test cannot hang
            if release.is_set():
                break
            await asyncio.sleep(0.01)
        return web.json_response({"x": 1})

    builder = AUDIENCE.extapi.builder()
    builder.url.value = serve({"/x": slow}).url("/x")
    builder.send_button.click()
    busy_while_waiting = builder.busy
    release.set()
    builder.wait()
    assert busy_while_waiting
    assert builder.preview is not None
    assert builder.preview.document == {"x": 1}


def test_send_button_shows_error(demo_api: DemoAPI) -> None:
    builder = _offers_builder(demo_api)
    builder.params.set({"market": "XX"})
    builder.send_button.click()
    builder.wait()
    assert isinstance(builder.error, HTTPStatusError)
    assert "HTTP 404" in _stream(builder.output, "stderr")


def test_send_button_shows_form_error() -> None:
    builder = AUDIENCE.extapi.builder()
    builder.send_button.click()
    builder.wait()
    assert "enter the endpoint URL" in _stream(builder.output, "stderr")


def _bearer_from_env(builder: Builder) -> None:
    builder.auth.kind.value = "bearer"
    builder.auth.env.value = "EXTAPI_TEST_UNSET"


@pytest.mark.parametrize(
    ("setup", "match"),
    [
        (lambda b: setattr(b.url, "value", " "), "enter the endpoint URL"),
        (lambda b: setattr(b.body, "value", "{not json"), "the JSON body is not valid"),
        (lambda b: setattr(b.auth.kind, "value", "bearer"), "needs a secret"),
        (lambda b: b.mapping.add(name="only_name"), "needs both a column name"),
        (_bearer_from_env, "'EXTAPI_TEST_UNSET' is not set"),
    ],
)
def test_form_errors(
    demo_api: DemoAPI,
    setup: Callable[[Builder], Any],
    match: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("EXTAPI_TEST_UNSET", raising=False)
    builder = _offers_builder(demo_api)
    setup(builder)
    with pytest.raises(ConfigurationError, match=match):
        builder.options()


def test_apply_enriches_frame(demo_api: DemoAPI) -> None:
    builder = _offers_builder(demo_api)
    builder.send_test_request()
    result = builder.apply()
    assert builder.result is result
    assert result["offers_0_name"].notna().all()
    assert len(result) == len(AUDIENCE)


def test_apply_reports_result(demo_api: DemoAPI) -> None:
    builder = _offers_builder(demo_api)
    builder.send_test_request()
    builder.apply()
    assert "Apply 1: enriched 6 rows" in _stream(builder.output, "stdout")
    assert "<th>HTTP status</th>" in builder.result_view.value


def test_apply_uses_edited_mapping(demo_api: DemoAPI) -> None:
    builder = _offers_builder(demo_api)
    builder.send_test_request()
    for row in builder.mapping.rows:
        row.include.value = row.name.value == "offers_0_price"
        if row.include.value:
            row.name.value = "price"
            row.dtype.value = "Float64"
    builder.mapping.add("currency_code", "$.currency")
    result = builder.apply()
    added = [c for c in result.columns if c not in AUDIENCE.columns]
    assert added == ["price", "currency_code"]
    assert str(result["price"].dtype) == "Float64"


def test_apply_without_mapping() -> None:
    builder = AUDIENCE.extapi.builder()
    builder.url.value = "http://127.0.0.1:9/x"
    with pytest.raises(ConfigurationError, match="the mapping is empty"):
        builder.apply()


def test_apply_button_shows_error() -> None:
    builder = AUDIENCE.extapi.builder()
    builder.url.value = "http://127.0.0.1:9/x"
    builder.apply_button.click()
    assert "Apply failed: the mapping is empty" in _stream(builder.output, "stderr")


def test_apply_lookup_by_region(demo_api: DemoAPI) -> None:
    builder = AUDIENCE.extapi.builder()
    builder.url.value = demo_api.url("/weather")
    builder.records.value = "$.regions[*]"
    builder.on_audience.value = "region"
    builder.on_response.value = "region_code"
    builder.send_test_request()
    result = builder.apply()
    assert result["summary"].notna().all()


def test_code_runs_like_apply(demo_api: DemoAPI) -> None:
    builder = _offers_builder(demo_api)
    builder.send_test_request()
    namespace: dict[str, Any] = {"df": AUDIENCE}
    exec(builder.code(), namespace)
    pd.testing.assert_frame_equal(namespace["enriched"], builder.apply())


def test_show_code_writes_output(demo_api: DemoAPI) -> None:
    builder = _offers_builder(demo_api)
    builder.send_test_request()
    code = builder.show_code()
    assert _stream(builder.code_output, "stdout") == code + "\n"
    assert code.startswith("import extapi_pandas")


def test_show_code_reads_env_var(
    demo_api: DemoAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OFFERS_TOKEN", TOKEN)
    builder = _offers_builder(demo_api)
    builder.auth.kind.value = "bearer"
    builder.auth.env.value = "OFFERS_TOKEN"
    builder.mapping.add("offer", "$.offers[0].name")
    code = builder.show_code()
    assert 'auth=BearerToken(Secret.from_env("OFFERS_TOKEN"))' in code
    assert TOKEN not in code


def test_builder_hides_typed_secrets(demo_api: DemoAPI) -> None:
    builder = _offers_builder(demo_api)
    builder.auth.kind.value = "bearer"
    builder.auth.secret.value = TOKEN
    builder.headers.add("X-Api-Key", TOKEN + "-header")
    builder.send_test_request()
    builder.apply()
    builder.show_code()
    shown = [
        str(builder.output.outputs),
        str(builder.code_output.outputs),
        builder.response_view.value,
        builder.result_view.value,
    ]
    assert all(TOKEN not in text for text in shown)


def test_header_value_is_password_for_credentials() -> None:
    builder = AUDIENCE.extapi.builder()
    builder.headers.add("Accept-Language", "de")
    builder.headers.add("Authorization", "Bearer x")
    kinds = [type(row.value).__name__ for row in builder.headers.rows]
    assert kinds == ["Text", "Password"]


def test_header_rename_swaps_field() -> None:
    builder = AUDIENCE.extapi.builder()
    builder.headers.add("X-Note", "kept")
    builder.headers.rows[0].name.value = "X-Api-Key"
    row = builder.headers.rows[0]
    assert type(row.value).__name__ == "Password"
    assert row.value.value == "kept"
    assert row.box.children[1] is row.value


def test_header_row_remove_button() -> None:
    builder = AUDIENCE.extapi.builder()
    builder.headers.add("A", "1")
    builder.headers.add("B", "2")
    builder.headers.rows[0].remove.click()
    assert builder.headers.value == {"B": "2"}


@pytest.mark.parametrize(
    ("kind", "fields", "expected"),
    [
        ("bearer", {"secret": "t-1234"}, BearerToken),
        ("basic", {"username": "ann", "secret": "pw-1234"}, BasicAuth),
        ("api_key", {"secret": "k-1234", "key_name": "appid"}, ApiKey),
    ],
)
def test_auth_form_builds_scheme(
    kind: str, fields: dict[str, str], expected: type[Any]
) -> None:
    builder = AUDIENCE.extapi.builder()
    builder.auth.kind.value = kind
    for name, value in fields.items():
        getattr(builder.auth, name).value = value
    assert isinstance(builder.auth.auth(), expected)


def test_auth_form_shows_kind_fields() -> None:
    builder = AUDIENCE.extapi.builder()
    builder.auth.kind.value = "basic"
    shown = builder.auth.widget.children[1].children
    assert builder.auth.username in shown
    assert builder.auth.key_name not in shown


def test_mapping_grid_columns() -> None:
    builder = AUDIENCE.extapi.builder()
    builder.mapping.add("a", "$.a")
    builder.mapping.add("b", "$.b", dtype="Int64")
    builder.mapping.add("c", "$.c")
    builder.mapping.rows[2].include.value = False
    assert builder.mapping.columns() == {"a": "$.a", "b": Column("$.b", dtype="Int64")}
