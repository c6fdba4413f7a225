"""Worker threads that answer every job: with its result, its exception, or "timed out".

An online scorer calls user code and judges over the network; either may hang. A thread cannot be
killed, so a job past its deadline is answered with a timeout, its thread is left to finish (or
not) on its own, and a fresh thread takes its place: the pass goes on at full concurrency and
never waits on a hung call. Threads left behind are counted (``abandoned``), so a scorer that
hangs all the time shows up instead of quietly eating threads.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

_STOP = object()


@dataclass
class Outcome:
    """How one job ended: ``value``, or ``error`` (its exception), or ``timed_out``."""

    value: Any = None
    error: BaseException | None = None
    timed_out: bool = False


class _Job:
    __slots__ = ("fn", "item", "outcome", "started", "timeout", "worker")

    def __init__(self, fn: Callable[[Any], Any], item: Any, timeout: float) -> None:
        self.fn, self.item, self.timeout = fn, item, timeout
        self.outcome: Outcome | None = None
        self.started: float | None = None
        self.worker: _Worker | None = None


class _Worker(threading.Thread):
    def __init__(self, pool: Workers, number: int) -> None:
        super().__init__(name=f"{pool.name}-{number}", daemon=True)
        self.pool = pool
        self.abandoned = False

    def run(self) -> None:
        pool = self.pool
        while not self.abandoned:
            job = pool.jobs.get()
            if job is _STOP:
                return
            with pool.changed:
                if job.outcome is not None:  # answered already (the pool closed)
                    continue
                job.started, job.worker = time.monotonic(), self
                pool.running.add(job)
                pool.changed.notify_all()  # the waiter learns this job's deadline
            try:
                outcome = Outcome(value=job.fn(job.item))
            except BaseException as exc:  # noqa: BLE001 - the job's failure is its answer
                outcome = Outcome(error=exc)
            with pool.changed:
                if job.outcome is None:
                    job.outcome = outcome
                job.worker = None
                pool.running.discard(job)
                pool.changed.notify_all()


class Workers:
    """``size`` threads; :meth:`map` runs a function over items with a per-job timeout.

    >>> with Workers(4) as workers:
    ...     [o.value for o in workers.map(lambda x: x * 2, [1, 2, 3], timeout=5)]
    [2, 4, 6]
    """

    def __init__(self, size: int, name: str = "llmops_nb-monitor") -> None:
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise ValueError(f"concurrency is a whole number of calls at once, at least 1; got {size!r}.")
        self.size, self.name = size, name
        self.jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.changed = threading.Condition()
        self.running: set[_Job] = set()  # started and not answered
        self.abandoned = 0
        self._numbered = 0
        self._workers: list[_Worker] = []
        self._closed = False
        for _ in range(size):
            self._spawn()

    def _spawn(self) -> None:
        self._numbered += 1
        worker = _Worker(self, self._numbered)
        self._workers.append(worker)
        worker.start()

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any], *, timeout: float) -> list[Outcome]:
        """Every item's outcome, in order; returns when each is answered (at most ``timeout`` s of running each)."""
        return self.wait(self.submit(fn, items, timeout=timeout))

    def submit(self, fn: Callable[[Any], Any], items: Sequence[Any], *, timeout: float) -> list[_Job]:
        """Queue ``fn(item)`` for each item (behind what is queued already); :meth:`wait` for their outcomes."""
        if self._closed:
            raise RuntimeError("these workers are closed")
        jobs = [_Job(fn, item, timeout) for item in items]
        for job in jobs:
            self.jobs.put(job)
        return jobs

    def wait(self, jobs: Sequence[_Job]) -> list[Outcome]:
        """The outcomes of submitted jobs, in order. While waiting, any running job past its deadline
        (of these or of later submissions) is answered and its thread replaced."""
        with self.changed:
            while True:
                now = time.monotonic()
                next_deadline = None
                for job in list(self.running):
                    if job.started is None or job.outcome is not None:
                        continue
                    deadline = job.started + job.timeout
                    if deadline <= now:
                        self._abandon(job)
                    elif next_deadline is None or deadline < next_deadline:
                        next_deadline = deadline
                if all(j.outcome is not None for j in jobs):
                    break
                self.changed.wait(None if next_deadline is None else max(0.0, next_deadline - now) + 0.001)
        return [j.outcome for j in jobs if j.outcome is not None]

    def _abandon(self, job: _Job) -> None:
        """Answer a job past its deadline and replace the thread stuck in it (called holding ``changed``)."""
        job.outcome = Outcome(timed_out=True, error=TimeoutError(f"no answer within {job.timeout:g} s"))
        self.running.discard(job)
        worker = job.worker
        if worker is not None and not worker.abandoned:
            worker.abandoned = True
            self._workers.remove(worker)
            self.abandoned += 1
            self._spawn()

    def close(self) -> None:
        """Stop the threads once their current job ends (a hung one stays, as a daemon)."""
        if self._closed:
            return
        self._closed = True
        for _ in self._workers:
            self.jobs.put(_STOP)

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
