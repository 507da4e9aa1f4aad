"""Columns, mappings, record selection, missing data and sequential assignment."""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest
from aiohttp import web

from extapi_pandas import (
    AttachError,
    Column,
    ConfigurationError,
    ExternalAPI,
    Mapping,
    MappingError,
    extract,
)
from extapi_pandas.demo import BackgroundServer
from extapi_pandas.mapping import compile_mapping, extract_document

Serve = Callable[..., BackgroundServer]


def campaign_api(serve: Serve, responses: dict[str, Any]) -> str:
    """Serve `responses[campaign]` at /data?campaign=...; return the URL."""

    async def answer(request: web.Request) -> web.Response:
        return web.json_response(responses[request.query["campaign"]])

    return serve({"/data": answer}).url("/data")


def enrich(audience: pd.DataFrame, url: str, **options: Any) -> pd.DataFrame:
    options.setdefault("campaign", "campaign_id")
    options.setdefault("params", {"campaign": "{campaign_id}"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return audience.extapi.enrich(url, retries=0, timeout=5, **options)


# Column options


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"many": True, "first": True}, "many and first exclude each other"),
        ({"join": ",", "split": ","}, "join= and split= exclude each other"),
        ({"count": True, "dtype": "string"}, "count=True gives a number"),
        ({"join": "|", "dtype": "Int64"}, "join= gives a string"),
        ({"many": True, "dtype": "Int64"}, r"declare dtype='list\[Int64\]'"),
        ({"split": ",", "dtype": "string"}, "split= gives a list per row"),
        ({"unit": "s"}, "needs dtype='datetime64"),
        ({"unit": "h", "dtype": "datetime64[ns, UTC]"}, "invalid unit 'h'"),
        ({"assume_tz": "UTC"}, "assume_tz= applies to timestamps"),
        (
            {"assume_tz": "Mars/Base", "dtype": "datetime64[ns, UTC]"},
            "unknown time zone",
        ),
        ({"dtype": "integer"}, "unknown dtype 'integer'"),
        ({"na_values": [True]}, "na_values entries must be strings or numbers"),
        ({"na_values": {"a": 1}}, "na_values must be a list"),
        ({"on_invalid": "none", "dtype": "boolean"}, "does not fit dtype 'boolean'"),
    ],
)
def test_column_rejects(options: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        Column("$.x", **options)


def test_column_na_values_single_string() -> None:
    assert Column("$.x", na_values="-").na_values == ("-",)


@pytest.mark.parametrize(
    ("spec", "match"),
    [(5, "must be a JSONPath string or a Column"), ("x", "a path starts with '\\$'")],
)
def test_mapping_rejects_bad_columns(spec: Any, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        compile_mapping({"a": spec})


def test_compile_applies_call_defaults() -> None:
    mapping = compile_mapping(
        {"t": Column("$.t", dtype="datetime64[ns, UTC]"), "n": Column("$.n")},
        assume_tz="UTC",
        na_values=["-"],
        on_invalid="null",
    )
    assert mapping.columns["t"].assume_tz == "UTC"
    assert mapping.columns["n"].assume_tz is None
    assert mapping.columns["n"].na_values == ("-",)
    assert mapping.columns["n"].on_invalid == "null"


def test_compile_default_must_fit_column() -> None:
    with pytest.raises(ConfigurationError, match="column 'n'"):
        compile_mapping({"n": Column("$.n", dtype="boolean")}, on_invalid="none")


# The Mapping class


def test_mapping_edits_like_dict() -> None:
    mapping = Mapping({"a": "$.a", "b": Column("$.b", dtype="Int64")})
    mapping["c"] = "$.c"
    del mapping["a"]
    assert list(mapping) == ["b", "c"]
    assert mapping["c"] == Column("$.c")


def test_mapping_rename_keeps_order() -> None:
    mapping = Mapping({"a": "$.a", "b": "$.b"})
    mapping.rename({"a": "z"})
    assert list(mapping) == ["z", "b"]


@pytest.mark.parametrize(
    ("names", "match"),
    [({"x": "y"}, "cannot rename unknown"), ({"a": "b"}, "duplicate names")],
)
def test_mapping_rename_rejects(names: dict[str, str], match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        Mapping({"a": "$.a", "b": "$.b"}).rename(names)


def test_mapping_brings_records() -> None:
    mapping = Mapping({"n": "$.n"}, records="$.r")
    frame = extract({"r": [{"n": 1}, {"n": 2}]}, columns=mapping)
    assert frame["n"].tolist() == [1, 2]


def test_call_records_override_mapping() -> None:
    mapping = Mapping({"n": "$.n"}, records="$.r")
    frame = extract({"r": [{"n": 1}], "s": [{"n": 5}]}, columns=mapping, records="$.s")
    assert frame["n"].tolist() == [5]


def test_api_takes_records_from_mapping() -> None:
    mapping = Mapping({"n": "$.n"}, records="$.r")
    api = ExternalAPI("http://127.0.0.1/x", columns=mapping, assign="sequential")
    assert api.records == "$.r"


def test_mapping_equality_includes_records() -> None:
    assert Mapping({"a": "$.a"}, records="$.r") != Mapping({"a": "$.a"})


# Missing data: null, missing key, null parent


DOCUMENT = {"r": [{"o": {"id": "X"}}, {"o": {"id": None}}, {"o": {}}, {"o": None}]}


def test_null_missing_and_null_parent_are_na() -> None:
    frame = extract(DOCUMENT, columns={"id": "$.o.id"}, records="$.r")
    assert frame["id"].isna().tolist() == [False, True, True, True]


def test_provenance_tells_null_from_missing() -> None:
    frame = extract(DOCUMENT, columns={"id": "$.o.id"}, records="$.r")
    assert frame.attrs["extapi"]["nulls"] == {"id": 1}
    assert frame.attrs["extapi"]["missing"] == {"id": 2}


def test_extraction_counts_per_column() -> None:
    mapping = compile_mapping({"id": "$.o.id", "o": "$.o"}, records="$.r")
    extraction = extract_document(DOCUMENT, mapping)
    assert extraction.missing == {"id": 2, "o": 0}
    assert extraction.nulls == {"id": 1, "o": 1}


def test_na_values_counted_as_nulls() -> None:
    mapping = compile_mapping({"aqi": "$.aqi"}, na_values=["-"])
    extraction = extract_document({"aqi": "-"}, mapping)
    assert extraction.nulls == {"aqi": 1}


def test_na_values_match_type() -> None:
    frame = extract(
        {"a": "-1", "b": -1}, columns={"a": "$.a", "b": "$.b"}, na_values=[-1]
    )
    assert frame["a"].iloc[0] == "-1"
    assert frame["b"].iloc[0] is pd.NA


def test_required_missing_raises() -> None:
    with pytest.raises(MappingError, match=r"'price' \(JSONPath '\$.price'\)"):
        extract({}, columns={"price": Column("$.price", required=True)})


def test_required_null_is_present() -> None:
    frame = extract(
        {"price": None}, columns={"price": Column("$.price", required=True)}
    )
    assert frame["price"].iloc[0] is pd.NA


def test_required_names_lacking_campaigns_only(serve: Serve) -> None:
    url = campaign_api(serve, {"A": {"price": 1}, "B": {}, "C": {"price": 2}, "D": {}})
    audience = pd.DataFrame({"campaign_id": ["A", "B", "C", "D"]})
    with pytest.raises(MappingError, match=r"for campaign\(s\) 'B', 'D'; ") as info:
        enrich(audience, url, columns={"price": Column("$.price", required=True)})
    assert "'A'" not in str(info.value)
    assert "'C'" not in str(info.value)


def test_required_one_campaign_sets_key(serve: Serve) -> None:
    url = campaign_api(serve, {"A": {"price": 1}, "B": {}})
    audience = pd.DataFrame({"campaign_id": ["A", "B"]})
    with pytest.raises(MappingError) as info:
        enrich(audience, url, columns={"price": Column("$.price", required=True)})
    assert info.value.campaign == "B"


def test_required_continue_fails_lacking(serve: Serve) -> None:
    url = campaign_api(serve, {"A": {"price": 1}, "B": {}})
    audience = pd.DataFrame({"campaign_id": ["A", "B"]})
    result = enrich(
        audience,
        url,
        on_error="continue",
        columns={"price": Column("$.price", required=True)},
    )
    assert result["extapi_status"].tolist() == ["ok", "mapping_failed"]
    assert result["price"].isna().tolist() == [False, True]


# Several nodes: many, first, count, join, split


def test_several_nodes_raise() -> None:
    with pytest.raises(MappingError, match=r"matched 2 nodes.*first=True"):
        extract({"a": [1, 2]}, columns={"x": "$.a[*]"})


def test_first_takes_first_node() -> None:
    assert extract({"a": [1, 2]}, columns={"x": Column("$.a[*]", first=True)})[
        "x"
    ].tolist() == [1]


def test_first_without_match_is_missing() -> None:
    frame = extract({"a": []}, columns={"x": Column("$.a[*]", first=True)})
    assert frame.attrs["extapi"]["missing"] == {"x": 1}


def test_many_keeps_list() -> None:
    frame = extract(
        {"a": [{"id": 1}, {"id": 2}]}, columns={"x": Column("$.a[*].id", many=True)}
    )
    assert frame["x"].tolist() == [[1, 2]]


def test_count_counts_nodes() -> None:
    frame = extract(
        {"refs": [], "more": [1, 2, 3]},
        columns={
            "none": Column("$.refs[*]", count=True),
            "three": Column("$.more[*]", count=True),
        },
    )
    assert frame.iloc[0].tolist() == [0, 3]


def test_join_many_nodes_skips_nulls() -> None:
    frame = extract(
        {"a": [{"n": "x"}, {"n": None}, {"n": 2}]},
        columns={"x": Column("$.a[*].n", many=True, join=", ")},
    )
    assert frame["x"].tolist() == ["x, 2"]


def test_split_string_to_list() -> None:
    frame = extract(
        {"tags": "Emotive, Flash Memory"}, columns={"x": Column("$.tags", split=", ")}
    )
    assert frame["x"].tolist() == [["Emotive", "Flash Memory"]]
    assert "string" in str(frame["x"].dtype)


# Records and column-oriented responses


def test_records_path_to_array() -> None:
    frame = extract({"r": [{"n": 1}, {"n": 2}]}, columns={"n": "$.n"}, records="$.r")
    assert frame["n"].tolist() == [1, 2]


def test_records_zip_parallel_arrays() -> None:
    document = {"daily": {"time": ["2026-10-03", "2026-10-04"], "tmax": [20.6, 20.2]}}
    frame = extract(
        document, columns={"day": "$.time", "tmax": "$.tmax"}, records="$.daily"
    )
    assert frame.to_dict("list") == {
        "day": ["2026-10-03", "2026-10-04"],
        "tmax": [20.6, 20.2],
    }


def test_records_zip_unequal_lengths() -> None:
    with pytest.raises(MappingError, match=r"lengths differ \(time: 2, tmax: 1\)"):
        extract(
            {"daily": {"time": ["a", "b"], "tmax": [1.0]}},
            columns={"t": "$.time"},
            records="$.daily",
        )


def test_records_match_nothing_gives_no_rows() -> None:
    assert len(extract({}, columns={"n": "$.n"}, records="$.r")) == 0


# Sequential assignment


def test_sequential_follows_audience_order(serve: Serve) -> None:
    url = campaign_api(
        serve, {"A": {"codes": ["a1", "a2", "a3"]}, "B": {"codes": ["b1", "b2"]}}
    )
    audience = pd.DataFrame(
        {"campaign_id": ["B", "A", "A", "B", "A"]}, index=[50, 40, 30, 20, 10]
    )
    result = enrich(
        audience, url, records="$.codes[*]", assign="sequential", columns={"code": "$"}
    )
    assert result["code"].tolist() == ["b1", "a1", "a2", "b2", "a3"]
    assert result.index.tolist() == [50, 40, 30, 20, 10]


def test_sequential_too_few_records_raises(serve: Serve) -> None:
    url = campaign_api(serve, {"A": {"codes": ["a1"]}, "B": {"codes": ["b1", "b2"]}})
    audience = pd.DataFrame({"campaign_id": ["A", "A", "A", "B", "B"]})
    with pytest.raises(
        AttachError, match=r"campaign 'A' has 3 profiles but the response has 1"
    ):
        enrich(
            audience,
            url,
            records="$.codes[*]",
            assign="sequential",
            columns={"code": "$"},
        )


def test_sequential_short_continue_nulls_rest(serve: Serve) -> None:
    url = campaign_api(serve, {"A": {"codes": ["a1"]}, "B": {"codes": []}})
    audience = pd.DataFrame({"campaign_id": ["A", "A", "B"]})
    result = enrich(
        audience,
        url,
        records="$.codes[*]",
        assign="sequential",
        on_error="continue",
        columns={"code": "$"},
    )
    assert result["code"].isna().tolist() == [False, True, True]
    assert result["code"].iloc[0] == "a1"


def test_sequential_extra_records_unused(serve: Serve) -> None:
    url = campaign_api(serve, {"A": {"codes": ["a1", "a2", "a3"]}})
    audience = pd.DataFrame({"campaign_id": ["A", "A"]})
    result = enrich(
        audience, url, records="$.codes[*]", assign="sequential", columns={"code": "$"}
    )
    assert result["code"].tolist() == ["a1", "a2"]


def test_zip_records_lookup_by_date(serve: Serve) -> None:
    forecast = {"daily": {"time": ["2026-10-03", "2026-10-04"], "rain": [0, 8]}}
    url = campaign_api(serve, {"A": forecast})
    audience = pd.DataFrame(
        {"campaign_id": ["A", "A"], "day": ["2026-10-04", "2026-10-03"]}
    )
    result = enrich(
        audience,
        url,
        records="$.daily",
        on={"day": "time"},
        columns={"rain": Column("$.rain", dtype="Int64")},
    )
    assert result["rain"].tolist() == [8, 0]


def test_extract_warns_on_surrogate_note() -> None:
    document = json.loads('{"r": [{"s": "\\ud800"}]}')
    with pytest.warns(UserWarning, match="column 's': 1 string"):
        extract(document, columns={"s": "$.s"}, records="$.r")


def test_column_repr_shows_changed_fields() -> None:
    column = Column("$.aqi", dtype="Int64", na_values=["-"])
    assert repr(column) == "Column('$.aqi', dtype='Int64', na_values=('-',))"
