"""Tests for `{column}` placeholders: parsing, text rendering and typed JSON."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from extapi_pandas.errors import ConfigurationError, ExtapiError, TemplateError
from extapi_pandas.templates import (
    collect_fields,
    compile_string,
    render_json,
    render_text,
)


def render(text: str, values: dict[str, object], *, url_quote: bool = False) -> str:
    return render_text(compile_string(text, where="test"), values, url_quote=url_quote)


def test_fields_lists_placeholder_names() -> None:
    template = compile_string("/c/{campaign_id}?n={count}&d={date:%Y}", where="url")

    assert template.fields == {"campaign_id", "count", "date"}


def test_literal_braces_are_not_fields() -> None:
    template = compile_string("{{literal}} {name}", where="url")

    assert template.fields == {"name"}


@pytest.mark.parametrize(
    ("text", "single"),
    [
        ("{count}", "count"),
        ("n={count}", None),
        ("{count:d}", None),
        ("{count!r}", None),
        ("{a}{b}", None),
        ("plain", None),
    ],
)
def test_single_field_only_for_bare_placeholder(text: str, single: str | None) -> None:
    assert compile_string(text, where="json").single_field == single


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("{", r"invalid template in url: .*'\{\{' and '\}\}' for literal braces"),
        ("}", r"invalid template in url: .*literal braces"),
        ("a{b", r"invalid template in url"),
        ("/x/{}", r"empty placeholder '\{\}' in url"),
        ("/x/{ }", r"empty placeholder"),
    ],
)
def test_invalid_template_raises(text: str, pattern: str) -> None:
    with pytest.raises(TemplateError, match=pattern):
        compile_string(text, where="url")


def test_template_error_is_configuration_error() -> None:
    with pytest.raises(TemplateError) as caught:
        compile_string("{", where="url")

    assert isinstance(caught.value, ConfigurationError)
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, ExtapiError)


def test_collect_fields_walks_nested_json() -> None:
    body = {"a": "{x}", "b": ["{y}", {"c": "z={z}"}], "d": 3, "e": None}

    assert collect_fields(body, where="json") == {"x", "y", "z"}


def test_collect_fields_names_nested_location() -> None:
    with pytest.raises(TemplateError, match=r"json\['b'\]\[1\]"):
        collect_fields({"b": ["ok", "{"]}, where="json")


def test_render_text_fills_values() -> None:
    assert render("/c/{id}/n/{count}", {"id": "CMP-1", "count": 12}) == "/c/CMP-1/n/12"


def test_render_text_literal_braces() -> None:
    assert render("{{id}}={id}", {"id": 7}) == "{id}=7"


@pytest.mark.parametrize(
    ("value", "quoted"),
    [
        ("a b", "a%20b"),
        ("a/b", "a%2Fb"),
        ("a&b=c", "a%26b%3Dc"),
        ("é", "%C3%A9"),
        ("?#", "%3F%23"),
    ],
)
def test_render_text_url_quotes_values(value: str, quoted: str) -> None:
    assert render("/c/{v}", {"v": value}, url_quote=True) == f"/c/{quoted}"


def test_render_text_encodes_literal_text() -> None:
    rendered = render("/a b/{{x}}/é/{v}", {"v": "x y"}, url_quote=True)

    assert rendered == "/a%20b/%7Bx%7D/%C3%A9/x%20y"


def test_render_text_keeps_literal_structure() -> None:
    text = "https://h:8/p/{v}?a=%2F&b=1#f"

    assert render(text, {"v": "x"}, url_quote=True) == "https://h:8/p/x?a=%2F&b=1#f"


@pytest.mark.parametrize("value", [".", ".."])
def test_render_text_rejects_dot_segment(value: str) -> None:
    with pytest.raises(TemplateError, match=r"dot segment .* params="):
        render("/v/{v}/x", {"v": value}, url_quote=True)


def test_render_text_dots_in_query_allowed() -> None:
    assert render("/v?q={v}", {"v": ".."}, url_quote=True) == "/v?q=.."


def test_render_text_dots_inside_value_allowed() -> None:
    assert render("/v/{v}", {"v": "../x"}, url_quote=True) == "/v/..%2Fx"


def test_render_text_bool_as_json_word() -> None:
    assert render("{flag}", {"flag": True}) == "true"


def test_render_text_datetime_isoformat() -> None:
    when = pd.Timestamp("2024-05-06 07:08:09", tz="UTC")

    assert render("{d}", {"d": when}) == "2024-05-06T07:08:09+00:00"


def test_render_text_datetime_format_spec() -> None:
    when = pd.Timestamp("2024-05-06 07:08:09")

    assert render("{d:%Y-%m-%d}", {"d": when}) == "2024-05-06"


def test_render_text_number_format_spec() -> None:
    assert render("{x:.2f}|{n:04d}", {"x": 1.5, "n": 7}) == "1.50|0007"


def test_render_text_conversion() -> None:
    assert render("{s!r}", {"s": "a"}) == "'a'"


def test_render_text_bad_spec_raises() -> None:
    with pytest.raises(TemplateError, match=r"\{name:%Y\}.*'abc' \(str\)"):
        render("{name:%Y}", {"name": "abc"})


def test_render_json_single_placeholder_keeps_type() -> None:
    body = {"count": "{count}", "flag": "{flag}", "price": "{price}", "id": "{id}"}
    values = {"count": 12, "flag": False, "price": 9.5, "id": "A"}

    rendered = render_json(body, values, where="json")

    assert rendered == {"count": 12, "flag": False, "price": 9.5, "id": "A"}
    assert type(rendered["count"]) is int
    assert type(rendered["flag"]) is bool


def test_render_json_mixed_text_is_string() -> None:
    assert render_json({"label": "n={count}"}, {"count": 3}, where="json") == {
        "label": "n=3"
    }


def test_render_json_date_is_iso_string() -> None:
    values = {"d": dt.date(2024, 1, 2)}

    assert render_json(["{d}"], values, where="json") == ["2024-01-02"]


def test_render_json_literal_braces() -> None:
    rendered = render_json({"t": "{{x}}", "u": ["{{", "}}"]}, {}, where="json")

    assert rendered == {"t": "{x}", "u": ["{", "}"]}


def test_render_json_keeps_non_strings() -> None:
    body = {"n": 1, "f": 1.5, "b": True, "z": None, "l": [1, "{x}"]}

    rendered = render_json(body, {"x": "X"}, where="json")

    assert rendered == {"n": 1, "f": 1.5, "b": True, "z": None, "l": [1, "X"]}


@pytest.mark.parametrize(
    ("text", "url_quote"),
    [
        ("/v/{v}/x", True),
        ("/v?q={v}", True),
        ("x={v}", False),
        ("{v}", False),
    ],
    ids=["url-path", "url-query", "text", "whole-text"],
)
def test_render_text_missing_value_raises(text: str, url_quote: bool) -> None:
    with pytest.raises(TemplateError, match=r"\{v\} in .* missing value \(None\)"):
        render(text, {"v": None}, url_quote=url_quote)


@pytest.mark.parametrize(
    "body",
    [{"v": "{v}"}, {"v": "v={v}"}, ["{v}"], {"outer": {"inner": "{v}"}}],
    ids=["lone", "in-text", "in-list", "nested"],
)
def test_render_json_missing_value_raises(body: object) -> None:
    with pytest.raises(TemplateError, match=r"\{v\} in .* missing value \(None\)"):
        render_json(body, {"v": None}, where="json")
