"""``diff(a, b)``: what changed between two strings, prompt versions, chat templates or outputs.

Built on :mod:`difflib`: lines are matched first, then words inside each changed
line, so a one-word edit shows as one word. Chat templates are diffed message by
message (messages paired by role); prompt versions also diff their ``{{variables}}``
and metadata (``model_config``, ``tags``). Any other object is compared as
indented JSON, so two model outputs diff as readably as two prompts.

The result displays as script-free HTML (side-by-side, and inline under a
disclosure) with every string escaped, and as a unified diff in plain text.
"""

from __future__ import annotations

import difflib
import json
import re
from typing import Any

from ._html import escape

_WORD = re.compile(r"\{\{\s*\w+\s*\}\}|\w+|\s+|[^\w\s]")
_VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
CONTEXT = 3  # unchanged lines kept around each change in the unified text and the HTML
MAX_ROWS = 2000  # rows drawn in the HTML; .unified and .ops always hold everything


def diff(a: Any, b: Any, *, a_label: str | None = None, b_label: str | None = None) -> Diff:
    """Compare two strings, prompt versions, chat message lists or outputs.

    >>> import llmops_nb
    >>> d = llmops_nb.diff("Answer briefly: {{q}}", "Answer in one word: {{q}}")
    >>> [op["words"] for op in d.ops if op["type"] == "line"][0][1]
    ['replace', 'briefly', 'in one word']
    >>> print(d.unified.splitlines()[-1])
    +Answer in one word: {{q}}
    """
    return Diff(a, b, a_label=a_label, b_label=b_label)


class Diff:
    """The differences between ``a`` and ``b``: ``.unified`` text, ``.ops``, ``.to_dict()``, rich display."""

    def __init__(self, a: Any, b: Any, *, a_label: str | None = None, b_label: str | None = None) -> None:
        body_a, meta_a, default_a = _side(a)
        body_b, meta_b, default_b = _side(b)
        self.a_label = a_label or default_a or "a"
        self.b_label = b_label or default_b or "b"
        if isinstance(body_a, list) and isinstance(body_b, list):
            self.kind = "chat"
            self.sections = _message_sections(body_a, body_b)
        else:
            self.kind = "text"
            self.sections = [_section("", None, None, _as_text(body_a), _as_text(body_b))]
        vars_a, vars_b = _variables(body_a), _variables(body_b)
        self.variables = {"added": [v for v in vars_b if v not in vars_a],
                          "removed": [v for v in vars_a if v not in vars_b],
                          "kept": [v for v in vars_b if v in vars_a]}
        self.metadata = [op for key in ("model_config", "tags") for op in _dict_ops(key, meta_a.get(key),
                                                                                 meta_b.get(key))]

    @property
    def changed(self) -> bool:
        return bool(self.ops)

    @property
    def ops(self) -> list[dict[str, Any]]:
        """Every change: ``message``, ``line`` (with word-level ``words``), ``variable`` and ``metadata`` ops."""
        ops: list[dict[str, Any]] = []
        for index, section in enumerate(self.sections):
            if section["status"] != "equal" and self.kind == "chat":
                ops.append({"type": "message", "op": section["status"], "index_a": section["index_a"],
                            "index_b": section["index_b"], "role_a": section["role_a"], "role_b": section["role_b"]})
            ops += [{"type": "line", "section": index, **row} for row in section["rows"] if row["op"] != "equal"]
        ops += [{"type": "variable", "op": "added", "name": v} for v in self.variables["added"]]
        ops += [{"type": "variable", "op": "removed", "name": v} for v in self.variables["removed"]]
        return ops + [{"type": "metadata", **op} for op in self.metadata]

    @property
    def unified(self) -> str:
        """A unified diff (``---``/``+++``/``@@``), then variable and metadata changes."""
        a_text = _as_text(self._joined("a"))
        b_text = _as_text(self._joined("b"))
        lines = list(difflib.unified_diff(a_text.splitlines(), b_text.splitlines(), fromfile=self.a_label,
                                          tofile=self.b_label, n=CONTEXT, lineterm=""))
        if self.variables["added"] or self.variables["removed"]:
            lines.append("variables: " + " ".join([f"+{v}" for v in self.variables["added"]]
                                                  + [f"-{v}" for v in self.variables["removed"]]))
        for op in self.metadata:
            lines.append(f"{op['field']}.{op['key']}: " + {"added": f"+ {_show(op['b'])}",
                                                           "removed": f"- {_show(op['a'])}"}.get(
                op["op"], f"{_show(op['a'])} -> {_show(op['b'])}"))
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """Everything a view needs, JSON-ready: labels, sections with every row, variables, metadata, stats."""
        return {"a_label": self.a_label, "b_label": self.b_label, "kind": self.kind, "sections": self.sections,
                "variables": self.variables, "metadata": self.metadata, "stats": self.stats()}

    def stats(self) -> dict[str, int]:
        rows = [row for section in self.sections for row in section["rows"]]
        return {"lines_added": sum(r["b"] is not None and r["op"] in ("insert", "replace") for r in rows),
                "lines_removed": sum(r["a"] is not None and r["op"] in ("delete", "replace") for r in rows),
                "messages_changed": sum(s["status"] != "equal" for s in self.sections) if self.kind == "chat" else 0}

    def __repr__(self) -> str:
        s = self.stats()
        return f"<Diff {self.a_label!r} -> {self.b_label!r}: +{s['lines_added']} -{s['lines_removed']} lines>"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"text/plain": self.unified or f"{self.a_label} and {self.b_label}: no differences",
                "text/html": self.html()}

    def _joined(self, side: str) -> Any:
        if self.kind == "text":
            return self.sections[0][f"{side}_text"]
        return [{"role": s[f"role_{side}"], "content": s[f"{side}_text"]} for s in self.sections
                if s[f"role_{side}"] is not None]

    def html(self) -> str:
        """Script-free HTML: a summary, the side-by-side view, and the inline view under a disclosure."""
        s = self.stats()
        head = (f'<b>{escape(self.a_label)}</b> → <b>{escape(self.b_label)}</b> '
                f'<span style="color:#1a7f37">+{s["lines_added"]}</span> '
                f'<span style="color:#cf222e">−{s["lines_removed"]}</span>')
        if not self.changed:
            head += " · no differences"
        badges = "".join(f'<span style="{_STYLE[kind]};padding:0 4px;margin-left:4px">{sign}{escape("{{" + v + "}}")}'
                         "</span>" for kind, sign in (("insert", "+"), ("delete", "−"))
                         for v in self.variables["added" if kind == "insert" else "removed"])
        meta = "".join(f"<tr><td>{escape(op['field'])}.{escape(str(op['key']))}</td>"
                       f'<td style="{_STYLE["delete"] if op["op"] != "added" else ""}">{escape(_show(op["a"]))}</td>'
                       f'<td style="{_STYLE["insert"] if op["op"] != "removed" else ""}">{escape(_show(op["b"]))}</td>'
                       "</tr>" for op in self.metadata)
        meta = f'<table style="margin:4px 0">{meta}</table>' if meta else ""
        side, inline = _tables(self.sections, self.kind == "chat")
        return ('<div class="llmops-nb-diff" style="font-family:var(--jp-code-font-family,monospace);'
                f'font-size:12px">{head}{badges}{meta}{side}'
                f"<details><summary>Inline view</summary>{inline}</details></div>")


_STYLE = {"insert": "background:#dafbe1", "delete": "background:#ffebe9", "word_insert": "background:#abf2bc",
          "word_delete": "background:#ffc1c0;text-decoration:line-through", "var": "color:#8250df;font-weight:bold"}
_CELL = 'style="padding:0 6px;white-space:pre-wrap;vertical-align:top;text-align:left{}"'


def _tables(sections: list[dict[str, Any]], chat: bool) -> tuple[str, str]:
    side, inline, drawn = [], [], 0
    for section in sections:
        if chat:
            roles = section["role_a"] if section["role_a"] == section["role_b"] else \
                f"{section['role_a'] or 'none'} → {section['role_b'] or 'none'}"
            title = f'<tr><th colspan="4" style="text-align:left;opacity:.75">{escape(str(roles))} · ' \
                    f'{section["status"]}</th></tr>'
            side.append(title)
            inline.append(title.replace('colspan="4"', 'colspan="3"'))
        for row in _visible(section["rows"]):
            drawn += 1
            if drawn > MAX_ROWS:
                note = f'<tr><td colspan="4">… more rows not drawn (over {MAX_ROWS}); see .unified</td></tr>'
                side.append(note)
                inline.append(note)
                return _table(side), _table(inline)
            side.append(_side_row(row))
            inline.append(_inline_rows(row))
    return _table(side), _table(inline)


def _table(rows: list[str]) -> str:
    return f'<table style="border-collapse:collapse;width:100%;margin:4px 0">{"".join(rows)}</table>'


def _visible(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows within CONTEXT of a change; longer unchanged runs collapse into one 'skip' row."""
    near = [any(r["op"] != "equal" for r in rows[max(0, i - CONTEXT):i + CONTEXT + 1]) for i in range(len(rows))]
    out: list[dict[str, Any]] = []
    for row, keep in zip(rows, near, strict=True):
        if keep or len(rows) <= 2 * CONTEXT + 1:
            out.append(row)
        elif out and out[-1]["op"] == "skip":
            out[-1]["count"] += 1
        else:
            out.append({"op": "skip", "count": 1})
    return out


def _side_row(row: dict[str, Any]) -> str:
    if row["op"] == "skip":
        return f'<tr><td colspan="4" style="opacity:.5;text-align:center">… {row["count"]} unchanged lines …</td></tr>'
    a_style = _STYLE["delete"] if row["op"] in ("delete", "replace") else ""
    b_style = _STYLE["insert"] if row["op"] in ("insert", "replace") else ""
    a_html = _words_html(row["words"], "a") if row.get("words") else _text_html(row["a"])
    b_html = _words_html(row["words"], "b") if row.get("words") else _text_html(row["b"])
    return (f'<tr><td {_CELL.format(";opacity:.5")}>{row["a_line"] or ""}</td>'
            f'<td {_CELL.format(";" + a_style)}>{a_html}</td>'
            f'<td {_CELL.format(";opacity:.5")}>{row["b_line"] or ""}</td>'
            f'<td {_CELL.format(";" + b_style)}>{b_html}</td></tr>')


def _inline_rows(row: dict[str, Any]) -> str:
    if row["op"] == "skip":
        return f'<tr><td colspan="3" style="opacity:.5">… {row["count"]} unchanged lines …</td></tr>'
    if row.get("words") and not any(op == "equal" and a.strip() for op, a, _ in row["words"]):
        # nothing in common: a removed line and an added line read better than a tangle of words
        return _inline_rows({**row, "op": "delete", "b": None, "b_line": None, "words": None}) + _inline_rows(
            {**row, "op": "insert", "a": None, "a_line": None, "words": None})
    if row.get("words"):
        body, sign, style = _words_html(row["words"], "both"), "~", "background:#fff8c5"
    elif row["op"] == "equal":
        body, sign, style = _text_html(row["b"]), " ", ""
    elif row["a"] is not None:
        body, sign, style = _text_html(row["a"]), "−", _STYLE["delete"]
    else:
        body, sign, style = _text_html(row["b"]), "+", _STYLE["insert"]
    return (f'<tr><td {_CELL.format(";opacity:.5")}>{row["b_line"] or row["a_line"] or ""}</td>'
            f'<td {_CELL.format("")}>{sign}</td><td {_CELL.format(";" + style)}>{body}</td></tr>')


def _text_html(text: str | None) -> str:
    if text is None:
        return ""
    return "".join(f'<span style="{_STYLE["var"]}">{escape(t)}</span>' if _VARIABLE.fullmatch(t)
                   else escape(t) for t in _WORD.findall(text))


def _words_html(words: list[list[str]], side: str) -> str:
    parts = []
    for op, a, b in words:
        if op == "equal":
            parts.append(_text_html(a))
            continue
        if side in ("a", "both") and a:
            parts.append(f'<del style="{_STYLE["word_delete"]}">{_text_html(a)}</del>')
        if side in ("b", "both") and b:
            parts.append(f'<ins style="{_STYLE["word_insert"]};text-decoration:none">{_text_html(b)}</ins>')
    return "".join(parts)


def _section(title: str, index_a: int | None, index_b: int | None, a: str | None, b: str | None, *,
             role_a: str | None = None, role_b: str | None = None) -> dict[str, Any]:
    rows = _line_rows(a or "", b or "") if a is not None or b is not None else []
    if a is None or b is None:
        rows = [{**r, "op": "insert" if a is None else "delete"} for r in rows]
        status = "insert" if a is None else "delete"
    elif role_a != role_b:
        status = "replace"
    else:
        status = "equal" if a == b else "change"
    return {"title": title, "status": status, "index_a": index_a, "index_b": index_b, "role_a": role_a,
            "role_b": role_b, "a_text": a, "b_text": b, "rows": rows}


def _line_rows(a: str, b: str) -> list[dict[str, Any]]:
    """One row per line of the side-by-side view; changed line pairs carry word-level ops."""
    a_lines, b_lines = a.splitlines() or ([""] if a else []), b.splitlines() or ([""] if b else [])
    rows = []
    matcher = difflib.SequenceMatcher(None, a_lines, b_lines, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        for k in range(max(i2 - i1, j2 - j1)):
            ai, bj = i1 + k, j1 + k
            left = a_lines[ai] if ai < i2 else None
            right = b_lines[bj] if bj < j2 else None
            op = tag if tag == "equal" else "replace" if left is not None and right is not None else \
                "delete" if right is None else "insert"
            row: dict[str, Any] = {"op": op, "a_line": ai + 1 if left is not None else None,
                                   "b_line": bj + 1 if right is not None else None, "a": left, "b": right}
            if op == "replace":
                row["words"] = _word_ops(left or "", right or "")
            rows.append(row)
    return rows


def _word_ops(a: str, b: str) -> list[list[str]]:
    ta, tb = _WORD.findall(a), _WORD.findall(b)
    matcher = difflib.SequenceMatcher(None, ta, tb, autojunk=False)
    return [[tag, "".join(ta[i1:i2]), "".join(tb[j1:j2])] for tag, i1, i2, j1, j2 in matcher.get_opcodes()]


def _message_sections(a: list[dict[str, str]], b: list[dict[str, str]]) -> list[dict[str, Any]]:
    """Pair messages by role (difflib on the role sequence), then diff each pair's content."""
    sections = []
    matcher = difflib.SequenceMatcher(None, [m["role"] for m in a], [m["role"] for m in b], autojunk=False)
    for _, i1, i2, j1, j2 in matcher.get_opcodes():
        for k in range(max(i2 - i1, j2 - j1)):
            ai, bj = i1 + k, j1 + k
            ma, mb = (a[ai] if ai < i2 else None), (b[bj] if bj < j2 else None)
            role_a, role_b = (ma["role"] if ma else None), (mb["role"] if mb else None)
            title = f"message {(bj if mb else ai) + 1} · {role_b or role_a}"
            sections.append(_section(title, ai if ma else None, bj if mb else None, ma["content"] if ma else None,
                                     mb["content"] if mb else None, role_a=role_a, role_b=role_b))
    return sections


def _side(value: Any) -> tuple[Any, dict[str, Any], str | None]:
    """(body, metadata, default label): a string, a list of messages, or JSON text for anything else."""
    if hasattr(value, "template") and hasattr(value, "version") and hasattr(value, "name"):
        meta = {"model_config": getattr(value, "model_config", None), "tags": getattr(value, "tags", None)}
        return _side(value.template)[0], meta, f"{value.name} v{value.version}"
    if value is None:
        return "", {}, None
    if isinstance(value, str):
        return value, {}, None
    if isinstance(value, (list, tuple)) and value and all(
            isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
            for m in value):
        return [{"role": m["role"], "content": m["content"]} for m in value], {}, None
    if hasattr(value, "model_dump"):
        value = value.model_dump()
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str), {}, None


def _as_text(body: Any) -> str:
    if isinstance(body, str):
        return body
    return "\n".join(f"{m['role']}: {m['content']}" for m in body)


def _variables(body: Any) -> list[str]:
    seen: dict[str, None] = {}
    for name in _VARIABLE.findall(_as_text(body)):
        seen.setdefault(name, None)
    return [*seen]


def _dict_ops(field: str, a: Any, b: Any) -> list[dict[str, Any]]:
    a, b = a or {}, b or {}
    ops = []
    for key in [*a, *(k for k in b if k not in a)]:
        if key not in b:
            ops.append({"field": field, "key": key, "op": "removed", "a": a[key], "b": None})
        elif key not in a:
            ops.append({"field": field, "key": key, "op": "added", "a": None, "b": b[key]})
        elif a[key] != b[key]:
            ops.append({"field": field, "key": key, "op": "changed", "a": a[key], "b": b[key]})
    return ops


def _show(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
