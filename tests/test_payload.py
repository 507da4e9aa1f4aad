"""Request bodies built from the audience with payload=."""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from aiohttp import web

from extapi_pandas import (
    ConfigurationError,
    Payload,
    PerProfileDataWarning,
    TemplateError,
)
from extapi_pandas.demo import BackgroundServer
from extapi_pandas.payload import render_payloads

Serve = Callable[..., BackgroundServer]


@pytest.fixture
def echo(serve: Serve) -> tuple[str, dict[str, Any]]:
    """A POST endpoint that stores each body by its params.campaign."""
    bodies: dict[str, Any] = {}

    async def answer(request: web.Request) -> web.Response:
        body = await request.json()
        bodies[body["params"]["campaign"]] = body
        return web.json_response({"received": body.get("count")})

    return serve({"POST /score": answer}).url("/score"), bodies


AUDIENCE = pd.DataFrame(
    {
        "campaign": ["A", "B", "A", "A"],
        "market": ["DE", "NL", "DE", "DE"],
        "profile_id": [11, 21, 12, 13],
        "age": pd.array([30, 40, None, 20], dtype="Int64"),
        "store": ["s1", "s9", "s2", "s1"],
    }
)


def enrich(
    audience: pd.DataFrame, url: str, payload: Any, **options: Any
) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return audience.extapi.enrich(
            url,
            method="POST",
            campaign="campaign",
            payload=payload,
            columns={"received": "$.received"},
            retries=0,
            timeout=5,
            **options,
        )


def test_payload_body_per_campaign(echo: tuple[str, dict[str, Any]]) -> None:
    url, bodies = echo
    enrich(
        AUDIENCE,
        url,
        Payload(
            params={"campaign": "campaign", "market": "market"},
            aggregates={"age": ["min", "max", "sum"], "store": "nunique"},
        ),
    )
    assert bodies["A"] == {
        "params": {"campaign": "A", "market": "DE"},
        "count": 3,
        "aggregates": {
            "age": {"min": 20, "max": 30, "sum": 50},
            "store": {"nunique": 2},
        },
    }


def test_payload_count_mapped_back(echo: tuple[str, dict[str, Any]]) -> None:
    url, _ = echo
    result = enrich(AUDIENCE, url, {"params": ["campaign"]})
    assert result["received"].tolist() == [3, 1, 3, 3]


def test_payload_data_rows_in_order(echo: tuple[str, dict[str, Any]]) -> None:
    url, bodies = echo
    enrich(
        AUDIENCE,
        url,
        Payload(params=["campaign"], count=False, data=["profile_id", "age"]),
    )
    assert bodies["A"] == {
        "params": {"campaign": "A"},
        "data": [
            {"profile_id": 11, "age": 30},
            {"profile_id": 12, "age": None},
            {"profile_id": 13, "age": 20},
        ],
    }


def test_payload_skips_rows_without_campaign(echo: tuple[str, dict[str, Any]]) -> None:
    url, bodies = echo
    audience = AUDIENCE.assign(campaign=["A", None, "A", "A"])
    enrich(
        audience,
        url,
        Payload(params=["campaign"], data=["profile_id"]),
        missing_campaign="skip",
    )
    assert list(bodies) == ["A"]
    assert bodies["A"]["count"] == 3


def test_payload_sets_json_content_type(serve: Serve) -> None:
    seen: list[str] = []

    async def answer(request: web.Request) -> web.Response:
        seen.append(request.headers["Content-Type"])
        return web.json_response({"received": 1})

    url = serve({"POST /score": answer}).url("/score")
    enrich(AUDIENCE, url, {"params": ["campaign"]})
    assert seen == ["application/json", "application/json"]


# Per-profile data warning


def test_data_over_rows_warns(echo: tuple[str, dict[str, Any]]) -> None:
    url, _ = echo
    with pytest.warns(
        PerProfileDataWarning, match=r"campaign 'A' sends 3 rows in 'data'"
    ) as caught:
        AUDIENCE.extapi.enrich(
            url,
            method="POST",
            campaign="campaign",
            payload=Payload(params=["campaign"], data=["profile_id"], max_data_rows=2),
            columns={"received": "$.received"},
            retries=0,
            timeout=5,
        )
    assert caught[0].filename == __file__


def test_data_warning_names_file_route(echo: tuple[str, dict[str, Any]]) -> None:
    url, _ = echo
    with pytest.warns(
        PerProfileDataWarning,
        match=r"enrich_from_file\('profiles.parquet', "
        r"on='profile_id'\)",
    ):
        AUDIENCE.extapi.enrich(
            url,
            method="POST",
            campaign="campaign",
            payload=Payload(params=["campaign"], data=["profile_id"], max_data_rows=2),
            columns={"received": "$.received"},
            retries=0,
            timeout=5,
        )


def test_data_over_bytes_warns(echo: tuple[str, dict[str, Any]]) -> None:
    url, _ = echo
    with pytest.warns(PerProfileDataWarning, match=r"max_data_bytes=40\)"):
        AUDIENCE.extapi.enrich(
            url,
            method="POST",
            campaign="campaign",
            payload=Payload(
                params=["campaign"], data=["profile_id"], max_data_bytes=40
            ),
            columns={"received": "$.received"},
            retries=0,
            timeout=5,
        )


# The per-profile checks of the finished call add their own warning about the
# same body; this test is about the one raised while planning.
@pytest.mark.filterwarnings("ignore:campaign 'A'. the request body carries")
def test_default_row_limit_warns(echo: tuple[str, dict[str, Any]]) -> None:
    url, bodies = echo
    audience = pd.DataFrame({"campaign": "A", "profile_id": np.arange(1001)})
    with pytest.warns(PerProfileDataWarning, match="max_data_rows=1000"):
        audience.extapi.enrich(
            url,
            method="POST",
            campaign="campaign",
            payload=Payload(params=["campaign"], data=["profile_id"]),
            columns={"received": "$.received"},
            retries=0,
            timeout=5,
        )
    assert len(bodies["A"]["data"]) == 1001


def test_small_data_does_not_warn(echo: tuple[str, dict[str, Any]]) -> None:
    url, _ = echo
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        AUDIENCE.extapi.enrich(
            url,
            method="POST",
            campaign="campaign",
            payload=Payload(params=["campaign"], data=["profile_id"]),
            columns={"received": "$.received"},
            retries=0,
            timeout=5,
        )
    assert not [w for w in caught if issubclass(w.category, PerProfileDataWarning)]


# Invalid payloads


def test_varying_params_names_campaign(echo: tuple[str, dict[str, Any]]) -> None:
    url, _ = echo
    with pytest.raises(
        TemplateError,
        match=r"'store' varies within campaign 'A' \(for example "
        r"'s1' and 's2'\)",
    ):
        enrich(AUDIENCE, url, Payload(params=["campaign", "store"]))


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"method": "GET"}, "GET does not carry"),
        ({"json": {"a": 1}}, "payload= and json= both set the request body"),
    ],
)
def test_payload_rejects_call(options: dict[str, Any], match: str) -> None:
    options.setdefault("method", "POST")
    with pytest.raises(ConfigurationError, match=match):
        AUDIENCE.extapi.enrich(
            "http://127.0.0.1:9/x",
            payload={"count": True},
            columns={"a": "$.a"},
            **options,
        )


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        ({"aggregates": {"age": "mean"}}, "valid aggregates are nunique, min, max"),
        ({"aggregates": {"age": []}}, "valid aggregates are"),
        ({"aggregates": ["age"]}, "must map audience columns to aggregates"),
        ({"params": [1]}, "must be a list of audience column names"),
        ({"params": {"a": 1}}, "must map body names to audience column names"),
        ({"data": 5}, "must be a list of audience column names"),
        ({"count": "yes"}, "count must be True or False"),
        ({"max_data_rows": -1}, "max_data_rows must be a whole number"),
        ({"extra": 1}, r"unknown payload key\(s\) \['extra'\]"),
    ],
)
def test_payload_rejects_options(payload: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        Payload.coerce(payload)


def test_payload_rejects_other_types() -> None:
    with pytest.raises(ConfigurationError, match="must be a Payload or a dict"):
        Payload.coerce(["count"])  # type: ignore[arg-type]


def codes_of(audience: pd.DataFrame) -> tuple[np.ndarray[Any, Any], list[Any]]:
    codes, keys = pd.factorize(audience["campaign"])
    return codes, list(keys)


def bodies_of(payload: Payload, audience: pd.DataFrame) -> list[Any]:
    codes, keys = codes_of(audience)
    rendered = render_payloads(payload, audience, codes, keys)
    return [json.loads(body) for body in rendered.bodies]


def test_unknown_column_rejected() -> None:
    with pytest.raises(ConfigurationError, match=r"names column\(s\) 'nope'"):
        bodies_of(Payload(data=["nope"]), AUDIENCE)


def test_sum_of_text_rejected() -> None:
    with pytest.raises(ConfigurationError, match="'sum' needs a numeric column"):
        bodies_of(Payload(aggregates={"store": "sum"}), AUDIENCE)


def test_aggregates_of_categories_and_dates() -> None:
    audience = pd.DataFrame(
        {
            "campaign": ["A", "A"],
            "tier": pd.Categorical(["gold", "silver"]),
            "joined": pd.to_datetime(["2024-01-02", "2023-05-06"]),
        }
    )
    body = bodies_of(
        Payload(aggregates={"tier": ["min", "nunique"], "joined": "min"}), audience
    )[0]
    assert body["aggregates"] == {
        "tier": {"min": "gold", "nunique": 2},
        "joined": {"min": "2023-05-06T00:00:00"},
    }


def test_aggregate_of_all_null_is_null() -> None:
    audience = pd.DataFrame({"campaign": ["A"], "age": pd.array([None], dtype="Int64")})
    body = bodies_of(Payload(aggregates={"age": ["min", "nunique"]}), audience)[0]
    assert body["aggregates"] == {"age": {"min": None, "nunique": 0}}
