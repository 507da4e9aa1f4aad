"""P5: `enrich_from_file` with a per-profile Parquet file, against pyarrow + merge."""

from __future__ import annotations

import argparse
import gc
import json
import tempfile
from pathlib import Path
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

__all__ = ["run"]

COLUMNS = ["score", "orders", "segment"]


def profile_ids(rows: int) -> np.ndarray[Any, Any]:
    """Return ids such as `p00000042`, as a numpy array of str."""
    return np.char.add("p", np.char.zfill(np.arange(rows).astype(str), 8))


def make_audience(rows: int) -> pd.DataFrame:
    """Return an audience keyed by `profile_id`, in a shuffled order."""
    rng = np.random.default_rng(0)
    ids = profile_ids(rows)[rng.permutation(rows)]
    return pd.DataFrame(
        {
            "profile_id": pd.array(ids, dtype="str"),
            "campaign_id": pd.array(
                np.where(np.arange(rows) % 2, "A", "B"), dtype="str"
            ),
        }
    )


def write_file(folder: Path, rows: int) -> Path:
    """Write the per-profile Parquet file and return its path."""
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {
            "profile_id": pd.array(profile_ids(rows), dtype="str"),
            "score": rng.random(rows),
            "orders": rng.integers(0, 50, rows),
            "segment": pd.array(
                np.array(["new", "loyal", "lapsed"])[rng.integers(0, 3, rows)],
                dtype="str",
            ),
        }
    )
    path = folder / "profiles.parquet"
    frame.to_parquet(path, row_group_size=1_000_000)
    return path


def library(audience: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Run the library's route: record batches, key filter, take-based join."""
    result: pd.DataFrame = audience.extapi.enrich_from_file(
        path, on="profile_id", columns=COLUMNS
    )
    return result


def baseline(audience: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Run the hand-written route: read the whole file with pyarrow, then merge."""
    import pyarrow.parquet as pq

    table = pq.read_table(path, columns=["profile_id", *COLUMNS]).to_pandas()
    return audience.merge(table, on="profile_id", how="left")


def measure_memory(variant: str, rows: int, path: Path) -> dict[str, float]:
    """Measure one variant's extra peak RSS over the prepared audience, in MB."""
    audience = make_audience(rows)
    join = library if variant == "library" else baseline
    join(audience.head(1000), path)  # imports warmed up
    gc.collect()
    before = current_rss_mb()
    reset_peak_rss()
    join(audience, path)
    return {"extra_peak_mb": peak_rss_mb() - before}


def run(rows: int = 10_000_000, repeat: int = 3) -> Result:
    """Time both routes in this process and measure memory in subprocesses."""
    result = Result(
        id="P5",
        title=f"enrich_from_file: {rows:,}-row Parquet keyed by profile_id onto "
        f"{rows:,} profiles",
        baseline="pyarrow.parquet.read_table + to_pandas + merge",
        goal="at most 1.2x the time and at most 1.0x the peak memory",
    )
    with tempfile.TemporaryDirectory() as folder:
        path = write_file(Path(folder), rows)
        audience = make_audience(rows)
        library(audience.head(1000), path)
        times: dict[str, list[float]] = {"library": [], "baseline": []}
        for _ in range(repeat):  # interleaved, so drift in load hits both alike
            times["library"] += median_time(lambda: library(audience, path), 1)
            times["baseline"] += median_time(lambda: baseline(audience, path), 1)
        result.times = times
        memory = {
            variant: run_variant_in_subprocess(
                "bench_file_join", variant, "--rows", str(rows), "--path", str(path)
            )
            for variant in ("library", "baseline")
        }
    time_ratio = result.median("library") / result.median("baseline")
    memory_ratio = (
        memory["library"]["extra_peak_mb"] / memory["baseline"]["extra_peak_mb"]
    )
    result.ratio = time_ratio
    result.ratio_text = (
        f"{time_ratio:.2f}x the time ({result.median('library'):.2f} s against "
        f"{result.median('baseline'):.2f} s); {memory_ratio:.2f}x the extra peak "
        f"memory ({memory['library']['extra_peak_mb']:.0f} MB against "
        f"{memory['baseline']['extra_peak_mb']:.0f} MB)"
    )
    result.met = time_ratio <= 1.2 and memory_ratio <= 1.0
    result.extra = {"memory": memory}
    return result


def _main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--memory", choices=["library", "baseline"])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--path", type=Path)
    args = parser.parse_args()
    if args.memory:
        print(json.dumps(measure_memory(args.memory, args.rows, args.path)))
    else:
        print(run(args.rows))


if __name__ == "__main__":
    _main()
