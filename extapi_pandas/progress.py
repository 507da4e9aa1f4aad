"""Progress bars for enrichment calls: campaigns done out of total, retries shown."""

from __future__ import annotations

import logging
import sys
import threading
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any, Protocol

from extapi_pandas.errors import ConfigurationError

if TYPE_CHECKING:
    from extapi_pandas.activity import ExternalAPI

__all__ = [
    "NullProgress",
    "ProgressReporter",
    "TqdmProgress",
    "in_notebook",
    "is_interactive",
    "make_progress",
    "progress_for",
]

logger = logging.getLogger(__name__)

UI_EXTRA = 'pip install "extapi-pandas[ui]"'
"""The command that installs the optional notebook dependencies."""

_DESCRIPTION_CHARS = 60


class ProgressReporter(Protocol):
    """The calls a progress display receives from the pipeline.

    The pipeline calls these methods from its private event-loop thread, so an
    implementation must accept calls from a thread other than its creator's.
    """

    def start(self, total: int) -> None:
        """Set the number of campaign requests the call will make."""

    def advance(self, status: str) -> None:
        """Count one campaign as done; `status` is `"ok"` or its error code."""

    def retry(self, campaign: Any, code: str) -> None:
        """Count one retry of `campaign`'s request, caused by error `code`."""

    def close(self) -> None:
        """Finish the display; called once, on success and on failure."""


class NullProgress:
    """A progress reporter that shows nothing."""

    def start(self, total: int) -> None:
        """Ignore the total."""

    def advance(self, status: str) -> None:
        """Ignore the finished campaign."""

    def retry(self, campaign: Any, code: str) -> None:
        """Ignore the retry."""

    def close(self) -> None:
        """Do nothing."""

    def __enter__(self) -> NullProgress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class TqdmProgress:
    """A `tqdm.auto` bar: a widget in a notebook, text on a terminal.

    The bar counts campaigns done out of the total; its postfix shows retries and
    failed campaigns as they happen.

    Args:
        description: Text in front of the bar, such as the method and URL.
        file: Stream for the text bar; `sys.stderr` when None. A notebook shows a
            widget instead.

    Raises:
        ConfigurationError: tqdm is not installed.
    """

    def __init__(self, description: str, *, file: IO[str] | None = None) -> None:
        try:
            from tqdm.auto import tqdm
        except ImportError as exc:
            raise ConfigurationError(
                f"progress=True needs tqdm, which is not installed; run {UI_EXTRA}, "
                "or pass progress=False"
            ) from exc
        self._lock = threading.Lock()
        self._retries = 0
        self._failed = 0
        self._last_retry = ""
        self._bar = tqdm(
            total=None,
            desc=description,
            unit="campaign",
            file=file,
            leave=True,
            dynamic_ncols=True,
        )

    def start(self, total: int) -> None:
        """Set the total number of campaigns."""
        with self._lock:
            self._bar.reset(total=total)

    def advance(self, status: str) -> None:
        """Count one campaign as done, and a failure unless `status` is `"ok"`."""
        with self._lock:
            if status != "ok":
                self._failed += 1
                self._show_postfix()
            self._bar.update(1)

    def retry(self, campaign: Any, code: str) -> None:
        """Count one retry and show the error code that caused it."""
        with self._lock:
            self._retries += 1
            self._last_retry = code
            self._show_postfix()

    def close(self) -> None:
        """Close the bar, leaving its last state on screen."""
        with self._lock:
            self._bar.close()

    def _show_postfix(self) -> None:
        parts = []
        if self._retries:
            parts.append(f"retries: {self._retries} (last: {self._last_retry})")
        if self._failed:
            parts.append(f"failed: {self._failed}")
        self._bar.set_postfix_str(", ".join(parts), refresh=True)

    def __enter__(self) -> TqdmProgress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def is_interactive() -> bool:
    """Return True inside a Jupyter kernel or when stderr is a terminal."""
    return in_notebook() or _stderr_is_terminal()


def in_notebook() -> bool:
    """Return True inside a Jupyter kernel (an IPython `ZMQInteractiveShell`)."""
    # IPython is imported only if the process already runs it, so a script does
    # not pay for the import.
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    shell = ipython.get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def _stderr_is_terminal() -> bool:
    stream = sys.stderr
    try:
        return stream is not None and stream.isatty()
    except (AttributeError, ValueError):  # a replaced or closed stream
        return False


def make_progress(
    progress: bool | None, *, description: str
) -> TqdmProgress | NullProgress:
    """Return the progress display that the `progress` option requests.

    Args:
        progress: True shows a bar, False shows none, None shows one only in a
            notebook or on a terminal (and only when tqdm is installed).
        description: Text in front of the bar.

    Raises:
        ConfigurationError: `progress` is not a bool or None, or it is True and
            tqdm is not installed.
    """
    if progress is not None and not isinstance(progress, bool):
        raise ConfigurationError(
            f"progress must be True, False or None (automatic), got {progress!r}"
        )
    if progress is False or (progress is None and not is_interactive()):
        return NullProgress()
    try:
        return TqdmProgress(description)
    except ConfigurationError:
        if progress:
            raise
        logger.debug("no progress bar: tqdm is not installed")
        return NullProgress()


def progress_for(api: ExternalAPI) -> TqdmProgress | NullProgress:
    """Return the progress display for one call of `api`, named by method and URL."""
    url = api.redactor().url(api.url)
    if len(url) > _DESCRIPTION_CHARS:
        url = url[: _DESCRIPTION_CHARS - 1] + "…"
    return make_progress(api.progress, description=f"{api.method} {url}")
