"""A trace read for its snapshot: every span's light columns in tree order, with rolled-up totals,
and the payloads of the shown spans read in small batches as the renderer reaches them.

The snapshot (``_snapshot``) only renders what this module reads; ``MAX_SPANS`` spans at most are
rendered, so only their payloads are read, 16 at a time, each field cut at ``RAW_CHARS``. The spans
on the trace's critical path are marked (``Span.critical``) by the rule the live view's skeleton
uses (``llmops_nb.agents._hotspots.critical_path_of``).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from ...store._connection import get_store
from ._calls import CALL_COLUMNS, Call, call_of
from ._data import check_trace_id

MAX_SPANS = 200  # spans shown in full, in tree order
FIELD_CHARS = 2_000  # one message, argument list or error message
RAW_CHARS = 400_000  # payload text read per field (the store caps payloads at 200k by default)


@dataclass
class Span:
    span_id: str
    parent: str | None
    name: str
    kind: str
    start_ns: int
    end_ns: int
    status: str
    message: str | None
    model: str | None
    tokens_in: int
    tokens_out: int
    cost: float | None
    call: Call | None = field(default=None, kw_only=True)  # an LLM span's label, markers and time to first token
    children: list[Span] = field(default_factory=list)
    critical: bool = False  # on the trace's critical path: it sets the trace's wall time
    sub_tokens: int = 0  # this span's and its descendants' tokens
    sub_cost: float | None = None
    sub_errors: int = 0  # errors among descendants


@dataclass
class TraceTree:
    trace_id: str
    info: dict[str, Any] | None
    order: list[tuple[Span, int]]  # every span, tree order, with its depth
    #: the trace's own assessments, newest per name: (name, value JSON, passed, error)
    assessments: list[tuple[Any, ...]] = field(default_factory=list)


def load(trace_id: Any) -> TraceTree:
    from ...agents._hotspots import critical_path_of

    trace_id = check_trace_id(trace_id)
    columns = ("name", "status", "duration_ms", "span_count", "llm_calls", "input_tokens", "output_tokens",
               "cost_usd", "error_count", "dropped_spans", "error_message")
    with get_store().connect() as con:
        row = con.execute(
            "SELECT left(name, 300), COALESCE(status, 'IN_PROGRESS'), (end_ns - start_ns) / 1e6, span_count, "
            "llm_calls, input_tokens, output_tokens, cost_usd, error_count, dropped_spans, left(error_message, ?) "
            "FROM traces WHERE trace_id = ?", [FIELD_CHARS + 1, trace_id]).fetchone()
        rows = con.execute(
            "SELECT span_id, parent_span_id, left(name, 300), kind, start_ns, end_ns, status, "
            "left(status_message, ?), left(model, 100), COALESCE(input_tokens, 0), COALESCE(output_tokens, 0), "
            f"cost_usd, {CALL_COLUMNS} FROM spans WHERE trace_id = ? ORDER BY start_ns, span_id",
            [FIELD_CHARS + 1, trace_id]).fetchall()
        scored = con.execute(
            "SELECT left(name, 100), left(value, 100), passed, error IS NOT NULL FROM assessments "
            "WHERE trace_id = ? AND target_span_id IS NULL "
            "QUALIFY row_number() OVER (PARTITION BY name ORDER BY created_at DESC) = 1 ORDER BY name LIMIT 20",
            [trace_id]).fetchall()
    spans = [Span(*r[:12], call=call_of(r[3], r[2], r[8], r[12], r[13])) for r in rows]
    for i in critical_path_of([r[0] for r in rows], [r[1] for r in rows], [r[4] for r in rows], [r[5] for r in rows],
                              [r[3] for r in rows]):
        spans[i].critical = True
    return TraceTree(trace_id, None if row is None else dict(zip(columns, row, strict=True)), _tree_order(spans),
                     scored)


def _tree_order(spans: list[Span]) -> list[tuple[Span, int]]:
    by_id = {s.span_id: s for s in spans}
    roots: list[Span] = []
    for s in spans:  # already in start order, so children are too
        parent = by_id.get(s.parent) if s.parent else None
        (parent.children if parent is not None and parent is not s else roots).append(s)
    order: list[tuple[Span, int]] = []
    stack = [(s, 0) for s in reversed(roots)]
    seen: set[str] = set()
    while stack:  # iterative: a 20k-deep chain must not hit the recursion limit
        s, depth = stack.pop()
        if s.span_id in seen:
            continue
        seen.add(s.span_id)
        order.append((s, depth))
        stack.extend((c, depth + 1) for c in reversed(s.children))
    for s, _ in reversed(order):  # children before parents: roll totals up
        s.sub_tokens += s.tokens_in + s.tokens_out
        if s.cost is not None and not math.isnan(s.cost):
            s.sub_cost = (s.sub_cost or 0.0) + s.cost
        parent = by_id.get(s.parent) if s.parent else None
        if parent is not None and parent is not s:
            parent.sub_tokens += s.sub_tokens
            parent.sub_errors += s.sub_errors + (s.status == "ERROR")
            if s.sub_cost is not None:
                parent.sub_cost = (parent.sub_cost or 0.0) + s.sub_cost
    return order


class Payloads:
    """Inputs, outputs, error, attributes and events of the spans to show (``span_ids``), read in small batches
    as the renderer reaches them; each is parsed JSON, a :class:`Raw` text, or None."""

    BATCH = 16

    def __init__(self, trace_id: str, span_ids: list[str]) -> None:
        self.trace_id = trace_id
        self.ids = span_ids  # in the order the renderer reaches them
        self.next = 0
        self.rows: dict[str, Payload] = {}

    def get(self, span_id: str) -> Payload:
        while span_id not in self.rows and self.next < len(self.ids):
            batch = self.ids[self.next:self.next + self.BATCH]
            self.next += self.BATCH
            with get_store().connect() as con:
                found = con.execute(
                    "SELECT span_id, left(inputs, ?), left(outputs, ?), left(error, ?), left(attributes, ?), "
                    "left(events, ?) FROM spans WHERE trace_id = ? AND list_contains(?, span_id)",
                    [*[RAW_CHARS + 1] * 5, self.trace_id, batch]).fetchall()
            for sid, *raw in found:
                self.rows[sid] = Payload(*(parse_payload(text) for text in raw))
        return self.rows.get(span_id, Payload(None, None, None, None, None))


@dataclass
class Payload:
    inputs: Any
    outputs: Any
    error: Any
    attributes: Any
    events: Any


def parse_payload(text: str | None) -> Any:
    if text is None:
        return None
    if len(text) > RAW_CHARS:  # too long to be whole JSON: show its start as text
        return Raw(text[:RAW_CHARS])
    try:
        return json.loads(text)
    except ValueError:
        return Raw(text)


class Raw(str):
    """Payload text that is not (complete) JSON."""
