"""Tests for `df.extapi.report()`: the per-campaign table and the text summary."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from aiohttp import web

import extapi_pandas  # noqa: F401  (registers df.extapi)
from extapi_pandas import BearerToken, ExtapiError, ExtapiWarning, Retry
from extapi_pandas.demo import BackgroundServer, DemoAPI
from extapi_pandas.report import REPORT_COLUMNS, Report

AUDIENCE = pd.DataFrame(
    {
        "profile_id": [1, 2, 3, 4, 5],
        "campaign_id": ["c1", "c1", "c2", "c3", "c3"],
        "market": ["DE", "DE", "FR", "GB", "GB"],
    }
)
OFFERS = {
    "params": {"market": "{market}"},
    "campaign": "campaign_id",
    "columns": {"offer": "$.offers[0].name"},
}
TOKEN = "tok-5ecr3t-value"


@pytest.fixture
def enriched(demo_api: DemoAPI) -> pd.DataFrame:
    return AUDIENCE.extapi.enrich(demo_api.url("/offers"), **OFFERS)


def _provenance(campaigns: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "source": {"url": "http://127.0.0.1/x", "method": "GET"},
        "campaigns": campaigns,
    }


def test_report_frame_columns(enriched: pd.DataFrame) -> None:
    frame = enriched.extapi.report().to_frame()
    assert list(frame.columns) == REPORT_COLUMNS


def test_report_frame_one_row_per_campaign(enriched: pd.DataFrame) -> None:
    frame = enriched.extapi.report().to_frame()
    assert frame["campaign"].tolist() == ["c1", "c2", "c3"]
    assert frame["rows"].tolist() == [2, 1, 2]
    assert frame["http_status"].tolist() == [200, 200, 200]
    assert frame["attempts"].tolist() == [1, 1, 1]
    assert (frame["bytes"] > 0).all()


def test_report_html_table(enriched: pd.DataFrame) -> None:
    page = enriched.extapi.report()._repr_html_()
    for label in (
        "campaign",
        "status",
        "HTTP status",
        "attempts",
        "bytes",
        "elapsed",
        "cache hit",
        "rows",
        "warnings",
    ):
        assert f"<th>{label}</th>" in page
    for campaign in ("c1", "c2", "c3"):
        assert f"<td>{campaign}</td>" in page


def test_report_text_summary(enriched: pd.DataFrame) -> None:
    text = repr(enriched.extapi.report())
    assert text.startswith("extapi report: GET http://127.0.0.1:")
    assert "campaigns: 3 (0 failed), HTTP requests: 3" in text
    assert "rows: 5 (5 enriched, 0 unmatched, 0 skipped)" in text
    assert "columns added: offer" in text


def test_report_text_lists_campaigns(enriched: pd.DataFrame) -> None:
    text = repr(enriched.extapi.report())
    assert "c1" in text.split("\n\n", 1)[1]


def test_report_failed_campaign(serve: Callable[..., BackgroundServer]) -> None:
    async def offers(request: web.Request) -> web.Response:
        if request.query["market"] == "FR":
            return web.json_response({"error": "unknown market"}, status=404)
        return web.json_response({"offers": [{"name": "Sale"}]})

    server = serve({"/offers": offers})
    with pytest.warns(ExtapiWarning, match="1 of 3 campaign"):
        enriched = AUDIENCE.extapi.enrich(
            server.url("/offers"), on_error="continue", **OFFERS
        )
    report = enriched.extapi.report()
    failed = report.to_frame().set_index("campaign").loc["c2"]
    assert failed["status"] == "http_404"
    assert failed["warnings"].startswith("error: campaign 'c2'")
    assert '<span class="failed">http_404</span>' in report._repr_html_()
    assert "(1 failed)" in repr(report)


def test_report_shows_retries(serve: Callable[..., BackgroundServer]) -> None:
    calls = {"n": 0}

    async def flaky(request: web.Request) -> web.Response:
        calls["n"] += 1
        if calls["n"] == 1:
            return web.json_response({"error": "busy"}, status=503)
        return web.json_response({"offers": [{"name": "Sale"}]})

    server = serve({"/offers": flaky})
    frame = AUDIENCE[AUDIENCE["campaign_id"] == "c1"]
    enriched = frame.extapi.enrich(
        server.url("/offers"), retries=Retry(attempts=2, backoff=0), **OFFERS
    )
    row = enriched.extapi.report().to_frame().iloc[0]
    assert row["attempts"] == 2
    assert row["warnings"] == "retried after http_503"


def test_report_hides_token(serve: Callable[..., BackgroundServer]) -> None:
    async def echo(request: web.Request) -> web.Response:
        return web.json_response({"offers": [{"name": "Sale"}]})

    server = serve({"/offers": echo})
    enriched = AUDIENCE.extapi.enrich(
        server.url("/offers") + f"?token={TOKEN}", auth=BearerToken(TOKEN), **OFFERS
    )
    report = enriched.extapi.report()
    assert TOKEN not in repr(report)
    assert TOKEN not in report._repr_html_()


def test_report_without_provenance() -> None:
    with pytest.raises(ExtapiError, match=r"no provenance in attrs\['extapi'\]"):
        AUDIENCE.extapi.report()


@pytest.mark.parametrize("value", ["text", {"campaigns": "c1"}, ["c1"]])
def test_report_invalid_provenance(value: Any) -> None:
    frame = AUDIENCE.copy()
    frame.attrs["extapi"] = value
    with pytest.raises(ExtapiError, match="not the provenance dictionary"):
        frame.extapi.report()


def test_report_escapes_html() -> None:
    report = Report(_provenance([{"campaign": "<b>x</b>", "status": "ok"}]))
    page = report._repr_html_()
    assert "<b>x</b>" not in page
    assert "&lt;b&gt;x&lt;/b&gt;" in page


@pytest.mark.parametrize(
    ("entry", "expected"),
    [({"cache_hit": True}, True), ({"cache": "miss"}, False), ({}, None)],
)
def test_report_cache_hit(entry: dict[str, Any], expected: bool | None) -> None:
    frame = Report(
        _provenance([{"campaign": "c1", "status": "ok", **entry}])
    ).to_frame()
    value = frame["cache_hit"].iloc[0]
    assert (value is pd.NA) if expected is None else (value == expected)


def test_report_html_caps_rows() -> None:
    campaigns = [{"campaign": f"c{i}", "status": "ok"} for i in range(250)]
    page = Report(_provenance(campaigns))._repr_html_()
    assert page.count("<tr>") == 201
    assert "50 more campaigns" in page


def test_report_multi_column_campaign() -> None:
    report = Report(_provenance([{"campaign": ["c1", "DE"], "status": "ok"}]))
    assert report.to_frame()["campaign"].iloc[0] == "c1 / DE"


def test_report_file_route(tmp_path: Path) -> None:
    path = tmp_path / "scores.parquet"
    pd.DataFrame(
        {"profile_id": [1, 2, 3, 9], "score": [0.5, 0.25, 1.0, 0.0]}
    ).to_parquet(path)
    enriched = AUDIENCE.extapi.enrich_from_file(path, on="profile_id")
    report = enriched.extapi.report()
    text = repr(report)
    assert "extapi report: file route, parquet" in text
    assert "3 profiles matched (60.0%), 2 unmatched; 3 of 4 file rows used" in text
    assert "<table>" not in report._repr_html_()
