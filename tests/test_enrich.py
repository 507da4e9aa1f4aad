"""End-to-end tests of `df.extapi.enrich` against loopback servers of the tests."""

from __future__ import annotations

import asyncio
import copy
import gc
import json
import logging
import re
import threading
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import aiohttp
import numpy as np
import pandas as pd
import pytest
from aiohttp import web

import extapi_pandas
from extapi_pandas import Column, ExternalAPI
from extapi_pandas.accessor import ExtapiAccessor
from extapi_pandas.demo import BackgroundServer, DemoAPI, make_audience
from extapi_pandas.errors import (
    AttachError,
    ConfigurationError,
    ExtapiError,
    GuardError,
    HTTPStatusError,
    InvalidJSON,
    InvalidPathError,
    MappingError,
    RequestTimeout,
)

Serve = Callable[..., BackgroundServer]
OFFER_COLUMNS = {"offer": "$.offers[0].name", "currency": "$.currency"}


class Recorder:
    """A loopback server that counts requests, tracks concurrency and echoes them.

    With `gate=n`, each request waits until n requests are in flight at once, so a
    client that sends n concurrent requests reaches n for sure. After one second
    without reaching n the gate opens for good, and the test sees the lower count.
    """

    def __init__(
        self,
        serve: Serve,
        *,
        delay: float = 0.0,
        status: int = 200,
        gate: int | None = None,
    ) -> None:
        self.seen: list[dict[str, Any]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.delay = delay
        self.status = status
        self.gate = gate
        self._gate_open: asyncio.Event | None = None
        self.server = serve({"* /{tail:.*}": self._handle})

    async def _wait_for_gate(self) -> None:
        if self.gate is None:
            return
        if self._gate_open is None:
            self._gate_open = asyncio.Event()
        if self.in_flight >= self.gate:
            self._gate_open.set()
        try:
            await asyncio.wait_for(self._gate_open.wait(), timeout=1.0)
        except TimeoutError:
            self._gate_open.set()

    async def _handle(self, request: web.Request) -> web.Response:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await self._wait_for_gate()
            if self.delay:
                await asyncio.sleep(self.delay)
            raw = await request.read()
            peer = (
                request.transport.get_extra_info("peername")
                if request.transport
                else None
            )
            info = {
                "method": request.method,
                "path": request.path,
                "query": dict(request.query),
                "content_type": request.headers.get("Content-Type"),
                "body": json.loads(raw) if raw else None,
                "peer": list(peer) if peer else None,
            }
            self.seen.append(info)
            return web.json_response(info, status=self.status)
        finally:
            self.in_flight -= 1

    def url(self, path: str) -> str:
        return self.server.url(path)


@pytest.fixture
def recorder(serve: Serve) -> Recorder:
    return Recorder(serve)


@pytest.fixture
def audience() -> pd.DataFrame:
    return make_audience(60, campaigns=4, seed=3)


def offers(demo_api: DemoAPI, frame: pd.DataFrame, **options: Any) -> pd.DataFrame:
    return frame.extapi.enrich(
        demo_api.url("/offers"),
        params={"market": "{market}"},
        campaign="campaign_id",
        columns=OFFER_COLUMNS,
        **options,
    )


def without_provenance(frame: pd.DataFrame) -> pd.DataFrame:
    plain = frame.copy()
    plain.attrs = {}
    return plain


def campaigns_frame(campaigns: int, rows_per_campaign: int = 2) -> pd.DataFrame:
    keys = np.repeat([f"C{i:03d}" for i in range(campaigns)], rows_per_campaign)
    return pd.DataFrame({"key": pd.array(keys, dtype="str")})


def unclosed_sessions() -> list[str]:
    """Collect garbage and return the unclosed sessions found or warned about."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gc.collect()
        live = [
            repr(o)
            for o in gc.get_objects()
            if isinstance(o, aiohttp.ClientSession) and not o.closed
        ]
    return live + [str(w.message) for w in caught if "Unclosed" in str(w.message)]


def extapi_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("extapi")]


def test_import_registers_accessor(audience: pd.DataFrame) -> None:
    assert isinstance(audience.extapi, ExtapiAccessor)


def test_enrich_adds_columns(demo_api: DemoAPI, audience: pd.DataFrame) -> None:
    result = offers(demo_api, audience)

    assert list(result.columns) == [*audience.columns, "offer", "currency"]
    first = result.loc[result["market"] == "DE"].iloc[0]
    assert first["offer"] == "Wanderrucksack 30 L"
    assert first["currency"] == "EUR"


def test_enrich_returns_new_frame(demo_api: DemoAPI, audience: pd.DataFrame) -> None:
    result = offers(demo_api, audience)

    assert result is not audience
    assert "offer" not in audience.columns


def test_enrich_never_mutates_audience(demo_api: DemoAPI) -> None:
    frame = make_audience(40, campaigns=3)
    frame.index = pd.Index([f"p{i}" for i in range(40)], name="profile")
    frame.attrs["source"] = {"file": "crm.parquet", "rows": [1, 2]}
    before = copy.deepcopy(frame)

    offers(demo_api, frame)

    pd.testing.assert_frame_equal(frame, before, check_exact=True)
    assert frame.dtypes.to_dict() == before.dtypes.to_dict()
    assert frame.index.equals(before.index)
    assert frame.attrs == before.attrs


def test_failed_enrich_never_mutates(recorder: Recorder) -> None:
    frame = pd.DataFrame({"key": ["a", "b"], "x": [1.0, 2.0]})
    frame.attrs["k"] = [1]
    before = copy.deepcopy(frame)

    with pytest.raises(MappingError):
        frame.extapi.enrich(recorder.url("/x"), campaign="key", columns={"m": "$.*"})

    pd.testing.assert_frame_equal(frame, before)
    assert frame.attrs == before.attrs


@pytest.mark.asyncio
async def test_aenrich_matches_enrich(demo_api: DemoAPI) -> None:
    frame = make_audience(30, campaigns=3)
    before = copy.deepcopy(frame)

    result = await frame.extapi.aenrich(
        demo_api.url("/offers"),
        params={"market": "{market}"},
        campaign="campaign_id",
        columns=OFFER_COLUMNS,
    )
    expected = await asyncio.to_thread(offers, demo_api, frame)

    pd.testing.assert_frame_equal(
        without_provenance(result), without_provenance(expected)
    )
    pd.testing.assert_frame_equal(frame, before)
    assert frame.attrs == before.attrs


@pytest.mark.asyncio
async def test_aenrich_accepts_definition(recorder: Recorder) -> None:
    api = ExternalAPI(recorder.url("/a"), campaign="key", columns={"m": "$.method"})

    result = await campaigns_frame(2).extapi.aenrich(api)

    assert result["m"].tolist() == ["GET"] * 4


@pytest.mark.asyncio
async def test_enrich_inside_running_loop(demo_api: DemoAPI) -> None:
    frame = make_audience(30, campaigns=3)
    outside = await asyncio.to_thread(offers, demo_api, frame)
    threads_before = set(threading.enumerate())

    inside = offers(demo_api, frame)

    pd.testing.assert_frame_equal(
        without_provenance(inside), without_provenance(outside)
    )
    assert set(threading.enumerate()) == threads_before


def test_enrich_from_asyncio_run(demo_api: DemoAPI) -> None:
    frame = make_audience(30, campaigns=3)
    outside = offers(demo_api, frame)

    async def main() -> pd.DataFrame:
        asyncio.get_running_loop()  # the sync call below runs under a live loop
        return offers(demo_api, frame)

    inside = asyncio.run(main())

    pd.testing.assert_frame_equal(
        without_provenance(inside), without_provenance(outside)
    )
    assert extapi_threads() == []


def test_no_thread_left_after_error(recorder: Recorder) -> None:
    with pytest.raises(MappingError):
        campaigns_frame(3).extapi.enrich(
            recorder.url("/x"), campaign="key", columns={"m": "$.*"}
        )

    assert extapi_threads() == []


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "post"])
def test_method_reaches_server(recorder: Recorder, method: str) -> None:
    body = None if method == "GET" else {"n": "{count}"}

    campaigns_frame(1, 3).extapi.enrich(
        recorder.url("/m"),
        method=method,
        json=body,
        campaign="key",
        columns={"m": "$.method"},
    )

    seen = recorder.seen[0]
    assert seen["method"] == method.upper()
    assert seen["body"] == (None if body is None else {"n": 3})
    assert seen["content_type"] == (None if body is None else "application/json")


def test_one_session_per_call(serve: Serve) -> None:
    recorder = Recorder(serve)
    frame = campaigns_frame(10)

    frame.extapi.enrich(
        recorder.url("/s"), campaign="key", columns={"m": "$.method"}, max_concurrency=1
    )
    first_call = {tuple(r["peer"]) for r in recorder.seen}
    frame.extapi.enrich(
        recorder.url("/s"), campaign="key", columns={"m": "$.method"}, max_concurrency=1
    )
    both_calls = {tuple(r["peer"]) for r in recorder.seen}

    assert len(recorder.seen) == 20
    assert len(first_call) == 1
    assert len(both_calls) == 2


def test_session_closed_after_success(recorder: Recorder) -> None:
    campaigns_frame(3).extapi.enrich(
        recorder.url("/s"), campaign="key", columns={"m": "$.method"}
    )

    assert unclosed_sessions() == []


@pytest.mark.parametrize(
    ("status", "columns", "error"),
    [
        (404, {"m": "$.method"}, HTTPStatusError),
        (200, {"m": "$.*"}, MappingError),
        (200, {"m": Column("$.nope", required=True)}, MappingError),
    ],
    ids=["http_404", "several_nodes", "required_missing"],
)
def test_session_closed_after_error(
    serve: Serve, status: int, columns: dict[str, Any], error: type[Exception]
) -> None:
    recorder = Recorder(serve, status=status)

    with pytest.raises(error):
        campaigns_frame(5).extapi.enrich(
            recorder.url("/s"), campaign="key", columns=columns, retries=0
        )

    assert unclosed_sessions() == []


def test_session_closed_after_invalid_json(serve: Serve) -> None:
    async def broken(request: web.Request) -> web.Response:
        return web.Response(text="{not json", content_type="application/json")

    server = serve({"/bad": broken})

    with pytest.raises(InvalidJSON):
        campaigns_frame(2).extapi.enrich(
            server.url("/bad"), campaign="key", columns={"m": "$.m"}
        )

    assert unclosed_sessions() == []


@pytest.mark.asyncio
async def test_aenrich_closes_session_on_error(serve: Serve) -> None:
    recorder = Recorder(serve, status=500)

    with pytest.raises(HTTPStatusError):
        await campaigns_frame(3).extapi.aenrich(
            recorder.url("/s"), campaign="key", columns={"m": "$.method"}, retries=0
        )

    assert unclosed_sessions() == []


def test_concurrency_is_bounded(serve: Serve) -> None:
    recorder = Recorder(serve, gate=4, delay=0.005)

    campaigns_frame(40).extapi.enrich(
        recorder.url("/c"), campaign="key", columns={"m": "$.method"}, max_concurrency=4
    )

    assert len(recorder.seen) == 40
    assert recorder.max_in_flight == 4


def test_default_concurrency_is_sixteen(serve: Serve) -> None:
    recorder = Recorder(serve, gate=16, delay=0.005)

    campaigns_frame(40).extapi.enrich(
        recorder.url("/c"), campaign="key", columns={"m": "$.method"}
    )

    assert len(recorder.seen) == 40
    assert recorder.max_in_flight == 16


def test_max_concurrency_one_is_serial(serve: Serve) -> None:
    recorder = Recorder(serve, delay=0.01)

    campaigns_frame(5).extapi.enrich(
        recorder.url("/c"), campaign="key", columns={"m": "$.method"}, max_concurrency=1
    )

    assert recorder.max_in_flight == 1


def test_default_timeout_is_sixty_seconds() -> None:
    api = ExternalAPI("https://api.example.com/x", columns={"m": "$.m"})

    assert api.timeout.total == 60.0


def test_total_timeout_stops_slow_body(serve: Serve) -> None:
    async def trickle(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        await response.write(b"[")
        for _ in range(100):  # about 2 s in all, each gap under the read timeout
            await asyncio.sleep(0.02)
            await response.write(b"1,")
        await response.write(b"1]")
        return response

    server = serve({"/slow": trickle})

    with pytest.raises(RequestTimeout, match=r"total timeout of 0.3 s") as caught:
        campaigns_frame(1).extapi.enrich(
            server.url("/slow"), campaign="key", columns={"m": "$[0]"}, timeout=0.3
        )

    assert isinstance(caught.value, TimeoutError)
    assert caught.value.campaign == "C000"
    assert unclosed_sessions() == []


def test_invalid_path_raises_before_request(recorder: Recorder) -> None:
    with pytest.raises(
        InvalidPathError,
        match=r"invalid JSONPath '\$\.offers\[0' for column 'offer'"
        r".* at position 10",
    ) as caught:
        campaigns_frame(2).extapi.enrich(
            recorder.url("/x"), campaign="key", columns={"offer": "$.offers[0"}
        )

    assert isinstance(caught.value, ValueError)
    assert recorder.seen == []


def test_no_node_gives_null(recorder: Recorder) -> None:
    result = campaigns_frame(2).extapi.enrich(
        recorder.url("/x"), campaign="key", columns={"m": "$.method", "n": "$.nope"}
    )

    assert result["n"].isna().all()
    assert result["m"].notna().all()


def test_required_column_without_node(recorder: Recorder) -> None:
    with pytest.raises(
        MappingError,
        match=r"required column\(s\) matched no node: 'n' \(JSONPath '\$\.nope'\) "
        r"for campaign\(s\) 'C000', 'C001'",
    ):
        campaigns_frame(2).extapi.enrich(
            recorder.url("/x"),
            campaign="key",
            columns={"n": Column("$.nope", required=True)},
        )


def test_several_nodes_name_path_count(recorder: Recorder) -> None:
    with pytest.raises(
        MappingError, match=r"column 'q': JSONPath '\$\.query\.\*' matched 2 nodes"
    ):
        campaigns_frame(1).extapi.enrich(
            recorder.url("/x?a=1&b=2"), campaign="key", columns={"q": "$.query.*"}
        )


def test_inferred_dtypes_are_nullable(serve: Serve) -> None:
    bodies = {
        "a": {"n": 5, "x": 1.5, "s": "hi", "b": True},
        "b": {"n": None, "x": None, "s": None, "b": None},
    }

    async def reply(request: web.Request) -> web.Response:
        return web.json_response(bodies[request.match_info["key"]])

    server = serve({"/r/{key}": reply})
    frame = pd.DataFrame({"key": ["a", "b", "a"]})

    result = frame.extapi.enrich(
        server.url("/r/{key}"),
        campaign="key",
        columns={"n": "$.n", "x": "$.x", "s": "$.s", "b": "$.b"},
        strings="str",
    )

    assert result["n"].dtype == "Int64"
    assert result["x"].dtype == "Float64"
    assert result["b"].dtype == "boolean"
    assert result["s"].dtype == "string"
    assert result["n"].tolist() == [5, pd.NA, 5]
    assert result["s"].tolist() == ["hi", pd.NA, "hi"]


def test_string_columns_default_category(
    demo_api: DemoAPI, audience: pd.DataFrame
) -> None:
    result = offers(demo_api, audience)

    assert isinstance(result["offer"].dtype, pd.CategoricalDtype)
    assert result["offer"].cat.categories.dtype == "str"


def test_strings_str_keeps_strings(demo_api: DemoAPI, audience: pd.DataFrame) -> None:
    result = offers(demo_api, audience, strings="str")

    assert isinstance(result["offer"].dtype, pd.StringDtype)


def test_category_and_str_hold_same_values(
    demo_api: DemoAPI, audience: pd.DataFrame
) -> None:
    as_category = offers(demo_api, audience)
    as_str = offers(demo_api, audience, strings="str")

    assert as_category["offer"].astype(str).tolist() == as_str["offer"].tolist()


def test_conflict_raises_before_request(recorder: Recorder) -> None:
    frame = pd.DataFrame({"key": ["a"], "m": [1]})

    with pytest.raises(
        AttachError,
        match=r"new column\(s\) 'm' already exist.*"
        r"on_conflict='overwrite'.*on_conflict='suffix'",
    ):
        frame.extapi.enrich(
            recorder.url("/x"), campaign="key", columns={"m": "$.method"}
        )

    assert recorder.seen == []


def test_empty_audience_sends_nothing(recorder: Recorder) -> None:
    frame = pd.DataFrame({"key": pd.Series([], dtype="str")})

    result = frame.extapi.enrich(
        recorder.url("/x"), campaign="key", columns={"m": "$.method"}
    )

    assert recorder.seen == []
    assert list(result.columns) == ["key", "m"]
    assert len(result) == 0


def test_on_error_continue_marks_rows(serve: Serve) -> None:
    async def reply(request: web.Request) -> web.Response:
        if request.match_info["key"] == "bad":
            return web.json_response({"error": "down"}, status=503)
        return web.json_response({"v": 1})

    server = serve({"/r/{key}": reply})
    frame = pd.DataFrame({"key": ["ok", "bad", "ok"]})

    with pytest.warns(extapi_pandas.ExtapiWarning, match="1 of 2 campaign"):
        result = frame.extapi.enrich(
            server.url("/r/{key}"),
            campaign="key",
            columns={"v": "$.v"},
            on_error="continue",
            retries=0,
        )

    assert result["v"].tolist() == [1, pd.NA, 1]
    assert result["extapi_status"].tolist() == ["ok", "http_503", "ok"]


def test_logs_one_info_line_per_request(
    recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="extapi_pandas")

    campaigns_frame(3).extapi.enrich(
        recorder.url("/log"),
        campaign="key",
        params={"k": "{key}"},
        columns={"m": "$.method"},
    )

    lines = [
        r
        for r in caplog.records
        if r.name.startswith("extapi_pandas") and " -> " in r.getMessage()
    ]
    assert len(lines) == 3
    assert all(r.levelno == logging.INFO for r in lines)
    pattern = re.compile(
        r"^GET http://127\.0\.0\.1:\d+/log\?k=C00\d -> 200 "
        r"\(\d+ bytes, \d+\.\d+ s"
    )
    assert all(pattern.match(r.getMessage()) for r in lines)


def test_log_lines_redact_secrets(
    recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="extapi_pandas")
    secret = "tok-5e3c7e7-planted"

    result = campaigns_frame(2).extapi.enrich(
        recorder.url("/log"),
        campaign="key",
        params={"api_key": secret},
        headers={"Authorization": f"Bearer {secret}"},
        columns={"m": "$.method"},
    )

    assert recorder.seen[0]["query"] == {"api_key": secret}
    assert caplog.records
    assert all(secret not in r.getMessage() for r in caplog.records)
    assert any("api_key=[secure]" in r.getMessage() for r in caplog.records)
    assert secret not in json.dumps(result.attrs["extapi"])


def test_library_adds_no_log_handlers() -> None:
    names = [
        name
        for name in logging.root.manager.loggerDict
        if name == "extapi_pandas" or name.startswith("extapi_pandas.")
    ]

    assert logging.getLogger("extapi_pandas").handlers == []
    assert [n for n in names if logging.getLogger(n).handlers] == []


def test_every_error_derives_from_root() -> None:
    classes = [
        getattr(extapi_pandas.errors, name) for name in extapi_pandas.errors.__all__
    ]
    errors = [
        c
        for c in classes
        if issubclass(c, BaseException) and not issubclass(c, Warning)
    ]

    assert len(errors) > 15
    assert [c.__name__ for c in errors if not issubclass(c, ExtapiError)] == []


def test_configuration_errors_are_value_errors() -> None:
    subclasses = [ConfigurationError, *ConfigurationError.__subclasses__()]

    assert all(issubclass(c, ValueError) for c in subclasses)


def test_unknown_option_lists_valid(recorder: Recorder) -> None:
    with pytest.raises(ConfigurationError) as caught:
        campaigns_frame(1).extapi.enrich(
            recorder.url("/x"), colums={"m": "$.m"}, campain="key"
        )

    message = str(caught.value)
    assert "unknown option(s) 'campain', 'colums'" in message
    for valid in ("campaign", "columns", "records", "on_conflict", "max_bytes"):
        assert valid in message
    assert recorder.seen == []


INVALID_OPTIONS: list[tuple[dict[str, Any], type[Exception], str]] = [
    (
        {"method": "DELETE"},
        ConfigurationError,
        r"invalid method='DELETE'; valid values are 'GET', 'POST', 'PUT'",
    ),
    (
        {"json": {"a": 1}},
        ConfigurationError,
        r"json= sends a request body, which GET does not carry.*method='POST'",
    ),
    (
        {"on": {"key": "k"}},
        ConfigurationError,
        r"on= looks rows up in a list of records, so it needs records=",
    ),
    (
        {"records": "$.items[*]"},
        ConfigurationError,
        r"records= gives several rows .*on=.*assign='sequential'",
    ),
    (
        {"assign": "sequential"},
        ConfigurationError,
        r"assign='sequential' needs records=",
    ),
    (
        {"assign": "lookup", "records": "$.items"},
        ConfigurationError,
        r"assign='lookup' needs on=",
    ),
    (
        {"assign": "broadcast", "records": "$.items"},
        ConfigurationError,
        r"records= gives several rows per campaign, so they cannot be broadcast",
    ),
    (
        {"assign": "random"},
        ConfigurationError,
        r"invalid assign='random'; valid values are 'broadcast', 'lookup', "
        r"'sequential'",
    ),
    (
        {"on": {}, "records": "$.items"},
        ConfigurationError,
        r"on= maps audience columns to response columns",
    ),
    (
        {"max_concurrency": 0},
        ConfigurationError,
        r"max_concurrency must be a whole number of 1 or more, got 0",
    ),
    (
        {"max_concurrency": True},
        ConfigurationError,
        r"max_concurrency must be a whole number of 1 or more, got True",
    ),
    ({"max_concurrency": 2.5}, ConfigurationError, r"max_concurrency .* got 2\.5"),
    ({"timeout": -1}, ConfigurationError, r"timeout\.total must be more than zero"),
    (
        {"timeout": "fast"},
        ConfigurationError,
        r"timeout\.total must be a number, got str 'fast'",
    ),
    ({"retries": -1}, ConfigurationError, r"Retry\.attempts must be zero or more"),
    (
        {"columns": {}},
        ConfigurationError,
        r"columns= must map each output column to a JSONPath",
    ),
    (
        {"columns": ["$.a"]},
        ConfigurationError,
        r"columns= must map each output column to a JSONPath",
    ),
    (
        {"columns": {"a": 5}},
        ConfigurationError,
        r"column 'a' must be a JSONPath string or a Column, got int 5",
    ),
    (
        {"columns": {"": "$.a"}},
        ConfigurationError,
        r"output column names must be non-empty strings",
    ),
    (
        {"columns": {"a": "a.b"}},
        InvalidPathError,
        r"invalid JSONPath 'a\.b' for column 'a': a path starts with '\$'",
    ),
    (
        {"columns": {"a": "$.a[?"}},
        InvalidPathError,
        r"invalid JSONPath '\$\.a\[\?' for column 'a': .* at position \d+",
    ),
    (
        {"records": "$.items[", "assign": "sequential"},
        InvalidPathError,
        r"invalid JSONPath '\$\.items\[' for records=",
    ),
    (
        {"on_error": "ignore"},
        ConfigurationError,
        r"invalid on_error='ignore'; valid values are 'raise', 'continue'",
    ),
    (
        {"on_conflict": "replace"},
        ConfigurationError,
        r"invalid on_conflict='replace'; valid values are 'raise', 'overwrite', "
        r"'suffix'",
    ),
    (
        {"missing_campaign": "drop"},
        ConfigurationError,
        r"invalid missing_campaign='drop'; valid values are 'raise', 'skip'",
    ),
    (
        {"strings": "object"},
        ConfigurationError,
        r"invalid strings='object'; valid values are 'category', 'str'",
    ),
    ({"verify": False}, ConfigurationError, r"certificate checks cannot be turned off"),
    (
        {"auth": "secret-token"},
        ConfigurationError,
        r"auth must be an Auth scheme such as BearerToken\(\.\.\.\), got str",
    ),
    ({"guard": {"max_bytes": 1}}, ConfigurationError, r"guard must be a Guard"),
    ({"max_bytes": 0}, ConfigurationError, r"Guard\.max_bytes must be more than zero"),
    (
        {"schema": 42},
        ConfigurationError,
        r"schema= must be a pandera DataFrameSchema or DataFrameModel class, got int",
    ),
    (
        {"campaign": "nope"},
        ConfigurationError,
        r"campaign column 'nope' is not in the audience; its columns are 'key'",
    ),
    (
        {"on": {"nope": "k"}, "records": "$.items"},
        ConfigurationError,
        r"on= names audience column 'nope', which the audience does not have",
    ),
    (
        {"url": "http://127.0.0.1/"},
        ConfigurationError,
        r"pass the URL once, as the first argument",
    ),
]


@pytest.mark.parametrize(
    ("changes", "error", "pattern"),
    INVALID_OPTIONS,
    ids=[f"{i}-{next(iter(c))}" for i, (c, _, _) in enumerate(INVALID_OPTIONS)],
)
def test_invalid_options_rejected(
    recorder: Recorder, changes: dict[str, Any], error: type[Exception], pattern: str
) -> None:
    options: dict[str, Any] = {"campaign": "key", "columns": {"m": "$.method"}}
    options.update(changes)

    with pytest.raises(error, match=pattern) as caught:
        campaigns_frame(2).extapi.enrich(recorder.url("/x"), **options)

    assert isinstance(caught.value, ConfigurationError)
    assert isinstance(caught.value, ValueError)
    assert recorder.seen == []


@pytest.mark.parametrize("source", [42, None, b"http://127.0.0.1/"])
def test_invalid_source_rejected(source: Any) -> None:
    with pytest.raises(
        ConfigurationError, match=r"source must be a URL string or an ExternalAPI"
    ):
        campaigns_frame(1).extapi.enrich(source, columns={"m": "$.m"})


def test_scheme_guard_sends_nothing(recorder: Recorder) -> None:
    url = recorder.url("/x").replace("http://", "ftp://")

    with pytest.raises(GuardError, match=r"scheme 'ftp'"):
        campaigns_frame(1).extapi.enrich(url, campaign="key", columns={"m": "$.m"})

    assert recorder.seen == []


@pytest.fixture
def quiet_warnings() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def test_clean_run_emits_no_warning(recorder: Recorder, quiet_warnings: None) -> None:
    result = campaigns_frame(3).extapi.enrich(
        recorder.url("/x"), campaign="key", columns={"m": "$.method"}
    )

    assert result.attrs["extapi"]["warnings"] == []
