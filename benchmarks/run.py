"""Run every benchmark and optionally write the results to docs/benchmarks.md.

Each benchmark runs in a fresh interpreter, so that memory and objects left by one
(P1 allocates gigabytes) do not slow down the next. The library and its baseline
still run side by side in that one process.

Usage:
    python -m benchmarks.run              # full sizes, prints a table
    python -m benchmarks.run --write      # also rewrites docs/benchmarks.md
    python -m benchmarks.run --smoke      # tiny sizes, one repetition, no goals checked
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import platform
import subprocess
import sys
from collections.abc import Callable

from benchmarks import (
    bench_attach,
    bench_fanout,
    bench_file_join,
    bench_import,
    bench_per_row,
)
from benchmarks.common import ROOT, Result

__all__ = ["main"]

DOC = ROOT / "docs" / "benchmarks.md"
START = "<!-- results: start -->"
END = "<!-- results: end -->"
_RESULT_MARK = "benchmark-result: "


def _benchmarks(smoke: bool) -> list[tuple[str, Callable[[], Result]]]:
    if smoke:
        return [
            ("P1", lambda: bench_attach.run(rows=20_000, repeat=1)),
            (
                "P2",
                lambda: bench_fanout.run_fanout(campaigns=20, delay_s=0.01, repeat=1),
            ),
            (
                "P3",
                lambda: bench_fanout.run_single(
                    body_bytes=2_000, delay_s=0.01, repeat=1
                ),
            ),
            ("P4", lambda: bench_import.run(repeat=1)),
            ("P5", lambda: bench_file_join.run(rows=20_000, repeat=1)),
            ("P6", lambda: bench_per_row.run(rows=50, campaigns=5)),
        ]
    return [
        ("P1", bench_attach.run),
        ("P2", bench_fanout.run_fanout),
        ("P3", bench_fanout.run_single),
        ("P4", bench_import.run),
        ("P5", bench_file_join.run),
        ("P6", bench_per_row.run),
    ]


def _run_isolated(benchmark_id: str, smoke: bool) -> Result:
    """Run one benchmark in a fresh interpreter and return its result."""
    command = [sys.executable, "-m", "benchmarks.run", "--one", benchmark_id]
    if smoke:
        command.append("--smoke")
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, check=False
    )
    lines = [
        line[len(_RESULT_MARK) :]
        for line in done.stdout.splitlines()
        if line.startswith(_RESULT_MARK)
    ]
    if done.returncode != 0 or not lines:
        sys.stderr.write(done.stderr)
        raise RuntimeError(
            f"benchmark {benchmark_id} failed with exit code {done.returncode}, and "
            "its error output is printed above"
        )
    return Result(**json.loads(lines[-1]))


def _machine() -> str:
    memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{os.cpu_count()} cores, {memory_gib:.0f} GiB, {platform.machine()}, "
        f"Python {platform.python_version()}, {platform.system()}"
    )


def _table(results: list[Result]) -> str:
    lines = [
        "| id | what | baseline | goal | result | goal met |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        met = {True: "yes", False: "**no**", None: "n/a"}[r.met]
        lines.append(
            f"| {r.id} | {r.title} | {r.baseline} | {r.goal} | {r.ratio_text} | {met} |"
        )
    return "\n".join(lines)


def _write(results: list[Result], command: str) -> None:
    text = DOC.read_text(encoding="utf-8")
    before, _, rest = text.partition(START)
    _, _, after = rest.partition(END)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    block = (
        f"{START}\nMeasured {stamp} on {_machine()}, with `{command}`.\n\n"
        f"{_table(results)}\n{END}"
    )
    DOC.write_text(before + block + after, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks; return 0 (goals are reported, never asserted)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="tiny sizes and one repetition, to check they still run",
    )
    parser.add_argument(
        "--write",
        action="store_true",
        help="rewrite the results block of docs/benchmarks.md",
    )
    parser.add_argument(
        "--only",
        nargs="*",
        default=None,
        help="ids to run, such as P1 P3 (default: all)",
    )
    # Internal: run one benchmark in this process and print its result as JSON.
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        result = dict(_benchmarks(args.smoke))[args.one]()
        print(_RESULT_MARK + json.dumps(dataclasses.asdict(result)), flush=True)
        return 0
    results = []
    for benchmark_id, _ in _benchmarks(args.smoke):
        if args.only and benchmark_id not in args.only:
            continue
        print(f"running {benchmark_id} ...", file=sys.stderr, flush=True)
        results.append(_run_isolated(benchmark_id, args.smoke))
    print(_table(results))
    if args.write and not args.smoke:
        _write(results, "python -m benchmarks.run --write")
    return 0


if __name__ == "__main__":
    sys.exit(main())
