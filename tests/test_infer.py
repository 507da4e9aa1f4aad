"""Mappings inferred from a sample: names, paths, dtypes, shapes, code and TOML."""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from aiohttp import web

from extapi_pandas import (
    Column,
    ConfigurationError,
    Mapping,
    ValidationError,
    extract,
    infer_mapping,
)
from extapi_pandas.demo import BackgroundServer
from extapi_pandas.flatten import json_path, snake_case
from extapi_pandas.mapping import CompiledPath

Serve = Callable[..., BackgroundServer]
SAMPLES = Path(__file__).parent / "data" / "samples"


def sample(name: str) -> Any:
    return json.loads((SAMPLES / f"{name}.json").read_text(encoding="utf-8"))


def paths(mapping: Mapping) -> dict[str, str]:
    return {name: column.path for name, column in mapping.items()}


def run_code(mapping: Mapping) -> dict[str, Any]:
    namespace: dict[str, Any] = {}
    exec(
        compile(mapping.to_python(), "<mapping>", "exec", dont_inherit=True), namespace
    )
    return namespace


# Names and paths


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("homeTeam", "home_team"),
        ("shortName", "short_name"),
        ("pm2_5", "pm2_5"),
        ("temperature_2m_max", "temperature_2m_max"),
        ("HTTPStatus", "http_status"),
        ("utc-offset", "utc_offset"),
        ("größe", "größe"),
        ("$$", "field"),
    ],
)
def test_snake_case(key: str, expected: str) -> None:
    assert snake_case(key) == expected


@pytest.mark.parametrize(
    "key", ["2025-07-02", "a b", "it's", "back\\slash", "tab\tkey", "ünï"]
)
def test_json_path_selects_odd_key(key: str) -> None:
    document = {"outer": {key: 42}}
    assert CompiledPath(json_path(["outer", key]), owner="test").select(document) == [
        42
    ]


def test_nested_objects_become_parent_child() -> None:
    mapping = infer_mapping({"homeTeam": {"shortName": "Burnley", "id": 328}})
    assert paths(mapping) == {
        "home_team_short_name": "$.homeTeam.shortName",
        "home_team_id": "$.homeTeam.id",
    }


def test_separator_configurable() -> None:
    mapping = infer_mapping({"a": {"b": 1}}, sep="__")
    assert list(mapping) == ["a__b"]


# Dtypes and nullability


def test_inferred_dtypes() -> None:
    mapping = infer_mapping(
        {
            "n": 9007199254740993,
            "big": 2**64,
            "f": 1.5,
            "b": True,
            "s": "007",
            "t": "2023-08-11T19:00:00Z",
            "d": "2025-05-05",
            "naive": "2026-10-03T12:30",
        }
    )
    dtypes = {name: column.dtype for name, column in mapping.items()}
    assert dtypes == {
        "n": "Int64",
        "big": "string",
        "f": "Float64",
        "b": "boolean",
        "s": "string",
        "t": "datetime64[ns, UTC]",
        "d": "date",
        "naive": "string",
    }


def test_naive_timestamp_note() -> None:
    mapping = infer_mapping({"t": "2026-10-03T12:30"})
    assert "assume_tz" in mapping.notes["t"]


def test_all_null_column_left_undeclared() -> None:
    mapping = infer_mapping({"albedo": None})
    assert mapping["albedo"].dtype is None
    assert "null in every sample row" in mapping.notes["albedo"]


def test_nullability_from_records() -> None:
    mapping = infer_mapping([{"a": 1, "b": 1, "c": 1}, {"a": 2, "b": None}])
    nullable = {name: column.nullable for name, column in mapping.items()}
    assert nullable == {"a": False, "b": True, "c": True}


def test_null_parent_gives_nullable_children() -> None:
    mapping = infer_mapping([{"o": {"id": "X"}}, {"o": None}])
    assert paths(mapping) == {"o_id": "$.o.id"}
    assert mapping["o_id"].nullable


def test_mixed_types_left_undeclared() -> None:
    mapping = infer_mapping([{"aqi": 29}, {"aqi": "-"}])
    assert mapping["aqi"].dtype is None
    assert "mixed value types" in mapping.notes["aqi"]


# Shapes


def test_scalar_array_is_list_column() -> None:
    mapping = infer_mapping({"tags": ["outdoor", "family"]})
    assert mapping["tags"] == Column("$.tags", dtype="list[string]", nullable=False)


def test_scalar_array_joined_on_request() -> None:
    mapping = infer_mapping({"tags": ["outdoor", "family"]}, join="|")
    frame = extract({"tags": ["outdoor", "family"]}, columns=mapping)
    assert frame["tags"].tolist() == ["outdoor|family"]


def test_inner_object_array_indexed() -> None:
    document = {
        "offers": [{"name": "a"}, {"name": "b"}, {"name": "c"}],
        "id": 1,
        "title": "x",
        "vendor": "y",
        "kind": "z",
        "more": "w",
    }
    mapping = infer_mapping(document, records=False, index_limit=2)
    assert [name for name in mapping if name.startswith("offers")] == [
        "offers_0_name",
        "offers_1_name",
    ]


def test_index_limit_zero_keeps_whole() -> None:
    mapping = infer_mapping({"offers": [{"name": "a"}]}, records=False, index_limit=0)
    assert mapping["offers"].dtype == "object"


def test_date_keyed_object_kept_whole() -> None:
    mapping = infer_mapping(sample("frankfurter_timeseries"))
    assert mapping["rates"] == Column("$.rates", dtype="object", nullable=False)
    assert len(mapping) == 4


def test_max_columns_guard() -> None:
    with pytest.raises(ConfigurationError, match="over max_columns=2"):
        infer_mapping({"a": 1, "b": 2, "c": 3}, max_columns=2)


# Records


def test_records_detected_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="extapi_pandas.infer"):
        mapping = infer_mapping(sample("football_data_matches"))
    assert mapping.records == "$.matches[*]"
    assert "pass records='$.matches[*]' to pin it" in caplog.text


def test_top_level_array_records() -> None:
    assert infer_mapping(sample("nager_public_holidays_gb")).records == "$[*]"


def test_small_array_not_records() -> None:
    mapping = infer_mapping(sample("waqi_air_quality"))
    assert mapping.records is None
    assert mapping["attributions_0_name"].path == "$.attributions[0].name"


def test_records_false_gives_one_row() -> None:
    mapping = infer_mapping(sample("football_data_matches"), records=False)
    assert mapping.records is None
    assert mapping["result_set_played"].path == "$.resultSet.played"


def test_records_zip_parallel_arrays() -> None:
    mapping = infer_mapping(sample("openmeteo_forecast"), records="$.daily")
    frame = extract(sample("openmeteo_forecast"), columns=mapping)
    assert len(frame) == 3
    assert frame["temperature_2m_max"].tolist() == [20.6, 20.2, 22.2]


def test_parallel_arrays_hint_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="extapi_pandas.infer"):
        infer_mapping(sample("openmeteo_forecast"))
    assert "pass records='$.daily' to zip them" in caplog.text


@pytest.mark.parametrize(
    ("records", "match"),
    [("$.nothing", "selects no element"), (5, "must be a JSONPath, False or None")],
)
def test_records_rejects(records: Any, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        infer_mapping({"a": 1}, records=records)


# Collisions


def test_collision_names_both_paths() -> None:
    with pytest.raises(
        ConfigurationError, match=r"'offer_id': \$\.offer\.id and \$\.offer_id"
    ):
        infer_mapping({"offer": {"id": "X1"}, "offer_id": "X2"})


def test_collision_prefix_keeps_both() -> None:
    document = {"offer": {"id": "X1"}, "offer_id": "X2"}
    mapping = infer_mapping(document, on_collision="prefix")
    assert paths(mapping) == {"extapi_offer_id": "$.offer.id", "offer_id": "$.offer_id"}
    frame = extract(document, columns=mapping)
    assert frame.iloc[0].to_dict() == {"extapi_offer_id": "X1", "offer_id": "X2"}


def test_collision_suffix_keeps_both() -> None:
    mapping = infer_mapping(
        {"offer": {"id": "X1"}, "offer_id": "X2"},
        on_collision="suffix",
        suffix="_nested",
    )
    assert paths(mapping) == {"offer_id_nested": "$.offer.id", "offer_id": "$.offer_id"}


def test_audience_collision_names_column() -> None:
    with pytest.raises(
        ConfigurationError, match=r"'region': \$\.region and audience column 'region'"
    ):
        infer_mapping({"region": "NL"}, audience_columns=["region"])


def test_audience_collision_prefix() -> None:
    mapping = infer_mapping(
        {"region": "NL"}, audience_columns=["region"], on_collision="prefix"
    )
    assert list(mapping) == ["extapi_region"]


def test_collision_rename_avoids_taken_name() -> None:
    mapping = infer_mapping(
        {"a": {"b": 1}, "a_b": 2, "extapi_a_b": 3}, on_collision="prefix"
    )
    assert list(mapping) == ["extapi_a_b2", "a_b", "extapi_a_b"]


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"on_collision": "drop"}, "invalid on_collision='drop'"),
        ({"index_limit": -1}, "index_limit must be a whole number"),
        ({"max_columns": True}, "max_columns must be a whole number"),
    ],
)
def test_infer_rejects_options(options: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        infer_mapping({"a": 1}, **options)


# Python code and TOML


@pytest.mark.parametrize(
    "name",
    [
        "api_football_fixtures",
        "football_data_matches",
        "frankfurter_timeseries",
        "nager_public_holidays_gb",
        "openmeteo_air_quality",
        "openmeteo_forecast",
        "openmeteo_forecast_16_days",
        "shopify_products",
        "waqi_air_quality",
    ],
)
def test_generated_code_validates_sample(name: str) -> None:
    document = sample(name)
    namespace = run_code(infer_mapping(document))
    frame = extract(
        document,
        columns=namespace["columns"],
        records=namespace["records"],
        schema=namespace["ResponseModel"],
    )
    assert len(frame.columns) == len(namespace["columns"])


def test_generated_model_rejects_null() -> None:
    namespace = run_code(infer_mapping({"n": 1}))
    with pytest.raises(
        ValidationError, match="column 'n': value <NA> failed not_nullable"
    ):
        extract({"n": None}, columns={"n": "$.n"}, schema=namespace["ResponseModel"])


def test_generated_code_aliases_odd_names() -> None:
    mapping = Mapping(
        {"2x": Column("$.a", dtype="Float64"), "class": Column("$.b", dtype="Int64")}
    )
    namespace = run_code(mapping)
    frame = extract(
        {"a": 1.5, "b": 2},
        columns=namespace["columns"],
        schema=namespace["ResponseModel"],
    )
    assert frame.columns.tolist() == ["2x", "class"]


def test_generated_code_comments_notes() -> None:
    code = infer_mapping({"albedo": None}).to_python()
    assert "# null in every sample row; declare its dtype" in code
    assert "# albedo: no dtype declared, so it is not checked" in code


def test_print_shows_code() -> None:
    mapping = infer_mapping({"a": 1})
    assert str(mapping) == mapping.to_python()
    assert (
        'columns = {\n    "a": Column("$.a", dtype="Int64", nullable=False),\n}'
        in str(mapping)
    )


@pytest.mark.parametrize("name", ["football_data_matches", "shopify_products"])
def test_toml_round_trip(name: str) -> None:
    mapping = infer_mapping(sample(name))
    assert Mapping.from_toml(mapping.to_toml()) == mapping


def test_toml_round_trips_every_field() -> None:
    mapping = Mapping(
        {
            'odd name "q"': Column(
                "$['a b']",
                dtype="datetime64[ns, UTC]",
                required=True,
                nullable=False,
                unit="ms",
                assume_tz="$.tz",
                na_values=["-", -1, 0.5],
                on_invalid="null",
            ),
            "tags": Column("$.t[*]", many=True, join="|"),
        },
        records="$.r",
    )
    assert Mapping.from_toml(mapping.to_toml()) == mapping


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("records = ", "invalid TOML mapping"),
        ("[columns.a]\npath = '$.a'\nkind = 1", r"unknown field\(s\) \['kind'\]"),
        ("[columns.a]\ndtype = 'Int64'", "column 'a' has no path"),
        ("extra = 1", r"unknown mapping key\(s\) \['extra'\]"),
        ("columns = 5", "'columns' must be a table"),
    ],
)
def test_from_toml_rejects(text: str, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        Mapping.from_toml(text)


def test_model_name_must_be_identifier() -> None:
    with pytest.raises(ConfigurationError, match="must be a Python class name"):
        infer_mapping({"a": 1}).to_python(model="my model")


# Inferred mappings in use


def test_edited_mapping_extracts() -> None:
    mapping = infer_mapping(sample("waqi_air_quality"))
    mapping["aqi"] = Column("$.aqi", dtype="Int64", na_values=["-"])
    mapping.rename({"city_name": "station"})
    frame = extract(
        {"aqi": "-", "city": {"name": "Utrecht"}},
        columns={k: mapping[k] for k in ("aqi", "station")},
    )
    assert frame.iloc[0].tolist() == [pd.NA, "Utrecht"]


def test_inferred_mapping_through_enrich(serve: Serve) -> None:
    holidays = sample("nager_public_holidays_gb")

    async def answer(request: web.Request) -> web.Response:
        return web.json_response(holidays)

    url = serve({"/holidays": answer}).url("/holidays")
    mapping = infer_mapping(holidays)
    chosen = Mapping(
        {"holiday": mapping["name"], "day": mapping["date"]}, records=mapping.records
    )
    audience = pd.DataFrame(
        {"day": pd.array(["2025-05-05", "2025-12-26"], dtype="date32[pyarrow]")}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = audience.extapi.enrich(
            url, columns=chosen, on={"day": "day"}, retries=0, timeout=5
        )
    assert result["holiday"].tolist() == ["Early May Bank Holiday", "St. Stephen's Day"]
