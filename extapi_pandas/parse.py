"""Decode a response body to JSON, with charset, content-type and depth rules."""

from __future__ import annotations

import codecs
import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from extapi_pandas.errors import DecodeError, InvalidJSON, ValidationError

__all__ = [
    "NO_CONTENT",
    "ParsedBody",
    "is_json_content_type",
    "parse_body",
    "reject_infinities",
]

_PREVIEW_CHARS = 120


class _NoContent:
    def __repr__(self) -> str:
        return "NO_CONTENT"


NO_CONTENT: Any = _NoContent()
"""The document of a 204 or empty response: the campaign's new columns are null."""


@dataclass
class ParsedBody:
    """A decoded document and the notes to warn about.

    Attributes:
        document: The JSON value, or `NO_CONTENT`.
        notes: Warning messages about this body (content type, NaN values).
    """

    document: Any
    notes: list[str] = field(default_factory=list)


def is_json_content_type(media_type: str) -> bool:
    """Return True for `application/json` and any `+json` media type."""
    return media_type == "application/json" or media_type.endswith("+json")


def parse_body(
    body: bytes,
    *,
    status: int,
    content_type: str | None,
    campaign: Any,
    max_depth: int,
    strict_content_type: bool,
) -> ParsedBody:
    """Decode and parse one response body.

    Raises:
        DecodeError: The charset is unknown or the bytes are not valid in it.
        InvalidJSON: The body is not JSON, nests deeper than `max_depth`, or is not
            labelled as JSON while `strict_content_type` is set.
    """
    if status == 204 or not body.strip():
        return ParsedBody(NO_CONTENT)
    media_type, charset = _split_content_type(content_type)
    text = _decode_text(body, charset, campaign=campaign, content_type=content_type)
    labelled_json = is_json_content_type(media_type)
    if not labelled_json and strict_content_type:
        raise InvalidJSON(
            f"campaign {campaign!r}: the response (status {status}) has Content-Type "
            f"{content_type or '(none)'!r}, not a JSON type, and "
            "strict_content_type=True rejects it; the body starts with "
            f"{_preview(text)!r}. Pass strict_content_type=False to parse such "
            "bodies when they are JSON",
            campaign=campaign,
        )
    parsed = ParsedBody(None)
    try:
        parsed.document = json.loads(
            text, parse_constant=_constant_parser(parsed, campaign)
        )
    except (ValueError, RecursionError) as exc:
        raise _invalid_json(exc, text, status, content_type, campaign) from None
    depth = _depth(parsed.document, max_depth)
    if depth > max_depth:
        raise InvalidJSON(
            f"campaign {campaign!r}: the response nests deeper than max_depth="
            f"{max_depth} levels; raise max_depth if the depth is expected",
            campaign=campaign,
        )
    if not labelled_json:
        label = f"Content-Type {content_type!r}" if content_type else "no Content-Type"
        parsed.notes.insert(
            0,
            f"campaign {campaign!r}: the response has {label}, not a JSON type, but "
            "its body is valid JSON and was used; pass strict_content_type=True to "
            "reject such responses",
        )
    return parsed


def _split_content_type(content_type: str | None) -> tuple[str, str | None]:
    if not content_type:
        return "", None
    media_type, _, rest = content_type.partition(";")
    charset = None
    for parameter in rest.split(";"):
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"') or None
    return media_type.strip().lower(), charset


def _decode_text(
    body: bytes, charset: str | None, *, campaign: Any, content_type: str | None
) -> str:
    encoding = charset or "utf-8"
    try:
        codec = codecs.lookup(encoding)
    except LookupError as exc:
        raise _unknown_charset(charset, content_type, campaign) from exc
    # Python also registers bytes-to-bytes and str-to-str codecs (base64, zlib,
    # rot13, ...), which are no charset and must not run on a response body.
    if not getattr(codec, "_is_text_encoding", True):
        raise _unknown_charset(charset, content_type, campaign)
    if codec.name == "utf-8":
        codec = codecs.lookup("utf-8-sig")  # strips a leading byte-order mark
    try:
        text = codec.decode(body)[0]
    except UnicodeDecodeError as exc:
        raise DecodeError(
            f"campaign {campaign!r}: the body is not valid {encoding} (byte "
            f"{body[exc.start : exc.start + 1]!r} at position {exc.start}); the server "
            "sent bytes that do not match its charset",
            campaign=campaign,
        ) from exc
    except (UnicodeError, ValueError, TypeError) as exc:
        # Codecs such as "undefined" or "punycode" fail with their own errors.
        raise DecodeError(
            f"campaign {campaign!r}: the body could not be decoded as {encoding} "
            f"({exc}); the server must send a text charset such as utf-8",
            campaign=campaign,
        ) from exc
    if not isinstance(text, str):
        raise _unknown_charset(charset, content_type, campaign)
    return text


def _unknown_charset(
    charset: str | None, content_type: str | None, campaign: Any
) -> DecodeError:
    return DecodeError(
        f"campaign {campaign!r}: unknown charset {charset!r} in Content-Type "
        f"{content_type!r}; the server must send a text charset such as utf-8",
        campaign=campaign,
    )


def _constant_parser(parsed: ParsedBody, campaign: Any) -> Any:
    warned = False

    def parse_constant(name: str) -> float | None:
        nonlocal warned
        if name == "NaN":
            if not warned:
                warned = True
                parsed.notes.append(
                    f"campaign {campaign!r}: the response contains bare NaN tokens, "
                    "which are not valid JSON; they were read as null"
                )
            return None
        # "Infinity" and "-Infinity": kept, and checked by reject_infinities once
        # the columns are extracted.
        return float(name)

    return parse_constant


def _invalid_json(
    exc: Exception, text: str, status: int, content_type: str | None, campaign: Any
) -> InvalidJSON:
    if isinstance(exc, RecursionError):
        return InvalidJSON(
            f"campaign {campaign!r}: the response nests too deep to parse; raise "
            "max_depth only if such depth is expected",
            campaign=campaign,
        )
    return InvalidJSON(
        f"campaign {campaign!r}: the response is not valid JSON ({exc}); status "
        f"{status}, Content-Type {content_type or '(none)'!r}, body starts with "
        f"{_preview(text)!r}. Check the URL and the API's status page",
        campaign=campaign,
    )


def _preview(text: str) -> str:
    return " ".join(text[:_PREVIEW_CHARS].split())


def _depth(document: Any, limit: int) -> int:
    """Return the nesting depth of `document`, stopping once it passes `limit`.

    The walk goes level by level and visits only lists and objects, so a large
    document of scalars costs one pass over its containers.
    """
    depth = 1
    level = [document] if isinstance(document, dict | list) else []
    while level:
        below = [
            child
            for value in level
            for child in (value.values() if isinstance(value, dict) else value)
            if isinstance(child, dict | list)
        ]
        if not below:
            break
        depth += 1
        if depth > limit:
            break
        level = below
    return depth


def reject_infinities(
    values: Mapping[str, Sequence[Any]], allowed: Any, *, campaign: Any
) -> None:
    """Raise when an extracted value is infinite in a column that does not allow it.

    JSON has no infinity; some servers send the bare tokens `Infinity` and
    `-Infinity` anyway. Such a value is usually a bug upstream, so it fails
    validation unless the `allow_infinity` guard option names its column.

    Args:
        values: Output column name to its extracted values (nested lists and
            objects are searched too).
        allowed: A predicate, `Guard.allows_infinity`, that takes a column name.
        campaign: The campaign key, for the error.

    Raises:
        ValidationError: An infinite value sits in a column that does not allow it.
    """
    cases = [
        (name, value)
        for name, column in values.items()
        if not allowed(name)
        for value in _infinities(column)
    ]
    if not cases:
        return
    name, value = cases[0]
    failures = pd.DataFrame(
        {
            "campaign": [campaign] * len(cases),
            "column": [column for column, _ in cases],
            "value": [found for _, found in cases],
            "check": ["finite"] * len(cases),
        }
    )
    raise ValidationError(
        f"campaign {campaign!r}: column {name!r} contains {value}, from a bare "
        "Infinity token or a number too large for a float (such as 1e400) in the "
        "response; pass allow_infinity=True, or "
        f"allow_infinity=[{name!r}], to accept infinite values in that column",
        failure_cases=failures,
        campaign=campaign,
    )


def _infinities(values: Sequence[Any]) -> Iterator[float]:
    stack = list(values)
    while stack:
        value = stack.pop()
        if isinstance(value, float) and math.isinf(value):
            yield value
        elif isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
