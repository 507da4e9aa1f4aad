"""`{column}` placeholders in URLs, query parameters, headers and JSON bodies."""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from extapi_pandas.errors import TemplateError
from extapi_pandas.values import json_safe

__all__ = [
    "COUNT",
    "StringTemplate",
    "collect_fields",
    "compile_string",
    "render_json",
    "render_text",
]

COUNT = "count"
"""The placeholder for the number of profiles in the campaign."""

_FORMATTER = string.Formatter()

# Reserved and unreserved URL characters (RFC 3986) plus "%", so that the literal
# text of a URL template keeps its structure and its existing percent-escapes.
_URL_SAFE = ":/?#[]@!$&'()*+,;=-._~%"


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
        pieces = tuple(
            (literal, field, spec or "", conversion)
            for literal, field, spec, conversion in _FORMATTER.parse(text)
        )
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
    """Fill a template with campaign values.

    With `url_quote`, each value is percent-encoded whole (a `/` in a value stays
    inside its path segment), and characters that a URL cannot carry raw in the
    literal text, such as spaces and braces, are encoded too.

    Raises:
        TemplateError: A value is missing (None), does not fit its format spec, or
            is `.` or `..` in the URL path, which would change the path.
    """
    parts: list[str] = []
    in_query = False
    for literal, field, spec, conversion in template.pieces:
        parts.append(quote(literal, safe=_URL_SAFE) if url_quote else literal)
        in_query = in_query or "?" in literal or "#" in literal
        if field is None:
            continue
        _require_value(template, field, values)
        text = _format_field(template, field, values[field], spec, conversion)
        if url_quote:
            if not in_query and text in (".", ".."):
                raise TemplateError(
                    f"placeholder {{{field}}} in {template.text!r} renders to "
                    f"{text!r}, a dot segment that would change the URL path; "
                    "pass the value as a query parameter with params= instead"
                )
            text = quote(text, safe="")
        parts.append(text)
    return "".join(parts)


def _require_value(
    template: StringTemplate, field: str, values: Mapping[str, Any]
) -> None:
    # `make_plan` rejects missing campaign values earlier and names the campaigns.
    # This check keeps a direct caller from sending an empty or dropped value.
    if values[field] is None:
        raise TemplateError(
            f"placeholder {{{field}}} in {template.text!r} has a missing value "
            "(None); fill the column, or drop the rows without a value"
        )


def _format_field(
    template: StringTemplate, field: str, value: Any, spec: str, conversion: str | None
) -> str:
    try:
        return _format_value(value, spec, conversion)
    except (ValueError, TypeError) as exc:
        shown = f"{{{field}:{spec}}}" if spec else f"{{{field}}}"
        raise TemplateError(
            f"placeholder {shown} in {template.text!r} cannot format the "
            f"value {value!r} ({type(value).__name__}): {exc}; use a format spec that "
            "fits the column's type, such as {date:%Y-%m-%d} for a datetime column"
        ) from exc


def render_json(value: Any, values: Mapping[str, Any], *, where: str) -> Any:
    """Fill the strings of a JSON value; a lone placeholder keeps its value's type.

    `{"n": "{count}"}` renders as `{"n": 120}` and `{"label": "n={count}"}` as
    `{"label": "n=120"}`. A non-string value, None included, is kept as it is.

    Raises:
        TemplateError: A placeholder's value is missing (None) or does not fit its
            format spec.
    """
    if isinstance(value, str):
        template = compile_string(value, where=where)
        single = template.single_field
        if single is not None:
            _require_value(template, single, values)
            return json_safe(values[single])
        # Rendered even without placeholders, so that '{{' and '}}' become braces.
        return render_text(template, values)
    if isinstance(value, Mapping):
        return {
            key: render_json(item, values, where=f"{where}[{key!r}]")
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [
            render_json(item, values, where=f"{where}[{i}]")
            for i, item in enumerate(value)
        ]
    return value


def _format_value(value: Any, spec: str, conversion: str | None) -> str:
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
