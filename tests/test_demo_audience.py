"""Tests for the synthetic demo audience."""

from __future__ import annotations

import pandas as pd
import pytest

from extapi_pandas.demo import (
    LOYALTY_TIERS,
    MARKETS,
    REGIONS,
    campaign_id,
    campaign_markets,
    make_audience,
)

EXPECTED_DTYPES = {
    "profile_id": "str",
    "email": "str",
    "first_name": "str",
    "campaign_id": "str",
    "market": "str",
    "region": "str",
    "loyalty_tier": "category",
    "lifetime_value_eur": "float64",
    "age": "Int64",
    "opted_in": "bool",
    "signup_date": "datetime64[ns, UTC]",
}


@pytest.fixture(scope="module")
def audience() -> pd.DataFrame:
    return make_audience(5000, campaigns=10, seed=7)


def test_same_seed_equal_frames() -> None:
    first = make_audience(500, seed=3)
    second = make_audience(500, seed=3)
    pd.testing.assert_frame_equal(first, second)


def test_other_seed_differs() -> None:
    first = make_audience(500, seed=1)
    second = make_audience(500, seed=2)
    assert not first["email"].equals(second["email"])


@pytest.mark.parametrize("rows", [0, 1, 3, 1000])
def test_row_count_matches(rows: int) -> None:
    assert len(make_audience(rows)) == rows


def test_columns_in_order(audience: pd.DataFrame) -> None:
    assert list(audience.columns) == list(EXPECTED_DTYPES)


@pytest.mark.parametrize(("column", "dtype"), EXPECTED_DTYPES.items())
def test_column_dtype(audience: pd.DataFrame, column: str, dtype: str) -> None:
    assert audience[column].dtype == dtype


@pytest.mark.parametrize(("column", "dtype"), EXPECTED_DTYPES.items())
def test_empty_audience_dtype(column: str, dtype: str) -> None:
    assert make_audience(0)[column].dtype == dtype


def test_index_is_range_index(audience: pd.DataFrame) -> None:
    pd.testing.assert_index_equal(audience.index, pd.RangeIndex(len(audience)))


def test_default_campaign_count() -> None:
    assert make_audience()["campaign_id"].nunique() == 4


@pytest.mark.parametrize("campaigns", [1, 4, 7, 10, 30])
def test_campaign_count_matches(campaigns: int) -> None:
    frame = make_audience(2000, campaigns=campaigns)
    assert frame["campaign_id"].nunique() == campaigns


def test_every_campaign_has_profiles() -> None:
    frame = make_audience(12, campaigns=12)
    assert sorted(frame["campaign_id"]) == sorted(campaign_markets(12))


def test_market_constant_within_campaign(audience: pd.DataFrame) -> None:
    markets_per_campaign = audience.groupby("campaign_id")["market"].nunique()
    assert (markets_per_campaign == 1).all()


def test_market_matches_campaign_markets(audience: pd.DataFrame) -> None:
    expected = audience["campaign_id"].map(campaign_markets(10))
    pd.testing.assert_series_equal(audience["market"], expected, check_names=False)


def test_campaigns_cycle_markets() -> None:
    assert list(campaign_markets(8).values()) == [*MARKETS, "DE"]


def test_campaign_id_format() -> None:
    assert campaign_id(0) == "CMP-DE-01"
    assert campaign_id(7) == "CMP-DE-02"
    assert campaign_id(10) == "CMP-US-02"


def test_profile_id_format(audience: pd.DataFrame) -> None:
    assert audience["profile_id"].iloc[0] == "P0000001"
    assert audience["profile_id"].str.fullmatch(r"P\d{7}").all()


def test_profile_ids_unique(audience: pd.DataFrame) -> None:
    assert audience["profile_id"].is_unique


def test_emails_unique(audience: pd.DataFrame) -> None:
    assert audience["email"].is_unique


def test_emails_ascii_reserved_domains(audience: pd.DataFrame) -> None:
    pattern = r"[a-z]+\.\d+@example\.(com|org|net)"
    assert audience["email"].str.fullmatch(pattern).all()


def test_first_names_include_accents(audience: pd.DataFrame) -> None:
    assert not audience["first_name"].map(str.isascii).all()


def test_regions_are_weather_regions(audience: pd.DataFrame) -> None:
    assert set(audience["region"]) == set(REGIONS)


def test_loyalty_tier_ordered_categories(audience: pd.DataFrame) -> None:
    assert list(audience["loyalty_tier"].cat.categories) == list(LOYALTY_TIERS)
    assert audience["loyalty_tier"].cat.ordered


def test_lifetime_value_positive(audience: pd.DataFrame) -> None:
    assert (audience["lifetime_value_eur"] > 0).all()


def test_age_has_missing_values(audience: pd.DataFrame) -> None:
    assert audience["age"].isna().any()


def test_age_within_range(audience: pd.DataFrame) -> None:
    assert audience["age"].min() >= 18
    assert audience["age"].max() <= 90


def test_opted_in_has_both_values(audience: pd.DataFrame) -> None:
    assert set(audience["opted_in"]) == {True, False}


def test_signup_date_within_range(audience: pd.DataFrame) -> None:
    assert audience["signup_date"].min() >= pd.Timestamp("2015-01-01", tz="UTC")
    assert audience["signup_date"].max() < pd.Timestamp("2026-01-01", tz="UTC")


def test_million_rows_keep_campaign_markets() -> None:
    frame = make_audience(1_000_000, campaigns=7)
    assert len(frame) == 1_000_000
    assert (frame.groupby("campaign_id")["market"].nunique() == 1).all()


@pytest.mark.parametrize("rows", [-1, -100])
def test_negative_rows_rejected(rows: int) -> None:
    with pytest.raises(ValueError, match="rows"):
        make_audience(rows)


@pytest.mark.parametrize("campaigns", [0, -3])
def test_invalid_campaigns_rejected(campaigns: int) -> None:
    with pytest.raises(ValueError, match="campaigns"):
        make_audience(10, campaigns=campaigns)
