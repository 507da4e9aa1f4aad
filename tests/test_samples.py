"""The mappings an analyst writes for real-shaped responses, and their gotchas."""

from __future__ import annotations

import copy
import datetime as dt
import json
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pandera.pandas as pa
import pytest
from aiohttp import web

from extapi_pandas import (
    AttachError,
    Column,
    MappingError,
    ValidationError,
    extract,
    infer_mapping,
)
from extapi_pandas.demo import BackgroundServer

Serve = Callable[..., BackgroundServer]
SAMPLES = Path(__file__).parent / "data" / "samples"
UTC = "datetime64[ns, UTC]"


def sample(name: str) -> Any:
    return json.loads((SAMPLES / f"{name}.json").read_text(encoding="utf-8"))


def row(document: Any, columns: dict[str, Any], **options: Any) -> dict[str, Any]:
    """Extract one row and return its values, each read from its own column."""
    frame = extract(document, columns=columns, **options)
    assert len(frame) == 1
    # frame.iloc[0] would turn <NA> into None in a row of mixed dtypes.
    return {name: frame[name].iloc[0] for name in frame.columns}


def serve_documents(serve: Serve, documents: dict[str, Any]) -> str:
    """Serve `documents[campaign]` as JSON at /api?campaign=...; return the URL."""

    async def answer(request: web.Request) -> web.Response:
        body = json.dumps(documents[request.query["campaign"]], ensure_ascii=False)
        return web.Response(body=body.encode(), content_type="application/json")

    return serve({"/api": answer}).url("/api")


def enrich(audience: pd.DataFrame, url: str, **options: Any) -> pd.DataFrame:
    options.setdefault("campaign", "campaign_id")
    options.setdefault("params", {"campaign": "{campaign_id}"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return audience.extapi.enrich(url, retries=0, timeout=5, **options)


# API-Football fixtures


FIXTURE = "$.response[0]"


def test_api_football_mapping() -> None:
    values = row(
        sample("api_football_fixtures"),
        {
            "kickoff": Column(f"{FIXTURE}.fixture.date", dtype=UTC),
            "status": f"{FIXTURE}.fixture.status.short",
            "goals_home": Column(f"{FIXTURE}.goals.home", dtype="Int64"),
            "pen_home": Column(f"{FIXTURE}.score.penalty.home", dtype="Int64"),
            "round": f"{FIXTURE}.league.round",
            "n_results": Column("$.results", dtype="Int64"),
        },
    )
    assert values == {
        "kickoff": pd.Timestamp("2023-01-05T20:00:00Z"),
        "status": "FT",
        "goals_home": 0,
        "pen_home": pd.NA,
        "round": "Regular Season - 19",
        "n_results": 99,
    }


def test_api_football_epoch_matches_date() -> None:
    values = row(
        sample("api_football_fixtures"),
        {
            "kickoff": Column(f"{FIXTURE}.fixture.date", dtype=UTC),
            "kickoff_epoch": Column(
                f"{FIXTURE}.fixture.timestamp", dtype=UTC, unit="s"
            ),
            "epoch_int": Column(f"{FIXTURE}.fixture.timestamp", dtype="Int64"),
        },
    )
    assert values["kickoff_epoch"] == values["kickoff"]
    assert values["epoch_int"] == 1672948800


def test_api_football_winner_tri_state() -> None:
    frame = extract(
        sample("api_football_fixtures"),
        records="$.response[*]",
        columns={"home_won": Column("$.teams.home.winner", dtype="boolean")},
    )
    assert str(frame["home_won"].dtype) == "boolean"
    assert frame["home_won"].tolist() == [False, pd.NA]


def test_api_football_pen_home_stays_int64() -> None:
    frame = extract(
        sample("api_football_fixtures"),
        records="$.response[*]",
        columns={"pen_home": Column("$.score.penalty.home", dtype="Int64")},
    )
    assert str(frame["pen_home"].dtype) == "Int64"


def test_api_football_season_text_to_int() -> None:
    values = row(
        sample("api_football_fixtures"),
        {"season": Column("$.parameters.season", dtype="Int64")},
    )
    assert values["season"] == 2022


ERRORS_EMPTY = pa.DataFrameSchema(
    {
        "api_errors": pa.Column(
            object, pa.Check(lambda s: s.map(len) == 0, error="errors must be empty")
        ),
    }
)


def test_api_football_empty_errors_pass() -> None:
    frame = extract(
        sample("api_football_fixtures"),
        schema=ERRORS_EMPTY,
        columns={"api_errors": "$.errors"},
    )
    assert frame["api_errors"].tolist() == [[]]


def test_api_football_error_object_fails() -> None:
    document = sample("api_football_fixtures")
    document.update(
        errors={"token": "Error/Missing application key"}, results=0, response=[]
    )
    with pytest.raises(ValidationError, match="errors must be empty"):
        extract(document, schema=ERRORS_EMPTY, columns={"api_errors": "$.errors"})


def test_api_football_errors_fail_campaign(serve: Serve) -> None:
    failing = sample("api_football_fixtures")
    failing.update(errors={"token": "Error/Missing application key"}, response=[])
    url = serve_documents(
        serve, {"ok": sample("api_football_fixtures"), "bad": failing}
    )
    audience = pd.DataFrame({"campaign_id": ["ok", "bad", "ok"]})
    result = enrich(
        audience,
        url,
        schema=ERRORS_EMPTY,
        on_error="continue",
        columns={
            "api_errors": "$.errors",
            "kickoff": Column(f"{FIXTURE}.fixture.date", dtype=UTC),
        },
    )
    assert result["extapi_status"].tolist() == ["ok", "validation_failed", "ok"]
    assert result["kickoff"].iloc[0] == pd.Timestamp("2023-01-05T20:00:00Z")


# football-data.org matches


PLAYED = "$.matches[?(@.id==435943)]"
TIMED = "$.matches[?(@.id==538050)]"


def match_columns(match: str) -> dict[str, Any]:
    return {
        "kickoff_utc": Column(f"{match}.utcDate", dtype=UTC),
        "match_status": Column(f"{match}.status", dtype="category"),
        "home_team": f"{match}.homeTeam.shortName",
        "away_team": f"{match}.awayTeam.shortName",
        "goals_home": Column(f"{match}.score.fullTime.home", dtype="Int64"),
        "goals_away": Column(f"{match}.score.fullTime.away", dtype="Int64"),
        "winner_side": Column(f"{match}.score.winner", dtype="string"),
        "season_winner": Column(f"{match}.season.winner", dtype="string"),
        "referee_count": Column(f"{match}.referees[*]", count=True),
        "group": Column(f"{match}.group", dtype="string"),
        "team_played": Column("$.resultSet.played", dtype="Int64"),
    }


def test_football_data_played_match() -> None:
    values = row(sample("football_data_matches"), match_columns(PLAYED))
    assert values == {
        "kickoff_utc": pd.Timestamp("2023-08-11T19:00:00Z"),
        "match_status": "FINISHED",
        "home_team": "Burnley",
        "away_team": "Man City",
        "goals_home": 0,
        "goals_away": 3,
        "winner_side": "AWAY_TEAM",
        "season_winner": pd.NA,
        "referee_count": 1,
        "group": pd.NA,
        "team_played": 24,
    }


def test_football_data_timed_match() -> None:
    values = row(sample("football_data_matches"), match_columns(TIMED))
    assert [values[name] for name in ("goals_home", "goals_away", "winner_side")] == [
        pd.NA,
        pd.NA,
        pd.NA,
    ]
    assert values["referee_count"] == 0


def test_football_data_null_goals_stay_int64() -> None:
    frame = extract(sample("football_data_matches"), columns=match_columns(TIMED))
    assert str(frame["goals_home"].dtype) == "Int64"
    assert isinstance(frame["season_winner"].dtype, pd.StringDtype)


def test_football_data_odds_not_numeric() -> None:
    mapping = infer_mapping(sample("football_data_matches"))
    assert mapping["odds_msg"].dtype == "string"


def test_football_data_lookup_by_match(serve: Serve) -> None:
    url = serve_documents(serve, {"pl": sample("football_data_matches")})
    audience = pd.DataFrame(
        {"campaign_id": ["pl", "pl", "pl"], "match_id": [538050, 435943, 435943]}
    )
    result = enrich(
        audience,
        url,
        records="$.matches[*]",
        on={"match_id": "id"},
        columns={
            "id": Column("$.id", dtype="Int64"),
            "goals_away": Column("$.score.fullTime.away", dtype="Int64"),
        },
    )
    assert str(result["goals_away"].dtype) == "Int64"
    assert result["goals_away"].tolist() == [pd.NA, 3, 3]


# Frankfurter exchange rates


def test_frankfurter_mapping() -> None:
    values = row(
        sample("frankfurter_timeseries"),
        {
            "eur_usd": Column("$.rates['2025-07-02'].USD", dtype="Float64"),
            "fx_base": "$.base",
            "fx_from": Column("$.start_date", dtype="date"),
            "fx_to": Column("$.end_date", dtype="date"),
        },
    )
    assert values == {
        "eur_usd": 1.108,
        "fx_base": "EUR",
        "fx_from": dt.date(2025, 7, 1),
        "fx_to": dt.date(2025, 7, 3),
    }


def test_frankfurter_trailing_zero_exact() -> None:
    values = row(
        sample("frankfurter_timeseries"), {"rate": "$.rates['2025-07-01'].USD"}
    )
    assert values["rate"] == float("1.1050")
    assert repr(float(values["rate"])) == "1.105"


def test_frankfurter_rate_series() -> None:
    values = row(
        sample("frankfurter_timeseries"),
        {"series": Column("$.rates[*].USD", many=True, dtype="list[Float64]")},
    )
    assert values["series"] == [1.105, 1.108, 1.11]


def test_frankfurter_weekend_gives_na() -> None:
    values = row(
        sample("frankfurter_timeseries"),
        {"rate": Column("$.rates['2025-07-05'].USD", dtype="Float64")},
    )
    assert values["rate"] is pd.NA


def test_frankfurter_flattening_stays_small() -> None:
    mapping = infer_mapping(sample("frankfurter_timeseries"))
    assert list(mapping) == ["base", "start_date", "end_date", "rates"]


# Nager.Date public holidays


def on_date(day: str, field: str) -> str:
    return f"$[?(@.date=='{day}')].{field}"


def test_nager_mapping() -> None:
    values = row(
        sample("nager_public_holidays_gb"),
        {
            "holiday_name": on_date("2025-05-05", "name"),
            "holiday_nationwide": Column(
                on_date("2025-05-05", "global"), dtype="boolean"
            ),
            "holiday_since": Column(on_date("2025-05-05", "launchYear"), dtype="Int64"),
            "holiday_local_name": on_date("2025-12-26", "localName"),
            "holiday_name_26": on_date("2025-12-26", "name"),
        },
    )
    assert values == {
        "holiday_name": "Early May Bank Holiday",
        "holiday_nationwide": True,
        "holiday_since": 1978,
        "holiday_local_name": "Boxing Day",
        "holiday_name_26": "St. Stephen's Day",
    }


def test_nager_no_holiday_gives_na() -> None:
    values = row(
        sample("nager_public_holidays_gb"),
        {"holiday_name": on_date("2025-05-06", "name")},
    )
    assert values["holiday_name"] is pd.NA


def test_nager_regions_nullable_list() -> None:
    document = sample("nager_public_holidays_gb")
    columns = {
        "easter": Column(on_date("2025-04-21", "counties"), dtype="list[string]"),
        "may": Column(on_date("2025-05-05", "counties"), dtype="list[string]"),
    }
    values = row(document, columns)
    assert values["easter"] == ["GB-ENG", "GB-WLS", "GB-NIR"]
    assert values["may"] is pd.NA


def test_nager_dates_of_year_as_dates() -> None:
    values = row(
        sample("nager_public_holidays_gb"),
        {"days": Column("$[*].date", many=True, dtype="list[date]")},
    )
    assert values["days"][0] == dt.date(2025, 1, 1)
    assert len(values["days"]) == 5


def test_nager_date_not_a_timestamp() -> None:
    frame = extract(
        sample("nager_public_holidays_gb"),
        records="$[*]",
        columns={"day": Column("$.date", dtype="date")},
    )
    assert frame["day"].iloc[0] == dt.date(2025, 1, 1)
    assert not isinstance(frame["day"].iloc[0], dt.datetime)


NEW_YEAR = '$[?(@.localName=="New Year\'s Day")].date'


def test_nager_several_matches_raise() -> None:
    with pytest.raises(MappingError, match="matched 2 nodes"):
        row(sample("nager_public_holidays_gb"), {"day": NEW_YEAR})


def test_nager_several_matches_first() -> None:
    values = row(
        sample("nager_public_holidays_gb"), {"day": Column(NEW_YEAR, first=True)}
    )
    assert values["day"] == "2025-01-01"


def test_nager_several_matches_list() -> None:
    values = row(
        sample("nager_public_holidays_gb"), {"days": Column(NEW_YEAR, many=True)}
    )
    assert values["days"] == ["2025-01-01", "2025-01-02"]


def test_nager_lookup_by_campaign_date(serve: Serve) -> None:
    url = serve_documents(serve, {"GB": sample("nager_public_holidays_gb")})
    audience = pd.DataFrame(
        {
            "campaign_id": ["GB", "GB", "GB"],
            "send_date": ["2025-12-26", "2025-05-06", "2025-05-05"],
        }
    )
    result = enrich(
        audience,
        url,
        records="$[*]",
        on={"send_date": "date"},
        columns={"date": "$.date", "holiday": "$.name"},
    )
    assert result["holiday"].tolist()[0] == "St. Stephen's Day"
    assert pd.isna(result["holiday"].iloc[1])
    assert result["holiday"].iloc[2] == "Early May Bank Holiday"


# Open-Meteo air quality


def test_air_quality_mapping() -> None:
    values = row(
        sample("openmeteo_air_quality"),
        {
            "pm25_ugm3": Column("$.current.pm2_5", dtype="Float64"),
            "pm10_ugm3": Column("$.current.pm10", dtype="Float64"),
            "eaqi": Column("$.current.european_aqi", dtype="Int64"),
            "us_aqi": Column("$.current.us_aqi", dtype="Int64"),
            "birch_pollen": Column("$.current.birch_pollen", dtype="Float64"),
            "uv_index": Column("$.current.uv_index", dtype="Float64"),
            "aq_observed_at": Column(
                "$.current.time", dtype=UTC, assume_tz="$.utc_offset_seconds"
            ),
        },
    )
    assert values == {
        "pm25_ugm3": 22.1,
        "pm10_ugm3": 28.2,
        "eaqi": 44,
        "us_aqi": 65,
        "birch_pollen": 0.0,
        "uv_index": 2.1,
        "aq_observed_at": pd.Timestamp("2026-10-03T10:00:00Z"),
    }


def test_air_quality_unit_decoded() -> None:
    values = row(
        sample("openmeteo_air_quality"),
        {"unit": "$.current_units.pm2_5", "uv": "$.current_units.uv_index"},
    )
    assert values["unit"] == "\u03bcg/m\u00b3"
    assert values["uv"] == ""


def test_air_quality_hourly_list() -> None:
    values = row(
        sample("openmeteo_air_quality"),
        {"eaqi_hourly": Column("$.hourly.european_aqi", dtype="list[Int64]")},
    )
    assert values["eaqi_hourly"] == [43, 43, 42]


def test_air_quality_names_keep_digits() -> None:
    mapping = infer_mapping(sample("openmeteo_air_quality"))
    assert mapping["current_pm2_5"].path == "$.current.pm2_5"


# Open-Meteo forecast


def test_forecast_current_mapping() -> None:
    values = row(
        sample("openmeteo_forecast"),
        {
            "temp_now_c": Column("$.current.temperature_2m", dtype="Float64"),
            "weather_code_now": Column("$.current.weather_code", dtype="Int64"),
            "precip_now_mm": "$.current.precipitation",
            "is_day": Column("$.current.is_day", dtype="boolean"),
            "observed_at": Column(
                "$.current.time", dtype=UTC, assume_tz="$.utc_offset_seconds"
            ),
        },
    )
    assert values == {
        "temp_now_c": 17.7,
        "weather_code_now": 2,
        "precip_now_mm": 0.0,
        "is_day": True,
        "observed_at": pd.Timestamp("2026-10-03T10:30:00Z"),
    }


def test_forecast_zero_precipitation_is_float() -> None:
    frame = extract(
        sample("openmeteo_forecast"), columns={"precip": "$.current.precipitation"}
    )
    assert str(frame["precip"].dtype) == "Float64"


def test_forecast_albedo_all_na_keeps_dtype() -> None:
    frame = extract(
        sample("openmeteo_forecast"),
        columns={"albedo": Column("$.current.albedo", dtype="Float64")},
    )
    assert str(frame["albedo"].dtype) == "Float64"
    assert frame["albedo"].iloc[0] is pd.NA


def test_forecast_zone_name_equals_offset() -> None:
    by_name = row(
        sample("openmeteo_forecast"),
        {"t": Column("$.current.time", dtype=UTC, assume_tz="$.timezone")},
    )
    assert by_name["t"] == pd.Timestamp("2026-10-03T10:30:00Z")


def test_forecast_naive_time_needs_policy() -> None:
    with pytest.raises(ValidationError, match="'2026-10-03T12:30' has no UTC offset"):
        extract(
            sample("openmeteo_forecast"),
            columns={"t": Column("$.current.time", dtype=UTC)},
        )


def test_forecast_daily_by_index() -> None:
    values = row(
        sample("openmeteo_forecast"),
        {
            "tmax_day0_c": Column("$.daily.temperature_2m_max[0]", dtype="Float64"),
            "sunrise_day0": Column("$.daily.sunrise[0]", dtype=UTC),
            "moonrise_day1": Column("$.daily.moonrise[1]", dtype=UTC),
            "updraft_max_day2": Column("$.daily.updraft_max[2]", dtype="Float64"),
        },
        assume_tz="$.utc_offset_seconds",
    )
    assert values == {
        "tmax_day0_c": 20.6,
        "sunrise_day0": pd.Timestamp("2026-10-03T05:36:00Z"),
        "moonrise_day1": pd.NaT,
        "updraft_max_day2": pd.NA,
    }


def test_forecast_generation_time_exact() -> None:
    values = row(sample("openmeteo_forecast"), {"ms": "$.generationtime_ms"})
    assert values["ms"] == float("138.76497745513916")


def test_forecast_zip_daily_records() -> None:
    frame = extract(
        sample("openmeteo_forecast"),
        records="$.daily",
        assume_tz="$.utc_offset_seconds",
        columns={
            "day": Column("$.time", dtype="date"),
            "rain_prob_max_pct": Column(
                "$.precipitation_probability_max", dtype="Int64"
            ),
            "moonrise": Column("$.moonrise", dtype=UTC),
        },
    )
    assert frame["rain_prob_max_pct"].tolist() == [0, 8, 0]
    assert frame["moonrise"].isna().tolist() == [False, True, False]
    assert frame["moonrise"].iloc[2] == pd.Timestamp("2026-10-04T22:38:00Z")


def test_forecast_rain_for_campaign_date(serve: Serve) -> None:
    url = serve_documents(serve, {"store-7": sample("openmeteo_forecast")})
    audience = pd.DataFrame(
        {
            "campaign_id": ["store-7"] * 3,
            "send_day": ["2026-10-04", "2026-10-05", "2026-10-04"],
        }
    )
    result = enrich(
        audience,
        url,
        records="$.daily",
        on={"send_day": "day"},
        columns={
            "day": "$.time",
            "rain_prob_max_pct": Column(
                "$.precipitation_probability_max", dtype="Int64"
            ),
        },
    )
    assert result["rain_prob_max_pct"].tolist() == [8, 0, 8]


def test_forecast_broadcast_per_store(serve: Serve) -> None:
    amsterdam = sample("openmeteo_forecast")
    london = sample("openmeteo_forecast_16_days")
    url = serve_documents(serve, {"ams": amsterdam, "ldn": london})
    audience = pd.DataFrame({"campaign_id": ["ams", "ldn", "ams"]})
    result = enrich(
        audience,
        url,
        assume_tz="$.utc_offset_seconds",
        columns={
            "first_sunrise": Column("$.daily.sunrise[0]", dtype=UTC),
            "tmax_day1": Column("$.daily.temperature_2m_max[1]", dtype="Float64"),
        },
    )
    assert result["first_sunrise"].tolist() == [
        pd.Timestamp("2026-10-03T05:36Z"),
        pd.Timestamp("2026-10-17T06:01Z"),
        pd.Timestamp("2026-10-03T05:36Z"),
    ]
    assert result["tmax_day1"].tolist() == [20.2, pd.NA, 20.2]


# Open-Meteo at the end of the forecast horizon


def test_horizon_mapping() -> None:
    values = row(
        sample("openmeteo_forecast_16_days"),
        {
            "tmax_c": Column("$.daily.temperature_2m_max[1]", dtype="Float64"),
            "weather_code": Column("$.daily.weather_code[1]", dtype="Int64"),
            "sunrise": Column(
                "$.daily.sunrise[1]", dtype=UTC, assume_tz="$.utc_offset_seconds"
            ),
        },
    )
    assert values == {
        "tmax_c": pd.NA,
        "weather_code": pd.NA,
        "sunrise": pd.Timestamp("2026-10-18T06:02:00Z"),
    }


def test_horizon_null_codes_not_float() -> None:
    frame = extract(
        sample("openmeteo_forecast_16_days"),
        columns={"weather_code": Column("$.daily.weather_code[1]", dtype="Int64")},
    )
    assert str(frame["weather_code"].dtype) == "Int64"


def test_horizon_hourly_lists() -> None:
    values = row(
        sample("openmeteo_forecast_16_days"),
        {
            "temp_hourly_c": Column("$.hourly.temperature_2m", dtype="list[Float64]"),
            "is_day_hourly": Column("$.hourly.is_day", dtype="list[boolean]"),
        },
    )
    assert values["temp_hourly_c"] == [None, None, None, None]
    assert values["is_day_hourly"] == [False, False, False, False]


def test_horizon_all_null_keeps_declared_dtype() -> None:
    frame = extract(
        sample("openmeteo_forecast_16_days"),
        columns={
            "t0": Column("$.hourly.temperature_2m[0]", dtype="Float64"),
            "temps": Column("$.hourly.temperature_2m", dtype="list[Float64]"),
        },
    )
    assert str(frame["t0"].dtype) == "Float64"
    assert "double" in str(frame["temps"].dtype)


# Shopify products


PRODUCT = "$[?(@.id==1)]"


def test_shopify_mapping() -> None:
    values = row(
        sample("shopify_products"),
        {
            "product_title": f"{PRODUCT}.title",
            "price": Column(f"{PRODUCT}.variants[0].price", dtype="Float64"),
            "compare_at_price": Column(
                f"{PRODUCT}.variants[0].compare_at_price", dtype="Float64"
            ),
            "stock": Column(f"{PRODUCT}.variants[0].inventory_quantity", dtype="Int64"),
            "sku": f"{PRODUCT}.variants[0].sku",
            "image_url": f"{PRODUCT}.images[0].src",
            "published_at": Column(f"{PRODUCT}.published_at", dtype=UTC),
        },
    )
    assert values == {
        "product_title": "IPod Nano - 8GB",
        "price": 199.0,
        "compare_at_price": pd.NA,
        "stock": 10,
        "sku": "IPOD2008PINK",
        "image_url": "http://static.shopify.com/s/files/1/6909/3384/products/"
        "ipod-nano.png?0",
        "published_at": pd.Timestamp("2008-01-01T00:00:00Z"),
    }


def test_shopify_price_text_exact() -> None:
    values = row(
        sample("shopify_products"),
        {"price": Column(f"{PRODUCT}.variants[0].price", dtype="Float64")},
    )
    assert values["price"] == float("199.00")


def test_shopify_offsets_across_dst() -> None:
    values = row(
        sample("shopify_products"),
        {
            "created_at": Column(f"{PRODUCT}.created_at", dtype=UTC),
            "published_at": Column(f"{PRODUCT}.published_at", dtype=UTC),
        },
    )
    assert values["created_at"] == pd.Timestamp("2011-10-20T18:05:13Z")
    assert values["published_at"] == pd.Timestamp("2008-01-01T00:00:00Z")


def test_shopify_variant_options_list() -> None:
    values = row(
        sample("shopify_products"),
        {
            "variant_options": Column(
                f"{PRODUCT}.variants[*].option1", many=True, dtype="list[string]"
            )
        },
    )
    assert values["variant_options"] == ["Pink"]


def test_shopify_tags_text_or_split() -> None:
    values = row(
        sample("shopify_products"),
        {"tags": f"{PRODUCT}.tags", "tag_list": Column(f"{PRODUCT}.tags", split=", ")},
    )
    assert values["tags"] == "Emotive, Flash Memory, MP3, Music"
    assert values["tag_list"] == ["Emotive", "Flash Memory", "MP3", "Music"]


def test_shopify_null_options_string_dtype() -> None:
    frame = extract(
        sample("shopify_products"),
        records="$[*]",
        columns={
            "option2": Column("$.variants[0].option2", dtype="string"),
            "option3": Column("$.variants[0].option3", dtype="string"),
        },
    )
    assert isinstance(frame["option2"].dtype, pd.StringDtype)
    assert frame["option3"].isna().all()


def test_shopify_join_on_parent_id(serve: Serve) -> None:
    url = serve_documents(serve, {"feed": sample("shopify_products")})
    audience = pd.DataFrame({"campaign_id": ["feed", "feed"], "product": [3, 1]})
    result = enrich(
        audience,
        url,
        records="$[*]",
        on={"product": "id"},
        columns={
            "id": Column("$.id", dtype="Int64"),
            "nested_product_id": Column("$.variants[0].product_id", dtype="Int64"),
            "price": Column("$.variants[0].price", dtype="Float64"),
        },
    )
    assert result["nested_product_id"].tolist() == [2, 1]
    assert result["price"].tolist() == [199.0, 199.0]


def test_shopify_variant_id_not_unique(serve: Serve) -> None:
    url = serve_documents(serve, {"feed": sample("shopify_products")})
    audience = pd.DataFrame({"campaign_id": ["feed"], "variant": [808950810]})
    with pytest.raises(AttachError, match=r"several records with key .*808950810"):
        enrich(
            audience,
            url,
            records="$[*]",
            on={"variant": "variant_id"},
            columns={"variant_id": Column("$.variants[0].id", dtype="Int64")},
        )


# World Air Quality Index station feed


def test_waqi_mapping() -> None:
    values = row(
        sample("waqi_air_quality"),
        {
            "aqi": Column("$.aqi", dtype="Int64", na_values=["-"]),
            "dominant_pollutant": "$.dominentpol",
            "pm25_index": Column("$.iaqi.pm25.v", dtype="Float64"),
            "station_temp_c": Column("$.iaqi.t.v", dtype="Float64"),
            "station_name": "$.city.name",
            "station_lat": Column("$.city.geo[0]", dtype="Float64"),
            "station_lon": Column("$.city.geo[1]", dtype="Float64"),
            "measured_at": Column("$.time.iso", dtype=UTC),
            "pm25_forecast_max": Column(
                "$.forecast.daily.pm25[?(@.day=='2023-08-08')].max", dtype="Int64"
            ),
        },
    )
    assert values == {
        "aqi": 29,
        "dominant_pollutant": "o3",
        "pm25_index": 17.0,
        "station_temp_c": 16.0,
        "station_name": "de Jongweg, Utrecht",
        "station_lat": 52.105031,
        "station_lon": 5.124464,
        "measured_at": pd.Timestamp("2023-08-07T15:00:00Z"),
        "pm25_forecast_max": 37,
    }


def test_waqi_unavailable_aqi_is_na() -> None:
    document = sample("waqi_air_quality") | {"aqi": "-"}
    values = row(document, {"aqi": Column("$.aqi", dtype="Int64", na_values=["-"])})
    assert values["aqi"] is pd.NA


def test_waqi_unavailable_aqi_without_na_fails() -> None:
    document = sample("waqi_air_quality") | {"aqi": "-"}
    with pytest.raises(ValidationError, match="value '-' failed dtype"):
        row(document, {"aqi": Column("$.aqi", dtype="Int64")})


def test_waqi_missing_pollutant_is_na() -> None:
    values = row(
        sample("waqi_air_quality"), {"so2": Column("$.iaqi.so2.v", dtype="Float64")}
    )
    assert values["so2"] is pd.NA


def test_waqi_int_temperature_is_float() -> None:
    frame = extract(
        sample("waqi_air_quality"), columns={"t": Column("$.iaqi.t.v", dtype="Float64")}
    )
    assert str(frame["t"].dtype) == "Float64"


def test_waqi_two_clocks_disagree() -> None:
    values = row(
        sample("waqi_air_quality"),
        {
            "iso": Column("$.time.iso", dtype=UTC),
            "epoch": Column("$.time.v", dtype=UTC, unit="s"),
            "sync": Column("$.debug.sync", dtype=UTC),
        },
    )
    assert values["epoch"] - values["iso"] == pd.Timedelta(hours=2)
    assert values["sync"] == pd.Timestamp("2023-08-07T16:29:52Z")


def test_waqi_live_envelope(serve: Serve) -> None:
    station = sample("waqi_air_quality")
    offline = copy.deepcopy(station) | {"aqi": "-"}
    url = serve_documents(
        serve,
        {
            "utrecht": {"status": "ok", "data": station},
            "offline": {"status": "ok", "data": offline},
        },
    )
    audience = pd.DataFrame({"campaign_id": ["utrecht", "offline", "utrecht"]})
    result = enrich(
        audience,
        url,
        na_values=["-"],
        columns={
            "aqi": Column("$.data.aqi", dtype="Int64"),
            "measured_at": Column("$.data.time.iso", dtype=UTC),
        },
    )
    assert result["aqi"].tolist() == [29, pd.NA, 29]
    assert result["measured_at"].iloc[1] == pd.Timestamp("2023-08-07T15:00:00Z")
    nulls = [entry["nulls"] for entry in result.attrs["extapi"]["campaigns"]]
    assert nulls == [{}, {"aqi": 1}]
