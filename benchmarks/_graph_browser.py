"""The agent graph's first render in JupyterLab, for ``browser_bench.py`` (issue 15's targets).

Two cells timed like the explorer's: ``llmops_nb.graph(trace_id)`` on one agent loop of
``GRAPH_SPANS`` spans, and ``llmops_nb.graph(name="agent")`` aggregating ``GRAPH_TRACES`` agent traces
of 20 spans. Both stores are ``agents_graph_bench.py``'s, built by bulk SQL: its loop is an agent's
shape (a model/tool loop with a tool repeated back to back, a sub-agent, a handoff between two agents:
8 nodes, 17 edges, 3 cycles), where the explorer's 10,000-span trace names every turn and tool apart
("llm turn 17", "tool 17.3"), so its graph would be 10,000 one-call boxes rather than an agent's graph.

Same two clocks as the explorer: the view's own ``data-open-ms`` (js/graph/widget.js: its render call
to the first layout drawn, the ``graph`` request to the kernel and dagre's layout included) and end to
end (the run command to that mark: the kernel's ``agent_graph()``, the SVG snapshot sent with the
widget, the widget's set-up). What the kernel does is also timed here, outside the kernel, on the same file.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

GRAPH_SPANS = 10_000
GRAPH_TRACES = 10_000
ROOT_SELECTOR = ".lnb-graph[data-open-ms]"
STATIC = Path(__file__).resolve().parents[1] / "llmops_nb" / "static"


def build_graph_store(db: Path) -> str:
    """The loop trace and the many traces in a fresh store; returns the loop's trace id."""
    import llmops_nb
    from benchmarks.agents_graph_bench import build_loop, build_many
    from llmops_nb.store._connection import get_store

    llmops_nb.configure(db=str(db))
    with get_store().connect() as con:
        trace_id = build_loop(con, GRAPH_SPANS)
        build_many(con, GRAPH_TRACES)
        spans = con.execute("SELECT count(*) FROM spans WHERE trace_id = ?", [trace_id]).fetchone()[0]
    assert spans == GRAPH_SPANS, f"the loop has {spans} spans, expected {GRAPH_SPANS}"
    return trace_id


def cells(db: Path, trace_id: str) -> dict[str, list[str]]:
    """The two notebooks: a setup cell, then the graph shown."""
    setup = f"import llmops_nb\nllmops_nb.configure(db={str(db)!r})"
    return {"graph_one.ipynb": [setup, f"llmops_nb.graph({trace_id!r}, height=600)"],
            "graph_many.ipynb": [setup, "llmops_nb.graph(name='agent', height=600)"]}


def kernel_side(trace_id: str, runs: int) -> dict[str, Any]:
    """What the kernel does for one display, timed in this process on the same file: ``graph()`` (the
    SQL, igraph's cycles, the paths, the payload) and the script-free SVG snapshot sent with it."""
    from llmops_nb import graph
    from llmops_nb.store._connection import get_store

    out: dict[str, Any] = {}
    for key, args in (("one", {"traces": trace_id}), ("many", {"name": "agent"})):
        graph(**args).close()  # warm-up, as the notebook's kernel is warm after its first run
        made, shot = [], []
        for _ in range(runs):
            started = time.perf_counter()
            view = graph(**args)
            middle = time.perf_counter()
            view.snapshot()
            made.append((middle - started) * 1000)
            shot.append((time.perf_counter() - middle) * 1000)
            payload = view.payload()
            view.close()
        out[key] = {"graph": made, "snapshot": shot, "payload_bytes": len(json.dumps(payload)),
                    "nodes": len(payload["nodes"]), "edges": len(payload["edges"]),
                    "cycles": len(payload["cycles"]), "spans": payload["span_count"],
                    "traces": payload["trace_count"], "truncated": payload["truncated"]}
    get_store().close()  # the file free for the notebook's kernel
    out["bundle_bytes"] = sum((STATIC / f"graph.{ext}").stat().st_size for ext in ("js", "css"))
    return out


def graph_runs(server: Any, browser: Any, runs: int, notebook: str, expect: dict[str, Any],
               open_and_run: Callable[..., float]) -> dict[str, Any]:
    """``runs`` first renders of ``notebook`` (plus one unmeasured first), each on a fresh page;
    ``expect`` is the kernel side's facts of that graph, checked against what the view drew."""
    first, out = None, []
    for run in range(runs + 1):
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        wall = open_and_run(server, page, notebook, ROOT_SELECTOR)
        root = page.locator(".lnb-graph")
        view_ms = float(root.get_attribute("data-open-ms"))
        layout_ms = float(root.get_attribute("data-layout-ms"))
        assert root.get_attribute("data-nodes") == str(expect["nodes"]), root.get_attribute("data-nodes")
        assert root.locator(".lnb-gr-node").count() == expect["nodes"]
        facts = root.locator(".lnb-gr-facts-line").text_content() or ""
        assert f"{expect['spans']:,} spans" in facts, facts
        page.close()
        if run == 0:
            first = {"wall": wall, "view": view_ms}
        else:
            out.append({"wall": wall, "view": view_ms, "layout": layout_ms})
    return {"first": first, "open": out}


def _ms(values: list[float]) -> str:
    return ", ".join(f"{v:.0f}" for v in values)


def report_rows(gr: dict[str, Any]) -> list[str]:
    """Rows for browser_bench's table: view and end to end, for the one trace and the many."""
    rows = []
    for key, what in (("one", f"agent graph of one {GRAPH_SPANS:,}-span agent trace"),
                      ("many", f"agent graph of {GRAPH_TRACES:,} agent traces (20 spans each)")):
        views = [r["view"] for r in gr[key]["open"]]
        walls = [r["wall"] for r in gr[key]["open"]]
        rows += [
            f"| {what}, first render: view (its render call → graph drawn, the `graph` request and dagre's "
            f"layout included) | **{statistics.median(views):.0f} ms** | {_ms(views)} |",
            f"| {what}, first render: end to end (run the cell → graph drawn, `agent_graph()` in the kernel "
            f"included) | {statistics.median(walls):.0f} ms | {_ms(walls)} |",
        ]
    return rows


def report_notes(gr: dict[str, Any]) -> list[str]:
    """A paragraph under the table: where the graph's end-to-end time goes."""
    k = gr["kernel"]
    parts = []
    for key, what in (("one", "the one trace"), ("many", f"the {GRAPH_TRACES:,} traces")):
        layouts = [r["layout"] for r in gr[key]["open"]]
        facts = k[key]
        parts.append(
            f"for {what} ({facts['spans']:,} spans: {facts['nodes']} nodes, {facts['edges']} edges, "
            f"{facts['cycles']} cycles) `graph()` takes {statistics.median(facts['graph']):.0f} ms in the kernel, "
            f"its SVG snapshot {statistics.median(facts['snapshot']):.0f} ms, dagre's layout and drawing "
            f"{statistics.median(layouts):.1f} ms in the page, and the payload is "
            f"{facts['payload_bytes'] / 1024:,.1f} KiB")
    return [
        "The agent graph's stores are `benchmarks/agents_graph_bench.py`'s (bulk SQL): a loop with a tool "
        "repeated back to back, a sub-agent and a handoff. Between its two clocks: " + "; ".join(parts)
        + f" (timed outside the kernel on the same file). The widget's state carries the graph bundle "
        f"({k['bundle_bytes'] / 1024:,.0f} KiB of JS and CSS, the embedded explorer's included).",
        "",
        f"First, unmeasured runs: one trace {gr['one']['first']['view']:.0f} ms view / "
        f"{gr['one']['first']['wall']:.0f} ms end to end; {GRAPH_TRACES:,} traces "
        f"{gr['many']['first']['view']:.0f} ms / {gr['many']['first']['wall']:.0f} ms.",
        "",
    ]
