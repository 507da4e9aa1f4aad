"""Peak memory of `enrich_from_file` by format and file size, against read-then-merge.

Each variant runs in a fresh interpreter (`--memory VARIANT`) that reads one file and
joins it onto the same audience. The number reported is the peak resident set size
above the prepared audience. The claim under test: the library's peak grows
with the chunk size and the result, not with the file, while reading the whole
file and merging grows with the file.

Usage:
    python -m benchmarks.bench_transfer_memory              # 1M and 4M file rows
    python -m benchmarks.bench_transfer_memory --rows 200000 --sizes 1 2   # quick
"""

from __future__ import annotations

import argparse
import gc
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import extapi_pandas  # noqa: F401  (registers df.extapi)
from benchmarks.common import (
    current_rss_mb,
    peak_rss_mb,
    reset_peak_rss,
    run_variant_in_subprocess,
)

__all__ = ["measure", "run"]

AUDIENCE_ROWS = 100_000
FORMATS = {
    "csv": "profiles.csv",
    "csv.gz": "profiles.csv.gz",
    "jsonl": "profiles.jsonl",
    "parquet": "profiles.parquet",
}
VARIANTS = [
    *(f"library:{name}" for name in FORMATS),
    "library:csv:chunk=10000",
    "baseline:csv",
    "baseline:parquet",
]


def profile_id(numbers: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Return zero-padded profile ids such as `p0000042`."""
    return np.char.add("p", np.char.zfill(numbers.astype(str), 7))


def make_file_frame(rows: int) -> pd.DataFrame:
    """Return `rows` per-profile rows: an id, a score, a count, a segment, a time."""
    rng = np.random.default_rng(1)
    return pd.DataFrame(
        {
            "profile_id": profile_id(np.arange(rows)),
            "score": rng.random(rows).round(6),
            "visits": rng.integers(0, 500, rows),
            "segment": np.array(["new", "active", "lapsed", "vip"])[
                rng.integers(0, 4, rows)
            ],
            "watch_time_ms": 1_700_000_000_000 + rng.integers(0, 10**9, rows),
        }
    )


def make_audience(rows: int) -> pd.DataFrame:
    """Return the audience: `AUDIENCE_ROWS` profiles, all present in every file."""
    numbers = np.random.default_rng(2).choice(rows, size=AUDIENCE_ROWS, replace=False)
    return pd.DataFrame(
        {
            "profile_id": pd.array(profile_id(numbers), dtype="str"),
            "campaign_id": "spring",
        }
    )


def write_files(folder: Path, rows: int) -> dict[str, float]:
    """Write the file in every format; return each file's size in MB."""
    frame = make_file_frame(rows)
    frame.to_csv(folder / FORMATS["csv"], index=False)
    frame.to_csv(folder / FORMATS["csv.gz"], index=False, compression="gzip")
    frame.to_json(folder / FORMATS["jsonl"], orient="records", lines=True)
    frame.to_parquet(folder / FORMATS["parquet"], row_group_size=100_000)
    return {
        name: (folder / file).stat().st_size / 1e6 for name, file in FORMATS.items()
    }


def _join(variant: str, folder: Path, audience: pd.DataFrame) -> pd.DataFrame:
    kind, name, *rest = variant.split(":")
    path = folder / FORMATS[name]
    if kind == "library":
        options = {"chunk_rows": int(rest[0].split("=")[1])} if rest else {}
        result: pd.DataFrame = audience.extapi.enrich_from_file(
            path, on="profile_id", **options
        )
        return result
    if name == "csv":
        table = pd.read_csv(path, dtype={"profile_id": str})
    else:
        table = pd.read_parquet(path)
    return audience.merge(table, on="profile_id", how="left")


def measure(variant: str, folder: Path, rows: int) -> dict[str, Any]:
    """Measure one variant in this process: extra peak RSS, result size, time."""
    audience = make_audience(rows)
    warm = folder / "warm.csv"
    warm.write_text("profile_id,score\np0000000,1\n")
    audience.head(10).extapi.enrich_from_file(warm, on="profile_id")  # imports
    gc.collect()
    before = current_rss_mb()
    reset_peak_rss()
    started = time.perf_counter()
    result = _join(variant, folder, audience)
    elapsed = time.perf_counter() - started
    peak = peak_rss_mb()
    added = [c for c in result.columns if c not in audience.columns]
    return {
        "variant": variant,
        "file_rows": rows,
        "extra_peak_mb": round(peak - before, 1),
        "new_columns_mb": round(
            result[added].memory_usage(index=False, deep=True).sum() / 1e6, 1
        ),
        "seconds": round(elapsed, 2),
    }


def run(rows: int, sizes: list[int]) -> list[dict[str, Any]]:
    """Write files of `rows * size` rows for each size and measure every variant."""
    results = []
    for size in sizes:
        with tempfile.TemporaryDirectory(prefix="bench-transfer-") as temp:
            folder = Path(temp)
            file_rows = rows * size
            megabytes = write_files(folder, file_rows)
            for variant in VARIANTS:
                measured = run_variant_in_subprocess(
                    "bench_transfer_memory",
                    variant,
                    "--folder",
                    temp,
                    "--rows",
                    str(file_rows),
                )
                measured["file_mb"] = round(megabytes[variant.split(":")[1]], 1)
                results.append(measured)
                print(json.dumps(measured), flush=True)
    return results


def _table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| variant | file rows | file MB | extra peak MB | new columns MB | s |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['variant']} | {r['file_rows']:,} | {r['file_mb']} | "
            f"{r['extra_peak_mb']} | {r['new_columns_mb']} | {r['seconds']} |"
        )
    return "\n".join(lines)


def _main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--memory", choices=VARIANTS)
    parser.add_argument("--folder", type=Path)
    parser.add_argument(
        "--rows", type=int, default=1_000_000, help="file rows of the smallest size"
    )
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=[1, 4],
        help="multiples of --rows to measure",
    )
    args = parser.parse_args()
    if args.memory:
        print(json.dumps(measure(args.memory, args.folder, args.rows)))
        return
    print(_table(run(args.rows, args.sizes)))


if __name__ == "__main__":
    _main()
