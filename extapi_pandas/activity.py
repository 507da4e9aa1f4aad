"""`ExternalAPI`: a reusable enrichment definition, what to call and how to map."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, get_args

from yarl import URL

from extapi_pandas.errors import ConfigurationError
from extapi_pandas.http.auth import Auth
from extapi_pandas.http.cache import Cache
from extapi_pandas.mapping import Column, CompiledMapping, compile_mapping
from extapi_pandas.mapping import Mapping as ColumnMapping
from extapi_pandas.options import GUARD_FIELDS, Guard, Retry, Timeout
from extapi_pandas.payload import Payload
from extapi_pandas.perprofile import DEFAULT_MAX_REQUESTS, PerProfileLimits
from extapi_pandas.redaction import MASK, Redactor, Secret, is_sensitive_name
from extapi_pandas.replay import Recording

if TYPE_CHECKING:
    import ssl

__all__ = ["ExternalAPI", "build_api"]

Method = Literal["GET", "POST", "PUT"]
OnError = Literal["raise", "continue"]
OnConflict = Literal["raise", "overwrite", "suffix"]
MissingCampaign = Literal["raise", "skip"]
Strings = Literal["category", "str"]
Assign = Literal["broadcast", "lookup", "sequential"]


class _TakesEnrichKeywords(type):
    """Lets `ExternalAPI(url, ...)` take every keyword that `enrich` takes.

    Guard fields such as `follow_redirects=True` are folded into `guard`, and an
    unknown keyword raises `ConfigurationError` with the valid ones, as `enrich`
    does, instead of the constructor's bare `TypeError`.
    """

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        fields = {f.name for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
        if set(kwargs) <= fields:
            return super().__call__(*args, **kwargs)
        if len(args) > 1:
            raise ConfigurationError(
                "pass ExternalAPI's options as keywords after the URL, for example "
                "ExternalAPI(url, columns={...}, follow_redirects=True)"
            )
        source = args[0] if args else kwargs.pop("url", None)
        return build_api(source, kwargs)


@dataclass(frozen=True, repr=False)
class ExternalAPI(metaclass=_TakesEnrichKeywords):
    """What to call once per campaign, and how to map the response to columns.

    Args:
        url: Endpoint URL; may contain `{column}` placeholders filled per campaign.
        method: `"GET"`, `"POST"` or `"PUT"`.
        params: Query parameters; values may contain placeholders. A credential
            value is best given as `Secret.from_env("NAME")`, which saved
            activities write as a reference to the variable.
        headers: Request headers; values may contain placeholders, or be a
            `Secret` as for `params`.
        json: JSON request body; a string that is exactly one placeholder keeps the
            value's type (`"{count}"` sends a number).
        auth: An `Auth` scheme such as `BearerToken`.
        campaign: Audience column(s) naming the campaign; None makes the whole frame
            one campaign.
        columns: Output column name to JSONPath string or `Column`.
        records: JSONPath of an array; each element gives one row, and column paths
            are read relative to the element.
        on: Lookup key for `records`: audience column to response column.
        assign: How rows reach profiles: `"broadcast"` (one row per campaign),
            `"lookup"` (needs `on`) or `"sequential"` (record i to the campaign's
            i-th profile). None picks from `records` and `on`.
        schema: pandera `DataFrameSchema` or `DataFrameModel` for the extracted rows.
        assume_tz: Zone of timestamps without a UTC offset, for every timestamp
            column that sets none: a zone name, an offset, or the JSONPath of a
            response field holding one (see `Column.assume_tz`).
        na_values: Values that mean "missing" in every column that sets none, such
            as `["-", "n/a"]`; they become `<NA>`.
        on_invalid: What an invalid value becomes in every column that sets none:
            `"raise"`, `"null"` or a default (see `Column.on_invalid`).
        payload: A `Payload` (or a dict of its fields) that builds the JSON body of
            each campaign from its profiles: campaign values, the profile count,
            aggregates and, optionally, rows. Needs POST or PUT, without json=.
        on_error: `"raise"` or `"continue"` (failed campaigns keep their rows with
            nulls, and the `extapi_status` column gives the reason).
        on_conflict: What a new column whose name the audience already has does:
            `"raise"`, `"overwrite"` or `"suffix"` (adds `_extapi`).
        missing_campaign: Rows with a missing campaign key: `"raise"`, or `"skip"`
            (they keep nulls in the new columns and get no request).
        strings: Broadcast string columns as `"category"` (default: small and fast,
            one code per row) or as `"str"`.
        max_concurrency: Requests in flight at once across campaigns.
        max_requests: Most requests (campaigns) one call may send; a call over it
            is rejected before anything is sent, because a campaign column with
            close to one value per row means per-profile data.
        per_profile: `PerProfileLimits`, the thresholds of the per-profile data
            warning (or a mapping of its fields).
        timeout: `Timeout`, or total seconds per campaign call.
        retries: `Retry`, or the number of retries.
        guard: `Guard` rails on URLs, sizes, redirects and content types.
        verify: TLS certificate check: True for the system trust store, a path to a
            PEM bundle of trusted CAs, or an `ssl.SSLContext`. It cannot be turned
            off.
        progress: Show a progress bar of campaigns done (retries in its postfix):
            True, False, or None to show one only in a notebook or on a terminal.
        cache: Reuse successful, validated responses: a time to live such as
            `"5min"` (or seconds) keeps them in memory for the process, a
            `Cache(ttl=..., path="cache.sqlite")` keeps them in a SQLite file,
            and `"refresh"` sends every request and stores the fresh responses.
            None (the default) turns caching off.
        replay: Record responses to a JSON file, or replay them from it without
            any network: a `Recording(path, mode=...)`, or a path (mode
            `"auto"`: replay when the file exists, else record).

    Example:
        >>> api = ExternalAPI(
        ...     "https://api.example.com/offers",
        ...     params={"market": "{market}"},
        ...     campaign="campaign_id",
        ...     columns={"offer": "$.offers[0].name"},
        ... )
        >>> api.method
        'GET'
    """

    url: str
    method: Method = "GET"
    params: Mapping[str, Any] | None = None
    headers: Mapping[str, str] | None = None
    json: Any = None
    auth: Auth | None = None
    campaign: str | Sequence[str] | None = None
    columns: Mapping[str, str | Column] = field(default_factory=dict)
    records: str | None = None
    on: Mapping[str, str] | None = None
    assign: Assign | None = None
    schema: Any = None
    assume_tz: str | int | None = None
    na_values: Sequence[Any] | None = None
    on_invalid: Any = "raise"
    payload: Payload | None = None
    on_error: OnError = "raise"
    on_conflict: OnConflict = "raise"
    missing_campaign: MissingCampaign = "raise"
    strings: Strings = "category"
    max_concurrency: int = 16
    max_requests: int = DEFAULT_MAX_REQUESTS
    per_profile: PerProfileLimits = field(default_factory=PerProfileLimits)
    timeout: Timeout = field(default_factory=Timeout)
    retries: Retry = field(default_factory=Retry)
    guard: Guard = field(default_factory=Guard)
    verify: bool | str | ssl.SSLContext = True
    progress: bool | None = None
    cache: Cache | None = None
    replay: Recording | None = None
    mapping: CompiledMapping = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.url, str) or not self.url:
            raise ConfigurationError(
                f"url must be a non-empty string, got {self.url!r}"
            )
        method = str(self.method).upper()
        object.__setattr__(self, "method", method)
        _check_choice("method", method, Method)
        _check_choice("on_error", self.on_error, OnError)
        _check_choice("on_conflict", self.on_conflict, OnConflict)
        _check_choice("missing_campaign", self.missing_campaign, MissingCampaign)
        _check_choice("strings", self.strings, Strings)
        if self.assign is not None:
            _check_choice("assign", self.assign, Assign)
        for name in ("params", "headers"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, Mapping):
                raise ConfigurationError(
                    f"{name}= must map names to values, as in {name}={{'market': "
                    f"'{{market}}'}}, got {type(value).__name__} {value!r}"
                )
        object.__setattr__(self, "timeout", Timeout.coerce(self.timeout))
        object.__setattr__(self, "retries", Retry.coerce(self.retries))
        object.__setattr__(self, "cache", Cache.coerce(self.cache))
        object.__setattr__(self, "replay", Recording.coerce(self.replay))
        for name in ("params", "headers"):
            object.__setattr__(self, name, _secret_values(getattr(self, name)))
        import ssl  # imported on first use, to keep `import extapi_pandas` light

        if not (self.verify is True or isinstance(self.verify, str | ssl.SSLContext)):
            raise ConfigurationError(
                f"verify must be True, a path to a CA bundle or an ssl.SSLContext, got "
                f"{self.verify!r}; certificate checks cannot be turned off"
            )
        if self.progress is not None and not isinstance(self.progress, bool):
            raise ConfigurationError(
                f"progress must be True, False or None (automatic), got "
                f"{self.progress!r}"
            )
        if not isinstance(self.guard, Guard):
            raise ConfigurationError(f"guard must be a Guard, got {self.guard!r}")
        if self.auth is not None and not isinstance(self.auth, Auth):
            raise ConfigurationError(
                f"auth must be an Auth scheme such as BearerToken(...), got "
                f"{type(self.auth).__name__}"
            )
        if (
            isinstance(self.max_concurrency, bool)
            or not isinstance(self.max_concurrency, int)
            or self.max_concurrency < 1
        ):
            raise ConfigurationError(
                f"max_concurrency must be a whole number of 1 or more, got "
                f"{self.max_concurrency!r}"
            )
        if (
            isinstance(self.max_requests, bool)
            or not isinstance(self.max_requests, int)
            or self.max_requests < 1
        ):
            raise ConfigurationError(
                f"max_requests must be a whole number of 1 or more, got "
                f"{self.max_requests!r}"
            )
        object.__setattr__(
            self, "per_profile", PerProfileLimits.coerce(self.per_profile)
        )
        if self.json is not None and method == "GET":
            raise ConfigurationError(
                "json= sends a request body, which GET does not carry; pass "
                "method='POST' (or 'PUT'), or move the values to params="
            )
        self._check_payload()
        if self.records is None and isinstance(self.columns, ColumnMapping):
            object.__setattr__(self, "records", self.columns.records)
        self._check_shape()
        columns = (
            dict(self.columns) if isinstance(self.columns, Mapping) else self.columns
        )
        for response_key in (self.on or {}).values():
            if isinstance(columns, dict) and response_key not in columns:
                # The key is read from each record even when it is not an output.
                columns[response_key] = Column("$[" + json.dumps(response_key) + "]")
        object.__setattr__(
            self,
            "mapping",
            compile_mapping(
                columns,
                records=self.records,
                assume_tz=self.assume_tz,
                na_values=self.na_values,
                on_invalid=self.on_invalid,
            ),
        )

    def _check_payload(self) -> None:
        if self.payload is None:
            return
        object.__setattr__(self, "payload", Payload.coerce(self.payload))
        if self.method == "GET":
            raise ConfigurationError(
                "payload= sends a request body, which GET does not carry; pass "
                "method='POST' (or 'PUT')"
            )
        if self.json is not None:
            raise ConfigurationError(
                "payload= and json= both set the request body; pass one of them"
            )

    def _check_shape(self) -> None:
        if self.on is not None:
            if not isinstance(self.on, Mapping) or not self.on:
                raise ConfigurationError(
                    "on= maps audience columns to response columns, for example "
                    f"on={{'region': 'region_code'}}; got {self.on!r}"
                )
            if self.records is None:
                raise ConfigurationError(
                    "on= looks rows up in a list of records, so it needs records=, "
                    "the JSONPath of that list, for example records='$.regions[*]'"
                )
        assign = self.resolved_assign
        if assign == "lookup" and self.on is None:
            raise ConfigurationError(
                "assign='lookup' needs on=, mapping an audience column to a response "
                "column, for example on={'region': 'region_code'}"
            )
        if assign in ("lookup", "sequential") and self.records is None:
            raise ConfigurationError(
                f"assign={assign!r} needs records=, the JSONPath of the list of records"
            )
        if assign == "broadcast" and self.records is not None:
            raise ConfigurationError(
                "records= gives several rows per campaign, so they cannot be "
                "broadcast; pass on= for a lookup by key, or assign='sequential'"
            )
        if self.records is not None and self.on is None and self.assign is None:
            raise ConfigurationError(
                "records= gives several rows per campaign; say how they reach the "
                "profiles: on={'audience_column': 'response_column'} for a lookup "
                "by key, or assign='sequential' to give record i to the i-th profile"
            )

    @property
    def resolved_assign(self) -> Assign:
        """The assignment mode, from `assign` or else from `records` and `on`."""
        if self.assign is not None:
            return self.assign
        if self.on is not None:
            return "lookup"
        return "broadcast"

    @property
    def output_columns(self) -> list[str]:
        """Columns added to the audience: the mapping without the lookup keys."""
        keys = set((self.on or {}).values())
        return [name for name in self.mapping.names if name not in keys]

    @property
    def campaign_columns(self) -> list[Any]:
        """The campaign columns as a list; empty when the frame is one campaign."""
        if self.campaign is None:
            return []
        if isinstance(self.campaign, list | tuple):
            return list(self.campaign)
        # One label: a str, or an int for columns without names.
        return [self.campaign]

    def ssl_context(self) -> ssl.SSLContext | None:
        """Return the TLS context for `verify`; None means the system default."""
        import ssl

        if isinstance(self.verify, ssl.SSLContext):
            return self.verify
        if isinstance(self.verify, str):
            try:
                cafile = os.path.expanduser(self.verify)
                return ssl.create_default_context(cafile=cafile)
            except (OSError, ssl.SSLError) as exc:
                raise ConfigurationError(
                    f"verify={self.verify!r} is not a readable PEM file of CA "
                    f"certificates: {exc}"
                ) from exc
        return None

    def redactor(self) -> Redactor:
        """Return a redactor for this definition's auth and credential headers."""
        from extapi_pandas.config import SecretText

        secrets = self.auth.secrets() if self.auth is not None else []
        for name, value in (self.headers or {}).items():
            if isinstance(value, SecretText) or (
                is_sensitive_name(name) and isinstance(value, str)
            ):
                secrets.append(value)
                secrets.extend(value.split()[1:])  # "Bearer <token>" → "<token>"
        for name, value in (self.params or {}).items():
            if isinstance(value, SecretText) or (
                is_sensitive_name(name) and isinstance(value, str)
            ):
                secrets.append(value)
        secrets.extend(_url_secrets(self.url))
        return Redactor(secrets)

    def replace(self, **changes: Any) -> ExternalAPI:
        """Return a copy with `changes` applied; the same keywords as `enrich`."""
        return build_api(self, changes)

    @classmethod
    def from_toml(cls, path: str | os.PathLike[str]) -> ExternalAPI:
        """Read a definition from a TOML activity file.

        Secrets in the file are environment-variable references
        (`token = { env = "OFFERS_TOKEN" }`), read when the file is loaded. A
        schema is an import path (`schema = "package.module:Model"`) or inline
        checks per column (`[schema.columns.price]` with `dtype`, `nullable`,
        `ge`, `le`, `gt`, `lt`, `isin`, `str_matches`, `unique`). Relative file
        paths (`verify`, the cache `path`, `replay`) are resolved against the
        folder of the file, not the working directory.

        Raises:
            ConfigurationError: The file is missing or invalid; an unknown key is
                reported with its line and the valid keys.

        Example:
            >>> api = ExternalAPI.from_toml("offers.toml")  # doctest: +SKIP
        """
        from extapi_pandas.config import load_toml

        return load_toml(path)

    def to_toml(self, path: str | os.PathLike[str]) -> None:
        """Write the definition to a TOML activity file that `from_toml` reads.

        Options at their defaults are left out, and secrets are written as the
        environment variables they were read from, never as values. Relative file
        paths are written relative to the folder of `path`, so that they name the
        same files when the activity is loaded again.

        Raises:
            ConfigurationError: A secret was given as a literal rather than with
                `Secret.from_env`, or an option cannot be saved (an SSLContext, a
                custom Auth, a schema class defined in `__main__`).

        Example:
            >>> api.to_toml("offers.toml")  # doctest: +SKIP
        """
        from extapi_pandas.config import save_toml

        save_toml(self, path)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExternalAPI:
        """Build a definition from the plain data that `to_dict` returns.

        Raises:
            ConfigurationError: A key is unknown or a value is invalid.
        """
        from extapi_pandas.config import api_from_dict

        return api_from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        """Return the definition as plain data (what `to_toml` writes), no secrets.

        Raises:
            ConfigurationError: As `to_toml`.
        """
        from extapi_pandas.config import api_to_dict

        return api_to_dict(self)

    def __repr__(self) -> str:
        redactor = self.redactor()
        parts = [f"url={redactor.url(self.url)!r}", f"method={self.method!r}"]
        if self.campaign is not None:
            parts.append(f"campaign={self.campaign!r}")
        if self.params:
            parts.append(f"params={_masked(self.params, redactor)!r}")
        if self.headers:
            parts.append(f"headers={redactor.headers(self.headers)!r}")
        if self.auth is not None:
            parts.append(f"auth={self.auth!r}")
        parts.append(f"columns={_column_paths(self.mapping)!r}")
        for name in ("records", "on", "assign"):
            value = getattr(self, name)
            if value is not None:
                parts.append(f"{name}={value!r}")
        return f"ExternalAPI({', '.join(parts)})"


_API_FIELDS = [f.name for f in dataclasses.fields(ExternalAPI) if f.init]
_SHORTCUTS = sorted(GUARD_FIELDS)


def build_api(source: str | ExternalAPI, options: Mapping[str, Any]) -> ExternalAPI:
    """Build an `ExternalAPI` from a URL or an existing definition plus keywords.

    Guard fields (`max_bytes`, `follow_redirects`, `allow_http`, ...) are accepted
    as keywords and folded into `guard`.

    Raises:
        ConfigurationError: A keyword is unknown (the message lists the valid ones),
            or a value is invalid.
    """
    unknown = sorted(set(options) - set(_API_FIELDS) - set(_SHORTCUTS) - {"url"})
    if unknown:
        raise ConfigurationError(
            f"unknown option(s) {', '.join(map(repr, unknown))}; valid options are: "
            + ", ".join([*_API_FIELDS, *_SHORTCUTS])
        )
    fields = {k: v for k, v in options.items() if k not in GUARD_FIELDS}
    guard_changes = {k: v for k, v in options.items() if k in GUARD_FIELDS}
    if isinstance(source, ExternalAPI):
        base = {name: getattr(source, name) for name in _API_FIELDS}
        base.update(fields)
    elif isinstance(source, str):
        if "url" in fields:
            raise ConfigurationError("pass the URL once, as the first argument")
        base = {"url": source, **fields}
    else:
        raise ConfigurationError(
            "source must be a URL string or an ExternalAPI, got "
            f"{type(source).__name__}"
        )
    if guard_changes:
        guard = base.get("guard") or Guard()
        if not isinstance(guard, Guard):
            raise ConfigurationError(f"guard must be a Guard, got {guard!r}")
        try:
            base["guard"] = guard.replace(**guard_changes)
        except TypeError as exc:
            raise ConfigurationError(str(exc)) from exc
    try:
        return ExternalAPI(**base)
    except TypeError as exc:  # a missing or duplicated argument
        raise ConfigurationError(str(exc)) from exc


def _secret_values(values: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """Turn `Secret` values into `SecretText`, which is sent as the value itself."""
    if values is None or not any(isinstance(v, Secret) for v in values.values()):
        return values
    from extapi_pandas.config import SecretText

    return {
        name: SecretText(value) if isinstance(value, Secret) else value
        for name, value in values.items()
    }


def _url_secrets(url: str) -> list[str]:
    """Return credential values written into a URL: the password and named params."""
    try:
        parsed = URL(url)
    except ValueError:
        return []
    found = [parsed.password] if parsed.password else []
    found += [
        value
        for name, value in parsed.query.items()
        if is_sensitive_name(name) and value and "{" not in value
    ]
    return found


def _check_choice(name: str, value: Any, choices: Any) -> None:
    valid = get_args(choices)
    if value not in valid:
        raise ConfigurationError(
            f"invalid {name}={value!r}; valid values are {', '.join(map(repr, valid))}"
        )


def _masked(params: Mapping[str, Any], redactor: Redactor) -> dict[str, Any]:
    return {
        name: MASK if is_sensitive_name(name) else redactor.text(str(value))
        for name, value in params.items()
    }


def _column_paths(mapping: CompiledMapping) -> dict[str, str]:
    return {name: column.path for name, column in mapping.columns.items()}
