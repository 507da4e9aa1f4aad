"""Tests for the JSON-safe provenance written to `enriched.attrs["extapi"]`."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from aiohttp import web

import extapi_pandas
from extapi_pandas.demo import BackgroundServer, DemoAPI, make_audience

Serve = Callable[..., BackgroundServer]
SECRET = "sk-live-3f9a7c1e"


class BodyServer:
    """Serve `/b/{key}` with a JSON body per key, and keep the bytes sent."""

    def __init__(self, serve: Serve, *, fail: str | None = None) -> None:
        self.sent: dict[str, bytes] = {}
        self.fail = fail
        self.server = serve({"/b/{key}": self._handle})

    async def _handle(self, request: web.Request) -> web.Response:
        key = request.match_info["key"]
        if key == self.fail:
            return web.json_response({"error": "unavailable"}, status=503)
        body = json.dumps(
            {"key": key, "price": len(key) * 1.25, "note": "Zoé"}, ensure_ascii=False
        ).encode()
        self.sent[key] = body
        return web.Response(body=body, content_type="application/json")

    def url(self, path: str) -> str:
        return self.server.url(path)


def enrich(server: BodyServer, frame: pd.DataFrame, **options: Any) -> pd.DataFrame:
    return frame.extapi.enrich(
        server.url("/b/{key}"),
        params={"api_key": SECRET, "k": "{key}"},
        campaign="key",
        columns={"price": "$.price", "note": "$.note"},
        **options,
    )


@pytest.fixture
def bodies(serve: Serve) -> BodyServer:
    return BodyServer(serve)


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame({"key": ["a", "bb", "a", "ccc"], "x": [1.0, 2.0, 3.0, 4.0]})


def test_provenance_is_json_serialisable(
    bodies: BodyServer, frame: pd.DataFrame
) -> None:
    provenance = enrich(bodies, frame).attrs["extapi"]

    assert json.loads(json.dumps(provenance)) == provenance


def test_provenance_has_one_entry_per_campaign(
    bodies: BodyServer, frame: pd.DataFrame
) -> None:
    provenance = enrich(bodies, frame).attrs["extapi"]

    assert [c["campaign"] for c in provenance["campaigns"]] == ["a", "bb", "ccc"]
    assert provenance["campaigns_total"] == 3
    assert provenance["campaigns_failed"] == 0
    assert provenance["requests"] == 3


def test_provenance_sha256_of_body(bodies: BodyServer, frame: pd.DataFrame) -> None:
    provenance = enrich(bodies, frame).attrs["extapi"]

    for entry in provenance["campaigns"]:
        sent = bodies.sent[entry["campaign"]]
        assert entry["sha256"] == hashlib.sha256(sent).hexdigest()
        assert entry["bytes"] == len(sent)


def test_provenance_http_fields(bodies: BodyServer, frame: pd.DataFrame) -> None:
    entry = enrich(bodies, frame).attrs["extapi"]["campaigns"][0]

    assert entry["method"] == "GET"
    assert entry["http_status"] == 200
    assert entry["status"] == "ok"
    assert entry["profiles"] == 2
    assert isinstance(entry["elapsed_s"], float)
    assert entry["elapsed_s"] >= 0


def test_provenance_fetched_at_is_utc(bodies: BodyServer, frame: pd.DataFrame) -> None:
    before = dt.datetime.now(dt.UTC)

    provenance = enrich(bodies, frame).attrs["extapi"]

    for entry in provenance["campaigns"]:
        fetched = dt.datetime.fromisoformat(entry["fetched_at"])
        assert fetched.utcoffset() == dt.timedelta(0)
        assert fetched >= before.replace(microsecond=0)
    started = dt.datetime.fromisoformat(provenance["started_at"])
    assert started.utcoffset() == dt.timedelta(0)


def test_provenance_url_is_redacted(bodies: BodyServer, frame: pd.DataFrame) -> None:
    provenance = enrich(bodies, frame).attrs["extapi"]

    entry = provenance["campaigns"][0]
    assert entry["url"].endswith("/b/a?api_key=[secure]&k=a")
    assert SECRET not in json.dumps(provenance)


def test_provenance_lists_added_columns(
    bodies: BodyServer, frame: pd.DataFrame
) -> None:
    provenance = enrich(bodies, frame, strings="str").attrs["extapi"]

    assert provenance["columns"] == {
        "price": {"path": "$.price", "column": "price", "dtype": "Float64"},
        "note": {"path": "$.note", "column": "note", "dtype": "string"},
    }


def test_provenance_row_counts(bodies: BodyServer, frame: pd.DataFrame) -> None:
    provenance = enrich(bodies, frame).attrs["extapi"]

    assert provenance["rows"] == 4
    assert provenance["rows_enriched"] == 4
    assert provenance["rows_unmatched"] == 0
    assert provenance["rows_skipped"] == 0


def test_provenance_failed_campaign(serve: Serve, frame: pd.DataFrame) -> None:
    bodies = BodyServer(serve, fail="bb")

    with pytest.warns(extapi_pandas.ExtapiWarning):
        result = enrich(bodies, frame, on_error="continue", retries=0)

    provenance = result.attrs["extapi"]
    failed = provenance["campaigns"][1]
    assert failed["status"] == "http_503"
    assert failed["http_status"] == 503
    assert "HTTP 503" in failed["error"]
    assert SECRET not in json.dumps(provenance)
    assert provenance["campaigns_failed"] == 1
    assert provenance["rows_enriched"] == 3


def test_provenance_of_demo_offers(demo_api: DemoAPI) -> None:
    audience = make_audience(50, campaigns=3)

    result = audience.extapi.enrich(
        demo_api.url("/offers"),
        params={"market": "{market}"},
        campaign="campaign_id",
        columns={"offer": "$.offers[0].name"},
    )

    provenance = result.attrs["extapi"]
    assert provenance["source"]["method"] == "GET"
    assert provenance["source"]["url"].endswith("/offers")
    assert provenance["campaign_columns"] == ["campaign_id"]
    assert provenance["assign"] == "broadcast"


def test_parquet_round_trip(
    bodies: BodyServer, frame: pd.DataFrame, tmp_path: Path
) -> None:
    result = enrich(bodies, frame)
    path = tmp_path / "enriched.parquet"

    result.to_parquet(path)
    loaded = pd.read_parquet(path)

    pd.testing.assert_frame_equal(loaded, result)
    assert loaded.attrs["extapi"] == result.attrs["extapi"]


def test_parquet_round_trip_demo(demo_api: DemoAPI, tmp_path: Path) -> None:
    audience = make_audience(100, campaigns=4)
    result = audience.extapi.enrich(
        demo_api.url("/weather"),
        campaign="campaign_id",
        records="$.regions[*]",
        on={"region": "region_code"},
        columns={"temp_max_c": "$.temp_max_c", "summary": "$.summary"},
    )
    path = tmp_path / "weather.parquet"

    result.to_parquet(path)

    pd.testing.assert_frame_equal(pd.read_parquet(path), result)


def test_previous_provenance_replaced(bodies: BodyServer, frame: pd.DataFrame) -> None:
    first = enrich(bodies, frame)

    second = first.extapi.enrich(
        bodies.url("/b/{key}"), campaign="key", columns={"again": "$.key"}
    )

    assert list(second.attrs["extapi"]["columns"]) == ["again"]
    assert list(first.attrs["extapi"]["columns"]) == ["price", "note"]
