"""Write a batch of ended spans: one columnar insert, one upsert of trace totals.

Runs on the recorder's thread, never the caller's. Row-by-row inserts are
~700x slower in DuckDB, so the batch becomes one Arrow table per table.
Trace totals are computed per batch in Python and added to the trace's row
(``INSERT … ON CONFLICT DO UPDATE``), so a trace whose spans arrive over many
batches — or whose root is still open — always has correct running totals.
"""

from __future__ import annotations

import json
import os
from typing import Any

from .._config import settings
from ..tracing._span import Span, SpanKind
from ._connection import get_store

_SPAN_COLUMNS = (
    "trace_id", "span_id", "parent_span_id", "name", "kind", "start_ns", "end_ns", "status", "status_message",
    "error", "inputs", "outputs", "attributes", "events", "model", "input_tokens", "output_tokens", "cost_usd",
)
_TRACE_COLUMNS = (
    "trace_id", "name", "status", "start_ns", "end_ns", "span_count", "llm_calls", "error_count", "input_tokens",
    "output_tokens", "cost_usd", "dropped_spans", "tags", "session", "cell", "request_preview", "response_preview",
    "error_message",
)
_PREVIEW_CHARS = 300

_UPSERT_TRACES = f"""
INSERT INTO traces ({", ".join(_TRACE_COLUMNS)}) SELECT {", ".join(_TRACE_COLUMNS)} FROM _batch_traces
ON CONFLICT (trace_id) DO UPDATE SET
    name = COALESCE(EXCLUDED.name, traces.name),
    status = COALESCE(EXCLUDED.status, traces.status),
    start_ns = LEAST(EXCLUDED.start_ns, traces.start_ns),
    end_ns = COALESCE(EXCLUDED.end_ns, traces.end_ns),
    span_count = traces.span_count + EXCLUDED.span_count,
    llm_calls = traces.llm_calls + EXCLUDED.llm_calls,
    error_count = traces.error_count + EXCLUDED.error_count,
    input_tokens = traces.input_tokens + EXCLUDED.input_tokens,
    output_tokens = traces.output_tokens + EXCLUDED.output_tokens,
    cost_usd = CASE WHEN EXCLUDED.cost_usd IS NULL THEN traces.cost_usd
                    ELSE COALESCE(traces.cost_usd, 0) + EXCLUDED.cost_usd END,
    dropped_spans = traces.dropped_spans + EXCLUDED.dropped_spans,
    tags = COALESCE(EXCLUDED.tags, traces.tags),
    session = COALESCE(EXCLUDED.session, traces.session),
    cell = COALESCE(EXCLUDED.cell, traces.cell),
    request_preview = COALESCE(EXCLUDED.request_preview, traces.request_preview),
    response_preview = COALESCE(EXCLUDED.response_preview, traces.response_preview),
    error_message = COALESCE(EXCLUDED.error_message, traces.error_message)
"""


def write_spans(batch: list[Span], drops: dict[int, int] | None = None) -> None:
    """Persist ``batch`` and the drop counts in one short transaction."""
    span_cols, trace_cols = _columns(batch, drops or {})
    span_table = _arrow_table(span_cols, _span_schema)
    trace_table = _arrow_table(trace_cols, _trace_schema)
    store = get_store()
    with store.connect() as con:
        con.execute("BEGIN TRANSACTION")
        try:
            if len(batch):
                con.register("_batch_spans", span_table)
                con.execute(f"INSERT INTO spans ({', '.join(_SPAN_COLUMNS)}) "
                            f"SELECT {', '.join(_SPAN_COLUMNS)} FROM _batch_spans")
                con.unregister("_batch_spans")
            if trace_table.num_rows:
                con.register("_batch_traces", trace_table)
                con.execute(_UPSERT_TRACES)
                con.unregister("_batch_traces")
            if drops:
                con.executemany(
                    "INSERT INTO dropped_spans (trace_id, count, process_id) VALUES (?, ?, ?)",
                    [[f"{key:032x}", count, os.getpid()] for key, count in drops.items()],
                )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise


def _arrow_table(cols: dict[str, list[Any]], schema: Any) -> Any:
    import pyarrow as pa

    try:
        return pa.table(cols, schema=schema(pa))
    except (UnicodeEncodeError, pa.ArrowException):
        # Rare: a lone surrogate somewhere (DuckDB needs valid UTF-8). Checking every
        # string up front would cost every batch; repair only the batch that needs it.
        for values in cols.values():
            for index, value in enumerate(values):
                if type(value) is str:
                    values[index] = _text(value)
        return pa.table(cols, schema=schema(pa))


def _columns(batch: list[Span], drops: dict[int, int]) -> tuple[dict[str, list[Any]], dict[str, list[Any]]]:
    """One pass over the batch: span rows, and per-trace totals from the same typed values."""
    cols: dict[str, list[Any]] = {name: [] for name in _SPAN_COLUMNS}
    (trace_id, span_id, parent, name, kind, start, end, status, message, error, inputs, outputs, attributes,
     events, model, in_tok, out_tok, cost) = cols.values()
    dumps = _dumps
    llm_kinds = SpanKind.LLM_CALLS
    totals: dict[int, list[Any]] = {}
    for span in batch:
        attrs = span.attributes
        tid = span.trace_id_int
        trace_id.append(f"{tid:032x}")
        span_id.append(f"{span.span_id_int:016x}")
        parent.append(f"{span.parent_id_int:016x}" if span.parent_id_int else None)
        name.append(span.name if type(span.name) is str else str(span.name))
        kind.append(span.kind)
        start.append(span.start_ns)
        end.append(span.end_ns)
        status.append(span.status)
        message.append(None if span.status_message is None else str(span.status_message))
        error.append(dumps(span.error) if span.error else None)
        inputs.append(span.inputs)
        outputs.append(span.outputs)
        events.append(dumps([{"name": n, "time_ns": t, "attributes": a} for n, t, a in span.events])
                      if span.events else None)
        if attrs:
            attributes.append(_capped_attributes(attrs))
            got = attrs.get("gen_ai.response.model") or attrs.get("gen_ai.request.model")
            model.append(None if got is None else str(got))
            got = attrs.get("gen_ai.usage.input_tokens")
            span_in = got if type(got) is int else _int_or_none(got)
            got = attrs.get("gen_ai.usage.output_tokens")
            span_out = got if type(got) is int else _int_or_none(got)
            span_cost = _float_or_none(attrs.get("llmops_nb.cost_usd"))
        else:
            attributes.append(None)
            model.append(None)
            span_in = span_out = span_cost = None
        in_tok.append(span_in)
        out_tok.append(span_out)
        cost.append(span_cost)
        row = totals.get(tid)
        if row is None:
            # start, span_count, llm_calls, error_count, in_tok, out_tok, cost, root
            row = totals[tid] = [span.start_ns, 0, 0, 0, 0, 0, None, None]
        elif span.start_ns < row[0]:
            row[0] = span.start_ns
        row[1] += 1
        if span.kind in llm_kinds:
            row[2] += 1
        if span.status == "ERROR":
            row[3] += 1
        if span_in:
            row[4] += span_in
        if span_out:
            row[5] += span_out
        if span_cost is not None:
            row[6] = (row[6] or 0.0) + span_cost
        if span.is_root:
            row[7] = span
    return cols, _trace_columns(totals, drops)


def _trace_columns(totals: dict[int, list[Any]], drops: dict[int, int]) -> dict[str, list[Any]]:
    for key in drops:
        totals.setdefault(key, [None, 0, 0, 0, 0, 0, None, None])
    cols: dict[str, list[Any]] = {name: [] for name in _TRACE_COLUMNS}
    for key, (start, count, llm, errors, in_tok, out_tok, cost, root) in totals.items():
        meta = (root.trace_meta or {}) if root is not None else {}
        cols["trace_id"].append(f"{key:032x}")
        cols["name"].append(str(root.name) if root else None)
        cols["status"].append(root.status if root else None)
        cols["start_ns"].append(root.start_ns if root else start)
        cols["end_ns"].append(root.end_ns if root else None)
        cols["span_count"].append(count)
        cols["llm_calls"].append(llm)
        cols["error_count"].append(errors)
        cols["input_tokens"].append(in_tok)
        cols["output_tokens"].append(out_tok)
        cols["cost_usd"].append(cost)
        cols["dropped_spans"].append(drops.get(key, 0))
        cols["tags"].append(_dumps(meta["tags"]) if meta.get("tags") else None)
        cols["session"].append(_str_or_none(meta.get("session")))
        cols["cell"].append(_dumps(meta["cell"]) if meta.get("cell") else None)
        cols["request_preview"].append(_preview(root.inputs) if root else None)
        cols["response_preview"].append(_preview(root.outputs) if root else None)
        cols["error_message"].append(str(root.status_message) if root and root.status == "ERROR" else None)
    return cols


def _span_schema(pa: Any) -> Any:
    text, big = pa.string(), pa.int64()
    types = {"start_ns": big, "end_ns": big, "input_tokens": big, "output_tokens": big, "cost_usd": pa.float64()}
    return pa.schema([(name, types.get(name, text)) for name in _SPAN_COLUMNS])


def _trace_schema(pa: Any) -> Any:
    ints = {"start_ns", "end_ns", "span_count", "llm_calls", "error_count", "input_tokens", "output_tokens",
            "dropped_spans"}
    return pa.schema([(name, pa.int64() if name in ints else pa.float64() if name == "cost_usd" else pa.string())
                      for name in _TRACE_COLUMNS])


def _dumps(value: Any) -> str:
    try:
        return _encode(value)
    except (TypeError, ValueError):  # cycles, exotic keys: the safe serializer handles anything
        from ..tracing._serialize import to_json

        return to_json(value, 1_000_000)[0]


def _capped_attributes(attrs: dict[str, Any]) -> str:
    text = _dumps(attrs)
    cap = settings.max_payload_chars
    if len(text) > cap:
        from ..tracing._serialize import to_json

        text = _text(to_json(attrs, cap)[0])
    return text


def _fallback(value: Any) -> Any:
    from ..tracing._serialize import to_json

    return json.loads(to_json(value, 100_000)[0])


# Built once: json.dumps(..., default=...) constructs a new encoder on every call.
_encode = json.JSONEncoder(ensure_ascii=False, default=_fallback).encode


def _text(value: Any) -> str:
    """Valid UTF-8 text: lone surrogates (which DuckDB rejects) become U+FFFD."""
    text = value if type(value) is str else str(value)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return text


def _preview(payload: str | None) -> str | None:
    if not payload:
        return None
    return _text(payload[:_PREVIEW_CHARS])


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value) if value is not None and not isinstance(value, bool) else None
    except (TypeError, ValueError):
        return None


def _float_or_none(value: Any) -> float | None:
    try:
        return float(value) if value is not None and not isinstance(value, bool) else None
    except (TypeError, ValueError):
        return None


def _str_or_none(value: Any) -> str | None:
    return _text(value) if value is not None else None
