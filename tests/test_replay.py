"""Tests for recording responses to a file and replaying them without any network."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from aiohttp import web
from conftest import HITS

from extapi_pandas import (
    BearerToken,
    ConfigurationError,
    ExtapiWarning,
    ExternalAPI,
    HTTPStatusError,
    OAuth2ClientCredentials,
    Recording,
    RequestError,
)
from extapi_pandas.demo import BackgroundServer, DemoAPI, make_audience

Serve = Callable[..., BackgroundServer]
TOKEN = "tok-replay-planted-6a0f"
KEY = "key-replay-planted-13d9"
COOKIE = "cookie-replay-planted-88e1"
AUDIENCE = pd.DataFrame(
    {"campaign_id": ["c1", "c2", "c1", "c3"], "market": ["DE", "FR", "DE", "GB"]}
)
# Bytes as a server may send them: spacing, key order and number spelling that a
# re-encoding would change.
RAW = b'{ "market" : "%s",  "price": 19.90, "tags": ["a","b"] }\n'


class MarketServer:
    """Serves `/offers?market=..` as raw bytes; listed markets get a 404."""

    def __init__(self, serve: Serve, *, missing: tuple[str, ...] = ()) -> None:
        self.missing = missing
        self.echo_auth = False
        self.server = serve({"/offers": self.offers, "POST /token": self.token})

    async def offers(self, request: web.Request) -> web.Response:
        market = request.query.get("market", "")
        if market in self.missing:
            return web.json_response({"error": "unknown market"}, status=404)
        body = RAW % market.encode()
        if self.echo_auth:
            seen = request.headers.get("Authorization", "")
            body = json.dumps({"market": market, "seen": seen}).encode()
        response = web.Response(body=body, content_type="application/json")
        response.headers["Set-Cookie"] = f"session={COOKIE}"
        return response

    async def token(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"access_token": TOKEN, "token_type": "bearer", "expires_in": 3600}
        )

    def requests(self, path: str = "/offers") -> int:
        return int(self.server.app[HITS][path])

    def api(self, replay: Any, **options: Any) -> ExternalAPI:
        defaults: dict[str, Any] = {
            "params": {"market": "{market}"},
            "campaign": "campaign_id",
            "columns": {"market_code": "$.market", "price": "$.price"},
        }
        return ExternalAPI(
            self.server.url("/offers"), replay=replay, **{**defaults, **options}
        )


def shas(frame: pd.DataFrame) -> list[str]:
    return [entry["sha256"] for entry in frame.attrs["extapi"]["campaigns"]]


def test_replay_with_server_stopped(serve: Serve, tmp_path: Path) -> None:
    markets = MarketServer(serve)
    path = tmp_path / "run.json"
    recorded = AUDIENCE.extapi.enrich(markets.api(Recording(path, mode="record")))
    api = markets.api(Recording(path, mode="replay"))
    markets.server.stop()

    replayed = AUDIENCE.extapi.enrich(api)

    pd.testing.assert_frame_equal(replayed, recorded)
    assert shas(replayed) == shas(recorded)


def test_replay_marks_provenance(serve: Serve, tmp_path: Path) -> None:
    markets = MarketServer(serve)
    path = tmp_path / "run.json"
    AUDIENCE.extapi.enrich(markets.api(Recording(path, mode="record")))

    replayed = AUDIENCE.extapi.enrich(markets.api(Recording(path, mode="replay")))

    assert [c["replayed"] for c in replayed.attrs["extapi"]["campaigns"]] == [True] * 3
    assert replayed.attrs["extapi"]["requests"] == 0


def test_replay_sends_nothing(serve: Serve, tmp_path: Path) -> None:
    markets = MarketServer(serve)
    path = tmp_path / "run.json"
    auth = OAuth2ClientCredentials(
        markets.server.url("/token"), client_id="crm", client_secret="s3cret-value"
    )
    AUDIENCE.extapi.enrich(markets.api(Recording(path, mode="record"), auth=auth))
    fresh_auth = OAuth2ClientCredentials(
        markets.server.url("/token"), client_id="crm", client_secret="s3cret-value"
    )

    AUDIENCE.extapi.enrich(markets.api(Recording(path, "replay"), auth=fresh_auth))

    assert markets.requests("/offers") == 3
    assert markets.requests("/token") == 1


def test_recording_keeps_exact_bytes(serve: Serve, tmp_path: Path) -> None:
    markets = MarketServer(serve)
    path = tmp_path / "run.json"

    recorded = AUDIENCE.extapi.enrich(markets.api(Recording(path, mode="record")))
    exchanges = json.loads(path.read_text())["exchanges"]

    first = base64.b64decode(exchanges[0]["response"]["body_base64"])
    assert first == RAW % b"DE"
    assert shas(recorded)[0] == hashlib.sha256(RAW % b"DE").hexdigest()
    assert exchanges[0]["response"]["status"] == 200


def test_auto_records_then_replays(serve: Serve, tmp_path: Path) -> None:
    markets = MarketServer(serve)
    path = tmp_path / "run.json"
    api = markets.api(str(path))

    recorded = AUDIENCE.extapi.enrich(api)
    replayed = AUDIENCE.extapi.enrich(api)

    assert markets.requests() == 3
    assert path.exists()
    pd.testing.assert_frame_equal(replayed, recorded)


def test_bare_path_means_auto(tmp_path: Path) -> None:
    api = ExternalAPI(
        "http://127.0.0.1:9/x", columns={"a": "$.a"}, replay=tmp_path / "r.json"
    )

    assert api.replay == Recording(str(tmp_path / "r.json"), mode="auto")


def test_unrecorded_request_fails_clearly(serve: Serve, tmp_path: Path) -> None:
    markets = MarketServer(serve)
    path = tmp_path / "run.json"
    AUDIENCE.iloc[:2].extapi.enrich(markets.api(Recording(path, mode="record")))
    pattern = (
        rf"campaign 'c3': the recording '{path}' contains no response to GET "
        r"http://127\.0\.0\.1:\d+/offers\?market=GB"
    )

    with pytest.raises(RequestError, match=pattern):
        AUDIENCE.extapi.enrich(markets.api(Recording(path, mode="replay")))


def test_unrecorded_request_under_continue(serve: Serve, tmp_path: Path) -> None:
    markets = MarketServer(serve)
    path = tmp_path / "run.json"
    AUDIENCE.iloc[:2].extapi.enrich(markets.api(Recording(path, mode="record")))
    api = markets.api(Recording(path, mode="replay"), on_error="continue")

    with pytest.warns(ExtapiWarning, match="request_failed"):
        replayed = AUDIENCE.extapi.enrich(api)

    assert replayed["extapi_status"].tolist() == ["ok", "ok", "ok", "request_failed"]


def test_other_header_not_replayed(serve: Serve, tmp_path: Path) -> None:
    markets = MarketServer(serve)
    path = tmp_path / "run.json"
    english = {"Accept-Language": "en"}
    AUDIENCE.extapi.enrich(markets.api(Recording(path, "record"), headers=english))

    with pytest.raises(RequestError, match="contains no response"):
        AUDIENCE.extapi.enrich(
            markets.api(Recording(path, "replay"), headers={"Accept-Language": "de"})
        )


def test_recorded_failure_replays_alike(serve: Serve, tmp_path: Path) -> None:
    markets = MarketServer(serve, missing=("GB",))
    path = tmp_path / "run.json"
    options = {"on_error": "continue", "retries": 0}
    with pytest.warns(ExtapiWarning, match="http_404"):
        recorded = AUDIENCE.extapi.enrich(
            markets.api(Recording(path, "record"), **options)
        )
    api = markets.api(Recording(path, "replay"), **options)
    markets.server.stop()

    with pytest.warns(ExtapiWarning, match="http_404"):
        replayed = AUDIENCE.extapi.enrich(api)

    pd.testing.assert_frame_equal(replayed, recorded)
    assert replayed["extapi_status"].tolist() == ["ok", "ok", "ok", "http_404"]


def test_recorded_failure_raises_again(serve: Serve, tmp_path: Path) -> None:
    markets = MarketServer(serve, missing=("GB",))
    path = tmp_path / "run.json"
    options = {"on_error": "continue", "retries": 0}
    with pytest.warns(ExtapiWarning):
        AUDIENCE.extapi.enrich(markets.api(Recording(path, "record"), **options))

    with pytest.raises(HTTPStatusError, match="replayed from") as raised:
        AUDIENCE.extapi.enrich(markets.api(Recording(path, "replay"), retries=0))

    assert raised.value.status == 404


def test_failed_call_writes_no_recording(serve: Serve, tmp_path: Path) -> None:
    markets = MarketServer(serve, missing=("GB",))
    path = tmp_path / "run.json"

    with pytest.raises(HTTPStatusError):
        AUDIENCE.extapi.enrich(markets.api(Recording(path, "record"), retries=0))

    assert not path.exists()


def test_recording_holds_no_secret(serve: Serve, tmp_path: Path) -> None:
    markets = MarketServer(serve)
    path = tmp_path / "run.json"
    api = markets.api(
        Recording(path, "record"),
        auth=BearerToken(TOKEN),
        headers={"X-Api-Key": KEY},
        params={"market": "{market}", "api_key": KEY},
    )

    AUDIENCE.extapi.enrich(api)
    saved = path.read_bytes()

    assert b"body_base64" in saved
    assert TOKEN.encode() not in saved
    assert KEY.encode() not in saved
    assert COOKIE.encode() not in saved


def test_body_secret_masked_in_recording(
    serve: Serve, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    markets = MarketServer(serve)
    markets.echo_auth = True
    path = tmp_path / "run.json"
    api = markets.api(
        Recording(path, "record"),
        auth=BearerToken(TOKEN),
        columns={"seen": "$.seen"},
    )

    with caplog.at_level(logging.WARNING, logger="extapi_pandas.replay"):
        AUDIENCE.extapi.enrich(api)
    exchange = json.loads(path.read_text())["exchanges"][0]["response"]

    assert exchange["body_masked"] is True
    assert TOKEN.encode() not in base64.b64decode(exchange["body_base64"])
    assert "the recording keeps it masked" in caplog.text


def test_replay_of_demo_audience(demo_api: DemoAPI, tmp_path: Path) -> None:
    audience = make_audience(200, campaigns=4, seed=3)
    path = tmp_path / "demo.json"
    api = ExternalAPI(
        demo_api.url("/offers"),
        params={"market": "{market}"},
        campaign="campaign_id",
        columns={"offer": "$.offers[0].name", "currency": "$.currency"},
    )
    before = demo_api.request_count("/offers")
    recorded = audience.extapi.enrich(api, replay=Recording(path, "record"))

    replayed = audience.extapi.enrich(api, replay=Recording(path, "replay"))

    pd.testing.assert_frame_equal(replayed, recorded)
    assert demo_api.request_count("/offers") - before == 4


def write_recording(path: Path, document: Any) -> None:
    path.write_text(document if isinstance(document, str) else json.dumps(document))


INVALID_RECORDINGS = [
    (None, "does not exist; record it first"),
    ("{not json", "cannot be read as JSON"),
    ({"exchanges": []}, "is not an extapi-pandas recording"),
    (
        {"format": "extapi-pandas recording", "version": 99, "exchanges": []},
        "has version 99",
    ),
    (
        {"format": "extapi-pandas recording", "version": 1, "exchanges": [{"a": 1}]},
        "malformed 'exchanges' list",
    ),
]


@pytest.mark.parametrize(("document", "pattern"), INVALID_RECORDINGS)
def test_invalid_recording_rejected(
    tmp_path: Path, document: Any, pattern: str
) -> None:
    path = tmp_path / "run.json"
    if document is not None:
        write_recording(path, document)
    api = ExternalAPI(
        "http://127.0.0.1:9/x",
        columns={"a": "$.a"},
        replay=Recording(path, mode="replay"),
    )

    with pytest.raises(ConfigurationError, match=pattern):
        pd.DataFrame({"id": [1]}).extapi.enrich(api)


@pytest.mark.parametrize(
    ("factory", "pattern"),
    [
        (lambda: Recording("r.json", mode="play"), "invalid Recording mode='play'"),  # type: ignore[arg-type]
        (lambda: Recording(""), "Recording path must be a file path"),
        (
            lambda: ExternalAPI("http://127.0.0.1:9/x", columns={"a": "$.a"}, replay=5),
            "replay= must be a file path or a Recording",
        ),
    ],
)
def test_invalid_recording_option(factory: Callable[[], Any], pattern: str) -> None:
    with pytest.raises(ConfigurationError, match=pattern):
        factory()


def test_unknown_error_code_kept(serve: Serve, tmp_path: Path) -> None:
    markets = MarketServer(serve, missing=("GB",))
    path = tmp_path / "run.json"
    options = {"on_error": "continue", "retries": 0}
    with pytest.warns(ExtapiWarning):
        AUDIENCE.extapi.enrich(markets.api(Recording(path, "record"), **options))
    document = json.loads(path.read_text())
    failed = [item for item in document["exchanges"] if "error" in item]
    failed[0]["error"] = {"code": "quota_exceeded", "message": "over quota"}
    path.write_text(json.dumps(document))

    with pytest.warns(ExtapiWarning, match="quota_exceeded"):
        replayed = AUDIENCE.extapi.enrich(
            markets.api(Recording(path, "replay"), **options)
        )

    assert replayed["extapi_status"].tolist()[-1] == "quota_exceeded"
