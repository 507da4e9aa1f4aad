"""Response cache: in memory for the process, or in a SQLite file, with a TTL."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from extapi_pandas.errors import ConfigurationError
from extapi_pandas.redaction import Redactor, Secret, is_sensitive_name

if TYPE_CHECKING:
    import sqlite3

    from extapi_pandas.activity import ExternalAPI
    from extapi_pandas.http.client import Response
    from extapi_pandas.plan import CampaignRequest
    from extapi_pandas.provenance import CampaignRecord

__all__ = [
    "DEFAULT_TTL",
    "MEMORY_MAX_BYTES",
    "Cache",
    "CacheStore",
    "CachedResponse",
    "CachingFetcher",
    "CampaignFetcher",
    "cache_key",
    "clear_memory_cache",
    "contains_secret",
    "format_duration",
    "mask_body",
    "open_store",
    "parse_duration",
    "store_validated",
]

logger = logging.getLogger(__name__)

DEFAULT_TTL = 300.0
"""Time to live of `cache="refresh"` and of `Cache()`, in seconds (5 minutes)."""

MEMORY_MAX_BYTES = 256 * 1024 * 1024
"""Body bytes the in-memory cache keeps before it evicts the oldest entries."""

_UNITS = {"s": 1.0, "min": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*(s|min|h|d)?\s*")
_FORMAT = "extapi-pandas cache 1"
_SQLITE_TIMEOUT_S = 5.0


class CampaignFetcher(Protocol):
    """The interface that serves one campaign's response to the pipeline."""

    async def fetch(self, request: CampaignRequest) -> Response:
        """Return the response to `request`, or raise an `ExtapiError`."""
        ...


def parse_duration(value: Any, *, option: str = "cache") -> float:
    """Return a duration in seconds from `"30s"`, `"5min"`, `"2h"`, `"1d"` or a number.

    Raises:
        ConfigurationError: The value is not a duration above zero.
    """
    seconds: float | None = None
    if isinstance(value, dt.timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str):
        match = _DURATION.fullmatch(value)
        if match is not None:
            seconds = float(match.group(1)) * _UNITS[match.group(2) or "s"]
    if seconds is None or not 0 < seconds < float("inf"):
        raise ConfigurationError(
            f"invalid {option}={value!r}: a time to live is a number of seconds above "
            "zero, or a number with a unit: '30s', '5min', '2h' or '1d'"
        )
    return seconds


def format_duration(seconds: float) -> str | float:
    """Return `seconds` as the largest whole unit (`"5min"`), or as a number."""
    for unit in ("d", "h", "min", "s"):
        count = seconds / _UNITS[unit]
        if count >= 1 and count == int(count):
            return f"{int(count)}{unit}"
    return seconds


@dataclass(frozen=True)
class Cache:
    """Where successful, validated responses are kept, and for how long.

    A cached response is reused by any later call that sends the same request
    (method, URL, body and non-secret headers) with the same credentials, until
    its time to live ends. The cache key contains a hash of the auth identity and
    a salted HMAC of the credentials, never a secret. Only 2xx responses that
    passed extraction and validation are stored. A response whose body contains
    one of the call's secrets is not stored.

    Args:
        ttl: Time to live of an entry: seconds, or a duration such as `"5min"`.
        path: SQLite file to keep entries in across processes (a leading `~`
            is expanded to the home folder); None keeps them in memory for this
            process (at most `MEMORY_MAX_BYTES` of bodies).
        refresh: Skip reading the cache, send every request and store the fresh
            responses.

    Example:
        >>> Cache("2h", path="responses.sqlite").ttl
        7200.0
    """

    ttl: float = DEFAULT_TTL
    path: str | None = None
    refresh: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "ttl", parse_duration(self.ttl, option="Cache.ttl"))
        if self.path is not None:
            if not isinstance(self.path, str | os.PathLike) or not os.fspath(self.path):
                raise ConfigurationError(
                    f"Cache.path must be a file path or None (in memory), got "
                    f"{self.path!r}"
                )
            object.__setattr__(self, "path", os.fspath(self.path))
        if not isinstance(self.refresh, bool):
            raise ConfigurationError(
                f"Cache.refresh must be True or False, got {self.refresh!r}"
            )

    @classmethod
    def coerce(cls, value: Any) -> Cache | None:
        """Accept a `Cache`, a duration (in memory), `"refresh"`, or None/False (off).

        Raises:
            ConfigurationError: The value has another type, or is not a duration.
        """
        if value is None or value is False:
            return None
        if isinstance(value, Cache):
            return value
        if value == "refresh":
            return cls(refresh=True)
        if value is True:
            raise ConfigurationError(
                "cache=True does not say for how long; pass a time to live such as "
                "cache='5min', or Cache(ttl='1d', path='cache.sqlite') for a file"
            )
        return cls(ttl=parse_duration(value, option="cache"))

    @property
    def store(self) -> str:
        """`"memory"` or `"sqlite"`."""
        return "memory" if self.path is None else "sqlite"


@dataclass(frozen=True)
class CachedResponse:
    """A stored response: what the pipeline needs to parse it again."""

    status: int
    headers: dict[str, str]
    body: bytes
    url: str
    fetched_at: str
    expires_at: float

    def to_response(self, elapsed: float) -> Response:
        """Return the entry as a `Response` marked as a cache hit."""
        from extapi_pandas.http.client import Response

        return Response(
            status=self.status,
            headers=dict(self.headers),
            body=self.body,
            url=self.url,
            elapsed=elapsed,
            attempts=0,
            fetched_at=self.fetched_at,
            cache_hit=True,
        )


class CacheStore(Protocol):
    """Storage behind a `Cache`: a salt for credential HMACs, get and put."""

    salt: bytes

    def get(self, key: str, now: float) -> CachedResponse | None:
        """Return the live entry for `key`, or None."""
        ...

    def put(self, key: str, entry: CachedResponse) -> None:
        """Store `entry` under `key`, replacing any older one."""
        ...


class _MemoryStore:
    """Entries kept in this process, oldest evicted past `max_bytes` of bodies."""

    def __init__(self, max_bytes: int = MEMORY_MAX_BYTES) -> None:
        self.salt = secrets.token_bytes(32)
        self._max_bytes = max_bytes
        self._entries: OrderedDict[str, CachedResponse] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()  # each enrich call runs on its own thread

    def get(self, key: str, now: float) -> CachedResponse | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry.expires_at > now:
                return entry
            self._remove(key)
            return None

    def put(self, key: str, entry: CachedResponse) -> None:
        with self._lock:
            self._remove(key)
            self._entries[key] = entry
            self._bytes += len(entry.body)
            while self._bytes > self._max_bytes and self._entries:
                self._remove(next(iter(self._entries)))

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def _remove(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= len(entry.body)


_MEMORY = _MemoryStore()


def clear_memory_cache() -> None:
    """Drop every entry of the in-memory cache of this process."""
    _MEMORY.clear()


class _SQLiteStore:
    """Entries in one SQLite file, readable by later processes until they expire.

    The file is created readable by its owner only. Its `meta` table contains a
    format marker and the salt of the credential HMACs.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.salt = self._open()

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        import sqlite3  # loaded with the first SQLite cache, not at import

        with (
            contextlib.closing(
                sqlite3.connect(self.path, timeout=_SQLITE_TIMEOUT_S)
            ) as connection,
            connection,
        ):
            yield connection

    def _open(self) -> bytes:
        folder = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(folder):
            raise ConfigurationError(
                f"cache file {self.path!r} cannot be created: the folder {folder!r} "
                "does not exist; create it, or pick another Cache(path=...)"
            )
        if not os.path.exists(self.path):
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        import sqlite3

        try:
            with self._connect() as connection:
                return self._prepare(connection)
        except sqlite3.DatabaseError as exc:
            raise ConfigurationError(
                f"cache file {self.path!r} is not a usable SQLite database ({exc}); "
                "delete it, or pick another Cache(path=...)"
            ) from exc

    def _prepare(self, connection: sqlite3.Connection) -> bytes:
        tables = {
            row[0]
            for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'"
            )
        }
        if tables and "meta" not in tables:
            raise ConfigurationError(
                f"cache file {self.path!r} is an SQLite database of another program "
                f"(tables {sorted(tables)}); pick another Cache(path=...)"
            )
        connection.execute(
            "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BLOB)"
        )
        connection.execute(
            "CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, "
            "expires_at REAL NOT NULL, status INTEGER NOT NULL, headers TEXT NOT NULL, "
            "url TEXT NOT NULL, fetched_at TEXT NOT NULL, body BLOB NOT NULL)"
        )
        connection.execute(
            "INSERT OR IGNORE INTO meta VALUES ('format', ?)", (_FORMAT,)
        )
        connection.execute(
            "INSERT OR IGNORE INTO meta VALUES ('salt', ?)", (secrets.token_bytes(32),)
        )
        rows = dict(connection.execute("SELECT name, value FROM meta"))
        if rows.get("format") != _FORMAT or not isinstance(rows.get("salt"), bytes):
            raise ConfigurationError(
                f"cache file {self.path!r} was written in another format "
                f"({rows.get('format')!r}); delete it, or pick another Cache(path=...)"
            )
        salt: bytes = rows["salt"]
        return salt

    def get(self, key: str, now: float) -> CachedResponse | None:
        with self._connect() as connection:
            row = connection.execute(
                "SELECT status, headers, body, url, fetched_at, expires_at "
                "FROM responses WHERE key = ? AND expires_at > ?",
                (key, now),
            ).fetchone()
        if row is None:
            return None
        status, headers, body, url, fetched_at, expires_at = row
        return CachedResponse(
            status, json.loads(headers), bytes(body), url, fetched_at, expires_at
        )

    def put(self, key: str, entry: CachedResponse) -> None:
        with self._connect() as connection:
            connection.execute(
                "DELETE FROM responses WHERE expires_at <= ?", (time.time(),)
            )
            connection.execute(
                "INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    key,
                    entry.expires_at,
                    entry.status,
                    json.dumps(entry.headers),
                    entry.url,
                    entry.fetched_at,
                    entry.body,
                ),
            )


def open_store(cache: Cache) -> CacheStore:
    """Return the store of `cache`: the process memory, or its SQLite file.

    Raises:
        ConfigurationError: The SQLite file cannot be created or is not a cache.
    """
    if cache.path is None:
        return _MEMORY
    return _SQLiteStore(os.path.expanduser(cache.path))


def cache_key(
    request: CampaignRequest, api: ExternalAPI, redactor: Redactor, salt: bytes
) -> str:
    """Return the cache key of a campaign request, which contains no secret.

    The key is the SHA-256 of the method, the redacted URL, the non-secret
    headers, a digest of the body and a hash of `Auth.identity()`. It also covers
    a salted HMAC of the credentials (auth secrets, credential-named headers and
    query parameters), so that other credentials never read this entry.
    """
    material = {
        "method": request.method,
        "url": redactor.url(request.url),
        "headers": sorted(
            [name.lower(), value]
            for name, value in request.headers.items()
            if not is_sensitive_name(name)
        ),
        "body": None
        if request.body is None
        else hashlib.sha256(mask_body(request.body, redactor)).hexdigest(),
        "auth": None
        if api.auth is None
        else hashlib.sha256(api.auth.identity().encode()).hexdigest(),
        "credentials": _credentials_hmac(request, api, salt),
    }
    text = json.dumps(material, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _credentials_hmac(request: CampaignRequest, api: ExternalAPI, salt: bytes) -> str:
    values = [
        value
        for name, value in sorted(request.headers.items())
        if is_sensitive_name(name)
    ]
    values += [
        value
        for name, value in sorted(request.url.query.items())
        if is_sensitive_name(name)
    ]
    if api.auth is not None:
        values += _auth_secrets(api.auth)
    message = "\0".join(values).encode()
    return hmac.new(salt, message, hashlib.sha256).hexdigest()


def _auth_secrets(auth: Any) -> list[str]:
    # The configured credentials, not tokens fetched during a call (an OAuth2
    # access token changes, which would make every renewal a cache miss).
    configured = [
        value.reveal()
        for name, value in sorted(vars(auth).items())
        if not name.startswith("_") and isinstance(value, Secret)
    ]
    return configured or list(auth.secrets())


def contains_secret(body: bytes, redactor: Redactor) -> bool:
    """Return True when `body` contains a secret that `redactor` masks."""
    return mask_body(body, redactor) != body


def mask_body(body: bytes, redactor: Redactor) -> bytes:
    """Return `body` with known secrets masked, read as UTF-8 or else as Latin-1."""
    try:
        return redactor.text(body.decode("utf-8")).encode("utf-8")
    except UnicodeDecodeError:
        # Latin-1 maps every byte to one character, so the bytes round-trip.
        return redactor.text(body.decode("latin-1")).encode("latin-1", "replace")


class CachingFetcher:
    """Serves live cache entries and passes misses on to the network fetcher.

    Args:
        inner: The fetcher that sends requests; it is called only on a miss.
        cache: The cache settings.
        store: The store from `open_store(cache)`.
        api: The definition whose auth is part of the key.
        redactor: The call's redactor.
    """

    def __init__(
        self,
        inner: CampaignFetcher,
        cache: Cache,
        store: CacheStore,
        api: ExternalAPI,
        redactor: Redactor,
    ) -> None:
        self._inner = inner
        self._cache = cache
        self._store = store
        self._api = api
        self._redactor = redactor

    async def fetch(self, request: CampaignRequest) -> Response:
        """Return the cached response to `request`, or fetch it (marked as a miss)."""
        began = time.monotonic()
        if not self._cache.refresh:
            entry = _read(
                self._store,
                cache_key(request, self._api, self._redactor, self._store.salt),
            )
            if entry is not None:
                logger.info(
                    "campaign %r: cache hit for %s %s (fetched at %s)",
                    request.key,
                    request.method,
                    self._redactor.url(request.url),
                    entry.fetched_at,
                )
                return entry.to_response(time.monotonic() - began)
        response = await self._inner.fetch(request)
        response.cache_hit = False
        return response


def _read(store: CacheStore, key: str) -> CachedResponse | None:
    import sqlite3

    try:
        return store.get(key, time.time())
    except (sqlite3.Error, OSError, ValueError) as exc:
        logger.warning("cache read failed, sending the request instead: %s", exc)
        return None


def store_validated(
    api: ExternalAPI, records: Sequence[CampaignRecord], redactor: Redactor
) -> int:
    """Store the responses fetched in this call whose campaigns passed validation.

    Cache hits and replayed responses are not stored again. A failed write is
    logged, not raised, because the enrichment itself succeeded.

    Returns:
        The number of responses stored.
    """
    cache = api.cache
    fresh = [
        record
        for record in records
        if record.error is None
        and record.response is not None
        and record.response.cache_hit is False
    ]
    if cache is None or not fresh:
        return 0
    store = open_store(cache)
    stored = 0
    import sqlite3

    for record in fresh:
        response = record.response
        assert response is not None
        if contains_secret(response.body, redactor):
            logger.warning(
                "campaign %r: the response contains a secret of the request, so it "
                "is not cached",
                record.request.key,
            )
            continue
        entry = CachedResponse(
            status=response.status,
            headers={
                name: value
                for name, value in response.headers.items()
                if not is_sensitive_name(name)
            },
            body=response.body,
            url=response.url,
            fetched_at=response.fetched_at,
            expires_at=time.time() + cache.ttl,
        )
        try:
            store.put(cache_key(record.request, api, redactor, store.salt), entry)
        except (sqlite3.Error, OSError) as exc:
            logger.warning(
                "cache write failed for campaign %r: %s", record.request.key, exc
            )
            continue
        stored += 1
    logger.info("cached %d response(s) for %g s", stored, cache.ttl)
    return stored
