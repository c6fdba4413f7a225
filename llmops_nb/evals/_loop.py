"""One background event loop per process, for async predict_fns and scorers called from worker threads.

``evaluate()`` must work inside Jupyter, where the kernel's loop is already
running and ``asyncio.run`` is not allowed. Coroutines therefore run on a loop
of our own in a daemon thread, started once and kept: async SDK clients bind
their connections to the loop that first used them, so a loop that closed
after each evaluation would break clients reused by the next one.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from ..tracing._context import current_span

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None


def background_loop() -> asyncio.AbstractEventLoop:
    """The process's background loop (started on first use)."""
    global _loop
    with _lock:
        if _loop is None or _loop.is_closed():
            loop = asyncio.new_event_loop()
            started = threading.Event()

            def run() -> None:
                asyncio.set_event_loop(loop)
                loop.call_soon(started.set)
                loop.run_forever()

            threading.Thread(target=run, name="llmops_nb-eval-loop", daemon=True).start()
            started.wait()
            _loop = loop
        return _loop


def run_coroutine(fn: Callable[..., Awaitable[Any]], kwargs: dict[str, Any], *, loop: asyncio.AbstractEventLoop,
                  parent: Any, futures: set[Any] | None = None) -> Any:
    """Run ``fn(**kwargs)`` on ``loop`` from a worker thread and wait; spans inside nest under ``parent``."""
    future = asyncio.run_coroutine_threadsafe(_under(parent, fn, kwargs), loop)
    if futures is not None:
        futures.add(future)  # so an interrupt can cancel it
    try:
        return future.result()
    finally:
        if futures is not None:
            futures.discard(future)


async def _under(parent: Any, fn: Callable[..., Awaitable[Any]], kwargs: dict[str, Any]) -> Any:
    # The task's context is copied from the loop's thread, not the caller's: set the parent here.
    current_span.set(parent)
    return await fn(**kwargs)
