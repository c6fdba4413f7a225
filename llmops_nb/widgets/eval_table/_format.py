"""How the eval table's values reach the browser: numbers that JSON can carry, times, clipped text,
payload previews and the word-level diff of two outputs."""

from __future__ import annotations

import json
import math
from typing import Any

from ...evals._util import from_json, is_missing

PREVIEW_CHARS = 300  # a cell's text
TIP_CHARS = 1000  # a rationale or error in a cell's tooltip
CELL_DIFF_CHARS = 2000  # the outputs diffed word by word in a compare row
DETAIL_CHARS = 200_000  # a payload in the row detail


def number(value: Any) -> float | None:
    if value is None or is_missing(value):
        return None
    try:
        found = float(value)
    except (TypeError, ValueError):
        return None
    return found if math.isfinite(found) else None


def integer(value: Any) -> int | None:
    found = number(value)
    return None if found is None else int(found)


def short_number(value: Any) -> str:
    found = number(value)
    if found is None:
        return ""
    if found == int(found) and abs(found) < 1e9:
        return str(int(found))
    return f"{found:.3g}"


def iso(value: Any) -> str | None:
    if value is None or is_missing(value):
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat(timespec="milliseconds") + ("Z" if getattr(value, "tzinfo", None) is None else "")
    return str(value)


def clip(text: Any, limit: int) -> str | None:
    if text is None:
        return None
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def preview(json_text: Any, limit: int = PREVIEW_CHARS) -> str:
    """A payload as one line of text: a string as is, a one-key dict as its value, else compact JSON."""
    if json_text is None:
        return ""
    raw = str(json_text)
    value = from_json(raw) if len(raw) <= 20_000 else raw
    if isinstance(value, dict) and len(value) == 1 and isinstance(next(iter(value.values())), (str, int, float)):
        value = next(iter(value.values()))
    if not isinstance(value, str):
        value = json.dumps(value, ensure_ascii=False, default=str)
    return clip(" ".join(value.split()), limit) or ""


def payload(json_text: Any) -> dict[str, Any]:
    """A payload for the detail pane: parsed JSON, or its first DETAIL_CHARS characters when longer."""
    if json_text is None:
        return {"value": None, "truncated": False}
    raw = str(json_text)
    if len(raw) > DETAIL_CHARS:
        return {"value": raw[:DETAIL_CHARS], "truncated": True, "chars": len(raw)}
    return {"value": from_json(raw), "truncated": False}


def value_of(json_text: Any, limit: int = PREVIEW_CHARS) -> Any:
    value = from_json(json_text)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, str):
        return clip(value, limit)
    if isinstance(value, (dict, list)):
        return clip(json.dumps(value, ensure_ascii=False), limit)
    return value


def text_of(json_text: Any, limit: int) -> str:
    if json_text is None:
        return ""
    value = from_json(json_text)
    text = value if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False, default=str)
    return text[:limit]


def word_ops(a: str, b: str) -> list[list[str]]:
    """``llmops_nb.diff(a, b)`` flattened to ``[tag, a_text, b_text]`` runs (equal, insert, delete,
    replace), words inside changed lines, lines joined by newlines."""
    from ..._diff import diff

    ops: list[list[str]] = []

    def add(tag: str, left: str, right: str) -> None:
        if not left and not right:
            return
        if ops and ops[-1][0] == tag:
            ops[-1][1] += left
            ops[-1][2] += right
        else:
            ops.append([tag, left, right])

    rows = [row for section in diff(a, b).sections for row in section["rows"]]
    for k, row in enumerate(rows):
        if row["op"] == "equal":
            add("equal", row["a"], row["b"])
        elif row["op"] == "insert":
            add("insert", "", row["b"])
        elif row["op"] == "delete":
            add("delete", row["a"], "")
        else:
            for tag, left, right in row.get("words") or [["replace", row["a"] or "", row["b"] or ""]]:
                add(tag, left, right)
        if k < len(rows) - 1:
            left_nl = "\n" if row["a"] is not None else ""
            right_nl = "\n" if row["b"] is not None else ""
            add("equal" if left_nl and right_nl else "delete" if left_nl else "insert", left_nl, right_nl)
    return ops


def feedback_json(r: dict[str, Any]) -> dict[str, Any] | None:
    if not r.get("fb_count"):
        return None
    return {"value": from_json(r["fb_value"]), "label": r["fb_label"], "comment": clip(r["fb_comment"], TIP_CHARS),
            "author": r["fb_author"], "at": iso(r["fb_at"]), "count": int(r["fb_count"])}
