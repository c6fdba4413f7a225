"""A trace as static, script-free HTML and plain text: what a shared notebook still shows.

The explorer is a widget, and a widget needs a live kernel or widget JavaScript.
GitHub, nbviewer, an HTML export and a notebook reopened without a kernel show
the output's ``text/html`` (or ``text/plain``) instead, so every view also
carries this snapshot. It is built for those places: no ``<script>``, no
``<style>`` (GitHub strips both), meaning carried by semantic HTML —
nested ``<details>/<summary>`` lists for the span tree, ``<dl>`` for messages by
role, ``<pre>`` for JSON. The few inline styles are decoration only.

Safety: every string from a trace goes through ``html.escape(..., quote=True)``;
no attribute holds trace data except an escaped ``title``; nothing is a link or
an image. Size: the first ``MAX_SPANS`` spans in tree order, at most
``MAX_BYTES`` of HTML, each text capped (the cap is stated where it cut).

>>> from llmops_nb.widgets._snapshot import trace_snapshot_html
>>> html = trace_snapshot_html(llmops_nb.traces().trace_id[0])  # doctest: +SKIP
"""

from __future__ import annotations

import html
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

MAX_SPANS = 200  # spans shown in full, in tree order
MAX_BYTES = 200_000  # whole HTML snapshot, UTF-8 bytes
SPAN_BYTES = 40_000  # one span's details; above it the span's texts are cut shorter
FIELD_CHARS = 2_000  # one message, argument list or error message
BRIEF_CHARS = 600  # a tool's or retriever's inputs and outputs
TRACEBACK_CHARS = 4_000  # the end of a traceback
MAX_NEST = 40  # deeper spans are listed at this depth, marked with their real depth
_RAW_CHARS = 400_000  # payload text read per field (the store caps payloads at 200k by default)
_FOOTER_RESERVE = 1_000
_KEEP_HEAD, _KEEP_TAIL = 4, 12  # messages of a long conversation: the first and the last
_MAX_PARTS = 20  # content blocks or tool calls of one message
_LLM_KINDS = frozenset({"LLM", "CHAT_MODEL"})
_CUT_JSON = re.compile(r"… \[truncated at \d+ chars\]$")  # a payload the store cut: JSON text, not a reply
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CLOSE_LEVEL = "</ul></details></li>\n"


@dataclass
class _Span:
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
    children: list[_Span] = field(default_factory=list)
    sub_tokens: int = 0  # this span's and its descendants' tokens
    sub_cost: float | None = None
    sub_errors: int = 0  # errors among descendants


@dataclass
class _Trace:
    trace_id: str
    info: dict[str, Any] | None
    order: list[tuple[_Span, int]]  # every span, tree order, with its depth


def trace_snapshot(trace_id: str) -> dict[str, str]:
    """``{"text/plain": ..., "text/html": ...}`` for a trace, reading the store once."""
    trace = _load(trace_id)
    return {"text/plain": _text(trace), "text/html": _html(trace)}


def trace_snapshot_html(trace_id: str) -> str:
    """A self-contained, script-free HTML snapshot of a trace (at most ``MAX_BYTES``)."""
    return _html(_load(trace_id))


def trace_snapshot_text(trace_id: str) -> str:
    """The trace as an indented plain-text tree: kind, name, duration, status, tokens, cost."""
    return _text(_load(trace_id))


# -- reading the store -----------------------------------------------------------------------

def _load(trace_id: Any) -> _Trace:
    from ..store._connection import get_store
    from ..store._queries import _check_trace_id

    trace_id = _check_trace_id(trace_id)
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
            "cost_usd FROM spans WHERE trace_id = ? ORDER BY start_ns, span_id", [FIELD_CHARS + 1, trace_id]
        ).fetchall()
    spans = [_Span(*r) for r in rows]
    return _Trace(trace_id, None if row is None else dict(zip(columns, row, strict=True)), _tree_order(spans))


def _tree_order(spans: list[_Span]) -> list[tuple[_Span, int]]:
    by_id = {s.span_id: s for s in spans}
    roots = []
    for s in spans:  # already in start order, so children are too
        parent = by_id.get(s.parent) if s.parent else None
        (parent.children if parent is not None and parent is not s else roots).append(s)
    order: list[tuple[_Span, int]] = []
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


class _Payloads:
    """Inputs, outputs and error of shown spans, read in small batches as the renderer reaches them."""

    BATCH = 16

    def __init__(self, trace: _Trace) -> None:
        self.trace_id = trace.trace_id
        self.ids = [s.span_id for s, _ in trace.order[:MAX_SPANS]]
        self.next = 0
        self.rows: dict[str, tuple[Any, Any, Any]] = {}

    def get(self, span_id: str) -> tuple[Any, Any, Any]:
        while span_id not in self.rows and self.next < len(self.ids):
            from ..store._connection import get_store

            batch = self.ids[self.next:self.next + self.BATCH]
            self.next += self.BATCH
            with get_store().connect() as con:
                found = con.execute(
                    "SELECT span_id, left(inputs, ?), left(outputs, ?), left(error, ?) FROM spans "
                    "WHERE trace_id = ? AND list_contains(?, span_id)",
                    [_RAW_CHARS + 1, _RAW_CHARS + 1, _RAW_CHARS + 1, self.trace_id, batch]).fetchall()
            for sid, *raw in found:
                self.rows[sid] = tuple(_parse(text) for text in raw)  # type: ignore[assignment]
        return self.rows.get(span_id, (None, None, None))


def _parse(text: str | None) -> Any:
    if text is None:
        return None
    if len(text) > _RAW_CHARS:  # too long to be whole JSON: show its start as text
        return _Raw(text[:_RAW_CHARS])
    try:
        return json.loads(text)
    except ValueError:
        return _Raw(text)


class _Raw(str):
    """Payload text that is not (complete) JSON."""


# -- HTML ------------------------------------------------------------------------------------

def _html(trace: _Trace) -> str:
    if trace.info is None:
        return (f"<p><strong>Trace {_esc(trace.trace_id)} is not in the store (yet).</strong> Its spans may still "
                "be in memory: call <code>llmops_nb.flush()</code>, then display it again.</p>")
    out = ['<div class="llmops-nb-snapshot">\n', _header_html(trace), '<ul style="list-style:none;padding-left:0">\n']
    used = sum(len(part.encode()) for part in out) + len("</ul></div>\n")
    payloads = _Payloads(trace)
    stack = 0  # open span levels, each closed by _CLOSE_LEVEL
    shown = 0
    for s, depth in trace.order:
        level = min(depth, MAX_NEST)
        opens = bool(s.children) and depth < MAX_NEST
        chunk = _span_html(s, depth, opens, payloads.get(s.span_id))
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
    hidden = len(trace.order) - shown
    if hidden:
        out.append(f"<p><em>… {hidden:,} more span{'s' if hidden != 1 else ''} not shown (snapshot capped at "
                   f"{MAX_SPANS} spans / {MAX_BYTES // 1000} KB); open the trace with "
                   f"<code>llmops_nb.show('{_esc(trace.trace_id)}')</code></em></p>\n")
    out.append("</div>\n")
    return "".join(out)


def _header_html(trace: _Trace) -> str:
    info = trace.info or {}
    status = str(info["status"])
    mark = {"OK": "✅", "ERROR": "❌"}.get(status, "⏳")
    error = ""
    if info.get("error_message"):
        error = f'<br><strong>Error:</strong> {_esc(_cap(str(info["error_message"]), FIELD_CHARS))}'
    return (f"<p>{mark} <strong>{_esc(status)}</strong> · trace <strong>{_esc(info['name'] or '(unnamed)')}</strong>"
            f" · {_esc(' · '.join(_totals(info)))}{error}<br>\n<small>Static snapshot (first {MAX_SPANS} spans, "
            f"texts capped at {FIELD_CHARS:,} chars). Interactive view: <code>llmops_nb.show("
            f"'{_esc(trace.trace_id)}')</code></small></p>\n")


def _span_html(s: _Span, depth: int, opens: bool, payload: tuple[Any, Any, Any]) -> str:
    summary = f"<summary{_error_style(s)}>{_summary_html(s, depth)}</summary>"
    body = ""
    for field_cap, brief_cap in ((FIELD_CHARS, BRIEF_CHARS), (400, 200), (100, 80)):
        body = _body_html(s, payload, field_cap, brief_cap)
        if len(body.encode()) <= SPAN_BYTES:
            break
    else:
        body = "<p><em>(this span's payloads are too large for the snapshot; see llmops_nb.show())</em></p>"
    is_open = " open" if depth == 0 or s.status == "ERROR" else ""
    if opens:
        return f'<li><details{is_open}>{summary}\n{body}<ul style="list-style:none;padding-left:1.2em">\n'
    if body:
        return f"<li><details{is_open}>{summary}\n{body}</details></li>\n"
    return f"<li>• {_summary_html(s, depth)}</li>\n"


def _error_style(s: _Span) -> str:
    return ' style="color:#cf222e"' if s.status == "ERROR" else ""


def _summary_html(s: _Span, depth: int) -> str:
    parts = [_esc(p) for p in _span_facts(s)]
    lead = "❌ " if s.status == "ERROR" else ""
    deep = f"<small>↳ depth {depth}</small> " if depth > MAX_NEST else ""
    status = _esc(s.status)
    if s.status == "ERROR":
        status = "<strong>ERROR</strong>" + (f": {_esc(_one_line(s.message, 120))}" if s.message else "")
    text = f"{lead}{deep}<code>{_esc(s.kind)}</code> <b title=\"span {_esc(s.span_id)}\">{_esc(s.name)}</b>"
    return " · ".join([text, parts[0], status, *parts[1:]])


def _body_html(s: _Span, payload: tuple[Any, Any, Any], field_cap: int, brief_cap: int) -> str:
    inputs, outputs, error = payload
    out = []
    if s.status == "ERROR" or error:
        err = error if isinstance(error, dict) else {}
        text = f"{err.get('type') or 'Error'}: {err.get('message') or s.message or ''}"
        out.append(f"<p><strong>Error</strong> {_esc(_cap(text, field_cap))}</p>\n")
        if err.get("traceback"):
            tb = _cap(str(err["traceback"]), TRACEBACK_CHARS if field_cap == FIELD_CHARS else field_cap, tail=True)
            out.append(f"<details><summary>traceback</summary><pre>{_esc(tb)}</pre></details>\n")
    asked, answered = (_requests(inputs), _responses(outputs)) if s.kind in _LLM_KINDS else ([], [])
    if asked or answered:
        out.append(_messages_html(asked + answered, field_cap))
    rows = [(label, value) for label, value, parsed in (("inputs", inputs, asked), ("outputs", outputs, answered))
            if not parsed and value not in (None, "", [], {})]
    if rows:
        out.append("<dl>" + "".join(f"<dt>{label}</dt><dd><pre>{_esc(_cap(_json(v), brief_cap))}</pre></dd>"
                                    for label, v in rows) + "</dl>\n")
    return "".join(out)


def _messages_html(messages: list[_Message], cap: int) -> str:
    rows = []
    for m in messages:
        if m.skipped:
            rows.append(f"<dt><em>… {_plural(m.skipped, 'message')} not shown (snapshot shows the first "
                        f"{_KEEP_HEAD} and last {_KEEP_TAIL})</em></dt>")
            continue
        parts = []
        for p in m.parts[:_MAX_PARTS]:
            ref = f" <small>{_esc(p.ref)}</small>" if p.ref else ""
            if p.kind == "text":
                parts.append(f"<div>{_lines(_cap(p.text, cap))}</div>")
            elif p.kind == "call":
                parts.append(f"<div>→ tool call <code>{_esc(p.label)}</code>{ref}<pre>{_esc(_cap(p.text, cap))}</pre>"
                             "</div>")
            else:  # a tool result, reasoning, an image: labelled, shown as text
                parts.append(f"<div><em>{_esc(p.label)}</em>{ref}<pre>{_esc(_cap(p.text, cap))}</pre></div>")
        if len(m.parts) > _MAX_PARTS:
            parts.append(f"<div><em>… {len(m.parts) - _MAX_PARTS:,} more parts not shown</em></div>")
        rows.append(f"<dt><b>{_esc(m.role)}</b>{' <small>(response)</small>' if m.response else ''}</dt>"
                    f"<dd>{''.join(parts) or '<em>(empty)</em>'}</dd>")
    return "<dl>" + "\n".join(rows) + "</dl>\n"


# -- chat messages: OpenAI chat and Responses, Anthropic messages -----------------------------

@dataclass
class _Part:
    kind: str  # text | call | block
    text: str
    label: str = ""
    ref: str = ""


@dataclass
class _Message:
    role: str
    parts: list[_Part]
    response: bool = False
    skipped: int = 0


def _requests(inputs: Any) -> list[_Message]:
    if not isinstance(inputs, dict):
        return []
    found = []
    if inputs.get("system"):  # Anthropic: a string or text blocks
        found.append(_Message("system", _content(inputs["system"])))
    if isinstance(inputs.get("instructions"), str) and inputs["instructions"]:  # OpenAI Responses
        found.append(_Message("system", [_Part("text", inputs["instructions"])]))
    for key in ("messages", "input", "prompt"):
        value = inputs.get(key)
        items = [value] if isinstance(value, str) else value if isinstance(value, list) else []
        found += [_item(item, False) for item in items]
    if len(found) > _KEEP_HEAD + _KEEP_TAIL + 1:
        skipped = _Message("", [], skipped=len(found) - _KEEP_HEAD - _KEEP_TAIL)
        found = [*found[:_KEEP_HEAD], skipped, *found[-_KEEP_TAIL:]]
    return found


def _responses(outputs: Any) -> list[_Message]:
    if isinstance(outputs, str) and not isinstance(outputs, _Raw) and not _CUT_JSON.search(outputs[-40:]):
        return [_Message("assistant", [_Part("text", outputs)], response=True)]
    if not isinstance(outputs, dict):
        return []
    if isinstance(outputs.get("choices"), list):  # OpenAI chat completion
        return [_item(c.get("message") if isinstance(c, dict) else c, True) for c in outputs["choices"][:_MAX_PARTS]]
    if isinstance(outputs.get("output"), list):  # OpenAI Responses
        return [_item(item, True) for item in outputs["output"][:_KEEP_TAIL]]
    if "role" in outputs:  # Anthropic message
        return [_item(outputs, True)]
    return []


def _item(item: Any, response: bool) -> _Message:
    if isinstance(item, str):
        return _Message("assistant" if response else "user", [_Part("text", item)], response)
    if not isinstance(item, dict):
        return _Message("item", [_Part("block", _json(item), "value")], response)
    kind, role = item.get("type"), str(item.get("role") or "")
    if kind in ("function_call", "custom_tool_call"):  # Responses: a tool call item
        call = _Part("call", _args(item.get("arguments", item.get("input"))), str(item.get("name")),
                     str(item.get("call_id") or ""))
        return _Message("assistant", [call], response)
    if kind in ("function_call_output", "custom_tool_call_output"):
        return _Message("tool", [_Part("block", _text_of(item.get("output")), "tool result",
                                       str(item.get("call_id") or ""))], response)
    if kind == "reasoning":
        return _Message("assistant", [_Part("block", _text_of(item.get("summary")), "reasoning")], response)
    if not role:
        return _Message("item", [_Part("block", _json(item), str(kind or "item"))], response)
    parts = _content(item.get("content"))
    if item.get("refusal"):
        parts.append(_Part("block", str(item["refusal"]), "refusal"))
    for call in item.get("tool_calls") or []:  # OpenAI chat
        if isinstance(call, dict):
            fn = call.get("function") or call.get("custom") or {}
            parts.append(_Part("call", _args(fn.get("arguments", fn.get("input"))), str(fn.get("name")),
                               str(call.get("id") or "")))
    if role == "tool":  # OpenAI chat: the result of the call named by tool_call_id
        ref = str(item.get("tool_call_id") or "")
        parts = [_Part("block", p.text, "tool result", ref) if p.kind == "text" else p for p in parts]
    return _Message(role, parts, response)


def _content(content: Any) -> list[_Part]:
    if content is None:
        return []
    if isinstance(content, str):
        return [_Part("text", content)]
    blocks = content if isinstance(content, list) else [content]
    return [_block(b) for b in blocks]


def _block(b: Any) -> _Part:
    if isinstance(b, str):
        return _Part("text", b)
    if not isinstance(b, dict):
        return _Part("block", _json(b), "value")
    kind = str(b.get("type") or "block")
    if kind in ("text", "input_text", "output_text") and isinstance(b.get("text"), str):
        return _Part("text", b["text"])
    if kind in ("tool_use", "server_tool_use"):  # Anthropic
        return _Part("call", _args(b.get("input")), str(b.get("name")), str(b.get("id") or ""))
    if kind == "tool_result":
        label = "tool result (error)" if b.get("is_error") else "tool result"
        return _Part("block", _text_of(b.get("content")), label, str(b.get("tool_use_id") or ""))
    if kind == "thinking":
        return _Part("block", str(b.get("thinking") or ""), "thinking")
    if kind == "refusal":
        return _Part("block", str(b.get("refusal") or ""), "refusal")
    if kind in ("image", "image_url", "input_image", "document", "input_file", "input_audio"):
        return _Part("block", _cap(_json({k: v for k, v in b.items() if k != "type"}), 160), kind)
    return _Part("block", _json(b), kind)


def _text_of(value: Any) -> str:
    """Tool results and reasoning summaries: a string, or a list of text blocks, as text."""
    if isinstance(value, list):
        texts = [b.get("text") if isinstance(b, dict) else b for b in value]
        if all(isinstance(t, str) for t in texts):
            return "\n".join(texts)  # type: ignore[arg-type]
    return _json(value) if not isinstance(value, str) else value


def _args(value: Any) -> str:
    """Tool call arguments, pretty-printed when they are JSON (OpenAI sends a JSON string)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return value
    return json.dumps(value, ensure_ascii=False, indent=2) if value is not None else ""


# -- plain text ------------------------------------------------------------------------------

def _text(trace: _Trace) -> str:
    if trace.info is None:
        return f"Trace {trace.trace_id} is not in the store (yet): call llmops_nb.flush(), then display it again."
    info = trace.info
    mark = {"OK": "✓", "ERROR": "✗"}.get(str(info["status"]), "…")
    lines = [f"{mark} {info['status']} · trace {_clean(str(info['name'] or '(unnamed)'))!r} · "
             + " · ".join(_totals(info)) + f" · id {trace.trace_id}"]
    if info.get("error_message"):
        lines.append("  error: " + _one_line(str(info["error_message"]), 300))
    for s, depth in trace.order[:MAX_SPANS]:
        indent = "  " * (min(depth, MAX_NEST) + 1) + (f"[depth {depth}] " if depth > MAX_NEST else "")
        status = s.status + (f": {_one_line(s.message, 120)}" if s.status == "ERROR" and s.message else "")
        facts = _span_facts(s)
        line = " · ".join([f"{'✗ ' if s.status == 'ERROR' else ''}{s.kind} {_one_line(s.name, 120)}", facts[0],
                           status, *facts[1:]])
        lines.append(indent + line)
    hidden = len(trace.order) - min(len(trace.order), MAX_SPANS)
    if hidden:
        lines.append(f"… {hidden:,} more span{'s' if hidden != 1 else ''} not shown (snapshot capped at {MAX_SPANS} "
                     f"spans); open the trace with llmops_nb.show('{trace.trace_id}')")
    return "\n".join(lines)


# -- shared formatting -----------------------------------------------------------------------

def _totals(info: dict[str, Any]) -> list[str]:
    def n(key: str) -> int:
        value = info.get(key)
        return 0 if value is None or (isinstance(value, float) and math.isnan(value)) else int(value)

    cost, duration = info.get("cost_usd"), info.get("duration_ms")
    parts = [_plural(n("span_count"), "span"), _plural(n("llm_calls"), "LLM call"),
             f"{n('input_tokens') + n('output_tokens'):,} tokens ({n('input_tokens'):,} in / "
             f"{n('output_tokens'):,} out)",
             "cost n/a" if cost is None or math.isnan(cost) else f"${cost:.4f}",
             "running" if duration is None or math.isnan(duration) else _duration(duration),
             _plural(n("error_count"), "error"), _plural(n("dropped_spans"), "dropped span")]
    return parts


def _span_facts(s: _Span) -> list[str]:
    """[duration, then the optional facts]: tokens, cost, model, rolled-up totals, errors below."""
    facts = [_duration((s.end_ns - s.start_ns) / 1e6)]
    if s.tokens_in or s.tokens_out:
        facts.append(f"{s.tokens_in:,} in / {s.tokens_out:,} out tokens")
    if s.cost is not None and not math.isnan(s.cost):
        facts.append(f"${s.cost:.4f}")
    if s.model:
        facts.append(s.model)
    below = s.sub_tokens - s.tokens_in - s.tokens_out
    if s.children and (below or (s.sub_cost is not None and s.sub_cost != (s.cost or 0))):
        cost = "" if s.sub_cost is None else f" · ${s.sub_cost:.4f}"
        facts.append(f"Σ {s.sub_tokens:,} tokens{cost}")
    if s.sub_errors:
        facts.append(f"⚠ {_plural(s.sub_errors, 'error')} inside")
    return facts


def _plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def _duration(ms: float) -> str:
    return f"{ms:.1f} ms" if ms < 1000 else f"{ms / 1000:.2f} s"


def _json(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        compact = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)
    return compact if len(compact) <= 100 else json.dumps(value, ensure_ascii=False, indent=2)


def _cap(text: str, limit: int, tail: bool = False) -> str:
    if len(text) <= limit:
        return text
    if tail:
        return f"[… {len(text) - limit:,} chars cut; snapshot shows the last {limit:,}]\n" + text[-limit:]
    return text[:limit] + f" … [{len(text):,} chars; snapshot shows the first {limit:,}]"


def _clean(text: str) -> str:
    """No control characters or lone surrogates reach the page."""
    text = _CONTROL.sub("\ufffd", text)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def _esc(text: Any) -> str:
    return html.escape(_clean(str(text)), quote=True)


def _lines(text: str) -> str:
    return _esc(text).replace("\n", "<br>\n")


def _one_line(text: str | None, limit: int) -> str:
    flat = " ".join(_clean(text or "").split())
    return flat if len(flat) <= limit else flat[:limit] + "…"
