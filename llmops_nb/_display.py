"""How llmops_nb's objects display in a notebook: one registry of renderers by kind.

Three kinds of object have a richer view than their plain summary: a trace (``%%llm_trace``
output, a ``Trace`` as a cell's value), an evaluation result (the DataFrame ``evaluate()``
returns, shown under the cell when it finishes) and a prompt diff. Each displays through
:func:`mimebundle`, which asks the renderer registered for its kind and falls back to the
object's own script-free default. ``%load_ext llmops_nb`` registers the widget renderers
(``llmops_nb.widgets.install_display``); nothing here imports a view, so the objects never
import the widgets that show them.

A renderer is ``fn(obj) -> mimebundle dict`` (or None: use the default). Kinds are names, not
classes, because an evaluation result is a plain pandas DataFrame. The default for a trace is
a compact summary as escaped HTML plus a plain-text line: trace content never becomes markup.

>>> from llmops_nb import _display
>>> _display.register(_display.TRACE, lambda trace: {"text/plain": f"trace {trace.trace_id}"})  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import contextvars
import math
from collections.abc import Callable, Iterator
from typing import Any

from ._format import cost
from ._html import escape

TRACE = "trace"
EVALUATION = "evaluation"
PROMPT_DIFF = "prompt_diff"
KINDS = (TRACE, EVALUATION, PROMPT_DIFF)

Renderer = Callable[[Any], "dict[str, Any] | None"]

_renderers: dict[str, Renderer] = {}
# Kinds not shown in the current context (prompts.compare() runs evaluate() twice and shows one view).
_muted: contextvars.ContextVar[frozenset[str]] = contextvars.ContextVar("llmops_nb_muted", default=frozenset())


def register(kind: str, renderer: Renderer | None) -> None:
    """Show objects of ``kind`` (``TRACE``, ``EVALUATION`` or ``PROMPT_DIFF``) with ``renderer`` from
    now on; ``None`` restores the default."""
    if kind not in KINDS:
        raise ValueError(f"unknown display kind {kind!r}; kinds: {', '.join(KINDS)}.")
    if renderer is None:
        _renderers.pop(kind, None)
    else:
        _renderers[kind] = renderer


def renderer(kind: str) -> Renderer | None:
    """The renderer registered for ``kind``, if any."""
    return _renderers.get(kind)


def mimebundle(obj: Any, kind: str = TRACE, default: Renderer | None = None) -> dict[str, Any]:
    """What the notebook shows for ``obj``: its kind's renderer's bundle, else ``default(obj)``
    (for a trace: the summary)."""
    fallback = default or (summary_bundle if kind == TRACE else None)
    chosen = _renderers.get(kind)
    if chosen is not None:
        shown = chosen(obj)
        if shown is not None:
            return shown
    if fallback is None:
        return {"text/plain": repr(obj)}
    return fallback(obj) or {"text/plain": repr(obj)}


def announce(kind: str, obj: Any) -> None:
    """Show ``obj`` under the running cell with its kind's renderer (how ``evaluate()`` shows its table).

    Nothing happens without a registered renderer, outside IPython, or while ``kind`` is
    :func:`muted`; a failing renderer is logged once, never raised: the result matters more than its view.
    """
    chosen = _renderers.get(kind)
    if chosen is None or kind in _muted.get():
        return
    try:
        bundle = chosen(obj)
        if not bundle:
            return
        from IPython import get_ipython
        from IPython.display import display

        if get_ipython() is not None:
            display(bundle, raw=True)
    except Exception as exc:  # noqa: BLE001 - a view must not lose the result
        from ._safety import log_once

        log_once(f"display.{kind}", exc)


@contextlib.contextmanager
def muted(*kinds: str) -> Iterator[None]:
    """Within the block (this thread or task), :func:`announce` shows nothing of ``kinds``."""
    token = _muted.set(_muted.get() | frozenset(kinds))
    try:
        yield
    finally:
        _muted.reset(token)


def summary_bundle(trace: Any) -> dict[str, Any]:
    """A trace's default display: the one-line summary as text and as escaped HTML."""
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
        "cost n/a" if f["cost"] is None else cost(f["cost"]),
        "running" if f["duration"] is None else _duration(f["duration"]),
        f"{f['errors']} error{'s' if f['errors'] != 1 else ''}",
    ]
    if f["dropped"]:
        parts.append(f"{f['dropped']} span{'s' if f['dropped'] != 1 else ''} DROPPED (memory bound hit)")
    return parts


def summary_text(trace: Any) -> str:
    f = _facts(trace)
    # the status as a word, like the snapshot's: ✓/✗ need fonts that terminals and exports may lack
    line = f"{f['status']} · trace {f['name']!r} · " + " · ".join(_parts(f)) + f" · id {trace.trace_id}"
    if f["error_message"]:
        line += f"\n  error: {f['error_message'][:300]}"
    return line


def summary_html(trace: Any) -> str:
    f = _facts(trace)
    colour = "#1a7f37" if f["ok"] else "#cf222e" if f["status"] == "ERROR" else "#9a6700"
    body = " · ".join(escape(part) for part in _parts(f))
    error = ""
    if f["error_message"]:
        error = f'<div style="color:#cf222e;white-space:pre-wrap">{escape(str(f["error_message"])[:300])}</div>'
    return (
        '<div class="llmops-nb-trace-summary" style="font-family:var(--jp-code-font-family,monospace);'
        'font-size:12px;border-left:3px solid ' + colour + ';padding:2px 8px">'
        f'<b style="color:{colour}">{escape(f["status"])}</b> <b>{escape(f["name"])}</b> · {body}'
        f' · <span style="opacity:.6">{escape(trace.trace_id)}</span>{error}</div>'
    )


def _duration(ms: float) -> str:
    if ms < 1000:
        return f"{ms:.1f} ms"
    return f"{ms / 1000:.2f} s"
