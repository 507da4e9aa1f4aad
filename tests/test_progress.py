"""Tests for the progress bar: campaigns done out of total, retries in the postfix."""

from __future__ import annotations

import io
import sys
import types
from collections.abc import Callable

import pandas as pd
import pytest
from aiohttp import web

import extapi_pandas
from extapi_pandas import ConfigurationError, Retry
from extapi_pandas.demo import BackgroundServer, DemoAPI
from extapi_pandas.progress import NullProgress, TqdmProgress, make_progress

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


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_counts_campaigns(
    demo_api: DemoAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    AUDIENCE.extapi.enrich(demo_api.url("/offers"), progress=True, **OFFERS)
    err = capsys.readouterr().err
    assert "3/3" in err
    assert "campaign" in err


def test_progress_bar_names_request(
    demo_api: DemoAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    AUDIENCE.extapi.enrich(demo_api.url("/offers"), progress=True, **OFFERS)
    assert "GET http://127.0.0.1" in capsys.readouterr().err


def test_progress_postfix_shows_retries(
    serve: Callable[..., BackgroundServer], capsys: pytest.CaptureFixture[str]
) -> None:
    calls = {"n": 0}

    async def flaky(request: web.Request) -> web.Response:
        calls["n"] += 1
        if calls["n"] == 1:
            return web.json_response({"error": "busy"}, status=503)
        return web.json_response({"offers": [{"name": "Sale"}]})

    server = serve({"/offers": flaky})
    AUDIENCE.extapi.enrich(
        server.url("/offers"),
        progress=True,
        retries=Retry(attempts=2, backoff=0),
        **OFFERS,
    )
    assert "retries: 1 (last: http_503)" in capsys.readouterr().err


def test_progress_postfix_counts_failures(
    serve: Callable[..., BackgroundServer], capsys: pytest.CaptureFixture[str]
) -> None:
    async def missing(request: web.Request) -> web.Response:
        return web.json_response({"error": "no"}, status=404)

    server = serve({"/offers": missing})
    with pytest.warns(extapi_pandas.ExtapiWarning):
        AUDIENCE.extapi.enrich(
            server.url("/offers"), progress=True, on_error="continue", **OFFERS
        )
    assert "failed: 3" in capsys.readouterr().err


def test_progress_false_prints_nothing(
    demo_api: DemoAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    AUDIENCE.extapi.enrich(demo_api.url("/offers"), progress=False, **OFFERS)
    assert capsys.readouterr().err == ""


def test_progress_auto_silent_without_terminal(
    demo_api: DemoAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    AUDIENCE.extapi.enrich(demo_api.url("/offers"), **OFFERS)
    assert capsys.readouterr().err == ""


@pytest.mark.asyncio
async def test_aenrich_shows_progress(
    demo_api: DemoAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    await AUDIENCE.extapi.aenrich(demo_api.url("/offers"), progress=True, **OFFERS)
    assert "3/3" in capsys.readouterr().err


def test_progress_auto_on_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stderr", _Terminal())
    reporter = make_progress(None, description="GET x")
    reporter.close()
    assert isinstance(reporter, TqdmProgress)


def test_progress_auto_on_in_notebook(monkeypatch: pytest.MonkeyPatch) -> None:
    shell_class = type("ZMQInteractiveShell", (), {})
    fake_ipython = types.SimpleNamespace(get_ipython=shell_class)
    monkeypatch.setitem(sys.modules, "IPython", fake_ipython)
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    reporter = make_progress(None, description="GET x")
    reporter.close()
    assert isinstance(reporter, TqdmProgress)


def test_progress_auto_off_in_terminal_ipython(monkeypatch: pytest.MonkeyPatch) -> None:
    shell_class = type("TerminalInteractiveShell", (), {})
    fake_ipython = types.SimpleNamespace(get_ipython=shell_class)
    monkeypatch.setitem(sys.modules, "IPython", fake_ipython)
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert isinstance(make_progress(None, description="GET x"), NullProgress)


def test_progress_true_without_tqdm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    with pytest.raises(ConfigurationError, match=r'pip install "extapi-pandas\[ui\]"'):
        make_progress(True, description="GET x")


def test_progress_auto_without_tqdm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    monkeypatch.setattr(sys, "stderr", _Terminal())
    assert isinstance(make_progress(None, description="GET x"), NullProgress)


@pytest.mark.parametrize("value", ["yes", 1, 0.5])
def test_progress_invalid_value(value: object) -> None:
    with pytest.raises(
        ConfigurationError, match="progress must be True, False or None"
    ):
        AUDIENCE.extapi.enrich("http://127.0.0.1:9/x", progress=value, **OFFERS)


@pytest.mark.parametrize("value", ["yes", 1])
def test_make_progress_invalid_value(value: object) -> None:
    with pytest.raises(
        ConfigurationError, match="progress must be True, False or None"
    ):
        make_progress(value, description="GET x")  # type: ignore[arg-type]
