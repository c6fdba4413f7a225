"""The agent graph as an inline ``<svg>`` for the snapshot, drawn like the live view, simplified.

Boxes: the kind as a coloured chip (the colours of ``js/explorer/kinds.js``), the name (cut short,
whole in a ``<title>``), calls, total time, tokens and cost. Edges: a call solid, a next dashed, a
handoff thick in the accent colour and labelled so; thicker as their count grows (log scale); nodes
and edges in a cycle in the cycle colour, each cycle with a badge ``↻ ×repeats`` at its entry node.
Arrowheads are drawn triangles, not ``<marker>``s: no ids to collide between two snapshots on a page,
nothing a sanitizer strips. Every string from a trace goes in through ``llmops_nb._html``; no
script, no event attribute, no link. Positions come from ``_layout``.
"""

from __future__ import annotations

import math
from typing import Any

from ..._format import cost, duration
from ..._html import Markup, tag
from ._layout import NODE_H, NODE_W, Placement, Point, Route

# mirrors js/explorer/kinds.js (letters, colour) and js/graph/style.css (the rest)
KINDS = {
    "LLM": ("LM", "#8250df"), "CHAT_MODEL": ("CM", "#8250df"), "AGENT": ("AG", "#bf3989"),
    "CHAIN": ("CH", "#0969da"), "WORKFLOW": ("WF", "#0969da"), "TASK": ("TA", "#0969da"),
    "TOOL": ("TL", "#bc4c00"), "RETRIEVER": ("RT", "#1a7f37"), "RERANKER": ("RR", "#1a7f37"),
    "EMBEDDING": ("EM", "#1b7c83"), "MEMORY": ("ME", "#1b7c83"), "PARSER": ("PA", "#6e7781"),
    "GUARDRAIL": ("GR", "#9a6700"), "EVALUATOR": ("EV", "#9a6700"), "UNKNOWN": ("··", "#6e7781"),
}
FG, FG2, BORDER, EDGE = "#1f2328", "#59636e", "#d1d9e0", "#8c959f"
CYCLE, HANDOFF, ERROR, SELECT = "#d4610a", "#0969da", "#cf222e", "#0969da"
FONT = "system-ui, -apple-system, 'Segoe UI', sans-serif"
VERBS = {"call": "calls", "next": "then", "handoff": "hands off to"}
NAME_CHARS = 24  # of a name in a box; the whole name is in its <title>


def graph_svg(payload: dict[str, Any], placement: Placement, selected: str | None = None) -> Markup:
    """The payload's graph at ``placement`` as one ``<svg>`` element."""
    nodes = {n["id"]: n for n in payload["nodes"]}
    many = payload.get("trace_count", 0) > 1
    top = max([e["count"] or 0 for e in payload["edges"]] or [1])
    parts = [tag("rect", x="0", y="0", width=_px(placement.width), height=_px(placement.height), fill="#ffffff")]
    labels: list[Markup] = []
    taken: list[tuple[float, float, float]] = []  # the labels placed so far (centre, width): the next avoids them
    for e in payload["edges"]:
        route = placement.routes.get(e["id"])
        if route is None:
            continue
        names = (nodes[e["source"]]["name"], nodes[e["target"]]["name"])
        line, text, colour = _edge(e, route, names=names, top=top, many=many, selected=e["id"] == selected)
        parts.append(line)
        labels.append(_label(text, colour, route, taken))
    for node_id, centre in placement.nodes.items():
        parts.append(_node(nodes[node_id], centre, node_id == selected))
    parts += labels  # over the boxes and lines, where a label crosses one
    parts += _badges(payload["cycles"], placement)
    summary = f"agent graph: {len(nodes)} nodes, {len(payload['edges'])} edges, {len(payload['cycles'])} cycles"
    return tag("svg", *parts, xmlns="http://www.w3.org/2000/svg", width=_px(placement.width),
               height=_px(placement.height), viewBox=f"0 0 {_px(placement.width)} {_px(placement.height)}",
               role="img", aria_label=summary, font_family=FONT, font_size="12", style="max-width:100%;height:auto")


def _node(node: dict[str, Any], centre: Point, selected: bool) -> Markup:
    letters, colour = KINDS.get(node["kind"], KINDS["UNKNOWN"])
    x, y = centre[0] - NODE_W / 2, centre[1] - NODE_H / 2
    stroke = SELECT if selected else CYCLE if node.get("in_cycle") else BORDER
    width = "3" if selected else "2" if node.get("in_cycle") else "1"
    errors = node.get("errors") or 0
    facts = node_facts(node)
    title = f"{node['name']}\n{node['kind']} · {' · '.join(facts)}"
    if errors:
        title += f"\n{_plural(errors, 'error')}"
    return tag(
        "g",
        tag("title", title),
        tag("rect", x=_px(x), y=_px(y), width=str(NODE_W), height=str(NODE_H), rx="6", fill="#ffffff",
            stroke=ERROR if errors and not selected else stroke, stroke_width=width),
        tag("rect", x=_px(x + 8), y=_px(y + 8), width="22", height="16", rx="3", fill=colour),
        tag("text", letters, x=_px(x + 19), y=_px(y + 20), fill="#ffffff", font_size="10", font_weight="600",
            text_anchor="middle"),
        tag("text", clip(node["name"], NAME_CHARS), x=_px(x + 36), y=_px(y + 21), fill=FG, font_weight="600"),
        tag("text", " · ".join(facts) + (f" · {errors} err" if errors else ""), x=_px(x + 8), y=_px(y + 40),
            fill=ERROR if errors else FG2, font_size="11"),
        class_="node",
    )


def node_facts(node: dict[str, Any]) -> list[str]:
    """``×12``, the total time, the tokens and the cost, the ones known."""
    facts = [f"×{int(node.get('calls') or 0):,}", duration(node.get("duration_ms"))]
    tokens = (node.get("input_tokens") or 0) + (node.get("output_tokens") or 0)
    if tokens:
        facts.append(f"{_tokens(tokens)} tok")
    if node.get("cost_usd") is not None:
        facts.append(cost(node["cost_usd"]))
    return facts


def edge_text(edge: dict[str, Any], many: bool) -> str:
    """``×12`` (one trace) or ``×12 · 80%`` (of the traces it is in), ``handoff`` in front of a handoff."""
    text = f"×{int(edge.get('count') or 0):,}"
    if many and edge.get("share") is not None:
        text += f" · {edge['share'] * 100:.0f}%"
    return f"handoff {text}" if edge["type"] == "handoff" else text


def _edge(edge: dict[str, Any], route: Route, *, names: tuple[str, str], top: int, many: bool,
          selected: bool) -> tuple[Markup, str, str]:
    """The edge's line and arrow; its label's text and colour."""
    handoff = edge["type"] == "handoff"
    colour = SELECT if selected else CYCLE if edge.get("in_cycle") else HANDOFF if handoff else EDGE
    width = 1.2 + 3.5 * math.log1p(edge.get("count") or 0) / math.log1p(max(top, 1)) + (1.5 if handoff else 0)
    dash = "6 4" if edge["type"] == "next" else None
    path, tip, toward = _path(route)
    text = edge_text(edge, many)
    verb = VERBS.get(edge["type"], edge["type"])
    title = f"{names[0]} {verb} {names[1]}\n{text}, in {_plural(edge.get('traces') or 0, 'trace')}"
    line = tag("g", tag("title", title),
               tag("path", d=path, fill="none", stroke=colour, stroke_width=f"{width:.1f}", stroke_dasharray=dash),
               tag("polygon", points=_arrow(tip, toward, 4 + width), fill=colour), class_=f"edge {edge['type']}")
    return line, text, colour if colour != EDGE else FG2


def _label(text: str, colour: str, route: Route, taken: list[tuple[float, float, float]]) -> Markup:
    """An edge's count where its route puts it, moved down a line while it would cover a label already placed."""
    lx, ly = route.label
    chars = len(text) * 6.2 + 8
    if route.control is not None:  # a bowed edge's label sits outside its bow, clear of a straight twin's
        straight = ((route.points[0][0] + route.points[-1][0]) / 2, (route.points[0][1] + route.points[-1][1]) / 2)
        lx += math.copysign(chars / 2 - 4, route.control[0] - straight[0]) if route.control[0] != straight[0] else 0
    for _ in range(6):
        if not any(abs(lx - x) * 2 < chars + w and abs(ly - y) < 17 for x, y, w in taken):
            break
        ly += 17
    taken.append((lx, ly, chars))
    return tag("g", tag("rect", x=_px(lx - chars / 2), y=_px(ly - 8), width=_px(chars), height="16", rx="3",
                        fill="#ffffff", fill_opacity="0.85"),
               tag("text", text, x=_px(lx), y=_px(ly + 4), fill=colour, font_size="11", text_anchor="middle"))


def _path(route: Route) -> tuple[str, Point, Point]:
    """The path's ``d``, its tip, and a point it comes from (the arrow's direction)."""
    points = route.points
    if route.loop >= 0:
        (x0, y0), (x1, y1) = points
        reach = 34 + 14 * route.loop
        d = (f"M{_px(x0)},{_px(y0)} C{_px(x0 + reach)},{_px(y0 - 22)} {_px(x1 + reach)},{_px(y1 + 22)} "
             f"{_px(x1)},{_px(y1)}")
        return d, points[1], (x1 + reach, y1 + 22)
    if route.control is not None:
        (x0, y0), (x1, y1), (cx, cy) = points[0], points[-1], route.control
        return f"M{_px(x0)},{_px(y0)} Q{_px(cx)},{_px(cy)} {_px(x1)},{_px(y1)}", points[-1], route.control
    d = "M" + " L".join(f"{_px(x)},{_px(y)}" for x, y in points)
    return d, points[-1], points[-2]


def _arrow(tip: Point, toward: Point, size: float) -> str:
    dx, dy = tip[0] - toward[0], tip[1] - toward[1]
    length = math.hypot(dx, dy) or 1.0
    ux, uy = dx / length, dy / length
    back = (tip[0] - ux * size * 1.6, tip[1] - uy * size * 1.6)
    left = (back[0] - uy * size * 0.7, back[1] + ux * size * 0.7)
    right = (back[0] + uy * size * 0.7, back[1] - ux * size * 0.7)
    return " ".join(f"{_px(x)},{_px(y)}" for x, y in (tip, left, right))


def _badges(cycles: list[dict[str, Any]], placement: Placement) -> list[Markup]:
    """``↻ ×11`` above the right end of each cycle's entry node (stacked when several share it)."""
    out: list[Markup] = []
    seen: dict[str, int] = {}
    for c in cycles:
        entry = c["nodes"][0] if c.get("nodes") else None
        if entry not in placement.nodes:
            continue
        k = seen.get(entry, 0)
        seen[entry] = k + 1
        x, y = placement.nodes[entry]
        text = f"↻ ×{int(c.get('repeats') or 0):,}"
        width = len(text) * 6.5 + 10
        bx, by = x + NODE_W / 2 - width + 6 + k * (width + 4), y - NODE_H / 2 - 10
        out.append(tag("g", tag("title", f"cycle {c.get('label', '')}: repeats "
                                         f"{_plural(int(c.get('repeats') or 0), 'time')}, "
                                         f"in {_plural(int(c.get('traces') or 0), 'trace')}"),
                       tag("rect", x=_px(bx), y=_px(by), width=_px(width), height="16", rx="8", fill=CYCLE),
                       tag("text", text, x=_px(bx + width / 2), y=_px(by + 12), fill="#ffffff", font_size="11",
                           font_weight="600", text_anchor="middle"), class_="cycle-badge"))
    return out


def clip(text: Any, width: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _tokens(n: int) -> str:
    if n < 1000:
        return str(n)
    if n < 1_000_000:
        return f"{n / 1000:.{1 if n < 10_000 else 0}f}k"
    return f"{n / 1_000_000:.1f}M"


def _plural(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _px(value: float) -> str:
    return f"{value:.1f}"
