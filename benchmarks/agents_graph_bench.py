"""Benchmark: ``llmops_nb.agents.agent_graph()`` on stores built by bulk SQL.

    python benchmarks/agents_graph_bench.py [--agent-spans 10000] [--traces 10000] [--repeat 5] [--keep DIR]

Each measure is the median of ``--repeat`` runs after one warm-up, cold (the store's file attached
again) and warm (its connection still open), through the public function and ``payload()`` — the
SQL, igraph's cycles, the paths and the JSON-safe payload the view draws:

- one agent loop of ``--agent-spans`` spans: a root AGENT, steps (CHAIN) of model calls and tools,
  a tool repeated back to back, a sub-agent handing off to another; with nothing skipped and with
  ``skip_kinds=("CHAIN",)``. Target: well under 500 ms (the view adds its layout), aimed at 150 ms;
- ``--traces`` agent traces of 20 spans each, aggregated (``name="agent"``), with and without
  skipping the CHAIN steps. Target: at most 1 s.

The stores are fresh DuckDB files migrated by llmops_nb and filled by ``INSERT … SELECT`` from
``range()`` (``agents_bench.py``'s way and timing helpers). Prints a markdown table.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.agents_bench import _S, BASE_NS, measure  # noqa: E402  (after the path is set)

# One step of the agent loop: (offset in the step, parent offset or None for the root, name, kind).
# Offset 0 is the step's CHAIN span; the model and the tool take turns, "search" runs twice back to back,
# then "researcher" (AGENT) works and hands off to "writer" (AGENT), both in the step.
LOOP_STEP = (
    (0, None, "step", "CHAIN"),
    (1, 0, "chat gpt-4o", "CHAT_MODEL"),
    (2, 0, "search", "TOOL"),
    (3, 0, "search", "TOOL"),
    (4, 0, "chat gpt-4o", "CHAT_MODEL"),
    (5, 0, "researcher", "AGENT"),
    (6, 5, "chat gpt-4o", "CHAT_MODEL"),
    (7, 5, "fetch", "TOOL"),
    (8, 0, "writer", "AGENT"),
    (9, 8, "draft", "LLM"),
    (10, 8, "search", "TOOL"),
)


def build_loop(con: Any, spans: int, trace_id: str = "b" * 32) -> str:
    """One agent loop of about ``spans`` spans: a root and steps of ``LOOP_STEP``, a step a second."""
    per = len(LOOP_STEP)
    steps = max(1, (spans - 1) // per)
    con.execute(f"""
        INSERT INTO traces (trace_id, name, status, start_ns, end_ns, span_count, llm_calls)
        VALUES ('{trace_id}', 'loop_agent', 'OK', {BASE_NS}, {BASE_NS} + {steps} * {_S}, {1 + steps * per},
                {steps * 4})""")
    con.execute(f"""
        INSERT INTO spans (trace_id, span_id, parent_span_id, name, kind, start_ns, end_ns, status)
        VALUES ('{trace_id}', '{'0' * 16}', NULL, 'loop_agent', 'AGENT', {BASE_NS}, {BASE_NS} + {steps} * {_S},
                'OK')""")
    shape = ", ".join(f"({o}, {'NULL' if p is None else p}, '{n}', '{k}')" for o, p, n, k in LOOP_STEP)
    con.execute(f"""
        INSERT INTO spans (trace_id, span_id, parent_span_id, name, kind, start_ns, end_ns, status, model,
                           input_tokens, output_tokens, cost_usd)
        SELECT '{trace_id}', printf('%016x', 1 + step * {per} + o),
               CASE WHEN p IS NULL THEN '{'0' * 16}' ELSE printf('%016x', 1 + step * {per} + p) END, n, k,
               {BASE_NS} + step * {_S} + o * 80_000_000,
               {BASE_NS} + step * {_S} + CASE WHEN o = 0 THEN 950_000_000 ELSE o * 80_000_000 + 70_000_000 END,
               CASE WHEN step % 101 = 7 AND o = 2 THEN 'ERROR' ELSE 'OK' END,
               CASE WHEN k IN ('CHAT_MODEL', 'LLM') THEN 'gpt-4o' END,
               CASE WHEN k IN ('CHAT_MODEL', 'LLM') THEN 500 END, CASE WHEN k IN ('CHAT_MODEL', 'LLM') THEN 50 END,
               CASE WHEN k IN ('CHAT_MODEL', 'LLM') THEN 5e-4 END
        FROM range({steps}) AS r(step), (VALUES {shape}) AS shape(o, p, n, k)""")
    return trace_id


def build_many(con: Any, traces: int) -> None:
    """``traces`` agent traces of 20 spans: a root, 3 steps (CHAIN) of 5 calls, a final answer; trace i's
    second tool is "fetch" when i % 4 == 0, else "search" (so that the paths differ)."""
    start = BASE_NS + 10**6 * 10**9
    con.execute(f"""
        INSERT INTO traces (trace_id, name, status, start_ns, end_ns, span_count, llm_calls)
        SELECT md5('m' || i), 'agent', 'OK', {start} + i * {_S}, {start} + i * {_S} + 950_000_000, 20, 7
        FROM range({traces}) AS r(i)""")
    con.execute(f"""
        INSERT INTO spans (trace_id, span_id, parent_span_id, name, kind, start_ns, end_ns, status)
        SELECT md5('m' || i), substr(md5('mr' || i), 1, 16), NULL, 'agent', 'AGENT', {start} + i * {_S},
               {start} + i * {_S} + 950_000_000, 'OK'
        FROM range({traces}) AS r(i)""")
    con.execute(f"""
        INSERT INTO spans (trace_id, span_id, parent_span_id, name, kind, start_ns, end_ns, status)
        SELECT md5('m' || i), substr(md5('ms' || i || '/' || step), 1, 16), substr(md5('mr' || i), 1, 16), 'step',
               'CHAIN', {start} + i * {_S} + step * 300_000_000, {start} + i * {_S} + (step + 1) * 300_000_000, 'OK'
        FROM range({traces}) AS r(i), range(3) AS s(step)""")
    con.execute(f"""
        INSERT INTO spans (trace_id, span_id, parent_span_id, name, kind, start_ns, end_ns, status, model,
                           input_tokens, output_tokens, cost_usd)
        SELECT md5('m' || i), substr(md5('mc' || i || '/' || step || '/' || call), 1, 16),
               substr(md5('ms' || i || '/' || step), 1, 16),
               CASE WHEN call IN (0, 3) THEN 'chat gpt-4o' WHEN call = 2 AND i % 4 = 0 THEN 'fetch' ELSE 'search' END,
               CASE WHEN call IN (0, 3) THEN 'CHAT_MODEL' ELSE 'TOOL' END,
               {start} + i * {_S} + step * 300_000_000 + 5_000_000 + call * 55_000_000,
               {start} + i * {_S} + step * 300_000_000 + 5_000_000 + call * 55_000_000 + 50_000_000
               + (i % 5) * 1_000_000,
               'OK', CASE WHEN call IN (0, 3) THEN 'gpt-4o' END, CASE WHEN call IN (0, 3) THEN 500 END,
               CASE WHEN call IN (0, 3) THEN 50 END, CASE WHEN call IN (0, 3) THEN 5e-4 END
        FROM range({traces}) AS r(i), range(3) AS s(step), range(5) AS c(call)""")
    con.execute(f"""
        INSERT INTO spans (trace_id, span_id, parent_span_id, name, kind, start_ns, end_ns, status, model,
                           input_tokens, output_tokens, cost_usd)
        SELECT md5('m' || i), substr(md5('mf' || i), 1, 16), substr(md5('mr' || i), 1, 16), 'chat gpt-4o',
               'CHAT_MODEL', {start} + i * {_S} + 905_000_000, {start} + i * {_S} + 945_000_000, 'OK', 'gpt-4o', 900,
               90, 9e-4
        FROM range({traces}) AS r(i)""")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agent-spans", type=int, default=10_000)
    parser.add_argument("--traces", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", type=Path, default=None, help="build the store in this folder and keep it")
    args = parser.parse_args()

    import llmops_nb
    from llmops_nb import agents
    from llmops_nb.store._connection import get_store

    workdir = args.keep or Path(tempfile.mkdtemp(prefix="agents-graph-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "graph.duckdb"
    path.unlink(missing_ok=True)
    llmops_nb.configure(db=str(path))
    with get_store().connect() as con:
        trace_id = build_loop(con, args.agent_spans)
        build_many(con, args.traces)
        spans = con.execute("SELECT count(*) FROM spans").fetchone()[0]
    get_store().close()

    rows: list[tuple[str, str, str]] = []
    results: dict[str, Any] = {}
    for skip in ((), ("CHAIN",)):
        shown = f", skip_kinds={skip!r}" if skip else ""

        def one(skip: tuple[str, ...] = skip) -> Any:
            graph = agents.agent_graph(trace_id, skip_kinds=skip)
            return graph, graph.payload()

        results[f"one{shown}"] = measure(rows, f"one trace of {args.agent_spans:,} spans{shown}", one, args.repeat,
                                         "< 500 ms (aim 150)")

        def many(skip: tuple[str, ...] = skip) -> Any:
            graph = agents.agent_graph(name="agent", skip_kinds=skip)
            return graph, graph.payload()

        results[f"many{shown}"] = measure(rows, f"{args.traces:,} traces x 20 spans{shown}", many, args.repeat,
                                          "≤ 1,000 ms")

    graph, _ = results["one"]
    page = measure(rows, "`spans(node)` first page of 50, the one trace",
                   lambda: graph.spans("TOOL:search"), args.repeat, "report")
    print(f"### llmops_nb.agents.agent_graph() ({spans:,} spans in the store)\n")
    for label, (graph, payload) in results.items():
        cycles = "; ".join(graph.cycles.label.head(3))
        print(f"- {label}: {graph.span_count:,} spans, {len(payload['nodes'])} nodes, {len(payload['edges'])} "
              f"edges, {len(graph.cycles)} cycles ({cycles}), {len(graph.paths):,} distinct paths")
    print(f"- spans(node) page: {len(page['rows'])} rows of {page['total']:,}\n")
    print("| measure | median, ms (runs) | target |")
    print("| --- | --- | --- |")
    for what, value, target in rows:
        print(f"| {what} | {value} | {target} |")
    print(f"\nmachine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; store: {workdir}")


if __name__ == "__main__":
    main()
