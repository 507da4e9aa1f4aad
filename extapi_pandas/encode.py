"""Encode a key column into compact codes, splitting large columns across threads."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "PARALLEL_ROWS",
    "Encoded",
    "code_dtype",
    "encode_arrow",
    "first_rows",
    "run_parallel",
    "worker_count",
]

T = TypeVar("T")

#: Columns shorter than this are handled in the calling thread, because starting
#: threads costs more than it saves below it (an estimate from 2-core runs).
PARALLEL_ROWS = 1 << 21

_SLICE_ROWS = 1 << 20
_BLOCK_ROWS = 1 << 16
_MAX_WORKERS = 8


def worker_count() -> int:
    """Return the number of cores this process may run on, at most 8."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, _MAX_WORKERS))


def run_parallel(tasks: Sequence[Callable[[], T]], *, rows: int) -> list[T]:
    """Run `tasks` and return their results in order.

    The tasks run in a pool of short-lived threads when `rows` (the size of the
    work) reaches `PARALLEL_ROWS` and more than one core is free. This pays off
    because numpy and pyarrow release the GIL in their loops. The pool ends before
    this returns, so no thread outlives the call.
    """
    workers = min(len(tasks), worker_count())
    if rows < PARALLEL_ROWS or workers < 2:
        return [task() for task in tasks]
    with ThreadPoolExecutor(workers, thread_name_prefix="extapi-work") as pool:
        return list(pool.map(lambda task: task(), tasks))


def code_dtype(count: int) -> type[np.signedinteger[Any]]:
    """Return the smallest signed integer dtype for codes -1 to count - 1."""
    for candidate in (np.int8, np.int16, np.int32):
        if count <= np.iinfo(candidate).max:
            return candidate
    return np.int64


@dataclass(frozen=True)
class Encoded:
    """A column encoded as codes numbered by first appearance.

    Attributes:
        codes: One code per row in the smallest integer dtype; -1 marks a missing
            value.
        first_rows: Position of each code's first row.
        counts: Rows per code.
    """

    codes: np.ndarray[Any, Any]
    first_rows: np.ndarray[Any, np.dtype[np.intp]]
    counts: np.ndarray[Any, np.dtype[np.intp]]

    @property
    def count(self) -> int:
        """Number of distinct values."""
        return len(self.first_rows)


@dataclass(frozen=True)
class _Slice:
    """One slice of the column, encoded on its own."""

    offset: int
    indices: np.ndarray[Any, Any]  # local codes, where len(dictionary) is a null
    dictionary: pa.Array
    first: np.ndarray[Any, np.dtype[np.intp]]  # first row of each local code
    counts: np.ndarray[Any, np.dtype[np.intp]]  # rows per local code, nulls last


def encode_arrow(chunked: pa.ChunkedArray) -> Encoded:
    """Encode a pyarrow column (such as pandas' default `str` storage).

    Each slice of about a million rows is dictionary-encoded by pyarrow on its own,
    in parallel for a large column. The slices' dictionaries are then encoded once
    together. Their concatenation lists values in order of first appearance, so the
    codes are numbered by first appearance over the whole column. A last parallel
    pass maps each slice's codes into the result, whose dtype fits the number of
    distinct values (one byte per row for up to 127).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    parts = []
    offset = 0
    for chunk in chunked.chunks:
        for start in range(0, len(chunk), _SLICE_ROWS):
            parts.append((offset + start, chunk.slice(start, _SLICE_ROWS)))
        offset += len(chunk)
    slices = run_parallel([partial(_encode_slice, o, a) for o, a in parts], rows=offset)
    if slices:
        together = pc.dictionary_encode(
            pa.concat_arrays([s.dictionary for s in slices])
        )
        count = len(together.dictionary)
        global_codes = together.indices.to_numpy()
    else:
        count, global_codes = 0, np.zeros(0, dtype=np.int32)
    dtype = code_dtype(count)
    codes = np.empty(offset, dtype=dtype)
    first = np.full(count, -1, dtype=np.intp)
    counts = np.zeros(count, dtype=np.intp)
    tables = []
    start = 0
    for part in slices:
        size = len(part.dictionary)
        table = np.append(global_codes[start : start + size], -1).astype(dtype)
        start += size
        tables.append(table)
        counts[table[:-1]] += part.counts[:-1]
        unseen = first[table[:-1]] < 0
        first[table[:-1][unseen]] = part.offset + part.first[unseen]
    run_parallel(
        [partial(_remap, p, t, codes) for p, t in zip(slices, tables, strict=True)],
        rows=offset,
    )
    return Encoded(codes, first, counts)


def _encode_slice(offset: int, array: pa.Array) -> _Slice:
    import pyarrow.compute as pc

    encoded = pc.dictionary_encode(array)
    size = len(encoded.dictionary)
    indices = encoded.indices
    if indices.null_count:
        indices = pc.fill_null(indices, size)
    local = indices.to_numpy()
    counts = np.bincount(local, minlength=size + 1).astype(np.intp, copy=False)
    return _Slice(offset, local, encoded.dictionary, first_rows(local, size), counts)


def _remap(
    part: _Slice, table: np.ndarray[Any, Any], out: np.ndarray[Any, Any]
) -> None:
    target = out[part.offset : part.offset + len(part.indices)]
    size = len(table) - 1
    if np.array_equal(table[:-1], np.arange(size)) and part.counts[-1] == 0:
        target[:] = part.indices  # the slice numbers its values as the column does
    else:
        np.take(table, part.indices, out=target, mode="clip")


def first_rows(codes: np.ndarray[Any, Any], count: int) -> np.ndarray[Any, Any]:
    """Return the first position of each code 0 to count - 1 in `codes`.

    The codes must be numbered by first appearance (values at or above `count`,
    and negative ones, mark missing values and are skipped). The scan goes block by
    block and stops once every code is seen, which in a shuffled audience is within
    the first block.
    """
    first = np.full(count, -1, dtype=np.intp)
    seen = 0
    for start in range(0, len(codes), _BLOCK_ROWS):
        if seen >= count:
            break
        block = codes[start : start + _BLOCK_ROWS]
        valid = np.where(block < count, block, -1)
        if int(valid.max()) < seen:
            continue
        # Codes are numbered by first appearance, so the first rows of the codes
        # new in this block are where the running maximum grows.
        running = np.maximum.accumulate(np.maximum(valid, seen - 1))
        grows = np.flatnonzero(np.diff(running, prepend=seen - 1) > 0)
        first[running[grows]] = start + grows
        seen = int(running[-1]) + 1
    return first
