"""The DuckDB reads behind the views: one small, parameterized query per request.

Views never receive whole tables. ``skeleton`` is everything the tree and the
waterfall need for every span (light columns only, columnar, low-cardinality
columns dictionary-encoded) and the trace's critical path, so a 10,000-span trace
opens with one message; ``span`` is one span's payloads, fetched when it is
selected, with its conversation already read into messages (``_messages``) so the
browser only renders; ``search`` returns only matching span ids. Everything
returned is plain JSON (no NaN: the browser's ``JSON.parse`` rejects it).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

from ...store._connection import get_store
from ...store._queries import trace_spans_filter
from ._calls import CALL_COLUMNS, call_of, event_offsets
from ._messages import normalize_messages

#: Each payload field (inputs, outputs, attributes, events, error) sent to the browser is cut at this
#: many characters of JSON; the response states the cut in ``truncated``.
FIELD_CAP_CHARS = 1_000_000
MAX_SEARCH_CHARS = 1_000

_SKELETON_SQL = f"""
SELECT span_id, parent_span_id, name, kind, start_ns, end_ns, status, model,
       input_tokens, output_tokens, cost_usd, {CALL_COLUMNS}
FROM spans WHERE {{where}} ORDER BY start_ns, span_id
"""
_TRACE_SQL = """
SELECT name, status, start_ns, end_ns, span_count, llm_calls, error_count, input_tokens, output_tokens,
       cost_usd, dropped_spans, tags, session, error_message
FROM traces WHERE trace_id = ?
"""
_TRACE_FIELDS = ("name", "status", "start_ns", "end_ns", "span_count", "llm_calls", "error_count",
                 "input_tokens", "output_tokens", "cost_usd", "dropped_spans", "tags", "session",
                 "error_message")
_SPAN_SQL = """
SELECT span_id, parent_span_id, name, kind, start_ns, end_ns, status, status_message, model,
       input_tokens, output_tokens, cost_usd, inputs, outputs, attributes, events, error
FROM spans WHERE {where} AND span_id = ? LIMIT 1
"""
_SPAN_FIELDS = ("span_id", "parent_span_id", "name", "kind", "start_ns", "end_ns", "status", "status_message",
                "model", "input_tokens", "output_tokens", "cost_usd")
_PAYLOAD_FIELDS = ("inputs", "outputs", "attributes", "events", "error")
# A span's assessments: on the root, the trace's own (evaluation's scores, human feedback, online judges);
# on any span, those an online judge made of that span alone (assessments.target_span_id). Newest first.
_ASSESSMENTS_SQL = """
SELECT name, source_type, source_id, value, passed, rationale, error, created_at
FROM assessments WHERE trace_id = ? AND (target_span_id = ? OR (? AND target_span_id IS NULL))
ORDER BY created_at DESC, name LIMIT 200
"""
_SEARCH_COLUMNS = ("name", "inputs", "outputs", "attributes", "error", "status_message")


def check_trace_id(value: Any) -> str:
    if not isinstance(value, str) or len(value) != 32 or any(ch not in "0123456789abcdef" for ch in value):
        raise ValueError(f"trace_id must be 32 lowercase hex characters, got {value!r}.")
    return value


def check_span_id(value: Any) -> str:
    if not isinstance(value, str) or len(value) != 16 or any(ch not in "0123456789abcdef" for ch in value):
        raise ValueError(f"span_id must be 16 lowercase hex characters, got {value!r}.")
    return value


def skeleton(trace_id: str) -> dict[str, Any]:
    """The trace's facts and every span's light columns, as parallel arrays in start order.

    ``parent`` holds the parent's *index* in these arrays (-1 for a root or a span
    whose parent is not in the store), so the browser builds the tree without a map.
    ``kind``/``status``/``model``/``label`` are ``{"codes", "values"}``; a mostly-empty column
    (tokens, cost, the LLM calls' ``stream``/``is_async`` flags and ``ttft_ms``) is
    ``{"at": [indices], "values"}`` and every other index means "none". ``label`` is an LLM span's
    ``model · operation`` (``_calls``), None for the others.

    ``critical_path`` lists the span ids of the trace's critical path, root first: the chain of spans
    that sets its wall time (``llmops_nb.agents._hotspots.critical_path_by_index`` holds the rule, which
    ``hotspots().critical_path()`` shares); empty for a trace without spans.
    """
    from ...agents._hotspots import critical_path_by_index  # here: importing agents (and evals) costs ~60 ms, once

    trace_id = check_trace_id(trace_id)
    with get_store().connect() as con:
        trace_row = con.execute(_TRACE_SQL, [trace_id]).fetchone()
        where, params = trace_spans_filter(con, trace_id)
        rows = con.execute(_SKELETON_SQL.format(where=where), params).fetchall()
    if trace_row is None and not rows:
        raise LookupError(f"Trace {trace_id} is not in the store (yet). If it just ran, call llmops_nb.flush().")
    info = dict(zip(_TRACE_FIELDS, trace_row, strict=True)) if trace_row else {}
    starts = [r[4] for r in rows]
    t0 = min([*starts, info["start_ns"]] if info.get("start_ns") is not None else starts or [0])
    index = {r[0]: i for i, r in enumerate(rows)}
    parents = []
    for i, r in enumerate(rows):
        p = index.get(r[1], -1) if r[1] is not None else -1
        parents.append(-1 if p == i else p)
    ends = [r[5] for r in rows]
    calls = [call_of(r[3], r[2], r[7], r[11], r[12]) for r in rows]
    end_ns = info.get("end_ns") or max(ends, default=t0)
    span_ids = [r[0] for r in rows]
    path = critical_path_by_index(parents, span_ids, starts, ends, [r[3] for r in rows])  # ~1 ms / 10,000 spans
    return {
        "trace": {
            "trace_id": trace_id,
            "name": info.get("name") or (rows[0][2] if rows else None),
            "status": info.get("status") or "IN_PROGRESS",
            "start_time": _iso(t0),
            "duration_ms": _ms(end_ns - t0),
            "span_count": len(rows),
            "llm_calls": info.get("llm_calls"),
            "error_count": info.get("error_count"),
            "input_tokens": info.get("input_tokens"),
            "output_tokens": info.get("output_tokens"),
            "cost_usd": _finite(info.get("cost_usd")),
            "dropped_spans": info.get("dropped_spans") or 0,
            "tags": _loads(info.get("tags")),
            "session": info.get("session"),
            "error_message": info.get("error_message"),
        },
        "spans": {
            "count": len(rows),
            "span_id": span_ids,
            "parent": parents,
            "name": [r[2] for r in rows],
            "kind": _dictionary([r[3] for r in rows]),
            "status": _dictionary([r[6] for r in rows]),
            "model": _dictionary([r[7] for r in rows]),
            "start_ms": [_ms(s - t0) for s in starts],
            "duration_ms": [_ms(e - s) for s, e in zip(starts, ends, strict=True)],
            "input_tokens": _sparse([r[8] for r in rows]),
            "output_tokens": _sparse([r[9] for r in rows]),
            "cost_usd": _sparse([_finite(r[10]) for r in rows]),
            "label": _dictionary([c.label if c else None for c in calls]),
            "stream": _sparse([True if c and c.stream else None for c in calls]),
            "is_async": _sparse([True if c and c.is_async else None for c in calls]),
            "ttft_ms": _sparse([c.ttft_ms if c else None for c in calls]),
        },
        "critical_path": [rows[i][0] for i in path],
    }


def span(trace_id: str, span_id: str, cap_chars: int = FIELD_CAP_CHARS) -> dict[str, Any]:
    """One span with its payloads parsed; a payload over ``cap_chars`` comes back as its first
    ``cap_chars`` characters of JSON text, described in ``truncated``. ``messages`` is the span's
    conversation (``{"input", "output"}``, see ``_messages``) or None."""
    trace_id, span_id = check_trace_id(trace_id), check_span_id(span_id)
    with get_store().connect() as con:
        where, params = trace_spans_filter(con, trace_id)
        row = con.execute(_SPAN_SQL.format(where=where), [*params, span_id]).fetchone()
        if row is None:
            raise LookupError(f"Span {span_id} of trace {trace_id} is not in the store.")
        is_root = row[1] is None
        scored = con.execute(_ASSESSMENTS_SQL, [trace_id, span_id, is_root]).fetchall()
    data: dict[str, Any] = dict(zip(_SPAN_FIELDS, row[: len(_SPAN_FIELDS)], strict=True))
    start_ns, end_ns = data.pop("start_ns"), data.pop("end_ns")
    data["start_time"] = _iso(start_ns)
    data["duration_ms"] = _ms(end_ns - start_ns)
    data["cost_usd"] = _finite(data["cost_usd"])
    truncated = {}
    for field, text in zip(_PAYLOAD_FIELDS, row[len(_SPAN_FIELDS):], strict=True):
        if text is not None and len(text) > cap_chars:
            data[field] = text[:cap_chars]
            truncated[field] = {"original_chars": len(text), "cap_chars": cap_chars}
        else:
            data[field] = _loads(text)
    if "events" not in truncated:
        data["events"] = event_offsets(data["events"], start_ns)  # "+182 ms", not an epoch in ns
    data["truncated"] = truncated
    data["cap_chars"] = cap_chars
    # a cut payload is JSON text, not a payload: no conversation is read from it
    whole = {f: None if f in truncated else data[f] for f in ("inputs", "outputs", "attributes")}
    data["messages"] = normalize_messages(whole["inputs"], whole["outputs"], whole["attributes"])
    data["assessments"] = [assessment_of(found) for found in scored]
    return data


def assessment_of(row: tuple[Any, ...]) -> dict[str, Any]:
    """One assessment as the views show it (plain JSON: the value parsed, the time as ISO text)."""
    name, source, source_id, value, passed, rationale, error, created_at = row
    return {"name": name, "source": source, "source_id": source_id, "value": _finite(_loads(value)),
            "passed": passed, "rationale": rationale, "error": error,
            "created_at": created_at.isoformat(timespec="seconds") if created_at is not None else None}


def search(trace_id: str, text: str) -> dict[str, Any]:
    """Ids of the spans whose name, inputs, outputs, attributes, error or status message contain
    ``text`` (case-insensitive), in start order."""
    trace_id = check_trace_id(trace_id)
    if not isinstance(text, str):
        raise ValueError(f"search text must be a string, got {type(text).__name__}.")
    if len(text) > MAX_SEARCH_CHARS:
        raise ValueError(f"search text is {len(text)} characters; at most {MAX_SEARCH_CHARS} are searched.")
    if not text.strip():
        return {"text": text, "span_ids": []}
    # Payloads are JSON text: a quote, backslash or newline is stored escaped, so look for that too.
    variants = list(dict.fromkeys([text, json.dumps(text, ensure_ascii=False)[1:-1]]))
    clauses, params = [], [trace_id]
    for variant in variants:
        pattern = "%" + variant.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        for column in _SEARCH_COLUMNS:
            clauses.append(f"{column} ILIKE ? ESCAPE '\\'")
            params.append(pattern)
    query = f"SELECT span_id FROM spans WHERE trace_id = ? AND ({' OR '.join(clauses)}) ORDER BY start_ns, span_id"
    with get_store().connect() as con:
        rows = con.execute(query, params).fetchall()
    return {"text": text, "span_ids": list(dict.fromkeys(r[0] for r in rows))}


def _dictionary(values: list[Any]) -> dict[str, list[Any]]:
    # kind, status and model repeat across thousands of spans: send each distinct value once
    codes: dict[Any, int] = {}
    return {"codes": [codes.setdefault(v, len(codes)) for v in values], "values": list(codes)}


def _sparse(values: list[Any]) -> list[Any] | dict[str, list[Any]]:
    # usage and cost exist on the LLM spans only, often a tenth of an agent trace: send those alone
    at = [i for i, v in enumerate(values) if v is not None]
    if len(at) * 2 >= len(values):
        return values
    return {"at": at, "values": [values[i] for i in at]}


def _ms(ns: int | None) -> float | None:
    return None if ns is None else round(ns / 1e6, 3)


def _iso(ns: int | None) -> str | None:
    if ns is None:
        return None
    return dt.datetime.fromtimestamp(ns / 1e9, tz=dt.timezone.utc).isoformat(timespec="milliseconds")


def _finite(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _loads(text: str | None) -> Any:
    if text is None:
        return None
    try:
        # NaN and ±Infinity stay readable as strings instead of becoming invalid JSON for the browser
        return json.loads(text, parse_constant=str, parse_float=_parse_float)
    except ValueError:
        return text


def _parse_float(text: str) -> float | str:
    value = float(text)
    return value if math.isfinite(value) else text  # 1e999 overflows to inf
