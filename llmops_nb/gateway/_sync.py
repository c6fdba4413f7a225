"""Sync callers run the async gateway on a private event loop of their own thread, with no thread hop.

``gw.client()`` is a sync ``openai.OpenAI``; the gateway's core is async (one code path for the
server and the kernel). Handing each request to a background loop thread cost ~1.5 ms here (two
wake-ups and the GIL passed back and forth), three times the whole budget of in-kernel overhead.
So a calling thread drives its own loop with ``run_until_complete``: the coroutine runs right here,
and its upstream connections stay pooled on that loop between calls.

In a notebook the kernel's own loop is "running" in the main thread while a cell executes (that is
why ``asyncio.run()`` fails in a cell), although it is blocked by the cell: :meth:`SyncLoops.run`
steps it aside for the duration of the call (``asyncio.events._set_running_loop``, the low-level
hook event-loop libraries use) and puts it back, so nothing of the kernel's loop runs or changes.
A stream opened by a sync client is read on the loop that opened it, from the thread that opened it.
Nothing else runs on a private loop, so the upstream call inside may block (:data:`BLOCKING`): the
sync caller then pays for sync HTTP only, as it would calling the provider directly.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

#: True while a coroutine runs for a sync caller on its private loop: nothing else shares that loop,
#: so the upstream may use blocking I/O (httpx's sync client), ~0.3 ms a request cheaper than async.
BLOCKING: contextvars.ContextVar[bool] = contextvars.ContextVar("llmops_nb_gateway_blocking", default=False)


class SyncLoops:
    """One event loop per thread that calls a sync client; all closed by :meth:`close`."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._lock = threading.Lock()
        self._loops: list[asyncio.AbstractEventLoop] = []

    def loop(self) -> asyncio.AbstractEventLoop:
        """This thread's loop (made on first use)."""
        loop: asyncio.AbstractEventLoop | None = getattr(self._local, "loop", None)
        if loop is None or loop.is_closed():
            loop = self._local.loop = asyncio.new_event_loop()
            with self._lock:
                self._loops.append(loop)
        return loop

    def run(self, coro: Coroutine[Any, Any, T], loop: asyncio.AbstractEventLoop | None = None) -> T:
        """Run ``coro`` to completion on ``loop`` (this thread's by default), here and now, I/O blocking."""
        token = BLOCKING.set(True)
        try:
            return run_here(loop or self.loop(), coro)
        finally:
            BLOCKING.reset(token)

    def loops(self) -> list[asyncio.AbstractEventLoop]:
        with self._lock:
            return list(self._loops)

    def close(self) -> None:
        """Close every loop made here (after their clients were closed on them)."""
        with self._lock:
            loops, self._loops = self._loops, []
        for loop in loops:
            if loop.is_closed() or loop.is_running():
                continue
            try:
                run_here(loop, loop.shutdown_asyncgens())
            finally:
                loop.close()


def run_here(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, T]) -> T:
    """``loop.run_until_complete(coro)`` in this thread, even while another loop is marked running here
    (a kernel's, during a cell): that one is stepped aside for the call and put back."""
    outer = asyncio.events._get_running_loop()
    if outer is not None:
        asyncio.events._set_running_loop(None)
    try:
        return loop.run_until_complete(coro)
    finally:
        if outer is not None:
            asyncio.events._set_running_loop(outer)
