"""P1: attach 5 new columns onto a large audience in 10 campaigns, against merge."""

from __future__ import annotations

import argparse
import gc
import json
from typing import Any

import numpy as np
import pandas as pd

import extapi_pandas  # noqa: F401  (registers df.extapi)
from benchmarks.common import (
    Result,
    current_rss_mb,
    median_time,
    peak_rss_mb,
    reset_peak_rss,
    run_variant_in_subprocess,
)
from extapi_pandas import Column
from extapi_pandas.demo import BackgroundServer

__all__ = ["run"]

CAMPAIGNS = 10
COLUMNS = {
    "offer_name": "$.offer_name",
    "offer_code": "$.offer_code",
    "price": "$.price",
    "discount": "$.discount",
    "valid_until": Column("$.valid_until", dtype="datetime64[ns, UTC]"),
}


def make_audience(rows: int) -> pd.DataFrame:
    """Return an audience of `rows` profiles spread over 10 campaigns."""
    rng = np.random.default_rng(0)
    campaigns = np.array([f"CMP-{i:02d}" for i in range(CAMPAIGNS)])
    return pd.DataFrame(
        {
            "profile_id": np.arange(rows, dtype=np.int64),
            "campaign_id": pd.array(
                campaigns[rng.integers(0, CAMPAIGNS, rows)], dtype="str"
            ),
            "score": rng.random(rows),
        }
    )


def campaign_document(number: int) -> dict[str, Any]:
    """Return the response served for campaign `number`."""
    return {
        "offer_name": f"Winter offer {number}",
        "offer_code": f"WIN-{number:02d}",
        "price": 10.0 + number,
        "discount": 0.05 * number,
        "valid_until": f"2026-12-{number + 10:02d}T23:59:59+00:00",
    }


def enrichment_table() -> pd.DataFrame:
    """Return the baseline's enrichment frame, with the dtypes the library produces."""
    documents = [campaign_document(i) for i in range(CAMPAIGNS)]
    return pd.DataFrame(
        {
            "campaign_id": [f"CMP-{i:02d}" for i in range(CAMPAIGNS)],
            "offer_name": [d["offer_name"] for d in documents],
            "offer_code": [d["offer_code"] for d in documents],
            "price": pd.array([d["price"] for d in documents], dtype="Float64"),
            "discount": pd.array([d["discount"] for d in documents], dtype="Float64"),
            "valid_until": pd.to_datetime(
                [d["valid_until"] for d in documents], utc=True
            ),
        }
    )


def start_server() -> BackgroundServer:
    """Return a loopback server (not started) with one document per campaign."""
    from aiohttp import web

    async def handler(request: web.Request) -> web.Response:
        number = int(request.match_info["campaign"].split("-")[1])
        return web.json_response(campaign_document(number))

    app = web.Application()
    app.router.add_get("/offers/{campaign}", handler)
    return BackgroundServer(app)


def enrich(audience: pd.DataFrame, server: BackgroundServer) -> pd.DataFrame:
    """Run the library's path: one request per campaign, then the attach."""
    result: pd.DataFrame = audience.extapi.enrich(
        server.url("/offers/{campaign_id}"), campaign="campaign_id", columns=COLUMNS
    )
    return result


def merge(audience: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """Run the baseline: a left merge on the campaign column."""
    return audience.merge(table, on="campaign_id", how="left")


def new_columns_mb(frame: pd.DataFrame) -> float:
    """Return the memory of the five new columns in their final dtypes, in MB."""
    return float(frame[list(COLUMNS)].memory_usage(index=False, deep=True).sum()) / 1e6


def measure_memory(variant: str, rows: int) -> dict[str, float]:
    """Measure one variant's extra peak RSS over the prepared audience, in MB."""
    audience = make_audience(rows)
    table = enrichment_table()
    server = start_server().start() if variant == "library" else None
    if server is not None:
        enrich(make_audience(100), server)  # imports and thread pools warmed up
    gc.collect()
    before = current_rss_mb()
    reset_peak_rss()
    result = enrich(audience, server) if server is not None else merge(audience, table)
    peak = peak_rss_mb()
    if server is not None:
        server.stop()
    return {"extra_peak_mb": peak - before, "new_columns_mb": new_columns_mb(result)}


def run(rows: int = 10_000_000, repeat: int = 5) -> Result:
    """Time both variants in this process and measure memory in subprocesses."""
    result = Result(
        id="P1",
        title=f"attach 5 columns onto {rows:,} rows in {CAMPAIGNS} campaigns",
        baseline='audience.merge(enrichment, on="campaign_id", how="left")',
        goal="at least 10x faster; extra peak memory at most 1.5x the new columns",
    )
    audience = make_audience(rows)
    table = enrichment_table()
    with start_server() as server:
        enrich(audience.head(100), server)
        result.times["library"] = median_time(lambda: enrich(audience, server), repeat)
    result.times["baseline"] = median_time(lambda: merge(audience, table), repeat)
    memory = {
        v: run_variant_in_subprocess("bench_attach", v, "--rows", str(rows))
        for v in ("library", "baseline")
    }
    speedup = result.median("baseline") / result.median("library")
    memory_ratio = (
        memory["library"]["extra_peak_mb"] / memory["library"]["new_columns_mb"]
    )
    result.ratio = speedup
    result.ratio_text = (
        f"{speedup:.1f}x faster; extra peak "
        f"{memory['library']['extra_peak_mb']:.0f} MB "
        f"= {memory_ratio:.2f}x the new columns "
        f"({memory['library']['new_columns_mb']:.0f} MB); merge's extra peak "
        f"{memory['baseline']['extra_peak_mb']:.0f} MB"
    )
    result.met = speedup >= 10 and memory_ratio <= 1.5
    result.extra = {"memory": memory}
    return result


def _main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--memory", choices=["library", "baseline"])
    parser.add_argument("--rows", type=int, default=10_000_000)
    args = parser.parse_args()
    if args.memory:
        print(json.dumps(measure_memory(args.memory, args.rows)))
    else:
        print(run(args.rows))


if __name__ == "__main__":
    _main()
