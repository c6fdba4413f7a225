"""Persistence: how fast ended spans go from the recorder's queue into the DuckDB file.

All in one llmops_nb process (nothing to compare against here):

- **buffered**: the writer is parked (its wake-up interval is set to an hour
  inside this process only), N spans are created through ``@llmops_nb.trace``,
  then one ``flush()`` writes them all. spans/s = N ÷ flush time. Done for
  *bare* spans (no-op functions: no inputs, output ``null``) and *typical* ones
  (a CHAIN root calling 5 TOOL + 5 LLM children with small JSON inputs and
  outputs and GenAI attributes on the LLM spans).
- **sustained**: the writer runs as configured (wakes every 0.5 s) while one
  thread produces typical traces flat out for a few seconds. Reported: the
  producer's rate, the rate the writer persisted during the window, the backlog
  left at the end, and the end-to-end rate (spans ÷ time until all persisted).
- **visible**: one trace of 10,000 spans ends; how long until ``traces()``
  lists it as finished — left to the background writer (polling ``traces()``
  every 5 ms), and with an explicit ``flush()`` first.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ._harness import Worker, median
from ._report import Context, Section, Target, num, table

QUESTION = "What is the capital of France, and which river runs through it? Answer in one short sentence."
DOCS = [{"id": f"doc-{i}", "score": round(0.9 - i / 10, 2), "title": f"Paris facts, part {i}"} for i in range(3)]
REPLY = {"text": "Paris; the Seine runs through it.", "finish_reason": "stop"}


def typical_app(llmops_nb: Any) -> Callable[[str], str]:
    """A RAG-like call, traced: a CHAIN with 5 retrievals and 5 priced LLM calls (11 spans a trace)."""
    trace = llmops_nb.trace

    @trace(kind="TOOL")
    def search(query: str, top_k: int = 3) -> list[dict[str, Any]]:
        return DOCS[:top_k]

    @trace(kind="LLM")
    def generate(prompt: str, temperature: float = 0.2) -> dict[str, Any]:
        llmops_nb.get_current_span().set_attributes({
            "gen_ai.request.model": "gpt-4o-mini", "gen_ai.usage.input_tokens": 412,
            "gen_ai.usage.output_tokens": 18})
        return REPLY

    @trace(kind="CHAIN")
    def answer(question: str) -> str:
        for _ in range(5):
            search(question)
            generate(question)
        return str(REPLY["text"])

    return answer


class Persist:
    def __init__(self, workdir: Path) -> None:
        import llmops_nb
        from llmops_nb._config import settings
        from llmops_nb.store._recorder import recorder

        self.llmops_nb, self.settings, self.recorder = llmops_nb, settings, recorder
        self.workdir = workdir
        self.default_interval = settings.flush_interval
        llmops_nb.configure(db=str(workdir / "persist.duckdb"))
        trace = llmops_nb.trace

        answer = typical_app(llmops_nb)

        @trace
        def noop() -> None:
            return None

        @trace
        def bare_root() -> None:
            for _ in range(10):
                noop()

        @trace(kind="CHAIN")
        def big_trace(children: int) -> None:
            for _ in range(children):
                noop()

        self.shapes = {"typical": lambda: answer(QUESTION), "bare": bare_root}
        self.big_trace = big_trace
        answer(QUESTION)
        bare_root()
        llmops_nb.flush()

    def _count(self) -> int:
        return int(self.llmops_nb.sql("SELECT count(*) AS n FROM spans").n[0])

    def buffered(self, spans: int, shape: str) -> dict[str, Any]:
        make = self.shapes[shape]
        self.settings.flush_interval = 3600.0  # park the writer: only flush() will wake it
        try:
            self.llmops_nb.flush()
            before = self._count()
            start = time.perf_counter()
            for _ in range(spans // 11):
                make()
            created = time.perf_counter()
            queued = len(self.recorder.queue)
            ok = self.llmops_nb.flush(timeout=300)
            done = time.perf_counter()
        finally:
            self.settings.flush_interval = self.default_interval
            self.llmops_nb.flush()
        persisted = self._count() - before
        return {"spans": spans // 11 * 11, "queued_before_flush": queued, "persisted": persisted, "ok": ok,
                "create_s": created - start, "flush_s": done - created}

    def sustained(self, seconds: float) -> dict[str, Any]:
        import gc

        make = self.shapes["typical"]
        self.llmops_nb.flush()
        pauses: list[float] = []
        began: list[float] = [0.0]

        def on_gc(phase: str, info: dict[str, Any]) -> None:
            if phase == "start":
                began[0] = time.perf_counter()
            elif info["generation"] == 2:
                pauses.append(time.perf_counter() - began[0])

        gc.callbacks.append(on_gc)
        before = self._count()
        written_before = self.recorder.written_total
        queue = self.recorder.queue
        produced, max_queue = 0, 0
        start = time.perf_counter()
        deadline = start + seconds
        while time.perf_counter() < deadline:
            for _ in range(20):
                make()
            produced += 20 * 11
            max_queue = max(max_queue, len(queue))
        window = time.perf_counter() - start
        written_in_window = self.recorder.written_total - written_before
        backlog = len(queue)
        ok = self.llmops_nb.flush(timeout=300)
        total = time.perf_counter() - start
        gc.callbacks.remove(on_gc)
        return {"produced": produced, "window_s": window, "written_in_window": written_in_window,
                "backlog_at_end": backlog, "max_queue": max_queue, "total_s": total, "ok": ok,
                "persisted": self._count() - before, "gc2_count": len(pauses), "gc2_s": sum(pauses),
                "gc2_max_s": max(pauses, default=0.0)}

    def visible(self, children: int, explicit_flush: bool) -> dict[str, Any]:
        self.llmops_nb.flush()
        traces = self.llmops_nb.traces
        self.big_trace(children)
        ended = time.perf_counter()
        polls = 0
        if explicit_flush:
            self.llmops_nb.flush()
        while True:
            frame = traces(limit=1)
            polls += 1
            if len(frame) and frame.status[0] == "OK" and frame.span_count[0] == children + 1:
                break
            if time.perf_counter() - ended > 30:
                raise RuntimeError("the 10k-span trace did not show up within 30 s")
            time.sleep(0.005)
        seen = time.perf_counter()
        return {"latency_s": seen - ended, "polls": polls, "trace_id": frame.trace_id[0]}


CONTENDERS = {"llmops_nb": Persist}


def run(ctx: Context) -> Section:
    rounds = ctx.pick_rounds(full=4, quick=1)
    buffered_spans = 22_000 if ctx.quick else 200_002
    # Long enough for several writer cycles: one cycle can take over a second under load.
    sustain_s = 2.0 if ctx.quick else 8.0
    out: dict[str, list[dict[str, Any]]] = {"typical": [], "bare": [], "sustained": [], "visible_bg": [],
                                            "visible_flush": []}
    worker = Worker("persist", "llmops_nb", ctx.workdir)
    try:
        for index in range(rounds):
            for shape in ("typical", "bare"):
                out[shape].append(worker.call("buffered", spans=buffered_spans, shape=shape, timeout=600))
            out["sustained"].append(worker.call("sustained", seconds=sustain_s, timeout=600))
            out["visible_bg"].append(worker.call("visible", children=9_999, explicit_flush=False))
            out["visible_flush"].append(worker.call("visible", children=9_999, explicit_flush=True))
            last = out["typical"][-1]
            ctx.log(f"persist: round {index + 1}/{rounds}: buffered typical "
                    f"{last['spans'] / last['flush_s']:,.0f} spans/s, sustained end-to-end "
                    f"{out['sustained'][-1]['produced'] / out['sustained'][-1]['total_s']:,.0f} spans/s, "
                    f"10k trace visible after {out['visible_bg'][-1]['latency_s'] * 1000:.0f} ms")
    finally:
        worker.close()
    return _section(out, rounds, buffered_spans, sustain_s)


def _section(out: dict[str, list[dict[str, Any]]], rounds: int, buffered_spans: int, sustain_s: float) -> Section:
    rows = []
    for shape in ("typical", "bare"):
        runs = out[shape]
        lost = sum(r["spans"] - r["persisted"] for r in runs)
        rows.append([f"buffered {buffered_spans:,} {shape} spans, one flush()",
                     num(median(r["spans"] / r["flush_s"] for r in runs)),
                     num(median(r["flush_s"] * 1000 for r in runs)) + " ms flush",
                     f"created at {num(median(r['spans'] / r['create_s'] for r in runs))} spans/s; "
                     f"{median(r['queued_before_flush'] for r in runs):,.0f} queued at flush; lost: {lost}"])
    sus = out["sustained"]
    end_to_end = median(r["produced"] / r["total_s"] for r in sus)
    rows.append([f"sustained producer, {sustain_s:g} s, typical spans",
                 num(end_to_end),
                 num(median((r["total_s"] - r["window_s"]) * 1000 for r in sus)) + " ms final flush",
                 f"produced {num(median(r['produced'] / r['window_s'] for r in sus))} spans/s; writer persisted "
                 f"{num(median(r['written_in_window'] / r['window_s'] for r in sus))} spans/s during the window; "
                 f"backlog at end {median(r['backlog_at_end'] for r in sus):,.0f} spans "
                 f"(max queue {median(r['max_queue'] for r in sus):,.0f}); full GC passes "
                 f"{median(r['gc2_count'] for r in sus):.0f} taking {num(median(r['gc2_s'] for r in sus))} s "
                 f"(longest {num(median(r['gc2_max_s'] * 1000 for r in sus))} ms); lost: "
                 f"{sum(r['produced'] - r['persisted'] for r in sus)}"])
    body = table(["Case", "spans/s (median)", "time", "notes"], rows)
    body += "\n\n" + table(
        ["10,000-span trace ends → listed by `traces()`", "median (ms)", "min (ms)", "max (ms)"],
        [[label, num(median(r["latency_s"] * 1000 for r in out[key])),
          num(min(r["latency_s"] * 1000 for r in out[key])), num(max(r["latency_s"] * 1000 for r in out[key]))]
         for label, key in (("background writer (flush_interval 0.5 s), polling every 5 ms", "visible_bg"),
                            ("explicit `llmops_nb.flush()`, then `traces()`", "visible_flush"))])
    body += (f"\n\n{rounds} rounds. spans/s for *buffered* = spans ÷ flush() time (writer parked while the spans "
             "were created, so the flush does all the work: queue drain, Arrow conversion, DuckDB insert and the "
             "trace-totals upsert). *End-to-end* for the sustained run = spans produced ÷ time from the first span "
             "until the final flush() returned.")
    typical = median(r["spans"] / r["flush_s"] for r in out["typical"])
    bare = median(r["spans"] / r["flush_s"] for r in out["bare"])
    targets = [
        Target("Persistence, buffered typical spans → file", "≥ 200k spans/s",
               f"{num(typical)} spans/s (bare spans: {num(bare)})", typical >= 200_000),
        Target("Persistence, sustained producer (end-to-end)", "≥ 200k spans/s", f"{num(end_to_end)} spans/s",
               end_to_end >= 200_000),
        Target("10k-span trace visible in `traces()`", "reported (no target)",
               f"{num(median(r['latency_s'] * 1000 for r in out['visible_bg']))} ms background, "
               f"{num(median(r['latency_s'] * 1000 for r in out['visible_flush']))} ms with flush()", None),
    ]
    return Section("3. Persistence throughput", body, targets, out)
