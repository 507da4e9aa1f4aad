"""A k-minimum-values sketch: mergeable distinct counts from 64-bit row hashes."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["SKETCH_SIZE", "estimate_distinct", "merge_sketches", "row_sketch"]

SKETCH_SIZE = 4096
"""Hashes kept per sketch. Counts below it are exact (up to hash collisions);
larger ones are estimated with a relative standard error of about
1 / sqrt(SKETCH_SIZE - 2), 1.6 %."""

Sketch = np.ndarray[Any, np.dtype[np.uint64]]


def row_sketch(frame: pd.DataFrame) -> Sketch:
    """Return the smallest distinct 64-bit hashes of the rows of `frame`.

    Rows are hashed by value (`pandas.util.hash_pandas_object`, without the
    index), so equal rows in different partitions of one dataset hash alike.
    """
    if frame.empty:
        return np.zeros(0, dtype=np.uint64)
    hashes = pd.util.hash_pandas_object(frame, index=False).to_numpy(dtype=np.uint64)
    smallest = np.unique(hashes)[:SKETCH_SIZE]
    return smallest.astype(np.uint64, copy=False)


def merge_sketches(sketches: Iterable[Sketch]) -> Sketch:
    """Merge sketches of parts of one dataset into the sketch of the whole."""
    parts = list(sketches)
    if not parts:
        return np.zeros(0, dtype=np.uint64)
    return np.unique(np.concatenate(parts))[:SKETCH_SIZE]


def estimate_distinct(sketch: Sketch) -> int:
    """Return the number of distinct rows behind a merged sketch."""
    if len(sketch) < SKETCH_SIZE:
        return len(sketch)
    # The k-th smallest of n uniform hashes sits near k / n of the hash range.
    largest = float(sketch[SKETCH_SIZE - 1]) / 2.0**64
    return round((SKETCH_SIZE - 1) / largest)
