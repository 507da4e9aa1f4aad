"""P4: the cost of `import extapi_pandas` against `import pandas`."""

from __future__ import annotations

import subprocess
import sys

from benchmarks.common import Result, median_time

__all__ = ["run"]


def _import(module: str) -> None:
    subprocess.run([sys.executable, "-c", f"import {module}"], check=True)


def run(repeat: int = 15) -> Result:
    """Time each import in a fresh interpreter, interleaved, `repeat` times."""
    result = Result(
        id="P4",
        title="python -c 'import extapi_pandas'",
        baseline="python -c 'import pandas'",
        goal="at most 1.3x (heavy imports deferred to first use)",
    )
    _import("extapi_pandas")  # warms the file cache and bytecode
    library: list[float] = []
    baseline: list[float] = []
    for _ in range(repeat):
        library += median_time(lambda: _import("extapi_pandas"), 1)
        baseline += median_time(lambda: _import("pandas"), 1)
    result.times = {"library": library, "baseline": baseline}
    ratio = result.median("library") / result.median("baseline")
    result.ratio = ratio
    result.ratio_text = (
        f"{ratio:.2f}x ({result.median('library') * 1000:.0f} ms "
        f"against {result.median('baseline') * 1000:.0f} ms)"
    )
    result.met = ratio <= 1.3
    return result


if __name__ == "__main__":
    print(run())
