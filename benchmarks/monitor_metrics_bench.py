"""``metrics()`` (production monitoring) on a big store: each metric family's time series at 1M traces.

    python -m benchmarks --only monitor_metrics_bench            # once registered in run.py (opt-in); ~2 minutes
    python -m benchmarks.monitor_metrics_bench [--quick]          # the same, standalone; prints markdown

The store — a DuckDB file, built in a worker process by bulk SQL into the tables the recorder writes
(``traces``, ``spans``, ``assessments``), the JSON text shaped as the recorder's encoder writes it —
holds 1,000,000 traces over the last 30 days (``--quick``: 100,000), each a CHAIN root and one
CHAT_MODEL call: four models, tokens and cost, half of the calls streamed (with
``llmops_nb.time_to_first_token_ms``), 10 % of the roots failed with one of three exception types, 10 %
of the traces judged by an LLM judge (an assessment ``judge`` with a value and a verdict; 1 % of those
re-scored). Inserted in time order, as traces arrive.

Timed through the public call, so the numbers include SQL, the transfer to pandas and the gap-filled
frame: ``metrics(every="1h", since="30d", families=[family])`` for each family, without groups and
``by="model"`` (the model of each trace's first LLM span: a join of traces with their LLM spans), and
all families at once. One warm-up pass, then rounds that each time every call once (the order rotated
per round); medians over rounds, wall time (the target) and the process's CPU time (steadier on a
shared machine: it counts DuckDB's threads, not the waits for a core). Target: ≤ 200 ms per family.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `python benchmarks/monitor_metrics_bench.py`: make the repo importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._harness import Worker, rotated
from benchmarks._report import Context, Section, Target, num, table

FAMILIES = ("volume", "errors", "latency", "usage", "scores", "guardrails")
GROUPINGS = {"": (), "model": ("model",)}
TARGET_MS = 200.0
DAY_NS = 86_400 * 10**9

# One row of generated facts per trace; hash(i * 16 + k) draws the k-th independent number of trace i.
_GENERATE = """
CREATE TEMP TABLE gen AS
SELECT i, md5('t' || i) AS trace_id, substr(md5('r' || i), 1, 16) AS root_id, substr(md5('l' || i), 1, 16) AS llm_id,
       ?::BIGINT + i * ?::BIGINT + CAST(hash(i * 16 + 1) % ?::UBIGINT AS BIGINT) AS start_ns,
       CAST(200 + hash(i * 16 + 2) % 3000 AS BIGINT) AS ms,
       ['gpt-4o-mini', 'gpt-4o', 'claude-sonnet-4-5', 'llama-3-8b'][1 + CAST(hash(i * 16 + 3) % 4 AS INTEGER)] AS model,
       hash(i * 16 + 4) % 10 = 0 AS failed,
       ['RateLimitError', 'openai.APITimeoutError', 'ValueError'][1 + CAST(hash(i * 16 + 5) % 3 AS INTEGER)] AS etype,
       CAST(100 + hash(i * 16 + 6) % 900 AS BIGINT) AS tin, CAST(10 + hash(i * 16 + 7) % 300 AS BIGINT) AS tout,
       hash(i * 16 + 8) % 2 = 0 AS streamed, 50 + (hash(i * 16 + 9) % 500) / 1.0 AS ttft,
       ['rag', 'agent', 'summarize'][1 + CAST(hash(i * 16 + 10) % 3 AS INTEGER)] AS name,
       ['prod', 'staging'][1 + CAST(hash(i * 16 + 11) % 2 AS INTEGER)] AS env,
       hash(i * 16 + 12) % 10 = 3 AS judged, hash(i * 16 + 13) % 5 <> 0 AS good, hash(i * 16 + 14) % 100 = 0 AS rescored
FROM range(?) r(i)
"""
_TRACES = """
INSERT INTO traces (trace_id, name, status, start_ns, end_ns, span_count, llm_calls, error_count, input_tokens,
                    output_tokens, cost_usd, tags, session, request_preview, response_preview, error_message)
SELECT trace_id, name, CASE WHEN failed THEN 'ERROR' ELSE 'OK' END, start_ns, start_ns + ms * 1000000, 2, 1,
       CASE WHEN failed THEN 1 ELSE 0 END, tin, tout, tin * 1e-6 + tout * 4e-6,
       '{"env": "' || env || '", "user_id": "u' || (i % 500) || '"}', 's' || (i // 5),
       '{"question": "what is the capital of country number ' || i || '?"}', '"Paris"',
       CASE WHEN failed THEN 'boom' END
FROM gen ORDER BY start_ns
"""
_SPANS = """
INSERT INTO spans
SELECT trace_id, span_id, parent_span_id, name, kind, start_ns, end_ns, status, status_message, error, inputs,
       outputs, attributes, events, model, input_tokens, output_tokens, cost_usd FROM (
  SELECT trace_id, root_id AS span_id, NULL AS parent_span_id, name, 'CHAIN' AS kind, start_ns,
         start_ns + ms * 1000000 AS end_ns, CASE WHEN failed THEN 'ERROR' ELSE 'OK' END AS status,
         CASE WHEN failed THEN 'boom' END AS status_message,
         CASE WHEN failed THEN '{"type": "' || etype || '", "message": "boom", "traceback": "Traceback (most recent '
              || 'call last):\\n  File \\"app.py\\", line 12, in answer\\n' || etype || ': boom"}' END AS error,
         '{"question": "what is the capital of country number ' || i || '?"}' AS inputs, '"Paris"' AS outputs,
         '{"app.version": "1.4"}' AS attributes, NULL AS events, NULL AS model, NULL::BIGINT AS input_tokens,
         NULL::BIGINT AS output_tokens, NULL::DOUBLE AS cost_usd
  FROM gen
  UNION ALL
  SELECT trace_id, llm_id, root_id, 'openai.chat.completions.create', 'CHAT_MODEL', start_ns + 1000000,
         start_ns + (ms - 1) * 1000000, 'OK', NULL, NULL,
         '{"messages": [{"role": "user", "content": "what is the capital of country number ' || i || '?"}]}',
         '{"choices": [{"message": {"role": "assistant", "content": "Paris"}}]}',
         '{"gen_ai.system": "openai", "gen_ai.operation.name": "chat", "gen_ai.request.model": "' || model
         || '", "gen_ai.response.model": "' || model || '", "gen_ai.usage.input_tokens": ' || tin
         || ', "gen_ai.usage.output_tokens": ' || tout || ', "llmops_nb.cost_usd": ' || (tin * 1e-6 + tout * 4e-6)
         || CASE WHEN streamed THEN ', "llmops_nb.stream": true, "llmops_nb.stream.complete": true, '
                 || '"llmops_nb.time_to_first_token_ms": ' || ttft ELSE '' END || '}',
         CASE WHEN streamed THEN '[{"name": "gen_ai.first_token", "time_ns": '
              || (start_ns + 1000000 + ttft * 1e6)::BIGINT || ', "attributes": null}]' END,
         model, tin, tout, tin * 1e-6 + tout * 4e-6
  FROM gen
) ORDER BY end_ns
"""
_ASSESSMENTS = """
INSERT INTO assessments (assessment_id, trace_id, name, source_type, source_id, value, value_number, rationale,
                         created_at, passed)
SELECT md5('a' || i || '-' || k), trace_id, 'judge', 'LLM_JUDGE', 'openai:/gpt-4o-mini',
       CASE WHEN good <> (k = 0 AND rescored) THEN 'true' ELSE 'false' END,
       CASE WHEN good <> (k = 0 AND rescored) THEN 1.0 ELSE 0.0 END, 'The answer names the capital.',
       make_timestamp((start_ns + ms * 1000000) // 1000 + 5000000 + k * 60000000), good <> (k = 0 AND rescored)
FROM gen, range(2) r(k) WHERE judged AND (k = 0 OR rescored) ORDER BY start_ns
"""


class MetricsStore:
    """The worker side: builds the store, then times ``metrics()`` calls on it."""

    def __init__(self, workdir: Path) -> None:
        self.path = workdir / "metrics.duckdb"

    def build(self, traces: int, days: int) -> dict[str, Any]:
        from llmops_nb.store._connection import get_store

        store = get_store(self.path)
        started = time.perf_counter()
        first = time.time_ns() - days * DAY_NS
        gap = days * DAY_NS // traces
        with store.connect(timeout=60) as con:
            con.execute(_GENERATE, [first, gap, gap, traces])
            for statement in (_TRACES, _SPANS, _ASSESSMENTS):
                con.execute(statement)
            con.execute("DROP TABLE gen")
            counts = con.execute("SELECT (SELECT count(*) FROM traces), (SELECT count(*) FROM spans), "
                                 "(SELECT count(*) FROM assessments)").fetchone()
        store.close()
        return {"traces": counts[0], "spans": counts[1], "assessments": counts[2],
                "build_s": time.perf_counter() - started, "file_mb": self.path.stat().st_size / 1e6}

    def time(self, families: list[str], by: list[str]) -> dict[str, Any]:
        from llmops_nb.monitor._metrics import metrics

        wall, cpu = time.perf_counter(), time.process_time()
        frame = metrics(every="1h", since="30d", families=families, by=by, store=self.path)
        requests = int(frame["requests"].sum()) if "requests" in frame else None
        return {"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu, "rows": len(frame),
                "columns": len(frame.columns), "requests": requests}


CONTENDERS = {"llmops_nb": MetricsStore}


def _calls() -> list[tuple[str, str]]:
    """(grouping, family or 'all') in a fixed order; each round rotates it."""
    return [(grouping, family) for grouping in GROUPINGS for family in (*FAMILIES, "all")]


def run(ctx: Context) -> Section:
    rounds = ctx.pick_rounds(5, 3)
    traces = 100_000 if ctx.quick else 1_000_000
    worker = Worker("monitor_metrics_bench", "llmops_nb", ctx.workdir, timeout=120)
    samples: dict[tuple[str, str], list[dict[str, Any]]] = {call: [] for call in _calls()}
    try:
        ctx.log(f"monitor_metrics_bench: building {traces:,} traces over 30 days")
        built = worker.call("build", traces=traces, days=30, timeout=1800)
        ctx.log(f"monitor_metrics_bench: built in {built['build_s']:.1f} s, {built['file_mb']:.0f} MB")
        for grouping, family in _calls():  # warm-up: the file in the page cache, the code imported
            worker.call("time", families=_families(family), by=list(GROUPINGS[grouping]), timeout=600)
        for index in range(rounds):
            for grouping, family in rotated(_calls(), index):
                answer = worker.call("time", families=_families(family), by=list(GROUPINGS[grouping]), timeout=600)
                samples[(grouping, family)].append(answer)
            ctx.log(f"monitor_metrics_bench: round {index + 1}/{rounds}: " + ", ".join(
                f"{family}{'/' + grouping if grouping else ''} {samples[(grouping, family)][-1]['wall_s'] * 1000:.0f}"
                for grouping, family in _calls()) + " ms")
    finally:
        worker.close()
    return _section(built, samples, rounds)


def _families(family: str) -> list[str]:
    return list(FAMILIES) if family == "all" else [family]


def _section(built: dict[str, Any], samples: dict[tuple[str, str], list[dict[str, Any]]], rounds: int) -> Section:
    rows, targets, raw = [], [], {}
    for (grouping, family), runs in samples.items():
        wall = statistics.median(r["wall_s"] * 1000 for r in runs)
        cpu = statistics.median(r["cpu_s"] * 1000 for r in runs)
        best = min(r["wall_s"] * 1000 for r in runs)
        label = f"`{family}`" + (f", by={grouping}" if grouping else "")
        ratio = wall / TARGET_MS
        rows.append([label, num(wall), num(best), num(cpu), f"{ratio:.2f}" if family != "all" else "–",
                     f"{runs[0]['rows']:,} × {runs[0]['columns']}"])
        raw[f"{family}/{grouping or 'all'}"] = runs
        if family != "all":
            targets.append(Target(f"`metrics()` at {built['traces']:,} traces, 30 days hourly: {label}",
                                  f"≤ {TARGET_MS:.0f} ms", f"{num(wall)} ms", wall <= TARGET_MS))
    body = table(["Family", "wall, median (ms)", "wall, best (ms)", "CPU, median (ms)", "÷ 200 ms target", "frame"],
                 rows)
    body += (f"\n\nStore: {built['traces']:,} traces, {built['spans']:,} spans, {built['assessments']:,} assessments "
             f"over 30 days, {built['file_mb']:.0f} MB, built by bulk SQL in {built['build_s']:.1f} s. Each call is "
             "`metrics(every='1h', since='30d', families=[family], by=...)` through the public function "
             f"(SQL, pandas, the gap-filled frame); medians over {rounds} rounds after a warm-up. CPU time counts "
             "DuckDB's threads (2 here): above the wall time when both cores worked, the steadier measure on a "
             "shared machine.")
    return Section("Monitoring metrics: `metrics()` per family", body, targets, {"build": built, "runs": raw})


def main(argv: list[str] | None = None) -> int:
    """Standalone: the same run as ``python -m benchmarks --only monitor_metrics_bench``, printed."""
    import argparse
    import shutil
    import tempfile

    parser = argparse.ArgumentParser(prog="python -m benchmarks.monitor_metrics_bench",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 traces and 3 rounds")
    parser.add_argument("--rounds", type=int, default=None)
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="llmops_nb-metrics-bench-"))
    started = time.perf_counter()

    def log(message: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f} s] {message}", file=sys.stderr, flush=True)

    try:
        section = run(Context(workdir=workdir, quick=args.quick, log=log, rounds=args.rounds))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"## {section.title}\n\n{section.body}\n")
    for target in section.targets:
        print(target.row())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
