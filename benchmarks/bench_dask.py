"""Time and per-worker peak memory of `ddf.extapi.enrich` on a Dask LocalCluster.

The audience is generated on the workers, one `make_audience` partition at a
time, so the client never loads it. The cluster has 2 worker processes with one
thread each, bound to 127.0.0.1, and the demo API serves the offers on
127.0.0.1. Each size runs on a fresh cluster, so a worker's peak resident set
size (`ru_maxrss`) belongs to that size alone. The claim under test: the peak
follows the partition size, not the audience size.

Usage:
    python -m benchmarks.bench_dask                          # 2M and 10M rows
    python -m benchmarks.bench_dask --sizes 100000000        # 100M rows, ~10 min
    python -m benchmarks.bench_dask --sizes 200000 --partition-rows 50000  # quick
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from typing import Any

import pandas as pd

__all__ = ["measure", "run"]

CAMPAIGNS = 50
OFFERS = {
    "params": {"market": "{market}"},
    "campaign": "campaign_id",
    "columns": {"offer": "$.offers[0].name", "price": "$.offers[0].price"},
}


def _partition(number: int, rows: int) -> pd.DataFrame:
    from extapi_pandas.demo.audience import make_audience

    frame = make_audience(rows, campaigns=CAMPAIGNS, seed=number)
    frame.index = frame.index + number * rows
    return frame


def _peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(rows: int, partition_rows: int) -> dict[str, Any]:
    """Enrich a generated audience of `rows` rows and return times and peaks."""
    import dask.dataframe as dd
    from distributed import Client, LocalCluster

    import extapi_pandas.dask  # noqa: F401  (registers ddf.extapi)
    from extapi_pandas.demo import DemoAPI

    partitions = max(1, rows // partition_rows)
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            memory_limit="8GiB",
        ) as cluster,
        Client(cluster) as client,
        DemoAPI() as api,
    ):
        audience = dd.from_map(_partition, range(partitions), rows=rows // partitions)
        requests_before = api.request_count("/offers")

        started = time.perf_counter()
        enriched = audience.extapi.enrich(api.url("/offers"), **OFFERS)
        planned = time.perf_counter() - started
        requests = api.request_count("/offers") - requests_before

        started = time.perf_counter()
        counts = enriched["offer"].value_counts().compute()
        attached = time.perf_counter() - started

        peaks = sorted(client.run(_peak_rss_mb).values())
    return {
        "rows": rows,
        "partitions": partitions,
        "partition_rows": rows // partitions,
        "requests": requests,
        "enrich_s": round(planned, 2),
        "attach_and_count_s": round(attached, 2),
        "rows_counted": int(counts.sum()),
        "worker_peak_rss_mb": [round(peak) for peak in peaks],
    }


def run(sizes: list[int], partition_rows: int) -> list[dict[str, Any]]:
    """Measure each size on a fresh cluster and print one JSON line per size."""
    results = []
    for rows in sizes:
        result = measure(rows, partition_rows)
        print(json.dumps(result), flush=True)
        results.append(result)
    return results


def main() -> None:
    """Parse the command line and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=[2_000_000, 10_000_000],
        help="audience rows of each run (default 2M and 10M)",
    )
    parser.add_argument(
        "--partition-rows",
        type=int,
        default=1_000_000,
        help="rows per partition (default 1,000,000)",
    )
    arguments = parser.parse_args()
    run(arguments.sizes, arguments.partition_rows)


if __name__ == "__main__":
    main()
