"""Ended spans wait in memory; one background thread writes them to the store.

The caller's hot path is a bounded ``deque.append``. A writer thread wakes at
least every ``flush_interval`` (≤ 1 s), drains the queue and writes the batch
through the store's columnar insert. ``flush()`` puts a marker in the queue and
waits until the writer has persisted everything before it.

Nothing is dropped silently: when the queue is full a span is dropped, counted
per trace and in total, and the count is written to the store and shown by the
magics and ``llmops_nb.status()``. When the store cannot be written (another
process holds the file for longer than ``lock_timeout``), the batch is kept and
retried; it counts toward the memory bound.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
import time
from collections import deque
from typing import Any

from .._config import settings
from .._safety import log_once
from . import _span


class _FlushMarker:
    __slots__ = ("done", "ok")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.ok = False


class Recorder:
    def __init__(self) -> None:
        self.queue: deque[Any] = deque()
        self.pending: list[_span.Span] = []  # written batch that failed, retried first
        self.dropped_total = 0
        self.dropped_by_trace: dict[int, int] = {}
        self.unsaved_drops: dict[int, int] = {}
        self.written_total = 0
        self.write_failures = 0
        self.last_error: str | None = None
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._pid = os.getpid()

    # -- hot path ---------------------------------------------------------
    def append(self, span: _span.Span) -> None:
        queue = self.queue
        if len(queue) + len(self.pending) >= settings.max_buffered_spans:
            self._drop(span)
            return
        queue.append(span)
        if self._thread is None:
            self._start()

    def _drop(self, span: _span.Span) -> None:
        with self._lock:
            self.dropped_total += 1
            key = span.trace_id_int
            self.dropped_by_trace[key] = self.dropped_by_trace.get(key, 0) + 1
            self.unsaved_drops[key] = self.unsaved_drops.get(key, 0) + 1
        if self.dropped_total == 1:
            log_once("recorder.drop", None, f"llmops_nb: the span queue is full ({settings.max_buffered_spans} spans); "
                     "dropping new spans and counting them (shown in each trace's summary)")

    # -- writer thread ----------------------------------------------------
    def _start(self) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            thread = threading.Thread(target=self._run, name="llmops_nb-writer", daemon=True)
            self._thread = thread
            thread.start()

    def _run(self) -> None:
        while True:
            self._wake.wait(settings.flush_interval)
            self._wake.clear()
            try:
                self.write_once()
            except Exception as exc:  # noqa: BLE001 - the writer must outlive any failure
                log_once("recorder.write", exc)

    def write_once(self) -> bool:
        """Drain the queue and write; set every flush marker met. True when all was written."""
        markers: list[_FlushMarker] = []
        batch = self.pending
        self.pending = []
        queue = self.queue
        while True:
            try:
                item = queue.popleft()
            except IndexError:
                break
            if type(item) is _FlushMarker:
                markers.append(item)
            else:
                batch.append(item)
        with self._lock:
            drops, self.unsaved_drops = self.unsaved_drops, {}
        ok = True
        if batch or drops:
            ok = self._write(batch, drops)
        for marker in markers:
            marker.ok = ok
            marker.done.set()
        return ok

    def _write(self, batch: list[_span.Span], drops: dict[int, int]) -> bool:
        from ..store import _writer

        try:
            _writer.write_spans(batch, drops)
        except Exception as exc:  # noqa: BLE001
            self.write_failures += 1
            self.last_error = f"{type(exc).__name__}: {exc}"
            log_once("recorder.write", exc, "llmops_nb: could not write spans to the store; they are kept and retried")
            self.pending = batch + self.pending
            with self._lock:
                for key, count in drops.items():
                    self.unsaved_drops[key] = self.unsaved_drops.get(key, 0) + count
            return False
        self.written_total += len(batch)
        return True

    def flush(self, timeout: float | None = None) -> bool:
        """Persist every span that ended before this call; False if that did not finish in time."""
        if self._thread is threading.current_thread():
            return self.write_once()
        if self._thread is None and not self.queue and not self.pending and not self.unsaved_drops:
            return True  # nothing was ever recorded
        # Always go through the writer: a batch it already took off the queue may still be in flight.
        marker = _FlushMarker()
        self.queue.append(marker)
        self._start()
        self._wake.set()
        deadline = None if timeout is None else time.monotonic() + timeout
        while not marker.done.wait(0.05):
            if not self._thread or not self._thread.is_alive():
                self._start()
            self._wake.set()
            if deadline is not None and time.monotonic() > deadline:
                return False
        if not marker.ok and (deadline is None or time.monotonic() < deadline):
            # The writer kept the batch (store busy); keep trying until the deadline.
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            time.sleep(min(0.05, remaining or 0.05))
            return self.flush(remaining)
        return marker.ok

    def after_fork_in_child(self) -> None:
        # The parent's writer thread does not exist in the child; its queued spans belong to the parent.
        self.queue = deque()
        self.pending = []
        self.unsaved_drops = {}
        self._thread = None
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._pid = os.getpid()


recorder = Recorder()
_span._enqueue = recorder.append  # type: ignore[assignment]

if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=recorder.after_fork_in_child)


def flush(timeout: float | None = 30.0) -> bool:
    """Write every ended span to the DuckDB file now.

    Returns False (and keeps the spans for the next try) when the file stayed
    locked by another process for longer than ``timeout`` seconds.

    >>> import llmops_nb
    >>> llmops_nb.flush()  # doctest: +SKIP
    True
    """
    return recorder.flush(timeout)


@atexit.register
def flush_at_exit() -> None:
    try:
        recorder.flush(timeout=10.0)
        connection = sys.modules.get("llmops_nb.store._connection")
        if connection is not None:
            # Close DuckDB before interpreter teardown: a handle left to die with
            # a daemon thread can abort the process on exit.
            connection.close_all()
    except Exception:  # noqa: BLE001 - interpreter shutdown: best effort
        pass
