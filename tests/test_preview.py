"""Tests for `df.extapi.preview` and the `enrich` code it writes."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from aiohttp import web
from conftest import HITS

import extapi_pandas  # noqa: F401  (registers df.extapi)
from extapi_pandas import (
    ApiKey,
    BasicAuth,
    BearerToken,
    Cache,
    Column,
    ConfigurationError,
    ExternalAPI,
    HTTPStatusError,
    Recording,
    RequestError,
    Retry,
    Secret,
    TemplateError,
    Timeout,
)
from extapi_pandas.codegen import enrich_code
from extapi_pandas.demo import BackgroundServer, DemoAPI
from extapi_pandas.errors import ResponseTooLarge
from extapi_pandas.http.cache import clear_memory_cache
from extapi_pandas.preview import infer_columns, json_tree_html

AUDIENCE = pd.DataFrame(
    {
        "profile_id": [1, 2, 3, 4, 5],
        "campaign_id": ["c1", "c1", "c2", "c3", "c3"],
        "market": ["DE", "DE", "FR", "GB", "GB"],
    }
)
OFFERS = {"params": {"market": "{market}"}, "campaign": "campaign_id"}
TOKEN = "tok-5ecr3t-bearer"
HEADER_KEY = "hdr-5ecr3t-key"
PARAM_KEY = "prm-5ecr3t-key"
SECRETS = (TOKEN, HEADER_KEY, PARAM_KEY)
SEEN = web.AppKey("seen", list)


@pytest.fixture
def secret_server(serve: Callable[..., BackgroundServer]) -> BackgroundServer:
    """An API that records the credentials it receives and echoes nothing back."""
    app = web.Application()
    app[SEEN] = []

    async def offers(request: web.Request) -> web.Response:
        request.app[SEEN].append(
            (
                request.headers.get("Authorization"),
                request.headers.get("X-Api-Key"),
                request.query.get("api_key"),
            )
        )
        return web.json_response({"offers": [{"name": "Sale", "price": 9}]})

    app.router.add_get("/offers", offers)
    return serve(app)


def _secret_preview(server: BackgroundServer) -> Any:
    return AUDIENCE.extapi.preview(
        server.url("/offers"),
        auth=BearerToken(TOKEN),
        headers={"X-Api-Key": HEADER_KEY},
        params={"market": "{market}", "api_key": PARAM_KEY},
        campaign="campaign_id",
    )


def test_preview_sends_one_request(demo_api: DemoAPI) -> None:
    before = demo_api.request_count("/offers")
    AUDIENCE.extapi.preview(demo_api.url("/offers"), **OFFERS)
    assert demo_api.request_count("/offers") - before == 1


def test_preview_takes_first_campaign(demo_api: DemoAPI) -> None:
    result = AUDIENCE.extapi.preview(demo_api.url("/offers"), **OFFERS)
    assert result.campaign == "c1"
    assert result.profiles == 2
    assert result.url.endswith("/offers?market=DE")


def test_preview_chosen_campaign(demo_api: DemoAPI) -> None:
    result = AUDIENCE.extapi.preview(
        demo_api.url("/offers"), campaign_value="c2", **OFFERS
    )
    assert result.document["market"] == "FR"


def test_preview_chosen_multi_column_campaign(demo_api: DemoAPI) -> None:
    result = AUDIENCE.extapi.preview(
        demo_api.url("/offers"),
        params={"market": "{market}"},
        campaign=["campaign_id", "market"],
        campaign_value=("c3", "GB"),
    )
    assert result.campaign == ["c3", "GB"]


def test_preview_status_and_timing(demo_api: DemoAPI) -> None:
    result = AUDIENCE.extapi.preview(demo_api.url("/offers"), **OFFERS)
    assert result.status == 200
    assert result.attempts == 1
    assert result.elapsed_s > 0
    assert result.response_bytes > 0
    assert result.content_type.startswith("application/json")


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"campaign_value": "nope"}, ConfigurationError, "'nope' is not a campaign"),
        ({"params": {"id": "{profile_id}"}}, TemplateError, "varies within campaign"),
        ({"columns": {"x": "offers"}}, ConfigurationError, "invalid JSONPath"),
        ({"colums": {"x": "$.x"}}, ConfigurationError, "unknown option"),
    ],
)
def test_preview_rejects_before_sending(
    demo_api: DemoAPI, options: dict[str, Any], error: type[Exception], match: str
) -> None:
    before = demo_api.request_count()
    with pytest.raises(error, match=match):
        AUDIENCE.extapi.preview(demo_api.url("/offers"), **{**OFFERS, **options})
    assert demo_api.request_count() == before


def test_preview_empty_audience(demo_api: DemoAPI) -> None:
    with pytest.raises(ConfigurationError, match="no campaign to preview"):
        AUDIENCE.iloc[:0].extapi.preview(demo_api.url("/offers"), **OFFERS)


def test_preview_guard_rail_applies(demo_api: DemoAPI) -> None:
    with pytest.raises(ResponseTooLarge, match="max_bytes"):
        AUDIENCE.extapi.preview(demo_api.url("/offers"), max_bytes=100, **OFFERS)


def test_preview_http_error_raises(demo_api: DemoAPI) -> None:
    with pytest.raises(HTTPStatusError, match="HTTP 404"):
        AUDIENCE.extapi.preview(
            demo_api.url("/offers"), params={"market": "XX"}, campaign="campaign_id"
        )


def test_preview_retries_count(serve: Callable[..., BackgroundServer]) -> None:
    calls = Counter[str]()

    async def flaky(request: web.Request) -> web.Response:
        calls["n"] += 1
        if calls["n"] == 1:
            return web.json_response({}, status=503)
        return web.json_response({"x": 1})

    server = serve({"/x": flaky})
    result = AUDIENCE.extapi.preview(
        server.url("/x"), retries=Retry(attempts=2, backoff=0)
    )
    assert result.attempts == 2


def test_preview_infers_offer_columns(demo_api: DemoAPI) -> None:
    result = AUDIENCE.extapi.preview(demo_api.url("/offers"), **OFFERS)
    inferred = {column.name: (column.path, column.dtype) for column in result.inferred}
    assert inferred["currency"] == ("$.currency", "string")
    assert inferred["offers_0_name"] == ("$.offers[0].name", "string")
    assert inferred["offers_2_discount_pct"] == ("$.offers[2].discount_pct", "Int64")


def test_preview_mapping_stays_nullable(demo_api: DemoAPI) -> None:
    # FR has two offers and DE three, so offers_2_* is null for FR.
    result = AUDIENCE.extapi.preview(demo_api.url("/offers"), **OFFERS)
    assert all(column.nullable for column in result.mapping.values())
    enriched = AUDIENCE.extapi.enrich(
        demo_api.url("/offers"), columns=result.mapping, **OFFERS
    )
    assert enriched["offers_2_name"].isna().tolist() == [
        False,
        False,
        True,
        False,
        False,
    ]


def test_preview_infers_record_columns(demo_api: DemoAPI) -> None:
    result = AUDIENCE.extapi.preview(demo_api.url("/weather"), records="$.regions[*]")
    inferred = {column.name: (column.path, column.dtype) for column in result.inferred}
    assert inferred["region_code"] == ("$.region_code", "string")
    assert inferred["temp_max_c"] == ("$.temp_max_c", "Float64")


def test_preview_sample_uses_mapping(demo_api: DemoAPI) -> None:
    result = AUDIENCE.extapi.preview(
        demo_api.url("/weather"),
        records="$.regions[*]",
        columns={"region": "$.region_code"},
    )
    assert result.sample(rows=3)["region"].tolist() == ["north", "south", "east"]


def test_preview_empty_response(serve: Callable[..., BackgroundServer]) -> None:
    async def empty(request: web.Request) -> web.Response:
        return web.Response(status=204)

    result = AUDIENCE.extapi.preview(serve({"/x": empty}).url("/x"))
    assert result.document is None
    assert result.inferred == []


def test_preview_shows_post_body(demo_api: DemoAPI) -> None:
    result = AUDIENCE.extapi.preview(
        demo_api.url("/vouchers"),
        method="POST",
        json={"campaign": "{campaign_id}", "count": "{count}"},
        campaign="campaign_id",
        records="$.codes[*]",
    )
    assert result.body == '{"campaign":"c1","count":2}'
    assert len(result.document["codes"]) == 2


def test_preview_sends_credentials(secret_server: BackgroundServer) -> None:
    _secret_preview(secret_server)
    assert secret_server.app[SEEN] == [(f"Bearer {TOKEN}", HEADER_KEY, PARAM_KEY)]


@pytest.mark.parametrize("secret", SECRETS)
def test_preview_hides_secrets(secret_server: BackgroundServer, secret: str) -> None:
    result = _secret_preview(secret_server)
    assert secret not in repr(result)
    assert secret not in result._repr_html_()
    assert secret not in result.to_code()
    assert secret not in result.url
    assert secret not in str(result.headers)


def test_preview_code_reads_environment(secret_server: BackgroundServer) -> None:
    code = _secret_preview(secret_server).to_code()
    assert 'auth=BearerToken(Secret.from_env("EXTAPI_TOKEN"))' in code
    assert '"X-Api-Key": os.environ["EXTAPI_X_API_KEY"]' in code
    assert '"api_key": os.environ["EXTAPI_API_KEY"]' in code


def test_preview_code_runs(
    secret_server: BackgroundServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = _secret_preview(secret_server).to_code()
    for name, value in [
        ("EXTAPI_TOKEN", TOKEN),
        ("EXTAPI_X_API_KEY", HEADER_KEY),
        ("EXTAPI_API_KEY", PARAM_KEY),
    ]:
        monkeypatch.setenv(name, value)
    namespace: dict[str, Any] = {"df": AUDIENCE}
    exec(code, namespace)
    assert namespace["enriched"]["offers_0_name"].tolist() == ["Sale"] * 5
    assert secret_server.app[SEEN][-1] == (f"Bearer {TOKEN}", HEADER_KEY, PARAM_KEY)


def test_preview_code_matches_enrich(demo_api: DemoAPI) -> None:
    columns = {"offer": "$.offers[0].name", "pct": Column("$.offers[0].discount_pct")}
    result = AUDIENCE.extapi.preview(demo_api.url("/offers"), columns=columns, **OFFERS)
    namespace: dict[str, Any] = {"df": AUDIENCE}
    exec(result.to_code(), namespace)
    expected = AUDIENCE.extapi.enrich(
        demo_api.url("/offers"), columns=columns, **OFFERS
    )
    pd.testing.assert_frame_equal(namespace["enriched"], expected)


def test_preview_from_external_api(demo_api: DemoAPI) -> None:
    api = ExternalAPI(
        demo_api.url("/offers"), columns={"offer": "$.offers[0].name"}, **OFFERS
    )
    code = AUDIENCE.extapi.preview(api, campaign_value="c3").to_code()
    assert 'columns={"offer": "$.offers[0].name"}' in code
    assert 'campaign="campaign_id"' in code


def test_preview_html_tree(demo_api: DemoAPI) -> None:
    page = AUDIENCE.extapi.preview(demo_api.url("/offers"), **OFFERS)._repr_html_()
    assert '<details class="json-node" open title="$.offers">' in page
    assert 'title="$.offers[0].name"' in page
    assert "Inferred columns" in page
    assert "df.extapi.enrich(" in page


def test_preview_inside_running_loop(demo_api: DemoAPI) -> None:
    async def cell() -> Any:
        return AUDIENCE.extapi.preview(demo_api.url("/offers"), **OFFERS)

    assert asyncio.run(cell()).status == 200


def test_preview_json_text_is_cut(demo_api: DemoAPI) -> None:
    result = AUDIENCE.extapi.preview(demo_api.url("/offers"), **OFFERS)
    text = result.json_text(max_chars=100)
    assert text.startswith('{\n  "market": "DE"')
    assert text.endswith("more characters)")


def test_json_tree_caps_items() -> None:
    page = json_tree_html(list(range(100)))
    assert "50 more not shown" in page


def test_json_tree_escapes_html() -> None:
    page = json_tree_html({"<b>": "<script>"})
    assert "<script>" not in page
    assert "&lt;b&gt;" in page


def test_infer_columns_avoid_audience_names() -> None:
    _, columns = infer_columns({"market": "DE", "x": 1}, reserved=["market"])
    assert [column.name for column in columns] == ["market_extapi", "x"]


def test_infer_columns_examples() -> None:
    _, columns = infer_columns({"r": [{"a": 1}, {"a": 2}]}, records="$.r[*]")
    assert [(column.path, column.example) for column in columns] == [("$.a", 1)]


def test_preview_renames_audience_clash(demo_api: DemoAPI) -> None:
    result = AUDIENCE.extapi.preview(demo_api.url("/offers"), **OFFERS)
    assert "market_extapi" in result.columns


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"timeout": 5}, "timeout=5.0,"),
        (
            {"timeout": Timeout(total=5, connect=1)},
            "timeout=Timeout(total=5, connect=1",
        ),
        ({"retries": 0}, "retries=0,"),
        ({"retries": Retry(attempts=1, backoff=0)}, "Retry(attempts=1, backoff=0)"),
        ({"max_bytes": 1024}, "max_bytes=1024,"),
        (
            {"method": "POST", "json": {"n": "{count}", "on": True}},
            'json={"n": "{count}", "on": True},',
        ),
        (
            {"auth": BasicAuth("ann", "pw-5ecr3t")},
            'BasicAuth("ann", Secret.from_env("EXTAPI_PASSWORD"))',
        ),
        (
            {"auth": ApiKey("k-5ecr3t", name="appid", location="query")},
            'ApiKey(Secret.from_env("EXTAPI_APPID"), name="appid", location="query")',
        ),
        (
            {"auth": BearerToken(Secret("t-5ecr3t", env="MY_TOKEN"))},
            'Secret.from_env("MY_TOKEN")',
        ),
        (
            {"headers": {"Authorization": "Bearer {campaign_token}"}},
            '"Authorization": "Bearer {campaign_token}"',
        ),
        ({"schema": object()}, "# NOTE: schema= was a pandera schema"),
        ({"records": "$.r[*]"}, "# NOTE: records= needs on="),
    ],
)
def test_enrich_code_options(options: dict[str, Any], expected: str) -> None:
    code = enrich_code(
        {"url": "https://api.example.com/x", **options, "columns": {"x": "$.x"}}
    )
    assert expected in code


@pytest.mark.parametrize(
    "options",
    [
        {"auth": BasicAuth("ann", "pw-5ecr3t")},
        {"auth": ApiKey("k-5ecr3t", name="appid", location="query")},
        {"auth": BearerToken(Secret("t-5ecr3t", env="MY_TOKEN"))},
        {"headers": {"Cookie": "sid=c-5ecr3t"}},
        {"url": "https://ann:u-5ecr3t@api.example.com/x"},
    ],
)
def test_enrich_code_hides_secrets(options: dict[str, Any]) -> None:
    code = enrich_code(
        {"url": "https://api.example.com/x", "columns": {"x": "$.x"}, **options}
    )
    assert "5ecr3t" not in code


def test_enrich_code_skips_defaults() -> None:
    code = enrich_code(
        {
            "url": "https://api.example.com/x",
            "method": "GET",
            "columns": {"x": "$.x"},
            "timeout": 60,
            "retries": 3,
            "max_bytes": 5 * 1024 * 1024,
            "on_error": "raise",
        }
    )
    assert code.count("=") == 2  # enriched = ..., columns=


def test_code_imports_cache_and_recording(tmp_path: Any) -> None:
    from extapi_pandas import Cache, Recording

    code = enrich_code(
        {
            "url": "https://api.example.com/offers",
            "columns": {"offer": "$.offer"},
            "cache": Cache("5min"),
            "replay": Recording(str(tmp_path / "run.json"), mode="record"),
        }
    )
    assert "from extapi_pandas import Cache, Recording" in code
    assert "cache=Cache(ttl=300.0, path=None" in code
    assert f'replay=Recording(path="{tmp_path / "run.json"}", mode="record")' in code
    # The code must be valid Python. It is never run, because it names a remote host.
    compile(code, "<generated>", "exec")


def test_code_keeps_secret_header_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from extapi_pandas import ExternalAPI, Secret
    from extapi_pandas.codegen import api_options

    monkeypatch.setenv("OFFERS_KEY", "k-123456789")
    api = ExternalAPI(
        "https://api.example.com/offers",
        columns={"offer": "$.offer"},
        headers={"X-Api-Key": Secret.from_env("OFFERS_KEY")},
    )
    code = enrich_code(api_options(api))
    assert 'os.environ["OFFERS_KEY"]' in code
    assert "k-123456789" not in code


# Preview with a cache or a recording: the response comes from where enrich
# would take it, and nothing is written.

CACHED = {
    "params": {"market": "{market}"},
    "campaign": "campaign_id",
    "columns": {"offer": "$.offers[0].name"},
}


@pytest.fixture
def offers_server(serve: Callable[..., BackgroundServer]) -> Iterator[BackgroundServer]:
    """An offers API that echoes the Authorization header it receives."""

    async def offers(request: web.Request) -> web.Response:
        market = request.query.get("market", "")
        return web.json_response(
            {
                "offers": [{"name": f"Sale {market}"}],
                "seen": request.headers.get("Authorization"),
            }
        )

    clear_memory_cache()
    yield serve({"/offers": offers})
    clear_memory_cache()


def offer_requests(server: BackgroundServer) -> int:
    return int(server.app[HITS]["/offers"])


def record_run(server: BackgroundServer, path: Path, **options: Any) -> None:
    """Record an enrichment of every campaign to `path`."""
    AUDIENCE.extapi.enrich(
        server.url("/offers"),
        replay=Recording(path, mode="record"),
        **{**CACHED, **options},
    )


def test_preview_replays_with_server_stopped(
    offers_server: BackgroundServer, tmp_path: Path
) -> None:
    path = tmp_path / "run.json"
    record_run(offers_server, path)
    url = offers_server.url("/offers")
    offers_server.stop()

    result = AUDIENCE.extapi.preview(
        url, replay=Recording(path, mode="replay"), **CACHED
    )

    assert result.response_source == "recording"
    assert result.document["offers"][0]["name"] == "Sale DE"
    assert result.attempts == 0


def test_preview_auto_mode_replays(
    offers_server: BackgroundServer, tmp_path: Path
) -> None:
    path = tmp_path / "run.json"
    record_run(offers_server, path)
    url = offers_server.url("/offers")
    offers_server.stop()

    result = AUDIENCE.extapi.preview(
        url, replay=str(path), campaign_value="c3", **CACHED
    )

    assert result.response_source == "recording"
    assert result.document["offers"][0]["name"] == "Sale GB"


def test_preview_repr_names_recording(
    offers_server: BackgroundServer, tmp_path: Path
) -> None:
    path = tmp_path / "run.json"
    record_run(offers_server, path)
    fetched_at = json.loads(path.read_text())["exchanges"][0]["response"]["fetched_at"]

    result = AUDIENCE.extapi.preview(
        offers_server.url("/offers"), replay=Recording(path, mode="replay"), **CACHED
    )

    assert f"HTTP 200 from the recording (fetched at {fetched_at})" in repr(result)
    assert "from the recording" in result._repr_html_()


@pytest.mark.parametrize("mode", ["record", "auto"])
def test_preview_writes_no_recording(
    offers_server: BackgroundServer, tmp_path: Path, mode: str
) -> None:
    path = tmp_path / "run.json"

    result = AUDIENCE.extapi.preview(
        offers_server.url("/offers"), replay=Recording(path, mode=mode), **CACHED
    )

    assert result.response_source == "network"
    assert offer_requests(offers_server) == 1
    assert not path.exists()


def test_preview_keeps_recording_file(
    offers_server: BackgroundServer, tmp_path: Path
) -> None:
    path = tmp_path / "run.json"
    record_run(offers_server, path)
    recorded = path.read_bytes()

    AUDIENCE.extapi.preview(
        offers_server.url("/offers"), replay=Recording(path, mode="record"), **CACHED
    )

    assert path.read_bytes() == recorded


def test_preview_unrecorded_campaign_raises(
    offers_server: BackgroundServer, tmp_path: Path
) -> None:
    path = tmp_path / "run.json"
    AUDIENCE.iloc[:2].extapi.enrich(
        offers_server.url("/offers"), replay=Recording(path, mode="record"), **CACHED
    )
    url = offers_server.url("/offers")
    offers_server.stop()

    with pytest.raises(RequestError, match=r"contains no response to GET .*market=FR"):
        AUDIENCE.extapi.preview(
            url,
            replay=Recording(path, mode="replay"),
            campaign_value="c2",
            **CACHED,
        )


@pytest.mark.parametrize("secret", SECRETS)
def test_replayed_preview_hides_secrets(
    offers_server: BackgroundServer, tmp_path: Path, secret: str
) -> None:
    path = tmp_path / "run.json"
    credentials = {
        "auth": BearerToken(TOKEN),
        "headers": {"X-Api-Key": HEADER_KEY},
        "params": {"market": "{market}", "api_key": PARAM_KEY},
    }
    record_run(offers_server, path, **credentials)
    url = offers_server.url("/offers")
    offers_server.stop()

    result = AUDIENCE.extapi.preview(
        url,
        replay=Recording(path, mode="replay"),
        **{**CACHED, **credentials},
    )

    assert result.response_source == "recording"
    assert secret not in repr(result)
    assert secret not in result._repr_html_()
    assert secret not in result.json_text()
    assert secret not in result.to_code()
    assert secret not in json.dumps(result.document)


def test_preview_uses_warm_cache(offers_server: BackgroundServer) -> None:
    AUDIENCE.extapi.enrich(offers_server.url("/offers"), cache="5min", **CACHED)

    result = AUDIENCE.extapi.preview(
        offers_server.url("/offers"), cache="5min", **CACHED
    )

    assert result.response_source == "cache"
    assert offer_requests(offers_server) == 3
    assert "HTTP 200 from the cache (fetched at " in repr(result)


def test_preview_does_not_fill_cache(offers_server: BackgroundServer) -> None:
    AUDIENCE.extapi.preview(offers_server.url("/offers"), cache="5min", **CACHED)

    AUDIENCE.extapi.enrich(offers_server.url("/offers"), cache="5min", **CACHED)

    assert offer_requests(offers_server) == 4


def test_preview_cache_refresh_sends(offers_server: BackgroundServer) -> None:
    AUDIENCE.extapi.enrich(offers_server.url("/offers"), cache="5min", **CACHED)

    result = AUDIENCE.extapi.preview(
        offers_server.url("/offers"), cache="refresh", **CACHED
    )

    assert result.response_source == "network"
    assert offer_requests(offers_server) == 4


def test_preview_reads_cache_file(
    offers_server: BackgroundServer, tmp_path: Path
) -> None:
    cache = Cache("1h", path=tmp_path / "cache.sqlite")
    AUDIENCE.extapi.enrich(offers_server.url("/offers"), cache=cache, **CACHED)
    clear_memory_cache()

    result = AUDIENCE.extapi.preview(
        offers_server.url("/offers"), cache=cache, **CACHED
    )

    assert result.response_source == "cache"
    assert offer_requests(offers_server) == 3


def test_preview_without_cache_from_network(offers_server: BackgroundServer) -> None:
    result = AUDIENCE.extapi.preview(offers_server.url("/offers"), **CACHED)

    assert result.response_source == "network"
    assert " in " in repr(result).splitlines()[0]


def test_repr_shows_declared_columns(demo_api: DemoAPI) -> None:
    result = AUDIENCE.extapi.preview(
        demo_api.url("/offers"),
        params={"market": "{market}"},
        campaign="campaign_id",
        columns={"offer": "$.offers[0].name", "price": Column("$.offers[0].price")},
    )

    lines = repr(result).splitlines()
    assert lines[1:4] == [
        "  columns, as declared:",
        "    offer: $.offers[0].name",
        "    price: $.offers[0].price",
    ]
    assert lines[4].startswith("  inferred from the response: ")
