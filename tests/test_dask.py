"""Tests of the Dask engine: `ddf.extapi.enrich` and `ddf.extapi.enrich_from_file`."""

from __future__ import annotations

import subprocess
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from aiohttp import web
from conftest import HITS

dask = pytest.importorskip("dask")
dd = pytest.importorskip("dask.dataframe")

import extapi_pandas  # noqa: E402
import extapi_pandas.dask as extapi_dask  # noqa: E402
from extapi_pandas import (  # noqa: E402
    ConfigurationError,
    PerProfileDataWarning,
    TemplateError,
    TransferError,
)
from extapi_pandas.demo import BackgroundServer, DemoAPI  # noqa: E402
from extapi_pandas.demo.audience import make_audience  # noqa: E402
from extapi_pandas.engines.sketch import (  # noqa: E402
    SKETCH_SIZE,
    estimate_distinct,
    merge_sketches,
    row_sketch,
)

Serve = Callable[..., BackgroundServer]

OFFERS = {
    "params": {"market": "{market}"},
    "campaign": "campaign_id",
    "columns": {"offer": "$.offers[0].name", "price": "$.offers[0].price"},
}
WEATHER = {
    "params": {"date": "2025-06-01"},
    "campaign": "campaign_id",
    "records": "$.regions[*]",
    "on": {"region": "region_code"},
    "columns": {"temp": "$.temp_max_c", "summary": "$.summary"},
}
VOUCHERS = {
    "method": "POST",
    "json": {"campaign": "{campaign_id}", "count": "{count}"},
    "campaign": "campaign_id",
    "records": "$.codes[*]",
    "assign": "sequential",
    "columns": {"code": "$.code", "value": "$.value_eur"},
}


@pytest.fixture(autouse=True)
def sync_scheduler() -> Iterator[None]:
    with dask.config.set(scheduler="sync"):
        yield


@pytest.fixture(scope="module")
def audience() -> dd.DataFrame:
    return dd.from_pandas(make_audience(3000, campaigns=6, seed=3), npartitions=4)


def both(
    ddf: dd.DataFrame, url: str, **options: Any
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return the Dask result, computed, and the pandas result on the same rows."""
    lazy = ddf.extapi.enrich(url, **options)
    expected = ddf.compute().extapi.enrich(url, **options)
    return lazy.compute(), expected


@pytest.mark.parametrize(
    ("path", "options"),
    [("/offers", OFFERS), ("/weather", WEATHER), ("/vouchers", VOUCHERS)],
    ids=["broadcast", "lookup", "sequential"],
)
def test_dask_equals_pandas(
    demo_api: DemoAPI, audience: dd.DataFrame, path: str, options: dict[str, Any]
) -> None:
    result, expected = both(audience, demo_api.url(path), **options)

    pd.testing.assert_frame_equal(result, expected)


@pytest.mark.parametrize(
    ("path", "options"),
    [("/offers", OFFERS), ("/weather", WEATHER), ("/vouchers", VOUCHERS)],
    ids=["broadcast", "lookup", "sequential"],
)
def test_one_request_per_campaign(
    demo_api: DemoAPI, audience: dd.DataFrame, path: str, options: dict[str, Any]
) -> None:
    before = demo_api.request_count(path)

    enriched = audience.extapi.enrich(demo_api.url(path), **options)
    sent = demo_api.request_count(path) - before
    enriched.compute()
    enriched.compute()

    assert sent == 6
    assert demo_api.request_count(path) - before == 6


def test_result_is_lazy(demo_api: DemoAPI, audience: dd.DataFrame) -> None:
    enriched = audience.extapi.enrich(demo_api.url("/offers"), **OFFERS)

    assert isinstance(enriched, dd.DataFrame)
    assert enriched.npartitions == audience.npartitions
    assert list(enriched.columns) == [*audience.columns, "offer", "price"]


def test_declared_meta_matches_partitions(
    demo_api: DemoAPI, audience: dd.DataFrame
) -> None:
    enriched = audience.extapi.enrich(demo_api.url("/offers"), **OFFERS)

    computed = enriched.compute()

    assert enriched.dtypes.to_dict() == computed.dtypes.to_dict()
    assert enriched["offer"].cat.known


def test_input_unchanged(demo_api: DemoAPI, audience: dd.DataFrame) -> None:
    before = audience.compute()

    audience.extapi.enrich(demo_api.url("/weather"), **WEATHER).compute()

    pd.testing.assert_frame_equal(audience.compute(), before)


def test_provenance_on_partitions(demo_api: DemoAPI, audience: dd.DataFrame) -> None:
    result, expected = both(audience, demo_api.url("/offers"), **OFFERS)
    got, want = result.attrs["extapi"], expected.attrs["extapi"]

    assert got["engine"] == "dask"
    assert got["rows"] == want["rows"] == 3000
    assert got["rows_enriched"] == want["rows_enriched"]
    assert [c["campaign"] for c in got["campaigns"]] == [
        c["campaign"] for c in want["campaigns"]
    ]


def test_lookup_enriched_count_unknown(
    demo_api: DemoAPI, audience: dd.DataFrame
) -> None:
    enriched = audience.extapi.enrich(demo_api.url("/weather"), **WEATHER)

    assert enriched.compute().attrs["extapi"]["rows_enriched"] is None


def failing_server(serve: Serve) -> BackgroundServer:
    async def handler(request: web.Request) -> web.Response:
        if request.query["market"] == "FR":
            return web.Response(status=404, text="no offers")
        return web.json_response({"pct": 10})

    return serve({"/deals": handler})


def test_continue_status_equals_pandas(serve: Serve, audience: dd.DataFrame) -> None:
    server = failing_server(serve)
    options = {
        "params": {"market": "{market}"},
        "campaign": "campaign_id",
        "columns": {"pct": "$.pct"},
        "on_error": "continue",
        "retries": 0,
    }

    with pytest.warns(UserWarning, match="failed"):
        result, expected = both(audience, server.url("/deals"), **options)

    pd.testing.assert_frame_equal(result, expected)
    assert set(result["extapi_status"]) == {"ok", "http_404"}


def with_missing_keys(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame.loc[frame.index[::7], "campaign_id"] = None
    return frame


def test_missing_campaign_skip(demo_api: DemoAPI) -> None:
    frame = with_missing_keys(make_audience(500, campaigns=3))
    ddf = dd.from_pandas(frame, npartitions=3)

    result, expected = both(
        ddf, demo_api.url("/offers"), missing_campaign="skip", **OFFERS
    )

    pd.testing.assert_frame_equal(result, expected)
    assert result.attrs["extapi"]["rows_skipped"] == 72


def test_missing_campaign_raises(demo_api: DemoAPI) -> None:
    ddf = dd.from_pandas(
        with_missing_keys(make_audience(500, campaigns=3)), npartitions=3
    )
    before = demo_api.request_count("/offers")

    with pytest.raises(ConfigurationError, match=r"72 row\(s\) have no campaign key"):
        ddf.extapi.enrich(demo_api.url("/offers"), **OFFERS)
    assert demo_api.request_count("/offers") == before


def test_count_placeholder_counts_all_partitions(serve: Serve) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response({"n": int(request.query["n"])})

    server = serve({"/count": handler})
    ddf = dd.from_pandas(pd.DataFrame({"c": ["a", "b"] * 50}), npartitions=5)

    result = ddf.extapi.enrich(
        server.url("/count"),
        params={"n": "{count}"},
        campaign="c",
        columns={"n": "$.n"},
    ).compute()

    assert result["n"].tolist() == [50] * 100


def test_template_varies_in_campaign(serve: Serve) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response({})

    server = serve({"/x": handler})
    frame = pd.DataFrame({"c": ["a"] * 10, "m": ["DE"] * 9 + ["FR"]})
    ddf = dd.from_pandas(frame, npartitions=2)

    with pytest.raises(TemplateError, match="varies within campaign 'a'"):
        ddf.extapi.enrich(
            server.url("/x"), params={"m": "{m}"}, campaign="c", columns={"v": "$.v"}
        )
    assert server.app[HITS]["/x"] == 0


def test_missing_placeholder_value_rejected(serve: Serve) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response({})

    server = serve({"/x": handler})
    frame = pd.DataFrame({"c": ["a", "b"] * 5, "m": ["DE", None] * 5}, dtype="str")
    ddf = dd.from_pandas(frame, npartitions=2)

    with pytest.raises(TemplateError, match=r"\{m\} \(in params\).*\('b'\)"):
        ddf.extapi.enrich(
            server.url("/x"), params={"m": "{m}"}, campaign="c", columns={"v": "$.v"}
        )
    assert server.app[HITS]["/x"] == 0


def test_body_warning_names_audience_key(serve: Serve) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response({"offer": "spring", "terms": "x" * 4096})

    server = serve({"/offer": handler})
    frame = pd.DataFrame({"CustomerID": ["c1", "c2", "c3"], "market": ["DE"] * 3})
    ddf = dd.from_pandas(frame, npartitions=2)

    with pytest.warns(PerProfileDataWarning, match="larger than") as caught:
        ddf.extapi.enrich(
            server.url("/offer"),
            columns={"offer": "$.offer"},
            per_profile={"body_bytes": 1024},
        )

    assert "on='CustomerID'" in str(caught[0].message)


def test_too_many_campaigns_rejected(serve: Serve) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response({})

    server = serve({"/x": handler})
    ids = [f"p{i}" for i in range(6000)]
    ddf = dd.from_pandas(pd.DataFrame({"id": ids}), npartitions=3)

    with pytest.raises(ConfigurationError, match="over max_requests=1,000"):
        ddf.extapi.enrich(
            server.url("/x"), params={"id": "{id}"}, campaign="id", columns={"v": "$.v"}
        )
    assert server.app[HITS]["/x"] == 0


def scores_server(serve: Serve, count: int) -> BackgroundServer:
    document = {"profiles": [{"id": f"p{i:05d}", "score": i} for i in range(count)]}

    async def handler(request: web.Request) -> web.Response:
        return web.json_response(document)

    return serve({"/scores": handler})


def test_per_profile_warning_from_key_counts(serve: Serve) -> None:
    server = scores_server(serve, 10)
    frame = pd.DataFrame({"id": [f"p{i:05d}" for i in range(5000)]})
    ddf = dd.from_pandas(frame, npartitions=4)

    with pytest.warns(PerProfileDataWarning, match="5,000 distinct values") as caught:
        ddf.extapi.enrich(
            server.url("/scores"),
            records="$.profiles[*]",
            on={"id": "id"},
            columns={"score": "$.score"},
        )

    assert caught[0].filename == __file__


def test_no_warning_for_shared_keys(serve: Serve) -> None:
    server = scores_server(serve, 10)
    frame = pd.DataFrame({"id": [f"p{i % 10:05d}" for i in range(5000)]})
    ddf = dd.from_pandas(frame, npartitions=4)

    with warnings.catch_warnings():
        warnings.simplefilter("error", PerProfileDataWarning)
        result = ddf.extapi.enrich(
            server.url("/scores"),
            records="$.profiles[*]",
            on={"id": "id"},
            columns={"score": "$.score"},
        )

    assert result["score"].compute().notna().all()


def test_lookup_all_campaigns_failed(serve: Serve) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=404, text="gone")

    server = serve({"/gone": handler})
    ddf = dd.from_pandas(pd.DataFrame({"k": ["a", "b"] * 5}), npartitions=2)
    options = {
        "records": "$.rows[*]",
        "on": {"k": "k"},
        "columns": {"v": "$.v"},
        "on_error": "continue",
        "retries": 0,
    }

    with pytest.warns(UserWarning, match="failed"):
        result, expected = both(ddf, server.url("/gone"), **options)

    pd.testing.assert_frame_equal(result, expected)
    assert result["v"].isna().all()


def test_lookup_duplicate_keys_raise(serve: Serve) -> None:
    document = {"rows": [{"k": "a", "v": 1}, {"k": "a", "v": 2}]}

    async def handler(request: web.Request) -> web.Response:
        return web.json_response(document)

    server = serve({"/dup": handler})
    ddf = dd.from_pandas(pd.DataFrame({"k": ["a", "b"] * 5}), npartitions=2)

    with pytest.raises(extapi_pandas.AttachError, match="several records with key"):
        ddf.extapi.enrich(
            server.url("/dup"), records="$.rows[*]", on={"k": "k"}, columns={"v": "$.v"}
        )


def test_sequential_short_raises(serve: Serve) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response({"codes": [{"code": "A"}]})

    server = serve({"/codes": handler})
    ddf = dd.from_pandas(pd.DataFrame({"c": ["x"] * 4}), npartitions=2)

    with pytest.raises(extapi_pandas.AttachError, match="has 4 profiles but"):
        ddf.extapi.enrich(
            server.url("/codes"),
            records="$.codes[*]",
            assign="sequential",
            columns={"code": "$.code"},
        )


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"aggregates": {"age": "max"}}, "payload aggregates are not supported"),
        ({"data": ["profile_id"]}, "payload data are not supported"),
    ],
)
def test_payload_rows_rejected(
    demo_api: DemoAPI, audience: dd.DataFrame, payload: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        audience.extapi.enrich(
            demo_api.url("/vouchers"),
            method="POST",
            payload=payload,
            campaign="campaign_id",
            columns={"v": "$.v"},
        )


def test_payload_count_sums_partitions(serve: Serve) -> None:
    bodies: list[Any] = []

    async def handler(request: web.Request) -> web.Response:
        bodies.append(await request.json())
        return web.json_response({"ok": True})

    server = serve({"POST /p": handler})
    frame = pd.DataFrame({"c": ["a"] * 30, "m": ["DE"] * 30})
    ddf = dd.from_pandas(frame, npartitions=3)

    ddf.extapi.enrich(
        server.url("/p"),
        method="POST",
        payload={"params": ["m"]},
        campaign="c",
        columns={"ok": "$.ok"},
    )

    assert bodies == [{"params": {"m": "DE"}, "count": 30}]


def test_import_does_not_load_dask() -> None:
    code = "import sys, extapi_pandas; print('dask' in sys.modules)"

    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )

    assert output.stdout.strip() == "False"


def test_import_after_dask_registers() -> None:
    code = (
        "import dask.dataframe as dd, extapi_pandas; "
        "print(dd.DataFrame.extapi.__name__)"
    )

    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )

    assert output.stdout.strip() == "DaskExtapiAccessor"


def test_register_twice_is_harmless() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        extapi_dask.register()

    assert dd.DataFrame.extapi is extapi_dask.DaskExtapiAccessor


@pytest.fixture(scope="module")
def scores_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("scores")
    ids = make_audience(3000, campaigns=6, seed=3)["profile_id"]
    scores = pd.DataFrame(
        {"profile_id": ids[::3].to_numpy(), "score": np.arange(1000), "tier": "gold"}
    )
    paths = {"parquet": folder / "scores.parquet", "csv": folder / "scores.csv"}
    scores.to_parquet(paths["parquet"])
    scores.to_csv(paths["csv"], index=False)
    return paths


@pytest.mark.parametrize("kind", ["parquet", "csv"])
def test_file_route_equals_pandas(
    audience: dd.DataFrame, scores_files: dict[str, Path], kind: str
) -> None:
    path = str(scores_files[kind])

    result = audience.extapi.enrich_from_file(path, on="profile_id").compute()
    expected = audience.compute().extapi.enrich_from_file(path, on="profile_id")

    pd.testing.assert_frame_equal(result.sort_index(), expected.drop(columns=[]))


def test_file_route_keeps_index(
    audience: dd.DataFrame, scores_files: dict[str, Path]
) -> None:
    indexed = audience.set_index("profile_id", drop=False, sorted=False)

    result = indexed.extapi.enrich_from_file(
        str(scores_files["parquet"]), on="profile_id", columns=["score"]
    )

    computed = result.compute()
    assert (computed.index == computed["profile_id"]).all()


def test_file_route_repeated_keys(tmp_path: Path) -> None:
    path = tmp_path / "dup.csv"
    pd.DataFrame({"k": ["a", "a", "b"], "v": [1, 2, 3]}).to_csv(path, index=False)
    ddf = dd.from_pandas(pd.DataFrame({"k": ["a", "b"]}), npartitions=1)

    with pytest.raises(TransferError, match="repeats key"):
        ddf.extapi.enrich_from_file(str(path), on="k")
    first = ddf.extapi.enrich_from_file(str(path), on="k", keep="first").compute()

    assert first["v"].tolist() == [1, 3]


def test_file_route_key_dtypes_differ(tmp_path: Path) -> None:
    path = tmp_path / "keys.parquet"
    pd.DataFrame({"k": [1, 2], "v": [1, 2]}).to_parquet(path)
    ddf = dd.from_pandas(pd.DataFrame({"k": ["1", "2"]}), npartitions=1)

    with pytest.raises(TransferError, match="key dtypes differ"):
        ddf.extapi.enrich_from_file(str(path), on="k")


@pytest.mark.parametrize(
    ("source", "options", "message"),
    [
        ("https://127.0.0.1:9/s.csv", {}, "does not read HTTP sources"),
        (["a.csv", "HTTP://127.0.0.1:9/s.csv"], {}, "does not read HTTP sources"),
        ("scores.json", {}, "reads parquet, csv and jsonl files, not 'json'"),
        ("scores.csv", {"keep": "any"}, "invalid keep='any'"),
        ("scores.csv", {"on_conflict": "x"}, "invalid on_conflict='x'"),
    ],
)
def test_file_route_invalid_options(
    audience: dd.DataFrame, source: Any, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        audience.extapi.enrich_from_file(source, on="profile_id", **options)


def test_sketch_exact_below_size() -> None:
    frame = pd.DataFrame({"k": [f"k{i % 1500}" for i in range(6000)]})
    parts = [row_sketch(frame.iloc[i::3]) for i in range(3)]

    assert estimate_distinct(merge_sketches(parts)) == 1500


def test_sketch_estimate_above_size() -> None:
    frame = pd.DataFrame({"k": np.arange(200_000)})
    parts = [row_sketch(frame.iloc[i::4]) for i in range(4)]

    estimate = estimate_distinct(merge_sketches(parts))

    assert len(merge_sketches(parts)) == SKETCH_SIZE
    assert abs(estimate - 200_000) < 0.06 * 200_000


def ci_partition(number: int) -> pd.DataFrame:
    frame = make_audience(25_000, campaigns=20, seed=number)
    frame.index = frame.index + 25_000 * number
    return frame


def test_local_cluster_ci_size(demo_api: DemoAPI) -> None:
    """A 200,000-row audience on a 2-process LocalCluster bound to 127.0.0.1."""
    distributed = pytest.importorskip("distributed")
    # The workers make the partitions, so the graph does not carry the data.
    ddf = dd.from_map(ci_partition, range(8))
    frame = ddf.compute()
    before = demo_api.request_count("/offers")

    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster),
        dask.config.set(scheduler=None),
    ):
        enriched = ddf.extapi.enrich(demo_api.url("/offers"), **OFFERS)
        counts = enriched["offer"].value_counts().compute()

    expected = frame.extapi.enrich(demo_api.url("/offers"), **OFFERS)
    assert demo_api.request_count("/offers") - before == 40
    assert counts.sort_index().to_dict() == (
        expected["offer"].value_counts().sort_index().to_dict()
    )
