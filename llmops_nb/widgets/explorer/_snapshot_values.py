"""A span's inputs and outputs in the snapshot, written for a reader: text as text, a dict by its keys.

The store keeps payloads as JSON, so a ``%%llm_trace`` cell's input is ``{"cell": "import x\\nfoo()"}``:
printed as JSON, its line breaks read ``\\n`` and its quotes are escaped. Here a string is
preformatted text with its real line breaks; a dict is a key/value list whose string values are
text in the same way and whose scalars are their JSON; anything else (a list, a nested dict) is
indented JSON. Text is capped at ``text_cap`` characters, JSON at ``json_cap``: prose and code are
what a reader reads, structures are scanned. Everything goes through ``llmops_nb._html.escape``.
Also the few number formats every snapshot line uses.

>>> value_html("import x\\nfoo()", 100, 100)
'<pre style="white-space:pre-wrap;margin:0">import x\\nfoo()</pre>'
"""

from __future__ import annotations

import json
from typing import Any

from ..._html import escape

MAX_KEYS = 20  # keys of one dict; the rest are counted
# Where styles survive: long lines wrap and a dict's keys sit close to their values; elsewhere plain <pre>/<dl>.
_PRE = '<pre style="white-space:pre-wrap;margin:0">'
_DL = '<dl style="margin:0">'
_DD = '<dd style="margin:0 0 0.3em 1.2em">'


def value_html(value: Any, text_cap: int, json_cap: int) -> str:
    """``value`` as escaped HTML: a string as text, a dict as ``<dl>`` of its keys, others as JSON."""
    if isinstance(value, str):
        return _pre(cap(value, text_cap))
    if isinstance(value, dict) and value:
        items = list(value.items())
        rows = [f"<dt><code>{escape(str(key))}</code></dt>{_DD}{_leaf_html(v, text_cap, json_cap)}</dd>"
                for key, v in items[:MAX_KEYS]]
        if len(items) > MAX_KEYS:
            rows.append(f"<dt><em>… {len(items) - MAX_KEYS:,} more keys not shown</em></dt>")
        return _DL + "".join(rows) + "</dl>"
    return _pre(cap(json_text(value), json_cap))


def _leaf_html(value: Any, text_cap: int, json_cap: int) -> str:
    if isinstance(value, str):
        return _pre(cap(value, text_cap))
    if value is None or isinstance(value, (bool, int, float)):
        return f"<code>{escape(json_text(value))}</code>"
    return _pre(cap(json_text(value), json_cap))


def _pre(text: str) -> str:
    return f"{_PRE}{escape(text)}</pre>"


def json_text(value: Any) -> str:
    """A string as itself; other values as JSON, indented when the one-line form is long."""
    if isinstance(value, str):
        return value
    try:
        compact = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)
    return compact if len(compact) <= 100 else json.dumps(value, ensure_ascii=False, indent=2)


def cap(text: str, limit: int, tail: bool = False) -> str:
    """``text`` cut to ``limit`` characters (its end with ``tail``), the cut stated."""
    if len(text) <= limit:
        return text
    if tail:
        return f"[… {len(text) - limit:,} chars cut; snapshot shows the last {limit:,}]\n" + text[-limit:]
    return text[:limit] + f" … [{len(text):,} chars; snapshot shows the first {limit:,}]"


def duration(ms: float) -> str:
    return f"{ms:.1f} ms" if ms < 1000 else f"{ms / 1000:.2f} s"


def plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"
