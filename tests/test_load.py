"""Load: 1,000 campaigns at concurrency 64 against a slow, flaky server, ten rounds.

One module fixture runs `benchmarks.bench_load` at full size, the same run as
`python -m benchmarks.bench_load`. It took 10 to 16 s on 2 otherwise idle cores.
Each test then checks one guarantee in the run's report. Set EXTAPI_LOAD_CAMPAIGNS
and EXTAPI_LOAD_ROUNDS to run a smaller load on a slower machine.
"""

from __future__ import annotations

import os
import sys

import pytest

from benchmarks.bench_load import LoadConfig, LoadReport, run_load

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads /proc/self"
)

CONFIG = LoadConfig(
    campaigns=int(os.environ.get("EXTAPI_LOAD_CAMPAIGNS", "1000")),
    rounds=int(os.environ.get("EXTAPI_LOAD_ROUNDS", "10")),
)


@pytest.fixture(scope="module")
def report() -> LoadReport:
    return run_load(CONFIG)


def test_load_every_campaign_succeeds(report: LoadReport) -> None:
    planned_503s = -(-CONFIG.campaigns // CONFIG.error_every)

    for stats in report.rounds:
        assert stats.problems == [], stats.label
        assert stats.errors_503 == planned_503s, stats.label
        assert stats.requests == CONFIG.campaigns + planned_503s, stats.label


def test_load_closes_every_descriptor(report: LoadReport) -> None:
    for stats in report.rounds:
        assert stats.after.fds == stats.before.fds, stats.label


def test_load_ends_every_thread(report: LoadReport) -> None:
    for stats in report.rounds:
        assert stats.new_threads == [], stats.label


def test_load_memory_stays_flat(report: LoadReport) -> None:
    rss = [round(stats.after.rss_mb, 1) for stats in report.rounds]

    assert report.max_rss_growth <= CONFIG.rss_tolerance, (report.baseline_rss_mb, rss)


def test_enrich_from_eight_threads(report: LoadReport) -> None:
    threaded = report.threaded

    assert threaded.problems == []
    assert threaded.errors_503 == CONFIG.threads  # campaign 0 once per thread
    assert threaded.after.fds == threaded.before.fds
    assert threaded.new_threads == []
