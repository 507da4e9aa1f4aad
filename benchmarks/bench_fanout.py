"""P2 and P3: request fan-out across campaigns, and the overhead of one call."""

from __future__ import annotations

import asyncio
import json
import math
from typing import Any

import aiohttp
import numpy as np
import pandas as pd

import extapi_pandas  # noqa: F401  (registers df.extapi)
from benchmarks.common import Result, delayed_json_server, median_time
from extapi_pandas import Column

__all__ = ["run_fanout", "run_single"]


def fanout_audience(campaigns: int, rows_per_campaign: int = 50) -> pd.DataFrame:
    """Return an audience with `campaigns` campaigns of `rows_per_campaign` profiles."""
    ids = np.repeat([f"C{i:04d}" for i in range(campaigns)], rows_per_campaign)
    return pd.DataFrame({"campaign_id": ids, "profile_id": np.arange(len(ids))})


async def _sequential_loop(urls: list[str]) -> list[Any]:
    async with aiohttp.ClientSession() as session:
        documents = []
        for url in urls:
            async with session.get(url) as response:
                documents.append(json.loads(await response.read()))
        return documents


def run_fanout(campaigns: int = 200, delay_s: float = 0.05, repeat: int = 3) -> Result:
    """P2: the library at its default concurrency against a sequential aiohttp loop."""
    ideal = math.ceil(campaigns / 16) * delay_s
    result = Result(
        id="P2",
        title=f"{campaigns} campaigns, server delay {delay_s * 1000:.0f} ms",
        baseline="a sequential loop of aiohttp requests",
        goal=f"at least 12x faster at concurrency 16; within 1.15x the ideal "
        f"ceil({campaigns}/16) x {delay_s * 1000:.0f} ms = {ideal:.2f} s",
    )
    audience = fanout_audience(campaigns)
    body = json.dumps({"offer": {"name": "Winter sale", "pct": 15}}).encode()
    with delayed_json_server(body, delay_s) as server:
        urls = [server.url(f"/offers/C{i:04d}") for i in range(campaigns)]

        def library() -> None:
            audience.extapi.enrich(
                server.url("/offers/{campaign_id}"),
                campaign="campaign_id",
                columns={"offer": "$.offer.name"},
            )

        library()
        result.times["library"] = median_time(library, repeat)
        result.times["baseline"] = median_time(
            lambda: asyncio.run(_sequential_loop(urls)), repeat
        )
    speedup = result.median("baseline") / result.median("library")
    versus_ideal = result.median("library") / ideal
    result.ratio = speedup
    result.ratio_text = (
        f"{speedup:.1f}x faster; {versus_ideal:.2f}x the ideal {ideal:.2f} s"
    )
    result.met = speedup >= 12 and versus_ideal <= 1.15
    return result


def _document_of_size(target_bytes: int) -> dict[str, Any]:
    items = []
    while len(json.dumps({"items": items})) < target_bytes:
        n = len(items)
        items.append(
            {
                "id": n,
                "name": f"product {n}",
                "price": 9.99 + n,
                "tags": ["a", "b"],
                "stock": n % 7,
            }
        )
    return {
        "campaign": "C0001",
        "headline": "Spring sale",
        "discount_pct": 20,
        "items": items,
    }


async def _bare_get(url: str) -> Any:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return json.loads(await response.read())


def run_single(
    body_bytes: int = 20_000, delay_s: float = 0.1, repeat: int = 30
) -> Result:
    """P3: one campaign with a schema, against a bare aiohttp GET plus json.loads."""
    import pandera.pandas as pa

    result = Result(
        id="P3",
        title=f"1 campaign, {body_bytes // 1000} KB JSON, server delay "
        f"{delay_s * 1000:.0f} ms, with a schema",
        baseline="a bare aiohttp GET plus json.loads",
        goal="at most 1.10x",
    )
    schema = pa.DataFrameSchema(
        {
            "headline": pa.Column(str),
            "discount_pct": pa.Column("Int64", pa.Check.in_range(0, 100)),
            "first_price": pa.Column("Float64", pa.Check.gt(0)),
        }
    )
    audience = fanout_audience(1, rows_per_campaign=1000)
    body = json.dumps(_document_of_size(body_bytes)).encode()
    with delayed_json_server(body, delay_s) as server:
        url = server.url("/campaign")

        def library() -> None:
            audience.extapi.enrich(
                url,
                columns={
                    "headline": "$.headline",
                    "discount_pct": "$.discount_pct",
                    "first_price": Column("$.items[0].price", dtype="Float64"),
                },
                schema=schema,
            )

        library()
        asyncio.run(_bare_get(url))
        library_times: list[float] = []
        baseline_times: list[float] = []
        for _ in range(repeat):  # interleaved, so drift in load hits both alike
            library_times += median_time(library, 1)
            baseline_times += median_time(lambda: asyncio.run(_bare_get(url)), 1)
        result.times = {"library": library_times, "baseline": baseline_times}
    ratio = result.median("library") / result.median("baseline")
    result.ratio = ratio
    result.ratio_text = (
        f"{ratio:.3f}x the baseline ({result.median('library') * 1000:.1f}"
        f" ms against {result.median('baseline') * 1000:.1f} ms)"
    )
    result.met = ratio <= 1.10
    return result


if __name__ == "__main__":
    print(run_fanout())
    print(run_single())
