"""Join keys of the file route: parse `on=`, compare key dtypes, match file keys."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pandas as pd

from extapi_pandas.errors import ConfigurationError, TransferError

__all__ = [
    "ArrowKeyMatcher",
    "JoinKey",
    "KeyMatcher",
    "check_key_dtypes",
    "key_kind",
    "make_matcher",
    "parse_on",
]


@dataclass(frozen=True)
class JoinKey:
    """The audience columns and the file columns that are matched, pair by pair."""

    audience: tuple[str, ...]
    file: tuple[str, ...]

    def pairs(self) -> list[tuple[str, str]]:
        """Return (audience column, file column) pairs."""
        return list(zip(self.audience, self.file, strict=True))

    def as_option(self) -> str | dict[str, str]:
        """Return the key as it would be written in `on=`."""
        if len(self.audience) == 1 and self.audience == self.file:
            return self.audience[0]
        return dict(self.pairs())


def parse_on(on: Any, audience: pd.DataFrame) -> JoinKey:
    """Read `on=`: a column name both sides share, a list of them, or a mapping of
    audience column to file column.

    Raises:
        ConfigurationError: `on` is empty or of another type, or names a column the
            audience does not have.
    """
    if isinstance(on, str):
        pairs = [(on, on)]
    elif isinstance(on, Mapping):
        pairs = [(str(a), str(f)) for a, f in on.items()]
    elif isinstance(on, Sequence) and all(isinstance(name, str) for name in on):
        pairs = [(name, name) for name in on]
    else:
        raise ConfigurationError(
            "on= names the join key: a column that the audience and the file share "
            "(on='postal_code'), a list of them, or audience column to file column "
            f"(on={{'postal_code': 'zip'}}); got {on!r}"
        )
    if not pairs:
        raise ConfigurationError("on= is empty; name at least one key column")
    for audience_column, _ in pairs:
        if audience_column not in audience.columns:
            raise ConfigurationError(
                f"on= names audience column {audience_column!r}, which the audience "
                f"does not have; its columns are "
                f"{', '.join(map(repr, audience.columns[:30]))}"
            )
    return JoinKey(tuple(a for a, _ in pairs), tuple(f for _, f in pairs))


def key_kind(dtype: Any, values: pd.Series | None = None) -> str:
    """Classify a key dtype as `"text"`, `"number"`, `"bool"`, `"datetime"` or
    `"other"`; keys match only within one kind.

    `values` lets an object column be classified by the values it contains.
    """
    if isinstance(dtype, pd.CategoricalDtype):
        return key_kind(dtype.categories.dtype, pd.Series(dtype.categories))
    if isinstance(dtype, str):
        dtype = _pandas_dtype(dtype)
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_numeric_dtype(dtype):
        return "number"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if pd.api.types.is_string_dtype(dtype) and not pd.api.types.is_object_dtype(dtype):
        return "text"
    if pd.api.types.is_object_dtype(dtype):
        if values is None:
            return "text"
        inferred = pd.api.types.infer_dtype(values, skipna=True)
        kinds = {
            "string": "text",
            "empty": "text",
            "integer": "number",
            "floating": "number",
            "mixed-integer-float": "number",
            "boolean": "bool",
            "datetime": "datetime",
        }
        return kinds.get(inferred, "other")
    return "other"


def check_key_dtypes(
    audience: pd.DataFrame, key: JoinKey, file_dtypes: Mapping[str, str], how: str
) -> None:
    """Raise when an audience key column and its file column cannot hold equal values.

    Args:
        audience: The audience frame.
        key: The join key.
        file_dtypes: File key column to the dtype it is read as.
        how: How the file dtype was chosen, for the message ("read as text, the
            default").

    Raises:
        TransferError: The two sides are of different kinds (text and number, for
            example); the message names both dtypes and how to align them.
    """
    for audience_column, file_column in key.pairs():
        series = audience[audience_column]
        file_dtype = file_dtypes[file_column]
        audience_kind = key_kind(series.dtype, series)
        file_kind = key_kind(file_dtype)
        if audience_kind == file_kind and audience_kind != "other":
            continue
        if audience_kind == "other":
            inferred = pd.api.types.infer_dtype(series, skipna=True)
            raise TransferError(
                f"audience column {audience_column!r} contains values of mixed or "
                f"unsupported types ({series.dtype}, inferred as {inferred!r}), so "
                f"its keys cannot be matched with file column {file_column!r}. Cast "
                f"the audience column to one type, for example "
                f"df[{audience_column!r}].astype('str')"
            )
        raise TransferError(
            f"key dtypes differ: audience column {audience_column!r} is "
            f"{series.dtype} and file column {file_column!r} is {file_dtype} "
            f"({how}), so no key would match. Declare the file column's dtype to "
            f"match, for example dtype={{{file_column!r}: '{_suggested(series)}'}}, "
            f"or cast the audience column, for example "
            f"df[{audience_column!r}].astype('str')"
        )


class KeyMatcher:
    """Numbers the audience's distinct keys and finds file keys among them.

    File rows are matched in blocks: the table collects at least `flush_rows` rows
    before calling `match`. This matcher uses pandas' hash index and matches every
    chunk as it arrives (`flush_rows` is 1).

    Args:
        audience: The audience frame.
        key: The join key.

    Attributes:
        codes: Per audience row, the number of its key group, or -1 when a key column
            is missing on that row. `ArrowKeyMatcher` also gives -1 when no file
            row has the key.
        flush_rows: File rows to collect before calling `match`.
    """

    flush_rows = 1

    def __init__(self, audience: pd.DataFrame, key: JoinKey) -> None:
        columns = [audience[name] for name in key.audience]
        if len(columns) == 1:
            codes, uniques = pd.factorize(columns[0], use_na_sentinel=True)
            self._uniques: pd.Index = pd.Index(uniques)
            self.codes = codes.astype(np.int64, copy=False)
            return
        missing = np.zeros(len(audience), dtype=bool)
        for column in columns:
            missing |= column.isna().to_numpy()
        present = ~missing
        combined = pd.MultiIndex.from_arrays([column[present] for column in columns])
        present_codes, uniques_index = combined.factorize()
        self.codes = np.full(len(audience), -1, dtype=np.int64)
        self.codes[present] = present_codes
        self._uniques = cast(pd.MultiIndex, uniques_index)

    @property
    def group_count(self) -> int:
        """Return the number of key groups. Codes run from 0 to this number minus 1."""
        return len(self._uniques)

    def match(self, parts: Sequence[Sequence[pd.Series]]) -> np.ndarray[Any, Any]:
        """Return, per file row, the group of its key (-1: no audience key).

        Args:
            parts: Per key column, the column's values in one or more pieces.
        """
        keys = [pieces[0] if len(pieces) == 1 else _concat(pieces) for pieces in parts]
        if len(keys) == 1:
            target: pd.Index = pd.Index(keys[0])
        else:
            target = pd.MultiIndex.from_arrays(keys)
        found: np.ndarray[Any, Any] = self._uniques.get_indexer(target)
        return found.astype(np.int64, copy=False)

    def key_of(self, group: int) -> Any:
        """Return the key value of a group, for messages."""
        return _plain(self._uniques[group])

    def sample(self, count: int = 3) -> list[Any]:
        """Return up to `count` audience keys, for messages."""
        return [_plain(value) for value in self._uniques[:count]]


class ArrowKeyMatcher(KeyMatcher):
    """Matches one text key column with pyarrow, one hash pass per block of rows.

    pandas' hash index turns every text key into a Python object, which costs more
    than the rest of the join. Here each block of file keys and the audience's keys
    are dictionary-encoded together instead. The block's keys come first, so a code
    below the block's count of distinct keys means an audience row has a file row.
    Blocks are at least as long as the audience, so this hashing costs at most
    twice the hashing of the file's own keys, while memory still follows the
    audience and the kept rows, not the file.

    Groups are numbered across blocks. A key seen in an earlier block keeps its
    group, so `match` reports repeated keys across blocks as the pandas matcher
    does.
    """

    def __init__(self, audience_keys: pd.Series, flush_rows: int) -> None:
        self._audience = _arrow_text(audience_keys)
        self._sample_from = audience_keys
        # Groups number distinct audience keys, so int32 fits them for any
        # audience shorter than 2**31 rows, at half the memory of int64.
        self._group_dtype = np.int32 if len(audience_keys) < 2**31 else np.int64
        self.codes = np.full(len(audience_keys), -1, dtype=self._group_dtype)
        self.flush_rows = flush_rows
        self._groups = 0

    @property
    def group_count(self) -> int:
        """Return the number of key groups. Codes run from 0 to this number minus 1."""
        return self._groups

    def match(self, parts: Sequence[Sequence[pd.Series]]) -> np.ndarray[Any, Any]:
        """Return, per file row, the group of its key (-1: no audience key)."""

        block = [_arrow_text(piece) for piece in parts[0]]
        block_chunks = [chunk for array in block for chunk in array.chunks]
        block_rows = sum(len(chunk) for chunk in block_chunks)
        codes = _dictionary_codes(block_chunks + self._audience.chunks)
        # Split by rows, not chunks: pyarrow drops empty chunks (a CSV part with
        # only a header gives one), which would shift a split by chunk count.
        block_codes, audience_codes = codes[:block_rows], codes[block_rows:]
        distinct = int(block_codes.max()) + 1 if len(block_codes) else 0

        # Viewed as unsigned, -1 (a missing key) is above every code.
        matched = audience_codes.view(np.uint32) < distinct
        matched_codes = audience_codes[matched]
        earlier = self.codes[matched]
        seen = earlier >= 0
        fresh = np.zeros(distinct, dtype=bool)
        fresh[matched_codes[~seen]] = True
        count = int(fresh.sum())
        group_of_code = np.full(distinct + 1, -1, dtype=self._group_dtype)
        group_of_code[:distinct][fresh] = np.arange(self._groups, self._groups + count)
        # A key already matched in an earlier block keeps its group.
        group_of_code[matched_codes[seen]] = earlier[seen]
        self.codes[matched] = group_of_code[matched_codes]
        self._groups += count
        # Code -1 (a missing file key) reads the trailing -1.
        groups: np.ndarray[Any, Any] = group_of_code[block_codes]
        return groups

    def key_of(self, group: int) -> Any:
        """Return the key value of a group, for messages."""
        row = int(np.flatnonzero(self.codes == group)[0])
        return _plain(self._sample_from.iloc[row])

    def sample(self, count: int = 3) -> list[Any]:
        """Return up to `count` audience keys, for messages."""
        head = self._sample_from.head(1000).dropna()
        return [_plain(value) for value in pd.unique(head)[:count]]


def make_matcher(
    audience: pd.DataFrame, key: JoinKey, declared: Mapping[str, str], chunk_rows: int
) -> KeyMatcher:
    """Return the fastest matcher for the key.

    One text key, in pandas' default pyarrow-backed `str` on the audience side and
    read as text from the file, is matched with pyarrow. Other keys use pandas.
    """
    if len(key.audience) == 1:
        series = audience[key.audience[0]]
        dtype = series.dtype
        file_dtype = declared.get(key.file[0], "str")
        if (
            isinstance(dtype, pd.StringDtype)
            and dtype.storage == "pyarrow"
            and file_dtype in ("str", "string")
        ):
            return ArrowKeyMatcher(series, max(len(audience), chunk_rows))
    return KeyMatcher(audience, key)


def _arrow_text(series: pd.Series) -> Any:
    """Return a text key column as a pyarrow chunked array of large strings."""
    import pyarrow as pa

    if not isinstance(series.dtype, pd.StringDtype):
        series = series.astype("str")  # such as a categorical Parquet column
    values = series.array.__arrow_array__()
    if not isinstance(values, pa.ChunkedArray):
        values = pa.chunked_array([values])
    if values.type != pa.large_string():
        values = values.cast(pa.large_string())
    return values


def _dictionary_codes(chunks: list[Any]) -> np.ndarray[Any, np.dtype[np.int32]]:
    """Dictionary-encode text chunks together and return int32 codes, -1 for nulls.

    Codes number the distinct values in order of first appearance. Nulls are
    encoded as a value of their own and then set to -1, which spares a copy of
    every chunk's indices.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    rows = sum(len(chunk) for chunk in chunks)
    codes = np.empty(rows, dtype=np.int32)
    encoded = pc.dictionary_encode(
        pa.chunked_array(chunks, pa.large_string()), null_encoding="encode"
    )
    offset = 0
    null_code = -1
    for chunk in encoded.chunks:
        codes[offset : offset + len(chunk)] = chunk.indices.to_numpy()
        offset += len(chunk)
        if null_code < 0 and chunk.dictionary.null_count:
            nulls = chunk.dictionary.is_null().to_numpy(zero_copy_only=False)
            null_code = int(np.flatnonzero(nulls)[0])
    del encoded  # its dictionary contains a copy of every distinct value
    if null_code >= 0:
        codes[codes == null_code] = -1
    return codes


def _concat(pieces: Sequence[pd.Series]) -> pd.Series:
    return pd.concat(list(pieces), ignore_index=True)


def _pandas_dtype(name: str) -> Any:
    try:
        return pd.api.types.pandas_dtype(name)
    except TypeError:
        return np.dtype(object)


def _suggested(series: pd.Series) -> str:
    kind = key_kind(series.dtype, series)
    if kind == "number":
        return "Int64" if pd.api.types.is_integer_dtype(series.dtype) else "Float64"
    if kind == "datetime":
        return str(series.dtype)
    if kind == "bool":
        return "boolean"
    return "str"


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    return value.item() if isinstance(value, np.generic) else value
