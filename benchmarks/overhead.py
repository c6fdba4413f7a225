"""Overhead per span of a decorated no-op function: flat (1 span per call) and nested (depth 5).

Contenders, each in its own process:

- ``floor``: the least a Python tracer can do — a contextvar for the parent,
  ``time.perf_counter_ns`` at both ends, one list append. Written here.
- ``llmops_nb``: ``@llmops_nb.trace`` with its defaults (inputs and outputs captured).
- ``otel``: OpenTelemetry SDK, ``@tracer.start_as_current_span(name)`` with a
  ``BatchSpanProcessor`` (default settings) feeding an exporter that discards.
- ``mlflow``: ``@mlflow.trace`` with a local SQLite tracking store, async logging
  as it defaults.

A timed window covers only the calls, and is timed twice: elapsed (wall) time
and the process's CPU time. CPU time is what the verdicts use: on a shared
2-core machine other processes preempt a window and inflate its wall time —
more often the longer the window, which would bias the ratios against slower
contenders' peers. After a round's windows comes the contender's own flush
(``llmops_nb.flush()``, ``force_flush()``, ``mlflow.flush_trace_async_logging()``),
timed separately, so the next round starts with an empty queue. Background
threads that run *during* a window by design (OTel's batch worker wakes every
512 spans, MLflow's async export) count as overhead (they are in the process's
CPU time); llmops_nb's writer wakes every 0.5 s and a round's windows are much
shorter than that, so its writes fall in the flush.
"""

from __future__ import annotations

import gc
import sqlite3
import time
from collections.abc import Callable
from itertools import repeat
from pathlib import Path
from typing import Any

from ._harness import Worker, median, rotated
from ._report import Context, Section, Target, num, table

DEPTH = 5
CONTENDERS_ORDER = ("floor", "llmops_nb", "otel", "mlflow")
LABELS = {
    "floor": "floor (contextvar + perf_counter_ns + list.append)",
    "llmops_nb": "`@llmops_nb.trace`",
    "otel": "OpenTelemetry SDK (BatchSpanProcessor, discarding exporter)",
    "mlflow": "`@mlflow.trace` (SQLite store, async logging)",
}
# Calls per timed window: a few milliseconds each, short enough that a window is rarely cut by the
# scheduler on a loaded machine. Several windows per round; the round keeps their median.
FLAT_CALLS = {"floor": 5_000, "llmops_nb": 5_000, "otel": 500, "mlflow": 25}
WINDOWS = {"floor": 8, "llmops_nb": 8, "otel": 8, "mlflow": 4}
QUICK_WINDOWS = {"floor": 4, "llmops_nb": 4, "otel": 4, "mlflow": 2}


def _build(decorate: Callable[[Callable[..., Any]], Callable[..., Any]]) -> tuple[Any, Any]:
    """A decorated no-op, and the top of a chain of DEPTH decorated functions."""

    def noop() -> None:
        return None

    def level5() -> None:
        return None

    level5 = decorate(level5)

    def level4() -> None:
        return level5()

    level4 = decorate(level4)

    def level3() -> None:
        return level4()

    level3 = decorate(level3)

    def level2() -> None:
        return level3()

    level2 = decorate(level2)

    def level1() -> None:
        return level2()

    level1 = decorate(level1)
    return decorate(noop), level1


class _Contender:
    flat_fn: Any
    nested_fn: Any
    created = 0

    def window(self, shape: str, calls: int, windows: int) -> dict[str, Any]:
        """``windows`` back-to-back timed windows of ``calls`` calls; wall and process-CPU ns of each."""
        fn = self.flat_fn if shape == "flat" else self.nested_fn
        spans = calls * (1 if shape == "flat" else DEPTH)
        wall, cpu = [], []
        gc.collect()
        for _ in range(windows):
            cpu_start, wall_start = time.process_time_ns(), time.perf_counter_ns()
            for _ in repeat(None, calls):
                fn()
            wall.append(time.perf_counter_ns() - wall_start)
            cpu.append(time.process_time_ns() - cpu_start)
        self.created += spans * windows
        return {"wall_ns": wall, "cpu_ns": cpu, "spans": spans}

    def flush(self) -> dict[str, Any]:
        start = time.perf_counter_ns()
        self._flush()
        return {"ns": time.perf_counter_ns() - start}

    def _flush(self) -> None:
        raise NotImplementedError

    def recorded(self) -> dict[str, Any]:
        raise NotImplementedError


class Floor(_Contender):
    def __init__(self, workdir: Path) -> None:
        import contextvars

        current: contextvars.ContextVar[Any] = contextvars.ContextVar("floor_parent", default=None)
        sink: list[Any] = []
        now = time.perf_counter_ns
        self.sink, self.total = sink, 0

        def trace(fn: Callable[..., Any]) -> Callable[..., Any]:
            name = fn.__name__

            def wrapper(*args: Any, **kwargs: Any) -> Any:
                record = [name, current.get(), now(), 0]
                token = current.set(record)
                try:
                    return fn(*args, **kwargs)
                finally:
                    current.reset(token)
                    record[3] = now()
                    sink.append(record)

            return wrapper

        self.flat_fn, self.nested_fn = _build(trace)

    def _flush(self) -> None:
        self.total += len(self.sink)
        self.sink.clear()

    def recorded(self) -> dict[str, Any]:
        return {"spans": self.total + len(self.sink), "created": self.created}


class LlmopsNb(_Contender):
    def __init__(self, workdir: Path) -> None:
        import llmops_nb

        llmops_nb.configure(db=str(workdir / "overhead.duckdb"))
        self.llmops_nb = llmops_nb
        self.flat_fn, self.nested_fn = _build(llmops_nb.trace)
        self.window("flat", 1, 1)
        llmops_nb.flush()

    def _flush(self) -> None:
        if not self.llmops_nb.flush(timeout=120):
            raise RuntimeError("llmops_nb.flush() timed out")

    def recorded(self) -> dict[str, Any]:
        from llmops_nb.store._recorder import recorder

        count = int(self.llmops_nb.sql("SELECT count(*) AS n FROM spans").n[0])
        return {"spans": count, "created": self.created, "dropped": recorder.dropped_total}


class Otel(_Contender):
    def __init__(self, workdir: Path) -> None:
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

        counter = self

        class Discard(SpanExporter):
            def export(self, spans: Any) -> SpanExportResult:
                counter.exported += len(spans)
                return SpanExportResult.SUCCESS

            def shutdown(self) -> None:
                return None

        self.exported = 0
        self.provider = TracerProvider()
        self.provider.add_span_processor(BatchSpanProcessor(Discard()))
        tracer = self.provider.get_tracer("benchmarks")
        self.flat_fn, self.nested_fn = _build(lambda fn: tracer.start_as_current_span(fn.__name__)(fn))

    def _flush(self) -> None:
        self.provider.force_flush()

    def recorded(self) -> dict[str, Any]:
        return {"spans": self.exported, "created": self.created}

    def close(self) -> None:
        self.provider.shutdown()


class Mlflow(_Contender):
    def __init__(self, workdir: Path) -> None:
        import mlflow

        self.mlflow = mlflow
        self.db = workdir / "mlflow-overhead.db"
        mlflow.set_tracking_uri(f"sqlite:///{self.db}")
        mlflow.set_experiment("benchmarks")
        self.flat_fn, self.nested_fn = _build(mlflow.trace)
        self.window("flat", 1, 1)
        mlflow.flush_trace_async_logging()

    def _flush(self) -> None:
        self.mlflow.flush_trace_async_logging()

    def recorded(self) -> dict[str, Any]:
        with sqlite3.connect(self.db) as con:
            return {"spans": con.execute("SELECT count(*) FROM spans").fetchone()[0], "created": self.created}


CONTENDERS = {"floor": Floor, "llmops_nb": LlmopsNb, "otel": Otel, "mlflow": Mlflow}


def run(ctx: Context) -> Section:
    rounds = ctx.pick_rounds(full=9, quick=2)
    windows = QUICK_WINDOWS if ctx.quick else WINDOWS
    workers: dict[str, Worker] = {}
    metrics = ("wall_flat", "wall_nested", "cpu_flat", "cpu_nested", "flush_flat", "flush_nested")
    per: dict[str, dict[str, list[float]]] = {name: {m: [] for m in metrics} for name in CONTENDERS_ORDER}
    try:
        for name in CONTENDERS_ORDER:
            ctx.log(f"overhead: starting {name}")
            workers[name] = Worker("overhead", name, ctx.workdir)
        for index in range(rounds + 1):  # round 0 warms up and is discarded
            for name in rotated(CONTENDERS_ORDER, index):
                worker, calls = workers[name], FLAT_CALLS[name]
                for shape, n in (("flat", calls), ("nested", calls // DEPTH)):
                    done = worker.call("window", shape=shape, calls=n, windows=windows[name])
                    flushed = worker.call("flush")
                    if index:
                        per[name]["wall_" + shape].append(median(done["wall_ns"]) / done["spans"] / 1000)
                        per[name]["cpu_" + shape].append(median(done["cpu_ns"]) / done["spans"] / 1000)
                        per[name]["flush_" + shape].append(
                            flushed["ns"] / (done["spans"] * windows[name]) / 1000)
            if index:
                ctx.log(f"overhead: round {index}/{rounds} flat wall/cpu µs/span: " + ", ".join(
                    f"{name} {per[name]['wall_flat'][-1]:.2f}/{per[name]['cpu_flat'][-1]:.2f}"
                    for name in CONTENDERS_ORDER))
        recorded = {name: workers[name].call("recorded") for name in CONTENDERS_ORDER}
    finally:
        for worker in workers.values():
            worker.close()
    return _section(per, recorded, rounds, windows)


def _ratios(per: dict[str, dict[str, list[float]]], metric: str, top: str, bottom: str) -> list[float]:
    return [a / b for a, b in zip(per[top][metric], per[bottom][metric], strict=True)]


def _ratio(per: dict[str, dict[str, list[float]]], metric: str, top: str, bottom: str) -> float:
    return median(_ratios(per, metric, top, bottom))


def _spread(per: dict[str, dict[str, list[float]]], metric: str, top: str, bottom: str) -> str:
    values = _ratios(per, metric, top, bottom)
    return f"rounds {num(min(values))}–{num(max(values))}×"


def _section(per: dict[str, dict[str, list[float]]], recorded: dict[str, dict[str, Any]], rounds: int,
             windows: dict[str, int]) -> Section:
    rows = []
    for name in CONTENDERS_ORDER:
        row = [LABELS[name]]
        for shape in ("flat", "nested"):
            cpu, wall = "cpu_" + shape, "wall_" + shape
            row += [num(median(per[name][cpu])), num(median(per[name][wall])),
                    num(_ratio(per, cpu, name, "floor")) + "×", num(_ratio(per, cpu, name, "llmops_nb")) + "×"]
        row += [num(median(per[name]["flush_flat"])), f"{recorded[name]['spans']:,} / {recorded[name]['created']:,}"]
        rows.append(row)
    body = table(
        ["Contender", "flat µs/span (CPU)", "flat µs/span (wall)", "flat ÷ floor", "flat ÷ llmops_nb",
         "nested µs/span (CPU)", "nested µs/span (wall)", "nested ÷ floor", "nested ÷ llmops_nb",
         "flush µs/span (off the hot path)", "spans recorded / created"],
        rows,
    )
    body += (
        f"\n\nMedians over {rounds} rounds (after one warm-up round). In each round a contender runs "
        + ", ".join(f"{name} {windows[name]}×{FLAT_CALLS[name]:,}" for name in CONTENDERS_ORDER)
        + f" flat calls (and a fifth as many depth-{DEPTH} calls) in back-to-back windows; the round keeps the "
        "median window. µs/span = window time ÷ spans created in it. **CPU** is the contender's process CPU "
        "time (all its threads: OTel's batch worker, MLflow's async export), which other processes on a shared "
        "machine cannot inflate; **wall** is elapsed time. Ratios (÷) are medians of per-round CPU-time ratios; "
        "wall-time ratios to the floor (flat / nested): " + ", ".join(
            f"{name} {num(_ratio(per, 'wall_flat', name, 'floor'))}× / "
            f"{num(_ratio(per, 'wall_nested', name, 'floor'))}×" for name in CONTENDERS_ORDER[1:]) + ". "
        "Flush = the contender's own flush after a round's flat windows, ÷ spans flushed; after the nested "
        "windows: " + ", ".join(f"{name} {num(median(per[name]['flush_nested']))}" for name in CONTENDERS_ORDER)
        + " µs/span."
    )
    lost = {name: r["created"] - r["spans"] for name, r in recorded.items() if r["spans"] < r["created"]}
    if lost:
        body += " **Spans lost:** " + ", ".join(f"{name} {count:,}" for name, count in lost.items()) + (
            " (recorded < created after the final flush; OTel's BatchSpanProcessor drops a span, with a \"Queue "
            "full\" warning, when its queue of 2,048 fills faster than its worker thread drains it — which happens "
            "when the machine is loaded)."
        )
    targets = []
    goals = (("floor", "llmops_nb", "llmops_nb vs floor", "≤ 3× floor", lambda r: r <= 3),
             ("llmops_nb", "otel", "faster than OpenTelemetry", "≥ 5×", lambda r: r >= 5),
             ("llmops_nb", "mlflow", "faster than MLflow", "≥ 100×", lambda r: r >= 100))
    for shape in ("flat", "nested"):
        cpu, wall = "cpu_" + shape, "wall_" + shape
        for base, other, what, goal, met in goals:
            # llmops_nb vs floor is llmops ÷ floor; vs a peer it is peer ÷ llmops_nb ("N× faster").
            top, bottom = (other, base)
            value = _ratio(per, cpu, top, bottom)
            shown = "llmops_nb" if other == "llmops_nb" else other
            measured = (f"{num(value)}× ({shown} {num(median(per[shown][cpu]))} µs/span CPU; "
                        f"{_spread(per, cpu, top, bottom)}; wall {num(_ratio(per, wall, top, bottom))}×)")
            targets.append(Target(f"Overhead, {shape}: {what}", goal, measured, met(value)))
    raw = {"per_round_us": per, "recorded": recorded}
    return Section("1. Overhead per span (decorated no-op)", body, targets, raw)
