"""Join keys of the file route: parse `on=`, compare key dtypes, match file keys."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pandas as pd

from extapi_pandas.errors import ConfigurationError, TransferError

__all__ = ["JoinKey", "KeyMatcher", "check_key_dtypes", "key_kind", "parse_on"]


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

    Args:
        audience: The audience frame.
        key: The join key.

    Attributes:
        codes: Per audience row, the number of its key among `uniques`; -1 when a
            key column is missing on that row.
        uniques: The distinct audience keys (an Index, or a MultiIndex for
            several key columns).
    """

    def __init__(self, audience: pd.DataFrame, key: JoinKey) -> None:
        columns = [audience[name] for name in key.audience]
        if len(columns) == 1:
            codes, uniques = pd.factorize(columns[0], use_na_sentinel=True)
            self.uniques: pd.Index = pd.Index(uniques)
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
        self.uniques = cast(pd.MultiIndex, uniques_index)

    def positions(self, file_keys: Sequence[pd.Series]) -> np.ndarray[Any, Any]:
        """Return, per file row, the number of its key among `uniques` (-1: none)."""
        if len(file_keys) == 1:
            target: pd.Index = pd.Index(file_keys[0])
        else:
            target = pd.MultiIndex.from_arrays(list(file_keys))
        found: np.ndarray[Any, Any] = self.uniques.get_indexer(target)
        return found.astype(np.int64, copy=False)

    def sample(self, count: int = 3) -> list[Any]:
        """Return up to `count` audience keys, for messages."""
        return [_plain(value) for value in self.uniques[:count]]


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
