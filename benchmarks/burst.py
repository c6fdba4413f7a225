"""Burst: 500 traces × 11 spans (a root calling 10 children) created as fast as possible, then flushed.

Measures how long creating the burst takes, how long until everything is
persisted (the flush returns), and how many spans actually reached the store,
counted by SQL in the store itself — a tracer that drops spans under load
should show it here. Both functions take one small argument, so inputs are
captured too. llmops_nb and MLflow (SQLite store, async logging) each run in
their own process, alternating rounds.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from ._harness import Worker, median, rotated
from ._report import Context, Section, Target, num, table

TRACES, CHILDREN = 500, 10


class _Burst:
    root: Any

    def _count(self) -> tuple[int, int]:
        raise NotImplementedError

    def _flush(self) -> bool:
        raise NotImplementedError

    def burst(self, traces: int) -> dict[str, Any]:
        spans_before, traces_before = self._count()
        root = self.root
        start = time.perf_counter()
        for index in range(traces):
            root(index)
        created = time.perf_counter()
        ok = self._flush()
        persisted = time.perf_counter()
        spans_after, traces_after = self._count()
        return {"create_s": created - start, "flush_s": persisted - created, "total_s": persisted - start,
                "spans": spans_after - spans_before, "traces": traces_after - traces_before,
                "expected_spans": traces * (CHILDREN + 1), "flush_ok": ok}


class LlmopsNb(_Burst):
    def __init__(self, workdir: Path) -> None:
        import llmops_nb

        llmops_nb.configure(db=str(workdir / "burst.duckdb"))
        self.llmops_nb = llmops_nb

        @llmops_nb.trace
        def child(index: int) -> int:
            return index

        @llmops_nb.trace
        def root(index: int) -> int:
            for step in range(CHILDREN):
                child(step)
            return index

        self.root = root
        root(-1)
        llmops_nb.flush()

    def _flush(self) -> bool:
        return self.llmops_nb.flush(timeout=120)

    def _count(self) -> tuple[int, int]:
        frame = self.llmops_nb.sql("SELECT (SELECT count(*) FROM spans) AS s, (SELECT count(*) FROM traces) AS t")
        return int(frame.s[0]), int(frame.t[0])


class Mlflow(_Burst):
    def __init__(self, workdir: Path) -> None:
        import mlflow

        self.mlflow = mlflow
        self.db = workdir / "mlflow-burst.db"
        mlflow.set_tracking_uri(f"sqlite:///{self.db}")
        mlflow.set_experiment("benchmarks")

        @mlflow.trace
        def child(index: int) -> int:
            return index

        @mlflow.trace
        def root(index: int) -> int:
            for step in range(CHILDREN):
                child(step)
            return index

        self.root = root
        root(-1)
        mlflow.flush_trace_async_logging()

    def _flush(self) -> bool:
        self.mlflow.flush_trace_async_logging()
        return True

    def _count(self) -> tuple[int, int]:
        with sqlite3.connect(self.db) as con:
            return (con.execute("SELECT count(*) FROM spans").fetchone()[0],
                    con.execute("SELECT count(*) FROM trace_info").fetchone()[0])


CONTENDERS = {"llmops_nb": LlmopsNb, "mlflow": Mlflow}
ORDER = ("llmops_nb", "mlflow")
LABELS = {"llmops_nb": "`@llmops_nb.trace`", "mlflow": "`@mlflow.trace` (SQLite, async logging)"}


def run(ctx: Context) -> Section:
    rounds = ctx.pick_rounds(full=3, quick=1)
    # A quick run only checks MLflow's path works: its 500-trace burst alone takes ~15 s to drain.
    sizes = {"llmops_nb": TRACES, "mlflow": 50 if ctx.quick else TRACES}
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in ORDER}
    workers: dict[str, Worker] = {}
    try:
        for name in ORDER:
            ctx.log(f"burst: starting {name}")
            workers[name] = Worker("burst", name, ctx.workdir)
        for index in range(rounds):
            for name in rotated(ORDER, index):
                result = workers[name].call("burst", traces=sizes[name], timeout=600)
                results[name].append(result)
                ctx.log(f"burst: round {index + 1}/{rounds} {name}: created in {result['create_s']:.3f} s, "
                        f"persisted {result['spans']}/{result['expected_spans']} after {result['total_s']:.2f} s")
    finally:
        for worker in workers.values():
            worker.close()
    warnings = 0
    if "mlflow" in workers:
        log = workers["mlflow"].log_path.read_text(errors="replace")
        warnings = log.count("queue is full")
    return _section(results, rounds, warnings)


def _section(results: dict[str, list[dict[str, Any]]], rounds: int, mlflow_warnings: int) -> Section:
    rows = []
    for name in ORDER:
        runs = results[name]
        expected = runs[0]["expected_spans"]
        spans = [r["spans"] for r in runs]
        rows.append([
            LABELS[name],
            f"{runs[0]['expected_spans'] // (CHILDREN + 1)} × {CHILDREN + 1}",
            num(median(r["create_s"] * 1000 for r in runs)),
            num(median(r["flush_s"] * 1000 for r in runs)),
            num(median(r["total_s"] * 1000 for r in runs)),
            f"{median(spans):,.0f} / {expected:,} ({100 * median(spans) / expected:.1f} %)",
            f"{median(r['traces'] for r in runs):,.0f} / {expected // (CHILDREN + 1):,}",
            ", ".join(f"{s:,}" for s in spans),
        ])
    body = table(["Contender", "traces × spans", "create (ms)", "flush (ms)", "create → persisted (ms)",
                  "spans persisted", "traces persisted", "spans persisted, each round"], rows)
    ours = results["llmops_nb"]
    theirs = results["mlflow"]
    body += (
        f"\n\n{rounds} round(s), medians. Counted with SQL in "
        "each store (llmops_nb: DuckDB `spans`/`traces`; MLflow: SQLite `spans`/`trace_info`) before and after "
        f"the burst. MLflow printed {mlflow_warnings} \"Trace export queue is full, trace will be discarded\" "
        f"warning(s) over the {rounds} round(s); llmops_nb drops nothing below its memory bound "
        "(`max_buffered_spans`, 1,000,000 by default) and counts what it drops above it."
    )
    if theirs[0]["expected_spans"] == ours[0]["expected_spans"]:
        body += (" llmops_nb is "
                 f"{num(median(m['total_s'] for m in theirs) / median(o['total_s'] for o in ours))}× faster from "
                 "first span to persisted.")
    persisted = median(r["spans"] for r in ours)
    expected = ours[0]["expected_spans"]
    targets = [Target("Burst 500×11: spans persisted", f"all {expected:,}",
                      f"{persisted:,.0f} (min over rounds {min(r['spans'] for r in ours):,}) in "
                      f"{num(median(r['total_s'] * 1000 for r in ours))} ms",
                      min(r["spans"] for r in ours) == expected)]
    return Section("2. Burst: 500 traces × 11 spans", body, targets, {"rounds": results})
