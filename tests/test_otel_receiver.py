"""The OTLP receiver: a real OTel SDK + OTLP/HTTP exporter in a subprocess, and bad input of every kind."""

from __future__ import annotations

import gzip
import http.client
import json
import subprocess
import sys
import threading
import time

import pytest

pytest.importorskip("opentelemetry.proto")

import llmops_nb
from llmops_nb.otel import _receiver
from tests.support import subprocess_env


@pytest.fixture
def receiver():
    r = llmops_nb.receive()
    yield r
    _receiver.stop_receiving()


CHILD = """
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
provider = TracerProvider()
provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))  # configured by the environment only
tracer = provider.get_tracer("child-app")
for i in range(N):
    with tracer.start_as_current_span("request", attributes={"openinference.span.kind": "CHAIN",
                                                              "input.value": f"question {i}"}):
        with tracer.start_as_current_span("llm", attributes={
                "openinference.span.kind": "LLM", "llm.model_name": "gpt-4o-mini", "llm.provider": "openai",
                "llm.token_count.prompt": 10, "llm.token_count.completion": 5}):
            pass
provider.shutdown()
"""


def post(receiver, body: bytes, *, content_type="application/x-protobuf", token=None, path="/v1/traces",
         headers=None):
    connection = http.client.HTTPConnection("127.0.0.1", receiver.port, timeout=30)
    sent = {"Content-Type": content_type, "Authorization": f"Bearer {token or receiver.token}", **(headers or {})}
    connection.request("POST", path, body=body, headers=sent)
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response.status, data


def otlp_json(spans, resource=None):
    return json.dumps({"resourceSpans": [{"resource": {"attributes": resource or []},
                                          "scopeSpans": [{"scope": {"name": "t"}, "spans": spans}]}]}).encode()


def span_json(trace="0af7651916cd43dd8448eb211c80319c", span="b7ad6b7169203331", parent="", **extra):
    return {"traceId": trace, "spanId": span, "parentSpanId": parent, "name": extra.pop("name", "s"),
            "kind": 1, "startTimeUnixNano": "1700000000000000000", "endTimeUnixNano": "1700000001000000000",
            **extra}


def test_a_subprocess_sends_through_the_environment(receiver, store_path):
    env = subprocess_env(store_path)
    assert env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] == receiver.endpoint
    subprocess.run([sys.executable, "-c", CHILD.replace("N", "50")], env=env, check=True, timeout=120)
    llmops_nb.flush()
    frame = llmops_nb.traces(limit=None)
    assert len(frame) == 50 and set(frame["name"]) == {"request"}
    assert (frame["span_count"] == 2).all() and (frame["llm_calls"] == 1).all()
    assert frame["input_tokens"].sum() == 500 and frame["cost_usd"].sum() > 0
    spans = llmops_nb.spans(frame.iloc[0]["trace_id"])
    llm = spans[spans["name"] == "llm"].iloc[0]
    assert llm["kind"] == "LLM" and llm["model"] == "gpt-4o-mini"
    assert llm["parent_span_id"] == spans[spans["name"] == "request"].iloc[0]["span_id"]
    assert llm["attributes"]["otel.scope.name"] == "child-app"
    status = llmops_nb.status()["otel"]["receiver"]
    assert status["spans_received"] == 100 and status["rejected_requests"] == {}


NESTED_LLMS = """
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
provider = TracerProvider()
provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
tracer = provider.get_tracer("served-app")
# A served LangChain app with the OpenInference openai instrumentor too: the framework's LLM span
# and, right under it, the client's span of the same request (with its usage); above both, a
# wrapper that also calls itself an LLM.
with tracer.start_as_current_span("agent_llm", attributes={"openinference.span.kind": "LLM"}):
    with tracer.start_as_current_span("ChatOpenAI", attributes={"openinference.span.kind": "LLM",
                                                                "llm.model_name": "gpt-4o-mini"}):
        with tracer.start_as_current_span("ChatCompletion", attributes={
                "openinference.span.kind": "LLM", "llm.model_name": "gpt-4o-mini", "llm.provider": "openai",
                "llm.token_count.prompt": 10, "llm.token_count.completion": 5}):
            pass
provider.shutdown()
"""


def test_an_llm_span_around_another_from_another_process_counts_once(receiver, store_path):
    subprocess.run([sys.executable, "-c", NESTED_LLMS], env=subprocess_env(store_path), check=True, timeout=120)
    llmops_nb.flush()
    trace = llmops_nb.traces().iloc[0]
    assert trace["llm_calls"] == 1 and trace["input_tokens"] == 10
    spans = llmops_nb.spans(trace["trace_id"]).set_index("name")
    assert spans["kind"].to_dict() == {"agent_llm": "CHAIN", "ChatOpenAI": "CHAIN", "ChatCompletion": "LLM"}
    assert spans.loc["ChatOpenAI", "attributes"]["gen_ai.response.model"] == "gpt-4o-mini"  # what it said is kept


def test_every_route_wants_the_token(receiver):
    assert post(receiver, b"", token="wrong")[0] == 401
    assert post(receiver, b"", path="/v1/metrics")[0] == 404
    connection = http.client.HTTPConnection("127.0.0.1", receiver.port, timeout=10)
    connection.request("GET", "/")
    assert connection.getresponse().status == 401
    rejected = llmops_nb.status()["otel"]["receiver"]["rejected_requests"]
    assert rejected == {"unauthorized": 2, "not found": 1}


def test_json_gzip_and_malformed(receiver):
    body = otlp_json([span_json(attributes=[{"key": "openinference.span.kind", "value": {"stringValue": "TOOL"}}])])
    assert post(receiver, gzip.compress(body), content_type="application/json",
                headers={"Content-Encoding": "gzip"})[0] == 200
    assert post(receiver, b"{not json", content_type="application/json")[0] == 400
    assert post(receiver, b"\xff\x00garbage\x12", content_type="application/x-protobuf")[0] == 400
    assert post(receiver, b"x", content_type="text/plain")[0] == 415
    assert post(receiver, b"not gzip", content_type="application/json", headers={"Content-Encoding": "gzip"})[0] == 400
    llmops_nb.flush()
    assert llmops_nb.sql("SELECT kind FROM spans")["kind"].tolist() == ["TOOL"]
    rejected = llmops_nb.status()["otel"]["receiver"]["rejected_requests"]
    assert rejected == {"malformed": 2, "unsupported media type": 1, "bad gzip": 1}


def test_size_cap_before_and_after_gzip(store_path):
    r = llmops_nb.receive(max_request_bytes=1000)
    try:
        assert post(r, b"x" * 2000, content_type="application/json")[0] == 413
        bomb = gzip.compress(b" " * 100_000)
        assert len(bomb) < 1000
        assert post(r, bomb, content_type="application/json", headers={"Content-Encoding": "gzip"})[0] == 413
        assert r.status()["rejected_requests"] == {"too large": 2}
    finally:
        _receiver.stop_receiving()


def test_bad_spans_are_stored_safely_or_rejected_with_a_reason(receiver):
    every_type = [
        {"key": "s", "value": {"stringValue": "text"}}, {"key": "b", "value": {"boolValue": True}},
        {"key": "i", "value": {"intValue": "9223372036854775807"}}, {"key": "d", "value": {"doubleValue": 1.5}},
        {"key": "nan", "value": {"doubleValue": "NaN"}},
        {"key": "a", "value": {"arrayValue": {"values": [{"intValue": "1"}, {"stringValue": "x"}]}}},
        {"key": "kv", "value": {"kvlistValue": {"values": [{"key": "k", "value": {"boolValue": False}}]}}},
        {"key": "bytes", "value": {"bytesValue": "AAEC"}}, {"key": "empty", "value": {}},
    ]
    spans = [
        span_json(span="0000000000000001", parent="00000000000000ff", name="orphan"),  # missing parent
        span_json(span="0000000000000002", name="future", startTimeUnixNano="4102444800000000000",
                  endTimeUnixNano="4102444801000000000"),
        span_json(span="0000000000000003", name="before 1970", startTimeUnixNano="-5", endTimeUnixNano="-1"),
        span_json(span="0000000000000004", name="ends before it starts", startTimeUnixNano="20",
                  endTimeUnixNano="10"),
        span_json(span="0000000000000005", name="types", attributes=every_type),
        span_json(span="0000000000000006", name="many", attributes=[
            {"key": f"k{i}", "value": {"intValue": str(i)}} for i in range(10_000)]),
        span_json(span="0000000000000007", name="\udcff bad \u0000 text"),
        span_json(span="0000000000000001", name="duplicate"),
        span_json(trace="00000000000000000000000000000000", span="0000000000000008", name="zero trace id"),
        span_json(span="xyz", name="bad span id"),
    ]
    status, data = post(receiver, otlp_json(spans), content_type="application/json")
    assert status == 200
    answer = json.loads(data)["partialSuccess"]
    assert answer["rejectedSpans"] == 3
    llmops_nb.flush()
    rows = {r["name"]: r for _, r in llmops_nb.sql("SELECT * FROM spans").iterrows()}
    assert len(rows) == 7 and "duplicate" not in rows
    assert rows["orphan"]["parent_span_id"] == "00000000000000ff"
    assert rows["future"]["start_ns"] == 4102444800000000000
    fixed = json.loads(rows["before 1970"]["attributes"])["llmops_nb.otel.fixed_times"]
    assert fixed == {"start_ns": "-5", "end_ns": "-1"} and rows["before 1970"]["start_ns"] > 0
    assert rows["ends before it starts"]["end_ns"] == rows["ends before it starts"]["start_ns"]
    types = json.loads(rows["types"]["attributes"])
    assert types["i"] == 9223372036854775807 and types["a"] == [1, "x"] and types["kv"] == {"k": False}
    assert types["nan"] == "nan" and types["b"] is True
    many = json.loads(rows["many"]["attributes"])
    assert len(rows["many"]["attributes"]) <= 200_000 + 100 and ("k0" in many or "llmops_nb.truncated" in many
                                                                  or isinstance(many, (dict, str)))
    rejected = receiver.status()["rejected_spans"]
    assert rejected == {"duplicate span id": 1, "invalid trace id": 1, "invalid span id": 1}


def test_a_50_mb_value_is_capped(receiver):
    big = "x" * (50 << 20)
    spans = [span_json(attributes=[{"key": "input.value", "value": {"stringValue": big}}])]
    assert post(receiver, otlp_json(spans), content_type="application/json")[0] == 200
    llmops_nb.flush()
    row = llmops_nb.sql("SELECT inputs, attributes FROM spans").iloc[0]
    assert len(row["inputs"]) < 300_000
    assert json.loads(row["attributes"])["llmops_nb.truncated"]["inputs"]["original_chars"] >= 50 << 20


@pytest.mark.slow
def test_a_flood_of_10k_requests_keeps_the_kernel_responsive(receiver):
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    def body(sender, i):
        request = ExportTraceServiceRequest()
        span = request.resource_spans.add().scope_spans.add().spans.add()
        span.trace_id = (sender * 100_000 + i + 1).to_bytes(16, "big")
        span.span_id = (i + 1).to_bytes(8, "big")
        span.name = "flood"
        span.start_time_unix_nano, span.end_time_unix_nano = 1_700_000_000_000_000_000, 1_700_000_000_100_000_000
        return request.SerializeToString()

    answers: list[int] = []

    def sender(n):
        connection = http.client.HTTPConnection("127.0.0.1", receiver.port, timeout=60)
        for i in range(2500):
            payload = body(n, i if i % 100 else 0)  # every 100th request repeats one span: a retry
            connection.request("POST", "/v1/traces", body=payload, headers={
                "Content-Type": "application/x-protobuf", "Authorization": f"Bearer {receiver.token}"})
            response = connection.getresponse()
            response.read()
            answers.append(response.status)
        connection.close()

    threads = [threading.Thread(target=sender, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    # the main thread (the kernel's) keeps answering while the flood is handled
    worst = 0.0
    while any(t.is_alive() for t in threads):
        started = time.perf_counter()
        time.sleep(0.01)
        worst = max(worst, time.perf_counter() - started)
    for t in threads:
        t.join()
    assert answers.count(200) == 10_000
    assert worst < 1.0
    llmops_nb.flush()
    stored = llmops_nb.sql("SELECT count(*) AS n, count(DISTINCT trace_id || span_id) AS d FROM spans").iloc[0]
    assert stored["n"] == stored["d"] == 4 * (2500 - 24)
    assert receiver.status()["rejected_spans"] == {"duplicate span id": 4 * 24}
