"""`{column}` placeholders in URLs, query parameters, headers and JSON bodies."""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from extapi_pandas.errors import TemplateError
from extapi_pandas.values import json_safe

__all__ = ["COUNT", "StringTemplate", "collect_fields", "compile_string", "render_json",
           "render_text"]

COUNT = "count"
"""The placeholder for the number of profiles in the campaign."""

_FORMATTER = string.Formatter()


@dataclass(frozen=True)
class StringTemplate:
    """A parsed template string.

    Attributes:
        text: The template as written.
        pieces: (literal text, field name or None, format spec, conversion) tuples.
    """

    text: str
    pieces: tuple[tuple[str, str | None, str, str | None], ...]

    @property
    def fields(self) -> set[str]:
        """The placeholder names used."""
        return {field for _, field, _, _ in self.pieces if field is not None}

    @property
    def single_field(self) -> str | None:
        """The field name when the template is exactly one placeholder, like "{id}"."""
        if len(self.pieces) == 1:
            literal, field, spec, conversion = self.pieces[0]
            if not literal and field is not None and not spec and conversion is None:
                return field
        return None


def compile_string(text: str, *, where: str) -> StringTemplate:
    """Parse `text` into a template; `{{` and `}}` stand for literal braces.

    Raises:
        TemplateError: The braces are unbalanced or a placeholder is empty.
    """
    try:
        pieces = tuple(_FORMATTER.parse(text))
    except ValueError as exc:
        raise TemplateError(
            f"invalid template in {where}: {exc} in {text!r}; write '{{{{' and '}}}}' "
            "for literal braces"
        ) from exc
    for _, field, _, _ in pieces:
        if field is not None and not field.strip():
            raise TemplateError(
                f"empty placeholder '{{}}' in {where}: {text!r}; name an audience "
                "column, as in '{campaign_id}', or write '{{}}' for literal braces"
            )
    return StringTemplate(text, pieces)


def collect_fields(value: Any, *, where: str) -> set[str]:
    """Return every placeholder name in a string, or in the strings of a JSON value."""
    if isinstance(value, str):
        return compile_string(value, where=where).fields
    if isinstance(value, Mapping):
        fields: set[str] = set()
        for key, item in value.items():
            fields |= collect_fields(item, where=f"{where}[{key!r}]")
        return fields
    if isinstance(value, list | tuple):
        fields = set()
        for i, item in enumerate(value):
            fields |= collect_fields(item, where=f"{where}[{i}]")
        return fields
    return set()


def render_text(
    template: StringTemplate, values: Mapping[str, Any], *, url_quote: bool = False
) -> str:
    """Fill a template with campaign values; `url_quote` percent-encodes each value."""
    parts: list[str] = []
    for literal, field, spec, conversion in template.pieces:
        parts.append(literal)
        if field is None:
            continue
        text = _format_value(values[field], spec, conversion)
        parts.append(quote(text, safe="") if url_quote else text)
    return "".join(parts)


def render_json(value: Any, values: Mapping[str, Any], *, where: str) -> Any:
    """Fill the strings of a JSON value; a string that is one placeholder keeps its type.

    `{"n": "{count}"}` renders as `{"n": 120}` and `{"label": "n={count}"}` as
    `{"label": "n=120"}`.
    """
    if isinstance(value, str):
        template = compile_string(value, where=where)
        single = template.single_field
        if single is not None:
            return json_safe(values[single])
        return render_text(template, values) if template.fields else value
    if isinstance(value, Mapping):
        return {key: render_json(item, values, where=f"{where}[{key!r}]")
                for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [render_json(item, values, where=f"{where}[{i}]")
                for i, item in enumerate(value)]
    return value


def _format_value(value: Any, spec: str, conversion: str | None) -> str:
    if value is None:
        return ""
    if conversion == "r":
        value = repr(value)
    elif conversion == "a":
        value = ascii(value)
    elif conversion == "s":
        value = str(value)
    if not spec:
        if isinstance(value, bool):
            return "true" if value else "false"
        isoformat = getattr(value, "isoformat", None)
        if callable(isoformat):
            return str(isoformat())
    return format(value, spec)
