"""Record campaign responses to a JSON file, and replay them without any network."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

from extapi_pandas.errors import (
    ConfigurationError,
    ConnectError,
    DecodeError,
    ExtapiError,
    GuardError,
    HTTPStatusError,
    InvalidJSON,
    RedirectError,
    RequestError,
    RequestTimeout,
    RequestTooLarge,
    ResponseError,
    ResponseTooLarge,
    TruncatedResponse,
)
from extapi_pandas.http.cache import (
    CachingFetcher,
    CampaignFetcher,
    contains_secret,
    mask_body,
    open_store,
)
from extapi_pandas.redaction import Redactor

if TYPE_CHECKING:
    from extapi_pandas.activity import ExternalAPI
    from extapi_pandas.http.client import Fetcher, Response
    from extapi_pandas.plan import CampaignRequest

__all__ = ["FORMAT", "Recording", "RecordingPlayer", "RecordingWriter", "fetch_stage"]

logger = logging.getLogger(__name__)

FORMAT = "extapi-pandas recording"
"""The `format` field of a recording file."""

_VERSION = 1
Mode = Literal["record", "replay", "auto"]

# Error classes rebuilt from the code of a recorded failure; an HTTP status
# error is rebuilt from its status instead.
_ERRORS: dict[str, type[ExtapiError]] = {
    cls.code: cls
    for cls in (
        RequestError,
        GuardError,
        RequestTooLarge,
        ConnectError,
        RequestTimeout,
        TruncatedResponse,
        RedirectError,
        ResponseError,
        ResponseTooLarge,
        DecodeError,
        InvalidJSON,
    )
}


@dataclass(frozen=True)
class Recording:
    """A file of recorded campaign responses, for offline and repeatable runs.

    A recording keeps, per campaign, the redacted request and the exact response:
    status, headers and body bytes (base64). Credential-named response headers
    are masked, and so is any secret of the call found in a body. Such a body
    then differs from the original, and its entry is marked `body_masked`. A
    replayed run sends nothing and opens no connection, and it returns the frame
    that the recorded run returned.

    Args:
        path: The JSON file; a leading `~` is expanded to the home folder.
        mode: `"record"` sends the requests and writes the file (replacing it),
            `"replay"` serves responses from the file, `"auto"` replays when the
            file exists and records otherwise.

    Example:
        >>> Recording("offers-run.json", mode="replay").mode
        'replay'
    """

    path: str
    mode: Mode = "auto"

    def __post_init__(self) -> None:
        if not isinstance(self.path, str | os.PathLike) or not os.fspath(self.path):
            raise ConfigurationError(
                f"Recording path must be a file path, got {self.path!r}"
            )
        object.__setattr__(self, "path", os.fspath(self.path))
        if self.mode not in get_args(Mode):
            raise ConfigurationError(
                f"invalid Recording mode={self.mode!r}; valid modes are "
                f"{', '.join(map(repr, get_args(Mode)))}"
            )

    @classmethod
    def coerce(cls, value: Any) -> Recording | None:
        """Accept a `Recording`, a path (mode `"auto"`), or None (off).

        Raises:
            ConfigurationError: The value has another type.
        """
        if value is None or isinstance(value, Recording):
            return value
        if isinstance(value, str | os.PathLike):
            return cls(os.fspath(value))
        raise ConfigurationError(
            f"replay= must be a file path or a Recording, got {type(value).__name__}"
        )

    @property
    def expanded_path(self) -> str:
        """The path to open: `path` with a leading `~` expanded."""
        return os.path.expanduser(self.path)

    def resolved_mode(self) -> Literal["record", "replay"]:
        """Return `"record"` or `"replay"`; `"auto"` replays when the file exists."""
        if self.mode == "auto":
            return "replay" if os.path.exists(self.expanded_path) else "record"
        return self.mode


def request_entry(request: CampaignRequest, redactor: Redactor) -> dict[str, Any]:
    """Return the redacted request as it is written to, and matched in, a recording."""
    body = None
    if request.body is not None:
        body = redactor.text(request.body.decode("utf-8", "replace"))
    return {
        "method": request.method,
        "url": redactor.url(request.url),
        "headers": dict(sorted(redactor.headers(request.headers).items())),
        "body": body,
    }


def _match_key(entry: dict[str, Any]) -> str:
    fields = {name: entry.get(name) for name in ("method", "url", "headers", "body")}
    text = json.dumps(fields, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _describe(entry: dict[str, Any]) -> str:
    return f"{entry['method']} {entry['url']}"


class RecordingWriter:
    """Sends requests through `inner` and keeps each outcome for the recording.

    Args:
        inner: The fetcher that sends requests (possibly through the cache).
        recording: The file to write.
        api: The definition, for the file's header.
        redactor: The call's redactor; it also masks secrets learned during the
            call, such as an OAuth2 token.
    """

    def __init__(
        self,
        inner: CampaignFetcher,
        recording: Recording,
        api: ExternalAPI,
        redactor: Redactor,
    ) -> None:
        self._inner = inner
        self._recording = recording
        self._api = api
        self._redactor = redactor
        self._exchanges: list[dict[str, Any]] = []

    async def fetch(self, request: CampaignRequest) -> Response:
        """Fetch `request` and keep the response, or the error, for the file."""
        exchange: dict[str, Any] = {
            "campaign": request.key,
            "request": request_entry(request, self._redactor),
        }
        try:
            response = await self._inner.fetch(request)
        except ExtapiError as exc:
            self._redactor.exception(exc)
            exchange["error"] = _error_entry(exc)
            self._exchanges.append(exchange)
            raise
        exchange["response"] = self._response_entry(request, response)
        self._exchanges.append(exchange)
        return response

    def _response_entry(
        self, request: CampaignRequest, response: Response
    ) -> dict[str, Any]:
        body = response.body
        entry: dict[str, Any] = {
            "status": response.status,
            "headers": self._redactor.headers(response.headers),
            "url": response.url,
            "fetched_at": response.fetched_at,
        }
        if contains_secret(body, self._redactor):
            logger.warning(
                "campaign %r: the response body contains a secret of the request; "
                "the recording keeps it masked, so a replay of this campaign "
                "differs from the recorded run",
                request.key,
            )
            body = mask_body(body, self._redactor)
            entry["body_masked"] = True
        entry["body_sha256"] = hashlib.sha256(body).hexdigest()
        entry["body_base64"] = base64.b64encode(body).decode("ascii")
        return entry

    def write(self) -> None:
        """Write the recording file, replacing it in one step."""
        document = {
            "format": FORMAT,
            "version": _VERSION,
            "recorded_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "source": {
                "method": self._api.method,
                "url": self._redactor.url(self._api.url),
            },
            "exchanges": self._exchanges,
        }
        text = json.dumps(document, indent=1, ensure_ascii=False, default=str)
        path = Path(self._recording.expanded_path)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            temporary.write_text(text + "\n", encoding="utf-8")
            os.replace(temporary, path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                temporary.unlink()
            raise ConfigurationError(
                f"cannot write the recording {str(path)!r}: {exc}; check that its "
                "folder exists and is writable"
            ) from exc
        logger.info("recorded %d response(s) to %s", len(self._exchanges), path)


def _error_entry(error: ExtapiError) -> dict[str, Any]:
    entry: dict[str, Any] = {"code": error.code, "message": str(error)}
    if isinstance(error, HTTPStatusError):
        entry["status"] = error.status
    return entry


@dataclass
class RecordingPlayer:
    """Serves campaign responses from a recording; it never touches the network.

    Args:
        recording: The file to read.
        redactor: The call's redactor, which redacts requests the same way the
            recording did, so that they match.
    """

    recording: Recording
    redactor: Redactor
    _exchanges: dict[str, dict[str, Any]] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        for exchange in _read_recording(self.recording.expanded_path):
            self._exchanges.setdefault(_match_key(exchange["request"]), exchange)

    async def fetch(self, request: CampaignRequest) -> Response:
        """Return the recorded response to `request`, or raise its recorded error.

        Raises:
            RequestError: The recording contains no such request.
            ExtapiError: The recorded run failed for this request.
        """
        began = time.monotonic()
        wanted = request_entry(request, self.redactor)
        exchange = self._exchanges.get(_match_key(wanted))
        if exchange is None:
            raise RequestError(
                f"campaign {request.key!r}: the recording {self.recording.path!r} "
                f"contains no response to {_describe(wanted)}; the request differs "
                "from the recorded ones, so record again with "
                f"Recording({self.recording.path!r}, mode='record')",
                campaign=request.key,
            )
        if "error" in exchange:
            raise _replayed_error(exchange["error"], request.key, self.recording.path)
        return self._response(exchange["response"], time.monotonic() - began)

    def _response(self, entry: dict[str, Any], elapsed: float) -> Response:
        from extapi_pandas.http.client import Response

        return Response(
            status=int(entry["status"]),
            headers={str(k): str(v) for k, v in entry["headers"].items()},
            body=base64.b64decode(entry["body_base64"]),
            url=str(entry["url"]),
            elapsed=elapsed,
            attempts=0,
            fetched_at=str(entry["fetched_at"]),
            replayed=True,
        )


def _read_recording(path: str) -> list[dict[str, Any]]:
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigurationError(
            f"recording {path!r} does not exist; record it first with "
            f"Recording({path!r}, mode='record') or mode='auto'"
        ) from None
    except (OSError, ValueError) as exc:
        raise ConfigurationError(
            f"recording {path!r} cannot be read as JSON ({exc}); record it again"
        ) from exc
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ConfigurationError(
            f"{path!r} is not an extapi-pandas recording (no format={FORMAT!r} "
            "field); check the path"
        )
    if document.get("version") != _VERSION:
        raise ConfigurationError(
            f"recording {path!r} has version {document.get('version')!r}, but this "
            f"version of extapi-pandas reads version {_VERSION}; record it again"
        )
    exchanges = document.get("exchanges")
    if not isinstance(exchanges, list) or not all(
        isinstance(item, dict)
        and isinstance(item.get("request"), dict)
        and ("response" in item or "error" in item)
        for item in exchanges
    ):
        raise ConfigurationError(
            f"recording {path!r} has a malformed 'exchanges' list; record it again"
        )
    return exchanges


def _replayed_error(entry: dict[str, Any], campaign: Any, path: str) -> ExtapiError:
    message = f"{entry.get('message', 'failed')} (replayed from {path!r})"
    code = str(entry.get("code", ""))
    status = entry.get("status")
    if isinstance(status, int) and code == f"http_{status}":
        return HTTPStatusError(message, status=status, campaign=campaign)
    error = _ERRORS.get(code, ExtapiError)(message, campaign=campaign)
    error.code = code or error.code  # an error class this version does not know
    return error


class _LazyFetcher:
    """Opens the network fetcher (and its session) only when a request is sent."""

    def __init__(self, factory: Callable[[], Fetcher]) -> None:
        self._factory = factory
        self._stack = contextlib.AsyncExitStack()
        self._fetcher: Fetcher | None = None
        import asyncio

        self._lock = asyncio.Lock()

    async def fetch(self, request: CampaignRequest) -> Response:
        async with self._lock:
            if self._fetcher is None:
                self._fetcher = await self._stack.enter_async_context(self._factory())
        return await self._fetcher.fetch(request)

    async def aclose(self) -> None:
        await self._stack.aclose()


@contextlib.asynccontextmanager
async def fetch_stage(
    api: ExternalAPI,
    redactor: Redactor,
    *,
    on_retry: Callable[[CampaignRequest, str], None] | None = None,
    write_recording: bool = True,
) -> AsyncIterator[CampaignFetcher]:
    """Yield what serves campaign responses: a recording, the cache or the network.

    In replay mode nothing else is built: no session, no cache. Otherwise the
    network fetcher opens its session on the first request the cache does not
    serve, and a recording is written when the stage ends without an error.

    Args:
        api: The definition, whose `replay` and `cache` pick the source.
        redactor: The call's redactor.
        on_retry: Called with the request and the error code of each retry.
        write_recording: False sends the requests of record mode without
            writing the recording, so that a preview of one campaign never
            replaces a recording of all of them.

    Raises:
        ConfigurationError: The recording or the cache file cannot be used.
    """
    recording = api.replay
    if recording is not None and recording.resolved_mode() == "replay":
        logger.info("replaying responses from %s; nothing is sent", recording.path)
        yield RecordingPlayer(recording, redactor)
        return

    from extapi_pandas.http.client import Fetcher

    ssl_context = api.ssl_context()  # a bad CA bundle fails the call, not a campaign
    network = _LazyFetcher(
        lambda: Fetcher(api, redactor, ssl_context=ssl_context, on_retry=on_retry)
    )
    fetcher: CampaignFetcher = network
    try:
        if api.cache is not None:
            fetcher = CachingFetcher(
                fetcher, api.cache, open_store(api.cache), api, redactor
            )
        writer = None
        if recording is not None and write_recording:
            writer = RecordingWriter(fetcher, recording, api, redactor)
            fetcher = writer
        yield fetcher
        if writer is not None:
            writer.write()
    finally:
        await network.aclose()
