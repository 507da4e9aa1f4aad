"""The file route for Dask audiences: read a per-profile file with Dask, join by key."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from extapi_pandas.attach import resolve_names
from extapi_pandas.errors import ConfigurationError, TransferError
from extapi_pandas.transfer.keys import JoinKey, check_key_dtypes, parse_on
from extapi_pandas.transfer.sources import format_of

if TYPE_CHECKING:
    import dask.dataframe as dd

__all__ = ["join_file"]

_KEEP = ("raise", "first", "last")
_ON_CONFLICT = ("raise", "overwrite", "suffix")
_SHOWN_DUPLICATES = 3
_INDEX = "__extapi_index"


def join_file(
    ddf: dd.DataFrame,
    path: str | Sequence[str],
    *,
    on: str | Sequence[str] | Mapping[str, str],
    columns: Sequence[str] | Mapping[str, str] | None = None,
    format: str | None = None,
    storage_options: Mapping[str, Any] | None = None,
    dtype: Mapping[str, str] | None = None,
    keep: str = "raise",
    on_conflict: str = "raise",
) -> dd.DataFrame:
    """Left-join a per-profile file onto a Dask audience by key, lazily.

    The file is read with Dask (`read_parquet`, `read_csv` or `read_json` with
    one record per line), so it can be as large as the audience. Keys of a CSV
    or JSON-lines file are read as text unless `dtype` declares them. The index
    of the audience is kept. The row order is Dask's merge order, which groups
    rows by key hash when the file has several partitions.

    Args:
        ddf: The audience.
        path: A path, glob or URL that Dask reads, or a list of them.
        on: The join key: a column both sides share, a list of them, or audience
            column to file column.
        columns: File columns to add, or new name to file column; default every
            column but the key.
        format: `"parquet"`, `"csv"` or `"jsonl"`; default from the extension.
        storage_options: Passed to fsspec.
        dtype: File column to dtype, for CSV and JSON lines.
        keep: `"raise"` on repeated keys (checked with one pass over the file's
            key columns), or `"first"`/`"last"`.
        on_conflict: `"raise"`, `"overwrite"` or `"suffix"`, as for `enrich`.

    Raises:
        ConfigurationError: An option is invalid.
        TransferError: Key dtypes differ, or keys repeat with `keep="raise"`.
    """
    _check_choice("keep", keep, _KEEP)
    _check_choice("on_conflict", on_conflict, _ON_CONFLICT)
    meta = ddf._meta
    key = parse_on(on, meta)
    declared = dict(dtype or {})
    file = _read(path, key, columns, format, storage_options, declared)
    selection = _selection(columns, file.columns, key)
    names = resolve_names(meta.columns, list(selection), on_conflict)
    dtype_source = (
        "declared" if all(c in declared for c in key.file) else "read by the reader"
    )
    check_key_dtypes(meta, key, {c: str(file[c].dtype) for c in key.file}, dtype_source)

    right = file[[*key.file, *selection.values()]]
    right = right.rename(
        columns={column: names[new] for new, column in selection.items()}
    )
    right = right.rename(columns={f: _key_name(i) for i, f in enumerate(key.file)})
    right = right.astype(_nullable(right._meta, list(names.values())))
    right = _unique_keys(right, key, keep)
    return _merge(ddf, right, key, list(names.values()))


def _nullable(meta: pd.DataFrame, columns: list[str]) -> dict[str, str]:
    """Return nullable dtypes for integer and boolean columns, as the pandas route has.

    Unmatched profiles get missing values, which NumPy integers and booleans
    cannot hold.
    """
    dtypes = {}
    for column in columns:
        dtype = meta[column].dtype
        if pd.api.types.is_bool_dtype(dtype) and not isinstance(dtype, pd.BooleanDtype):
            dtypes[column] = "boolean"
        elif pd.api.types.is_integer_dtype(dtype) and isinstance(dtype, np.dtype):
            dtypes[column] = "Int64"
    return dtypes


def _read(
    path: str | Sequence[str],
    key: JoinKey,
    columns: Sequence[str] | Mapping[str, str] | None,
    format: str | None,
    storage_options: Mapping[str, Any] | None,
    declared: dict[str, str],
) -> dd.DataFrame:
    import dask.dataframe as dd

    first = path if isinstance(path, str) else path[0]
    _reject_http(path)
    resolved, _ = format_of(first, format)  # type: ignore[arg-type]
    options = dict(storage_options or {})
    requested = None
    if columns is not None:
        values = columns.values() if isinstance(columns, Mapping) else columns
        requested = list(dict.fromkeys([*key.file, *values]))
    if resolved == "parquet":
        parquet: dd.DataFrame = dd.read_parquet(
            path, columns=requested, storage_options=options
        )
        return parquet
    text_keys = {column: "str" for column in key.file if column not in declared}
    if resolved == "csv":
        csv: dd.DataFrame = dd.read_csv(
            path,
            dtype={**text_keys, **declared},
            usecols=requested,
            storage_options=options,
        )
        return csv
    if resolved == "jsonl":
        frame: dd.DataFrame = dd.read_json(
            path,
            lines=True,
            blocksize=2**26,
            dtype={**text_keys, **declared},
            storage_options=options,
        )
        return frame if requested is None else frame[requested]
    raise ConfigurationError(
        f"the Dask file route reads parquet, csv and jsonl files, not {resolved!r} "
        f"({first!r}); pass format= or convert the file"
    )


def _reject_http(path: str | Sequence[str]) -> None:
    """Reject HTTP sources, which Dask would read without the library's guard rails."""
    for text in [path] if isinstance(path, str) else path:
        if text.lower().startswith(("http://", "https://")):
            raise ConfigurationError(
                f"the Dask file route does not read HTTP sources ({text!r}), because "
                "Dask's reader would bypass the URL guard rails; copy the file to "
                "local or object storage first, or join it to a pandas audience"
            )


def _selection(
    columns: Sequence[str] | Mapping[str, str] | None,
    file_columns: Sequence[Any],
    key: JoinKey,
) -> dict[str, str]:
    if columns is None:
        return {str(c): str(c) for c in file_columns if c not in key.file}
    if isinstance(columns, str):
        columns = [columns]
    selection = (
        dict(columns) if isinstance(columns, Mapping) else {c: c for c in columns}
    )
    missing = [c for c in selection.values() if c not in file_columns]
    if missing:
        raise TransferError(
            f"columns= names file column(s) {', '.join(map(repr, missing))}, which "
            f"the file does not have; its columns are "
            f"{', '.join(map(repr, list(file_columns)[:30]))}"
        )
    return selection


def _unique_keys(right: dd.DataFrame, key: JoinKey, keep: str) -> dd.DataFrame:
    keys = [_key_name(i) for i in range(len(key.file))]
    if keep != "raise":
        unique: dd.DataFrame = right.drop_duplicates(subset=keys, keep=keep)
        return unique
    sizes = right[keys].groupby(keys, dropna=True).size()
    repeated = sizes[sizes > 1].head(_SHOWN_DUPLICATES, npartitions=-1)
    if len(repeated):
        shown = ", ".join(repr(k) for k in repeated.index.tolist())
        raise TransferError(
            f"the file repeats key(s) {shown} in {list(key.file)}, so a profile "
            "would match several rows; pass keep='first' or keep='last' to use one "
            "of them, or fix the file"
        )
    return right


def _merge(
    ddf: dd.DataFrame, right: dd.DataFrame, key: JoinKey, new_names: list[str]
) -> dd.DataFrame:
    """Left-join `right`, keeping the audience's index and column order."""
    meta = ddf._meta
    replaced = [name for name in new_names if name in meta.columns]
    left = ddf.drop(columns=replaced) if replaced else ddf
    index_names = list(meta.index.names)
    left = left.map_partitions(_index_to_columns, meta=_index_to_columns(left._meta))
    keys = [_key_name(i) for i in range(len(key.file))]
    merged = left.merge(right, how="left", left_on=list(key.audience), right_on=keys)
    order = [*meta.columns, *(n for n in new_names if n not in meta.columns)]
    restored: dd.DataFrame = merged.map_partitions(
        _columns_to_index,
        index_names,
        order,
        meta=_columns_to_index(merged._meta, index_names, order),
    )
    return restored


def _index_to_columns(part: pd.DataFrame) -> pd.DataFrame:
    levels = part.index.nlevels
    names = [f"{_INDEX}{level}" for level in range(levels)]
    return part.rename_axis(names).reset_index()


def _columns_to_index(
    part: pd.DataFrame, index_names: list[Any], order: list[Any]
) -> pd.DataFrame:
    columns = [f"{_INDEX}{level}" for level in range(len(index_names))]
    frame = part.set_index(columns)
    frame.index.names = index_names
    return frame[order]


def _key_name(number: int) -> str:
    return f"__extapi_key{number}"


def _check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigurationError(
            f"invalid {name}={value!r}; valid values are "
            f"{', '.join(map(repr, choices))}"
        )
