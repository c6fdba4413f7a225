"""The cells of an eval table's snapshot: a score with pass/fail as a coloured word and the judge's
rationale, a row's latency, tokens and cost (in a comparison both runs' and the change), its
latest feedback, and the run's usage line.

Pass and fail are words in a colour, never glyphs (✅ and ❌ render as empty boxes in many fonts);
the colours and every ``style`` value are ours, the text goes through ``llmops_nb._html``.
"""

from __future__ import annotations

from typing import Any

from ... import _format as fmt
from ..._html import Markup, escape, tag
from ._format import clip, short_number

PASS, FAIL, DIM = "color:#1a7f37;font-weight:600", "color:#cf222e;font-weight:600", "opacity:.7"
RATIONALE_CHARS = 300


def value_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return short_number(value)
    return str(value)


def verdict(passed: Any) -> Markup:
    """``pass`` in green, ``fail`` in red; nothing when the value has no verdict."""
    if passed is True:
        return tag("span", "pass", style=PASS)
    if passed is False:
        return tag("span", "fail", style=FAIL)
    return Markup("")


def _failed(error: str) -> Markup:
    return Markup(" ").join([tag("span", "error:", style=FAIL), clip(error, 200) or ""])


def _rationale(text: Any) -> Markup:
    if not text:
        return Markup("")
    return Markup("").join([Markup("<br>"), tag("small", clip(text, RATIONALE_CHARS), style=DIM)])


def score_cell(view: Any, scorer: dict[str, Any], score: dict[str, Any]) -> Markup:
    """One score: its value and verdict (and the rationale, a judge's in particular); in a comparison
    baseline → candidate with the change and the outcome."""
    if view.compare:
        before = Markup("error") if score["be"] else Markup(" ").join([value_text(score["bv"]) or "–",
                                                                        verdict(score["bp"])])
        after = _failed(score["e"]) if score["e"] else Markup(" ").join([value_text(score["v"]) or "–",
                                                                         verdict(score["p"])])
        outcome = {"win": PASS, "loss": FAIL}.get(score["o"] or "", DIM)
        change = "" if score["d"] is None else tag("span", f"({score['d']:+.3g}, {score['o']})", style=outcome)
        return Markup("").join([Markup(" ").join([before, "→", after, change]), _rationale(score["r"])])
    if score["e"]:
        return _failed(score["e"])
    shown = Markup(" ").join([value_text(score["v"]), verdict(score["p"])])
    return Markup("").join([shown, _rationale(score["r"])])


def _delta(before: Any, after: Any, text: Any, lower_is_better: bool = True) -> Markup:
    """``before → after (±change)`` with the change green when better (lower latency or cost)."""
    if before is None or after is None:
        return escape(f"{text(before)} → {text(after)}")
    change = after - before
    sign = "+" if change > 0 else "−" if change < 0 else "±"
    style = DIM if change == 0 else PASS if (change < 0) == lower_is_better else FAIL
    return Markup(" ").join([f"{text(before)} → {text(after)}", tag("span", f"({sign}{text(abs(change))})",
                                                                        style=style)])


def _tokens(n: Any) -> str:
    return fmt.UNKNOWN if n is None else f"{int(n):,}"


def usage_cells(r: dict[str, Any], compare: bool) -> list[Any]:
    """Latency, tokens and cost of a row (the app's spans); in a comparison both runs' and the change."""
    if compare:
        base = r["base"]
        return [_delta(base.get("latency_ms"), r["latency_ms"], fmt.duration),
                _delta(base.get("tokens"), r["tokens"], _tokens), _delta(base.get("cost_usd"), r["cost_usd"], fmt.cost)]
    cost = fmt.cost(r["cost_usd"])
    judged = r.get("trace_cost_usd")
    if judged is not None and r["cost_usd"] is not None and judged > r["cost_usd"]:
        cost += f" (with scoring {fmt.cost(judged)})"  # the judges' calls are in the row's trace too
    return [fmt.duration(r["latency_ms"]) if r["latency_ms"] is not None else fmt.UNKNOWN, _tokens(r["tokens"]), cost]


def feedback_cell(fb: dict[str, Any] | None) -> Markup:
    """The latest feedback: thumbs up/down as coloured words, the label, the comment, who gave it."""
    if fb is None:
        return Markup("")
    parts: list[Any] = []
    if fb["value"] is True:
        parts.append(tag("span", "thumbs up", style=PASS))
    elif fb["value"] is False:
        parts.append(tag("span", "thumbs down", style=FAIL))
    if fb["label"]:
        parts.append(tag("strong", fb["label"]))
    if fb["comment"]:
        parts.append(clip(fb["comment"], RATIONALE_CHARS))
    if fb["author"]:
        parts.append(tag("small", f"— {fb['author']}", style=DIM))
    return Markup(" ").join(parts)


def usage_line(summary: dict[str, Any], compare: bool) -> str:
    """The run's mean latency, tokens and cost (the app's), and in a comparison the changes."""
    usage = summary.get("usage") or {}
    if compare:
        base = summary.get("base_usage") or {}
        return " · ".join([f"mean latency {_change(base.get('latency_ms'), usage.get('latency_ms'), fmt.duration)}",
                           f"tokens {_change(base.get('tokens'), usage.get('tokens'), _tokens)}",
                           f"cost {_change(base.get('cost_usd'), usage.get('cost_usd'), fmt.cost)}"])
    if usage.get("latency_ms") is None and usage.get("tokens") is None and usage.get("cost_usd") is None:
        return ""
    line = (f"mean latency {fmt.duration(usage.get('latency_ms'))} · {_tokens(usage.get('tokens'))} tokens · "
            f"cost {fmt.cost(usage.get('cost_usd'))}")
    judged = usage.get("trace_cost_usd")
    if judged is not None and usage.get("cost_usd") is not None and judged > usage["cost_usd"]:
        line += f" (with scoring {fmt.cost(judged)})"
    return line


def _change(before: Any, after: Any, text: Any) -> str:
    if before is None or after is None:
        return f"{text(before)} → {text(after)}"
    change = after - before
    sign = "+" if change > 0 else "−" if change < 0 else "±"
    return f"{text(before)} → {text(after)} ({sign}{text(abs(change))})"
