"""Run the async core from synchronous code, inside a running event loop or not."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["run_sync"]

T = TypeVar("T")


class _Call:
    """One coroutine run to completion on a private event loop in its own thread."""

    def __init__(self, factory: Callable[[], Coroutine[Any, Any, T]]) -> None:
        self._factory = factory
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[Any] | None = None
        self._cancelled = False
        self.result: Any = None
        self.error: BaseException | None = None
        self.done = threading.Event()

    def run_in_thread(self) -> None:
        try:
            self.result = asyncio.run(self._main())
        except BaseException as exc:  # re-raised in the caller's thread
            self.error = exc
        finally:
            self.done.set()

    async def _main(self) -> Any:
        with self._lock:
            self._loop = asyncio.get_running_loop()
            self._task = asyncio.current_task()
            if self._cancelled:
                raise asyncio.CancelledError
        return await self._factory()

    def cancel(self) -> None:
        with self._lock:
            self._cancelled = True
            if self._loop is not None and self._task is not None:
                # A closed loop raises RuntimeError, and its task has already ended.
                with contextlib.suppress(RuntimeError):
                    self._loop.call_soon_threadsafe(self._task.cancel)


def run_sync(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run `factory()` on a private event loop in a new thread and return its result.

    This works the same whether or not the calling thread runs an event loop (as a
    Jupyter cell does), without nest_asyncio. A KeyboardInterrupt in the caller
    cancels the coroutine, waits for it to clean up (sessions closed, tasks
    cancelled), and is then re-raised. The thread has ended when this returns.
    """
    call = _Call(factory)
    thread = threading.Thread(
        target=call.run_in_thread, name="extapi-pandas-loop", daemon=True
    )
    # The caller waits on an Event, not on join(), because in CPython 3.11 a
    # KeyboardInterrupt raised inside join() can mark the thread as stopped while
    # it still runs. A second join() then returns at once.
    try:
        thread.start()
        call.done.wait()
    except KeyboardInterrupt:
        call.cancel()
        # A thread not yet running sees the cancellation before it sends anything.
        if thread.is_alive():
            call.done.wait()
            thread.join()
        raise
    thread.join()
    if call.error is not None:
        raise call.error
    result: T = call.result
    return result
