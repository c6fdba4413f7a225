"""A trace's script-free output: the snapshot, or the one-line summary when the snapshot cannot be made.

Kept apart from ``_snapshot`` (which it imports only when called) so that a failure there —
even the module being unimportable — still leaves a readable output.
"""

from __future__ import annotations

from typing import Any


def snapshot_bundle(trace: Any) -> dict[str, str]:
    """``text/html`` (the script-free snapshot) and ``text/plain`` for a trace; never raises.

    Falls back to the one-line summary of ``_display`` when the snapshot cannot be made.
    """
    from ... import _display
    from ..._safety import log_once
    from ..._trace import Trace

    trace_id = getattr(trace, "trace_id", trace)
    try:
        from ._snapshot import trace_snapshot

        return trace_snapshot(trace_id)
    except Exception as exc:  # noqa: BLE001 - a display must not fail the cell
        log_once("widgets.snapshot", exc)
    try:
        return _display.summary_bundle(trace if isinstance(trace, Trace) else Trace(str(trace_id)))
    except Exception as exc:  # noqa: BLE001
        return {"text/plain": f"<Trace {trace_id}: could not be read ({type(exc).__name__}: {exc})>"}
