"""Seeded synthetic marketing audience for demos, tests and benchmarks."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = [
    "LOYALTY_TIERS",
    "MARKETS",
    "REGIONS",
    "campaign_id",
    "campaign_markets",
    "make_audience",
]

MARKETS = ("DE", "FR", "GB", "US", "ES", "IT", "NL")
"""Markets in the order that campaigns cycle through them. Each has demo offers."""

REGIONS = ("north", "south", "east", "west", "central", "coast", "highlands", "islands")
"""Region codes, the same as the `region_code` values of the demo `/weather`."""

LOYALTY_TIERS = ("bronze", "silver", "gold", "platinum")
"""Loyalty tiers from lowest to highest, the categories of `loyalty_tier`."""

_REGION_WEIGHTS = (0.14, 0.14, 0.12, 0.12, 0.20, 0.12, 0.08, 0.08)
_TIER_WEIGHTS = (0.55, 0.28, 0.13, 0.04)
_TIER_VALUE_FACTORS = np.array([1.0, 2.0, 4.0, 9.0])
_EMAIL_DOMAINS = ("example.com", "example.org", "example.net")
_AGE_MISSING_RATE = 0.06
_OPT_IN_RATE = 0.72
_SIGNUP_START = np.datetime64("2015-01-01T00:00:00", "s")
_SIGNUP_END = np.datetime64("2026-01-01T00:00:00", "s")

# Every market has the same number of names so that one 2-D lookup picks them all.
_FIRST_NAMES = {
    "DE": ("Anna", "Lukas", "Marie", "Jürgen", "Sophie",
           "Felix", "Lena", "Maximilian", "Hannah", "Jonas"),
    "FR": ("Léa", "Hugo", "Chloé", "Louis", "Manon",
           "Gabriel", "Zoé", "Jules", "Camille", "Raphaël"),
    "GB": ("Oliver", "Amelia", "George", "Isla", "Harry",
           "Olivia", "Jack", "Emily", "Noah", "Siobhan"),
    "US": ("Liam", "Emma", "Noah", "Ava", "Ethan",
           "Mia", "Mason", "Harper", "Lucas", "Evelyn"),
    "ES": ("Lucía", "Hugo", "Martina", "Mateo", "Sofía",
           "Pablo", "Valeria", "Álvaro", "Paula", "Daniel"),
    "IT": ("Giulia", "Leonardo", "Sofia", "Francesco", "Aurora",
           "Alessandro", "Ginevra", "Niccolò", "Beatrice", "Lorenzo"),
    "NL": ("Emma", "Daan", "Julia", "Sem", "Mila",
           "Lucas", "Tess", "Bram", "Sanne", "Joëlle"),
}  # fmt: skip


def campaign_id(index: int) -> str:
    """Return the id of the campaign at a 0-based index, such as "CMP-DE-01".

    Campaigns cycle through `MARKETS`, so index 7 is "CMP-DE-02".
    """
    market = MARKETS[index % len(MARKETS)]
    return f"CMP-{market}-{index // len(MARKETS) + 1:02d}"


def campaign_markets(campaigns: int = 4) -> dict[str, str]:
    """Return the campaign id to market mapping that `make_audience` uses."""
    return {
        campaign_id(index): MARKETS[index % len(MARKETS)] for index in range(campaigns)
    }


def make_audience(
    rows: int = 1000, *, campaigns: int = 4, seed: int = 0
) -> pd.DataFrame:
    """Generate a reproducible audience of marketing profiles.

    Each profile belongs to one campaign, and each campaign to one market (see
    `campaign_markets`). Campaign sizes vary by up to a factor of three. When
    `rows >= campaigns`, every campaign has at least one profile.

    Columns and dtypes: `profile_id`, `email`, `first_name`, `campaign_id`, `market`
    and `region` are `str`. `loyalty_tier` is an ordered category, `lifetime_value_eur`
    is float64, `age` is Int64 with about 6 % missing, `opted_in` is bool and
    `signup_date` is datetime64[ns, UTC]. The index is a RangeIndex.

    Args:
        rows: Number of profiles.
        campaigns: Number of campaigns.
        seed: Seed of the random generator; the same arguments give equal frames.

    Returns:
        The audience, one row per profile.

    Raises:
        ValueError: If `rows` is negative or `campaigns` is less than 1.
    """
    if rows < 0:
        raise ValueError(f"invalid rows {rows}: expected 0 or more")
    if campaigns < 1:
        raise ValueError(f"invalid campaigns {campaigns}: expected 1 or more")
    rng = np.random.default_rng(seed)

    campaign_codes = _draw_campaign_codes(rng, rows, campaigns)
    market_codes = campaign_codes % len(MARKETS)
    tier_codes = rng.choice(len(LOYALTY_TIERS), size=rows, p=_TIER_WEIGHTS)
    numbers = pd.Series(np.arange(1, rows + 1)).astype("str")
    first_names, email_names = _draw_first_names(rng, market_codes)
    domains = _take_strings(
        _EMAIL_DOMAINS, rng.integers(0, len(_EMAIL_DOMAINS), size=rows)
    )
    campaign_ids = [campaign_id(index) for index in range(campaigns)]

    columns = {
        "profile_id": "P" + numbers.str.zfill(7),
        "email": email_names + "." + numbers + "@" + domains,
        "first_name": first_names,
        "campaign_id": _take_strings(campaign_ids, campaign_codes),
        "market": _take_strings(MARKETS, market_codes),
        "region": _take_strings(
            REGIONS, rng.choice(len(REGIONS), size=rows, p=_REGION_WEIGHTS)
        ),
        "loyalty_tier": pd.Categorical.from_codes(
            tier_codes, dtype=pd.CategoricalDtype(list(LOYALTY_TIERS), ordered=True)
        ),
        "lifetime_value_eur": _draw_lifetime_values(rng, tier_codes),
        "age": _draw_ages(rng, rows),
        "opted_in": rng.random(rows) < _OPT_IN_RATE,
        "signup_date": _draw_signup_dates(rng, rows),
    }
    return pd.DataFrame(columns, index=pd.RangeIndex(rows))


def _draw_campaign_codes(
    rng: np.random.Generator, rows: int, campaigns: int
) -> np.ndarray:
    weights = rng.uniform(0.5, 1.5, size=campaigns)
    codes = rng.choice(campaigns, size=rows, p=weights / weights.sum())
    if rows >= campaigns:
        # Give every campaign at least one profile, at random positions.
        positions = rng.choice(rows, size=campaigns, replace=False)
        codes[positions] = np.arange(campaigns)
    return codes


def _take_strings(values: Sequence[str], codes: np.ndarray) -> pd.Series[str]:
    """Build a `str` Series of `values[code]` for each code, with a RangeIndex.

    Taking from a small `str` array is much faster than converting an object array
    of the same length.
    """
    return pd.Series(pd.array(list(values), dtype="str").take(codes))


def _draw_first_names(
    rng: np.random.Generator, market_codes: np.ndarray
) -> tuple[pd.Series[str], pd.Series[str]]:
    """Draw a first name from each profile's market, with its ASCII e-mail form."""
    names = [name for market in MARKETS for name in _FIRST_NAMES[market]]
    names_per_market = len(_FIRST_NAMES[MARKETS[0]])
    picks = rng.integers(0, names_per_market, size=len(market_codes))
    codes = market_codes * names_per_market + picks
    email_names = [_to_email_name(name) for name in names]
    return _take_strings(names, codes), _take_strings(email_names, codes)


def _to_email_name(name: str) -> str:
    """Lower-case a name and drop its accents, so "Zoé" becomes "zoe"."""
    decomposed = unicodedata.normalize("NFKD", name)
    return decomposed.encode("ascii", "ignore").decode("ascii").lower()


def _draw_lifetime_values(
    rng: np.random.Generator, tier_codes: np.ndarray
) -> np.ndarray:
    """Draw log-normal lifetime values in EUR, scaled by tier.

    The median before scaling is about 55 EUR, and the factors are 1, 2, 4 and 9.
    """
    base = rng.lognormal(mean=4.0, sigma=0.9, size=len(tier_codes))
    values: np.ndarray = np.round(base * _TIER_VALUE_FACTORS[tier_codes], 2)
    return values


def _draw_ages(rng: np.random.Generator, rows: int) -> pd.arrays.IntegerArray:
    ages = np.clip(np.rint(rng.normal(41.0, 13.0, size=rows)), 18, 90).astype("int64")
    missing = rng.random(rows) < _AGE_MISSING_RATE
    return pd.arrays.IntegerArray(ages, missing)


def _draw_signup_dates(rng: np.random.Generator, rows: int) -> pd.DatetimeIndex:
    """Draw signup times, to the second, uniformly from 2015 to the end of 2025."""
    span_s = int((_SIGNUP_END - _SIGNUP_START) / np.timedelta64(1, "s"))
    offsets = rng.integers(0, span_s, size=rows).astype("timedelta64[s]")
    return pd.DatetimeIndex(
        (_SIGNUP_START + offsets).astype("datetime64[ns]"), tz="UTC"
    )
