"""P6: one request per campaign against one `requests.get` per row in `df.apply`."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

import extapi_pandas  # noqa: F401  (registers df.extapi)
from benchmarks.common import Result, delayed_json_server, median_time

__all__ = ["run"]


def run(rows: int = 10_000, campaigns: int = 10, repeat: int = 1) -> Result:
    """Time the library and the per-row loop against the same loopback server."""
    import requests

    result = Result(
        id="P6",
        title=f"{rows:,} rows in {campaigns} campaigns",
        baseline="one requests.get per row inside df.apply",
        goal="reported as a ratio",
    )
    ids = np.array([f"C{i:02d}" for i in range(campaigns)])
    audience = pd.DataFrame({"campaign_id": ids[np.arange(rows) % campaigns]})
    body = json.dumps({"offer": {"name": "Winter sale", "pct": 15}}).encode()
    with delayed_json_server(body, 0.0) as server, requests.Session() as session:
        template = server.url("/offers/{}")

        def per_row() -> None:
            audience.apply(
                lambda row: session.get(
                    template.format(row["campaign_id"]), timeout=10
                ).json()["offer"]["name"],
                axis=1,
            )

        def library() -> None:
            audience.extapi.enrich(
                server.url("/offers/{campaign_id}"),
                campaign="campaign_id",
                columns={"offer": "$.offer.name"},
            )

        library()
        result.times["library"] = median_time(library, max(repeat, 3))
        result.times["baseline"] = median_time(per_row, repeat)
    speedup = result.median("baseline") / result.median("library")
    result.ratio = speedup
    result.ratio_text = (
        f"{speedup:.0f}x faster ({result.median('library') * 1000:.0f} "
        f"ms against {result.median('baseline'):.1f} s)"
    )
    result.met = None
    return result


if __name__ == "__main__":
    print(run())
