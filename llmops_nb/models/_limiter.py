"""A concurrency limit shared by threads and event loops alike.

``asyncio.Semaphore`` belongs to one loop and ``threading.Semaphore`` blocks a
loop, so neither can cap calls to one model made from worker threads *and*
from coroutines on several loops. :class:`Limiter` hands slots out first in,
first out to both kinds of waiter: a thread waits on its own lock, a coroutine
on a future that the releasing thread resolves through its loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from typing import Any


class Limiter:
    """At most ``limit`` holders at once; FIFO across threads and event loops.

    >>> limiter = Limiter(2)
    >>> with limiter:
    ...     limiter.in_flight
    1
    """

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"A concurrency limit must be at least 1, got {limit}.")
        self.limit = limit
        self.in_flight = 0
        self.peak = 0
        self._lock = threading.Lock()
        self._waiters: deque[Any] = deque()  # threading.Lock (held) or (loop, future)

    def acquire(self) -> None:
        """Block this thread until a slot is free."""
        with self._lock:
            if self.in_flight < self.limit and not self._waiters:
                self._take()
                return
            gate = threading.Lock()
            gate.acquire()
            self._waiters.append(gate)
        try:
            gate.acquire()  # released by release() once the slot is ours
        except BaseException:  # interrupted while waiting: give the slot back if it came
            with self._lock:
                try:
                    self._waiters.remove(gate)
                    return_slot = False
                except ValueError:
                    return_slot = True
            if return_slot:
                self.release()
            raise

    async def acquire_async(self) -> None:
        """Wait, without blocking the event loop, until a slot is free."""
        loop = asyncio.get_running_loop()
        with self._lock:
            if self.in_flight < self.limit and not self._waiters:
                self._take()
                return
            future = loop.create_future()
            entry = (loop, future)
            self._waiters.append(entry)
        try:
            await future
        except BaseException:
            with self._lock:
                try:
                    self._waiters.remove(entry)
                    granted = False
                except ValueError:
                    granted = True
            if granted:
                self.release()
            raise

    def release(self) -> None:
        with self._lock:
            while self._waiters:
                waiter = self._waiters.popleft()
                # The slot passes straight to the waiter: in_flight stays the same.
                if isinstance(waiter, tuple):
                    loop, future = waiter
                    try:
                        loop.call_soon_threadsafe(_grant, future)
                    except RuntimeError:  # that loop is closed: its waiter is gone
                        continue
                else:
                    waiter.release()
                return
            self.in_flight -= 1

    def _take(self) -> None:
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)

    def __enter__(self) -> Limiter:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    async def __aenter__(self) -> Limiter:
        await self.acquire_async()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.release()


def _grant(future: asyncio.Future[None]) -> None:
    # A cancelled waiter finds itself off the queue and returns the slot itself.
    if not future.done():
        future.set_result(None)
