"""Tests for saving `ExternalAPI` definitions to TOML or dicts and loading them back."""

from __future__ import annotations

import os
import ssl
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pandera.pandas as pa
import pytest
from aiohttp import web

from extapi_pandas import (
    ApiKey,
    Auth,
    BasicAuth,
    BearerToken,
    Cache,
    Column,
    ConfigurationError,
    ExternalAPI,
    Guard,
    OAuth2ClientCredentials,
    Payload,
    Recording,
    Retry,
    Secret,
    Timeout,
    ValidationError,
)
from extapi_pandas.config import SecretText, dump_toml, find_line
from extapi_pandas.demo import BackgroundServer, DemoAPI, make_audience

Serve = Callable[..., BackgroundServer]
TOKEN = "tok-planted-5f1c2b9e"
KEY = "key-planted-77aa01"
PASSWORD = "pw-planted-c0ffee"
URL = "http://127.0.0.1:9/offers"
C = {"x": "$.x"}


@pytest.fixture(autouse=True)
def secrets_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OFFERS_TOKEN", TOKEN)
    monkeypatch.setenv("OFFERS_KEY", KEY)
    monkeypatch.setenv("OFFERS_PASSWORD", PASSWORD)


def broadcast_api() -> ExternalAPI:
    return ExternalAPI(
        URL,
        params={"market": "{market}", "limit": 3, "fresh": True},
        headers={
            "Accept-Language": "en",
            "X-Api-Key": Secret.from_env("OFFERS_KEY"),  # type: ignore[dict-item]
        },
        auth=BearerToken(Secret.from_env("OFFERS_TOKEN")),
        campaign=["campaign_id", "market"],
        columns={
            "offer": "$.offers[0].name",
            "price": Column("$.offers[0].price", dtype="Float64", na_values=["-"]),
            "tags": Column("$.offers[0].tags", join=", "),
        },
        schema=_inline_schema(),
        assume_tz="Europe/Amsterdam",
        on_invalid="null",
        on_error="continue",
        on_conflict="suffix",
        missing_campaign="skip",
        strings="str",
        max_concurrency=4,
        max_requests=50,
        per_profile={"body_bytes": 2048},
        timeout=Timeout(total=20, connect=2),
        retries=Retry(attempts=2, backoff=0.1, statuses=frozenset({503, 429})),
        guard=Guard(max_bytes=1000, allow_infinity={"price"}),
        verify="ca.pem",
        progress=False,
        cache=Cache("2h", path="responses.sqlite"),
        replay=Recording("run.json", mode="record"),
    )


def _inline_schema() -> Any:
    return ExternalAPI.from_dict(
        {
            "url": URL,
            "columns": {"price": "$.p"},
            "schema": {"columns": {"price": {"dtype": "Float64", "ge": 0, "lt": 1e4}}},
        }
    ).schema


def lookup_api() -> ExternalAPI:
    return ExternalAPI(
        URL,
        auth=BasicAuth("crm", Secret.from_env("OFFERS_PASSWORD")),
        records="$.regions[*]",
        on={"region": "region_code"},
        columns={"temp": Column("$.temp_max_c", dtype="Float64", required=True)},
        cache="5min",
        replay="lookup.json",
    )


def payload_api() -> ExternalAPI:
    return ExternalAPI(
        URL,
        method="POST",
        auth=ApiKey(Secret.from_env("OFFERS_KEY"), name="appid", location="query"),
        payload=Payload(params=["market"], aggregates={"age": ["min", "max"]}),
        columns={"code": "$.code"},
        cache="refresh",
    )


def json_api() -> ExternalAPI:
    return ExternalAPI(
        URL,
        method="PUT",
        json={"market": "{market}", "count": "{count}", "tags": ["a", "b"]},
        auth=OAuth2ClientCredentials(
            "http://127.0.0.1:9/token",
            client_id="crm",
            client_secret=Secret.from_env("OFFERS_PASSWORD"),
            scope=["offers:read", "offers:write"],
            client_auth="post",
        ),
        columns={"code": "$.code"},
        assign="broadcast",
        na_values=["n/a"],
    )


FACTORIES = [broadcast_api, lookup_api, payload_api, json_api]


@pytest.mark.parametrize("factory", FACTORIES)
def test_dict_round_trip_is_equal(factory: Callable[[], ExternalAPI]) -> None:
    api = factory()

    loaded = ExternalAPI.from_dict(api.to_dict())

    assert loaded.to_dict() == api.to_dict()


@pytest.mark.parametrize("factory", FACTORIES)
def test_toml_round_trip_is_equal(
    factory: Callable[[], ExternalAPI], tmp_path: Path
) -> None:
    api = factory()
    path = tmp_path / "activity.toml"

    api.to_toml(path)
    loaded = ExternalAPI.from_toml(path)

    # Loading makes relative paths absolute, so compare the saved forms.
    saved_again = dump_toml(loaded, name=path.name, folder=str(tmp_path))

    assert saved_again == path.read_text()


def test_round_trip_keeps_typed_options(tmp_path: Path) -> None:
    path = tmp_path / "activity.toml"
    broadcast_api().to_toml(path)

    loaded = ExternalAPI.from_toml(path)

    assert loaded.timeout == Timeout(total=20, connect=2)
    assert loaded.retries.statuses == frozenset({503, 429})
    assert loaded.guard.allow_infinity == frozenset({"price"})
    # The paths were relative to the working directory, so they still name
    # the same files when loaded from a file in another folder.
    assert loaded.cache == Cache(7200, path=os.path.abspath("responses.sqlite"))
    assert loaded.replay == Recording(os.path.abspath("run.json"), mode="record")
    assert loaded.mapping.columns["price"].na_values == ("-",)


def test_dict_leaves_defaults_out() -> None:
    data = ExternalAPI(URL, columns={"offer": "$.offer"}).to_dict()

    assert data == {"url": URL, "method": "GET", "columns": {"offer": "$.offer"}}


@pytest.mark.parametrize("factory", FACTORIES)
def test_saved_toml_holds_no_secret(
    factory: Callable[[], ExternalAPI], tmp_path: Path
) -> None:
    path = tmp_path / "activity.toml"

    factory().to_toml(path)
    saved = path.read_bytes()

    for secret in (TOKEN, KEY, PASSWORD):
        assert secret.encode() not in saved


def test_saved_toml_refers_to_variables(tmp_path: Path) -> None:
    path = tmp_path / "activity.toml"

    broadcast_api().to_toml(path)
    text = path.read_text()

    assert 'env = "OFFERS_TOKEN"' in text
    assert 'env = "OFFERS_KEY"' in text
    assert "Set these environment variables first: OFFERS_KEY, OFFERS_TOKEN" in text


class CustomAuth(Auth):
    """An auth scheme that activity files cannot describe."""


def local_schema_api() -> ExternalAPI:
    class Model(pa.DataFrameModel):
        offer: str

    return ExternalAPI(URL, columns={"offer": "$.o"}, schema=Model)


LITERAL_SECRETS: list[tuple[Callable[[], ExternalAPI], str]] = [
    (
        lambda: ExternalAPI(URL, columns=C, auth=BearerToken(TOKEN)),
        "token of BearerToken",
    ),
    (
        lambda: ExternalAPI(URL, columns=C, auth=BasicAuth("u", PASSWORD)),
        "password of BasicAuth",
    ),
    (lambda: ExternalAPI(URL, columns=C, auth=ApiKey(KEY)), "key of ApiKey"),
    (
        lambda: ExternalAPI(
            URL, columns=C, headers={"Authorization": f"Bearer {TOKEN}"}
        ),
        r"headers\['Authorization'\] is a credential",
    ),
    (
        lambda: ExternalAPI(URL, columns=C, params={"api_key": KEY}),
        r"params\['api_key'\] is a credential",
    ),
    (
        lambda: ExternalAPI(
            URL,
            columns=C,
            headers={"X-Custom": Secret(KEY)},  # type: ignore[dict-item]
        ),
        r"headers\['X-Custom'\] is a secret given as a literal",
    ),
    (
        lambda: ExternalAPI(f"http://u:{PASSWORD}@127.0.0.1:9/x", columns=C),
        "url contains a password",
    ),
    (
        lambda: ExternalAPI(f"{URL}?access_token={TOKEN}", columns=C),
        "credential query parameter 'access_token'",
    ),
    (
        lambda: ExternalAPI(
            URL,
            method="POST",
            columns=C,
            auth=BearerToken(Secret.from_env("OFFERS_TOKEN")),
            json={"copy": TOKEN},
        ),
        "the json option contains a secret value",
    ),
]


@pytest.mark.parametrize(("factory", "pattern"), LITERAL_SECRETS)
def test_literal_secret_cannot_be_saved(
    factory: Callable[[], ExternalAPI], pattern: str
) -> None:
    with pytest.raises(ConfigurationError, match=pattern):
        factory().to_dict()


UNSAVABLE: list[tuple[Callable[[], ExternalAPI], str]] = [
    (
        lambda: ExternalAPI(URL, columns=C, verify=ssl.create_default_context()),
        "verify= is an ssl.SSLContext",
    ),
    (lambda: ExternalAPI(URL, columns=C, auth=CustomAuth()), "custom Auth scheme"),
    (local_schema_api, "defined inside a function"),
    (
        lambda: ExternalAPI(
            URL,
            columns={"n": "$.n"},
            schema=pa.DataFrameSchema({"n": pa.Column(int, pa.Check(lambda s: s > 0))}),
        ),
        "the check '<lambda>' on column 'n'",
    ),
]


@pytest.mark.parametrize(("factory", "pattern"), UNSAVABLE)
def test_unsavable_option_rejected(
    factory: Callable[[], ExternalAPI], pattern: str
) -> None:
    with pytest.raises(ConfigurationError, match=pattern):
        factory().to_dict()


def test_toml_rejects_null_value() -> None:
    api = ExternalAPI(URL, method="POST", columns=C, json={"market": None})

    with pytest.raises(ConfigurationError, match=r"json\.market is None"):
        dump_toml(api)


def test_schema_object_saved_inline() -> None:
    schema = pa.DataFrameSchema(
        {"market": pa.Column(str, [pa.Check.isin(["DE", "FR"])], nullable=False)}
    )
    api = ExternalAPI(URL, columns={"market": "$.m"}, schema=schema)

    saved = api.to_dict()["schema"]

    assert saved["columns"]["market"]["isin"] == ["DE", "FR"]
    assert saved["columns"]["market"]["nullable"] is False


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "activity.toml"
    path.write_text(textwrap.dedent(text).lstrip())
    return path


UNKNOWN_KEYS = [
    (
        """
        url = "http://127.0.0.1:9/x"
        columns = { a = "$.a" }
        cahce = "5min"
        """,
        r"at the top level: cahce \(line 3 of .*activity.toml\); valid keys are url, ",
    ),
    (
        """
        url = "http://127.0.0.1:9/x"

        [auth]
        type = "bearer"
        tokn = { env = "OFFERS_TOKEN" }
        """,
        r"in \[auth\]: auth.tokn \(line 5 .*\); valid keys are type, token$",
    ),
    (
        """
        url = "http://127.0.0.1:9/x"

        [columns.price]
        path = "$.price"
        dtyp = "Float64"
        """,
        r"in \[columns.price\]: columns.price.dtyp \(line 5 .*valid keys are path, ",
    ),
    (
        """
        url = "http://127.0.0.1:9/x"
        columns = { price = "$.price" }

        [schema.columns.price]
        min = 0
        """,
        r"schema.columns.price.min \(line 5 .*valid keys are dtype, nullable, unique",
    ),
    (
        """
        url = "http://127.0.0.1:9/x"
        guard.max_byte = 5
        """,
        r"guard.max_byte \(line 2 .*valid keys are allow_http",
    ),
    (
        """
        url = "http://127.0.0.1:9/x"

        [cache]
        ttl = "5min"
        file = "c.sqlite"
        """,
        r"cache.file \(line 5 .*valid keys are ttl, path, refresh",
    ),
    (
        """
        url = "http://127.0.0.1:9/x"
        replay = { path = "r.json", mood = "auto" }
        """,
        r"replay.mood \(line 2 .*valid keys are path, mode",
    ),
]


@pytest.mark.parametrize(("text", "pattern"), UNKNOWN_KEYS)
def test_unknown_key_names_line(tmp_path: Path, text: str, pattern: str) -> None:
    path = write(tmp_path, text)

    with pytest.raises(ConfigurationError, match=pattern):
        ExternalAPI.from_toml(path)


INVALID_FILES = [
    ('url = "http://127.0.0.1:9/x"\nmethod = "DELETE"\n', "invalid method='DELETE'"),
    ('url = "http://127.0.0.1:9/x"\ncache = true\n', r"cache \(line 2 .*cache=True"),
    ('url = "http://127.0.0.1:9/x"\ncache = "5 weeks"\n', "'30s', '5min', '2h'"),
    (
        'url = "http://127.0.0.1:9/x"\nreplay = { path = "r.json", mode = "play" }\n',
        "invalid Recording mode='play'",
    ),
    (
        'url = "http://127.0.0.1:9/x"\n[auth]\ntype = "digest"\n',
        r"auth.type \(line 3 .*invalid auth type 'digest'; valid types are bearer",
    ),
    (
        'url = "http://127.0.0.1:9/x"\n[auth]\ntype = "bearer"\ntoken = "abc"\n',
        r"auth.token \(line 4 .*must refer to an environment variable",
    ),
    (
        'url = "http://127.0.0.1:9/x"\n[headers]\nX-Api-Key = "abc"\n',
        r"headers.X-Api-Key \(line 3 .*is a credential",
    ),
    (
        'url = "http://127.0.0.1:9/x"\n[auth]\ntype = "bearer"\n'
        'token = { env = "EXTAPI_TEST_UNSET" }\n',
        "environment variable 'EXTAPI_TEST_UNSET' is not set or empty",
    ),
    (
        'url = "http://127.0.0.1:9/x"\nschema = "no_such_module_xyz:Model"\n',
        "schema 'no_such_module_xyz:Model' cannot be imported",
    ),
    (
        'url = "http://127.0.0.1:9/x"\nschema = "not a path"\n',
        "invalid import path 'not a path'",
    ),
    (
        'url = "http://127.0.0.1:9/x"\ncolumns = { a = "$.a" }\n'
        "[schema.columns.b]\nge = 0\n",
        r"schema.columns.b \(line 3 .*checks column 'b', which \[columns\] does not",
    ),
    (
        'url = "http://127.0.0.1:9/x"\ncolumns = { a = "$.a" }\n'
        '[schema.columns.a]\ndtype = "no-such-dtype"\n',
        "data type 'no-such-dtype' not understood",
    ),
    (
        'url = "http://127.0.0.1:9/x"\ncolumns = { a = "$.a" }\n'
        '[schema.columns.a]\nstr_matches = "("\n',
        "invalid pattern",
    ),
    (
        'url = "http://127.0.0.1:9/x"\n[columns.a]\ndtype = "Int64"\n',
        r"columns.a \(line 2 .*has no path",
    ),
    ('url = "http://127.0.0.1:9/x"\ntimeout = { total = -1 }\n', "must be more than"),
    ('columns = { a = "$.a" }\n', "the activity has no url"),
    ('url = "http://127.0.0.1:9/x"\nmethod = \n', "is not valid TOML"),
]


@pytest.mark.parametrize(("text", "pattern"), INVALID_FILES)
def test_invalid_file_rejected(tmp_path: Path, text: str, pattern: str) -> None:
    path = tmp_path / "activity.toml"
    path.write_text(text)

    with pytest.raises(ConfigurationError, match=pattern):
        ExternalAPI.from_toml(path)


def test_missing_file_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"activity file .* not found"):
        ExternalAPI.from_toml(tmp_path / "absent.toml")


def test_from_dict_rejects_unknown_key() -> None:
    with pytest.raises(ConfigurationError, match=r"unknown key.*colums"):
        ExternalAPI.from_dict({"url": URL, "colums": {}})


def test_loaded_activity_enriches_alike(demo_api: DemoAPI, tmp_path: Path) -> None:
    audience = make_audience(60, campaigns=3, seed=1)
    api = ExternalAPI(
        demo_api.url("/offers"),
        params={"market": "{market}"},
        campaign="campaign_id",
        columns={
            "offer": "$.offers[0].name",
            "price": Column("$.offers[0].price", dtype="Float64"),
        },
    )
    path = tmp_path / "offers.toml"
    api.to_toml(path)

    direct = audience.extapi.enrich(api)
    loaded = audience.extapi.enrich(ExternalAPI.from_toml(path))

    pd.testing.assert_frame_equal(loaded, direct)


def test_inline_schema_validates(demo_api: DemoAPI, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"""
        url = "{demo_api.url("/offers")}"
        campaign = "campaign_id"

        [params]
        market = "{{market}}"

        [columns.price]
        path = "$.offers[0].price"
        dtype = "Float64"

        [schema.columns.price]
        dtype = "Float64"
        ge = 1000
        """,
    )
    audience = make_audience(30, campaigns=2, seed=2)

    with pytest.raises(ValidationError, match="price"):
        audience.extapi.enrich(ExternalAPI.from_toml(path))


def test_schema_import_path_round_trip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "offer_models_cfg.py").write_text(
        "import pandera.pandas as pa\n\n"
        "class OfferModel(pa.DataFrameModel):\n"
        "    price: float = pa.Field(ge=0)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    path = write(
        tmp_path,
        """
        url = "http://127.0.0.1:9/x"
        columns = { price = "$.price" }
        schema = "offer_models_cfg:OfferModel"
        """,
    )

    api = ExternalAPI.from_toml(path)

    assert api.schema.__name__ == "OfferModel"
    assert api.to_dict()["schema"] == "offer_models_cfg:OfferModel"


def test_secret_header_sent_and_masked(serve: Serve) -> None:
    seen: list[str] = []

    async def echo(request: web.Request) -> web.Response:
        seen.append(request.headers.get("X-Api-Key", ""))
        return web.json_response({"ok": 1})

    server = serve({"/x": echo})
    api = ExternalAPI(
        server.url("/x"),
        headers={"X-Api-Key": Secret.from_env("OFFERS_KEY")},  # type: ignore[dict-item]
        columns={"ok": "$.ok"},
    )

    pd.DataFrame({"a": [1]}).extapi.enrich(api)

    assert seen == [KEY]
    assert isinstance(api.headers, dict)
    assert isinstance(api.headers["X-Api-Key"], SecretText)
    assert KEY not in repr(api.headers)
    assert KEY not in repr(api)


@pytest.mark.parametrize(
    ("keys", "line"),
    [
        (("url",), 1),
        (("auth",), 4),
        (("auth", "token"), 6),
        (("auth", "token", "env"), 6),
        (("columns", "price", "dtype"), 10),
        (("columns", "name"), 8),
        (("guard", "max_bytes"), 2),
        (("headers", "X-Key"), 12),
        (("absent",), None),
    ],
)
def test_find_line(keys: tuple[str, ...], line: int | None) -> None:
    text = textwrap.dedent(
        """\
        url = "http://127.0.0.1:9/x"
        guard.max_bytes = 5
        # a comment with auth = 1
        [auth]
        type = "bearer"
        token = { env = "T" }
        [columns]
        name = "$.name"
        [columns.price]
        dtype = "Float64"
        [headers]
        "X-Key" = "{key}"
        """
    )

    assert find_line(text, keys) == line
