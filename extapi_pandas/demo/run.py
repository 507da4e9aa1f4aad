"""The demo enrichment: offers per market (broadcast), weather per region (lookup)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import pandas as pd

from extapi_pandas.demo.server import DemoAPI
from extapi_pandas.mapping import Column

__all__ = ["DemoSummary", "enrich_demo_audience"]

OFFER_COLUMNS = {
    "offer_name": "$.offers[0].name",
    "offer_price": Column("$.offers[0].price", dtype="Float64"),
    "offer_discount_pct": "$.offers[0].discount_pct",
    "offer_valid_until": Column("$.offers[0].valid_until", dtype="datetime64[ns, UTC]"),
    "currency": "$.currency",
}
WEATHER_COLUMNS = {
    "temp_max_c": "$.temp_max_c",
    "rain_chance_pct": "$.precip_prob_pct",
    "weather": "$.summary",
}


@dataclass
class DemoSummary:
    """Counts and timings of one demo run."""

    rows: int
    campaigns: int
    requests: int
    columns_added: list[str]
    enrich_seconds: float
    total_seconds: float = 0.0
    shown_columns: list[str] = field(default_factory=list)

    def render(self) -> str:
        """Return the summary as a few lines of text."""
        return "\n".join(
            [
                "extapi-pandas demo: a local API on 127.0.0.1, a generated audience",
                f"  rows enriched:   {self.rows:,}",
                f"  campaigns:       {self.campaigns}",
                f"  HTTP requests:   {self.requests} (one per campaign, plus one "
                "for the weather table)",
                f"  columns added:   {', '.join(self.columns_added)}",
                f"  enrich time:     {self.enrich_seconds:.3f} s",
                f"  total time:      {self.total_seconds:.3f} s (generation included)",
            ]
        )


def enrich_demo_audience(
    audience: pd.DataFrame, api: DemoAPI
) -> tuple[pd.DataFrame, DemoSummary]:
    """Enrich the demo audience from a running demo API and summarise the work."""
    before = api.request_count()
    started = time.perf_counter()
    with_offers = audience.extapi.enrich(
        api.url("/offers"),
        params={"market": "{market}"},
        campaign="campaign_id",
        columns=OFFER_COLUMNS,
    )
    enriched = with_offers.extapi.enrich(
        api.url("/weather"),
        records="$.regions[*]",
        on={"region": "region_code"},
        columns=WEATHER_COLUMNS,
    )
    elapsed = time.perf_counter() - started
    added = [*OFFER_COLUMNS, *WEATHER_COLUMNS]
    summary = DemoSummary(
        rows=len(enriched),
        campaigns=int(audience["campaign_id"].nunique()),
        requests=api.request_count() - before,
        columns_added=added,
        enrich_seconds=elapsed,
        shown_columns=["profile_id", "campaign_id", "market", "region", *added],
    )
    return enriched, summary
