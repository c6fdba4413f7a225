"""Where ended spans go: the sink protocol, and the one sink this process uses.

Tracing knows nothing of storage. An ended span becomes a record (``_record.py``)
handed to the installed sink's ``emit``; ``flush`` asks the sink to persist
everything emitted so far. The store implements the sink and the package's
``__init__`` installs it — the one place where tracing and the store are wired.
"""

from __future__ import annotations

from typing import Any, Protocol


class SpanSink(Protocol):
    def emit(self, record: tuple[Any, ...]) -> None:
        """Take one ended span's record. Must be cheap and must never raise: it runs in the user's call."""

    def flush(self, timeout: float | None) -> bool:
        """Persist every record emitted before this call; False if that did not finish in ``timeout`` s."""


class _Unwired:
    """Before a sink is installed (never, once ``import llmops_nb`` has run): count, keep nothing."""

    emitted = 0

    def emit(self, record: tuple[Any, ...]) -> None:
        self.emitted += 1

    def flush(self, timeout: float | None) -> bool:
        return self.emitted == 0


_sink: list[SpanSink] = [_Unwired()]
#: the hot path's reference to the sink's emit, rebound by set_sink()
emit = _sink[0].emit


def set_sink(sink: SpanSink) -> None:
    """Install the sink that receives every ended span of this process."""
    global emit
    _sink[0] = sink
    emit = sink.emit


def current_sink() -> SpanSink:
    return _sink[0]


def flush(timeout: float | None = 30.0) -> bool:
    """Write every ended span to the store now; False when that did not finish within ``timeout`` s.

    >>> import llmops_nb
    >>> llmops_nb.flush()  # doctest: +SKIP
    True
    """
    return _sink[0].flush(timeout)
