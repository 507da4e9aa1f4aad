"""Tests of the per-profile data warning and the request limit of campaign calls."""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest
from aiohttp import web
from conftest import HITS

import extapi_pandas  # noqa: F401  (registers df.extapi)
from extapi_pandas import ExternalAPI, Payload, PerProfileDataWarning, PerProfileLimits
from extapi_pandas.demo import BackgroundServer
from extapi_pandas.errors import ConfigurationError
from extapi_pandas.perprofile import (
    file_route_call,
    payload_rows,
    payload_warning,
    profile_key_column,
)

Serve = Callable[..., BackgroundServer]


def profile_ids(count: int) -> list[str]:
    return [f"p{i:05d}" for i in range(count)]


def scores_server(serve: Serve, count: int) -> BackgroundServer:
    document = {
        "profiles": [
            {"profile_id": pid, "score": i / 10}
            for i, pid in enumerate(profile_ids(count))
        ]
    }

    async def handler(request: web.Request) -> web.Response:
        return web.json_response(document)

    return serve({"/scores": handler})


def lookup_options(**extra: Any) -> dict[str, Any]:
    return {
        "records": "$.profiles[*]",
        "on": {"profile_id": "profile_id"},
        "columns": {"score": "$.score"},
        **extra,
    }


def test_per_profile_lookup_warns(serve: Serve) -> None:
    server = scores_server(serve, 5000)
    audience = pd.DataFrame({"profile_id": profile_ids(5000), "campaign": "spring"})
    with pytest.warns(PerProfileDataWarning, match="enrich_from_file") as caught:
        enriched = audience.extapi.enrich(
            server.url("/scores"), campaign="campaign", **lookup_options()
        )
    message = str(caught[0].message)
    assert "5,000 records for 5,000 profiles" in message
    assert "df.extapi.enrich_from_file('profiles.parquet', on='profile_id'" in message
    assert caught[0].filename == __file__
    assert enriched["score"].notna().all()
    assert len(enriched) == 5000


def test_warning_kept_in_provenance(serve: Serve) -> None:
    server = scores_server(serve, 1000)
    audience = pd.DataFrame({"profile_id": profile_ids(1000)})
    with pytest.warns(PerProfileDataWarning):
        enriched = audience.extapi.enrich(server.url("/scores"), **lookup_options())
    assert any("enrich_from_file" in w for w in enriched.attrs["extapi"]["warnings"])


def test_warning_as_error_in_pipeline(serve: Serve) -> None:
    server = scores_server(serve, 1000)
    audience = pd.DataFrame({"profile_id": profile_ids(1000)})
    with warnings.catch_warnings():
        warnings.simplefilter("error", PerProfileDataWarning)
        with pytest.raises(PerProfileDataWarning, match="enrich_from_file"):
            audience.extapi.enrich(server.url("/scores"), **lookup_options())


def test_unique_key_few_records(serve: Serve) -> None:
    server = scores_server(serve, 10)
    audience = pd.DataFrame({"profile_id": profile_ids(1200)})
    with pytest.warns(
        PerProfileDataWarning, match="has 1,200 distinct values for 1,200 profiles"
    ):
        audience.extapi.enrich(server.url("/scores"), **lookup_options())


def test_small_lookup_no_warning(serve: Serve) -> None:
    regions = {
        "regions": [
            {"region": r, "temp": t}
            for r, t in [("north", 4.0), ("south", 11.5), ("east", 7)]
        ]
    }

    async def handler(request: web.Request) -> web.Response:
        return web.json_response(regions)

    server = serve({"/weather": handler})
    audience = pd.DataFrame({"region": ["north", "south", "east"] * 1000})
    with warnings.catch_warnings():
        warnings.simplefilter("error", PerProfileDataWarning)
        enriched = audience.extapi.enrich(
            server.url("/weather"),
            records="$.regions[*]",
            on={"region": "region"},
            columns={"temp": "$.temp"},
        )
    assert enriched["temp"].notna().all()


def test_thresholds_from_options(serve: Serve) -> None:
    server = scores_server(serve, 50)
    audience = pd.DataFrame({"profile_id": profile_ids(50)})
    with pytest.warns(PerProfileDataWarning, match="50 records for 50 profiles"):
        audience.extapi.enrich(
            server.url("/scores"), **lookup_options(per_profile={"min_records": 40})
        )


def test_large_body_warns(serve: Serve) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response({"offer": "spring", "terms": "x" * 4096})

    server = serve({"/offer": handler})
    audience = pd.DataFrame({"profile_id": profile_ids(3)})
    with pytest.warns(PerProfileDataWarning, match=r"larger than 1\.0 KiB") as caught:
        enriched = audience.extapi.enrich(
            server.url("/offer"),
            columns={"offer": "$.offer"},
            per_profile=PerProfileLimits(body_bytes=1024),
        )
    assert "returned 4.0 KiB" in str(caught[0].message)
    assert enriched["offer"].tolist() == ["spring"] * 3


def test_default_body_limit_quiet(serve: Serve) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response({"offer": "spring", "terms": "x" * 4096})

    server = serve({"/offer": handler})
    audience = pd.DataFrame({"profile_id": profile_ids(3)})
    with warnings.catch_warnings():
        warnings.simplefilter("error", PerProfileDataWarning)
        audience.extapi.enrich(server.url("/offer"), columns={"offer": "$.offer"})


async def echo_campaign(request: web.Request) -> web.Response:
    return web.json_response({"id": request.query.get("id")})


def test_campaign_column_nearly_unique(serve: Serve) -> None:
    server = serve({"/c": echo_campaign})
    audience = pd.DataFrame({"profile_id": profile_ids(120)})
    with pytest.warns(
        PerProfileDataWarning, match="have 120 distinct values in 120 rows"
    ) as caught:
        enriched = audience.extapi.enrich(
            server.url("/c"),
            params={"id": "{profile_id}"},
            campaign="profile_id",
            columns={"echo": "$.id"},
        )
    assert "enrich_from_file('profiles.parquet', on='profile_id'" in str(
        caught[0].message
    )
    assert enriched["echo"].tolist() == profile_ids(120)


def test_over_max_requests_rejected(serve: Serve) -> None:
    server = serve({"/c": echo_campaign})
    audience = pd.DataFrame({"profile_id": profile_ids(30)})
    with pytest.raises(ConfigurationError, match=r"30 requests, over max_requests=20"):
        audience.extapi.enrich(
            server.url("/c"),
            params={"id": "{profile_id}"},
            campaign="profile_id",
            columns={"echo": "$.id"},
            max_requests=20,
        )
    assert sum(server.app[HITS].values()) == 0


def test_default_request_limit(serve: Serve) -> None:
    server = serve({"/c": echo_campaign})
    audience = pd.DataFrame({"profile_id": profile_ids(1001)})
    with pytest.raises(ConfigurationError, match="pass max_requests=1001"):
        audience.extapi.enrich(
            server.url("/c"), campaign="profile_id", columns={"echo": "$.id"}
        )
    assert sum(server.app[HITS].values()) == 0


def test_raised_request_limit(serve: Serve) -> None:
    server = serve({"/c": echo_campaign})
    audience = pd.DataFrame({"profile_id": profile_ids(30)})
    enriched = audience.extapi.enrich(
        server.url("/c"),
        params={"id": "{profile_id}"},
        campaign="profile_id",
        columns={"echo": "$.id"},
        max_requests=30,
    )
    assert sum(server.app[HITS].values()) == 30
    assert enriched["echo"].tolist() == profile_ids(30)


def test_payload_rows_warn(serve: Serve) -> None:
    async def handler(request: web.Request) -> web.Response:
        body = await request.json()
        return web.json_response({"accepted": len(body["data"])})

    server = serve({"POST /score": handler})
    audience = pd.DataFrame({"profile_id": profile_ids(4)})
    rows = [{"id": pid} for pid in profile_ids(60)]
    with pytest.warns(PerProfileDataWarning, match="carries 60 data rows"):
        enriched = audience.extapi.enrich(
            server.url("/score"),
            method="POST",
            json={"data": rows},
            columns={"accepted": "$.accepted"},
            per_profile=PerProfileLimits(payload_rows=50),
        )
    assert enriched["accepted"].tolist() == [60] * 4


def test_payload_warning_threshold() -> None:
    limits = PerProfileLimits(payload_rows=100)
    assert payload_warning("spring", 99, limits) is None
    message = payload_warning("spring", 100, limits, on="profile_id", columns=["score"])
    assert message is not None
    assert (
        "enrich_from_file('profiles.parquet', on='profile_id', "
        "columns=['score'])" in message
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (None, 0),
        (b'{"data": [1, 2, 3]}', 3),
        (b"[1, 2, 3, 4]", 4),
        (b'{"outer": {"rows": [1, 2, 3]}}', 3),
        (b'{"a": {"b": {"rows": [1, 2, 3]}}}', 0),
        (b"not json at all", 0),
        (b"[1]", 0),
    ],
)
def test_payload_rows_counted(body: bytes | None, expected: int) -> None:
    assert payload_rows(body, 3) == expected


@pytest.mark.parametrize(
    ("on", "columns", "expected"),
    [
        (
            "profile_id",
            (),
            "df.extapi.enrich_from_file('profiles.parquet', on='profile_id')",
        ),
        (
            {"profile_id": "profile_id"},
            ["score"],
            "df.extapi.enrich_from_file('profiles.parquet', on='profile_id', "
            "columns=['score'])",
        ),
        (
            {"pid": "profile_id"},
            (),
            "df.extapi.enrich_from_file('profiles.parquet', on={'pid': 'profile_id'})",
        ),
    ],
)
def test_file_route_call(on: Any, columns: Any, expected: str) -> None:
    assert file_route_call(on, columns) == expected


@pytest.mark.parametrize(
    ("audience_columns", "key"),
    [
        (["campaign", "email", "profile_id"], "profile_id"),
        (["id", "CustomerID", "region"], "CustomerID"),
        (["region_id", "user-id"], "user-id"),
        (["campaign", "crm_contact_no"], "crm_contact_no"),
        (["store_id", "campaign", "id"], "id"),
        ([0, 1, "ID"], "ID"),
    ],
)
def test_profile_key_from_audience(audience_columns: list[Any], key: str) -> None:
    assert profile_key_column(audience_columns) == key
    assert file_route_call(None, audience_columns=audience_columns) == (
        f"df.extapi.enrich_from_file('profiles.parquet', on={key!r})"
    )


@pytest.mark.parametrize(
    "audience_columns",
    [[], ["campaign", "region", "store_id"], ["email", "score"], [0, 1]],
)
def test_file_route_call_key_placeholder(audience_columns: list[Any]) -> None:
    call = file_route_call(None, ["score"], audience_columns=audience_columns)

    assert call.startswith(
        "df.extapi.enrich_from_file('profiles.parquet', on='<key column>', "
        "columns=['score'])"
    )
    assert "# replace <key column> with the audience column" in call


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"min_records": 0}, "min_records must be a whole number"),
        ({"body_bytes": 1.5}, "body_bytes must be a whole number"),
        ({"payload_rows": True}, "payload_rows must be a whole number"),
        ({"record_share": 0}, "record_share must be a number above 0"),
        ({"unique_share": 1.5}, "unique_share must be a number above 0"),
        ({"min_recrods": 10}, "unknown per_profile field.*'min_recrods'"),
        ("strict", "per_profile must be PerProfileLimits"),
    ],
)
def test_invalid_limits(value: Any, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        ExternalAPI(
            "https://api.example.com/x", columns={"a": "$.a"}, per_profile=value
        )


@pytest.mark.parametrize("value", [0, -1, True, "5", 2.5])
def test_invalid_max_requests(value: Any) -> None:
    with pytest.raises(ConfigurationError, match="max_requests must be"):
        ExternalAPI(
            "https://api.example.com/x", columns={"a": "$.a"}, max_requests=value
        )


def test_limits_from_mapping() -> None:
    api = ExternalAPI(
        "https://api.example.com/x",
        columns={"a": "$.a"},
        per_profile={"body_bytes": 2048},
    )
    assert api.per_profile == PerProfileLimits(body_bytes=2048)
    assert json.dumps(api.per_profile.__dict__)


def offer_server(serve: Serve) -> BackgroundServer:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response({"offer": "spring", "terms": "x" * 4096})

    return serve({"/offer": handler})


@pytest.mark.parametrize(
    ("audience", "key"),
    [
        (
            pd.DataFrame({"CustomerID": ["c1", "c2"], "market": ["DE", "FR"]}),
            "on='CustomerID'",
        ),
        (
            pd.DataFrame({"email": ["a@x", "b@x"], "market": ["DE", "FR"]}),
            "on='<key column>'",
        ),
    ],
    ids=["key-column", "no-key-column"],
)
def test_body_warning_names_existing_key(
    serve: Serve, audience: pd.DataFrame, key: str
) -> None:
    server = offer_server(serve)

    with pytest.warns(PerProfileDataWarning, match="larger than") as caught:
        audience.extapi.enrich(
            server.url("/offer"),
            columns={"offer": "$.offer"},
            per_profile=PerProfileLimits(body_bytes=1024),
        )

    message = str(caught[0].message)
    assert f"enrich_from_file('profiles.parquet', {key}, columns=['offer'])" in message
    assert "profile_id" not in message


def test_request_limit_names_existing_key(serve: Serve) -> None:
    server = serve({"/c": echo_campaign})
    audience = pd.DataFrame(
        {"user_id": profile_ids(30), "market": ["DE"] * 30, "wave": range(30)}
    )

    with pytest.raises(ConfigurationError, match="over max_requests=20") as caught:
        audience.extapi.enrich(
            server.url("/c"),
            campaign=["market", "wave"],
            columns={"echo": "$.id"},
            max_requests=20,
        )

    assert "on='user_id'" in str(caught.value)
    assert "profile_id" not in str(caught.value)


def test_payload_warning_names_existing_key(serve: Serve) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response({"accepted": True})

    server = serve({"POST /score": handler})
    audience = pd.DataFrame({"score": range(5), "member_id": profile_ids(5)})

    with pytest.warns(PerProfileDataWarning, match="payload= sends") as caught:
        audience.extapi.enrich(
            server.url("/score"),
            method="POST",
            payload=Payload(data=["score"], max_data_rows=2),
            columns={"accepted": "$.accepted"},
        )

    assert "on='member_id'" in str(caught[0].message)
