"""Load run: many campaigns against a slow, flaky loopback server, with leak checks.

Usage, from the repository root:

    python -m benchmarks.bench_load               # 1,000 campaigns, 10 rounds
    python -m benchmarks.bench_load --campaigns 200 --rounds 3

The server runs in a child process on 127.0.0.1, so that the file descriptors,
threads and resident memory measured here are the client's alone. It waits a random
0 to `max_delay_ms` before each response and returns 503 to the first request of every
`error_every`-th campaign in each round, so those campaigns succeed only through a
retry. Each round is one `enrich` call at concurrency 64 (by default). Around each
call the run records open file descriptors (`/proc/self/fd`), threads and the
resident set size (`VmRSS`), after a warm-up round that loads aiohttp and fills
the allocators' pools. Last, eight threads call `enrich` at once. The exit status
is 1 when any check fails: a wrong value, a leaked descriptor or thread, or memory
more than `rss_tolerance` above the warm-up level.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import json
import logging
import os
import random
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import numpy as np
import pandas as pd
from aiohttp import web

import extapi_pandas  # noqa: F401  (registers df.extapi)
from extapi_pandas import Retry, Timeout

__all__ = [
    "LoadConfig",
    "LoadReport",
    "RoundStats",
    "ServerProcess",
    "Snapshot",
    "check_result",
    "load_audience",
    "main",
    "run_load",
]

ROOT = Path(__file__).resolve().parent.parent
COLUMNS = {
    "echo": "$.campaign",
    "score": "$.score",
    "label": "$.label",
    "active": "$.active",
}


@dataclass(frozen=True)
class LoadConfig:
    """Sizes and settings of one load run.

    Attributes:
        campaigns: Campaigns per `enrich` call, one request each (plus retries).
        profiles: Audience rows per campaign.
        rounds: Measured rounds after the warm-up round.
        concurrency: `max_concurrency` of each call.
        max_delay_ms: Upper bound of the server's random delay per request.
        error_every: Every n-th campaign gets a 503 on its first request per round.
        threads: Threads that call `enrich` at once in the threaded check.
        threaded_campaigns: Campaigns per call in the threaded check.
        rss_tolerance: Allowed growth of the resident set size over the warm-up
            level, as a fraction.
        seed: Seed of the server's delays.
    """

    campaigns: int = 1000
    profiles: int = 3
    rounds: int = 10
    concurrency: int = 64
    max_delay_ms: float = 20.0
    error_every: int = 100
    threads: int = 8
    threaded_campaigns: int = 100
    rss_tolerance: float = 0.05
    seed: int = 7


@dataclass(frozen=True)
class Snapshot:
    """Process resources at one moment: descriptors, thread names, resident memory."""

    fds: int
    threads: frozenset[str]
    rss_mb: float

    @classmethod
    def take(cls) -> Snapshot:
        """Collect garbage, then read `/proc/self` and `threading.enumerate()`."""
        gc.collect()
        return cls(
            fds=len(os.listdir("/proc/self/fd")),
            threads=frozenset(f"{t.name}#{t.ident}" for t in threading.enumerate()),
            rss_mb=_rss_mb(),
        )


@dataclass
class RoundStats:
    """One `enrich` call: its time, the server's counts, resources before and after."""

    label: str
    elapsed_s: float
    requests: int
    errors_503: int
    before: Snapshot
    after: Snapshot
    problems: list[str] = field(default_factory=list)

    @property
    def leaked_fds(self) -> int:
        """Descriptors open after the call that were not open before it."""
        return self.after.fds - self.before.fds

    @property
    def new_threads(self) -> list[str]:
        """Threads alive after the call that were not alive before it."""
        return sorted(self.after.threads - self.before.threads)


@dataclass
class LoadReport:
    """Everything a load run measured."""

    config: LoadConfig
    warmup: RoundStats
    rounds: list[RoundStats]
    threaded: RoundStats

    @property
    def baseline_rss_mb(self) -> float:
        """Resident memory after the warm-up round, the level later rounds must keep."""
        return self.warmup.after.rss_mb

    @property
    def max_rss_growth(self) -> float:
        """Largest growth of resident memory over the warm-up level, as a fraction."""
        peak = max(stats.after.rss_mb for stats in self.rounds)
        return peak / self.baseline_rss_mb - 1.0

    def failures(self) -> list[str]:
        """Return every failed check, one sentence each."""
        failures = []
        for stats in [*self.rounds, self.threaded]:
            failures += [f"{stats.label}: {problem}" for problem in stats.problems]
            if stats.leaked_fds:
                failures.append(
                    f"{stats.label}: {stats.leaked_fds} descriptor(s) left open"
                )
            if stats.new_threads:
                failures.append(
                    f"{stats.label}: thread(s) left running: {stats.new_threads}"
                )
        if self.max_rss_growth > self.config.rss_tolerance:
            failures.append(
                f"resident memory grew {self.max_rss_growth:.1%} over the warm-up "
                f"level of {self.baseline_rss_mb:.1f} MB, more than "
                f"{self.config.rss_tolerance:.0%}"
            )
        return failures


def _rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("VmRSS not found in /proc/self/status")


def make_app(config: LoadConfig) -> web.Application:
    """Return the flaky server: `/campaign?c=<n>&r=<round>` and `/stats`."""
    rng = random.Random(config.seed)
    seen: set[tuple[str, str]] = set()
    counts = {"requests": 0, "errors_503": 0}

    async def campaign(request: web.Request) -> web.Response:
        counts["requests"] += 1
        await asyncio.sleep(rng.uniform(0.0, config.max_delay_ms / 1000))
        number = int(request.query["c"])
        attempt_key = (request.query["c"], request.query.get("r", ""))
        if number % config.error_every == 0 and attempt_key not in seen:
            seen.add(attempt_key)
            counts["errors_503"] += 1
            return web.json_response({"error": "try again"}, status=503)
        return web.json_response(expected_document(number))

    async def stats(request: web.Request) -> web.Response:
        return web.json_response(counts)

    app = web.Application()
    app.router.add_get("/campaign", campaign)
    app.router.add_get("/stats", stats)
    return app


def expected_document(number: int) -> dict[str, Any]:
    """Return the server's document for campaign `number`."""
    return {
        "campaign": number,
        "score": number / 4,  # exact in binary, so values compare exactly
        "label": f"tier-{number % 7}",
        "active": number % 2 == 0,
    }


async def _serve(config: LoadConfig) -> None:
    runner = web.AppRunner(make_app(config), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
    await site.start()
    print(f"PORT {runner.addresses[0][1]}", flush=True)
    # Serve until the parent closes our standard input.
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await runner.cleanup()


class ServerProcess:
    """The flaky server in a child process on 127.0.0.1, stopped on exit."""

    def __init__(self, config: LoadConfig) -> None:
        self._config = config
        self._process: subprocess.Popen[str] | None = None
        self.port = 0

    def __enter__(self) -> Self:
        command = [
            sys.executable,
            "-m",
            "benchmarks.bench_load",
            "--serve",
            "--max-delay-ms",
            str(self._config.max_delay_ms),
            "--error-every",
            str(self._config.error_every),
            "--seed",
            str(self._config.seed),
        ]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=env,
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line.startswith("PORT "):
            self.__exit__(None, None, None)
            raise RuntimeError(f"the load server did not start; it printed {line!r}")
        self.port = int(line.split()[1])
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        assert process.stdin is not None and process.stdout is not None
        process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()

    def url(self, path: str) -> str:
        """Return the http URL of `path` on the server."""
        return f"http://127.0.0.1:{self.port}/{path.lstrip('/')}"

    def stats(self) -> dict[str, int]:
        """Return the server's request and 503 counts so far."""
        with urllib.request.urlopen(self.url("/stats"), timeout=10) as response:
            counts: dict[str, int] = json.loads(response.read())
        return counts


def load_audience(campaigns: int, profiles: int) -> pd.DataFrame:
    """Return `profiles` rows per campaign, the campaigns interleaved."""
    numbers = np.tile(np.arange(campaigns, dtype=np.int64), profiles)
    return pd.DataFrame({"campaign": numbers, "profile": np.arange(len(numbers))})


def check_result(audience: pd.DataFrame, result: pd.DataFrame) -> list[str]:
    """Return what is wrong with an enriched load audience (empty when all is right)."""
    numbers = audience["campaign"].to_numpy()
    expected = {
        "echo": numbers,
        "score": numbers / 4,
        "label": np.array([f"tier-{n % 7}" for n in numbers], dtype=object),
        "active": numbers % 2 == 0,
    }
    problems = []
    for name, values in expected.items():
        if name not in result.columns:
            problems.append(f"column {name!r} is missing")
            continue
        column = result[name]
        if column.isna().any():
            problems.append(f"column {name!r} has {int(column.isna().sum())} nulls")
            continue
        wrong = int((column.astype(object).to_numpy() != values).sum())
        if wrong:
            problems.append(f"column {name!r} has {wrong} wrong values")
    return problems


def enrich_round(
    audience: pd.DataFrame, server: ServerProcess, config: LoadConfig, round_id: str
) -> pd.DataFrame:
    """Run one `enrich` call; a new `round_id` resets the server's planned 503s."""
    result: pd.DataFrame = audience.extapi.enrich(
        server.url("/campaign"),
        params={"c": "{campaign}", "r": round_id},
        campaign="campaign",
        columns=COLUMNS,
        max_concurrency=config.concurrency,
        retries=Retry(attempts=3, backoff=0.01, max_backoff=0.05),
        timeout=Timeout(total=60, connect=10, read=30),
        progress=False,
    )
    return result


def measure(
    label: str, server: ServerProcess, call: Callable[[], list[str]]
) -> RoundStats:
    """Run `call` between two snapshots and the server's counts."""
    counts_before = server.stats()
    before = Snapshot.take()
    started = time.perf_counter()
    problems = call()
    elapsed = time.perf_counter() - started
    after = Snapshot.take()
    counts_after = server.stats()
    return RoundStats(
        label=label,
        elapsed_s=elapsed,
        requests=counts_after["requests"] - counts_before["requests"],
        errors_503=counts_after["errors_503"] - counts_before["errors_503"],
        before=before,
        after=after,
        problems=problems,
    )


def _threaded_call(
    server: ServerProcess, config: LoadConfig
) -> Callable[[], list[str]]:
    audience = load_audience(config.threaded_campaigns, config.profiles)
    threaded = dataclasses.replace(config, concurrency=16)

    def call() -> list[str]:
        with ThreadPoolExecutor(config.threads, thread_name_prefix="load") as pool:
            futures = [
                pool.submit(enrich_round, audience, server, threaded, f"thread-{i}")
                for i in range(config.threads)
            ]
            results = [future.result() for future in futures]
        problems = []
        for number, result in enumerate(results):
            problems += [
                f"thread {number}: {p}" for p in check_result(audience, result)
            ]
        first = results[0].copy()
        first.attrs = {}
        for number, result in enumerate(results[1:], start=1):
            plain = result.copy()
            plain.attrs = {}
            if not plain.equals(first):
                problems.append(f"thread {number}: result differs from thread 0")
        return problems

    return call


def run_load(
    config: LoadConfig, log: Callable[[str], None] | None = None
) -> LoadReport:
    """Run the warm-up round, the measured rounds and the threaded check."""
    audience = load_audience(config.campaigns, config.profiles)
    say = log or (lambda message: None)

    def round_call(round_id: str) -> Callable[[], list[str]]:
        def call() -> list[str]:
            return check_result(
                audience, enrich_round(audience, server, config, round_id)
            )

        return call

    with ServerProcess(config) as server:
        warmup = measure("warm-up", server, round_call("warm-up"))
        say(_round_line(warmup))
        rounds = []
        for number in range(1, config.rounds + 1):
            stats = measure(f"round {number}", server, round_call(f"round-{number}"))
            say(_round_line(stats))
            rounds.append(stats)
        threaded = measure(
            f"{config.threads} threads", server, _threaded_call(server, config)
        )
        say(_round_line(threaded))
    return LoadReport(config, warmup, rounds, threaded)


def _round_line(stats: RoundStats) -> str:
    return (
        f"| {stats.label} | {stats.elapsed_s:.2f} | {stats.requests} | "
        f"{stats.errors_503} | {stats.after.rss_mb:.1f} | {stats.leaked_fds} | "
        f"{len(stats.new_threads)} | {len(stats.problems)} |"
    )


def main(argv: list[str] | None = None) -> int:
    """Run the load, or with --serve the server. Return 1 if a check failed."""
    defaults = LoadConfig()
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_load", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--campaigns", type=int, default=defaults.campaigns)
    parser.add_argument("--rounds", type=int, default=defaults.rounds)
    parser.add_argument("--concurrency", type=int, default=defaults.concurrency)
    parser.add_argument("--max-delay-ms", type=float, default=defaults.max_delay_ms)
    parser.add_argument("--error-every", type=int, default=defaults.error_every)
    parser.add_argument("--threads", type=int, default=defaults.threads)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument(
        "--serve",
        action="store_true",
        help="run only the server and print its port (used by the run)",
    )
    args = parser.parse_args(argv)
    # Retries after the planned 503s are expected; keep them off the terminal.
    logging.getLogger("extapi_pandas").setLevel(logging.ERROR)
    config = LoadConfig(
        campaigns=args.campaigns,
        rounds=args.rounds,
        concurrency=args.concurrency,
        max_delay_ms=args.max_delay_ms,
        error_every=args.error_every,
        threads=args.threads,
        seed=args.seed,
    )
    if args.serve:
        asyncio.run(_serve(config))
        return 0

    print(
        f"{config.campaigns} campaigns x {config.profiles} profiles, concurrency "
        f"{config.concurrency}, delays 0-{config.max_delay_ms:g} ms, 503 on the "
        f"first request of every {config.error_every}th campaign per round\n"
    )
    print(
        "| round | seconds | requests | 503s | RSS MB | fds left | threads left "
        "| wrong columns |"
    )
    print("|---|---|---|---|---|---|---|---|")
    report = run_load(config, log=print)
    print(
        f"\nresident memory after warm-up {report.baseline_rss_mb:.1f} MB; largest "
        f"growth over it in later rounds {report.max_rss_growth:+.1%}"
    )
    failures = report.failures()
    for failure in failures:
        print(f"FAILED: {failure}")
    print("all checks passed" if not failures else f"{len(failures)} check(s) failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
