"""A trace as static, script-free HTML and plain text: what a shared notebook still shows.

The explorer is a widget, and a widget needs a live kernel or widget JavaScript.
GitHub, nbviewer, an HTML export and a notebook reopened without a kernel show
the output's ``text/html`` (or ``text/plain``) instead, so every view also
carries this snapshot. It is built for those places: no ``<script>``, no
``<style>`` (GitHub strips both), meaning carried by semantic HTML —
nested ``<details>/<summary>`` lists for the span tree, ``<dl>`` for messages by
role, ``<pre>`` for text and JSON. The few inline styles are decoration only. Messages are the ones
the explorer shows (``_messages``); the spans and payloads come from ``_snapshot_tree``; an LLM
span reads ``model · operation`` with its markers and time to first token, as in the explorer
(``_calls``), its own name beside it; events are at their time after their span's start. Inputs and
outputs read as text and key/value lists (``_snapshot_values``); a run of repeated siblings is one
line with its totals, as in the explorer (``_snapshot_groups``). The spans on the critical path (they
set the trace's wall time: ``_snapshot_tree``) say ``critical path`` after their name, as the
explorer outlines their bars; a group says it when the path runs through it. No symbol needs a
special font: words, ASCII, colour and a few marks every common font draws (``tests/glyphs.py``
lists them).

Safety: every string from a trace goes through ``llmops_nb._html.escape``;
no attribute holds trace data except an escaped ``title``; nothing is a link or
an image. Size: the first ``MAX_SPANS`` rows (spans, groups) in tree order, at most
``MAX_BYTES`` of HTML, each text capped (the cap is stated where it cut).

>>> from llmops_nb.widgets.explorer._snapshot import trace_snapshot_html
>>> html = trace_snapshot_html(llmops_nb.traces().trace_id[0])  # doctest: +SKIP
"""

from __future__ import annotations

import math
from typing import Any

from ..._format import cost as cost_text
from ..._html import clean, escape
from ._calls import Call, event_offsets
from ._messages import normalize_messages
from ._snapshot_groups import Gap, Group, Row, gap_text, group_facts, grouped_rows
from ._snapshot_tree import FIELD_CHARS, MAX_SPANS, Payload, Payloads, Raw, Span, TraceTree, load
from ._snapshot_values import cap as _cap
from ._snapshot_values import duration as _duration
from ._snapshot_values import json_text as _json
from ._snapshot_values import plural as _plural
from ._snapshot_values import value_html

MAX_BYTES = 200_000  # whole HTML snapshot, UTF-8 bytes
SPAN_BYTES = 40_000  # one span's details; above it the span's texts are cut shorter
BRIEF_CHARS = 600  # a tool's or retriever's inputs and outputs
TRACEBACK_CHARS = 4_000  # the end of a traceback
MAX_NEST = 40  # deeper rows are listed at this nesting, marked with their real depth
_FOOTER_RESERVE = 1_000
_KEEP_HEAD, _KEEP_TAIL = 4, 12  # messages of a long conversation: the first and the last
_MAX_PARTS = 20  # content blocks or tool calls of one message
_LLM_KINDS = frozenset({"LLM", "CHAT_MODEL"})
_CLOSE_LEVEL = "</ul></details></li>\n"
_NESTED = '<ul style="list-style:none;padding-left:1.2em">\n'
_RED = "#cf222e"
_STATUS_COLOURS = {"OK": "#1a7f37", "ERROR": _RED}  # colour says it at a glance; the word says it anywhere
# a constant: no trace data in its attribute
_CRITICAL = '<strong title="on the critical path: sets the trace\'s wall time">critical path</strong>'
_LABELS = {"tool_result": "tool result", "thinking": "thinking", "refusal": "refusal", "media": "media",
           "other": "item"}


def trace_snapshot(trace_id: str) -> dict[str, str]:
    """``{"text/plain": ..., "text/html": ...}`` for a trace, reading the store once."""
    trace = load(trace_id)
    rows = grouped_rows(trace)  # once for both: grouping walks every span, not only the ones shown
    return {"text/plain": _text(trace, rows), "text/html": _html(trace, rows)}


def trace_snapshot_html(trace_id: str) -> str:
    """A self-contained, script-free HTML snapshot of a trace (at most ``MAX_BYTES``)."""
    return _html(load(trace_id))


def trace_snapshot_text(trace_id: str) -> str:
    """The trace as an indented plain-text tree: kind, name, duration, status, tokens, cost."""
    return _text(load(trace_id))


# -- HTML ------------------------------------------------------------------------------------

def _html(trace: TraceTree, entries: list[Row] | None = None) -> str:
    if trace.info is None:
        return (f"<p><strong>Trace {escape(trace.trace_id)} is not in the store (yet).</strong> Its spans may still "
                "be in memory: call <code>llmops_nb.flush()</code>, then display it again.</p>")
    out = ['<div class="llmops-nb-snapshot">\n', _header_html(trace), '<ul style="list-style:none;padding-left:0">\n']
    used = sum(len(part.encode()) for part in out) + len("</ul></div>\n")
    entries = grouped_rows(trace) if entries is None else entries
    payloads = Payloads(trace.trace_id, [r.item.span_id for r in entries[:MAX_SPANS] if isinstance(r.item, Span)])
    stack = 0  # open levels, each closed by _CLOSE_LEVEL
    shown = 0
    for i, row in enumerate(entries):
        level = min(row.level, MAX_NEST)
        opens = i + 1 < len(entries) and entries[i + 1].level > row.level and row.level < MAX_NEST
        chunk = _row_html(row, opens, payloads)
        closes = "".join(_CLOSE_LEVEL for _ in range(stack - level))
        size = len(chunk.encode()) + len(closes)
        after = (level + opens) * len(_CLOSE_LEVEL)
        if shown >= MAX_SPANS or used + size + after + _FOOTER_RESERVE > MAX_BYTES:
            break
        out += [closes, chunk]
        used += size
        stack = level + opens
        shown += 1
    out.append(_CLOSE_LEVEL * stack + "</ul>\n")
    hidden = _spans_in(entries[shown:])
    if hidden:
        out.append(f"<p><em>… {hidden:,} more span{'s' if hidden != 1 else ''} not shown (snapshot capped at "
                   f"{MAX_SPANS} spans / {MAX_BYTES // 1000} KB); open the trace with "
                   f"<code>llmops_nb.show('{escape(trace.trace_id)}')</code></em></p>\n")
    out.append("</div>\n")
    return "".join(out)


def _header_html(trace: TraceTree) -> str:
    info = trace.info or {}
    status = str(info["status"])
    colour = _STATUS_COLOURS.get(status)
    style = f' style="color:{colour}"' if colour else ""
    error = ""
    if info.get("error_message"):
        error = f'<br><strong>Error:</strong> {escape(_cap(str(info["error_message"]), FIELD_CHARS))}'
    name = escape(info["name"] or "(unnamed)")
    return (f"<p><strong{style}>{escape(status)}</strong> · trace <strong>{name}</strong>"
            f" · {escape(' · '.join(_totals(info)))}{error}{_assessments_html(trace)}<br>\n"
            f"<small>Static snapshot (first {MAX_SPANS} spans, texts capped at {FIELD_CHARS:,} chars; "
            "spans marked critical path set the trace's wall time). Interactive view: <code>llmops_nb.show("
            f"'{escape(trace.trace_id)}')</code></small></p>\n")


def _assessments_html(trace: TraceTree) -> str:
    """The trace's scores (evaluation, feedback, online judges), newest per name: ``correctness true (pass)``."""
    if not trace.assessments:
        return ""
    shown = []
    for name, value, passed, failed in trace.assessments:
        verdict = "error" if failed else "pass" if passed is True else "fail" if passed is False else None
        colour = _STATUS_COLOURS["OK"] if verdict == "pass" else _RED if verdict in ("fail", "error") else None
        mark = f' <strong style="color:{colour}">{verdict}</strong>' if verdict else ""
        shown.append(f"{escape(name)} {escape(value if value is not None else '–')}{mark}")
    return "<br><strong>Assessments:</strong> " + " · ".join(shown)


def _row_html(row: Row, opens: bool, payloads: Payloads) -> str:
    item = row.item
    if isinstance(item, Span):
        return _span_html(item, row, opens, payloads.get(item.span_id))
    if isinstance(item, Group):
        return _group_html(item, row, opens)
    return f"<li><em>{escape(gap_text(item))}</em></li>\n"


def _group_html(g: Group, row: Row, opens: bool) -> str:
    # `step ×100`, as the explorer's group row reads; closed, as the explorer shows it until clicked
    summary = (f"{_deep(row)}<code>{escape(g.kind)}</code> <b>{escape(g.name or '(unnamed)')}</b> ×{len(g.members):,}"
               f"{' · ' + _CRITICAL if g.critical else ''} · {escape(' · '.join(group_facts(g)))}")
    if not opens:
        return f"<li>• {summary}</li>\n"
    style = f' style="color:{_RED}"' if g.errors else ""
    return f"<li><details><summary{style}>{summary}</summary>\n{_NESTED}"


def _spans_in(entries: list[Row]) -> int:
    """How many spans ``entries`` stand for: a span one, a group none (its members are rows), a gap its spans."""
    return sum(1 if isinstance(r.item, Span) else r.item.spans if isinstance(r.item, Gap) else 0 for r in entries)


def _deep(row: Row) -> str:
    """What a row's place does not show: its real depth past ``MAX_NEST``, its place in its group."""
    deep = f"<small>[depth {row.depth}]</small> " if row.level > MAX_NEST else ""
    return deep + (f"<small>#{row.ordinal:,}</small> " if row.ordinal else "")


def _span_html(s: Span, row: Row, opens: bool, payload: Payload) -> str:
    depth = row.depth
    summary = f"<summary{_error_style(s)}>{_summary_html(s, row)}</summary>"
    body = ""
    for field_cap, brief_cap in ((FIELD_CHARS, BRIEF_CHARS), (400, 200), (100, 80)):
        body = _body_html(s, payload, field_cap, brief_cap)
        if len(body.encode()) <= SPAN_BYTES:
            break
    else:
        body = "<p><em>(this span's payloads are too large for the snapshot; see llmops_nb.show())</em></p>"
    is_open = " open" if depth == 0 or s.status == "ERROR" else ""
    if opens:
        return f"<li><details{is_open}>{summary}\n{body}{_NESTED}"
    if body:
        return f"<li><details{is_open}>{summary}\n{body}</details></li>\n"
    return f"<li>• {_summary_html(s, row)}</li>\n"


def _error_style(s: Span) -> str:
    return f' style="color:{_RED}"' if s.status == "ERROR" else ""


def _summary_html(s: Span, row: Row) -> str:
    parts = [escape(p) for p in _span_facts(s)]
    status: str = escape(s.status)
    if s.status == "ERROR":
        status = "<strong>ERROR</strong>" + (f": {escape(_one_line(s.message, 120))}" if s.message else "")
    # an LLM span reads `gpt-4o · chat (openai.chat.completions.create)`: its own name stays in sight,
    # as text (no attribute holds a string from the trace)
    label = s.call.label if s.call else None
    name = f"{escape(label)}</b> <small>({escape(s.name)})</small>" if label else f"{escape(s.name)}</b>"
    marks = "".join(f" <small>[{m}]</small>" for m in _markers(s.call))
    text = f"{_deep(row)}<code>{escape(s.kind)}</code> <b title=\"span {escape(s.span_id)}\">{name}{marks}"
    return " · ".join([text, *([_CRITICAL] if s.critical else []), parts[0], status, *parts[1:]])


def _markers(call: Call | None) -> list[str]:
    return [] if call is None else [m for m, on in (("stream", call.stream), ("async", call.is_async)) if on]


def _body_html(s: Span, payload: Payload, field_cap: int, brief_cap: int) -> str:
    error = payload.error
    out = []
    if s.status == "ERROR" or error:
        err = error if isinstance(error, dict) else {}
        text = f"{err.get('type') or 'Error'}: {err.get('message') or s.message or ''}"
        out.append(f"<p><strong>Error</strong> {escape(_cap(text, field_cap))}</p>\n")
        if err.get("traceback"):
            tb = _cap(str(err["traceback"]), TRACEBACK_CHARS if field_cap == FIELD_CHARS else field_cap, tail=True)
            out.append(f"<details><summary>traceback</summary><pre>{escape(tb)}</pre></details>\n")
    convo = _conversation(payload) if s.kind in _LLM_KINDS else None
    asked, answered = (convo["input"], convo["output"]) if convo else ([], [])
    if asked or answered:
        out.append(_messages_html(_shortened(asked), answered[:_KEEP_TAIL], field_cap))
    rows = [(label, value) for label, value, read in (("inputs", payload.inputs, asked),
                                                       ("outputs", payload.outputs, answered))
            if not read and value not in (None, "", [], {})]
    if rows:
        out.append("<dl>" + "".join(f"<dt>{label}</dt><dd>{value_html(v, field_cap, brief_cap)}</dd>"
                                    for label, v in rows) + "</dl>\n")
    out.append(_events_html(payload.events, s.start_ns, brief_cap))
    return "".join(out)


def _events_html(events: Any, start_ns: int, cap: int) -> str:
    """Each event at its time after the span's start (``+48.8 ms gen_ai.first_token``), its attributes
    briefly. An exception's event is left out: the error above says it, with its traceback."""
    if not isinstance(events, list):
        return ""
    shown = [e for e in event_offsets(events, start_ns) if isinstance(e, dict) and e.get("name") != "exception"]
    items = []
    for event in shown[:_MAX_PARTS]:
        offset = event.get("offset_ms")
        at = f"+{_duration(max(0.0, offset))} " if isinstance(offset, float) else ""
        attrs = event.get("attributes")
        more = f" <small>{escape(_cap(_json(attrs), cap))}</small>" if attrs else ""
        items.append(f"<li>{at}<code>{escape(str(event.get('name')))}</code>{more}</li>")
    if len(shown) > _MAX_PARTS:
        items.append(f"<li><em>… {len(shown) - _MAX_PARTS:,} more events not shown</em></li>")
    return f"<dl><dt>events</dt><dd><ul>{''.join(items)}</ul></dd></dl>\n" if items else ""


def _conversation(payload: Payload) -> dict[str, list[dict[str, Any]]] | None:
    # text that is not whole JSON (cut by the store or by RAW_CHARS) holds no conversation
    whole = [None if isinstance(v, Raw) else v for v in (payload.inputs, payload.outputs, payload.attributes)]
    return normalize_messages(*whole)


def _shortened(messages: list[dict[str, Any]]) -> list[dict[str, Any] | int]:
    """A long conversation as its first and last messages, and the count of those left out between."""
    if len(messages) <= _KEEP_HEAD + _KEEP_TAIL + 1:
        return list(messages)
    return [*messages[:_KEEP_HEAD], len(messages) - _KEEP_HEAD - _KEEP_TAIL, *messages[-_KEEP_TAIL:]]


def _messages_html(asked: list[dict[str, Any] | int], answered: list[dict[str, Any]], cap: int) -> str:
    rows = []
    for m, response in [(m, False) for m in asked] + [(m, True) for m in answered]:
        if isinstance(m, int):
            rows.append(f"<dt><em>… {_plural(m, 'message')} not shown (snapshot shows the first "
                        f"{_KEEP_HEAD} and last {_KEEP_TAIL})</em></dt>")
            continue
        parts = [_part_html(p, cap) for p in m["parts"][:_MAX_PARTS]]
        if len(m["parts"]) > _MAX_PARTS:
            parts.append(f"<div><em>… {len(m['parts']) - _MAX_PARTS:,} more parts not shown</em></div>")
        name = f" <small>{escape(m['name'])}</small>" if m.get("name") else ""
        rows.append(f"<dt><b>{escape(m['role'])}</b>{name}{' <small>(response)</small>' if response else ''}</dt>"
                    f"<dd>{''.join(parts) or '<em>(empty)</em>'}</dd>")
    return "<dl>" + "\n".join(rows) + "</dl>\n"


def _part_html(part: dict[str, Any], cap: int) -> str:
    ref = f" <small>{escape(part['id'])}</small>" if part.get("id") else ""
    kind = part["type"]
    if kind == "text":
        return f"<div>{_lines(_cap(part['text'], cap))}</div>"
    if kind == "tool_call":
        return (f"<div>→ tool call <code>{escape(part['name'])}</code>{ref}"
                f"<pre>{escape(_cap(part['arguments'], cap))}</pre></div>")
    if kind == "tool_result":
        label = "tool result (error)" if part["is_error"] else "tool result"
        return f"<div><em>{label}</em>{ref}<pre>{escape(_cap(part['content'], cap))}</pre></div>"
    if kind == "media":  # "[image]": what it is, never its URL or data
        return f"<div><em>{escape(part['text'])}</em></div>"
    return f"<div><em>{_LABELS.get(kind, 'item')}</em><pre>{escape(_cap(part['text'], cap))}</pre></div>"


# -- plain text ------------------------------------------------------------------------------

def _text(trace: TraceTree, entries: list[Row] | None = None) -> str:
    if trace.info is None:
        return f"Trace {trace.trace_id} is not in the store (yet): call llmops_nb.flush(), then display it again."
    info = trace.info
    lines = [f"{info['status']} · trace {clean(str(info['name'] or '(unnamed)'))!r} · "
             + " · ".join(_totals(info)) + f" · id {trace.trace_id}"]
    if info.get("error_message"):
        lines.append("  error: " + _one_line(str(info["error_message"]), 300))
    entries = grouped_rows(trace) if entries is None else entries
    for row in entries[:MAX_SPANS]:
        indent = "  " * (min(row.level, MAX_NEST) + 1) + (f"[depth {row.depth}] " if row.level > MAX_NEST else "")
        lines.append(indent + (f"#{row.ordinal:,} " if row.ordinal else "") + _row_text(row.item))
    hidden = _spans_in(entries[MAX_SPANS:])
    if hidden:
        lines.append(f"… {hidden:,} more span{'s' if hidden != 1 else ''} not shown (snapshot capped at {MAX_SPANS} "
                     f"spans); open the trace with llmops_nb.show('{trace.trace_id}')")
    return "\n".join(lines)


def _row_text(item: Span | Group | Gap) -> str:
    if isinstance(item, Group):
        return " · ".join([f"{item.kind} {_one_line(item.name or '(unnamed)', 120)} ×{len(item.members):,}",
                           *(["critical path"] if item.critical else []), *group_facts(item)])
    if isinstance(item, Gap):
        return clean(gap_text(item))
    status = item.status + (f": {_one_line(item.message, 120)}" if item.status == "ERROR" and item.message else "")
    facts = _span_facts(item)
    name = _one_line(item.name, 120)
    if item.call and item.call.label:
        name = f"{_one_line(item.call.label, 120)} ({name})"
    marks = "".join(f" [{m}]" for m in _markers(item.call))
    path = ["critical path"] if item.critical else []
    return " · ".join([f"{item.kind} {name}{marks}", *path, facts[0], status, *facts[1:]])


# -- shared formatting -----------------------------------------------------------------------

def _totals(info: dict[str, Any]) -> list[str]:
    def n(key: str) -> int:
        value = info.get(key)
        return 0 if value is None or (isinstance(value, float) and math.isnan(value)) else int(value)

    cost, duration = info.get("cost_usd"), info.get("duration_ms")
    parts = [_plural(n("span_count"), "span"), _plural(n("llm_calls"), "LLM call"),
             f"{n('input_tokens') + n('output_tokens'):,} tokens ({n('input_tokens'):,} in / "
             f"{n('output_tokens'):,} out)",
             "cost n/a" if cost is None or math.isnan(cost) else cost_text(cost),
             "running" if duration is None or math.isnan(duration) else _duration(duration),
             _plural(n("error_count"), "error"), _plural(n("dropped_spans"), "dropped span")]
    return parts


def _span_facts(s: Span) -> list[str]:
    """[duration, then the optional facts]: time to first token, tokens, cost, model (unless the
    label says it), rolled-up totals, errors below."""
    facts = [_duration((s.end_ns - s.start_ns) / 1e6)]
    if s.call and s.call.ttft_ms is not None:
        facts.append(f"TTFT {_duration(s.call.ttft_ms)}")
    if s.tokens_in or s.tokens_out:
        facts.append(f"{s.tokens_in:,} in / {s.tokens_out:,} out tokens")
    if s.cost is not None and not math.isnan(s.cost):
        facts.append(cost_text(s.cost))
    if s.model and not (s.call and s.call.label):
        facts.append(s.model)
    below = s.sub_tokens - s.tokens_in - s.tokens_out
    if s.children and (below or (s.sub_cost is not None and s.sub_cost != (s.cost or 0))):
        cost = "" if s.sub_cost is None else f" · {cost_text(s.sub_cost)}"
        facts.append(f"total {_plural(s.sub_tokens, 'token')}{cost}")
    if s.sub_errors:
        facts.append(f"{_plural(s.sub_errors, 'error')} inside")
    return facts


def _lines(text: str) -> str:
    return escape(text).replace("\n", "<br>\n")


def _one_line(text: str | None, limit: int) -> str:
    flat = " ".join(clean(text or "").split())
    return flat if len(flat) <= limit else flat[:limit] + "…"
