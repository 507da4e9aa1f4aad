"""Find the files behind a path, URL, glob or folder; infer format and compression."""

from __future__ import annotations

import importlib.util
import logging
import os
import posixpath
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, get_args
from urllib.parse import unquote

from extapi_pandas.errors import ConfigurationError, TransferError
from extapi_pandas.redaction import Redactor

__all__ = [
    "FORMATS",
    "FileFormat",
    "FileSet",
    "SourceFile",
    "format_of",
    "partition_values",
    "require_module",
    "resolve_sources",
]

logger = logging.getLogger(__name__)

FileFormat = Literal["csv", "jsonl", "json", "parquet"]
FORMATS: tuple[str, ...] = get_args(FileFormat)

_FORMAT_OF_SUFFIX: dict[str, FileFormat] = {
    ".csv": "csv",
    ".tsv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".parquet": "parquet",
    ".pq": "parquet",
}
_COMPRESSION_OF_SUFFIX = {".gz": "gzip", ".bz2": "bz2", ".zst": "zstd", ".xz": "xz"}

# Protocols that need a package outside the core install: (module, extra).
_PROTOCOL_EXTRAS = {
    "s3": ("s3fs", "s3"),
    "s3a": ("s3fs", "s3"),
    "sftp": ("paramiko", "sftp"),
    "ssh": ("paramiko", "sftp"),
    "abfs": ("adlfs", "azure"),
    "abfss": ("adlfs", "azure"),
    "az": ("adlfs", "azure"),
}
_HTTP = ("http", "https")
_GLOB_CHARACTERS = frozenset("*?[")
# Hive writes absent partition values as this directory name.
_HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"


@dataclass(frozen=True)
class SourceFile:
    """One file to read.

    Attributes:
        path: The path on the file system (a full URL for HTTP).
        format: The file format.
        compression: The fsspec compression name, or None.
        delimiter: The CSV field delimiter.
        partitions: Hive-style `name=value` folder names between the source root
            and the file, added to its rows as text columns.
        size: Size in bytes as stored, when the listing gave it.
    """

    path: str
    format: FileFormat
    compression: str | None
    delimiter: str = ","
    partitions: Mapping[str, str | None] = field(default_factory=dict)
    size: int | None = None


@dataclass
class FileSet:
    """The files of one source and the file system that reads them.

    Attributes:
        fs: An fsspec file system.
        files: The files, sorted by path.
        shown: The source as given, with secrets masked, for messages.
        close: Releases network sessions; call it once reading is done.
        stream_options: Options of `fs.open` for reading a file front to back.
    """

    fs: Any
    files: list[SourceFile]
    shown: str
    close: Callable[[], None] = lambda: None
    stream_options: dict[str, Any] = field(default_factory=dict)

    @property
    def format(self) -> FileFormat:
        """The format shared by every file."""
        return self.files[0].format


def require_module(module: str, extra: str, purpose: str) -> None:
    """Raise when an optional package is not installed.

    Raises:
        ConfigurationError: `module` cannot be imported; the message names the
            extra that installs it.
    """
    if importlib.util.find_spec(module) is None:
        raise ConfigurationError(
            f"{purpose} needs the package {module!r}, which is not installed; "
            f'install it with pip install "extapi-pandas[{extra}]"'
        )


def format_of(
    name: str, format: FileFormat | None
) -> tuple[FileFormat | None, str | None]:
    """Return the format and compression of a file name; `format` overrides the
    format inferred from the extension.

    Raises:
        ConfigurationError: `format` is not a known format.
    """
    if format is not None and format not in FORMATS:
        raise ConfigurationError(
            f"invalid format={format!r}; valid formats are "
            f"{', '.join(map(repr, FORMATS))}"
        )
    base = posixpath.basename(name.split("?", 1)[0]).lower()
    compression = None
    stem, suffix = posixpath.splitext(base)
    if suffix in _COMPRESSION_OF_SUFFIX:
        compression = _COMPRESSION_OF_SUFFIX[suffix]
        stem, suffix = posixpath.splitext(stem)
    return format or _FORMAT_OF_SUFFIX.get(suffix), compression


def partition_values(path: str, root: str) -> dict[str, str | None]:
    """Return the `name=value` folder names between `root` and the file at `path`."""
    relative = path[len(root) :] if path.startswith(root) else ""
    values: dict[str, str | None] = {}
    for part in relative.strip("/").split("/")[:-1]:
        name, equals, value = part.partition("=")
        if equals and name:
            text = unquote(value)
            values[unquote(name)] = None if text == _HIVE_NULL else text
    return values


def resolve_sources(
    source: Any,
    *,
    format: FileFormat | None,
    storage_options: Mapping[str, Any] | None,
    redactor: Redactor,
    open_http: Callable[[list[str]], tuple[Any, Callable[[], None]]],
) -> FileSet:
    """List the files of a path, URL, glob, folder, or a list of them.

    Args:
        source: A path or URL (str or os.PathLike), or a sequence of them.
        format: The format of every file; None infers it from the extensions.
        storage_options: Options for the fsspec file system.
        redactor: Masks secrets in what is shown.
        open_http: Builds the guarded HTTP file system for a list of URLs.

    Raises:
        ConfigurationError: The source is of the wrong type, mixes protocols, or
            needs an optional package that is not installed.
        TransferError: No data file was found, or the files mix formats.
    """
    texts = _source_texts(source)
    shown = ", ".join(redactor.url(text) if "://" in text else text for text in texts)
    protocols = {_protocol(text) for text in texts}
    if len(protocols) > 1:
        raise ConfigurationError(
            f"the sources mix protocols ({', '.join(sorted(protocols))}); read each "
            "protocol in its own call"
        )
    protocol = protocols.pop()
    if protocol in _HTTP:
        return _http_files(texts, format, storage_options, shown, open_http)
    if protocol in _PROTOCOL_EXTRAS:
        module, extra = _PROTOCOL_EXTRAS[protocol]
        require_module(module, extra, f"reading {protocol}:// paths")
    import fsspec

    try:
        fs, _ = fsspec.core.url_to_fs(texts[0], **dict(storage_options or {}))
    except ImportError as exc:  # a protocol whose package is not installed
        raise ConfigurationError(
            f"reading {shown} needs a package that is not installed: {exc}"
        ) from exc
    except (ValueError, TypeError) as exc:
        raise ConfigurationError(
            f"cannot open {shown} with storage_options "
            f"{sorted(storage_options or {})}: {redactor.text(str(exc))}"
        ) from exc
    files: list[SourceFile] = []
    for text in texts:
        files.extend(_expand(fs, fs._strip_protocol(text), format))
    return FileSet(fs, _checked(files, shown, format), shown)


def _source_texts(source: Any) -> list[str]:
    if isinstance(source, str | os.PathLike):
        items = [source]
    elif isinstance(source, Sequence) and not isinstance(source, bytes) and source:
        items = list(source)
    else:
        raise ConfigurationError(
            "the source must be a path or URL (str or os.PathLike), or a non-empty "
            f"list of them; got {type(source).__name__}"
        )
    texts = []
    for item in items:
        if not isinstance(item, str | os.PathLike):
            raise ConfigurationError(
                f"each source must be a path or URL, got {type(item).__name__}"
            )
        texts.append(os.fspath(item))
    return texts


def _protocol(text: str) -> str:
    scheme, separator, _ = text.partition("://")
    if not separator:
        return "file"
    return scheme.split("::")[-1].lower()


def _http_files(
    urls: list[str],
    format: FileFormat | None,
    storage_options: Mapping[str, Any] | None,
    shown: str,
    open_http: Callable[[list[str]], tuple[Any, Callable[[], None]]],
) -> FileSet:
    if any(
        _GLOB_CHARACTERS & set(url.split("?", 1)[0].split("://", 1)[1]) for url in urls
    ):
        raise ConfigurationError(
            f"globs are not supported over HTTP ({shown}), because HTTP cannot list "
            "a folder; pass the file URLs as a list"
        )
    files = []
    for url in urls:
        file_format, compression = format_of(url, format)
        files.append(_source_file(url, file_format, compression, {}, None, shown))
    checked = _checked(files, shown, format)
    fs, close = open_http(urls)
    # block_size=0 makes fsspec stream the body in one GET instead of byte ranges.
    return FileSet(fs, checked, shown, close, {"block_size": 0})


def _expand(fs: Any, path: str, format: FileFormat | None) -> list[SourceFile]:
    """Expand a glob or a folder into its data files; a plain file stays itself."""
    if _GLOB_CHARACTERS & set(path):
        root = _glob_root(path)
        listing = fs.glob(path, detail=True)
    elif fs.isdir(path):
        root = path.rstrip("/")
        listing = fs.find(path, detail=True)
    else:
        file_format, compression = format_of(path, format)
        return [_source_file(path, file_format, compression, {}, None, path)]
    files = []
    for name in sorted(listing):
        info = listing[name]
        if info.get("type", "file") != "file" or _hidden(name, root):
            continue
        file_format, compression = format_of(name, format)
        if file_format is None:
            logger.debug("skipping %s: its extension names no known format", name)
            continue
        files.append(
            _source_file(
                name,
                file_format,
                compression,
                partition_values(name, root),
                info.get("size"),
                name,
            )
        )
    return files


def _source_file(
    path: str,
    file_format: FileFormat | None,
    compression: str | None,
    partitions: dict[str, str | None],
    size: int | None,
    shown: str,
) -> SourceFile:
    if file_format is None:
        raise ConfigurationError(
            f"cannot tell the format of {shown} from its extension; pass format= "
            f"(one of {', '.join(map(repr, FORMATS))})"
        )
    if compression == "zstd":
        require_module("zstandard", "zstd", "reading .zst files")
    if file_format == "parquet" and compression is not None:
        raise ConfigurationError(
            f"{shown} is Parquet inside {compression} compression, which cannot be "
            "read in row groups; Parquet compresses its pages itself, so store the "
            "file without the outer compression"
        )
    delimiter = "\t" if ".tsv" in posixpath.basename(path).lower() else ","
    return SourceFile(path, file_format, compression, delimiter, partitions, size)


def _checked(
    files: list[SourceFile], shown: str, format: FileFormat | None
) -> list[SourceFile]:
    if not files:
        known = ", ".join(sorted(_FORMAT_OF_SUFFIX))
        raise TransferError(
            f"no data files found at {shown}; files are recognised by the "
            f"extensions {known} (optionally with .gz, .bz2, .zst or .xz), and names "
            "starting with '_' or '.' are skipped. Check the path, or pass format="
        )
    formats = sorted({file.format for file in files})
    if len(formats) > 1:
        raise TransferError(
            f"the files at {shown} mix formats ({', '.join(formats)}); narrow the "
            "source with a glob such as '*.parquet', or pass format="
        )
    return files


def _glob_root(pattern: str) -> str:
    parts = pattern.split("/")
    fixed = []
    for part in parts:
        if _GLOB_CHARACTERS & set(part):
            break
        fixed.append(part)
    return "/".join(fixed)


def _hidden(path: str, root: str) -> bool:
    relative = path[len(root) :] if path.startswith(root) else posixpath.basename(path)
    return any(part.startswith(("_", ".")) for part in relative.split("/") if part)
