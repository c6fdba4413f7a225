"""One LLM call, one count: of two LLM spans, one right under the other, the outer one is a CHAIN.

A framework's LLM span often wraps the span of the client that made the request: LangChain's
``ChatOpenAI`` around our openai SDK span, DSPy's ``LM.__call__`` around LiteLLM's ``completion``,
in another process LangChain's span around the OpenInference openai instrumentor's. Counted as they
come, one request would be two LLM calls with twice its tokens. Spans end child first, so when an
LLM span ends, its parent's id is noted here; when that parent ends as an LLM span too, it is kept
as a ``CHAIN`` with empty token columns (its attributes still hold what it said), and the span
nearest the wire — the one with the request's usage — is the count. Used by the in-process bridge
(``_bridge.py``) and the OTLP receiver (``_receiver.py``) alike.
"""

from __future__ import annotations

from typing import Any

from ..tracing import _record

__all__ = ["count_once", "count_once_in", "note_llm_call_under"]

#: span ids right under which an LLM call was counted; read (and forgotten) when that span ends
llm_calls_under: dict[int, None] = {}
LLM_CALLS_KEPT = 10_000
_LLM_KINDS = ("LLM", "CHAT_MODEL")


def note_llm_call_under(span_id: int) -> None:
    """An LLM call was counted right under span ``span_id`` (ours or a framework's)."""
    llm_calls_under[span_id] = None
    # Parents that never end here (our own spans, a parent in another process) are never read:
    # the oldest entries go past this bound.
    if len(llm_calls_under) > LLM_CALLS_KEPT:
        try:
            del llm_calls_under[next(iter(llm_calls_under))]
        except (KeyError, RuntimeError, StopIteration):  # another thread changed it meanwhile
            pass


def count_once(record: tuple[Any, ...], span_id: int, parent_id: int) -> tuple[Any, ...]:
    """The record of an ended span, made a CHAIN if an LLM call was counted right under it."""
    counted_below = llm_calls_under.pop(span_id, False) is None
    if record[_record.KIND] not in _LLM_KINDS:
        return record
    if parent_id:  # the count is below the parent too, whether it is this span or one under it
        note_llm_call_under(parent_id)
    return _as_chain(record) if counted_below else record


def count_once_in(items: list[tuple[tuple[Any, ...], int, int]]) -> list[tuple[Any, ...]]:
    """The same rule over a whole set of (record, span id, parent id), in any order (imports)."""
    parents = {parent for record, _, parent in items if parent and record[_record.KIND] in _LLM_KINDS}
    return [_as_chain(record) if span_id in parents and record[_record.KIND] in _LLM_KINDS else record
            for record, span_id, _ in items]


def _as_chain(record: tuple[Any, ...]) -> tuple[Any, ...]:
    fields = list(record)
    fields[_record.KIND] = "CHAIN"
    fields[_record.MODEL] = fields[_record.INPUT_TOKENS] = fields[_record.OUTPUT_TOKENS] = fields[_record.COST] = None
    return tuple(fields)
