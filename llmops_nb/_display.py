"""Every trace display goes through here, so richer views can replace it.

``mimebundle(trace)`` is what the notebook shows for a trace: ``%%llm_trace``
output, ``Trace``'s rich repr. A view (the explorer widget) takes over with
``set_trace_renderer(fn)``; ``fn(trace) -> mimebundle dict``. The default is a
compact summary as escaped HTML plus a plain-text line. Every string from a
trace is escaped: trace content never becomes markup.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable
from typing import Any

_renderer: list[Callable[[Any], dict[str, Any]] | None] = [None]


def set_trace_renderer(renderer: Callable[[Any], dict[str, Any]] | None) -> None:
    """Replace how traces display (None restores the summary)."""
    _renderer[0] = renderer


def mimebundle(trace: Any) -> dict[str, Any]:
    renderer = _renderer[0]
    if renderer is not None:
        return renderer(trace)
    return {"text/plain": summary_text(trace), "text/html": summary_html(trace)}


def show(trace: Any) -> None:
    """Display a trace in the notebook (or print its summary outside one)."""
    try:
        from IPython.display import display

        display(trace)
    except ImportError:
        print(summary_text(trace))


def _facts(trace: Any) -> dict[str, Any]:
    info = trace.info
    duration = info.get("duration_ms")
    cost = info.get("cost_usd")
    return {
        "ok": info.get("status") == "OK",
        "status": info.get("status") or "IN_PROGRESS",
        "name": str(info.get("name") or "(unnamed)"),
        "spans": int(info.get("span_count") or 0),
        "llm_calls": int(info.get("llm_calls") or 0),
        "input_tokens": int(info.get("input_tokens") or 0),
        "output_tokens": int(info.get("output_tokens") or 0),
        "cost": None if cost is None or math.isnan(cost) else float(cost),
        "duration": None if duration is None or math.isnan(duration) else float(duration),
        "errors": int(info.get("error_count") or 0),
        "dropped": int(info.get("dropped_spans") or 0),
        "error_message": info.get("error_message"),
    }


def _parts(f: dict[str, Any]) -> list[str]:
    tokens = f["input_tokens"] + f["output_tokens"]
    parts = [
        f"{f['spans']} span{'s' if f['spans'] != 1 else ''}",
        f"{f['llm_calls']} LLM call{'s' if f['llm_calls'] != 1 else ''}",
        f"{tokens:,} tokens ({f['input_tokens']:,} in / {f['output_tokens']:,} out)",
        "cost n/a" if f["cost"] is None else f"${f['cost']:.4f}",
        "running" if f["duration"] is None else _duration(f["duration"]),
        f"{f['errors']} error{'s' if f['errors'] != 1 else ''}",
    ]
    if f["dropped"]:
        parts.append(f"{f['dropped']} span{'s' if f['dropped'] != 1 else ''} DROPPED (memory bound hit)")
    return parts


def summary_text(trace: Any) -> str:
    f = _facts(trace)
    mark = "✓" if f["ok"] else "✗" if f["status"] == "ERROR" else "…"
    line = f"{mark} trace {f['name']!r} · " + " · ".join(_parts(f)) + f" · id {trace.trace_id}"
    if f["error_message"]:
        line += f"\n  error: {f['error_message'][:300]}"
    return line


def summary_html(trace: Any) -> str:
    f = _facts(trace)
    colour = "#1a7f37" if f["ok"] else "#cf222e" if f["status"] == "ERROR" else "#9a6700"
    esc = html.escape
    body = " · ".join(esc(part) for part in _parts(f))
    error = ""
    if f["error_message"]:
        error = f'<div style="color:#cf222e;white-space:pre-wrap">{esc(str(f["error_message"])[:300])}</div>'
    return (
        '<div class="llmops-nb-trace-summary" style="font-family:var(--jp-code-font-family,monospace);'
        'font-size:12px;border-left:3px solid ' + colour + ';padding:2px 8px">'
        f'<b style="color:{colour}">{esc(f["status"])}</b> <b>{esc(f["name"])}</b> · {body}'
        f' · <span style="opacity:.6">{esc(trace.trace_id)}</span>{error}</div>'
    )


def _duration(ms: float) -> str:
    if ms < 1000:
        return f"{ms:.1f} ms"
    return f"{ms / 1000:.2f} s"
