"""The widgets' request/response protocol on a real DuckDB file written by llmops_nb's own tracing:
every method answered, every failure settled as ``ok: false``, slow handlers off the caller's thread."""

from __future__ import annotations

import json
import logging
import threading
import time

import openai
import pytest

import llmops_nb
from llmops_nb.widgets import _rpc
from llmops_nb.widgets.explorer import _data
from llmops_nb.widgets.explorer._widget import explorer_methods
from tests.fakes import FakeLLMServer, Reply, ToolCall, Usage

XSS = ['<img src=x onerror="alert(1)">', "<script>alert(2)</script>", "javascript:alert(3)"]


class Kernel:
    """Stands in for the comm: collects responses, serialized as the comm would (JSON, no NaN)."""

    def __init__(self, methods=explorer_methods):
        self.responses: dict = {}
        self.arrived = threading.Condition()
        self.server = _rpc.RpcServer(methods, self.send)

    def send(self, message):
        json.dumps(message, allow_nan=False)  # what cannot cross the wire must fail here, as in ipykernel
        with self.arrived:
            self.responses[message["id"]] = message
            self.arrived.notify_all()

    def ask(self, method, params=None, req_id=None, timeout=10.0):
        req_id = req_id if req_id is not None else f"r{len(self.responses)}-{time.monotonic_ns()}"
        self.server.handle({"type": "request", "id": req_id, "method": method, "params": params})
        return self.wait(req_id, timeout)

    def wait(self, req_id, timeout=10.0):
        with self.arrived:
            assert self.arrived.wait_for(lambda: req_id in self.responses, timeout), f"no response to {req_id}"
            return self.responses[req_id]


@pytest.fixture
def kernel():
    return Kernel()


@pytest.fixture
def trace():
    """An agent trace: an LLM call through the real openai SDK (fake server), a tool, a retriever,
    a failing step and hostile strings."""
    llmops_nb.autolog()
    try:
        with FakeLLMServer() as server, openai.OpenAI(api_key="sk-test", base_url=server.openai_base_url,
                                                       max_retries=0) as sdk:
            server.enqueue(Reply(tool_calls=[ToolCall("get_weather", {"city": "Paris"})],
                                 usage=Usage(input_tokens=30, output_tokens=7)))
            with llmops_nb.span("agent", kind="AGENT") as root:
                root.set_inputs({"question": "Weather in Paris? 100% sure_thing"})
                sdk.chat.completions.create(model="gpt-4o", messages=[
                    {"role": "system", "content": "be brief"}, {"role": "user", "content": 'say "hi"\nplease'}])
                with llmops_nb.span(XSS[0], kind="TOOL") as tool:
                    tool.set_inputs({"html": XSS[1], "link": XSS[2]})
                    tool.set_outputs({"temp_c": 21})
                with llmops_nb.span("retrieve", kind="RETRIEVER") as ret:
                    ret.set_outputs([{"id": "d1", "page_content": "Paris is sunny", "score": 0.9}])
                with pytest.raises(ValueError), llmops_nb.span("step", kind="CHAIN"):
                    raise ValueError("boom in step")
    finally:
        llmops_nb.autolog(disable=True)
    llmops_nb.flush()
    return root.trace_id


def column(skeleton, name):
    """A skeleton column as a plain list, whichever encoding the kernel chose for it."""
    col = skeleton["spans"][name]
    if isinstance(col, dict) and "codes" in col:
        return [col["values"][c] for c in col["codes"]]
    if isinstance(col, dict):
        dense = [None] * skeleton["spans"]["count"]
        for i, value in zip(col["at"], col["values"], strict=True):
            dense[i] = value
        return dense
    return col


def test_skeleton_is_columnar_light_and_ordered(kernel, trace):
    answer = kernel.ask("skeleton", {"trace_id": trace})
    assert answer["ok"] is True and answer["type"] == "response"
    data = answer["data"]
    spans = data["spans"]
    names = column(data, "name")
    assert spans["count"] == 5 == len(spans["span_id"]) == len(spans["parent"])
    assert names[0] == "agent" and spans["parent"][0] == -1
    assert set(names) == {"agent", "openai.chat.completions.create", XSS[0], "retrieve", "step"}
    assert all(p == 0 for p in spans["parent"][1:])
    assert column(data, "kind") == ["AGENT", "CHAT_MODEL", "TOOL", "RETRIEVER", "CHAIN"]
    assert column(data, "status")[4] == "ERROR"
    llm = names.index("openai.chat.completions.create")
    assert column(data, "model")[llm] == "gpt-4o"
    assert column(data, "input_tokens")[llm] == 30 and column(data, "output_tokens")[llm] == 7
    assert column(data, "cost_usd")[llm] > 0 and column(data, "cost_usd")[0] is None
    assert spans["input_tokens"] == {"at": [llm], "values": [30]}  # sparse: one LLM span in five
    assert spans["start_ms"] == sorted(spans["start_ms"]) and spans["start_ms"][0] == 0
    assert all(d >= 0 for d in spans["duration_ms"])
    assert data["trace"]["name"] == "agent" and data["trace"]["span_count"] == 5
    assert data["trace"]["error_count"] == 1 and data["trace"]["input_tokens"] == 30
    # light: no payloads anywhere in it
    assert "boom in step" not in json.dumps(data) and "be brief" not in json.dumps(data)


def test_span_returns_parsed_payloads(kernel, trace):
    skeleton = kernel.ask("skeleton", {"trace_id": trace})["data"]
    ids = dict(zip(column(skeleton, "name"), skeleton["spans"]["span_id"], strict=True))
    llm = kernel.ask("span", {"trace_id": trace, "span_id": ids["openai.chat.completions.create"]})["data"]
    assert llm["inputs"]["messages"][1] == {"role": "user", "content": 'say "hi"\nplease'}
    call = llm["outputs"]["choices"][0]["message"]["tool_calls"][0]
    assert call["function"]["name"] == "get_weather"
    assert llm["attributes"]["gen_ai.usage.input_tokens"] == 30
    assert llm["truncated"] == {} and llm["cap_chars"] == _data.FIELD_CAP_CHARS
    # the conversation comes read, ready to render: the browser parses no provider shape
    said = llm["messages"]["input"][1]
    assert said == {"role": "user", "name": None, "parts": [{"type": "text", "text": 'say "hi"\nplease'}]}
    (answer,) = llm["messages"]["output"]
    assert answer["role"] == "assistant" and answer["parts"][-1]["type"] == "tool_call"
    assert answer["parts"][-1]["name"] == "get_weather"
    step = kernel.ask("span", {"trace_id": trace, "span_id": ids["step"]})["data"]
    assert step["status"] == "ERROR" and step["error"]["type"] == "ValueError"
    assert "boom in step" in step["error"]["traceback"]
    assert step["events"][0]["name"] == "exception"
    assert step["messages"] is None  # a chain's payloads are not a conversation
    # hostile strings are data, passed through unchanged (the JS tests assert they render as text)
    tool = kernel.ask("span", {"trace_id": trace, "span_id": ids[XSS[0]]})["data"]
    assert tool["name"] == XSS[0] and tool["inputs"] == {"html": XSS[1], "link": XSS[2]}


def test_span_payload_over_the_cap_is_cut_and_says_so(trace):
    skeleton = _data.skeleton(trace)
    ids = dict(zip(column(skeleton, "name"), skeleton["spans"]["span_id"], strict=True))
    data = _data.span(trace, ids["openai.chat.completions.create"], cap_chars=40)
    assert isinstance(data["inputs"], str) and len(data["inputs"]) == 40
    assert data["truncated"]["inputs"]["cap_chars"] == 40
    assert data["truncated"]["inputs"]["original_chars"] > 40
    assert data["cap_chars"] == 40


@pytest.mark.parametrize(("text", "expected"), [
    ("AGENT", {"agent"}),  # name, case-insensitive
    ("paris", {"agent", "retrieve", "openai.chat.completions.create"}),  # inputs, outputs, attributes
    ("boom IN", {"step"}),  # error
    ("<script>", {XSS[0]}),
    ('say "hi"\nplease', {"openai.chat.completions.create"}),  # stored JSON-escaped
    ("100%", {"agent"}),  # % is literal, not a wildcard
    ("re_th", {"agent"}),
    ("100_", set()),  # _ is literal too: as a wildcard it would match "100%"
    ("%", {"agent"}),
    ("nothing like this", set()),
    ("   ", set()),
])
def test_search(kernel, trace, text, expected):
    skeleton = kernel.ask("skeleton", {"trace_id": trace})["data"]
    names = dict(zip(skeleton["spans"]["span_id"], column(skeleton, "name"), strict=True))
    answer = kernel.ask("search", {"trace_id": trace, "text": text})
    assert answer["ok"], answer
    assert {names[i] for i in answer["data"]["span_ids"]} == expected


@pytest.mark.parametrize(("method", "params", "needle"), [
    ("skeleton", {"trace_id": "0" * 32}, "not in the store"),
    ("skeleton", {"trace_id": "nope"}, "32 lowercase hex"),
    ("skeleton", {}, "skeleton needs trace_id (a trace id of 32 lowercase hex characters)"),
    ("skeleton", {"trace_id": 5}, "trace_id must be a trace id of 32 lowercase hex characters; got 5"),
    ("skeleton", {"trace_id": "0" * 32, "span": 1}, "unknown skeleton parameter(s) 'span'"),
    ("span", {"trace_id": "0" * 32, "span_id": "0" * 16}, "not in the store"),
    ("span", {"trace_id": "0" * 32, "span_id": "<b>"}, "16 lowercase hex"),
    ("search", {"trace_id": "0" * 32, "text": 5}, "must be a string"),
    ("search", {"trace_id": "0" * 32, "text": "x" * 1001}, "at most 1000"),
    ("skelton", {}, "Did you mean 'skeleton'?"),
])
def test_errors_settle_as_ok_false(kernel, method, params, needle):
    answer = kernel.ask(method, params)
    assert answer["ok"] is False and answer["type"] == "response"
    assert needle in answer["error"], answer
    assert "data" not in answer


def test_malformed_requests_are_answered_and_foreign_messages_ignored(kernel):
    server = kernel.server
    assert server.handle({"type": "request", "id": "p", "method": "skeleton", "params": [1]}).exception()
    assert kernel.wait("p")["error"] == "params must be an object, got list"
    server.handle({"type": "request", "id": "m", "method": None})
    assert "unknown method None" in kernel.wait("m")["error"]
    server.handle({"type": "request", "id": {"bad": 1}, "method": "skeleton"})
    assert "request id must be" in kernel.wait(None)["error"]
    assert server.handle({"type": "other"}) is None
    assert server.handle("not a dict") is None
    assert server.handle(None) is None


def test_handler_failures_and_unsendable_results_still_answer():
    methods = _rpc.Methods()
    methods.register("crash", lambda: 1 / 0)
    methods.register("nan", lambda: {"x": float("nan")})
    methods.register("interrupt", lambda: (_ for _ in ()).throw(KeyboardInterrupt()))
    k = Kernel(methods)
    crash = k.ask("crash", {})
    assert crash["ok"] is False and crash["error"] == "ZeroDivisionError: division by zero"
    assert crash["error_type"] == "ZeroDivisionError"
    nan = k.ask("nan", {})
    assert nan["ok"] is False and "JSON" in nan["error"]
    assert k.ask("interrupt", {})["ok"] is False


def test_slow_handler_runs_off_the_callers_thread_and_is_logged(caplog, monkeypatch):
    release = threading.Event()
    methods = _rpc.Methods()

    @methods.register("slow")
    def slow():
        release.wait(10)
        return "slow done"

    methods.register("fast", lambda: threading.current_thread().name)
    k = Kernel(methods)
    monkeypatch.setattr(_rpc, "SLOW_MS", 50.0)
    caplog.set_level(logging.INFO, logger="llmops_nb.widgets")
    started = time.perf_counter()
    k.server.handle({"type": "request", "id": "s", "method": "slow", "params": {}})
    returned = time.perf_counter() - started
    fast = k.ask("fast", {})  # answered while "slow" still runs
    assert "s" not in k.responses
    assert returned < 0.05, f"handle() blocked for {returned:.3f} s"
    assert fast["data"].startswith("llmops_nb-rpc") and fast["data"] != threading.current_thread().name
    time.sleep(0.06)
    release.set()
    assert k.wait("s")["data"] == "slow done"
    assert any("slow widget request slow" in r.getMessage() for r in caplog.records)


def test_methods_table_register_extend():
    base = _rpc.Methods({"a": lambda: 1})

    @base.register("b")
    def b():
        return 2

    with pytest.raises(ValueError, match="already registered"):
        base.register("a", lambda: 3)
    more = base.extend(_rpc.Methods({"c": lambda: 3}))
    assert more.names() == ["a", "b", "c"] and base.names() == ["a", "b"]
    with pytest.raises(ValueError, match="already registered"):
        base.extend(_rpc.Methods({"b": lambda: 0}))
    with pytest.raises(ValueError, match="non-empty string"):
        base.register("", lambda: 0)
    with pytest.raises(TypeError, match="keyword-only"):
        base.register("d", lambda params: 0)  # a params dict by position: the old, hand-checked style
    assert explorer_methods.names() == ["search", "skeleton", "span", "trace_graph", "trace_graph_spans"]


def test_ten_thousand_span_skeleton(kernel):
    # an agent-shaped trace: 1 root, 1,111 LLM turns, 8 tools under each
    with llmops_nb.span("big agent", kind="AGENT") as root:
        made = 1
        while made < 10_000:
            with llmops_nb.span(f"turn {made}", kind="CHAT_MODEL",
                                attributes={"gen_ai.usage.input_tokens": 100, "gen_ai.request.model": "gpt-4o"}):
                made += 1
                for _ in range(min(8, 10_000 - made)):
                    with llmops_nb.span(f"tool {made}", kind="TOOL"):
                        made += 1
    assert llmops_nb.flush(timeout=60)
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        answer = kernel.ask("skeleton", {"trace_id": root.trace_id}, timeout=60)
        timings.append((time.perf_counter() - started) * 1000)
    data = answer["data"]
    size = len(json.dumps(data, separators=(",", ":")))
    print(f"\n10k-span skeleton: {min(timings):.0f} ms best of 3 ({', '.join(f'{t:.0f}' for t in timings)} ms), "
          f"{size / 1024:.0f} KiB of JSON")
    spans = data["spans"]
    assert spans["count"] == 10_000 and len(set(spans["span_id"])) == 10_000
    assert spans["parent"].count(-1) == 1
    assert all(0 <= p < 10_000 for p in spans["parent"] if p != -1)
    assert sum(1 for k in column(data, "kind") if k == "CHAT_MODEL") == 1_111
    assert data["trace"]["span_count"] == 10_000


@pytest.mark.slow
def test_round_trip_through_a_real_kernel(store_path):
    """A request sent as the browser sends it (a comm_msg to the widget) is answered on IOPub from
    the worker thread, while the kernel stays free to run cells."""
    from jupyter_client.manager import start_new_kernel
    from support import subprocess_env

    km, kc = start_new_kernel(kernel_name="python3", env=subprocess_env(store_path))
    try:
        kc.execute_interactive(
            "import llmops_nb, time\n"
            "from llmops_nb.widgets import TraceExplorer, _rpc\n"
            "with llmops_nb.span('kernel trace', kind='AGENT') as root:\n"
            "    with llmops_nb.span('child', kind='TOOL'): pass\n"
            "llmops_nb.flush()\n"
            "w = TraceExplorer(root.trace_id)\n"
            "w._rpc.methods = w._rpc.methods.extend(_rpc.Methods({'sleep': lambda *, s: time.sleep(s) or 'slept'}))\n"
            "display(w)\n", timeout=60)
        comm_id, trace_id = _eval(kc, "w.comm.comm_id"), _eval(kc, "root.trace_id")

        def request(req_id, method, params):
            content = {"type": "request", "id": req_id, "method": method, "params": params}
            kc.shell_channel.send(kc.session.msg("comm_msg", {"comm_id": comm_id, "data": {
                "method": "custom", "content": content}}))

        started = time.monotonic()
        request("slow", "sleep", {"s": 2})
        request("bad", "skeleton", {"trace_id": "nope"})
        request("ok", "skeleton", {"trace_id": trace_id})
        cell = kc.execute("1 + 1")
        seen = _iopub(kc, comm_id, cell, started, wanted={"slow", "bad", "ok", "cell"})
        assert seen["cell"][0] < 1.5, "the kernel waited for the slow request"
        assert seen["bad"][1]["ok"] is False and "32 lowercase hex" in seen["bad"][1]["error"]
        assert seen["ok"][1]["ok"] is True and seen["ok"][1]["data"]["spans"]["name"] == ["kernel trace", "child"]
        assert seen["slow"][1] == {"type": "response", "id": "slow", "ok": True, "data": "slept"}
        assert seen["ok"][0] < seen["slow"][0] and seen["slow"][0] >= 2  # not queued behind the slow one
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def _iopub(kc, comm_id, cell, started, wanted, timeout=60):
    """Read IOPub until every wanted response (and "cell": the cell's idle status) arrived, with times."""
    import queue

    seen, deadline = {}, time.monotonic() + timeout
    while not wanted <= set(seen) and time.monotonic() < deadline:
        try:
            msg = kc.get_iopub_msg(timeout=1)
        except queue.Empty:
            continue
        content, at = msg["content"], time.monotonic() - started
        if msg["msg_type"] == "status" and content["execution_state"] == "idle" \
                and msg["parent_header"].get("msg_id") == cell:
            seen["cell"] = (at, None)
        elif msg["msg_type"] == "comm_msg" and content["comm_id"] == comm_id:
            data = content["data"].get("content", {})
            if data.get("type") == "response":
                seen[data["id"]] = (at, data)
    assert wanted <= set(seen), f"missing {wanted - set(seen)}"
    return seen


def _eval(kc, expr):
    out = []

    def hook(msg):
        if msg["msg_type"] == "stream":
            out.append(msg["content"]["text"])

    kc.execute_interactive(f"print({expr})", timeout=30, output_hook=hook)
    return "".join(out).strip()
