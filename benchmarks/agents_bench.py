"""Benchmark: ``llmops_nb.agents`` on big stores built by bulk SQL.

    python benchmarks/agents_bench.py [--sessions 100000] [--turns 3] [--agent-spans 10000]
                                      [--traces 10000] [--repeat 5] [--keep DIR]

Three measures, each the median of ``--repeat`` runs after one warm-up, through the public
functions (SQL, the pandas conversion and the text previews included):

- ``sessions()`` first page (100 rows) over ``--sessions`` sessions of ``--turns`` turns each
  (300,000 traces by default, a root span and one CHAT_MODEL span each, one assessment per turn in
  three; one session in ten named only by its root's OpenInference ``session.id`` attribute, the
  rest by ``traces.session``; built as a store of before migration m006, which then fills in
  ``traces.session`` from the roots' attributes when llmops_nb opens it: reported). Target: at most 50 ms.
- ``hotspots(trace_id)`` on one agent trace of ``--agent-spans`` spans (a root, steps of LLM and
  TOOL calls, some of them in parallel): the frame and the critical path. Reported.
- ``hotspots(name="agent")`` aggregating ``--traces`` agent traces of 20 spans each: the frame
  and the repeated calls. Target: at most 1 s.

Each store is a fresh DuckDB file migrated by llmops_nb and filled by ``INSERT … SELECT`` from
``range()``, so building 300,000 traces takes seconds, not the recorder's minutes. Prints markdown.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

BASE_NS = 1_790_000_000 * 10**9  # 2026-09-21: a fixed clock, so two runs build the same store
SECOND = 10**9
M006 = "m006_trace_session_from_root"
_S = f"{SECOND}::BIGINT"  # in SQL: step * 1000000000 as INT32 would overflow


def build_sessions(con: Any, sessions: int, turns: int) -> None:
    """``sessions`` x ``turns`` chat traces: turn j of session k is trace i = k * turns + j, a second apart."""
    count = sessions * turns
    rows = f"""
        SELECT i, i // {turns} AS k, i % {turns} AS turn, {BASE_NS} + i * {_S} AS s,
               {BASE_NS} + i * {_S} + 200_000_000 + (i % 7) * 10_000_000 AS e,
               (i // {turns}) % 10 = 0 AS by_attribute
        FROM range({count}) AS r(i)"""
    con.execute(f"""
        INSERT INTO traces (trace_id, name, status, start_ns, end_ns, span_count, llm_calls, error_count,
                            input_tokens, output_tokens, cost_usd, dropped_spans, session, request_preview,
                            response_preview)
        SELECT md5('t' || i), 'chat', CASE WHEN i % 97 = 0 THEN 'ERROR' ELSE 'OK' END, s, e, 2, 1,
               CASE WHEN i % 97 = 0 THEN 1 ELSE 0 END, 120 + 150 * turn, 40, (120 + 150 * turn) * 1e-6, 0,
               CASE WHEN by_attribute THEN NULL ELSE 'session-' || k END,
               '{{"messages": [{{"role": "user", "content": "question ' || i || '"}}]}}', '"answer ' || i || '"'
        FROM ({rows})""")
    con.execute(f"""
        INSERT INTO spans (trace_id, span_id, parent_span_id, name, kind, start_ns, end_ns, status, inputs,
                           outputs, attributes)
        SELECT md5('t' || i), substr(md5('r' || i), 1, 16), NULL, 'chat', 'CHAIN', s, e,
               CASE WHEN i % 97 = 0 THEN 'ERROR' ELSE 'OK' END,
               '{{"messages": [{{"role": "user", "content": "question ' || i || '"}}]}}', '"answer ' || i || '"',
               CASE WHEN by_attribute THEN '{{"session.id": "session-' || k || '"}}'
                    ELSE '{{"llmops_nb.session": "session-' || k || '"}}' END
        FROM ({rows})""")
    con.execute(f"""
        INSERT INTO spans (trace_id, span_id, parent_span_id, name, kind, start_ns, end_ns, status, inputs,
                           outputs, attributes, model, input_tokens, output_tokens, cost_usd)
        SELECT md5('t' || i), substr(md5('l' || i), 1, 16), substr(md5('r' || i), 1, 16), 'chat gpt-4o-mini',
               'CHAT_MODEL', s + 5_000_000, e - 5_000_000, 'OK',
               '{{"model": "gpt-4o-mini", "messages": [{{"role": "user", "content": "question ' || i || '"}}]}}',
               '{{"choices": [{{"message": {{"role": "assistant", "content": "answer ' || i || '"}}}}]}}',
               '{{"gen_ai.request.model": "gpt-4o-mini", "gen_ai.usage.input_tokens": ' || (120 + 150 * turn) || '}}',
               'gpt-4o-mini', 120 + 150 * turn, 40, (120 + 150 * turn) * 1e-6
        FROM ({rows})""")
    con.execute(f"""
        INSERT INTO assessments (assessment_id, trace_id, name, source_type, value, value_number, passed,
                                 created_at)
        SELECT md5('a' || i), md5('t' || i), 'helpfulness', 'LLM_JUDGE', CASE WHEN i % 4 = 0 THEN 'false'
               ELSE 'true' END, CASE WHEN i % 4 = 0 THEN 0.0 ELSE 1.0 END, i % 4 <> 0, TIMESTAMP '2026-10-01'
        FROM range({count}) AS r(i) WHERE i % 3 = 0""")


def build_agent(con: Any, spans: int, trace_id: str = "a" * 32) -> str:
    """One agent trace: a root, steps of 10 calls (LLM, TOOL in turn; calls 6-9 of a step run in parallel)."""
    steps = max(1, (spans - 1) // 11)
    con.execute(f"""
        INSERT INTO traces (trace_id, name, status, start_ns, end_ns, span_count, llm_calls, input_tokens,
                            output_tokens, cost_usd)
        VALUES ('{trace_id}', 'big_agent', 'OK', {BASE_NS}, {BASE_NS} + {steps} * {_S}, {1 + steps * 11},
                {steps * 5}, {steps * 5 * 500}, {steps * 5 * 50}, {steps * 5 * 5e-4})""")
    con.execute(f"""
        INSERT INTO spans (trace_id, span_id, parent_span_id, name, kind, start_ns, end_ns, status, inputs)
        VALUES ('{trace_id}', '{'0' * 16}', NULL, 'big_agent', 'AGENT', {BASE_NS}, {BASE_NS} + {steps} * {_S},
                'OK', '{{"question": "plan a trip"}}')""")
    con.execute(f"""
        INSERT INTO spans (trace_id, span_id, parent_span_id, name, kind, start_ns, end_ns, status, inputs)
        SELECT '{trace_id}', printf('%016x', 1 + step), '{'0' * 16}', 'step', 'CHAIN',
               {BASE_NS} + step * {_S}, {BASE_NS} + (step + 1) * {_S} - 1000, 'OK', '{{"step": ' || step || '}}'
        FROM range({steps}) AS r(step)""")
    con.execute(f"""
        INSERT INTO spans (trace_id, span_id, parent_span_id, name, kind, start_ns, end_ns, status, inputs,
                           model, input_tokens, output_tokens, cost_usd)
        SELECT '{trace_id}', printf('%016x', 1_000_000 + step * 10 + call), printf('%016x', 1 + step),
               CASE WHEN call % 2 = 0 THEN 'chat gpt-4o' ELSE 'search' END,
               CASE WHEN call % 2 = 0 THEN 'CHAT_MODEL' ELSE 'TOOL' END,
               {BASE_NS} + step * {_S} + least(call, 6) * 100_000_000,
               {BASE_NS} + step * {_S} + least(call, 6) * 100_000_000 + 90_000_000 + call * 1_000_000,
               'OK', '{{"query": "q' || (step % 50) || '"}}',
               CASE WHEN call % 2 = 0 THEN 'gpt-4o' END, CASE WHEN call % 2 = 0 THEN 500 END,
               CASE WHEN call % 2 = 0 THEN 50 END, CASE WHEN call % 2 = 0 THEN 5e-4 END
        FROM range({steps}) AS r(step), range(10) AS c(call)""")
    return trace_id


def build_agents(con: Any, traces: int) -> None:
    """``traces`` agent traces of 20 spans: a root, 3 steps of 6 calls (LLM, TOOL, TOOL…), one tool repeated."""
    start = BASE_NS + 10**6 * SECOND
    con.execute(f"""
        INSERT INTO traces (trace_id, name, status, start_ns, end_ns, span_count, llm_calls, input_tokens,
                            output_tokens, cost_usd, session)
        SELECT md5('g' || i), 'agent', 'OK', {start} + i * {_S}, {start} + i * {_S} + 900_000_000, 20, 6,
               3000, 300, 3e-3, 'agent-session-' || (i // 5)
        FROM range({traces}) AS r(i)""")
    con.execute(f"""
        INSERT INTO spans (trace_id, span_id, parent_span_id, name, kind, start_ns, end_ns, status, inputs)
        SELECT md5('g' || i), substr(md5('gr' || i), 1, 16), NULL, 'agent', 'AGENT', {start} + i * {_S},
               {start} + i * {_S} + 900_000_000, 'OK', '{{"question": "q' || i || '"}}'
        FROM range({traces}) AS r(i)""")
    con.execute(f"""
        INSERT INTO spans (trace_id, span_id, parent_span_id, name, kind, start_ns, end_ns, status, inputs)
        SELECT md5('g' || i), substr(md5('gs' || i || '/' || step), 1, 16), substr(md5('gr' || i), 1, 16), 'step',
               'CHAIN', {start} + i * {_S} + step * 300_000_000,
               {start} + i * {_S} + (step + 1) * 300_000_000, 'OK', '{{"step": ' || step || '}}'
        FROM range({traces}) AS r(i), range(3) AS s(step)""")
    con.execute(f"""
        INSERT INTO spans (trace_id, span_id, parent_span_id, name, kind, start_ns, end_ns, status, inputs,
                           model, input_tokens, output_tokens, cost_usd)
        SELECT md5('g' || i), substr(md5('gc' || i || '/' || step || '/' || call), 1, 16),
               substr(md5('gs' || i || '/' || step), 1, 16),
               CASE WHEN call % 3 = 0 THEN 'chat gpt-4o' ELSE 'lookup_weather' END,
               CASE WHEN call % 3 = 0 THEN 'CHAT_MODEL' ELSE 'TOOL' END,
               {start} + i * {_S} + step * 300_000_000 + call * 45_000_000,
               {start} + i * {_S} + step * 300_000_000 + call * 45_000_000 + 40_000_000 + (i % 5) * 1_000_000,
               'OK', CASE WHEN call % 3 = 0 THEN '{{"messages": "turn ' || step || '"}}'
                          ELSE '{{"city": "Paris"}}' END,
               CASE WHEN call % 3 = 0 THEN 'gpt-4o' END, CASE WHEN call % 3 = 0 THEN 500 END,
               CASE WHEN call % 3 = 0 THEN 50 END, CASE WHEN call % 3 = 0 THEN 5e-4 END
        FROM range({traces}) AS r(i), range(3) AS s(step), range(6) AS c(call)""")


def _cold() -> None:
    """The store's file closed (its next use attaches it again); the reopen pause is fairness, not query time."""
    from llmops_nb.store import _connection

    _connection.get_store().close()
    time.sleep(_connection.COOLDOWN_S + 0.02)


def _warm() -> None:
    """The store's connection open, as when a notebook asks again within ``LINGER_S``."""
    from llmops_nb.store import _connection

    store = _connection.get_store()
    if store._con is None:  # a slow call held the file past MAX_HOLD_S and closed it
        with store.connect() as con:
            con.execute("SELECT 1")


def timed(fn: Callable[[], Any], repeat: int, prepare: Callable[[], None]) -> tuple[float, list[float], Any]:
    """The median wall time of ``fn`` in ms over ``repeat`` runs after one warm-up, the runs, the last result."""
    result = fn()
    runs = []
    for _ in range(repeat):
        prepare()
        started = time.perf_counter()
        result = fn()
        runs.append((time.perf_counter() - started) * 1000)
    return statistics.median(runs), runs, result


def _runs(runs: list[float]) -> str:
    return ", ".join(f"{r:.1f}" for r in runs)


def measure(rows: list[tuple[str, str, str]], label: str, fn: Callable[[], Any], repeat: int, target: str) -> Any:
    """One row per state: cold (the file attached again) and warm (the connection still open)."""
    result = None
    for state, prepare in (("cold", _cold), ("warm", _warm)):
        median, runs, result = timed(fn, repeat, prepare)
        rows.append((f"{label}, {state}", f"{median:.1f} ({_runs(runs)})", target))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=100_000)
    parser.add_argument("--turns", type=int, default=3)
    parser.add_argument("--agent-spans", type=int, default=10_000)
    parser.add_argument("--traces", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", type=Path, default=None, help="build the stores in this folder and keep them")
    args = parser.parse_args()

    import duckdb

    import llmops_nb
    from llmops_nb import agents
    from llmops_nb.store import _migrations
    from llmops_nb.store._connection import get_store

    workdir = args.keep or Path(tempfile.mkdtemp(prefix="agents-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    rows: list[tuple[str, str, str]] = []

    path = workdir / "sessions.duckdb"
    path.unlink(missing_ok=True)
    started = time.perf_counter()
    # built as a store of before m006 would be (the attribute-named sessions not in traces.session), then
    # opened by llmops_nb, which applies m006: what upgrading a store of that size costs, once
    with duckdb.connect(str(path)) as con:
        _migrations.migrate(con, upto=[name for name, _ in _migrations.MIGRATIONS].index(M006))
        build_sessions(con, args.sessions, args.turns)
    built = time.perf_counter() - started
    llmops_nb.configure(db=str(path))
    started = time.perf_counter()
    with get_store().connect():
        pass
    upgraded = time.perf_counter() - started
    get_store().close()
    rows.append((f"opening that store the first time: migration `{M006}` ({args.sessions // 10:,} sessions "
                 "named by their roots' attributes)", f"{upgraded * 1000:.0f} (once)", "report"))
    label = f"`sessions()` first page of 100, {args.sessions:,} sessions / {args.sessions * args.turns:,} traces"
    page = measure(rows, label, lambda: agents.sessions(limit=100), args.repeat, "≤ 50 ms")
    measure(rows, "`sessions()` page of 100 at offset 50,000", lambda: agents.sessions(limit=100, offset=50_000),
            args.repeat, "report")
    one = str(page.session.iloc[0])
    measure(rows, "`session(id)`: one session's turns", lambda: agents.session(one), args.repeat, "report")

    path = workdir / "agents.duckdb"
    path.unlink(missing_ok=True)
    llmops_nb.configure(db=str(path))
    with get_store().connect() as con:
        trace_id = build_agent(con, args.agent_spans)
        build_agents(con, args.traces)
    get_store().close()

    def one_trace() -> Any:
        spots = agents.hotspots(trace_id)
        return spots.frame, spots.critical_path()

    frame, critical = measure(rows, f"`hotspots(trace_id)` frame + critical path, one trace of {args.agent_spans:,} "
                              "spans", one_trace, args.repeat, "report")

    def many() -> Any:
        spots = agents.hotspots(name="agent")
        return spots.frame, spots.repeated

    _, repeated = measure(rows, f"`hotspots(name='agent')` frame + repeated, {args.traces:,} traces x 20 spans",
                          many, args.repeat, "≤ 1,000 ms")

    print(f"### llmops_nb.agents: sessions and hotspots (the sessions store built in {built:.1f} s)\n")
    print(f"{len(frame)} span groups and a critical path of {len(critical)} spans in the one trace; "
          f"{len(repeated):,} repeated-call groups in the {args.traces:,} traces.\n")
    print("| measure | median, ms (runs) | target |")
    print("| --- | --- | --- |")
    for what, value, target in rows:
        print(f"| {what} | {value} | {target} |")
    print(f"\nmachine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; stores: {workdir}")


if __name__ == "__main__":
    main()
