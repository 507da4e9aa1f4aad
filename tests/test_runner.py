"""Tests for `run_sync`: the async core run from synchronous code, in a loop or not."""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import sys
import threading
import warnings
from collections.abc import Callable
from typing import Any

import aiohttp
import pandas as pd
import pytest
from aiohttp import web

import extapi_pandas  # noqa: F401  (registers DataFrame.extapi)
from extapi_pandas.runner import run_sync


def loop_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "extapi-pandas-loop"]


async def until_main_thread_waits() -> None:
    """Return once the main thread blocks in a wait, where SIGINT reaches run_sync."""
    main = threading.main_thread().ident
    for _ in range(200):
        frame = sys._current_frames().get(main) if main is not None else None
        if frame is not None and frame.f_code.co_name == "wait":
            return
        await asyncio.sleep(0.01)


async def describe() -> tuple[str, int]:
    await asyncio.sleep(0)
    return threading.current_thread().name, id(asyncio.get_running_loop())


def test_returns_coroutine_result() -> None:
    async def add() -> int:
        await asyncio.sleep(0)
        return 41 + 1

    assert run_sync(add) == 42


def test_runs_on_private_thread() -> None:
    name, _ = run_sync(describe)

    assert name == "extapi-pandas-loop"
    assert loop_threads() == []


@pytest.mark.asyncio
async def test_works_inside_running_loop() -> None:
    caller_loop = id(asyncio.get_running_loop())

    name, loop = run_sync(describe)

    assert name == "extapi-pandas-loop"
    assert loop != caller_loop
    assert loop_threads() == []


def test_works_under_asyncio_run() -> None:
    async def main() -> tuple[str, int]:
        return run_sync(describe)

    name, _ = asyncio.run(main())

    assert name == "extapi-pandas-loop"


def test_reraises_original_error() -> None:
    class Boom(Exception):
        pass

    async def fail() -> None:
        raise Boom("from the loop thread")

    with pytest.raises(Boom, match="from the loop thread"):
        run_sync(fail)

    assert loop_threads() == []


def test_fresh_loop_per_call() -> None:
    async def running_loop() -> asyncio.AbstractEventLoop:
        await asyncio.sleep(0)
        return asyncio.get_running_loop()

    # The loops themselves are kept: comparing id() values alone could match a
    # new loop allocated where a collected one used to be.
    loops = [run_sync(running_loop) for _ in range(4)]

    assert len({id(loop) for loop in loops}) == 4
    assert all(loop.is_closed() for loop in loops)
    assert loop_threads() == []


@pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(),
    reason="SIGINT reaches only the main thread",
)
def test_interrupt_cancels_and_cleans_up() -> None:
    cleaned = threading.Event()

    async def interrupted() -> None:
        await until_main_thread_waits()
        os.kill(os.getpid(), signal.SIGINT)
        try:
            await asyncio.sleep(30)
        finally:
            cleaned.set()

    with pytest.raises(KeyboardInterrupt):
        run_sync(interrupted)

    assert cleaned.is_set()
    assert loop_threads() == []


@pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(),
    reason="SIGINT reaches only the main thread",
)
def test_interrupted_enrich_closes_session(serve: Callable[..., Any]) -> None:
    async def interrupt(request: web.Request) -> web.Response:
        await until_main_thread_waits()
        os.kill(os.getpid(), signal.SIGINT)
        await asyncio.sleep(0.5)
        return web.json_response({"v": 1})

    server = serve({"/slow": interrupt})
    frame = pd.DataFrame({"key": ["a", "b"]})

    with pytest.raises(KeyboardInterrupt):
        frame.extapi.enrich(server.url("/slow"), campaign="key", columns={"v": "$.v"})

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gc.collect()
        live = [
            o
            for o in gc.get_objects()
            if isinstance(o, aiohttp.ClientSession) and not o.closed
        ]
    assert live == []
    assert [str(w.message) for w in caught if "Unclosed" in str(w.message)] == []
    assert loop_threads() == []
