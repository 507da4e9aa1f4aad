"""The benchmarks still run: tiny sizes, one repetition, no goal asserted."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_benchmarks_smoke_run() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--smoke"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    for benchmark_id in ("P1", "P2", "P3", "P4", "P5", "P6"):
        assert f"| {benchmark_id} |" in completed.stdout
