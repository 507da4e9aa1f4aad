"""Shared benchmark helpers: repeated timing, peak memory in a subprocess, servers."""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from extapi_pandas.demo import BackgroundServer

__all__ = [
    "Result",
    "delayed_json_server",
    "median_time",
    "peak_rss_mb",
    "run_variant_in_subprocess",
]

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Result:
    """One benchmark's outcome: timings per variant, their ratio, and the goal."""

    id: str
    title: str
    baseline: str
    goal: str
    times: dict[str, list[float]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    ratio: float | None = None
    ratio_text: str = ""
    met: bool | None = None

    def median(self, variant: str) -> float:
        """Return the median time of a variant, in seconds."""
        return statistics.median(self.times[variant])


def median_time(function: Callable[[], Any], repeat: int) -> list[float]:
    """Return the wall times of `repeat` calls of `function`, in seconds."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return times


def delayed_json_server(body: bytes, delay_s: float) -> BackgroundServer:
    """Return a loopback server, not started, answering GETs with `body`, delayed."""

    async def handler(request: web.Request) -> web.Response:
        await asyncio.sleep(delay_s)
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    return BackgroundServer(app)


def peak_rss_mb() -> float:
    """Return this process's peak resident set size since the last reset, in MB."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("VmHWM not found in /proc/self/status")


def current_rss_mb() -> float:
    """Return this process's current resident set size, in MB."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("VmRSS not found in /proc/self/status")


def reset_peak_rss() -> None:
    """Reset the peak resident set size to the current one (Linux 4.0 and newer)."""
    with open("/proc/self/clear_refs", "w", encoding="ascii") as clear_refs:
        clear_refs.write("5")


def run_variant_in_subprocess(module: str, variant: str, *args: str) -> dict[str, Any]:
    """Run `python -m benchmarks.<module> --memory <variant>` and return its JSON line.

    Each variant runs in a fresh interpreter, so that one variant's freed memory
    cannot hide another's peak.
    """
    completed = subprocess.run(
        [sys.executable, "-m", f"benchmarks.{module}", "--memory", variant, *args],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    last_line = completed.stdout.strip().splitlines()[-1]
    result: dict[str, Any] = json.loads(last_line)
    return result
