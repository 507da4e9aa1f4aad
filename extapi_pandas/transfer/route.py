"""`enrich_from_file`: join a per-profile file onto the audience by key, in bulk."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import ssl
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, get_args, overload

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import aiohttp

from extapi_pandas.attach import assemble, resolve_names, take_column
from extapi_pandas.enrich import ExtapiWarning, Outcome
from extapi_pandas.errors import (
    ConfigurationError,
    ExtapiError,
    TransferError,
    ValidationError,
)
from extapi_pandas.frames import ConversionFailure
from extapi_pandas.http.auth import Auth
from extapi_pandas.options import Guard, Timeout
from extapi_pandas.provenance import ATTRS_KEY, library_version
from extapi_pandas.redaction import Redactor, is_sensitive_name
from extapi_pandas.transfer.keys import JoinKey, KeyMatcher, make_matcher, parse_on
from extapi_pandas.transfer.remote import HttpSettings, open_http_filesystem
from extapi_pandas.transfer.sources import FileFormat, FileSet, resolve_sources
from extapi_pandas.transfer.tables import ReadSpec, Table, make_table
from extapi_pandas.validation import failure_frame, resolve_schema, validate_frame

__all__ = ["enrich_from_file"]

logger = logging.getLogger(__name__)

Keep = Literal["raise", "first", "last"]
OnConflict = Literal["raise", "overwrite", "suffix"]
_GUARD_OPTIONS = (
    "allow_http",
    "allow_link_local",
    "follow_redirects",
    "max_redirects",
    "redirect_hosts",
)
_SHOWN_FAILURES = 5
_SHOWN_DUPLICATES = 3


def enrich_from_file(
    audience: pd.DataFrame,
    source: Any,
    *,
    on: str | Sequence[str] | Mapping[str, str],
    columns: Sequence[str] | Mapping[str, str] | None = None,
    schema: Any = None,
    format: FileFormat | None = None,
    storage_options: Mapping[str, Any] | None = None,
    dtype: Mapping[str, str] | None = None,
    keep: Keep = "raise",
    on_conflict: OnConflict = "raise",
    encoding: str = "utf-8",
    chunk_rows: int = 50_000,
    auth: Auth | None = None,
    verify: bool | str | ssl.SSLContext = True,
    timeout: Timeout | float | None = None,
    guard: Guard | None = None,
    **guard_options: Any,
) -> Outcome:
    """Read a per-profile file in chunks and left-join it onto the audience by key.

    The arguments are those of `df.extapi.enrich_from_file`, which documents them.

    Returns:
        The enriched frame (the audience's columns, not copied, plus the new ones;
        provenance and match rate in `attrs["extapi"]`), and warnings to emit.
    """
    started = time.monotonic()
    started_at = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
    _check_choice("keep", keep, Keep)
    _check_choice("on_conflict", on_conflict, OnConflict)
    _check_chunk_rows(chunk_rows)
    key = parse_on(on, audience)
    selection = _parse_columns(columns)
    if selection is not None:  # a name collision fails before the file is read
        resolve_names(audience.columns, list(selection), on_conflict)
    settings = _http_settings(auth, verify, timeout, guard, guard_options)
    redactor = _redactor(auth, storage_options)
    resolved_schema = resolve_schema(schema)
    spec = ReadSpec(
        key,
        None if selection is None else tuple(selection.values()),
        dict(dtype or {}),
        chunk_rows,
        encoding,
    )

    files = resolve_sources(
        source,
        format=format,
        storage_options=storage_options,
        redactor=redactor,
        open_http=lambda urls: open_http_filesystem(
            urls, settings, storage_options, redactor
        ),
    )
    matcher = make_matcher(audience, key, spec.declared, chunk_rows)
    table = _read_all(files, spec, matcher, audience, redactor)
    logger.info(
        "read %d row(s) from %d file(s) at %s; %d match an audience key",
        table.rows_read,
        len(files.files),
        files.shown,
        len(table.positions),
    )

    frame, failures = table.finish()
    frame, positions = _validate(
        frame, failures, table.positions, resolved_schema, key, files.shown
    )
    rows, chosen = _join_rows(matcher, positions, keep, table, files, key)

    if selection is None:
        selection = {name: name for name in frame.columns if name not in key.file}
    names = resolve_names(audience.columns, list(selection), on_conflict)
    new_columns = {
        names[out]: take_column(frame[column], rows, as_category=False)
        for out, column in selection.items()
    }
    result = assemble(audience, new_columns)

    outcome = Outcome(result)
    match = _match_stats(rows, table, chosen)
    if len(audience) and not match["profiles_matched"]:
        outcome.warnings.append((ExtapiWarning, _no_match_message(matcher, table, key)))
    result.attrs[ATTRS_KEY] = _provenance(
        files,
        key,
        selection,
        names,
        result,
        match,
        outcome,
        redactor,
        started,
        started_at,
    )
    return outcome


def _read_all(
    files: FileSet,
    spec: ReadSpec,
    matcher: KeyMatcher,
    audience: pd.DataFrame,
    redactor: Redactor,
) -> Table:
    try:
        table = make_table(files.format, spec, matcher, audience)
        # Parquet needs random access; the other formats are read front to back.
        options = files.stream_options if files.format != "parquet" else {}
        for number, file in enumerate(files.files):
            shown = redactor.url(file.path) if "://" in file.path else file.path
            with (
                _translated(shown, redactor, spec.encoding),
                files.fs.open(
                    file.path, mode="rb", compression=file.compression, **options
                ) as handle,
            ):
                table.read(handle, file, number)
        table.flush()
        return table
    finally:
        files.close()


@contextlib.contextmanager
def _translated(shown: str, redactor: Redactor, encoding: str) -> Iterator[None]:
    """Turn errors of fsspec, aiohttp, pandas and pyarrow into `TransferError`."""
    import aiohttp

    try:
        yield
    except ExtapiError as exc:
        redactor.exception(exc)
        raise
    except FileNotFoundError as exc:
        # fsspec's HTTP file system reports every failed request as not found;
        # the real failure is the cause.
        cause = exc.__cause__
        if isinstance(cause, ExtapiError):
            redactor.exception(cause)
            raise cause from None
        if isinstance(cause, aiohttp.ClientResponseError) and cause.status != 404:
            raise _status_error(shown, cause, redactor) from cause
        if cause is not None and not isinstance(cause, aiohttp.ClientResponseError):
            error = TransferError(
                f"reading {shown} failed: {type(cause).__name__}: {cause}"
            )
            raise _cleaned(error, cause, redactor) from cause
        error = TransferError(f"{shown} was not found; check the path or URL")
        raise _cleaned(error, exc, redactor) from exc
    except PermissionError as exc:
        error = TransferError(
            f"permission denied reading {shown} ({exc}); check the credentials in "
            "storage_options or auth="
        )
        raise _cleaned(error, exc, redactor) from exc
    except aiohttp.ClientResponseError as exc:
        raise _status_error(shown, exc, redactor) from exc
    except TimeoutError as exc:
        error = TransferError(
            f"reading {shown} timed out; raise timeout=Timeout(connect=..., read=...) "
            "if the server is slow"
        )
        raise _cleaned(error, exc, redactor) from exc
    except UnicodeDecodeError as exc:
        error = TransferError(
            f"{shown} is not valid {encoding} text ({exc.reason} at byte {exc.start}); "
            "pass encoding= with the file's encoding"
        )
        raise _cleaned(error, exc, redactor) from exc
    except (OSError, EOFError, ValueError, aiohttp.ClientError) as exc:
        error = TransferError(f"reading {shown} failed: {type(exc).__name__}: {exc}")
        raise _cleaned(error, exc, redactor) from exc


def _status_error(
    shown: str, exc: aiohttp.ClientResponseError, redactor: Redactor
) -> TransferError:
    error = TransferError(
        f"{shown} returned HTTP {exc.status} ({exc.message}); check the URL and auth="
    )
    return _cleaned(error, exc, redactor)


def _cleaned(
    error: TransferError, cause: BaseException, redactor: Redactor
) -> TransferError:
    redactor.exception(cause)
    error.args = (redactor.text(str(error)),)
    return error


def _validate(
    frame: pd.DataFrame,
    conversions: list[ConversionFailure],
    positions: np.ndarray[Any, Any],
    schema: Any,
    key: JoinKey,
    shown: str,
) -> tuple[pd.DataFrame, np.ndarray[Any, Any]]:
    """Apply dtype conversions and the schema to the kept rows; raise on failures."""
    labels = _key_labels(frame, key)
    failures = failure_frame(conversions, labels)
    if failures.empty and schema is not None:
        validated, failures = validate_frame(frame, schema, labels)
        if failures.empty:
            # A schema with drop_invalid_rows=True drops rows; keep their keys aligned.
            kept = validated.index.to_numpy()
            return validated.reset_index(drop=True), positions[kept]
    if not failures.empty:
        raise _validation_error(failures, shown)
    return frame, positions


def _key_labels(frame: pd.DataFrame, key: JoinKey) -> Sequence[Any]:
    if not all(name in frame.columns for name in key.file):
        return [None] * len(frame)
    return _KeyLabels(frame, key.file)


class _KeyLabels(Sequence[Any]):
    """The file key of each kept row, read only for the rows that failures name.

    Listing every key up front would turn millions of keys into Python objects.
    """

    def __init__(self, frame: pd.DataFrame, names: tuple[str, ...]) -> None:
        self._columns = [frame[name] for name in names]

    def __len__(self) -> int:
        return len(self._columns[0])

    @overload
    def __getitem__(self, row: int) -> Any: ...

    @overload
    def __getitem__(self, row: slice) -> list[Any]: ...

    def __getitem__(self, row: int | slice) -> Any:
        if isinstance(row, slice):
            return [self[i] for i in range(*row.indices(len(self)))]
        position = row + len(self) if row < 0 else row
        values = [
            column.iloc[position : position + 1].tolist()[0] for column in self._columns
        ]
        return values[0] if len(values) == 1 else tuple(values)


def _validation_error(failures: pd.DataFrame, shown: str) -> ValidationError:
    cases = failures.rename(columns={"campaign": "key"})
    lines = [
        f"  key {row.key!r}, column {row.column!r}: value {row.value!r} failed "
        f"{row.check}"
        for row in cases.head(_SHOWN_FAILURES).itertuples(index=False)
    ]
    more = len(cases) - min(len(cases), _SHOWN_FAILURES)
    if more:
        lines.append(f"  ... and {more} more (see the error's failure_cases)")
    return ValidationError(
        f"{len(cases)} value(s) in the rows of {shown} that match the audience failed "
        "validation:\n" + "\n".join(lines) + "\nFix the file, the schema, or the "
        "dtypes declared in dtype=",
        failure_cases=cases[["key", "column", "value", "check"]].reset_index(drop=True),
    )


def _join_rows(
    matcher: KeyMatcher,
    positions: np.ndarray[Any, Any],
    keep: Keep,
    table: Table,
    files: FileSet,
    key: JoinKey,
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Return the kept file row of each audience row (-1: none) and the file rows
    chosen when keys repeat."""
    groups = matcher.group_count
    if not len(positions) or np.bincount(positions, minlength=groups).max() <= 1:
        repeated = np.zeros(len(positions), dtype=bool)  # the common case, in O(n)
    else:
        repeated = pd.Series(positions).duplicated(keep=False).to_numpy()
    if repeated.any() and keep == "raise":
        raise _duplicate_error(positions, repeated, matcher, table, files, key)
    if repeated.any():
        kept: Literal["first", "last"] = "first" if keep == "first" else "last"
        chosen = ~pd.Series(positions).duplicated(keep=kept).to_numpy()
    else:
        chosen = np.ones(len(positions), dtype=bool)
    row_of_key = np.full(groups + 1, -1, dtype=np.int64)
    row_of_key[positions[chosen]] = np.flatnonzero(chosen)
    # Audience rows without a key have code -1, which reads the trailing -1.
    return row_of_key[matcher.codes], chosen


def _duplicate_error(
    positions: np.ndarray[Any, Any],
    repeated: np.ndarray[Any, Any],
    matcher: KeyMatcher,
    table: Table,
    files: FileSet,
    key: JoinKey,
) -> TransferError:
    repeated_keys = pd.unique(positions[repeated])
    examples = []
    for position in repeated_keys[:_SHOWN_DUPLICATES]:
        rows = np.flatnonzero(positions == position)
        places = ", ".join(_place(table, files, int(row)) for row in rows[:3])
        value = matcher.key_of(int(position))
        examples.append(f"{value!r} ({len(rows)} rows: {places})")
    return TransferError(
        f"the file has {int(repeated.sum())} rows for {len(repeated_keys)} audience "
        f"key(s) that appear more than once in {list(key.file)}, for example "
        f"{'; '.join(examples)}. Each profile must match one row: deduplicate the "
        "file, or pass keep='first' or keep='last' to use the first or last row of "
        "each key"
    )


def _place(table: Table, files: FileSet, row: int) -> str:
    file_number, data_row = table.origin(row)
    path = files.files[file_number].path
    return f"{path.rsplit('/', 1)[-1]} data row {data_row + 1}"


def _provenance(
    files: FileSet,
    key: JoinKey,
    selection: Mapping[str, str],
    names: Mapping[str, str],
    result: pd.DataFrame,
    match: dict[str, Any],
    outcome: Outcome,
    redactor: Redactor,
    started: float,
    started_at: str,
) -> dict[str, Any]:
    """Return the JSON-safe provenance stored in `attrs["extapi"]`."""
    return {
        "version": 1,
        "library": f"extapi-pandas {library_version()}",
        "route": "file",
        "source": _source_entry(files),
        "on": key.as_option(),
        "columns": {
            out: {
                "file_column": column,
                "column": names[out],
                "dtype": str(result[names[out]].dtype),
            }
            for out, column in selection.items()
        },
        "started_at": started_at,
        "elapsed_s": round(time.monotonic() - started, 6),
        "rows": len(result),
        "rows_enriched": match["profiles_matched"],
        "rows_unmatched": match["profiles_unmatched"],
        "match": match,
        "warnings": [redactor.text(message) for _, message in outcome.warnings],
    }


def _match_stats(
    rows: np.ndarray[Any, Any], table: Table, chosen: np.ndarray[Any, Any]
) -> dict[str, Any]:
    matched = int((rows >= 0).sum())
    # Distinct file rows used, counted in O(n) rather than by sorting the rows.
    matched_rows = rows[rows >= 0]
    used = int(np.count_nonzero(np.bincount(matched_rows))) if len(matched_rows) else 0
    profiles = len(rows)
    return {
        "profiles_matched": matched,
        "profiles_unmatched": profiles - matched,
        "match_rate": round(matched / profiles, 6) if profiles else None,
        "file_rows_read": table.rows_read,
        "file_rows_used": used,
        "file_rows_unused": table.rows_read - used,
        "duplicate_rows_dropped": int((~chosen).sum()),
    }


def _no_match_message(matcher: KeyMatcher, table: Table, key: JoinKey) -> str:
    return (
        f"no profile matched a file row on {key.as_option()!r}: {table.rows_read} "
        f"file row(s) read, none with an audience key. Audience keys look like "
        f"{matcher.sample()!r}, file keys like {table.key_sample!r}; check for "
        "leading zeros, case, padding, or a key read with the wrong dtype (dtype=)"
    )


def _source_entry(files: FileSet) -> dict[str, Any]:
    sizes = [file.size for file in files.files]
    return {
        "path": files.shown,
        "format": files.format,
        "files": len(files.files),
        "compression": sorted({f.compression for f in files.files if f.compression}),
        "bytes": sum(s for s in sizes if s is not None) if None not in sizes else None,
    }


def _parse_columns(columns: Any) -> dict[str, str] | None:
    if columns is None:
        return None
    if isinstance(columns, str):
        columns = [columns]
    if isinstance(columns, Mapping):
        selection = {str(out): str(column) for out, column in columns.items()}
    elif isinstance(columns, Sequence) and all(isinstance(c, str) for c in columns):
        selection = {column: column for column in columns}
    else:
        raise ConfigurationError(
            "columns= lists the file columns to add (columns=['score']) or maps new "
            f"column names to file columns (columns={{'score': 'raw_score'}}); got "
            f"{columns!r}"
        )
    if not selection:
        raise ConfigurationError("columns= is empty; name at least one file column")
    return selection


def _http_settings(
    auth: Auth | None,
    verify: bool | str | ssl.SSLContext,
    timeout: Timeout | float | None,
    guard: Guard | None,
    options: Mapping[str, Any],
) -> HttpSettings:
    unknown = sorted(set(options) - set(_GUARD_OPTIONS))
    if unknown:
        raise ConfigurationError(
            f"unknown option(s) {', '.join(map(repr, unknown))} for enrich_from_file; "
            "valid options are on, columns, schema, format, storage_options, dtype, "
            "keep, on_conflict, encoding, chunk_rows, auth, verify, timeout, guard, "
            + ", ".join(_GUARD_OPTIONS)
        )
    if guard is not None and not isinstance(guard, Guard):
        raise ConfigurationError(f"guard must be a Guard, got {guard!r}")
    if auth is not None and not isinstance(auth, Auth):
        raise ConfigurationError(
            f"auth must be an Auth scheme such as BearerToken(...), got "
            f"{type(auth).__name__}"
        )
    resolved = (guard or Guard()).replace(**options) if options else guard or Guard()
    return HttpSettings(
        resolved,
        auth,
        verify,
        Timeout() if timeout is None else Timeout.coerce(timeout),
    )


def _redactor(auth: Auth | None, storage_options: Mapping[str, Any] | None) -> Redactor:
    secrets = list(auth.secrets()) if auth is not None else []
    secrets.extend(_sensitive_values(storage_options or {}))
    return Redactor(secrets)


def _sensitive_values(options: Mapping[str, Any]) -> list[str]:
    values = []
    for name, value in options.items():
        if isinstance(value, Mapping):
            values.extend(_sensitive_values(value))
        elif isinstance(value, str) and is_sensitive_name(str(name)):
            values.append(value)
    return values


def _check_choice(name: str, value: Any, choices: Any) -> None:
    valid = get_args(choices)
    if value not in valid:
        raise ConfigurationError(
            f"invalid {name}={value!r}; valid values are {', '.join(map(repr, valid))}"
        )


def _check_chunk_rows(chunk_rows: Any) -> None:
    if (
        isinstance(chunk_rows, bool)
        or not isinstance(chunk_rows, int)
        or chunk_rows < 1
    ):
        raise ConfigurationError(
            f"chunk_rows must be a whole number of 1 or more, got {chunk_rows!r}"
        )
