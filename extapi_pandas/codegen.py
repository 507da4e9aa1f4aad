"""Python source of the `enrich` call that a preview or the builder describes."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from typing import Any

from extapi_pandas.activity import ExternalAPI
from extapi_pandas.config import SecretText
from extapi_pandas.http.auth import ApiKey, Auth, BasicAuth, BearerToken
from extapi_pandas.http.cache import Cache
from extapi_pandas.mapping import Column
from extapi_pandas.options import GUARD_FIELDS, Guard, Retry, Timeout
from extapi_pandas.redaction import MASK, Redactor, Secret, is_sensitive_name
from extapi_pandas.replay import Recording

__all__ = ["api_options", "enrich_code", "env_name"]

_INDENT = "    "
_PLACEHOLDER = re.compile(r"\{[^{}]+\}")


def _field_default(spec: dataclasses.Field[Any]) -> Any:
    if spec.default is not dataclasses.MISSING:
        return spec.default
    if spec.default_factory is not dataclasses.MISSING:
        return spec.default_factory()
    return dataclasses.MISSING  # a required field, such as url


_API_DEFAULTS = {
    f.name: _field_default(f) for f in dataclasses.fields(ExternalAPI) if f.init
}
_GUARD_DEFAULT = Guard()
# Options whose value cannot be written as source; the code names them in a comment.
_OPAQUE = {"schema": "a pandera schema", "verify": "an ssl.SSLContext"}


def env_name(*parts: str) -> str:
    """Return an environment variable name such as `EXTAPI_X_API_KEY` for a secret."""
    words = [re.sub(r"[^0-9A-Za-z]+", "_", part).strip("_").upper() for part in parts]
    return "_".join(["EXTAPI", *[word for word in words if word]])


def api_options(api: ExternalAPI) -> dict[str, Any]:
    """Return the options of `api` as `enrich` keywords, `url` included."""
    return {name: getattr(api, name) for name in _API_DEFAULTS}


class _Writer:
    """Collects the imports, environment variables and notes the code needs."""

    def __init__(self, redactor: Redactor) -> None:
        self.redactor = redactor
        self.names: set[str] = set()
        self.uses_os = False
        self.env: dict[str, str] = {}
        self.notes: list[str] = []

    def secret(self, secret: Secret | str, default_env: str, what: str) -> str:
        env = secret.env if isinstance(secret, Secret) and secret.env else default_env
        self.env[env] = what
        self.names.add("Secret")
        return f"Secret.from_env({_string(env)})"

    def environ(self, env: str, what: str) -> str:
        self.uses_os = True
        self.env[env] = what
        return f"os.environ[{_string(env)}]"


def enrich_code(
    options: Mapping[str, Any], *, frame: str = "df", result: str = "enriched"
) -> str:
    """Return Python source that runs `enrich` with `options`.

    Secrets never appear in the source: auth credentials become
    `Secret.from_env(...)` and credential headers or query parameters become
    `os.environ[...]`, with a comment that lists the variables to set.

    Args:
        options: The keywords of `enrich`, `url` included (see `api_options`).
        frame: Name of the audience variable in the code.
        result: Name of the variable that receives the enriched frame.

    Example:
        >>> print(enrich_code({"url": "https://api.example.com/x",
        ...                    "columns": {"x": "$.x"}}))
        import extapi_pandas
        <BLANKLINE>
        enriched = df.extapi.enrich(
            "https://api.example.com/x",
            columns={"x": "$.x"},
        )
    """
    writer = _Writer(_redactor_for(options))
    arguments = [_url_argument(options.get("url", ""), writer)]
    if options.get("records") and not options.get("on") and not options.get("assign"):
        writer.notes.append(
            "records= needs on= (a lookup by key) or assign='sequential' before "
            "this runs"
        )
    for name, value in options.items():
        if name == "url" or _is_default(name, value):
            continue
        arguments.extend(_keyword(name, value, writer))
    call = f"{result} = {frame}.extapi.enrich(\n"
    call += "".join(
        f"{_INDENT}{line}\n" for argument in arguments for line in argument.split("\n")
    )
    call += ")"
    return "\n".join([*_preamble(writer), call])


def _redactor_for(options: Mapping[str, Any]) -> Redactor:
    secrets: list[str] = []
    auth = options.get("auth")
    if isinstance(auth, Auth):
        secrets.extend(auth.secrets())
    for group in ("headers", "params"):
        for name, value in (options.get(group) or {}).items():
            if _is_secret_value(str(name), value):
                secrets.extend([value, *value.split()[1:]])
    return Redactor(secrets)


def _preamble(writer: _Writer) -> list[str]:
    lines = []
    if writer.env:
        lines.append("# Set these environment variables to the secrets first:")
        lines.extend(f"#   {env}: {what}" for env, what in sorted(writer.env.items()))
    lines.extend(f"# NOTE: {note}" for note in writer.notes)
    if writer.uses_os:
        lines.append("import os")
        lines.append("")
    lines.append("import extapi_pandas")
    if writer.names:
        lines.append(f"from extapi_pandas import {', '.join(sorted(writer.names))}")
    lines.append("")
    return lines


def _is_default(name: str, value: Any) -> bool:
    if name in GUARD_FIELDS:
        return bool(value == getattr(_GUARD_DEFAULT, name))
    if name not in _API_DEFAULTS:
        return False
    default = _API_DEFAULTS[name]
    if name == "timeout":
        return bool(Timeout.coerce(value) == default)
    if name == "retries":
        return bool(Retry.coerce(value) == default)
    return bool(value is default or (value == default and type(value) is type(default)))


def _url_argument(url: str, writer: _Writer) -> str:
    shown = writer.redactor.url(url)
    if MASK in shown:
        writer.notes.append(
            "credentials in the URL were replaced by [secure]; pass them with auth= "
            "or a header instead"
        )
    return f"{_string(shown)},"


def _keyword(name: str, value: Any, writer: _Writer) -> list[str]:
    if name in _OPAQUE and not (name == "verify" and isinstance(value, str)):
        writer.notes.append(f"{name}= was {_OPAQUE[name]}; pass the same object")
        return [f"{name}={name},"]
    if name == "guard":
        return _guard_keywords(value, writer)
    if name == "auth":
        return [f"auth={_auth(value, writer)},"]
    if name in ("headers", "params"):
        return [f"{name}={_credential_dict(name, value, writer)},"]
    if name == "columns":
        return [f"columns={_columns(value, writer)},"]
    if name == "timeout":
        return [f"timeout={_option_group(Timeout.coerce(value), writer)},"]
    if name == "retries":
        return [f"retries={_option_group(Retry.coerce(value), writer)},"]
    if isinstance(value, Cache | Recording):
        return [f"{name}={_record_object(value, writer)},"]
    return [f"{name}={_literal(value, writer)},"]


def _record_object(value: Cache | Recording, writer: _Writer) -> str:
    """Write a `Cache` or `Recording` with its fields, and import its class."""
    name = type(value).__name__
    writer.names.add(name)
    fields = [
        f"{f.name}={_literal(getattr(value, f.name), writer)}"
        for f in dataclasses.fields(value)
    ]
    return f"{name}({', '.join(fields)})"


def _guard_keywords(guard: Guard, writer: _Writer) -> list[str]:
    return [
        f"{f.name}={_literal(getattr(guard, f.name), writer)},"
        for f in dataclasses.fields(guard)
        if getattr(guard, f.name) != getattr(_GUARD_DEFAULT, f.name)
    ]


def _option_group(value: Timeout | Retry, writer: _Writer) -> str:
    if isinstance(value, Timeout) and value == Timeout.coerce(value.total):
        return _literal(value.total, writer)
    if isinstance(value, Retry) and value == Retry(attempts=value.attempts):
        return _literal(value.attempts, writer)
    default = type(value)()
    changed = [
        f"{f.name}={_literal(getattr(value, f.name), writer)}"
        for f in dataclasses.fields(value)
        if getattr(value, f.name) != getattr(default, f.name)
    ]
    writer.names.add(type(value).__name__)
    return f"{type(value).__name__}({', '.join(changed)})"


def _auth(auth: Auth, writer: _Writer) -> str:
    if isinstance(auth, BearerToken):
        writer.names.add("BearerToken")
        token = writer.secret(auth.token, "EXTAPI_TOKEN", "the bearer token")
        return f"BearerToken({token})"
    if isinstance(auth, BasicAuth):
        writer.names.add("BasicAuth")
        password = writer.secret(
            auth.password, "EXTAPI_PASSWORD", f"the password of {auth.username}"
        )
        return f"BasicAuth({_string(auth.username)}, {password})"
    if isinstance(auth, ApiKey):
        writer.names.add("ApiKey")
        key = writer.secret(auth.key, env_name(auth.name), f"the API key ({auth.name})")
        return (
            f"ApiKey({key}, name={_string(auth.name)}, "
            f"location={_string(auth.location)})"
        )
    writer.notes.append(f"auth= was {auth.identity()}; pass the same object")
    return "auth"


def _credential_dict(group: str, values: Mapping[str, Any], writer: _Writer) -> str:
    items = []
    for name, value in values.items():
        what = f"the value of the {group[:-1]} {name!r}"
        if isinstance(value, SecretText):
            # A value read with Secret.from_env keeps the variable it came from.
            code = writer.environ(value.env or env_name(str(name)), what)
        elif _is_secret_value(str(name), value) or (
            isinstance(value, str) and writer.redactor.text(value) != value
        ):
            code = writer.environ(env_name(str(name)), what)
        else:
            code = _literal(value, writer)
        items.append(f"{_string(str(name))}: {code}")
    return _braces(items)


def _columns(columns: Mapping[str, str | Column], writer: _Writer) -> str:
    items = []
    for name, spec in columns.items():
        if isinstance(spec, Column) and spec != Column(spec.path):
            writer.names.add("Column")
            changed = [
                f"{f.name}={_literal(getattr(spec, f.name), writer)}"
                for f in dataclasses.fields(spec)[1:]
                if getattr(spec, f.name) != _field_default(f)
            ]
            code = f"Column({', '.join([_string(spec.path), *changed])})"
        else:
            path = spec.path if isinstance(spec, Column) else spec
            code = _string(path)
        items.append(f"{_string(name)}: {code}")
    return _braces(items)


def _is_secret_value(name: str, value: Any) -> bool:
    # A credential header filled from a campaign column ("Bearer {token}") is a
    # template, not a secret, so it is written out as it is.
    return (
        is_sensitive_name(name)
        and isinstance(value, str)
        and not _PLACEHOLDER.search(value)
    )


def _braces(items: list[str]) -> str:
    one_line = "{" + ", ".join(items) + "}"
    if len(one_line) <= 60:
        return one_line
    return "{\n" + "".join(f"{_INDENT}{item},\n" for item in items) + "}"


def _literal(value: Any, writer: _Writer) -> str:
    if isinstance(value, str):
        return _string(writer.redactor.text(value))
    if isinstance(value, Mapping):
        return _braces(
            [f"{_literal(k, writer)}: {_literal(v, writer)}" for k, v in value.items()]
        )
    if isinstance(value, list | tuple):
        inner = ", ".join(_literal(item, writer) for item in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner},)"
    if isinstance(value, frozenset):
        return f"frozenset({sorted(value, key=str)!r})"
    return repr(value)


def _string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)
