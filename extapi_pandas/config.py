"""Save an `ExternalAPI` as TOML or a dict and load it back, with no secret in it."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import ssl
import tomllib
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path, PurePath
from typing import Any

from extapi_pandas.activity import ExternalAPI
from extapi_pandas.errors import ConfigurationError
from extapi_pandas.http.auth import (
    ApiKey,
    Auth,
    BasicAuth,
    BearerToken,
    OAuth2ClientCredentials,
)
from extapi_pandas.http.cache import DEFAULT_TTL, Cache, format_duration
from extapi_pandas.mapping import Column
from extapi_pandas.options import Guard, Retry, Timeout
from extapi_pandas.payload import Payload
from extapi_pandas.perprofile import PerProfileLimits
from extapi_pandas.redaction import MASK, Secret, is_sensitive_name
from extapi_pandas.replay import Recording
from extapi_pandas.schema_config import schema_from_config, schema_to_config

__all__ = [
    "API_KEYS",
    "AUTH_TYPES",
    "ConfigSource",
    "SecretText",
    "api_from_dict",
    "api_to_dict",
    "dump_toml",
    "load_toml",
    "save_toml",
]

API_KEYS = [f.name for f in dataclasses.fields(ExternalAPI) if f.init]
"""Top-level keys of an activity file, in the order they are written."""

AUTH_TYPES: dict[str, tuple[type[Auth], list[str]]] = {
    "bearer": (BearerToken, ["token"]),
    "basic": (BasicAuth, ["username", "password"]),
    "api_key": (ApiKey, ["key", "name", "location"]),
    "oauth2_client_credentials": (
        OAuth2ClientCredentials,
        [
            "token_url",
            "client_id",
            "client_secret",
            "scope",
            "client_auth",
            "expiry_margin",
        ],
    ),
}
"""The `type` of an `[auth]` table, with its class and keys (besides `type`)."""

_SECRET_FIELDS = {"token", "password", "key", "client_secret"}
_PLACEHOLDER = re.compile(r"\{[^{}]+\}")
_OPTION_GROUPS: dict[str, type[Any]] = {
    "timeout": Timeout,
    "retries": Retry,
    "guard": Guard,
    "per_profile": PerProfileLimits,
    "payload": Payload,
}
# Options that name a file. A string value of the first group is a path, and a
# table value of the second contains a path under the key `path`. A string value
# of `cache` is a time to live, never a path.
_PATH_STRINGS = ("verify", "replay")
_PATH_TABLES = ("cache", "replay")
_HEADER = """\
# extapi-pandas activity: load it with ExternalAPI.from_toml(path), or run it with
#   extapi-pandas enrich AUDIENCE --config {name} --out OUT
"""


class SecretText(str):
    """A header or query parameter value that is a secret, such as an API key.

    `ExternalAPI` turns a `Secret` given as a header or parameter value into one.
    It is sent as the plain value and its repr is masked. `env` names the
    environment variable it came from, so a saved activity refers to that variable.

    Args:
        secret: The secret, best read with `Secret.from_env`.
    """

    env: str | None

    def __new__(cls, secret: Secret) -> SecretText:
        text = super().__new__(cls, secret.reveal())
        text.env = secret.env
        return text

    def __repr__(self) -> str:
        return repr(Secret(str(self), env=self.env))


class _FilePath(str):
    """A path that an activity file gave relative to its folder, made absolute.

    Saving the activity again writes it relative to the new file's folder, so a
    file that is loaded and saved keeps its relative paths.
    """


def _defaults() -> dict[str, Any]:
    defaults = {}
    for spec in dataclasses.fields(ExternalAPI):
        if spec.default is not dataclasses.MISSING:
            defaults[spec.name] = spec.default
        elif spec.default_factory is not dataclasses.MISSING:
            defaults[spec.name] = spec.default_factory()
    return defaults


_DEFAULTS = _defaults()


class ConfigSource:
    """The text a configuration was read from, to point errors at a line.

    Args:
        path: The file name shown in messages, or None for a dict.
        text: The TOML text, or None.
        folder: The folder that relative file paths in the configuration are
            resolved against; None leaves them relative to the working directory.
    """

    def __init__(
        self,
        path: str | None = None,
        text: str | None = None,
        *,
        folder: str | None = None,
    ) -> None:
        self.path = path
        self.text = text
        self.folder = folder

    def where(self, *keys: str) -> str:
        """Return the dotted key and its line, as in `auth.token (line 9 of a.toml)`."""
        dotted = ".".join(keys) if keys else "the top level"
        line = find_line(self.text, keys) if self.text and keys else None
        if line is None:
            return dotted if self.path is None else f"{dotted} in {self.path}"
        return f"{dotted} (line {line} of {self.path})"

    def error(self, keys: tuple[str, ...], message: str) -> ConfigurationError:
        """Return an error about the value at `keys`."""
        return ConfigurationError(f"{self.where(*keys)}: {message}")

    def check_keys(
        self, table: Mapping[str, Any], valid: list[str], keys: tuple[str, ...]
    ) -> None:
        """Raise for keys of `table` not in `valid`, naming their lines and `valid`.

        Raises:
            ConfigurationError: A key is unknown.
        """
        unknown = [str(key) for key in table if key not in valid]
        if not unknown:
            return
        shown = ", ".join(self.where(*keys, key) for key in unknown)
        place = f"in [{'.'.join(keys)}]" if keys else "at the top level"
        raise ConfigurationError(
            f"unknown key(s) {place}: {shown}; valid keys are {', '.join(valid)}"
        )


# Saving


def api_to_dict(api: ExternalAPI, *, folder: str | None = None) -> dict[str, Any]:
    """Return the definition as plain data, as `to_toml` writes it.

    Options at their defaults are left out. Secrets become environment-variable
    references `{"env": "NAME"}`.

    Args:
        api: The definition.
        folder: The folder of the file the data goes to. A relative file path,
            or one that an activity file gave as relative, is then written
            relative to it and names the same file. Absolute paths and paths
            that start with `~` are kept. None keeps every path as the
            definition holds it.

    Raises:
        ConfigurationError: A secret was given as a literal value (read it with
            `Secret.from_env` instead), or an option has no saved form (an
            `ssl.SSLContext`, a custom `Auth`, a schema defined in `__main__`).
    """
    data: dict[str, Any] = {"url": _url_to_config(api.url), "method": api.method}
    for name in API_KEYS[2:]:
        value = getattr(api, name)
        if name in _DEFAULTS and _is_default(name, value):
            continue
        writer = _WRITERS.get(name, _plain)
        data[name] = writer(value, name)
    _reject_secret_values(api, data)
    if folder is None:
        return _map_file_paths(data, str)
    return _map_file_paths(data, partial(_path_for_file, folder=folder))


def _map_file_paths(
    data: Mapping[str, Any], convert: Callable[[str], str]
) -> dict[str, Any]:
    """Return a copy of `data` with `convert` applied to each file path in it."""
    out = dict(data)
    for name in _PATH_STRINGS:
        if isinstance(out.get(name), str):
            out[name] = convert(out[name])
    for name in _PATH_TABLES:
        table = out.get(name)
        if isinstance(table, Mapping) and isinstance(table.get("path"), str):
            out[name] = {**table, "path": convert(table["path"])}
    return out


def _path_for_file(path: str, folder: str) -> str:
    """Return `path` as a file in `folder` stores it, relative to `folder` if it can."""
    if not path or path.startswith("~"):
        return path
    if os.path.isabs(path) and not isinstance(path, _FilePath):
        return path
    try:
        relative = os.path.relpath(os.path.abspath(path), folder)
    except ValueError:  # on Windows, a path on another drive has no relative form
        return os.path.abspath(path)
    return PurePath(relative).as_posix()


def _path_from_file(path: str, folder: str) -> str:
    """Return a path read from a file in `folder`, resolved against that folder."""
    if not path or path.startswith("~") or os.path.isabs(path):
        return path
    return _FilePath(os.path.normpath(os.path.join(folder, path)))


def _is_default(name: str, value: Any) -> bool:
    default = _DEFAULTS[name]
    if isinstance(default, bool) or default is None:
        return value is default
    return bool(value == default) and type(value) is type(default)


def _plain(value: Any, name: str) -> Any:
    if isinstance(value, tuple | list):
        return [_plain(item, name) for item in value]
    if isinstance(value, Mapping):
        return {str(key): _plain(item, name) for key, item in value.items()}
    if isinstance(value, frozenset | set):
        return sorted(value, key=str)
    return value


def _url_to_config(url: str) -> str:
    from yarl import URL

    parsed = URL(url, encoded=True)
    if parsed.password is not None:
        raise ConfigurationError(
            "url contains a password, which an activity file must not hold; pass "
            "it with auth=BasicAuth(user, Secret.from_env('NAME'))"
        )
    for name, value in parsed.query.items():
        if is_sensitive_name(name) and not _PLACEHOLDER.search(value):
            raise ConfigurationError(
                f"url contains the credential query parameter {name!r}, which an "
                "activity file must not hold; pass it with "
                f"auth=ApiKey(Secret.from_env('NAME'), name={name!r}, "
                "location='query')"
            )
    return url


def _values_to_config(values: Mapping[str, Any], name: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, SecretText):
            if value.env is None:
                raise _literal_secret_error(f"{name}[{key!r}]")
            out[str(key)] = {"env": value.env}
        elif (
            is_sensitive_name(str(key))
            and isinstance(value, str)
            and not _PLACEHOLDER.search(value)
        ):
            raise ConfigurationError(
                f"{name}[{key!r}] is a credential, and an activity file must not hold "
                f"its value; pass {name}={{{key!r}: Secret.from_env('NAME')}} so that "
                "the file refers to the environment variable NAME"
            )
        else:
            out[str(key)] = _plain(value, name)
    return out


def _literal_secret_error(what: str) -> ConfigurationError:
    return ConfigurationError(
        f"{what} is a secret given as a literal value, and an activity file must not "
        "hold it; read it with Secret.from_env('NAME') so that the file refers to "
        "the environment variable NAME"
    )


def _secret_to_config(secret: Secret, what: str) -> dict[str, str]:
    if secret.env is None:
        raise _literal_secret_error(what)
    return {"env": secret.env}


def _auth_to_config(auth: Auth, name: str) -> dict[str, Any]:
    for type_name, (cls, keys) in AUTH_TYPES.items():
        if type(auth) is not cls:
            continue
        table: dict[str, Any] = {"type": type_name}
        for key in keys:
            value = getattr(auth, key)
            if key in _SECRET_FIELDS:
                table[key] = _secret_to_config(
                    value, f"the {key} of {type(auth).__name__}"
                )
            elif value is not None:
                table[key] = value
        return table
    raise ConfigurationError(
        f"auth={auth.identity()} is a custom Auth scheme, which an activity file "
        f"cannot describe; files hold {', '.join(AUTH_TYPES)} auth"
    )


def _columns_to_config(columns: Mapping[str, Any], name: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, spec in columns.items():
        if isinstance(spec, str):
            out[key] = spec
            continue
        fields: dict[str, Any] = {"path": spec.path}
        for field in dataclasses.fields(Column)[1:]:
            value = getattr(spec, field.name)
            if value != field.default:
                fields[field.name] = _plain(value, name)
        out[key] = spec.path if list(fields) == ["path"] else fields
    return out


def _group_to_config(value: Any, name: str) -> dict[str, Any]:
    default = type(value)()
    return {
        field.name: _plain(getattr(value, field.name), name)
        for field in dataclasses.fields(value)
        if getattr(value, field.name) != getattr(default, field.name)
    }


def _verify_to_config(value: Any, name: str) -> Any:
    if isinstance(value, ssl.SSLContext):
        raise ConfigurationError(
            "verify= is an ssl.SSLContext, which an activity file cannot hold; pass "
            "verify='path/to/ca-bundle.pem' instead"
        )
    return value  # a path, possibly a _FilePath that api_to_dict converts


def _cache_to_config(cache: Cache, name: str) -> Any:
    if cache.path is None and not cache.refresh:
        return format_duration(cache.ttl)
    if cache.path is None and cache.ttl == DEFAULT_TTL:
        return "refresh"
    table: dict[str, Any] = {"ttl": format_duration(cache.ttl)}
    if cache.path is not None:
        table["path"] = cache.path
    if cache.refresh:
        table["refresh"] = True
    return table


def _replay_to_config(recording: Recording, name: str) -> Any:
    if recording.mode == "auto":
        return recording.path
    return {"path": recording.path, "mode": recording.mode}


_WRITERS: dict[str, Callable[[Any, str], Any]] = {
    "params": _values_to_config,
    "headers": _values_to_config,
    "auth": _auth_to_config,
    "columns": _columns_to_config,
    "schema": lambda value, name: schema_to_config(value),
    "verify": _verify_to_config,
    "cache": _cache_to_config,
    "replay": _replay_to_config,
    **{group: _group_to_config for group in _OPTION_GROUPS},
}


def _reject_secret_values(api: ExternalAPI, data: Mapping[str, Any]) -> None:
    """Raise if a known secret value appears anywhere in the saved form."""
    redactor = api.redactor()
    for key, value in data.items():
        text = json.dumps(value, ensure_ascii=False, default=str)
        if MASK not in text and redactor.text(text) != text:
            raise ConfigurationError(
                f"the {key} option contains a secret value (of auth= or of a "
                "credential header), and an activity file must not hold it; "
                "fill it from a campaign column or an environment variable instead"
            )


def dump_toml(
    api: ExternalAPI, *, name: str = "ACTIVITY.toml", folder: str | None = None
) -> str:
    """Return the definition as TOML text, with a comment naming the variables to set.

    Args:
        api: The definition.
        name: The file name shown in the comment.
        folder: The folder of the file the text goes to, as for `api_to_dict`.

    Raises:
        ConfigurationError: As `api_to_dict`, or a value is None somewhere TOML
            cannot write it (TOML has no null).
    """
    import tomli_w

    data = api_to_dict(api, folder=folder)
    _reject_nulls(data, ())
    header = _HEADER.format(name=name)
    variables = sorted(set(_env_names(data)))
    if variables:
        header += f"# Set these environment variables first: {', '.join(variables)}\n"
    return header + "\n" + tomli_w.dumps(data)


def _reject_nulls(value: Any, keys: tuple[str, ...]) -> None:
    if value is None:
        raise ConfigurationError(
            f"{'.'.join(keys)} is None, which TOML cannot write (it has no null); "
            "leave the value out, or save the activity with to_dict() as JSON"
        )
    if isinstance(value, Mapping):
        for key, item in value.items():
            _reject_nulls(item, (*keys, str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _reject_nulls(item, (*keys, str(index)))


def _env_names(value: Any) -> list[str]:
    if isinstance(value, Mapping):
        if list(value) == ["env"] and isinstance(value["env"], str):
            return [value["env"]]
        return [name for item in value.values() for name in _env_names(item)]
    return []


def save_toml(api: ExternalAPI, path: str | os.PathLike[str]) -> None:
    """Write the definition to a TOML file.

    Relative file paths are written relative to the file's folder, naming the
    same files as the definition does.

    Raises:
        ConfigurationError: As `dump_toml`, or the file cannot be written.
    """
    folder = os.path.dirname(os.path.abspath(path))
    text = dump_toml(api, name=Path(path).name, folder=folder)
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(
            f"cannot write activity file {str(path)!r}: {exc}"
        ) from exc


# Loading


def load_toml(path: str | os.PathLike[str]) -> ExternalAPI:
    """Read a definition from a TOML file written by `save_toml` or by hand.

    Relative file paths in it (`verify`, `cache.path`, `replay`) are resolved
    against the file's folder.

    Raises:
        ConfigurationError: The file is missing or not TOML, a key is unknown (the
            message gives its line and the valid keys), a value is invalid, or an
            environment variable it refers to is not set.
    """
    shown = os.fspath(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigurationError(f"activity file {shown!r} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"cannot read activity file {shown!r}: {exc}") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{shown} is not valid TOML: {exc}") from exc
    folder = os.path.dirname(os.path.abspath(shown))
    return api_from_dict(data, source=ConfigSource(shown, text, folder=folder))


def api_from_dict(
    data: Mapping[str, Any], *, source: ConfigSource | None = None
) -> ExternalAPI:
    """Build a definition from the layout of `api_to_dict`.

    Args:
        data: The plain data; secrets as `{"env": "NAME"}` (or `Secret` objects).
        source: The file it was read from, to give line numbers in errors and
            the folder that relative file paths are resolved against.

    Raises:
        ConfigurationError: A key is unknown, a value is invalid, or an
            environment variable is not set.
    """
    source = source or ConfigSource()
    if not isinstance(data, Mapping):
        raise ConfigurationError(f"an activity must be a table, got {data!r}")
    source.check_keys(data, API_KEYS, ())
    if "url" not in data:
        raise source.error((), 'the activity has no url; add url = "https://..."')
    if source.folder is not None:
        data = _map_file_paths(data, partial(_path_from_file, folder=source.folder))
    options = {}
    for name, value in data.items():
        reader = _READERS.get(name)
        options[name] = reader(value, (name,), source) if reader else value
    try:
        api = ExternalAPI(**options)
    except ConfigurationError as exc:
        where = source.path or "activity"
        raise ConfigurationError(f"{where}: {exc}") from exc
    _check_schema_columns(api, data, source)
    return api


def _table(
    value: Any, keys: tuple[str, ...], source: ConfigSource
) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise source.error(keys, f"must be a table, got {value!r}")
    return value


def _secret_from_config(
    value: Any, keys: tuple[str, ...], source: ConfigSource
) -> Secret:
    if isinstance(value, Secret):
        return value
    if isinstance(value, Mapping) and list(value) == ["env"]:
        name = str(value["env"])
        try:
            return Secret.from_env(name)
        except ConfigurationError:
            raise source.error(
                keys,
                f"environment variable {name!r} is not set or empty; set it to the "
                "secret before loading the activity",
            ) from None
    raise source.error(
        keys,
        'must refer to an environment variable, as { env = "NAME" }; an activity '
        "file never holds a secret value",
    )


def _values_from_config(
    value: Any, keys: tuple[str, ...], source: ConfigSource
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, item in _table(value, keys, source).items():
        where = (*keys, key)
        if isinstance(item, Secret) or (isinstance(item, Mapping) and "env" in item):
            out[key] = SecretText(_secret_from_config(item, where, source))
        elif (
            isinstance(item, str)
            and is_sensitive_name(key)
            and not (_PLACEHOLDER.search(item))
        ):
            raise source.error(
                where,
                "is a credential, so the file must not hold its value; write "
                f'{key} = {{ env = "NAME" }} and set the environment variable NAME',
            )
        else:
            out[key] = item
    return out


def _auth_from_config(value: Any, keys: tuple[str, ...], source: ConfigSource) -> Auth:
    table = _table(value, keys, source)
    type_name = table.get("type")
    if type_name not in AUTH_TYPES:
        raise source.error(
            (*keys, "type"),
            f"invalid auth type {type_name!r}; valid types are {', '.join(AUTH_TYPES)}",
        )
    cls, valid = AUTH_TYPES[type_name]
    source.check_keys(table, ["type", *valid], keys)
    arguments = {
        key: _secret_from_config(item, (*keys, key), source)
        if key in _SECRET_FIELDS
        else item
        for key, item in table.items()
        if key != "type"
    }
    factory: Any = cls  # each class checks its own keyword arguments
    try:
        auth: Auth = factory(**arguments)
    except (ConfigurationError, TypeError) as exc:
        raise source.error(keys, str(exc)) from None
    return auth


def _columns_from_config(
    value: Any, keys: tuple[str, ...], source: ConfigSource
) -> dict[str, Any]:
    valid = [field.name for field in dataclasses.fields(Column)]
    columns: dict[str, Any] = {}
    for name, spec in _table(value, keys, source).items():
        where = (*keys, name)
        if isinstance(spec, str | Column):
            columns[name] = spec
            continue
        table = _table(spec, where, source)
        source.check_keys(table, valid, where)
        if "path" not in table:
            raise source.error(where, 'has no path; add path = "$.json.path"')
        try:
            columns[name] = Column(**table)
        except ConfigurationError as exc:
            raise source.error(where, str(exc)) from None
    return columns


def _group_from_config(value: Any, keys: tuple[str, ...], source: ConfigSource) -> Any:
    cls = _OPTION_GROUPS[keys[0]]
    if isinstance(value, cls):
        return value
    if keys[0] in ("timeout", "retries") and isinstance(value, int | float):
        return value  # a number of seconds, or of retries
    table = _table(value, keys, source)
    source.check_keys(table, [field.name for field in dataclasses.fields(cls)], keys)
    try:
        return cls(**table)
    except (ConfigurationError, TypeError) as exc:
        raise source.error(keys, str(exc)) from None


def _cache_from_config(value: Any, keys: tuple[str, ...], source: ConfigSource) -> Any:
    if isinstance(value, Mapping):
        source.check_keys(value, ["ttl", "path", "refresh"], keys)
    try:
        return Cache(**value) if isinstance(value, Mapping) else Cache.coerce(value)
    except ConfigurationError as exc:
        raise source.error(keys, str(exc)) from None


def _replay_from_config(value: Any, keys: tuple[str, ...], source: ConfigSource) -> Any:
    if isinstance(value, Mapping):
        source.check_keys(value, ["path", "mode"], keys)
        if "path" not in value:
            raise source.error(keys, 'has no path; add path = "recording.json"')
        try:
            return Recording(**value)
        except ConfigurationError as exc:
            raise source.error(keys, str(exc)) from None
    try:
        return Recording.coerce(value)
    except ConfigurationError as exc:
        raise source.error(keys, str(exc)) from None


_READERS: dict[str, Callable[[Any, tuple[str, ...], ConfigSource], Any]] = {
    "params": _values_from_config,
    "headers": _values_from_config,
    "auth": _auth_from_config,
    "columns": _columns_from_config,
    "schema": schema_from_config,
    "cache": _cache_from_config,
    "replay": _replay_from_config,
    **{group: _group_from_config for group in _OPTION_GROUPS},
}


def _check_schema_columns(
    api: ExternalAPI, data: Mapping[str, Any], source: ConfigSource
) -> None:
    """Raise when an inline schema checks a column that the mapping does not produce."""
    schema = data.get("schema")
    if not isinstance(schema, Mapping):
        return
    names = set(api.mapping.names)
    for name in schema.get("columns", {}):
        if name not in names:
            raise source.error(
                ("schema", "columns", name),
                f"checks column {name!r}, which [columns] does not map; mapped "
                f"columns are {', '.join(api.mapping.names)}",
            )


# Line numbers


def find_line(text: str | None, keys: tuple[str, ...]) -> int | None:
    """Return the 1-based line where the dotted key `keys` is set in TOML `text`.

    Table headers (`[auth]`), dotted keys (`auth.token = ...`) and keys inside a
    table are matched. A key inside an inline table is found by its name, on or
    after the line of its parent. Returns None when no line matches.
    """
    if not text or not keys:
        return None
    lines = text.splitlines()
    current: list[str] = []
    parent_line = 0
    for number, raw in enumerate(lines, 1):
        full = _line_key(raw.strip(), current)
        if full is None:
            continue
        if raw.strip().startswith("["):
            current = full
        if tuple(full[: len(keys)]) == keys:
            return number
        if (
            len(keys) > 1
            and tuple(full[: len(keys) - 1]) == keys[:-1]
            and not (parent_line)
        ):
            parent_line = number
    pattern = re.compile(
        r"(?:^|[\s{,])(?:"
        + "|".join(
            re.escape(form) for form in (keys[-1], f'"{keys[-1]}"', f"'{keys[-1]}'")
        )
        + r")\s*="
    )
    for number, raw in enumerate(lines[max(parent_line - 1, 0) :], max(parent_line, 1)):
        if pattern.search(raw):
            return number
    return None


def _line_key(line: str, current: list[str]) -> list[str] | None:
    if not line or line.startswith("#"):
        return None
    if line.startswith("[["):
        end = line.find("]]")
        return _split_key(line[2:end]) if end > 0 else None
    if line.startswith("["):
        end = line.find("]")
        return _split_key(line[1:end]) if end > 0 else None
    equals = _unquoted_index(line, "=")
    if equals < 0:
        return None
    return [*current, *_split_key(line[:equals])]


def _unquoted_index(text: str, char: str) -> int:
    quote = ""
    for index, letter in enumerate(text):
        if quote:
            if letter == quote:
                quote = ""
        elif letter in "\"'":
            quote = letter
        elif letter == char:
            return index
    return -1


def _split_key(text: str) -> list[str]:
    parts, part, quote = [], "", ""
    for letter in text:
        if quote:
            if letter == quote:
                quote = ""
            else:
                part += letter
        elif letter in "\"'":
            quote = letter
        elif letter == ".":
            parts.append(part.strip())
            part = ""
        else:
            part += letter
    parts.append(part.strip())
    return parts
