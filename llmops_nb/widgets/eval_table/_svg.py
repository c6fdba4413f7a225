"""A scorer's histogram as inline SVG for the snapshot: the bars where ``_histogram`` placed them,
the axis' ends labelled, the threshold marked. Text goes in through ``llmops_nb._html``; numbers,
colours and sizes are ours.
"""

from __future__ import annotations

from typing import Any

from ..._html import Markup, tag

WIDTH, BARS, HEIGHT = 160, 26, 40  # px: the drawing, its bars' height, with the labels under them
PASS, FAIL, NEUTRAL = "#1a7f37", "#cf222e", "#8c959f"


def histogram_svg(histogram: dict[str, Any]) -> Markup:
    """The histogram as an ``<svg>``; an empty string when it has no bars."""
    bins = histogram.get("bins") or []
    if not bins:
        return Markup("")
    top = max(1, *(b["count"] for b in bins))
    parts = [tag("line", x1="0", y1=str(BARS), x2=str(WIDTH), y2=str(BARS), stroke=NEUTRAL, stroke_width="1")]
    for b in bins:
        height = 0 if not b["count"] else max(1.5, b["count"] / top * (BARS - 2))
        x0, x1 = b["x0"] * WIDTH, b["x1"] * WIDTH
        colour = PASS if b.get("result") == "pass" else FAIL if b.get("result") == "fail" else NEUTRAL
        parts.append(tag("rect", tag("title", f"{b['label']}: {b['count']}"), x=_px(x0), y=_px(BARS - height),
                         width=_px(max(1.0, x1 - x0)), height=_px(height), fill=colour))
    if histogram.get("axis") is None:  # categories: each bar's label under it
        for b in bins:
            parts.append(_label(str(b["label"])[:10], (b["x0"] + b["x1"]) / 2 * WIDTH, "middle"))
    else:
        ticks = histogram.get("ticks") or []
        for tick, anchor in zip(ticks, ("start", "end"), strict=False):
            parts.append(_label(tick["label"], tick["x"] * WIDTH, anchor))
    if histogram.get("threshold_x") is not None:
        x = _px(histogram["threshold_x"] * WIDTH)
        parts.append(tag("line", tag("title", "threshold"), x1=x, y1="0", x2=x, y2=str(BARS), stroke=NEUTRAL,
                         stroke_width="1", stroke_dasharray="2 2"))
    label = ", ".join(f"{b['label']}: {b['count']}" for b in bins)
    return tag("svg", *parts, xmlns="http://www.w3.org/2000/svg", width=str(WIDTH), height=str(HEIGHT),
               viewBox=f"0 0 {WIDTH} {HEIGHT}", role="img", aria_label=f"histogram: {label}")


def _label(text: str, x: float, anchor: str) -> Markup:
    return tag("text", text, x=_px(x), y=str(HEIGHT - 3), font_size="9", text_anchor=anchor, fill=NEUTRAL)


def _px(value: float) -> str:
    return f"{value:.1f}"
