"""OpenTelemetry: the bridge's cost per span, the OTLP receiver's throughput, OTLP export throughput.

1. **Bridge overhead**: an OpenInference-instrumented no-op LangChain runnable
   (``RunnableLambda(lambda x: x).invoke``: one CHAIN span a call), in four processes — LangChain
   with no tracing (the floor), ``llmops_nb.autolog()`` (OpenInference instrumentor → our bridge),
   Phoenix's ``register(batch=True)`` + the same instrumentor (BatchSpanProcessor → OTLP/HTTP to a
   local endpoint that counts and discards), and ``mlflow.langchain.autolog()`` (SQLite store).
   Timed like ``overhead.py``: windows of calls in process CPU time (background threads included),
   the contender's own flush after the windows, medians over alternated rounds. Overhead per span =
   the contender's µs per call minus the floor's in the same round.
2. **Receiver throughput**: ``llmops_nb.receive()`` in one process (the kernel), 4 sender processes
   posting prepared OTLP protobuf requests (512 spans each) over keep-alive connections, all starting
   at one instant. *Accepted* = spans ÷ time until the last sender has its last answer; *persisted*
   = spans ÷ time until ``flush()`` returned in the receiver; *loss* = spans sent − new rows in the
   store. Two payloads (``_otel_load.py``): real OpenInference LangChain spans and small spans.
3. **Export throughput**: ``llmops_nb.export_otlp()`` of a store of LangChain traces to a local
   OTLP endpoint in another process that parses each request and counts its spans.
"""

from __future__ import annotations

import gc
import os
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from itertools import repeat
from pathlib import Path
from typing import Any

from ._harness import Worker, median, rotated
from ._report import Context, Section, Target, num, table

SENDERS = 4
RECEIVER_TARGET = 50_000  # spans/s, accepted and persisted


BRIDGE_ORDER = ("plain", "llmops_nb", "phoenix", "mlflow")
BRIDGE_LABELS = {
    "plain": "LangChain, no tracing (floor)",
    "llmops_nb": "`llmops_nb.autolog()` (OpenInference → our bridge → DuckDB)",
    "phoenix": "Phoenix `register(batch=True)` + OpenInference (BatchSpanProcessor → OTLP/HTTP)",
    "mlflow": "`mlflow.langchain.autolog()` (SQLite store, async logging)",
}
CALLS = {"plain": 400, "llmops_nb": 400, "phoenix": 400, "mlflow": 40}  # per timed window


# -- 1. bridge overhead: contenders ----------------------------------------------------------------
class _Runnable:
    """A no-op LangChain runnable called in timed windows (process CPU time: background threads too)."""

    def __init__(self, workdir: Path) -> None:
        from langchain_core.runnables import RunnableLambda

        self.runnable = RunnableLambda(lambda x: x)
        self.created = 0
        self.window(50, 1)
        self._flush()

    def window(self, calls: int, windows: int) -> dict[str, Any]:
        invoke = self.runnable.invoke
        cpu, wall = [], []
        gc.collect()
        for _ in range(windows):
            cpu_start, wall_start = time.process_time_ns(), time.perf_counter_ns()
            for _ in repeat(None, calls):
                invoke(1)
            wall.append(time.perf_counter_ns() - wall_start)
            cpu.append(time.process_time_ns() - cpu_start)
        self.created += calls * windows
        return {"cpu_ns": cpu, "wall_ns": wall, "calls": calls}

    def flush(self) -> dict[str, Any]:
        start = time.perf_counter_ns()
        self._flush()
        return {"ns": time.perf_counter_ns() - start, "recorded": self._recorded(), "created": self.created}

    def _flush(self) -> None:
        pass

    def _recorded(self) -> int:
        return self.created


class Plain(_Runnable):
    pass


class LlmopsNb(_Runnable):
    def __init__(self, workdir: Path) -> None:
        import llmops_nb

        llmops_nb.configure(db=str(workdir / "bridge.duckdb"))
        llmops_nb.autolog()
        self.llmops_nb = llmops_nb
        super().__init__(workdir)  # imports langchain_core: autolog turns the instrumentor on then

    def _flush(self) -> None:
        if not self.llmops_nb.flush(timeout=120):
            raise RuntimeError("llmops_nb.flush() timed out")

    def _recorded(self) -> int:
        return int(self.llmops_nb.sql("SELECT count(*) AS n FROM spans")["n"][0])


class Phoenix(_Runnable):
    def __init__(self, workdir: Path) -> None:
        from openinference.instrumentation.langchain import LangChainInstrumentor
        from phoenix.otel import register

        self.provider = register(endpoint=os.environ["BENCH_OTLP_ENDPOINT"], project_name="bench", batch=True,
                                 protocol="http/protobuf", verbose=False)
        LangChainInstrumentor().instrument(tracer_provider=self.provider)
        super().__init__(workdir)

    def _flush(self) -> None:
        self.provider.force_flush()

    def _recorded(self) -> int:
        return -1  # counted by the collector process (the driver asks it)


class Mlflow(_Runnable):
    def __init__(self, workdir: Path) -> None:
        import mlflow

        self.db = workdir / "mlflow-bridge.db"
        mlflow.set_tracking_uri(f"sqlite:///{self.db}")
        mlflow.set_experiment("benchmarks")
        mlflow.langchain.autolog()
        self.mlflow = mlflow
        super().__init__(workdir)

    def _flush(self) -> None:
        self.mlflow.flush_trace_async_logging()

    def _recorded(self) -> int:
        with sqlite3.connect(self.db) as con:
            return int(con.execute("SELECT count(*) FROM spans").fetchone()[0])


CONTENDERS = {"plain": Plain, "llmops_nb": LlmopsNb, "phoenix": Phoenix, "mlflow": Mlflow}


def bridge_rounds(ctx: Context, rounds: int, windows: int) -> dict[str, Any]:
    cpu: dict[str, list[float]] = {name: [] for name in BRIDGE_ORDER}
    wall: dict[str, list[float]] = {name: [] for name in BRIDGE_ORDER}
    flush: dict[str, list[float]] = {name: [] for name in BRIDGE_ORDER}
    workers: dict[str, Worker] = {}
    try:
        workers["collector"] = Worker("_otel_load", "collector", ctx.workdir)
        endpoint = workers["collector"].call("info")["endpoint"]
        for name in BRIDGE_ORDER:
            ctx.log(f"otel bridge: starting {name}")
            # NO_PROXY: the harness points proxies at a dead port; the local collector must be reachable
            workers[name] = Worker("otel", name, ctx.workdir, env={
                "BENCH_OTLP_ENDPOINT": endpoint, "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"})
        for index in range(rounds + 1):  # round 0 warms up and is discarded
            for name in rotated(BRIDGE_ORDER, index):
                done = workers[name].call("window", calls=CALLS[name], windows=windows)
                flushed = workers[name].call("flush")
                if index:
                    cpu[name].append(median(done["cpu_ns"]) / done["calls"] / 1000)
                    wall[name].append(median(done["wall_ns"]) / done["calls"] / 1000)
                    flush[name].append(flushed["ns"] / (done["calls"] * windows) / 1000)
            if index:
                ctx.log(f"otel bridge: round {index}/{rounds} µs/call (CPU): " + ", ".join(
                    f"{name} {cpu[name][-1]:.0f}" for name in BRIDGE_ORDER))
        recorded = {name: workers[name].call("flush") for name in BRIDGE_ORDER}
        recorded["phoenix"]["recorded"] = workers["collector"].call("info")["spans"]
    finally:
        for worker in workers.values():
            worker.close()
    return {"cpu_us": cpu, "wall_us": wall, "flush_us": flush, "recorded": recorded}


# -- 2. receiver -----------------------------------------------------------------------------------
def receiver_rounds(ctx: Context, payload: str, rounds: int, requests: int) -> list[dict[str, Any]]:
    out = []
    receiver = Worker("_otel_load", "receiver", ctx.workdir)
    senders = [Worker("_otel_load", "sender", ctx.workdir / f"sender-{n}") for n in range(SENDERS)]
    try:
        where = receiver.call("info")
        with ThreadPoolExecutor(SENDERS) as pool:
            for index in range(rounds):
                prepared = list(pool.map(lambda n, i=index: senders[n].call(
                    "prepare", payload=payload, sender=n, round_index=i, requests=requests), range(SENDERS)))
                before = receiver.call("mark")["spans"]
                start_at = time.monotonic() + 0.5
                sent = list(pool.map(lambda w, at=start_at: w.call("send", port=where["port"], token=where["token"],
                                                                   start_at=at, timeout=900), senders))
                stored = receiver.call("persisted", wait=600.0, timeout=900)
                spans = sum(p["spans"] for p in prepared)
                accepted_s = max(s["done"] for s in sent) - start_at
                persisted_s = stored["done"] - start_at
                result = {
                    "spans": spans, "traces": sum(p["traces"] for p in prepared),
                    "mb": sum(p["bytes"] for p in prepared) / 1e6, "accepted_s": accepted_s,
                    "persisted_s": persisted_s, "accepted_per_s": spans / accepted_s,
                    "persisted_per_s": (stored["spans"] - before) / persisted_s,
                    "loss": spans - (stored["spans"] - before), "busy": sum(s["busy"] for s in sent),
                    "rejected": sum(s["rejected"] for s in sent), "failed": [s["failed"] for s in sent if s["failed"]],
                    "cpu_us_per_span": stored["cpu_s"] / spans * 1e6, "flush_ok": stored["ok"],
                    "dropped": stored["dropped"],
                    "threads_us_per_span": {k: v / spans * 1e6 for k, v in stored["threads_cpu_s"].items()}}
                out.append(result)
                ctx.log(f"otel receiver ({payload}): round {index + 1}/{rounds}: {spans:,} spans, accepted "
                        f"{result['accepted_per_s']:,.0f}/s, persisted {result['persisted_per_s']:,.0f}/s, "
                        f"loss {result['loss']}, 503s {result['busy']}, receiver CPU "
                        f"{result['cpu_us_per_span']:.1f} µs/span (" + ", ".join(
                            f"{k} {v:.1f}" for k, v in result["threads_us_per_span"].items() if v >= 0.05) + ")")
    finally:
        for worker in [receiver, *senders]:
            worker.close()
    return out


# -- 3. export -------------------------------------------------------------------------------------
def export_rounds(ctx: Context, rounds: int, requests: int) -> list[dict[str, Any]]:
    out = []
    collector = Worker("_otel_load", "collector", ctx.workdir)
    exporter = Worker("_otel_load", "exporter", ctx.workdir, env={"NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"})
    try:
        stored = exporter.call("fill", requests=requests, timeout=900)
        endpoint = collector.call("info")["endpoint"]
        for index in range(rounds):
            before = collector.call("info")["spans"]
            done = exporter.call("export", endpoint=endpoint, timeout=900)
            received = collector.call("info")["spans"] - before
            result = {**done, "received": received, "stored": stored["spans"], "traces_stored": stored["traces"],
                      "per_s": done["spans"] / done["seconds"], "cpu_us_per_span": done["cpu_s"] / done["spans"] * 1e6}
            out.append(result)
            ctx.log(f"otel export: round {index + 1}/{rounds}: {done['spans']:,} spans in {done['seconds']:.2f} s "
                    f"({result['per_s']:,.0f}/s), collector received {received:,}")
    finally:
        collector.close()
        exporter.close()
    return out


def run(ctx: Context) -> Section:
    bridge = bridge_rounds(ctx, ctx.pick_rounds(full=7, quick=2), 2 if ctx.quick else 4)
    receiving = {payload: receiver_rounds(ctx, payload, ctx.pick_rounds(full=3, quick=1), 10 if ctx.quick else 50)
                 for payload in ("small", "langchain")}
    export = export_rounds(ctx, ctx.pick_rounds(full=3, quick=1), 10 if ctx.quick else 40)
    return _section(bridge, receiving, export)


def _section(bridge: dict[str, Any], receiving: dict[str, list[dict[str, Any]]],
             export: list[dict[str, Any]]) -> Section:
    cpu, floor = bridge["cpu_us"], bridge["cpu_us"]["plain"]
    overhead = {name: [c - f for c, f in zip(cpu[name], floor, strict=True)] for name in BRIDGE_ORDER}
    rows = []
    for name in BRIDGE_ORDER:
        ratio = [o / max(ours, 1e-9) for o, ours in zip(overhead[name], overhead["llmops_nb"], strict=True)]
        recorded = bridge["recorded"][name]
        rows.append([BRIDGE_LABELS[name], num(median(cpu[name])), num(median(bridge["wall_us"][name])),
                     "–" if name == "plain" else num(median(overhead[name])),
                     "–" if name == "plain" else num(median(ratio)) + "×",
                     num(median(bridge["flush_us"][name])), f"{recorded['recorded']:,} / {recorded['created']:,}"])
    body = "**Bridge overhead** (OpenInference-instrumented no-op LangChain runnable, one span a call)\n\n" + table(
        ["Contender", "µs/call (CPU)", "µs/call (wall)", "overhead µs/span (CPU − floor)", "overhead ÷ llmops_nb",
         "flush µs/span (after the windows)", "spans recorded / created"], rows)
    rounds = len(floor)
    body += (f"\n\nMedians over {rounds} rounds after a warm-up round; each round runs every contender's windows "
             "(" + ", ".join(f"{n} {CALLS[n]} calls" for n in BRIDGE_ORDER) + " a window) in rotated order. "
             "Overhead = the contender's CPU µs per call minus the floor's in the same round; the ratio is the "
             "median of per-round ratios. Phoenix's spans go to a local OTLP endpoint in another process (its "
             "CPU is not counted); its `recorded` is what that endpoint received.\n\n")
    receiver_rows, targets = [], []
    for payload, runs in receiving.items():
        accepted = median(r["accepted_per_s"] for r in runs)
        persisted = median(r["persisted_per_s"] for r in runs)
        loss = sum(r["loss"] for r in runs)
        roles = sorted({k for r in runs for k in r["threads_us_per_span"]})
        split = ", ".join(f"{k} {num(median(r['threads_us_per_span'].get(k, 0.0) for r in runs))}" for k in roles
                          if median(r["threads_us_per_span"].get(k, 0.0) for r in runs) >= 0.1)
        receiver_rows.append([payload, f"{runs[0]['spans']:,} ({runs[0]['traces']:,} traces, {runs[0]['mb']:.0f} MB)",
                              num(accepted), num(persisted), f"{loss:,}", f"{sum(r['busy'] for r in runs)}",
                              num(median(r["cpu_us_per_span"] for r in runs)), split,
                              ", ".join(f"{r['accepted_per_s']:,.0f}/{r['persisted_per_s']:,.0f}" for r in runs)])
        goal = f"≥ {RECEIVER_TARGET:,}/s accepted and persisted, 0 lost"
        targets.append(Target(f"OTLP receiver, 4 senders, {payload} spans", goal,
                              f"{accepted:,.0f}/s accepted, {persisted:,.0f}/s persisted, {loss:,} lost",
                              accepted >= RECEIVER_TARGET and persisted >= RECEIVER_TARGET and loss == 0))
    body += "**OTLP receiver throughput** (4 sender processes, 512 spans a request, keep-alive)\n\n" + table(
        ["payload", "spans a round", "accepted spans/s", "persisted spans/s", "lost", "503 answers",
         "receiver CPU µs/span", "of which by thread (µs/span)", "each round (accepted/persisted)"], receiver_rows)
    body += ("\n\nMedians over rounds. *Persisted* counts new rows in the store once `flush()` returned; *lost* = "
             "sent − stored, summed over rounds. Receiver CPU is the receiving process's (all threads) ÷ spans; "
             "HTTP handler threads end with their connections, so their share is the total minus the threads "
             "listed.\n\n")
    per_s = median(r["per_s"] for r in export)
    body += "**Export throughput** (`llmops_nb.export_otlp()` of stored LangChain traces to a local OTLP endpoint)\n\n"
    body += table(["spans exported", "spans/s", "requests", "exporter CPU µs/span", "received by the endpoint"],
                  [[f"{export[0]['spans']:,} ({export[0]['traces_stored']:,} traces)", num(per_s),
                    f"{export[0]['requests']:,}", num(median(r["cpu_us_per_span"] for r in export)),
                    ", ".join(f"{r['received']:,}" for r in export)]])
    targets.append(Target("OTLP export to a local endpoint", "reported (no target)",
                          f"{per_s:,.0f} spans/s, {sum(r['spans'] - r['received'] for r in export)} lost", None))
    ours = median(overhead["llmops_nb"])
    targets.append(Target("Bridge overhead per LangChain span (CPU)", "reported vs Phoenix and MLflow",
                          f"llmops_nb {num(ours)} µs, Phoenix {num(median(overhead['phoenix']))} µs, "
                          f"MLflow {num(median(overhead['mlflow']))} µs", None))
    return Section("7. OpenTelemetry: bridge, receiver, export", body, targets,
                   {"bridge": bridge, "receiver": receiving, "export": export})
