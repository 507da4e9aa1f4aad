"""Secret values, and the one redaction helper for logs, reprs, errors and reports."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus

from yarl import URL

__all__ = ["MASK", "Redactor", "Secret", "is_sensitive_name"]

MASK = "[secure]"
_ESCAPED_MASK = "%5Bsecure%5D"

# Header and query-parameter names whose values are credentials. Matched on the
# lower-cased name, so "X-Api-Key", "api_key" and "access_token" are all caught.
_SENSITIVE_NAME = re.compile(
    r"(^|[-_])(authorization|auth|cookie|set-cookie|token|access[-_]?token|"
    r"refresh[-_]?token|id[-_]?token|api[-_]?key|apikey|key|secret|client[-_]?secret|"
    r"password|passwd|pwd|signature|sig|session)($|[-_])"
)
_SENSITIVE_EXACT = frozenset({"authorization", "proxy-authorization", "cookie"})

# Secrets shorter than this are not searched for in free text: replacing every "a"
# in a message would make it unreadable and hides nothing worth hiding.
_MIN_SEARCHED_LENGTH = 4


def is_sensitive_name(name: str) -> bool:
    """Return True when a header or query parameter `name` carries a credential."""
    lowered = name.lower()
    return lowered in _SENSITIVE_EXACT or bool(_SENSITIVE_NAME.search(lowered))


class Secret:
    """A credential whose repr and str never show the value.

    Args:
        value: The secret itself.
        env: The environment variable it was read from, kept so that saved
            configurations can refer to the variable instead of the value.

    Example:
        >>> token = Secret("s3cr3t")
        >>> token
        Secret('[secure]')
        >>> token.reveal()
        's3cr3t'
    """

    __slots__ = ("_value", "env")

    def __init__(self, value: str, *, env: str | None = None) -> None:
        if not isinstance(value, str):
            raise TypeError(f"a secret must be a str, got {type(value).__name__}")
        self._value = value
        self.env = env

    @classmethod
    def from_env(cls, name: str) -> Secret:
        """Read a secret from the environment variable `name`.

        Raises:
            ConfigurationError: The variable is not set or is empty.
        """
        from extapi_pandas.errors import ConfigurationError

        value = os.environ.get(name)
        if not value:
            raise ConfigurationError(
                f"environment variable {name!r} is not set or empty; set it to the "
                "secret, or pass the secret directly"
            )
        return cls(value, env=name)

    @classmethod
    def coerce(cls, value: str | Secret) -> Secret:
        """Wrap a plain string, or return a `Secret` unchanged."""
        return value if isinstance(value, Secret) else cls(value)

    def reveal(self) -> str:
        """Return the secret value, for the one place that sends it."""
        return self._value

    def __repr__(self) -> str:
        source = f", env={self.env!r}" if self.env else ""
        return f"Secret({MASK!r}{source})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> Any:
        raise TypeError("a Secret cannot be pickled, so that it never lands in a cache")


def _encoded_forms(secret: str) -> set[str]:
    """Return the percent-encoded forms a secret takes in URLs and query strings."""
    as_query_value = URL.build(query={"k": secret}).raw_query_string[2:]
    return {
        quote(secret, safe=""),
        quote(secret, safe="/"),
        quote_plus(secret),
        as_query_value,
    }


class Redactor:
    """Masks known secret values and credential-named fields in text, URLs and headers.

    One instance is built per enrichment call from the call's auth and headers, and
    every log line, error message and provenance entry passes through it.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: list[str] = []
        self._pattern: re.Pattern[str] | None = None
        self.add(*secrets)

    def add(self, *secrets: str) -> None:
        """Mask `secrets` too from now on, such as a token fetched during the call."""
        values = {s for s in secrets if s and len(s) >= _MIN_SEARCHED_LENGTH}
        # A secret can also appear percent-encoded, as in a query string or a
        # Location header, so its encoded forms are masked as well.
        values |= {form for s in values for form in _encoded_forms(s)}
        if values <= set(self._secrets):
            return
        # Longest first, so that a secret containing another is masked whole.
        self._secrets = sorted(values | set(self._secrets), key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(s) for s in self._secrets))

    def with_secrets(self, secrets: Iterable[str]) -> Redactor:
        """Return a redactor that also masks `secrets`."""
        return Redactor([*self._secrets, *secrets])

    def _is_secret_field(self, name: str, value: str) -> bool:
        # Query values arrive decoded, with "+" read as a space, so a secret that
        # contains "+" is also searched for in that form.
        if is_sensitive_name(name):
            return True
        if self._pattern is None:
            return False
        return any(
            self._pattern.search(form) for form in (value, value.replace(" ", "+"))
        )

    def text(self, text: str) -> str:
        """Mask every known secret value in free text."""
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(MASK, text)

    def url(self, url: str | URL) -> str:
        """Mask userinfo, credential-named query parameters and known secrets."""
        parsed = url if isinstance(url, URL) else URL(str(url), encoded=True)
        if parsed.password is not None:
            parsed = parsed.with_password(MASK)
        if parsed.query:
            masked = [
                (name, MASK if self._is_secret_field(name, value) else value)
                for name, value in parsed.query.items()
            ]
            parsed = parsed.with_query(masked)
        # human_repr() decodes percent-escapes, so the mask and the secrets searched
        # for by text() appear as written rather than encoded.
        # The userinfo part keeps its escapes, so the mask is restored there too.
        return self.text(parsed.human_repr().replace(_ESCAPED_MASK, MASK))

    def exception(self, error: BaseException) -> None:
        """Mask known secrets in the messages of `error` and of its causes, in place.

        Foreign exceptions can quote a request URL (aiohttp's connect timeout does),
        so the whole `__cause__` and `__context__` chain is cleaned, as are notes.
        """
        seen: set[int] = set()
        current: BaseException | None = error
        while current is not None and id(current) not in seen:
            seen.add(id(current))
            self._clean_args(current)
            notes = getattr(current, "__notes__", None)
            if isinstance(notes, list):
                current.__notes__ = [self.text(str(note)) for note in notes]
            current = current.__cause__ or current.__context__

    def _clean_args(self, error: BaseException) -> None:
        if self._pattern is None:
            return
        cleaned = tuple(
            self.text(arg) if isinstance(arg, str) else arg for arg in error.args
        )
        if cleaned != error.args:
            error.args = cleaned
        if self._pattern.search(str(error)):
            # str() is built from attributes rather than args (OSError subclasses).
            error.args = (self.text(str(error)),)
            for name in ("strerror", "filename", "msg", "message"):
                value = getattr(error, name, None)
                if isinstance(value, str):
                    with contextlib.suppress(AttributeError):
                        setattr(error, name, self.text(value))

    def headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        """Return a copy of `headers` with credential values masked."""
        return {
            name: MASK if is_sensitive_name(name) else self.text(str(value))
            for name, value in headers.items()
        }
