"""``llmops_nb.status()``: what the recorder has done — nothing is lost silently."""

from __future__ import annotations

from typing import Any

from ._config import settings
from ._safety import failure_counts
from .tracing._recorder import recorder


def status() -> dict[str, Any]:
    """Where traces go and what happened to them: written, waiting, dropped, failures.

    >>> import llmops_nb
    >>> llmops_nb.status()["dropped_spans"]  # doctest: +SKIP
    0
    """
    return {
        "db": str(settings.db_path()),
        "flush_interval_s": settings.flush_interval,
        "spans_written": recorder.written_total,
        "spans_waiting": len(recorder.queue) + len(recorder.pending),
        "dropped_spans": recorder.dropped_total,
        "write_failures": recorder.write_failures,
        "last_write_error": recorder.last_error,
        "internal_failures": dict(failure_counts),
    }
