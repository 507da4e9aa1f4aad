"""Tests for `extapi_pandas.extract` and the extract and validate stages of `enrich`."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pytest
from aiohttp import web

import extapi_pandas
from extapi_pandas import Column, extract
from extapi_pandas.demo import BackgroundServer
from extapi_pandas.errors import (
    ConfigurationError,
    InvalidPathError,
    MappingError,
    ValidationError,
)

Serve = Callable[..., BackgroundServer]

OFFERS = {
    "market": "DE",
    "currency": "EUR",
    "offers": [
        {
            "id": 4101,
            "name": "Rucksack",
            "price": "79.90",
            "discount_pct": 15,
            "valid_until": "2026-12-31T23:59:59+01:00",
            "tags": ["outdoor"],
        },
        {
            "id": 4102,
            "name": "Thermos",
            "price": "19.90",
            "discount_pct": None,
            "valid_until": "2026-08-31T23:59:59+02:00",
            "tags": [],
        },
        {
            "id": 4103,
            "name": "Zelt",
            "price": "x",
            "discount_pct": 25,
            "tags": ["camping"],
        },
    ],
}
OFFER_COLUMNS: dict[str, str | Column] = {
    "id": "$.id",
    "name": "$.name",
    "discount_pct": "$.discount_pct",
}


class PriceModel(pa.DataFrameModel):
    id: int = pa.Field(ge=4000)
    discount_pct: float = pa.Field(ge=0, le=20, nullable=True)


PRICE_SCHEMA = pa.DataFrameSchema(
    {
        "id": pa.Column(int, pa.Check.ge(4000)),
        "discount_pct": pa.Column(float, pa.Check.le(20), nullable=True),
    }
)


def document_server(serve: Serve, documents: dict[str, Any]) -> BackgroundServer:
    """Serve `/d/{key}` with the JSON document stored under that key."""

    async def reply(request: web.Request) -> web.Response:
        return web.json_response(documents[request.match_info["key"]])

    return serve({"/d/{key}": reply})


def test_extract_one_row() -> None:
    frame = extract(OFFERS, columns={"market": "$.market", "first": "$.offers[0].name"})

    assert frame.to_dict("records") == [{"market": "DE", "first": "Rucksack"}]


def test_extract_records_relative_paths() -> None:
    frame = extract(OFFERS, columns=OFFER_COLUMNS, records="$.offers[*]")

    assert frame["id"].tolist() == [4101, 4102, 4103]
    assert frame["name"].tolist() == ["Rucksack", "Thermos", "Zelt"]


def test_extract_records_array_path() -> None:
    with_star = extract(OFFERS, columns=OFFER_COLUMNS, records="$.offers[*]")

    without_star = extract(OFFERS, columns=OFFER_COLUMNS, records="$.offers")

    pd.testing.assert_frame_equal(with_star, without_star)


def test_extract_records_no_match() -> None:
    frame = extract(OFFERS, columns=OFFER_COLUMNS, records="$.nothing[*]")

    assert len(frame) == 0
    assert list(frame.columns) == list(OFFER_COLUMNS)


def test_extract_infers_nullable_dtypes() -> None:
    frame = extract(OFFERS, columns=OFFER_COLUMNS, records="$.offers[*]")

    assert frame["id"].dtype == "Int64"
    assert frame["discount_pct"].dtype == "Int64"
    assert frame["discount_pct"].tolist() == [15, pd.NA, 25]
    assert frame["name"].dtype == "string"


def test_extract_missing_node_is_na() -> None:
    frame = extract(OFFERS, columns={"until": "$.valid_until"}, records="$.offers[*]")

    assert frame["until"].dtype == "string"
    assert frame["until"].isna().tolist() == [False, False, True]
    assert frame["until"].iloc[2] is pd.NA


def test_extract_big_integers_exact() -> None:
    frame = extract({"a": 2**53 + 1, "b": None}, columns={"a": "$.a"})

    assert frame["a"].dtype == "Int64"
    assert int(frame["a"].iloc[0]) == 2**53 + 1


def test_extract_float_with_null() -> None:
    frame = extract(
        {"rows": [{"v": 1.5}, {"v": None}, {"v": 2}]},
        columns={"v": "$.v"},
        records="$.rows",
    )

    assert frame["v"].dtype == "Float64"
    assert frame["v"].tolist() == [1.5, pd.NA, 2.0]


def test_extract_declared_dtype_converts() -> None:
    columns = {
        "price": Column("$.price", dtype="Float64"),
        "until": Column("$.valid_until", dtype="datetime64[ns, UTC]"),
    }

    frame = extract(OFFERS["offers"][0], columns=columns)

    assert frame["price"].tolist() == [79.9]
    assert frame["until"].iloc[0] == pd.Timestamp("2026-12-31T22:59:59Z")


def test_extract_declared_dtype_failure() -> None:
    columns = {"id": "$.id", "price": Column("$.price", dtype="Float64")}

    with pytest.raises(
        ValidationError, match=r"column 'price': value 'x' failed dtype\('Float64'\)"
    ):
        extract(OFFERS, columns=columns, records="$.offers[*]")


def test_extract_many_keeps_list() -> None:
    frame = extract(
        OFFERS, columns={"tags": Column("$.tags[*]", many=True)}, records="$.offers[*]"
    )

    assert frame["tags"].tolist() == [["outdoor"], [], ["camping"]]


def test_extract_several_nodes_raise() -> None:
    with pytest.raises(
        MappingError,
        match=r"column 'name': JSONPath '\$\.offers\[\*\]\.name' "
        r"matched 3 nodes.*many=True",
    ):
        extract(OFFERS, columns={"name": "$.offers[*].name"})


def test_extract_required_missing_raises() -> None:
    with pytest.raises(
        MappingError,
        match=r"required column\(s\) matched no node: 'until' "
        r"\(JSONPath '\$\.valid_until'\)",
    ):
        extract(
            OFFERS,
            columns={"until": Column("$.valid_until", required=True)},
            records="$.offers[*]",
        )


@pytest.mark.parametrize(
    ("path", "position"),
    [("$.offers[0", 10), ("$.offers[?@.id >]", 16), ("$.a b", 4)],
)
def test_extract_invalid_path_position(path: str, position: int) -> None:
    with pytest.raises(InvalidPathError) as caught:
        extract(OFFERS, columns={"x": path})

    message = str(caught.value)
    assert f"invalid JSONPath {path!r} for column 'x'" in message
    assert f"at position {position}" in message
    assert message.endswith(" " * position + "^")


def test_extract_filter_selects_one() -> None:
    frame = extract(OFFERS, columns={"name": "$.offers[?@.id == 4102].name"})

    assert frame["name"].tolist() == ["Thermos"]


def test_extract_schema_coerces() -> None:
    schema = pa.DataFrameSchema({"price": pa.Column(float), "id": pa.Column(int)})

    frame = extract(
        OFFERS["offers"][1], columns={"price": "$.price", "id": "$.id"}, schema=schema
    )

    assert frame["price"].dtype == np.float64
    assert frame["price"].tolist() == [19.9]


def test_extract_schema_does_not_change_input() -> None:
    schema = pa.DataFrameSchema({"price": pa.Column(float)})

    extract(OFFERS["offers"][1], columns={"price": "$.price"}, schema=schema)

    assert schema.coerce is False


@pytest.mark.parametrize(
    "schema", [PRICE_SCHEMA, PriceModel], ids=["DataFrameSchema", "DataFrameModel"]
)
def test_extract_schema_failures_are_lazy(schema: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        extract(OFFERS, columns=OFFER_COLUMNS, records="$.offers[*]", schema=schema)

    cases = caught.value.failure_cases
    assert list(cases.columns) == ["row", "column", "value", "check"]
    assert len(cases) == 1
    assert cases.iloc[0]["row"] == 2
    assert cases.iloc[0]["column"] == "discount_pct"
    assert cases.iloc[0]["value"] == 25
    assert "less_than_or_equal_to(20)" in cases.iloc[0]["check"]


def test_extract_schema_collects_all_failures() -> None:
    schema = pa.DataFrameSchema(
        {
            "id": pa.Column(int, pa.Check.ge(5000)),
            "discount_pct": pa.Column(float, pa.Check.le(10), nullable=True),
        }
    )

    with pytest.raises(ValidationError) as caught:
        extract(OFFERS, columns=OFFER_COLUMNS, records="$.offers[*]", schema=schema)

    cases = caught.value.failure_cases
    assert sorted(cases["column"].tolist()) == [
        "discount_pct",
        "discount_pct",
        "id",
        "id",
        "id",
    ]
    assert str(caught.value).startswith(
        "5 value(s) extracted from the document failed validation:\n  row 0, column"
    )


def test_extract_failure_names_row() -> None:
    columns = {"id": "$.id", "price": Column("$.price", dtype="Float64")}

    with pytest.raises(ValidationError) as caught:
        extract(OFFERS, columns=columns, records="$.offers[*]")

    message = str(caught.value)
    assert message.startswith("1 value(s) extracted from the document failed")
    assert "  row 2, column 'price': value 'x' failed dtype('Float64')" in message
    assert "campaign" not in message
    assert "on_error" not in message
    assert caught.value.campaign is None


def test_extract_schema_failure_names_row() -> None:
    with pytest.raises(ValidationError) as caught:
        extract(
            OFFERS, columns=OFFER_COLUMNS, records="$.offers[*]", schema=PRICE_SCHEMA
        )

    message = str(caught.value)
    assert "  row 2, column 'discount_pct': value 25" in message
    assert "campaign" not in message
    assert "on_error" not in message


def test_extract_whole_column_failure_has_no_row() -> None:
    schema = pa.DataFrameSchema({"missing": pa.Column(int)})

    with pytest.raises(ValidationError) as caught:
        extract(OFFERS, columns={"market": "$.market"}, schema=schema)

    assert caught.value.failure_cases["row"].tolist() == [None]
    assert "\n  column None: value 'missing' failed" in str(caught.value)
    assert "campaign" not in str(caught.value)


def test_extract_required_names_document() -> None:
    with pytest.raises(MappingError) as caught:
        extract(OFFERS, columns={"until": Column("$.valid_until", required=True)})

    assert "check the path against the document" in str(caught.value)
    assert "preview" not in str(caught.value)


def test_enrich_required_names_response(serve: Serve) -> None:
    server = document_server(serve, {"DE": {"offers": []}})
    audience = pd.DataFrame({"key": ["DE"]})

    with pytest.raises(MappingError) as caught:
        audience.extapi.enrich(
            server.url("/d/{key}"),
            campaign="key",
            columns={"until": Column("$.valid_until", required=True)},
        )

    assert "for campaign(s) 'DE'" in str(caught.value)
    assert "against the response (df.extapi.preview shows one)" in str(caught.value)


def test_enrich_failure_keeps_campaign_wording(serve: Serve) -> None:
    server = document_server(serve, {"DE": {"price": "x"}})
    audience = pd.DataFrame({"key": ["DE"]})

    with pytest.raises(ValidationError) as caught:
        audience.extapi.enrich(
            server.url("/d/{key}"),
            campaign="key",
            columns={"price": Column("$.price", dtype="Float64")},
        )

    message = str(caught.value)
    assert message.startswith("1 value(s) failed validation:\n  campaign 'DE', ")
    assert "on_error='continue' to keep the other campaigns" in message
    assert list(caught.value.failure_cases.columns) == [
        "campaign",
        "column",
        "value",
        "check",
    ]


def test_extract_invalid_schema_rejected() -> None:
    with pytest.raises(ConfigurationError, match=r"schema= must be a pandera"):
        extract(OFFERS, columns={"m": "$.market"}, schema={"m": int})


def test_extract_matches_enrich_broadcast(serve: Serve) -> None:
    server = document_server(serve, {"a": OFFERS})
    columns = {
        "market": "$.market",
        "first": "$.offers[0].name",
        "ids": Column("$.offers[*].id", many=True),
        "none": "$.nope",
    }
    audience = pd.DataFrame({"key": ["a"]})

    enriched = audience.extapi.enrich(
        server.url("/d/{key}"), campaign="key", columns=columns, strings="str"
    )
    extracted = extract(OFFERS, columns=columns)

    pd.testing.assert_frame_equal(enriched[list(columns)], extracted)


@pytest.mark.parametrize("schema", [None, PriceModel])
def test_extract_matches_enrich_records(serve: Serve, schema: Any) -> None:
    document = json.loads(json.dumps(OFFERS))
    document["offers"][2]["discount_pct"] = 5
    server = document_server(serve, {"a": document})
    audience = pd.DataFrame({"key": ["a", "a", "a"]})

    enriched = audience.extapi.enrich(
        server.url("/d/{key}"),
        campaign="key",
        columns=OFFER_COLUMNS,
        records="$.offers[*]",
        assign="sequential",
        schema=schema,
        strings="str",
    )
    extracted = extract(
        document, columns=OFFER_COLUMNS, records="$.offers[*]", schema=schema
    )

    pd.testing.assert_frame_equal(enriched[list(OFFER_COLUMNS)], extracted)


def test_enrich_schema_failure_names_campaign(serve: Serve) -> None:
    low = {"offers": [{"id": 4101, "discount_pct": 5}]}
    high = {"offers": [{"id": 4201, "discount_pct": 35}]}
    server = document_server(serve, {"DE": low, "FR": high})
    audience = pd.DataFrame({"key": ["DE", "FR", "DE"]})

    with pytest.raises(ValidationError) as caught:
        audience.extapi.enrich(
            server.url("/d/{key}"),
            campaign="key",
            columns={
                "id": "$.offers[0].id",
                "discount_pct": "$.offers[0].discount_pct",
            },
            schema=PriceModel,
        )

    cases = caught.value.failure_cases
    assert cases.to_dict("records") == [
        {
            "campaign": "FR",
            "column": "discount_pct",
            "value": 35,
            "check": "less_than_or_equal_to(20)",
        }
    ]
    assert (
        "campaign 'FR', column 'discount_pct': value 35.0 failed "
        "less_than_or_equal_to(20)"
    ) in str(caught.value)
    assert caught.value.campaign == "FR"


def test_enrich_schema_coerces_columns(serve: Serve) -> None:
    server = document_server(serve, {"a": {"price": "19.90", "id": "7"}})
    schema = pa.DataFrameSchema({"price": pa.Column(float), "id": pa.Column("Int64")})

    result = pd.DataFrame({"key": ["a", "a"]}).extapi.enrich(
        server.url("/d/{key}"),
        campaign="key",
        columns={"price": "$.price", "id": "$.id"},
        schema=schema,
    )

    assert result["price"].dtype == np.float64
    assert result["price"].tolist() == [19.9, 19.9]
    assert result["id"].dtype == "Int64"


def test_enrich_continue_on_validation(serve: Serve) -> None:
    server = document_server(
        serve,
        {"DE": {"id": 4101, "discount_pct": 5}, "FR": {"id": 4201, "discount_pct": 35}},
    )
    audience = pd.DataFrame({"key": ["DE", "FR"]})

    with pytest.warns(extapi_pandas.ExtapiWarning, match=r"validation_failed"):
        result = audience.extapi.enrich(
            server.url("/d/{key}"),
            campaign="key",
            columns={"id": "$.id", "discount_pct": "$.discount_pct"},
            schema=PriceModel,
            on_error="continue",
        )

    assert result["extapi_status"].tolist() == ["ok", "validation_failed"]
    assert result["id"].iloc[0] == 4101
    assert result["id"].isna().tolist() == [False, True]
