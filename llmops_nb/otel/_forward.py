"""The live forwarder: ``configure(otlp_endpoint=...)`` also sends every span, as it ends, to an OTLP backend.

A tee sink replaces the recorder as this process's sink: ``emit`` hands the record to the recorder
(the store gets everything, as before) and appends it to the forwarder's bounded backlog — never
more than a deque append on the user's thread. A background thread sends batches every
``INTERVAL_S`` (or sooner when ``BATCH`` spans wait), redacting every text field first (records are
redacted by the store's writer only on their way to the file). A backend that is down costs a
backlog of at most ``max_backlog`` spans; past it new spans are not forwarded and are counted
(``status()["otel"]["forwarder"]``); they are still stored.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any

from .._redact import redact_strings
from .._safety import log_once
from ..pii._records import scrub_record
from ..store._recorder import recorder
from ..tracing import _record, _sink
from ._http import ExportError, post, resolve_endpoint, resolve_headers
from ._otlp_encode import encode

BATCH = 512
INTERVAL_S = 1.0
MAX_BACKLOG = 100_000
_FIELDS = (_record.TRACE_ID, _record.SPAN_ID, _record.PARENT_ID, _record.NAME, _record.KIND, _record.START,
           _record.END, _record.STATUS, _record.STATUS_MESSAGE, _record.ERROR, _record.INPUTS, _record.OUTPUTS,
           _record.ATTRIBUTES, _record.EVENTS, _record.MODEL, _record.INPUT_TOKENS, _record.OUTPUT_TOKENS)
_TEXT = (3, 8, 9, 10, 11, 12, 13, 14)


class Forwarder:
    def __init__(self, endpoint: str, headers: dict[str, str], max_backlog: int = MAX_BACKLOG) -> None:
        self.endpoint, self.headers, self.max_backlog = endpoint, headers, max_backlog
        self.backlog: deque[tuple[Any, ...]] = deque()
        self.sent = self.dropped = self.failed_attempts = 0
        self.last_error: str | None = None
        self._retry: list[tuple[Any, ...]] = []
        self._wake = threading.Event()
        self._stopping = False
        self._idle = threading.Event()
        self._idle.set()
        self._thread = threading.Thread(target=self._run, name="llmops_nb-otlp-forwarder", daemon=True)
        self._thread.start()

    def offer(self, record: tuple[Any, ...]) -> None:
        if len(self.backlog) >= self.max_backlog:
            self.dropped += 1
            return
        self.backlog.append(record)
        if len(self.backlog) >= BATCH:
            self._wake.set()

    def _run(self) -> None:
        backoff = INTERVAL_S
        while not self._stopping:
            self._wake.wait(backoff)
            self._wake.clear()
            while self._retry or self.backlog:
                self._idle.clear()
                batch = self._retry or self._take()
                self._retry = []
                try:
                    post(self.endpoint, encode(batch), self.headers, retries=0, timeout=10.0)
                except ExportError as exc:
                    self._retry = batch
                    self.failed_attempts += 1
                    self.last_error = str(exc)
                    log_once("otel.forward", None, f"llmops_nb: {exc} Spans wait (at most {self.max_backlog:,}) "
                             "and are retried; see llmops_nb.status()['otel']['forwarder'].")
                    backoff = min(backoff * 2, 30.0)
                    break
                except Exception as exc:  # noqa: BLE001 - the forwarder must outlive a bad batch
                    log_once("otel.forward.encode", exc)
                    self.dropped += len(batch)
                    continue
                self.sent += len(batch)
                self.last_error = None
                backoff = INTERVAL_S
            if not self._retry and not self.backlog:
                self._idle.set()

    def _take(self) -> list[tuple[Any, ...]]:
        batch: list[tuple[Any, ...]] = []
        while self.backlog and len(batch) < BATCH:
            record = scrub_record(_record.full(self.backlog.popleft()))  # the PII policy first
            values = [record[i] for i in _FIELDS]
            for i, text in zip(_TEXT, redact_strings([values[i] for i in _TEXT]), strict=True):
                values[i] = text
            batch.append(tuple(values))
        return batch

    def flush(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        self._wake.set()
        while time.monotonic() < deadline:
            if not self.backlog and not self._retry and self._idle.is_set():
                return True
            self._wake.set()
            time.sleep(0.02)
        return False

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    def status(self) -> dict[str, Any]:
        return {"endpoint": self.endpoint, "sent": self.sent, "waiting": len(self.backlog) + len(self._retry),
                "dropped": self.dropped, "failed_attempts": self.failed_attempts, "last_error": self.last_error}


class TeeSink:
    """The recorder, plus the forwarder's backlog."""

    def __init__(self, forwarder: Forwarder) -> None:
        self.forwarder = forwarder

    def emit(self, record: tuple[Any, ...]) -> None:
        recorder.emit(record)
        try:
            self.forwarder.offer(record)
        except Exception as exc:  # noqa: BLE001
            log_once("otel.forward.offer", exc)

    def flush(self, timeout: float | None) -> bool:
        return recorder.flush(timeout)


_active: list[Forwarder] = []


def start(endpoint: str, headers: dict[str, str] | str | None = None) -> Forwarder:
    """Forward every span from now on (replaces a running forwarder)."""
    stop()
    forwarder = Forwarder(resolve_endpoint(endpoint), resolve_headers(headers))
    _active.append(forwarder)
    _sink.set_sink(TeeSink(forwarder))
    return forwarder


def stop() -> None:
    """Stop forwarding (what waits is sent for up to 2 s); spans go to the store only, as before."""
    if _sink.current_sink() is not recorder:
        _sink.set_sink(recorder)
    while _active:
        forwarder = _active.pop()
        forwarder.flush(2.0)
        forwarder.stop()


def flush(timeout: float = 10.0) -> bool:
    """Wait until every span offered so far was sent (or ``timeout``); True when none waits."""
    return all(forwarder.flush(timeout) for forwarder in _active)


def status() -> dict[str, Any]:
    return _active[0].status() if _active else {"running": False}


__all__ = ["Forwarder", "TeeSink", "flush", "start", "status", "stop"]
