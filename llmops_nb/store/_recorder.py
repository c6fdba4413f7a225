"""The span sink: ended spans wait in memory; one background thread writes them to the store.

The caller's hot path (``emit``) is a bound check and a ``deque.append`` of the span's record (a
flat tuple, see ``tracing/_record.py``). A writer thread wakes at least every ``flush_interval``
(≤ 1 s) and writes what waits in **chunks** — each sized from the measured write speed to take
about ``CHUNK_TARGET_S``, and at most ``CHUNK_BYTES`` — so the file is never held long and a
million queued spans never become one giant batch. ``flush(timeout)`` puts a marker in the queue and waits,
until its deadline and no longer, for the writer to have written everything before it.

What can go wrong, and what happens (each reported by ``status()``, nothing silently):

- **The store is unavailable** (locked by another process, disk full, no permission, damaged
  file — named by ``_errors.classify``): the chunk is kept and retried first, with backoff; each
  attempt waits at most ``LOCK_WAIT_S`` for the lock, so the writer stays responsive.
- **A span cannot be written** (a value DuckDB rejects): the chunk is split in halves until the
  bad record is alone; it is written as a placeholder that keeps its place in the tree and says
  what failed. One bad span never blocks the others. (If even a placeholder is refused, the
  fault is not the data's: everything is kept and retried like an unavailable store.)
- **Memory bound**: records waiting (queue + retry) are bounded in bytes (``max_buffer_bytes``,
  by default a tenth of RAM, at most 1 GiB) and in count (``max_buffered_spans``); past either,
  new spans are dropped and counted per trace and in the ``dropped_spans`` table (one row per
  write, outside the span transaction).
- **Exit**: the final flush gets ``EXIT_FLUSH_S``; spans it cannot write are counted on stderr
  and in a note beside the store that the next process records as dropped (``_lost.py``).

Why this module is past ~400 lines: its parts (queue bound, chunking, retry, bisection, flush
markers, exit) are one state machine around one queue and one lock; split up, each piece would
reach into the others' state. What could leave did: classification (``_errors``), placeholders
(``_writer``), the lost-span note (``_lost``), pending traces (``_memory``).
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections import deque
from typing import Any

from .._config import settings
from .._redact import redact_text
from .._safety import log_once
from ..tracing._record import SIZE, TRACE_ID
from . import _connection, _lost, _writer
from ._errors import StoreError, StoreReplacedError

#: a chunk is sized to take about this long to write (measured as it goes), so the file is held
#: briefly and released between chunks: ``Store.connect`` closes it before a chunk that would end
#: past MAX_HOLD_S
CHUNK_TARGET_S = 0.25
CHUNK_MIN_RECORDS, CHUNK_MAX_RECORDS = 1_000, 50_000
CHUNK_BYTES = 16 << 20
LOCK_WAIT_S = 1.0
EXIT_FLUSH_S = 10.0
MAX_BACKOFF_S = 5.0
#: a single write taking longer than this is reported as stuck
STUCK_AFTER_S = 30.0
#: after this many failures of the same chunk with an error we cannot name, it is split like bad data
UNKNOWN_FAILURES_BEFORE_SPLIT = 3


class _FlushMarker:
    __slots__ = ("done", "ok")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.ok = False


class Recorder:
    """The process's span sink (``tracing._sink.SpanSink``)."""

    def __init__(self) -> None:
        self.queue: deque[Any] = deque()
        # Bytes bound without a lock on the hot path: producers only add to one counter, the
        # writer only to the other. Two producer threads can lose an addition to each other
        # (a GIL switch inside ``+=``), which under-counts by one record at a time: the bound
        # stays approximate under heavy multi-threaded production, exact with one producer.
        self._appended_bytes = 0
        self._finished_bytes = 0
        self.retry: list[tuple[Any, ...]] = []  # a chunk the store refused, written first next time
        self._retry_markers: list[_FlushMarker] = []
        self._retry_failures = 0
        self.inflight: list[tuple[Any, ...]] = []
        self.dropped_total = 0
        self.unsaved_drops: dict[int, int] = {}
        self.unsaved_drop_reasons: dict[str, int] = {}
        self.written_total = 0
        self.placeholders_written = 0
        self.write_failures = 0
        self.last_error: str | None = None
        self.store_problem: str | None = None
        self.writer_restarts = 0
        self.state = "idle"
        self._state_since = time.monotonic()
        self._backoff_until = 0.0
        self._backoff = 0.0
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._stopping = False
        self._warm = False
        # Measured from each chunk written; the first guesses are cautious (a first chunk also pays
        # for opening the file; single-span traces cost ~15 µs a span in their traces upsert).
        self._chunk_records = 5_000
        self._chunk_was_full = False
        self._seconds_per_record = 15e-6
        self.apply_limits()

    # -- hot path: the sink ---------------------------------------------------------------------
    def emit(self, record: tuple[Any, ...]) -> None:
        size = record[SIZE]
        if (self._appended_bytes - self._finished_bytes + size > self.max_bytes
                or len(self.queue) >= self.max_spans):
            self._drop(record[TRACE_ID], "memory bound")
            return
        self.queue.append(record)
        self._appended_bytes += size
        if self._thread is None:
            self._start()

    def apply_limits(self) -> None:
        """Read the memory bounds from settings (``configure()`` calls this; the hot path reads copies)."""
        self.max_bytes = settings.max_buffer_bytes
        self.max_spans = settings.max_buffered_spans

    def _drop(self, trace_id: int, reason: str, count: int = 1) -> None:
        with self._lock:
            first = self.dropped_total == 0
            self.dropped_total += count
            self.unsaved_drops[trace_id] = self.unsaved_drops.get(trace_id, 0) + count
            self.unsaved_drop_reasons[reason] = self.unsaved_drop_reasons.get(reason, 0) + count
        if first and reason == "memory bound":
            cause = f"; the store is unavailable: {self.store_problem}" if self.store_problem else ""
            log_once("recorder.drop", None, "llmops_nb: spans waiting for the store reached the memory bound "
                     f"({self.max_bytes:,} bytes or {self.max_spans:,} spans){cause}; new "
                     "spans are dropped and counted (shown in each trace's summary and llmops_nb.status())")

    # -- the writer thread ----------------------------------------------------------------------
    def _start(self) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            if self._thread is not None:
                self.writer_restarts += 1
            thread = threading.Thread(target=self._run, name="llmops_nb-writer", daemon=True)
            self._thread = thread
            thread.start()

    def _run(self) -> None:
        while not self._stopping:
            self._wake.wait(settings.flush_interval)
            self._wake.clear()
            if self._stopping:
                return
            try:
                while self._write_cycle():
                    pass
            except Exception as exc:  # noqa: BLE001 - the writer must outlive any failure of ours
                log_once("recorder.write", exc)
            finally:
                self._set_state("idle")

    def _write_cycle(self) -> bool:
        """Write one chunk; True when a full chunk's worth more is waiting and the store is taking writes.

        A trickle that arrived while this chunk was written waits for the next wake-up instead
        (``flush_interval``, or a ``flush()``): a commit costs ~15 ms of this thread and DuckDB's
        whatever its size, and writing each handful at once kept the writer busy for good — measured
        by the gateway benchmark, ~1 ms of CPU per request on a 2-core machine."""
        if self._stopping or time.monotonic() < self._backoff_until:
            return False
        if self._warm:
            self._warm = False
            # only a head start: a real write reports any failure
            with contextlib.suppress(Exception), _connection.get_store().connect(timeout=LOCK_WAIT_S):
                pass
        chunk, markers = self._take_chunk()
        with self._lock:
            drops, self.unsaved_drops = self.unsaved_drops, {}
            reasons, self.unsaved_drop_reasons = self.unsaved_drop_reasons, {}
        if not chunk and not drops:
            self._settle(markers, True)
            return False
        self.inflight = chunk
        try:
            ok = self._write_chunk(chunk) if chunk else True
            if ok and drops:
                ok = self._write_drops(drops, reasons)
            elif drops:
                self._keep_drops(drops, reasons)
        finally:
            self.inflight = []
        if ok:
            self._settle(markers, True)
        else:
            self._retry_markers = markers + self._retry_markers
        return ok and self._chunk_was_full and bool(self.queue)

    def _take_chunk(self) -> tuple[list[tuple[Any, ...]], list[_FlushMarker]]:
        chunk, markers = self.retry, self._retry_markers
        self.retry, self._retry_markers = [], []
        size = sum(record[SIZE] for record in chunk)
        queue = self.queue
        # A file is written by one process at a time: chunks sized to hold it ~CHUNK_TARGET_S. A lake
        # takes every process's commits at once, each with a fixed cost (~50 ms): all that waits, in one.
        limit = self._chunk_records if _connection.get_store().writes_take_turns else CHUNK_MAX_RECORDS
        while len(chunk) < limit and size < CHUNK_BYTES:
            try:
                item = queue.popleft()
            except IndexError:
                break
            if type(item) is tuple:
                chunk.append(item)
                size += item[SIZE]
            else:
                markers.append(item)
        # a backlog (a burst, a store that was busy) is drained chunk after chunk without waiting
        self._chunk_was_full = len(chunk) >= limit or size >= CHUNK_BYTES
        return chunk, markers

    def _settle(self, markers: list[_FlushMarker], ok: bool) -> None:
        for marker in markers:
            marker.ok = ok
            marker.done.set()

    def _write_chunk(self, chunk: list[tuple[Any, ...]]) -> bool:
        """Write one chunk; False (the unwritten part kept for a retry) when the store is unavailable."""
        self._set_state(f"retrying: {self.store_problem}" if self.store_problem else "writing")
        started = time.perf_counter()
        try:
            _lost.ingest_pending(settings.db_path())
            _writer.write_records(chunk, lock_wait=LOCK_WAIT_S, expected_s=len(chunk) * self._seconds_per_record)
        except Exception as exc:  # noqa: BLE001 - sorted below: the store's fault, or the data's
            if isinstance(exc, StoreReplacedError):  # configure() switched stores mid-write: the new one next
                self.retry = chunk
                return False
            store_error = _connection.classify_current(exc)
            if store_error is not None or (not _writer.is_data_error(exc)
                                           and self._retry_failures < UNKNOWN_FAILURES_BEFORE_SPLIT):
                self._store_failed(store_error or exc, chunk)
                return False
            self._note_failure(exc)
            leftover, store_exc = self._write_isolating(chunk)
            self._finished(chunk, unwritten=leftover)
            if leftover:
                self._store_failed(store_exc or exc, leftover)
                return False
        else:
            self._finished(chunk)
            self._measure(len(chunk), time.perf_counter() - started)
        self._store_ok()
        return True

    def _measure(self, records: int, seconds: float) -> None:
        """Size the next chunks to take about CHUNK_TARGET_S, from this one's speed (smoothed)."""
        if records >= 100:
            per_record = seconds / records
            # Slower at once, faster gradually: an underestimate is what would hold the file too long.
            current = self._seconds_per_record
            self._seconds_per_record = per_record if per_record > current else 0.7 * current + 0.3 * per_record
            wanted = int(CHUNK_TARGET_S / max(self._seconds_per_record, 1e-7))
            self._chunk_records = max(CHUNK_MIN_RECORDS, min(CHUNK_MAX_RECORDS, wanted))

    def _write_isolating(
        self, records: list[tuple[Any, ...]],
    ) -> tuple[list[tuple[Any, ...]], BaseException | None]:
        """Write ``records`` in halves until each bad record is alone, and write it as a placeholder.

        Returns the records left unwritten and why: the store failed meanwhile, or even a bad
        record's placeholder (ids, times, a note) was refused — then the fault is not in the data
        (a bug of ours, a broken DuckDB), and nothing is dropped: all of it is retried.
        """
        half = len(records) // 2
        stack = [records[half:], records[:half]]  # the top is written next: original order
        while stack:
            part = stack.pop()
            if not part:
                continue
            try:
                _writer.write_records(part, lock_wait=LOCK_WAIT_S)
                continue
            except Exception as exc:  # noqa: BLE001
                store_error = _connection.classify_current(exc)
                if store_error is not None:
                    return part + [r for pending in reversed(stack) for r in pending], store_error
                self._note_failure(exc)
                if len(part) > 1:
                    half = len(part) // 2
                    stack += [part[half:], part[:half]]
                    continue
            try:
                _writer.write_records([_writer.placeholder(part[0], self.last_error or "unknown")],
                                      lock_wait=LOCK_WAIT_S)
                self.placeholders_written += 1
            except Exception as exc:  # noqa: BLE001
                rest = [r for pending in reversed(stack) for r in pending]
                return part + rest, _connection.classify_current(exc) or exc
        return [], None

    def _write_drops(self, drops: dict[int, int], reasons: dict[str, int]) -> bool:
        try:
            _writer.write_drops(drops, reasons, lock_wait=LOCK_WAIT_S)
        except Exception as exc:  # noqa: BLE001
            self._note_failure(exc)
            self._keep_drops(drops, reasons)
            return False
        return True

    def _keep_drops(self, drops: dict[int, int], reasons: dict[str, int]) -> None:
        with self._lock:
            for key, count in drops.items():
                self.unsaved_drops[key] = self.unsaved_drops.get(key, 0) + count
            for reason, count in reasons.items():
                self.unsaved_drop_reasons[reason] = self.unsaved_drop_reasons.get(reason, 0) + count

    def _finished(self, chunk: list[tuple[Any, ...]], unwritten: list[tuple[Any, ...]] | None = None) -> None:
        """Account for a chunk that reached the store, except ``unwritten`` (kept for a retry)."""
        unwritten = unwritten or []
        self.written_total += len(chunk) - len(unwritten)
        self._finished_bytes += sum(record[SIZE] for record in chunk) - sum(record[SIZE] for record in unwritten)

    def _store_failed(self, exc: BaseException, chunk: list[tuple[Any, ...]]) -> None:
        self.retry = chunk  # still counted in the memory bound: its bytes are not finished
        self._retry_failures += 1
        self._note_failure(exc)
        self.store_problem = self.last_error
        self._backoff = min(max(self._backoff * 2, settings.flush_interval), MAX_BACKOFF_S)
        self._backoff_until = time.monotonic() + self._backoff
        self._set_state(f"waiting: {self.last_error}")
        if isinstance(exc, StoreError):
            log_once(f"recorder.{type(exc).__name__}", None, f"llmops_nb: {self.last_error} Spans are kept "
                     "and retried until the memory bound; llmops_nb.status() shows how many wait.")
        else:
            log_once("recorder.write", exc, "llmops_nb: could not write spans to the store; they are kept and "
                     "retried (llmops_nb.status() shows how many wait)")

    def _store_ok(self) -> None:
        self.store_problem = None
        self._retry_failures = 0
        self._backoff = 0.0
        self._backoff_until = 0.0

    def _note_failure(self, exc: BaseException) -> None:
        self.write_failures += 1
        self.last_error = redact_text(f"{type(exc).__name__}: {exc}" if not isinstance(exc, StoreError) else str(exc))

    def _set_state(self, state: str) -> None:
        if state != self.state or state == "writing" or state.startswith("retrying"):  # each write timed alone
            self.state = state
            self._state_since = time.monotonic()

    # -- flush, status, exit --------------------------------------------------------------------
    def flush(self, timeout: float | None = None) -> bool:
        """Persist every span that ended before this call; False if that did not finish by ``timeout`` s."""
        deadline = None if timeout is None else time.monotonic() + max(0.0, timeout)
        if self._thread is threading.current_thread():
            return not self.waiting()
        if self._thread is None and not self.waiting() and not self.unsaved_drops:
            return True  # nothing was ever recorded
        marker = _FlushMarker()
        self.queue.append(marker)
        self._backoff_until = 0.0  # someone is waiting: retry the store now
        self._start()
        self._wake.set()
        while not marker.done.wait(0.05):
            if self._thread is None or not self._thread.is_alive():
                self._start()  # a dead writer is restarted (counted in status())
            if deadline is not None and time.monotonic() >= deadline:
                return False
            if self.retry:
                self._backoff_until = min(self._backoff_until, time.monotonic() + 0.1)
            self._wake.set()
        return marker.ok

    def flush_for_cell(self, busy_wait_s: float, working_wait_s: float) -> bool:
        """Flush at the end of a traced cell: wait at most ``busy_wait_s`` for a store that is
        unavailable (another process holds it, the disk is full…), but up to ``working_wait_s``
        while the writer is simply working — a kernel's first write imports DuckDB and migrates
        the file, which can take seconds on a loaded machine and is no reason to show a trace
        from memory."""
        if self.flush(busy_wait_s):
            return True
        deadline = time.monotonic() + max(0.0, working_wait_s - busy_wait_s)
        while time.monotonic() < deadline:
            if self.store_problem is not None or _connection.locked_by_another_process(settings.db_path()):
                return False
            if self.flush(min(0.25, deadline - time.monotonic())):
                return True
        return False

    def warm_up(self) -> None:
        """Open the store once in the writer's thread (imports DuckDB, migrates), so the first traced
        cell does not pay for it. Called by ``%load_ext llmops_nb``; never blocks the caller."""
        self._warm = True
        self._start()
        self._wake.set()

    def waiting(self) -> int:
        """Spans ended but not yet in the store: queued, being written, or kept for a retry."""
        queued = sum(1 for item in list(self.queue) if type(item) is tuple)
        return queued + len(self.inflight) + len(self.retry)

    def waiting_bytes(self) -> int:
        return max(0, self._appended_bytes - self._finished_bytes)

    def records_of(self, trace_id: int) -> list[tuple[Any, ...]]:
        """The records of one trace still in memory (for showing a trace the store could not take yet)."""
        items = list(self.retry) + list(self.inflight) + list(self.queue)
        return [item for item in items if type(item) is tuple and item[TRACE_ID] == trace_id]

    def writer_status(self) -> dict[str, Any]:
        thread = self._thread
        busy = time.monotonic() - self._state_since
        if thread is None:
            state = "not started"
        elif not thread.is_alive():
            state = "dead (restarted by the next flush)"
        elif self.state == "writing" and busy > STUCK_AFTER_S:
            state = f"stuck: one write has taken {busy:.0f} s"
        else:
            state = self.state
        return {"state": state, "for_s": round(busy, 3), "restarts": self.writer_restarts}

    def flush_at_exit(self) -> None:
        """The interpreter is exiting: write what we can within EXIT_FLUSH_S, account for the rest."""
        if os.getpid() != self._pid:
            return
        started = time.monotonic()
        if not self.flush(EXIT_FLUSH_S - LOCK_WAIT_S):
            records = self.records_of_all()
            if records or self.unsaved_drops:
                reason = self.store_problem or self.last_error or f"the store did not answer within {EXIT_FLUSH_S:g} s"
                traces: dict[int, int] = {}
                for record in records:
                    traces[record[TRACE_ID]] = traces.get(record[TRACE_ID], 0) + 1
                for key, count in self.unsaved_drops.items():
                    traces[key] = traces.get(key, 0) + count
                noted = _lost.note(settings.db_path(), traces, reason)
                where = "; the next llmops_nb process records them as dropped" if noted else ""
                print(f"llmops_nb: exiting with {sum(traces.values()):,} spans of {len(traces):,} traces not "
                      f"written to {_connection.store_label()}: {reason.rstrip('.')}{where}.", file=sys.stderr)
        # Stop the writer before DuckDB goes: a thread inside a DuckDB call while the interpreter
        # tears down aborts the process ("terminate called without an active exception").
        self._stopping = True
        self._wake.set()
        thread = self._thread
        if thread is not None and thread.is_alive():
            thread.join(max(0.1, EXIT_FLUSH_S - (time.monotonic() - started)))
        from . import _auto_maintain  # the lake's background maintenance, likewise inside DuckDB calls

        _auto_maintain.stop(max(1.0, EXIT_FLUSH_S - (time.monotonic() - started)))
        _connection.close_all(final=True)

    def records_of_all(self) -> list[tuple[Any, ...]]:
        items = list(self.retry) + list(self.inflight) + list(self.queue)
        return [item for item in items if type(item) is tuple]

    def after_fork_in_child(self) -> None:
        # The parent's writer thread does not exist in the child; its queued spans belong to the parent.
        self.__init__()  # type: ignore[misc]


recorder = Recorder()
_connection.exit_hooks.append(recorder.flush_at_exit)

if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=recorder.after_fork_in_child)


def in_memory_trace(trace_id: str) -> list[tuple[Any, ...]]:
    """Records of the trace ``trace_id`` (hex) that are still in memory."""
    return recorder.records_of(int(trace_id, 16))


__all__ = ["CHUNK_TARGET_S", "EXIT_FLUSH_S", "LOCK_WAIT_S", "Recorder", "in_memory_trace", "recorder"]
