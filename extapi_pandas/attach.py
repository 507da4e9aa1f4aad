"""Attach the small enrichment frame to the audience without copying the audience."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, cast

import numpy as np
import pandas as pd

from extapi_pandas.encode import code_dtype
from extapi_pandas.errors import AttachError

__all__ = [
    "STATUS_COLUMN",
    "assemble",
    "broadcast_rows",
    "lookup_rows",
    "resolve_names",
    "sequential_rows",
    "take_column",
]

STATUS_COLUMN = "extapi_status"
_SUFFIX = "_extapi"


def resolve_names(
    audience_columns: Iterable[Any], names: list[str], on_conflict: str
) -> dict[str, str]:
    """Map each new column name to the name it gets in the result.

    Raises:
        AttachError: A name already exists in the audience and `on_conflict` is
            `"raise"`.
    """
    labels = [str(c) for c in audience_columns]
    existing = set(labels)
    resolved: dict[str, str] = {}
    clashes = [name for name in names if name in existing]
    if clashes and on_conflict == "raise":
        raise AttachError(
            f"new column(s) {', '.join(map(repr, clashes))} already exist in the "
            "audience; rename them in columns=, or pass on_conflict='overwrite' to "
            f"replace them or on_conflict='suffix' to add them as '<name>{_SUFFIX}'"
        )
    repeated = [name for name in clashes if labels.count(name) > 1]
    if repeated and on_conflict == "overwrite":
        raise AttachError(
            f"the audience has several columns labelled {repeated[0]!r}, so "
            "on_conflict='overwrite' cannot tell which to replace; rename the "
            "audience's columns, or pass on_conflict='suffix'"
        )
    taken = set(existing) | set(names)
    for name in names:
        if name in existing and on_conflict == "suffix":
            candidate = f"{name}{_SUFFIX}"
            number = 2
            while candidate in taken:
                candidate = f"{name}{_SUFFIX}{number}"
                number += 1
            taken.add(candidate)
            resolved[name] = candidate
        else:
            resolved[name] = name
    return resolved


def broadcast_rows(
    codes: np.ndarray[Any, Any], row_of_campaign: np.ndarray[Any, Any]
) -> np.ndarray[Any, Any]:
    """Return, for each audience row, the enrichment row of its campaign (-1: none).

    `row_of_campaign[c]` is campaign c's row in the small frame, or -1 when the
    campaign failed or was skipped; rows with code -1 get -1.
    """
    table = np.append(row_of_campaign, -1).astype(code_dtype(len(row_of_campaign)))
    rows: np.ndarray[Any, Any] = table[codes]
    return rows


def lookup_rows(
    codes: np.ndarray[Any, Any],
    audience_keys: list[pd.Series],
    record_campaigns: np.ndarray[Any, Any],
    record_keys: list[pd.Series],
    key_names: list[tuple[str, str]],
    campaign_keys: list[Any],
) -> np.ndarray[Any, Any]:
    """Return, for each audience row, the record of its campaign whose key matches.

    Rows whose campaign has no record with their key get -1.

    Raises:
        AttachError: The key dtypes cannot match, or a campaign's records repeat
            a key.
    """
    n_campaigns = int(record_campaigns.max()) + 1 if len(record_campaigns) else 0
    row_key = np.zeros(len(codes), dtype=np.int64)
    record_key = np.zeros(len(record_campaigns), dtype=np.int64)
    record_valid = np.ones(len(record_campaigns), dtype=bool)
    row_valid = codes >= 0
    width = 1
    for audience_key, response_key, names in zip(
        audience_keys, record_keys, key_names, strict=True
    ):
        _check_key_dtypes(audience_key, response_key, names)
        row_part, uniques = pd.factorize(audience_key, use_na_sentinel=True)
        record_part = pd.Index(uniques).get_indexer(pd.Index(response_key))
        row_valid &= row_part >= 0
        record_valid &= record_part >= 0
        size = len(uniques)
        row_key = row_key * size + row_part
        record_key = record_key * size + record_part
        width *= max(size, 1)
    combined = record_campaigns.astype(np.int64) * width + record_key
    combined_valid = combined[record_valid]
    if len(np.unique(combined_valid)) != len(combined_valid):
        raise _duplicate_key_error(
            combined_valid,
            record_campaigns[record_valid],
            record_keys,
            record_valid,
            key_names,
            campaign_keys,
        )
    table = pd.Series(np.flatnonzero(record_valid), index=combined_valid)
    row_combined = codes.astype(np.int64) * width + row_key
    if n_campaigns and width and n_campaigns * width <= 4 * len(codes) + 1024:
        dense = np.full(n_campaigns * width + 1, -1, dtype=np.int64)
        dense[table.index.to_numpy()] = table.to_numpy()
        row_combined = np.where(row_valid & (codes < n_campaigns), row_combined, -1)
        rows: np.ndarray[Any, Any] = dense[row_combined]
        return rows
    if not len(table):  # every campaign failed, or no record key is in the audience
        return np.full(len(codes), -1, dtype=np.int64)
    positions = pd.Index(table.index).get_indexer(row_combined)
    found = table.to_numpy()[positions]
    return np.where(row_valid & (positions >= 0), found, -1)


def sequential_rows(
    codes: np.ndarray[Any, Any],
    record_start: np.ndarray[Any, Any],
    record_count: np.ndarray[Any, Any],
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Give the i-th profile of each campaign the campaign's i-th record.

    Returns:
        The record row per audience row (-1 when there is none) and, per campaign,
        the number of profiles left without a record.
    """
    valid = codes >= 0
    rank = np.zeros(len(codes), dtype=np.int64)
    if valid.any():
        in_campaign = pd.Series(codes[valid]).groupby(codes[valid]).cumcount()
        rank[valid] = in_campaign.to_numpy()
    safe_codes = np.where(valid, codes, 0)
    start = np.asarray(record_start, dtype=np.int64)[safe_codes]
    count = np.asarray(record_count, dtype=np.int64)[safe_codes]
    has_record = valid & (start >= 0) & (rank < count)
    rows = np.where(has_record, start + rank, -1)
    short = np.bincount(
        codes[valid & ~has_record & (start >= 0)].astype(np.int64),
        minlength=len(record_start),
    )
    return rows, short


def take_column(
    series: pd.Series,
    rows: np.ndarray[Any, Any],
    *,
    as_category: bool,
    via: np.ndarray[Any, Any] | None = None,
) -> Any:
    """Return `series` values at `rows`, with -1 giving a missing value.

    With `via`, `rows` holds small codes (a campaign number per row) and row i
    takes `series` at `via[rows[i]]`. The values are then gathered once per code
    first and once per row after, so a broadcast reads each of its full-length
    arrays once.

    Strings become a `Categorical` built from the small frame's values and integer
    codes, so a 10-million-row column costs one small code per row. Numeric,
    boolean and datetime columns are gathered with numpy fancy indexing, which
    reads `rows` in its own small dtype instead of converting it to a 64-bit
    index array first (as `ExtensionArray.take` does).
    """
    gather = _Gather(rows, via)
    array = series.array
    if as_category and isinstance(series.dtype, pd.StringDtype):
        value_codes, categories = pd.factorize(series, use_na_sentinel=True)
        # Categories in pandas' default "str" dtype survive a Parquet round trip
        # unchanged, which "string" categories do not.
        categories = categories.astype("str")
        table = np.append(value_codes, -1).astype(code_dtype(len(categories)))
        return pd.Categorical.from_codes(
            gather(table), categories=categories, validate=False
        )
    if isinstance(array, _MASKED_ARRAYS):
        numpy_dtype = cast(Any, array.dtype).numpy_dtype
        zero = numpy_dtype.type(0)
        data = np.append(array.to_numpy(dtype=numpy_dtype, na_value=zero), zero)
        mask = np.append(array.isna(), True)
        return type(array)(gather(data), gather(mask))
    if isinstance(array, pd.arrays.DatetimeArray):
        unit = array.unit
        naive = np.append(
            np.asarray(array, dtype=f"datetime64[{unit}]"), np.datetime64("NaT", unit)
        )
        # NOTE: _from_sequence is pandas' own constructor of extension arrays, not
        # in its public API; it builds the array over the gathered values without
        # a copy.
        from_sequence: Any = pd.arrays.DatetimeArray._from_sequence  # type: ignore[attr-defined]
        if array.tz is None:
            return from_sequence(gather(naive))
        # The values are UTC instants, so they are read as UTC wall times (no
        # copy, unlike tz_localize) and then shown in the column's own zone.
        utc = pd.DatetimeTZDtype(unit, "UTC")
        gathered = from_sequence(gather(naive), dtype=utc)
        return gathered.tz_convert(array.tz)
    if isinstance(array, pd.arrays.NumpyExtensionArray) and array.dtype.kind in "iub":
        # numpy integers and booleans have no missing value: rows left without one
        # get the nullable dtype (Int64, boolean), never a float64 upcast.
        values = array.to_numpy()
        if not gather.any_missing():
            return gather(np.append(values, np.zeros(1, dtype=values.dtype)))
        nullable_dtype: Any = _NULLABLE[values.dtype.kind](values.dtype)
        nullable = pd.array(values, dtype=nullable_dtype)
        return take_column(pd.Series(nullable), rows, as_category=as_category, via=via)
    if isinstance(array, pd.arrays.NumpyExtensionArray) and array.dtype.kind in "fO":
        filler = np.nan if array.dtype.kind == "f" else None
        filler_array = np.array([filler], dtype=cast(Any, array.dtype).numpy_dtype)
        return gather(np.append(array.to_numpy(), filler_array))
    return array.take(gather.full_rows().astype(np.intp, copy=False), allow_fill=True)


class _Gather:
    """Gathers full-length arrays from small ones whose last item is the filler.

    Only row -1 reaches the filler, so two common shapes need no gather: a mask
    that is set only for the filler is `rows < 0`, and category codes that number
    the codes themselves are a copy of `rows`.
    """

    def __init__(
        self, rows: np.ndarray[Any, Any], via: np.ndarray[Any, Any] | None
    ) -> None:
        self.rows = rows
        # Appending -1 sends rows without a code (-1, the last item) to the filler.
        self.via = None if via is None else np.append(via, -1)

    def __call__(self, values: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """Return `values` (filler last) at each row; -1 rows get the filler."""
        small = values if self.via is None else values[self.via]
        if small.dtype == bool and not small[:-1].any() and small[-1]:
            return self.rows < 0  # a mask with no gaps but the rows without a value
        if small.dtype.kind == "i" and _is_identity(small):
            # Each code keeps its number (category codes of distinct values).
            return self.rows.astype(small.dtype, copy=True)
        gathered: np.ndarray[Any, Any] = small[self.rows]
        return gathered

    def any_missing(self) -> bool:
        """Return whether some row gets no value."""
        if self.via is None:
            return bool((self.rows < 0).any())
        return bool((self.via[self.rows] < 0).any())

    def full_rows(self) -> np.ndarray[Any, Any]:
        """Return the small-frame row of each row, -1 for none."""
        return self.rows if self.via is None else self.via[self.rows]


def _is_identity(small: np.ndarray[Any, Any]) -> bool:
    """Return whether `small` is 0, 1, ..., n - 2 followed by -1."""
    size = len(small) - 1
    return bool(small[-1] == -1 and np.array_equal(small[:-1], np.arange(size)))


_NULLABLE: dict[str, Callable[[np.dtype[Any]], Any]] = {
    # int64 -> Int64, uint16 -> UInt16, bool -> boolean
    "i": lambda dtype: pd.api.types.pandas_dtype(dtype.name.capitalize()),
    "u": lambda dtype: pd.api.types.pandas_dtype("UInt" + dtype.name[4:]),
    "b": lambda dtype: pd.BooleanDtype(),
}
_MASKED_ARRAYS = (
    pd.arrays.IntegerArray,
    pd.arrays.FloatingArray,
    pd.arrays.BooleanArray,
)


def assemble(audience: pd.DataFrame, new_columns: Mapping[str, Any]) -> pd.DataFrame:
    """Return a new frame: the audience's columns (not copied) plus `new_columns`.

    Arrays are assigned by position, so a duplicated index or a MultiIndex is kept
    as it is.
    """
    result = audience.copy(deep=False)
    for name, values in new_columns.items():
        # A Series on the audience's own index is set without alignment or the
        # copy that assigning a bare array makes; the values are new, so sharing
        # them is safe.
        result[name] = pd.Series(values, index=audience.index, copy=False)
    return result


def _check_key_dtypes(
    audience_key: pd.Series, response_key: pd.Series, names: tuple[str, str]
) -> None:
    kinds = {_key_kind(audience_key), _key_kind(response_key)}
    if len(kinds - {"empty"}) > 1:
        raise AttachError(
            f"lookup key dtypes differ: audience column {names[0]!r} is "
            f"{audience_key.dtype} and response column {names[1]!r} is "
            f"{response_key.dtype}, so no key would match; cast one side, for "
            f"example audience[{names[0]!r}].astype(str), or declare the response "
            f"column's dtype with Column(path, dtype=...)"
        )


def _key_kind(series: pd.Series) -> str:
    if len(series.dropna()) == 0:
        return "empty"
    if pd.api.types.is_bool_dtype(series.dtype):
        return "bool"
    if pd.api.types.is_numeric_dtype(series.dtype):
        return "number"
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return "datetime"
    if isinstance(series.dtype, pd.CategoricalDtype):
        return _key_kind(pd.Series(series.cat.categories))
    return "text"


def _duplicate_key_error(
    combined: np.ndarray[Any, Any],
    campaigns: np.ndarray[Any, Any],
    record_keys: list[pd.Series],
    valid: np.ndarray[Any, Any],
    key_names: list[tuple[str, str]],
    campaign_keys: list[Any],
) -> AttachError:
    duplicated = pd.Series(combined).duplicated(keep=False).to_numpy()
    position = int(np.flatnonzero(duplicated)[0])
    record = int(np.flatnonzero(valid)[position])
    key = [series.iloc[record] for series in record_keys]
    shown = key[0] if len(key) == 1 else tuple(key)
    return AttachError(
        f"the response for campaign {campaign_keys[int(campaigns[position])]!r} has "
        "several "
        f"records with key {shown!r} in {[n[1] for n in key_names]}, so a profile "
        "would match more than one; make the key unique (filter the records path) "
        "or add a column to on="
    )
