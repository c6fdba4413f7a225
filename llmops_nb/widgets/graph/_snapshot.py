"""The agent graph as script-free HTML and one line of text: what a shared notebook shows of ``graph()``.

From the same payload the live view draws (``AgentGraph.payload()``): a sentence of totals, the graph
as an inline SVG (``_svg``, laid out by igraph in ``_layout``), then the top cycles and the typical
paths as plain tables. Every string from a trace is escaped (``llmops_nb._html``); nothing runs.
"""

from __future__ import annotations

from typing import Any

from ..._html import Markup, table, tag
from ._layout import place
from ._svg import clip, graph_svg

TABLE_ROWS = 10
EMPTY = "No spans in these traces."


def snapshot(payload: dict[str, Any], selected: str | None = None) -> dict[str, str]:
    """``text/html`` and ``text/plain`` of the graph in ``payload``; ``selected`` (a node or edge id) outlined."""
    head = summary(payload)
    if not payload["nodes"]:
        body = tag("p", EMPTY, style="color:#59636e")
        html_text = tag("div", Markup("\n"), tag("p", head), Markup("\n"), body, Markup("\n"),
                        class_="llmops-nb-agent-graph")
        return {"text/plain": f"AgentGraph: {head}", "text/html": str(html_text)}
    svg = graph_svg(payload, place(payload["nodes"], payload["edges"]), selected)
    legend = ("solid: calls (parent → child) · dashed: next (one step after another under the same parent) · "
              "thick blue: handoffs between agents · orange: cycles, with how often they repeat")
    figure = tag("figure", svg, tag("figcaption", legend, style="color:#59636e;font-size:11px"),
                 style="margin:8px 0;overflow-x:auto")
    html_text = tag("div", Markup("\n"), tag("p", head), Markup("\n"), figure, Markup("\n"), _cycles(payload),
                    Markup("\n"), _paths(payload), Markup("\n"), class_="llmops-nb-agent-graph")
    return {"text/plain": text_line(payload), "text/html": str(html_text)}


def summary(payload: dict[str, Any]) -> str:
    """``Agent graph of 12 traces (340 spans): 8 nodes, 11 edges, 2 cycles.`` and the limit, if it cut."""
    traces, spans = payload["trace_count"], payload["span_count"]
    what = (f"trace {payload['trace_ids'][0]}" if traces == 1 and payload.get("trace_ids")
            else f"{traces:,} trace{'' if traces == 1 else 's'}")
    head = (f"Agent graph of {what} ({spans:,} span{'' if spans == 1 else 's'}): "
            f"{_count(payload['nodes'], 'node')}, {_count(payload['edges'], 'edge')}, "
            f"{_count(payload['cycles'], 'cycle')}.")
    if payload.get("truncated"):
        head += f" Only the newest {traces:,} traces are in it (the limit); pass limit= for more."
    return head


def text_line(payload: dict[str, Any]) -> str:
    """One line: the totals, the cycles, and the most frequent path."""
    line = f"AgentGraph: {summary(payload)}"
    if payload["cycles"]:
        line += " Cycles: " + "; ".join(clip(c["label"], 60) for c in payload["cycles"][:3]) + "."
    if payload["paths"]:
        top = payload["paths"][0]
        line += f" Top path ({top['share'] * 100:.0f}%): {clip(top['path'], 100)}"
    return line


def _cycles(payload: dict[str, Any]) -> Markup:
    cycles = payload["cycles"][:TABLE_ROWS]
    if not cycles:
        return tag("p", "No cycles: no step repeats.")
    rows = [tag("tr", tag("td", c["label"]), tag("td", f"{int(c['repeats']):,}", style="text-align:right"),
                tag("td", f"{int(c['traces']):,}", style="text-align:right")) for c in cycles]
    more = len(payload["cycles"]) - len(cycles)
    caption = "Cycles" + (f" (the first {len(cycles)} of {len(payload['cycles'])})" if more > 0 else "")
    return _table(caption, ("cycle", "repeats", "traces"), rows)


def _paths(payload: dict[str, Any]) -> Markup:
    paths = payload["paths"][:TABLE_ROWS]
    if not paths:
        return Markup("")
    rows = [tag("tr", tag("td", p["path"], style="overflow-wrap:anywhere"),
                tag("td", f"{int(p['traces']):,}", style="text-align:right"),
                tag("td", f"{p['share'] * 100:.0f}%", style="text-align:right")) for p in paths]
    return _table("Typical paths (agents, tools, models, retrievers in start order)", ("path", "traces", "share"),
                  rows)


def _table(caption: str, headers: tuple[str, ...], rows: list[Markup]) -> Markup:
    return table(headers, rows, caption=caption)


def _count(items: list[Any], noun: str) -> str:
    return f"{len(items):,} {noun}{'' if len(items) == 1 else 's'}"
