"""The processes of the OTLP benchmarks (``otel.py``): OTLP payloads, senders, our receiver, a collector, an exporter.

Two payloads, both as the OTel SDK's exporter sends them (protobuf, 512 spans a request):

- ``langchain``: spans made by the real OpenInference LangChain instrumentor around a LangChain
  agent loop (a chat model that calls a ``@tool``, then answers), 13 spans a trace (a session
  running the agent 3 times), ~1.2 kB a span: messages, JSON inputs/outputs, metadata;
- ``small``: 10 spans a trace with 4–6 short attributes each (kind, model, tokens, a short input).

Ids are rewritten per sender and round, so every span sent is new to the store.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

BATCH = 512  # the OTel SDK's BatchSpanProcessor default (max_export_batch_size)
PROTOBUF = {"Content-Type": "application/x-protobuf"}


# -- payloads --------------------------------------------------------------------------------------
def langchain_template() -> list[Any]:
    """One trace of real OpenInference LangChain spans, as OTLP protobuf ``Span`` messages."""
    from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
    from langchain_core.runnables import RunnableLambda
    from langchain_core.tools import tool
    from openinference.instrumentation.langchain import LangChainInstrumentor
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    LangChainInstrumentor().instrument(tracer_provider=provider)

    @tool
    def weather(city: str) -> str:
        """The weather in a city."""
        return json.dumps({"city": city, "temp_c": 21, "sky": "clear"})

    def agent(question: str) -> str:
        model = FakeMessagesListChatModel(responses=[
            AIMessage(content="", tool_calls=[{"name": "weather", "args": {"city": "Paris"}, "id": "call-1"}]),
            AIMessage(content="It is 21 degrees and clear in Paris."),
        ])
        messages = [SystemMessage(content="You are a helpful assistant that answers questions about the weather."),
                    HumanMessage(content=question)]
        while True:
            reply = model.invoke(messages)
            messages.append(reply)
            if not reply.tool_calls:
                return str(reply.content)
            for call in reply.tool_calls:
                messages.append(ToolMessage(content=weather.invoke(call["args"]), tool_call_id=call["id"]))

    run_agent = RunnableLambda(agent).with_config(run_name="agent")
    RunnableLambda(lambda q: [run_agent.invoke(q) for _ in range(3)]).with_config(run_name="session").invoke(
        "What is the weather in Paris?")
    LangChainInstrumentor().uninstrument()
    request = encode_spans(exporter.get_finished_spans())
    return list(request.resource_spans[0].scope_spans[0].spans)


def small_template() -> list[Any]:
    from opentelemetry.proto.trace.v1.trace_pb2 import Span

    spans = []
    kinds = ["CHAIN"] + ["LLM", "TOOL", "RETRIEVER"] * 3
    for index, kind in enumerate(kinds):
        span = Span(span_id=(index + 1).to_bytes(8, "big"), name=f"{kind.lower()}-{index}", kind=1,
                    start_time_unix_nano=1_700_000_000_000_000_000 + index * 1_000_000,
                    end_time_unix_nano=1_700_000_000_000_000_000 + index * 1_000_000 + 500_000)
        if index:
            span.parent_span_id = (1).to_bytes(8, "big")
        attrs = {"openinference.span.kind": kind, "input.value": f"question {index}"}
        if kind == "LLM":
            attrs.update({"llm.model_name": "gpt-4o-mini", "llm.provider": "openai",
                          "llm.token_count.prompt": 120, "llm.token_count.completion": 30})
        elif kind == "TOOL":
            attrs.update({"tool.name": "weather", "output.value": "21 degrees"})
        for key, value in attrs.items():
            item = span.attributes.add()
            item.key = key
            if isinstance(value, int):
                item.value.int_value = value
            else:
                item.value.string_value = value
        spans.append(span)
    return spans


def bodies(payload: str, sender: int, round_index: int, requests: int) -> tuple[list[bytes], int, int]:
    """``requests`` protobuf request bodies of BATCH spans each; (bodies, spans, traces)."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    template = langchain_template() if payload == "langchain" else small_template()
    per_trace = len(template)
    out, trace_index, position = [], 0, 0
    for _ in range(requests):
        request = ExportTraceServiceRequest()
        group = request.resource_spans.add()
        service = group.resource.attributes.add()
        service.key, service.value.string_value = "service.name", f"bench-sender-{sender}"
        scope = group.scope_spans.add()
        scope.scope.name = "openinference.instrumentation.langchain"
        spans = scope.spans
        for _ in range(BATCH):
            source = template[position]
            span = spans.add()
            span.CopyFrom(source)
            # (round, sender, trace) in the trace id: every span of every round is new to the store
            span.trace_id = ((round_index + 1) << 96 | (sender + 1) << 80 | trace_index + 1).to_bytes(16, "big")
            position += 1
            if position == per_trace:
                position, trace_index = 0, trace_index + 1
        out.append(request.SerializeToString())
    traces = trace_index + (1 if position else 0)
    return out, requests * BATCH, traces


# -- processes -------------------------------------------------------------------------------------
class Sender:
    """Posts prepared bodies over one keep-alive connection, as an SDK exporter does (503 → Retry-After)."""

    def __init__(self, workdir: Path) -> None:
        self.bodies: list[bytes] = []

    def prepare(self, payload: str, sender: int, round_index: int, requests: int) -> dict[str, Any]:
        self.bodies, spans, traces = bodies(payload, sender, round_index, requests)
        return {"spans": spans, "traces": traces, "bytes": sum(len(b) for b in self.bodies)}

    def send(self, port: int, token: str, start_at: float) -> dict[str, Any]:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

        headers = {**PROTOBUF, "Authorization": f"Bearer {token}"}
        time.sleep(max(0.0, start_at - time.monotonic()))
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        busy, rejected, failed = 0, 0, {}
        for body in self.bodies:
            while True:
                connection.request("POST", "/v1/traces", body=body, headers=headers)
                response = connection.getresponse()
                answer = response.read()
                if response.status != 503:
                    break
                busy += 1
                time.sleep(float(response.getheader("Retry-After") or 1))
            if response.status == 200:
                rejected += ExportTraceServiceResponse.FromString(answer).partial_success.rejected_spans
            else:
                failed[str(response.status)] = failed.get(str(response.status), 0) + 1
        done = time.monotonic()
        connection.close()
        return {"done": done, "busy": busy, "rejected": rejected, "failed": failed}


class Receiver:
    """The kernel's side: ``llmops_nb.receive()`` writing to a DuckDB file."""

    def __init__(self, workdir: Path) -> None:
        import llmops_nb

        llmops_nb.configure(db=str(workdir / "receiver.duckdb"))
        self.llmops_nb = llmops_nb
        self.receiver = llmops_nb.receive(set_env=False)
        llmops_nb.sql("SELECT 1")  # the store exists and DuckDB is loaded before the clock starts

    def info(self) -> dict[str, Any]:
        return {"port": self.receiver.port, "token": self.receiver.token}

    def mark(self) -> dict[str, Any]:
        self.cpu = time.process_time()
        self.threads = _thread_cpu()
        return {"spans": self._count()}

    def persisted(self, wait: float) -> dict[str, Any]:
        ok = self.llmops_nb.flush(wait)
        done = time.monotonic()
        from llmops_nb.store._recorder import recorder

        threads = _thread_cpu()
        by_role = {role: seconds - self.threads.get(role, 0.0) for role, seconds in threads.items()}
        return {"done": done, "ok": ok, "spans": self._count(), "cpu_s": time.process_time() - self.cpu,
                "threads_cpu_s": by_role, "status": self.receiver.status(), "dropped": recorder.dropped_total}

    def _count(self) -> int:
        return int(self.llmops_nb.sql("SELECT count(*) AS n FROM spans")["n"][0])


def _thread_cpu() -> dict[str, float]:
    """CPU seconds used so far by this process's threads, by role: HTTP handlers, our writer, DuckDB…"""
    import os

    names = {thread.native_id: thread.name for thread in threading.enumerate()}
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[str, float] = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            fields = Path(f"/proc/self/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the thread ended
            continue
        name = names.get(int(tid), "other (DuckDB's threads)")
        role = "http handlers" if "process_request" in name else name
        out[role] = out.get(role, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return out


class Collector:
    """A local OTLP endpoint that counts what it receives (parsing each request) and keeps nothing."""

    def __init__(self, workdir: Path) -> None:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
            ExportTraceServiceResponse,
        )

        owner = self
        self.spans = 0
        self.lock = threading.Lock()
        answer = ExportTraceServiceResponse().SerializeToString()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # the name http.server dispatches to
                import gzip

                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                count = sum(len(scope.spans) for group in ExportTraceServiceRequest.FromString(body).resource_spans
                            for scope in group.scope_spans)
                with owner.lock:
                    owner.spans += count
                self.send_response(200)
                self.send_header("Content-Type", PROTOBUF["Content-Type"])
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:  # http.server's signature
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def info(self) -> dict[str, Any]:
        return {"endpoint": f"http://127.0.0.1:{self.server.server_address[1]}/v1/traces", "spans": self.spans}

    def close(self) -> None:
        self.server.shutdown()


class Exporter:
    """A store filled with LangChain traces; ``export`` sends all of them with ``llmops_nb.export_otlp``."""

    def __init__(self, workdir: Path) -> None:
        import llmops_nb

        llmops_nb.configure(db=str(workdir / "export.duckdb"))
        self.llmops_nb = llmops_nb

    def fill(self, requests: int) -> dict[str, Any]:
        from llmops_nb._config import settings
        from llmops_nb.otel._convert import to_record
        from llmops_nb.otel._otlp_decode import decode_protobuf
        from llmops_nb.tracing import _sink

        for body in bodies("langchain", 0, 0, requests)[0]:
            for span in decode_protobuf(body):
                _sink.emit(to_record(span, settings.max_payload_chars))
        self.llmops_nb.flush(300)
        frame = self.llmops_nb.sql("SELECT count(*) AS spans, count(DISTINCT trace_id) AS traces FROM spans")
        return {"spans": int(frame["spans"][0]), "traces": int(frame["traces"][0])}

    def export(self, endpoint: str) -> dict[str, Any]:
        cpu, start = time.process_time(), time.perf_counter()
        result = self.llmops_nb.export_otlp(None, endpoint=endpoint, headers={})
        return {"seconds": time.perf_counter() - start, "cpu_s": time.process_time() - cpu, **result}


CONTENDERS = {"sender": Sender, "receiver": Receiver, "collector": Collector, "exporter": Exporter}
