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

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ._harness import Worker
from ._report import Context

SENDERS = 4
RECEIVER_TARGET = 50_000  # spans/s, accepted and persisted


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
