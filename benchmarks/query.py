"""Query latency on a big store: 1,000,000 spans in 20,000 traces (``--quick``: 100,000 in 2,000).

The store is built with llmops_nb's own writer: ``llmops_nb.store._writer.write_records``
on the records of generated ``Span`` objects (``tracing._record.from_span``), 1,000 traces
(50,000 spans) per call — the same code path, schema, trace totals and JSON text the
recorder produces. Each trace
is a CHAIN root with 7 CHAIN steps of 6 children (RETRIEVER, LLM, TOOL in turn):
50 spans, inputs and outputs of 60–200 characters of JSON, GenAI attributes on
LLM spans, 1 % of roots failed; traces spread over the last 30 days. One trace in
1,000 mentions "zanzibar" in its question, for the text search.

Timed through the public API (``llmops_nb.traces()``, ``llmops_nb.spans()``), so
the numbers include SQL, the pandas conversion and JSON parsing:

- **cold**: the store's connection is closed first (``Store.close()``, then a
  pause past the reopen cooldown), so the call opens the file; the OS page
  cache stays warm.
- **warm**: the connection is still lingering from the query just before.
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path
from typing import Any

from ._harness import Worker, median
from ._report import Context, Section, Target, num, table

STEPS, PER_STEP = 7, 6
SPANS_PER_TRACE = 1 + STEPS * (1 + PER_STEP)
NEEDLE, MISSING = "zanzibar", "quetzalcoatl-absent"
_VOCABULARY = (
    "the of and to in is for on with as by at from that this be are or it an was which not have but all "
    "can capital river city country population language currency history museum bridge tower north south "
    "east west answer question document source retrieval model token prompt context summary search result "
    "score agent tool call weather forecast temperature rain sunny cloudy wind europe france germany "
    "italy spain paris berlin rome madrid london seine rhine tiber thames price order invoice customer "
    "account refund shipping delivery product review rating support ticket issue error timeout retry "
    "latency cache memory vector embedding chunk index database query table column row filter join group "
    "sort limit offset"
)
WORDS = _VOCABULARY.split()


def _phrases(rng: random.Random, count: int, low: int, high: int) -> list[str]:
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(low, high))) for _ in range(count)]


class QueryStore:
    def __init__(self, workdir: Path) -> None:
        import llmops_nb

        self.llmops_nb = llmops_nb
        self.path = workdir / "query.duckdb"
        llmops_nb.configure(db=str(self.path))
        self.trace_ids: list[str] = []

    def build(self, traces: int, traces_per_batch: int) -> dict[str, Any]:
        from llmops_nb.store._writer import write_records
        from llmops_nb.tracing._record import from_span
        from llmops_nb.tracing._span import Span

        rng = random.Random(20261126)
        questions = _phrases(rng, 2000, 6, 14)
        texts = _phrases(rng, 5000, 8, 30)
        now = time.time_ns()
        spread = 30 * 86_400 * 10**9
        gap = spread // traces
        generate_s = write_s = 0.0
        kinds = ("RETRIEVER", "LLM", "TOOL")
        for first in range(0, traces, traces_per_batch):
            started = time.perf_counter()
            batch: list[Any] = []
            for t in range(first, min(first + traces_per_batch, traces)):
                start = now - spread + t * gap
                question = questions[t % len(questions)]
                if t % 1000 == 500:
                    question += f" near {NEEDLE}"
                root = Span("rag_pipeline" if t % 3 else "support_agent", "CHAIN", None, {"app.version": "1.4"})
                root.start_ns, root.end_ns = start, start + 2_000_000_000
                root.inputs = f'{{"question": "{question}", "user": "u{t % 97}"}}'
                root.outputs = f'"{texts[t % len(texts)]} #{t}"'
                if t % 100 == 7:
                    root.status, root.status_message = "ERROR", "RateLimitError: 429 Too Many Requests"
                    root.error = {"type": "RateLimitError", "message": "429 Too Many Requests", "traceback": ""}
                batch.append(root)
                for s in range(STEPS):
                    step = Span(f"step_{s}", "CHAIN", root, None)
                    step.start_ns = start + s * 250_000_000
                    step.end_ns = step.start_ns + 240_000_000
                    step.inputs = f'{{"step": {s}, "question": "{question}"}}'
                    step.outputs = f'"{texts[(t + s) % len(texts)]}"'
                    batch.append(step)
                    for c in range(PER_STEP):
                        kind = kinds[c % 3]
                        attrs = ({"gen_ai.request.model": "gpt-4o-mini", "gen_ai.usage.input_tokens": 300 + c,
                                  "gen_ai.usage.output_tokens": 40 + s} if kind == "LLM" else None)
                        child = Span(f"{kind.lower()}_{c}", kind, step, attrs)
                        child.start_ns = step.start_ns + c * 40_000_000
                        child.end_ns = child.start_ns + 35_000_000
                        n = t * 50 + s * 7 + c
                        child.inputs = f'{{"query": "{texts[n % len(texts)]}", "k": {c}, "n": {n}}}'
                        child.outputs = f'{{"text": "{texts[(n * 7) % len(texts)]}", "score": 0.{n % 97:02d}}}'
                        batch.append(child)
                for span in batch[-SPANS_PER_TRACE:]:
                    span._ended = True
                self.trace_ids.append(root.trace_id)
            generated = time.perf_counter()
            write_records([from_span(span, 200_000) for span in batch])
            written = time.perf_counter()
            generate_s += generated - started
            write_s += written - generated
        counts = self.llmops_nb.sql("SELECT (SELECT count(*) FROM spans) AS s, (SELECT count(*) FROM traces) AS t")
        self._cold()
        return {"spans": int(counts.s[0]), "traces": int(counts.t[0]), "generate_s": generate_s,
                "write_s": write_s, "file_mb": os.path.getsize(self.path) / 1e6}

    def _store(self) -> Any:
        from llmops_nb.store._connection import get_store

        return get_store()

    def _cold(self) -> None:
        from llmops_nb.store import _connection

        self._store().close()
        time.sleep(_connection.COOLDOWN_S + 0.02)  # the reopen pause is fairness, not query time

    def _warm(self) -> bool:
        store = self._store()
        if store._con is None:  # a slow cold query held the file past MAX_HOLD_S and closed it
            self.llmops_nb.sql("SELECT 1")
            return False
        return True

    def round(self, seed: int) -> dict[str, Any]:
        rng = random.Random(seed)
        traces, spans = self.llmops_nb.traces, self.llmops_nb.spans
        queries = {
            "traces": lambda: traces(limit=50),
            "spans": lambda: spans(rng.choice(self.trace_ids)),
            "text_hit": lambda: traces(text=NEEDLE, limit=50),
            "text_miss": lambda: traces(text=MISSING, limit=50),
        }
        out: dict[str, Any] = {}
        import duckdb

        self._cold()
        start = time.perf_counter()
        duckdb.connect(str(self.path)).close()
        out["open_only"] = time.perf_counter() - start
        for name, query in queries.items():
            self._cold()
            start = time.perf_counter()
            frame = query()
            out[f"{name}_cold"] = time.perf_counter() - start
            out[f"{name}_rows"] = len(frame)
            out[f"{name}_was_warm"] = self._warm()
            start = time.perf_counter()
            query()
            out[f"{name}_warm"] = time.perf_counter() - start
        return out


CONTENDERS = {"llmops_nb": QueryStore}
QUERIES = (
    ("traces", "`traces()` first page (limit 50)", 20.0),
    ("spans", "`spans(trace_id)` (50 spans)", 10.0),
    ("text_hit", f"`traces(text='{NEEDLE}')` (matches 1 trace in 1,000)", None),
    ("text_miss", "`traces(text=...)` matching nothing", None),
)


def run(ctx: Context) -> Section:
    rounds = ctx.pick_rounds(full=11, quick=3)
    traces = 2_000 if ctx.quick else 20_000
    worker = Worker("query", "llmops_nb", ctx.workdir)
    try:
        ctx.log(f"query: building a store of {traces * SPANS_PER_TRACE:,} spans in {traces:,} traces")
        built = worker.call("build", traces=traces, traces_per_batch=1000, timeout=900)
        ctx.log(f"query: built in {built['generate_s'] + built['write_s']:.1f} s "
                f"(write_records {built['spans'] / built['write_s']:,.0f} spans/s), {built['file_mb']:.0f} MB")
        results = []
        for index in range(rounds):
            results.append(worker.call("round", seed=index, timeout=600))
            ctx.log(f"query: round {index + 1}/{rounds}: " + ", ".join(
                f"{name} {results[-1][name + '_cold'] * 1000:.1f}/{results[-1][name + '_warm'] * 1000:.1f} ms"
                for name, _, _ in QUERIES))
    finally:
        worker.close()
    return _section(built, results, rounds)


def _section(built: dict[str, Any], results: list[dict[str, Any]], rounds: int) -> Section:
    rows, targets = [], []
    for name, label, goal_ms in QUERIES:
        cold = median(r[f"{name}_cold"] * 1000 for r in results)
        warm = median(r[f"{name}_warm"] * 1000 for r in results)
        warm_share = sum(r[f"{name}_was_warm"] for r in results)
        rows.append([label, num(cold), num(min(r[f"{name}_cold"] * 1000 for r in results)), num(warm),
                     num(min(r[f"{name}_warm"] * 1000 for r in results)), f"{results[0][name + '_rows']}",
                     f"≤ {goal_ms:g} ms" if goal_ms else "–", f"{warm_share}/{rounds}"])
        if goal_ms:
            for state, value in (("cold", cold), ("warm", warm)):
                targets.append(Target(f"Query on {built['spans']:,} spans: {label}, {state}", f"≤ {goal_ms:g} ms",
                                      f"{num(value)} ms", value <= goal_ms))
    opened = [r["open_only"] * 1000 for r in results]
    rows.append(["context: `duckdb.connect(file)` + `close()`, no query", num(median(opened)), num(min(opened)),
                 "–", "–", "–", "–", "–"])
    body = table(["Query", "cold, median (ms)", "cold, best (ms)", "warm, median (ms)", "warm, best (ms)", "rows",
                  "target", "warm runs that found the connection open"], rows)
    body += (
        f"\n\nStore: {built['spans']:,} spans in {built['traces']:,} traces, {built['file_mb']:.0f} MB on disk; "
        f"built with `write_records` in batches of 50,000 spans at {num(built['spans'] / built['write_s'])} spans/s "
        f"(plus {built['generate_s']:.1f} s generating the Span objects). Medians over {rounds} rounds; "
        "each round runs every query cold, then warm. Verdicts use the medians; *best* is the fastest round, "
        "a hint of what the same call costs on an idle machine (this one is shared)."
    )
    text = median(r["text_miss_cold"] * 1000 for r in results)
    targets.append(Target(f"Query on {built['spans']:,} spans: `traces(text=...)`", "reported (no target)",
                          f"{num(text)} ms cold, no match (full scan)", None))
    return Section("4. Query latency", body, targets, {"build": built, "rounds": results})
