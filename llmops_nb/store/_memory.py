"""A trace the store has not taken yet, summarized from the records still in memory.

A traced cell waits at most a second for the store; if another kernel holds the file or the
disk is full, the cell shows this instead — the same summary line, computed from memory, with
the reason and a note that the spans will be written when the store takes them.
"""

from __future__ import annotations

import json
from typing import Any

from .._config import settings
from .._html import escape
from .._redact import redact_text
from ..tracing import _record as rec
from ..tracing._span import PROPAGATED
from ._connection import locked_by_another_process
from ._recorder import recorder

LLM_KINDS = ("LLM", "CHAT_MODEL")


class PendingTrace:
    """Duck-types ``Trace`` for display: ``trace_id`` and ``info``, read from the recorder's memory."""

    def __init__(self, trace_id: str) -> None:
        self.trace_id = trace_id
        self.info = _info([rec.full(r) for r in recorder.records_of(int(trace_id, 16))])

    def reason(self) -> str:
        problem = recorder.store_problem
        if problem:
            return redact_text(problem)
        path = settings.db_path()
        if locked_by_another_process(path):  # the writer is still in its first wait: name the cause now
            return (f"the llmops_nb store {path} is locked by another process (another kernel writing, or a "
                    "DuckDB shell or duckdb.connect() holding the file).")
        return f"the store did not answer within a second (writer: {recorder.writer_status()['state']})."

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        from .._display import summary_html, summary_text

        note = (f"kept in memory, not yet in the store: {self.reason()} It is written when the store takes it; "
                f"llmops_nb.status() shows how many spans wait.")
        return {"text/plain": f"{summary_text(self)}\n  {note}",
                "text/html": summary_html(self) + f'<div style="opacity:.75;font-size:12px">{escape(note)}</div>'}

    def __repr__(self) -> str:
        return str(self._repr_mimebundle_()["text/plain"])


def _new_error(record: tuple[Any, ...]) -> bool:
    """An ERROR span whose exception no child recorded already: the store's rule (``_batch_sql.NEW_ERROR``)."""
    if record[rec.STATUS] != "ERROR":
        return False
    try:
        return json.loads(record[rec.ATTRIBUTES] or "{}").get(PROPAGATED) is not True
    except (ValueError, AttributeError):  # malformed or not an object: counted, as in the store
        return True


def _info(records: list[tuple[Any, ...]]) -> dict[str, Any]:
    root = next((r for r in records if r[rec.IS_ROOT]), None)
    costs = [r[rec.COST] for r in records if r[rec.COST] is not None]
    start = min((r[rec.START] for r in records), default=None)
    info: dict[str, Any] = {
        "name": redact_text(root[rec.NAME]) if root else None,
        "status": root[rec.STATUS] if root else None,
        "span_count": len(records),
        "llm_calls": sum(1 for r in records if r[rec.KIND] in LLM_KINDS),
        "input_tokens": sum(r[rec.INPUT_TOKENS] or 0 for r in records),
        "output_tokens": sum(r[rec.OUTPUT_TOKENS] or 0 for r in records),
        "cost_usd": sum(costs) if costs else None,
        # one exception through nested spans counts once, as in the store (store/_writer.py)
        "error_count": sum(1 for r in records if _new_error(r)),
        "dropped_spans": recorder.unsaved_drops.get(int(records[0][rec.TRACE_ID]), 0) if records else 0,
        "duration_ms": (root[rec.END] - root[rec.START]) / 1e6 if root else None,
        "error_message": redact_text(root[rec.STATUS_MESSAGE] or "") or None
        if root and root[rec.STATUS] == "ERROR" else None,
    }
    if start is None:
        info["span_count"] = 0
    return info
