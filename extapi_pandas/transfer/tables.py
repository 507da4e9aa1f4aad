"""Read files chunk by chunk and keep only the rows whose key is in the audience.

Each table reads one format. Only one chunk (`chunk_rows` rows, or one Parquet row
group) and the rows kept so far are in memory at a time, never the whole file.
"""

from __future__ import annotations

import codecs
import itertools
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import numpy as np
import pandas as pd

from extapi_pandas.dtypes import InvalidValue, build_array, convert_value, parse_dtype
from extapi_pandas.errors import TransferError
from extapi_pandas.frames import ConversionFailure
from extapi_pandas.transfer.convert import (
    apply_declared,
    arrow_to_pandas,
    build_declared,
    declared_zone,
    describe_invalid,
    infer_text_column,
    text_keys,
)
from extapi_pandas.transfer.keys import JoinKey, KeyMatcher, check_key_dtypes
from extapi_pandas.transfer.sources import FileFormat, SourceFile
from extapi_pandas.values import python_scalar

__all__ = ["CsvTable", "JsonTable", "ParquetTable", "ReadSpec", "Table", "make_table"]

_BLOCK_BYTES = 1024 * 1024
# A single JSON array element larger than this is treated as a broken file.
_MAX_ELEMENT_CHARS = 64 * 1024 * 1024
_WHITESPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()
_TEXT_DEFAULT = "read as text, the default for file keys"


@dataclass(frozen=True)
class ReadSpec:
    """The columns, dtypes, chunk size and encoding of a read.

    Attributes:
        key: The join key.
        wanted: File columns to keep besides the key; None keeps every column.
        declared: File column to the dtype it is converted to.
        chunk_rows: Rows per chunk (Parquet reads at most this many per batch).
        encoding: Text encoding of CSV and JSON files; a UTF-8 BOM is skipped.
    """

    key: JoinKey
    wanted: tuple[str, ...] | None
    declared: Mapping[str, str] = field(default_factory=dict)
    chunk_rows: int = 50_000
    encoding: str = "utf-8"

    @property
    def needed(self) -> set[str] | None:
        """Columns to read: key and wanted ones, or None for all."""
        if self.wanted is None:
            return None
        return set(self.key.file) | set(self.wanted)

    @property
    def text_encoding(self) -> str:
        """The encoding to decode with; UTF-8 becomes BOM-tolerant `utf-8-sig`."""
        name = codecs.lookup(self.encoding).name
        return "utf-8-sig" if name in ("utf-8", "utf-8-sig") else self.encoding


class Table:
    """Accumulates the kept rows of every file of one source.

    Chunks wait until the matcher's `flush_rows` file rows are pending, then their
    keys are matched in one call and only the matching rows are kept.

    Attributes:
        rows_read: File rows read, kept or not.
        key_sample: The first few file keys read, for messages.
        columns_seen: File columns in order of first appearance.
    """

    def __init__(
        self, spec: ReadSpec, matcher: KeyMatcher, audience: pd.DataFrame
    ) -> None:
        self.spec = spec
        self.matcher = matcher
        self.audience = audience
        self.rows_read = 0
        self.key_sample: list[Any] = []
        self.columns_seen: dict[str, None] = {}
        self._positions: list[np.ndarray[Any, Any]] = []
        self._all_positions: np.ndarray[Any, Any] | None = None
        # Per kept chunk: file number, first data row, and the kept rows (None when
        # every row was kept, the common case, which then costs no array).
        self._origins: list[tuple[int, int, np.ndarray[Any, Any] | None, int]] = []
        self._pending: list[tuple[Any, list[pd.Series], int, int]] = []
        self._pending_rows = 0

    def read(self, handle: BinaryIO, file: SourceFile, number: int) -> None:
        """Read one file and keep its matching rows."""
        raise NotImplementedError

    def finish(self) -> tuple[pd.DataFrame, list[ConversionFailure]]:
        """Return the kept rows, converted, and the values that failed conversion."""
        raise NotImplementedError

    @property
    def positions(self) -> np.ndarray[Any, Any]:
        """Per kept row, the group of its key (see `KeyMatcher.codes`)."""
        if self._all_positions is None:
            self._all_positions = _concat(self._positions)
        return self._all_positions

    def flush(self) -> None:
        """Match the pending chunks' keys and keep their matching rows."""
        if not self._pending:
            return
        parts = [
            [keys[column] for _, keys, _, _ in self._pending]
            for column in range(len(self.spec.key.file))
        ]
        positions = self.matcher.match(parts)
        offset = 0
        for data, keys, number, first_row in self._pending:
            size = len(keys[0])
            chunk_positions = positions[offset : offset + size]
            offset += size
            mask = chunk_positions >= 0
            if mask.all():
                self._positions.append(chunk_positions)
                self._origins.append((number, first_row, None, size))
            else:
                kept = np.flatnonzero(mask)
                self._positions.append(chunk_positions[kept])
                self._origins.append((number, first_row, kept, len(kept)))
            self._keep(data, mask)
        self._all_positions = None
        self._pending = []
        self._pending_rows = 0

    def _keep(self, data: Any, mask: np.ndarray[Any, Any]) -> None:
        """Keep the rows of one chunk where `mask` is set."""
        raise NotImplementedError

    def origin(self, kept_row: int) -> tuple[int, int]:
        """Return (file number, data row within the file) of a kept row."""
        start = 0
        for number, first_row, kept, count in self._origins:
            if kept_row < start + count:
                within = kept_row - start
                row = within if kept is None else int(kept[within])
                return number, first_row + row
            start += count
        raise IndexError(f"kept row {kept_row} is out of range (0 to {start - 1})")

    def _add(
        self, data: Any, keys: list[pd.Series], number: int, first_row: int
    ) -> None:
        """Queue one chunk (`data`) and its key columns, and match once enough wait."""
        size = len(keys[0])
        self.rows_read += size
        if len(self.key_sample) < 3 and size:
            take = 3 - len(self.key_sample)
            rows = zip(*(key.iloc[:take].tolist() for key in keys), strict=True)
            self.key_sample.extend(row[0] if len(row) == 1 else row for row in rows)
        self._pending.append((data, keys, number, first_row))
        self._pending_rows += size
        if self._pending_rows >= self.matcher.flush_rows:
            self.flush()

    def _check_text_keys(self) -> None:
        dtypes = {
            name: self.spec.declared.get(name, "str") for name in self.spec.key.file
        }
        how = (
            "declared in dtype="
            if any(n in self.spec.declared for n in dtypes)
            else _TEXT_DEFAULT
        )
        check_key_dtypes(self.audience, self.spec.key, dtypes, how)

    def _check_columns(
        self, available: Mapping[str, Any] | list[str], file: SourceFile
    ) -> None:
        required = set(self.spec.key.file) | set(self.spec.wanted or ())
        missing = sorted(required - set(available) - set(file.partitions))
        if missing:
            raise TransferError(
                f"{file.path} has no column(s) {', '.join(map(repr, missing))}; its "
                f"columns are {', '.join(map(repr, list(available)[:40]))}. Check on= "
                "and columns="
            )

    def _declared_key(
        self, values: list[Any], name: str, file: SourceFile
    ) -> pd.Series:
        dtype = parse_dtype(self.spec.declared[name])
        zone = declared_zone(dtype)
        converted = []
        for value in values:
            try:
                converted.append(convert_value(value, dtype, zone=zone))
            except InvalidValue as exc:
                raise TransferError(
                    f"{file.path}: key column {name!r} has value {value!r}, which is "
                    f"not {dtype.name} as declared in dtype= "
                    f"({describe_invalid(name, exc)}); fix the file or the declared "
                    "dtype"
                ) from exc
        return pd.Series(build_array(converted, dtype))


class CsvTable(Table):
    """CSV (and TSV) read with pandas in chunks, every value as text first."""

    def __init__(
        self, spec: ReadSpec, matcher: KeyMatcher, audience: pd.DataFrame
    ) -> None:
        super().__init__(spec, matcher, audience)
        self._parts: list[pd.DataFrame] = []
        self._check_text_keys()

    def read(self, handle: BinaryIO, file: SourceFile, number: int) -> None:
        seen: dict[str, None] = {}
        needed = self.spec.needed

        def use(name: str) -> bool:
            seen[name] = None
            return needed is None or name in needed

        try:
            reader = pd.read_csv(
                handle,
                sep=file.delimiter,
                dtype=str,
                keep_default_na=False,
                na_values=[""],
                chunksize=self.spec.chunk_rows,
                usecols=use,
                encoding=self.spec.text_encoding,
            )
        except pd.errors.EmptyDataError as exc:
            raise TransferError(
                f"{file.path} is empty; a CSV file starts with a header row"
            ) from exc
        first_row = 0
        with reader:
            for chunk in reader:
                self._check_columns(seen, file)
                chunk = _with_partitions(chunk, file)
                keys = [self._csv_key(chunk, name, file) for name in self.spec.key.file]
                self._add(chunk, keys, number, first_row)
                first_row += len(chunk)
        self._check_columns(seen, file)
        self.columns_seen.update(seen)
        self.columns_seen.update(dict.fromkeys(file.partitions))

    def finish(self) -> tuple[pd.DataFrame, list[ConversionFailure]]:
        self.flush()
        names = [
            n
            for n in self.columns_seen
            if self.spec.needed is None or n in self.spec.needed
        ]
        if self._parts:
            parts, self._parts = self._parts, []  # released once concatenated
            frame = pd.concat(parts, ignore_index=True)
        else:
            frame = pd.DataFrame({name: pd.Series(dtype="str") for name in names})
        declared = self.spec.declared
        for name in frame.columns:
            if name not in declared and name not in self.spec.key.file:
                frame[name] = infer_text_column(frame[name])
        return apply_declared(frame, declared)

    def _keep(self, data: Any, mask: np.ndarray[Any, Any]) -> None:
        self._parts.append(data if mask.all() else data[mask])

    def _csv_key(self, chunk: pd.DataFrame, name: str, file: SourceFile) -> pd.Series:
        if name in self.spec.declared:
            values = [python_scalar(v) for v in chunk[name].tolist()]
            return self._declared_key(values, name, file)
        return chunk[name].reset_index(drop=True)


class JsonTable(Table):
    """JSON Lines and JSON arrays of objects, parsed with the json module."""

    def __init__(
        self, spec: ReadSpec, matcher: KeyMatcher, audience: pd.DataFrame
    ) -> None:
        super().__init__(spec, matcher, audience)
        self._values: dict[str, list[Any]] = {}
        self._kept = 0
        self._check_text_keys()

    def read(self, handle: BinaryIO, file: SourceFile, number: int) -> None:
        blocks = _text_blocks(handle, self.spec.text_encoding, file)
        first, blocks = _first_character(blocks)
        if first == "" or first is None:
            return
        if file.format == "jsonl" or first == "{":
            records = _json_lines(blocks, file)
        elif first == "[":
            records = _json_array(blocks, file)
        else:
            raise TransferError(
                f"{file.path} starts with {first!r}; a JSON file must hold an array "
                "of objects, or one object per line (JSON Lines)"
            )
        first_row = 0
        while chunk := list(itertools.islice(records, self.spec.chunk_rows)):
            self._add_chunk(chunk, file, number, first_row)
            first_row += len(chunk)

    def finish(self) -> tuple[pd.DataFrame, list[ConversionFailure]]:
        self.flush()
        required = set(self.spec.key.file) | set(self.spec.wanted or ())
        missing = sorted(required - set(self.columns_seen))
        if missing and self.rows_read:
            raise TransferError(
                f"no record has the field(s) {', '.join(map(repr, missing))}; the "
                f"fields seen are {', '.join(map(repr, list(self.columns_seen)[:40]))}"
                ". Check on= and columns="
            )
        names = [
            n
            for n in self.columns_seen
            if self.spec.needed is None or n in self.spec.needed
        ]
        names.extend(missing)  # only when no row was read: empty columns
        values = {name: self._values.get(name, [None] * self._kept) for name in names}
        for name in values:
            values[name].extend([None] * (self._kept - len(values[name])))
        declared = {
            name: dtype for name, dtype in self.spec.declared.items() if name in values
        }
        for name in self.spec.key.file:
            declared.setdefault(name, "str")
        built = build_declared(values, declared, self._kept)
        return built.frame, built.failures

    def _add_chunk(
        self, chunk: list[dict[str, Any]], file: SourceFile, number: int, first_row: int
    ) -> None:
        for name, value in file.partitions.items():
            for record in chunk:
                record.setdefault(name, value)
        seen = self.columns_seen
        for record in chunk:
            if not record.keys() <= seen.keys():
                seen.update(dict.fromkeys(record))
        keys = [
            self._json_key([record.get(name) for record in chunk], name, file)
            for name in self.spec.key.file
        ]
        self._add(chunk, keys, number, first_row)

    def _keep(self, data: Any, mask: np.ndarray[Any, Any]) -> None:
        kept = [data[i] for i in np.flatnonzero(mask)]
        needed = self.spec.needed
        names = [n for n in self.columns_seen if needed is None or n in needed]
        for name in names:
            column = self._values.setdefault(name, [None] * self._kept)
            column.extend(record.get(name) for record in kept)
        self._kept += len(kept)

    def _json_key(self, values: list[Any], name: str, file: SourceFile) -> pd.Series:
        if name in self.spec.declared:
            return self._declared_key(values, name, file)
        return text_keys(values)


class ParquetTable(Table):
    """Parquet read in record batches, projected to the needed columns."""

    def __init__(
        self, spec: ReadSpec, matcher: KeyMatcher, audience: pd.DataFrame
    ) -> None:
        super().__init__(spec, matcher, audience)
        self._tables: list[Any] = []
        self._empty: Any = None

    def read(self, handle: BinaryIO, file: SourceFile, number: int) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            # With pre_buffer=True, the default, iter_batches of pyarrow 26 buffered
            # the column chunks of the whole file, so memory grew with the file.
            parquet = pq.ParquetFile(handle, pre_buffer=False)
        except (pa.ArrowInvalid, OSError) as exc:
            raise TransferError(
                f"{file.path} is not a valid Parquet file: {exc}"
            ) from exc
        schema = parquet.schema_arrow
        self._check_columns(schema.names, file)
        needed = self.spec.needed
        projection = [n for n in schema.names if needed is None or n in needed]
        self._check_parquet_keys(schema, file)
        self.columns_seen.update(dict.fromkeys(projection))
        self.columns_seen.update(dict.fromkeys(file.partitions))
        first_row = 0
        for batch in parquet.iter_batches(
            batch_size=self.spec.chunk_rows, columns=projection
        ):
            table = _arrow_partitions(pa.Table.from_batches([batch]), file)
            if self._empty is None:
                self._empty = table.schema.empty_table()
            keys = [
                self._arrow_key(table.column(name), name, file)
                for name in self.spec.key.file
            ]
            self._add(table, keys, number, first_row)
            first_row += table.num_rows
        if self._empty is None:
            self._empty = _arrow_partitions(
                schema.empty_table().select(projection), file
            ).schema.empty_table()

    def finish(self) -> tuple[pd.DataFrame, list[ConversionFailure]]:
        import pyarrow as pa

        self.flush()
        # The kept batches are released once converted, so that the file's rows
        # are not held twice while the new columns are gathered.
        tables, self._tables = self._tables or [self._empty], []
        try:
            # "permissive" widens types that differ between parts (int64 and
            # double give double) instead of failing.
            table = pa.concat_tables(tables, promote_options="permissive")
        except (pa.ArrowTypeError, pa.ArrowInvalid) as exc:
            raise TransferError(
                f"the files' columns have types that cannot be combined ({exc}). "
                "Write every part with the same column types"
            ) from exc
        frame = arrow_to_pandas(table)
        del tables, table
        return apply_declared(frame, self.spec.declared)

    def _keep(self, data: Any, mask: np.ndarray[Any, Any]) -> None:
        import pyarrow as pa

        self._tables.append(data if mask.all() else data.filter(pa.array(mask)))

    def _check_parquet_keys(self, schema: Any, file: SourceFile) -> None:
        dtypes: dict[str, str] = {}
        for name in self.spec.key.file:
            if name in self.spec.declared:
                dtypes[name] = self.spec.declared[name]
            elif name in schema.names:
                dtypes[name] = _arrow_dtype_name(schema.field(name).type)
            else:  # a partition folder name
                dtypes[name] = "str"
        declared = [n for n in dtypes if n in self.spec.declared]
        how = "declared in dtype=" if declared else "as stored in the Parquet file"
        check_key_dtypes(self.audience, self.spec.key, dtypes, how)

    def _arrow_key(self, column: Any, name: str, file: SourceFile) -> pd.Series:
        if name in self.spec.declared:
            return self._declared_key(column.to_pylist(), name, file)
        series: pd.Series = column.to_pandas()
        return series


def make_table(
    format: FileFormat, spec: ReadSpec, matcher: KeyMatcher, audience: pd.DataFrame
) -> Table:
    """Return the table that reads `format`."""
    if format == "csv":
        return CsvTable(spec, matcher, audience)
    if format == "parquet":
        return ParquetTable(spec, matcher, audience)
    return JsonTable(spec, matcher, audience)


def _concat(parts: list[np.ndarray[Any, Any]]) -> np.ndarray[Any, Any]:
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def _with_partitions(chunk: pd.DataFrame, file: SourceFile) -> pd.DataFrame:
    missing = {
        name: value
        for name, value in file.partitions.items()
        if name not in chunk.columns
    }
    if not missing:
        return chunk
    added = {
        name: pd.Series([value] * len(chunk), index=chunk.index, dtype="str")
        for name, value in missing.items()
    }
    return chunk.assign(**added)


def _arrow_partitions(table: Any, file: SourceFile) -> Any:
    import pyarrow as pa

    for name, value in file.partitions.items():
        if name not in table.column_names:
            table = table.append_column(
                name, pa.array([value] * table.num_rows, type=pa.string())
            )
    return table


def _arrow_dtype_name(arrow_type: Any) -> str:
    import pyarrow as pa

    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "str"
    if pa.types.is_dictionary(arrow_type):
        return _arrow_dtype_name(arrow_type.value_type)
    try:
        return str(np.dtype(arrow_type.to_pandas_dtype()))
    except (NotImplementedError, TypeError):
        return str(arrow_type)


def _text_blocks(handle: BinaryIO, encoding: str, file: SourceFile) -> Iterator[str]:
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        while block := handle.read(_BLOCK_BYTES):
            text = decoder.decode(block)
            if text:
                yield text
        tail = decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        raise TransferError(
            f"{file.path} is not valid {encoding} text ({exc.reason}); pass encoding= "
            "with the file's encoding"
        ) from exc
    if tail:
        yield tail


def _first_character(blocks: Iterator[str]) -> tuple[str | None, Iterator[str]]:
    """Return the first non-whitespace character and the blocks, none consumed."""
    seen: list[str] = []
    for block in blocks:
        seen.append(block)
        stripped = block.lstrip(" \t\r\n")
        if stripped:
            return stripped[0], itertools.chain(seen, blocks)
    return None, iter(seen)


def _json_lines(blocks: Iterator[str], file: SourceFile) -> Iterator[dict[str, Any]]:
    pending = ""
    line_number = 0
    for block in itertools.chain(blocks, ["\n"]):
        pending += block
        lines = pending.split("\n")
        pending = lines.pop()
        for line in lines:
            line_number += 1
            if line.strip():
                yield _json_record(line, line_number, file)
    if pending.strip():
        yield _json_record(pending, line_number + 1, file)


def _json_record(line: str, line_number: int, file: SourceFile) -> dict[str, Any]:
    text = line.strip(" \t\r")
    try:
        # raw_decode skips the wrappers of json.loads, a third of its time per line.
        value, end = _DECODER.raw_decode(text)
        if end != len(text):
            raise json.JSONDecodeError("Extra data", text, end)
    except json.JSONDecodeError as exc:
        raise TransferError(
            f"{file.path}: line {line_number} is not valid JSON ({exc.msg} at column "
            f"{exc.colno}); JSON Lines hold one complete object per line"
        ) from exc
    if not isinstance(value, dict):
        raise TransferError(
            f"{file.path}: line {line_number} is a JSON {type(value).__name__}, not "
            "an object; each line must be one record object"
        )
    return value


def _json_array(blocks: Iterator[str], file: SourceFile) -> Iterator[dict[str, Any]]:
    """Yield the objects of a top-level JSON array without holding the whole file."""
    decoder = json.JSONDecoder()
    buffer, position, index, state = "", 0, 0, "open"
    exhausted = False
    while True:
        position = _WHITESPACE.match(buffer, position).end()  # type: ignore[union-attr]
        if position == len(buffer):
            if exhausted:
                break
            buffer, position, exhausted = _refill(buffer, position, blocks)
            continue
        character = buffer[position]
        if state == "open":
            _expect(character, "[", file, index)
            position, state = position + 1, "first"
        elif state in ("first", "value"):
            if state == "first" and character == "]":
                position, state = position + 1, "done"
                continue
            _expect(character, "{", file, index)
            try:
                value, end = decoder.raw_decode(buffer, position)
            except json.JSONDecodeError as exc:
                # The element may be cut at the end of the buffer: read more.
                if exhausted or len(buffer) - position > _MAX_ELEMENT_CHARS:
                    raise TransferError(
                        f"{file.path}: array element {index} is not valid JSON "
                        f"({exc.msg})"
                    ) from exc
                buffer, position, exhausted = _refill(buffer, position, blocks)
                continue
            yield value
            index, position, state = index + 1, end, "separator"
        elif state == "separator":
            if character not in ",]":
                _expect(character, "',' or ']'", file, index)
            position += 1
            state = "value" if character == "," else "done"
        else:
            raise TransferError(
                f"{file.path}: unexpected {character!r} after the closing ']' of the "
                "array"
            )
    if state != "done":
        raise TransferError(
            f"{file.path} ends inside the JSON array (after {index} elements); the "
            "file is truncated"
        )


def _refill(buffer: str, position: int, blocks: Iterator[str]) -> tuple[str, int, bool]:
    block = next(blocks, None)
    if block is None:
        return buffer, position, True
    return buffer[position:] + block, 0, False


def _expect(character: str, expected: str, file: SourceFile, index: int) -> None:
    if expected in ("[", "{") and character != expected:
        what = "the file" if expected == "[" else f"array element {index}"
        raise TransferError(
            f"{file.path}: {what} starts with {character!r}, not {expected!r}; a JSON "
            "file must hold an array of objects, or one object per line"
        )
    if expected not in ("[", "{"):
        raise TransferError(
            f"{file.path}: expected {expected} after array element {index - 1}, found "
            f"{character!r}"
        )
