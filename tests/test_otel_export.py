"""OTLP export to a real MLflow tracking server (read back through MLflow's API), the live forwarder, import."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import pytest

pytest.importorskip("opentelemetry.proto")

import llmops_nb
from llmops_nb.otel import _forward
from tests.otlp_sink import _Sink, decoded_spans


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    pytest.importorskip("mlflow")
    home = tmp_path_factory.mktemp("mlflow")
    port = free_port()
    env = dict(os.environ, MLFLOW_TRACKING_URI="", PYTHONWARNINGS="ignore")
    log = open(home / "server.log", "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--backend-store-uri", f"sqlite:///{home / 'mlflow.db'}", "--default-artifact-root", str(home / "art")],
        stdout=subprocess.DEVNULL, stderr=log, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    import urllib.request

    while True:
        try:
            urllib.request.urlopen(f"{url}/health", timeout=2).read()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                os.killpg(process.pid, 9)
                log.close()
                pytest.fail(f"mlflow server did not start: {(home / 'server.log').read_text()[-2000:]}")
            time.sleep(0.5)
    yield url
    os.killpg(process.pid, 15)
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, 9)
        process.wait(10)
    log.close()


def record_a_trace():
    @llmops_nb.trace(kind="TOOL")
    def weather(city):
        return {"city": city, "temp_c": 21}

    with llmops_nb.span("agent", kind="AGENT") as root:
        root.set_inputs({"question": "Weather in Paris?", "api_key": "sk-proj-abcdefghijklmnopqrstuvwx"})
        with llmops_nb.span("llm", kind="CHAT_MODEL") as llm:
            llm.set_inputs({"messages": [{"role": "user", "content": "Weather in Paris?"}]})
            llm.set_attributes({"gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 12,
                                "gen_ai.usage.output_tokens": 3})
            llm.set_outputs({"content": "calling weather"})
        weather("Paris")
        try:
            with llmops_nb.span("failing", kind="TOOL"):
                raise ValueError("boom")
        except ValueError:
            pass
        root.set_outputs("21 degrees")
    llmops_nb.flush()
    return root.trace_id


@pytest.mark.mlflow_server
def test_export_to_mlflow_reads_back_equal(mlflow_server):
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=mlflow_server)
    experiment = client.create_experiment("llmops_nb-export")
    trace_id = record_a_trace()
    result = llmops_nb.export_otlp(trace_id, endpoint=f"{mlflow_server}/v1/traces",
                                   headers={"x-mlflow-experiment-id": experiment})
    assert result["spans"] == 4 and result["traces"] == 1
    deadline = time.monotonic() + 30
    while True:
        found = client.search_traces(locations=[experiment])
        if found or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert len(found) == 1
    trace = found[0]
    assert trace.info.trace_id == f"tr-{trace_id}"
    ours = {r["name"]: r for _, r in llmops_nb.spans(trace_id).iterrows()}
    theirs = {s.name: s for s in trace.data.spans}
    assert set(theirs) == set(ours)
    for name, span in theirs.items():
        assert span.span_type == ours[name]["kind"], name
        parent = ours[name]["parent_span_id"]
        assert span.parent_id == (parent if isinstance(parent, str) else None), name
        assert span.inputs == ours[name]["inputs"], name
        assert span.outputs == ours[name]["outputs"], name
    assert theirs["agent"].inputs["api_key"] == "[redacted]"  # the store's redacted value is what leaves
    assert theirs["llm"].attributes["gen_ai.usage.input_tokens"] == 12
    assert theirs["failing"].status.status_code.value == "ERROR"
    assert any(e.name == "exception" for e in theirs["failing"].events)

    # and back: import from the MLflow server into a fresh store gives the same tree
    llmops_nb.configure(db=str(llmops_nb._config.settings.db_path().with_name("imported.duckdb")))
    counts = llmops_nb.import_traces(mlflow_server, experiment_ids=[experiment])
    assert counts == {"traces": 1, "spans": 4, "skipped_existing": 0, "rejected": {}}
    again = {r["name"]: r for _, r in llmops_nb.spans(trace_id).iterrows()}
    for name in ours:
        assert again[name]["kind"] == ours[name]["kind"] and again[name]["inputs"] == ours[name]["inputs"]
        assert again[name]["span_id"] == ours[name]["span_id"]
    assert again["llm"]["input_tokens"] == 12
    assert llmops_nb.import_traces(client.search_traces(locations=[experiment]))["skipped_existing"] == 4


def test_live_forwarder_sends_redacted_spans_and_survives_a_down_backend(collector):
    _Sink.fail = 2  # the backend is down for two attempts: the batch waits and is retried
    llmops_nb.configure(otlp_endpoint=f"http://127.0.0.1:{collector.server_address[1]}",
                        otlp_headers="x-team=a%20b")
    try:
        trace_id = record_a_trace()
        deadline = time.monotonic() + 20
        while len(decoded_spans()) < 4 and time.monotonic() < deadline:
            _forward.flush(1.0)
        spans = {s.name: s for s in decoded_spans()}
        assert set(spans) == {"agent", "llm", "weather", "failing"}
        assert f"{spans['agent'].trace_id:032x}" == trace_id
        assert "sk-proj-abcdefghijklmnopqrstuvwx" not in repr([b for b, _ in _Sink.bodies])
        assert json.loads(spans["agent"].attributes["mlflow.spanInputs"])["api_key"] == "[redacted]"
        assert spans["llm"].attributes["mlflow.spanType"] == '"CHAT_MODEL"'
        assert spans["llm"].attributes["openinference.span.kind"] == "LLM"
        assert spans["llm"].attributes["llm.token_count.prompt"] == 12
        assert _Sink.bodies[0][1]["x-team"] == "a b"
        status = llmops_nb.status()["otel"]["forwarder"]
        assert status["sent"] == 4 and status["dropped"] == 0 and status["failed_attempts"] == 2
    finally:
        llmops_nb.configure(otlp_endpoint=None)
    assert llmops_nb.status()["otel"]["forwarder"] == {"running": False}


def test_forwarder_backlog_is_bounded_and_counted(collector):
    _Sink.fail = 10**6
    llmops_nb.configure(otlp_endpoint=f"http://127.0.0.1:{collector.server_address[1]}/v1/traces")
    try:
        forwarder = _forward._active[0]
        forwarder.max_backlog = 100
        started = time.perf_counter()
        for _ in range(1000):
            with llmops_nb.span("s"):
                pass
        assert time.perf_counter() - started < 2.0  # the user's code never waits for the backend
        assert forwarder.dropped >= 1000 - 100 - 512
        llmops_nb.flush()
        assert llmops_nb.traces(limit=None)["trace_id"].nunique() == 1000  # the store still has every span
    finally:
        _Sink.fail = 0
        llmops_nb.configure(otlp_endpoint=None)


def test_import_otlp_json_file_and_jsonl(tmp_path):
    document = {"resourceSpans": [{"resource": {"attributes": [{"key": "service.name",
                                                                 "value": {"stringValue": "phoenix-app"}}]},
                                   "scopeSpans": [{"scope": {"name": "x"}, "spans": [
                                       {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174",
                                        "name": "rag", "startTimeUnixNano": "1700000000000000000",
                                        "endTimeUnixNano": "1700000002000000000",
                                        "attributes": [{"key": "openinference.span.kind",
                                                        "value": {"stringValue": "CHAIN"}}]},
                                       {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b175",
                                        "parentSpanId": "eee19b7ec3c1b174", "name": "retrieve",
                                        "startTimeUnixNano": "1700000000100000000",
                                        "endTimeUnixNano": "1700000000200000000",
                                        "attributes": [
                                            {"key": "openinference.span.kind", "value": {"stringValue": "RETRIEVER"}},
                                            {"key": "retrieval.documents.0.document.content",
                                             "value": {"stringValue": "Paris is in France"}},
                                            {"key": "retrieval.documents.0.document.score",
                                             "value": {"doubleValue": 0.9}}]}]}]}]}
    single = tmp_path / "trace.json"
    single.write_text(json.dumps(document))
    assert llmops_nb.import_traces(single)["spans"] == 2
    assert llmops_nb.import_traces(single)["skipped_existing"] == 2  # nothing stored twice
    lines = tmp_path / "traces.jsonl"
    other = json.loads(json.dumps(document).replace("5b8efff798038103d269b633813fc60c",
                                                    "5b8efff798038103d269b633813fc60d"))
    lines.write_text(json.dumps(document) + "\n" + json.dumps(other) + "\n")
    assert llmops_nb.import_traces(lines) == {"traces": 1, "spans": 2, "skipped_existing": 2, "rejected": {}}
    spans = llmops_nb.spans("5b8efff798038103d269b633813fc60c")
    retriever = spans[spans["name"] == "retrieve"].iloc[0]
    assert retriever["kind"] == "RETRIEVER"
    assert retriever["outputs"] == [{"content": "Paris is in France", "score": 0.9}]
    assert retriever["attributes"]["service.name"] == "phoenix-app"
    with pytest.raises(FileNotFoundError, match="OTLP-JSON"):
        llmops_nb.import_traces(tmp_path / "missing.json")


def test_export_needs_an_endpoint(monkeypatch):
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    with pytest.raises(ValueError, match="OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        llmops_nb.export_otlp("0" * 32)
    with pytest.raises(ValueError, match="http"):
        llmops_nb.configure(otlp_endpoint="ftp://x")


def test_imported_llm_spans_around_llm_spans_count_once_in_any_order(tmp_path):
    # Three LLM spans of one request (framework, its wrapper, the client with the usage), listed
    # outermost first, as files often are: the one nearest the wire counts.
    def llm(span, parent, name, tokens=None):
        attributes = [{"key": "openinference.span.kind", "value": {"stringValue": "LLM"}},
                      {"key": "llm.model_name", "value": {"stringValue": "gpt-4o-mini"}}]
        if tokens:
            attributes.append({"key": "llm.token_count.prompt", "value": {"intValue": str(tokens)}})
        return {"traceId": "7b8efff798038103d269b633813fc60c", "spanId": span, "parentSpanId": parent,
                "name": name, "startTimeUnixNano": "1700000000000000000",
                "endTimeUnixNano": "1700000001000000000", "attributes": attributes}

    spans = [llm("a000000000000001", "", "agent_llm"), llm("a000000000000002", "a000000000000001", "ChatOpenAI"),
             llm("a000000000000003", "a000000000000002", "ChatCompletion", tokens=12)]
    document = {"resourceSpans": [{"resource": {}, "scopeSpans": [{"scope": {"name": "x"}, "spans": spans}]}]}
    path = tmp_path / "nested.json"
    path.write_text(json.dumps(document))
    assert llmops_nb.import_traces(path)["spans"] == 3
    trace = llmops_nb.traces().iloc[0]
    assert trace["llm_calls"] == 1 and trace["input_tokens"] == 12
    kinds = llmops_nb.spans(trace["trace_id"]).set_index("name")["kind"].to_dict()
    assert kinds == {"agent_llm": "CHAIN", "ChatOpenAI": "CHAIN", "ChatCompletion": "LLM"}
