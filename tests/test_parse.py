"""Body parsing: content types, charsets, NaN and Infinity, depth, clear errors."""

from __future__ import annotations

import math
from typing import Any

import pytest

from extapi_pandas.errors import DecodeError, InvalidJSON, ValidationError
from extapi_pandas.options import Guard
from extapi_pandas.parse import (
    NO_CONTENT,
    is_json_content_type,
    parse_body,
    reject_infinities,
)


def parse(
    body: bytes,
    content_type: str | None = "application/json",
    *,
    status: int = 200,
    max_depth: int = 64,
    strict: bool = False,
) -> Any:
    return parse_body(
        body,
        status=status,
        content_type=content_type,
        campaign="C1",
        max_depth=max_depth,
        strict_content_type=strict,
    )


@pytest.mark.parametrize(
    ("media_type", "expected"),
    [
        ("application/json", True),
        ("application/vnd.api+json", True),
        ("application/problem+json", True),
        ("text/json", False),
        ("json", False),
        ("text/html", False),
        ("", False),
    ],
)
def test_json_content_types(media_type: str, expected: bool) -> None:
    assert is_json_content_type(media_type) is expected


def test_json_type_has_no_notes() -> None:
    parsed = parse(b'{"a": 1}', "application/json; charset=utf-8")

    assert parsed.document == {"a": 1}
    assert parsed.notes == []


@pytest.mark.parametrize(
    ("content_type", "shown"),
    [
        ("text/html; charset=utf-8", "Content-Type 'text/html; charset=utf-8'"),
        ("text/plain", "Content-Type 'text/plain'"),
        ("json", "Content-Type 'json'"),
        ("application/octet-stream", "Content-Type 'application/octet-stream'"),
        (None, "no Content-Type"),
    ],
)
def test_other_type_parsed_with_note(content_type: str | None, shown: str) -> None:
    parsed = parse(b'{"a": 1}', content_type)

    assert parsed.document == {"a": 1}
    assert len(parsed.notes) == 1
    assert parsed.notes[0].startswith(f"campaign 'C1': the response has {shown}")


def test_strict_rejects_other_type() -> None:
    with pytest.raises(
        InvalidJSON,
        match=r"'C1'.*status 200.*'text/plain'.*"
        r"strict_content_type=False",
    ):
        parse(b'{"a": 1}', "text/plain", strict=True)


def test_strict_accepts_json_type() -> None:
    assert parse(b'{"a": 1}', "application/hal+json", strict=True).document == {"a": 1}


@pytest.mark.parametrize("body", [b"", b"  \r\n", b"\t"])
def test_empty_body_is_no_content(body: bytes) -> None:
    assert parse(body).document is NO_CONTENT


def test_status_204_is_no_content() -> None:
    assert parse(b"", None, status=204).document is NO_CONTENT


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (b'\xef\xbb\xbf{"t": 17.7}', "application/json", {"t": 17.7}),
        (
            '{"c": "Zürich"}'.encode("latin-1"),
            "application/json; charset=latin-1",
            {"c": "Zürich"},
        ),
        (
            '{"c": "Zürich"}'.encode("cp1252"),
            'text/plain; charset="windows-1252"',
            {"c": "Zürich"},
        ),
        (
            '{"c": "Zürich"}'.encode(),
            "application/json; charset=UTF-8",
            {"c": "Zürich"},
        ),
    ],
)
def test_charsets_decode(body: bytes, content_type: str, expected: Any) -> None:
    assert parse(body, content_type).document == expected


@pytest.mark.parametrize(
    ("body", "content_type", "pattern"),
    [
        (
            b'{"c": "\xff"}',
            "application/json",
            r"'C1': the body is not valid utf-8 "
            r"\(byte b'\\xff' at position 7\)",
        ),
        (
            b'{"c": 1}',
            "application/json; charset=klingon",
            r"unknown charset "
            r"'klingon'",
        ),
    ],
)
def test_bad_charset_is_decode_error(
    body: bytes, content_type: str, pattern: str
) -> None:
    with pytest.raises(DecodeError, match=pattern):
        parse(body, content_type)


@pytest.mark.parametrize(
    ("body", "pattern"),
    [
        (
            b"<!doctype html><title>Down for maintenance</title>",
            r"'C1': the response is not valid JSON .*status 200, Content-Type "
            r"'text/html', body starts with '<!doctype html><title>Down for maint",
        ),
        (b'{"a": 1', r"not valid JSON"),
        (b'{"a": 1} trailing', r"Extra data"),
        (b"{'a': 1}", r"not valid JSON"),
    ],
)
def test_not_json_is_invalid_json(body: bytes, pattern: str) -> None:
    with pytest.raises(InvalidJSON, match=pattern):
        parse(body, "text/html")


def test_nan_read_as_null_once() -> None:
    parsed = parse(b'{"discount": NaN, "cap": 10, "more": [NaN, NaN]}')

    assert parsed.document == {"discount": None, "cap": 10, "more": [None, None]}
    assert len(parsed.notes) == 1
    assert "'C1'" in parsed.notes[0]


def test_infinity_kept_for_validation() -> None:
    parsed = parse(b'{"cap": Infinity, "floor": -Infinity}')

    assert parsed.document == {"cap": math.inf, "floor": -math.inf}
    assert parsed.notes == []


@pytest.mark.parametrize(
    ("depth", "max_depth", "pattern"),
    [
        (65, 64, r"'C1': the response nests deeper than max_depth=64"),
        (100_000, 64, r"nests too deep to parse"),
        (3, 2, r"max_depth=2"),
    ],
)
def test_depth_limit(depth: int, max_depth: int, pattern: str) -> None:
    with pytest.raises(InvalidJSON, match=pattern):
        parse(b"[" * depth + b"]" * depth, max_depth=max_depth)


@pytest.mark.parametrize(
    ("body", "max_depth"),
    [
        (b'{"a": [{"b": 1}], "c": 2}', 2),  # objects and lists mixed
        (b'[1, 2, {"x": [3, [4]]}, "s"]', 3),  # the deep branch comes last
        (b'{"wide": [1, 2, 3], "deep": {"a": {"b": {"c": 1}}}}', 3),
    ],
)
def test_depth_limit_nested_branches(body: bytes, max_depth: int) -> None:
    with pytest.raises(InvalidJSON, match=f"max_depth={max_depth}"):
        parse(body, max_depth=max_depth)


@pytest.mark.parametrize("body", [b"42", b'"text"', b"[]", b'{"a": 1}'])
def test_depth_shallow_documents_accepted(body: bytes) -> None:
    assert parse(body, max_depth=1).document is not None


def test_depth_at_limit_accepted() -> None:
    body = b'{"a":' * 63 + b"[1]" + b"}" * 63

    assert parse(body).document is not None


def test_reject_infinities_names_column() -> None:
    values = {"cap": [10.0, math.inf], "floor": [1.0, 2.0]}

    with pytest.raises(ValidationError, match=r"column 'cap' contains inf") as caught:
        reject_infinities(values, Guard().allows_infinity, campaign="C1")

    cases = caught.value.failure_cases
    assert cases.to_dict("records") == [
        {"campaign": "C1", "column": "cap", "value": math.inf, "check": "finite"}
    ]
    assert caught.value.code == "validation_failed"


def test_reject_infinities_searches_nested() -> None:
    values = {"tiers": [[{"max": -math.inf}]]}

    with pytest.raises(ValidationError, match=r"column 'tiers' contains -inf"):
        reject_infinities(values, Guard().allows_infinity, campaign="C1")


@pytest.mark.parametrize("allowed", [True, ["cap"], "cap"])
def test_allow_infinity_accepts(allowed: Any) -> None:
    values = {"cap": [math.inf], "floor": [1.0]}

    reject_infinities(
        values, Guard(allow_infinity=allowed).allows_infinity, campaign="C1"
    )


def test_nan_is_not_infinity() -> None:
    reject_infinities(
        {"x": [math.nan, None, "inf"]}, Guard().allows_infinity, campaign="C1"
    )
