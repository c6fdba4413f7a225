"""OTel benchmarks: receiver throughput from 4 concurrent OTLP senders, and the bridge's per-span cost.

    python benchmarks/otel_bench.py

Receiver: 4 sender processes post pre-encoded OTLP protobuf requests (512 spans each, the OTel
SDK's default batch) over keep-alive connections; the number reported is spans accepted *and
persisted* (after ``flush()``) per second, and the loss (sent − stored). Bridge: an
OpenInference-instrumented no-op LangChain runnable, spans/s through our bridge (µs per span,
instrumentation included).
"""

from __future__ import annotations

import http.client
import multiprocessing
import os
import sys
import tempfile
import time

SENDERS, REQUESTS, BATCH = 4, 50, 512


def _sender(port: int, token: str, sender: int, ready: object) -> None:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    bodies = []
    for r in range(REQUESTS):
        request = ExportTraceServiceRequest()
        spans = request.resource_spans.add().scope_spans.add().spans
        for i in range(BATCH):
            span = spans.add()
            span.trace_id = ((sender << 40) + r * BATCH + i + 1).to_bytes(16, "big")
            span.span_id = (i + 1).to_bytes(8, "big")
            span.name = "llm"
            span.start_time_unix_nano, span.end_time_unix_nano = 1_700_000_000_000_000_000, 1_700_000_000_100_000_000
            for key, value in (("openinference.span.kind", "LLM"), ("llm.model_name", "gpt-4o-mini")):
                attribute = span.attributes.add()
                attribute.key, attribute.value.string_value = key, value
        bodies.append(request.SerializeToString())
    ready.wait()  # type: ignore[attr-defined]
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    for body in bodies:
        while True:
            connection.request("POST", "/v1/traces", body=body, headers={
                "Content-Type": "application/x-protobuf", "Authorization": f"Bearer {token}"})
            response = connection.getresponse()
            response.read()
            if response.status != 503:
                break
            time.sleep(0.2)


def receiver_throughput() -> dict[str, float]:
    import llmops_nb

    llmops_nb.configure(db=os.path.join(tempfile.mkdtemp(), "bench.duckdb"))
    receiver = llmops_nb.receive(set_env=False)
    ready = multiprocessing.Event()
    processes = [multiprocessing.Process(target=_sender, args=(receiver.port, receiver.token, n, ready))
                 for n in range(SENDERS)]
    for p in processes:
        p.start()
    time.sleep(3)  # senders encode their requests before the clock starts
    started = time.perf_counter()
    ready.set()
    for p in processes:
        p.join()
    received = time.perf_counter() - started
    llmops_nb.flush(120)
    persisted = time.perf_counter() - started
    sent = SENDERS * REQUESTS * BATCH
    stored = int(llmops_nb.sql("SELECT count(*) AS n FROM spans")["n"][0])
    return {"spans_sent": sent, "spans_stored": stored, "loss": sent - stored,
            "accepted_spans_per_s": sent / received, "persisted_spans_per_s": stored / persisted}


def bridge_overhead(n: int = 2000) -> dict[str, float]:
    from langchain_core.runnables import RunnableLambda

    import llmops_nb

    llmops_nb.configure(db=os.path.join(tempfile.mkdtemp(), "bench.duckdb"))
    llmops_nb.autolog()
    runnable = RunnableLambda(lambda x: x)
    for _ in range(200):
        runnable.invoke(1)
    started = time.perf_counter()
    for _ in range(n):
        runnable.invoke(1)
    elapsed = time.perf_counter() - started
    llmops_nb.flush()
    return {"us_per_span_with_bridge": elapsed / n * 1e6}


if __name__ == "__main__":
    which = sys.argv[1] if len(sys.argv) > 1 else "receiver"
    print(which, receiver_throughput() if which == "receiver" else bridge_overhead())
