"""TraceExplorer: the widget model (view state only in traitlets), its mimebundle (widget view +
script-free text/html + text/plain), the display hooks and every fallback that keeps a cell alive."""

from __future__ import annotations

import asyncio
import sys

import anthropic
import openai
import pytest
from support import outputs_text, run_cells

import llmops_nb
from llmops_nb import _display
from llmops_nb._trace import Trace
from llmops_nb.widgets import _base, explorer_bundle, install_display, show, uninstall_display
from llmops_nb.widgets._base import SAVED_VIEW_MIME, WIDGET_MIME
from llmops_nb.widgets.explorer import _calls, _data
from llmops_nb.widgets.explorer._widget import TraceExplorer
from tests.fakes import FakeLLMServer, Reply, Usage

XSS_NAME = '<img src=x onerror="alert(1)">'


@pytest.fixture
def trace_id():
    with llmops_nb.span("explore me", kind="AGENT") as root:
        with llmops_nb.span(XSS_NAME, kind="TOOL") as tool:
            tool.set_inputs({"prompt": "<script>alert(2)</script>"})
        with llmops_nb.span("llm", kind="LLM", attributes={"gen_ai.usage.input_tokens": 12}):
            pass
    llmops_nb.flush()
    return root.trace_id


@pytest.fixture(autouse=True)
def plain_display():
    yield
    uninstall_display()


def test_traitlets_hold_view_state_only(trace_id):
    widget = TraceExplorer(trace_id)
    state = widget.get_state()
    assert widget.trace_id == trace_id
    assert widget.selected_span_id is None and widget.collapsed_span_ids == [] and widget.search_text == ""
    assert widget.height == 460 and widget.show_critical_path is True and widget.view == "tree"
    synced = {k for k in state if not k.startswith("_")} - {"layout", "tabbable", "tooltip"}
    assert synced == {"trace_id", "selected_span_id", "collapsed_span_ids", "search_text", "show_critical_path",
                      "view", "height"}
    # no payload or span data in the synced state: it is fetched on request
    assert "explore me" not in str({k: state[k] for k in synced})
    assert state["_esm"] == _base.esm_path("explorer").read_text()
    assert state["_css"] == _base.css_path("explorer").read_text()


def test_accepts_a_trace_object_and_view_state(trace_id):
    span_id = llmops_nb.spans(trace_id).span_id[1]
    widget = TraceExplorer(Trace(trace_id), selected_span_id=span_id, collapsed_span_ids=[span_id],
                           search_text="llm", height=300)
    assert (widget.trace_id, widget.selected_span_id, widget.collapsed_span_ids, widget.search_text,
            widget.height) == (trace_id, span_id, [span_id], "llm", 300)


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"trace": "abc"}, ValueError, "32 lowercase hex"),
    ({"trace": "0" * 32, "selected_span_id": "x"}, ValueError, "16 lowercase hex"),
    ({"trace": "0" * 32, "hieght": 300}, TypeError, "check the spelling"),
    ({"trace": "0" * 32, "height": 5}, ValueError, "between 120 and 4000"),
])
def test_rejects_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        TraceExplorer(**kwargs)


def test_missing_bundle_is_explained(monkeypatch):
    monkeypatch.setattr(_base, "bundle_available", lambda bundle: False)
    with pytest.raises(RuntimeError, match="npm ci && npm run build"):
        TraceExplorer("0" * 32)


def test_mimebundle_has_widget_view_snapshot_and_text(trace_id):
    widget = TraceExplorer(trace_id)
    data, _metadata = widget._repr_mimebundle_()
    assert data[WIDGET_MIME]["model_id"] == widget.model_id
    html = data["text/html"]
    assert "explore me" in html and "<script" not in html.lower()
    assert XSS_NAME not in html and "&lt;img" in html  # trace strings escaped in the snapshot
    assert "explore me" in data["text/plain"] and "object at 0x" not in data["text/plain"]
    assert repr(widget) == f"TraceExplorer({trace_id!r})"


def test_widget_answers_requests_through_the_comm_path(trace_id, monkeypatch):
    widget = TraceExplorer(trace_id)
    sent = []
    monkeypatch.setattr(widget, "send", lambda content, buffers=None: sent.append(content))
    widget._rpc._send = widget.send
    request = {"type": "request", "id": 7, "method": "skeleton", "params": {"trace_id": trace_id}}
    # what ipywidgets does with a custom message from the front end
    widget._handle_msg({"content": {"data": {"method": "custom", "content": request}}, "buffers": []})
    import time

    deadline = time.monotonic() + 10
    while not sent and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sent and sent[0]["id"] == 7 and sent[0]["ok"] is True
    assert sent[0]["data"]["spans"]["name"] == ["explore me", XSS_NAME, "llm"]
    # the critical path rides in the same answer: the root, then its child ending last
    ids = dict(zip(sent[0]["data"]["spans"]["name"], sent[0]["data"]["spans"]["span_id"], strict=True))
    assert sent[0]["data"]["critical_path"] == [ids["explore me"], ids["llm"]]


def test_explorer_bundle_with_and_without_the_widget(trace_id):
    full = explorer_bundle(Trace(trace_id), widget=True)
    # the lab extension's type rides along: it shows the widget, or the snapshot when the model is gone
    assert set(full) == {"text/plain", "text/html", WIDGET_MIME, SAVED_VIEW_MIME}
    assert full[SAVED_VIEW_MIME] == {"view": "explorer"}
    plain = explorer_bundle(trace_id, widget=False)
    assert set(plain) == {"text/plain", "text/html"}
    # outside a kernel (here) the default leaves the widget out: a terminal cannot show it
    assert WIDGET_MIME not in explorer_bundle(trace_id)


def test_falls_back_to_the_snapshot_without_bundle_or_anywidget(trace_id, monkeypatch):
    monkeypatch.setattr("llmops_nb.widgets.explorer._bundle.bundle_available", lambda bundle: False)
    assert set(explorer_bundle(trace_id, widget=True)) == {"text/plain", "text/html"}
    monkeypatch.undo()
    monkeypatch.setitem(sys.modules, "llmops_nb.widgets.explorer._widget", None)  # as if anywidget were missing
    bundle = explorer_bundle(trace_id, widget=True)
    assert set(bundle) == {"text/plain", "text/html"} and "explore me" in bundle["text/html"]


def test_falls_back_to_the_summary_without_the_snapshot_module(trace_id, monkeypatch):
    monkeypatch.setitem(sys.modules, "llmops_nb.widgets.explorer._snapshot", None)
    bundle = explorer_bundle(trace_id, widget=True)
    assert bundle["text/html"] == _display.summary_html(Trace(trace_id))
    assert bundle["text/plain"] == _display.summary_text(Trace(trace_id))
    assert WIDGET_MIME in bundle


def test_a_trace_not_in_the_store_does_not_raise():
    bundle = explorer_bundle("f" * 32, widget=True)
    assert "f" * 32 in bundle["text/plain"]


def test_install_display_routes_trace_displays(trace_id, monkeypatch):
    trace = Trace(trace_id)
    assert _display.mimebundle(trace) == _display.summary_bundle(trace)  # before: the one-line summary
    install_display()
    assert _display.mimebundle(trace) == explorer_bundle(trace, widget=None)
    monkeypatch.setattr("llmops_nb.widgets.explorer._bundle.in_kernel", lambda: True)
    assert WIDGET_MIME in trace._repr_mimebundle_()  # a Trace shown in a kernel is the explorer
    uninstall_display()
    assert _display.mimebundle(trace) == _display.summary_bundle(trace)


def test_show_outside_a_notebook_prints_the_summary(trace_id, capsys):
    show(trace_id)
    assert "explore me" in capsys.readouterr().out
    with pytest.raises(TypeError, match="Trace or a trace id"):
        show(42)


# -- LLM calls: labels, markers, time to first token ---------------------------------------------

def sdk_agent_trace() -> str:
    """An agent making real SDK calls against the fake: plain, streamed, async, Anthropic streamed."""
    with FakeLLMServer() as server:
        server.enqueue(Reply(text="Paris.", usage=Usage(input_tokens=14, output_tokens=12)),
                       Reply(text="Bienvenue à Paris!", delay=0.12, chunk_delay=0.02,
                             usage=Usage(input_tokens=11, output_tokens=9)),
                       Reply(text="Tokyo."), Reply(text="Oslo.", delay=0.05))
        ask = [{"role": "user", "content": "Capital of France?"}]

        async def ask_async() -> None:
            async with openai.AsyncOpenAI(api_key="sk-test", base_url=server.openai_base_url, max_retries=0) as aclient:
                await aclient.chat.completions.create(model="gpt-4o", messages=ask)

        llmops_nb.autolog()
        try:
            with openai.OpenAI(api_key="sk-test", base_url=server.openai_base_url, max_retries=0) as client, \
                    anthropic.Anthropic(api_key="sk-test", base_url=server.anthropic_base_url) as claude, \
                    llmops_nb.span("agent", kind="AGENT") as root:
                client.chat.completions.create(model="gpt-4o-mini", messages=ask)
                for _ in client.chat.completions.create(model="gpt-4o-mini", messages=ask, stream=True,
                                                        stream_options={"include_usage": True}):
                    pass
                asyncio.run(ask_async())
                with claude.messages.stream(model="claude-sonnet-4-5", max_tokens=20, messages=ask) as stream:
                    stream.until_done()
                with llmops_nb.span("openai.embeddings.create", kind="EMBEDDING",
                                    attributes={"gen_ai.request.model": "text-embedding-3-small",
                                                "llmops_nb.async": True}):
                    pass
                with llmops_nb.span("lookup", kind="TOOL", attributes={"gen_ai.request.model": "not an LLM"}):
                    pass
        finally:
            llmops_nb.autolog(disable=True)
    llmops_nb.flush()
    return root.trace_id


def test_skeleton_names_llm_calls_and_marks_streams():
    trace_id = sdk_agent_trace()
    spans = _data.skeleton(trace_id)["spans"]

    def column(name):
        col = spans[name]
        if isinstance(col, dict) and "codes" in col:
            return [col["values"][c] for c in col["codes"]]
        if isinstance(col, dict):
            values = dict(zip(col["at"], col["values"], strict=True))
            return [values.get(i) for i in range(spans["count"])]
        return col

    assert spans["name"] == ["agent", "openai.chat.completions.create", "openai.chat.completions.create",
                             "openai.chat.completions.create", "anthropic.messages.stream",
                             "openai.embeddings.create", "lookup"]
    assert column("label") == [None, "gpt-4o-mini · chat", "gpt-4o-mini · chat", "gpt-4o · chat",
                               "claude-sonnet-4-5 · messages", "text-embedding-3-small · embeddings", None]
    assert column("stream") == [None, None, True, None, True, None, None]
    # the integration marks calls made through the async client (llmops_nb.async)
    assert column("is_async") == [None, None, None, True, None, True, None]
    ttft = column("ttft_ms")
    assert ttft[0] is None and ttft[1] is None and ttft[3] is None
    assert 120 <= ttft[2] < column("duration_ms")[2] and 50 <= ttft[4] < column("duration_ms")[4]

    # the span's events at their time after its start, the first token's equal to the skeleton's TTFT
    detail = _data.span(trace_id, spans["span_id"][2])
    (first,) = detail["events"]
    assert first["name"] == "gen_ai.first_token" and first["offset_ms"] == pytest.approx(ttft[2], abs=0.01)


def test_time_to_first_token_falls_back_to_the_event():
    with llmops_nb.span("chat gpt-4o", kind="CHAT_MODEL",
                        attributes={"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o"}) as s:
        s.add_event("gen_ai.first_token", None, s.start_ns + 250_000_000)
    llmops_nb.flush()
    spans = _data.skeleton(s.trace_id)["spans"]
    assert spans["label"]["values"] == ["gpt-4o · chat"]
    assert spans["ttft_ms"] == [250.0] and spans["stream"] == [True]


@pytest.mark.parametrize(("name", "attribute", "model", "label"), [
    ("openai.chat.completions.create", "chat", "gpt-4o", "gpt-4o · chat"),
    ("openai.chat.completions.parse", "chat", "gpt-4o", "gpt-4o · chat"),
    ("openai.responses.create", "chat", "gpt-4.1", "gpt-4.1 · responses"),
    ("anthropic.messages.create", "chat", "claude-sonnet-4-5", "claude-sonnet-4-5 · messages"),
    ("openai.embeddings.create", None, "text-embedding-3-small", "text-embedding-3-small · embeddings"),
    ("embeddings text-embedding-3-small", "embeddings", "text-embedding-3-small",
     "text-embedding-3-small · embeddings"),  # an OpenTelemetry GenAI span
    ("ChatOpenAI", None, "gpt-4o", "gpt-4o · ChatOpenAI"),  # no operation known: the span's name
    ("gpt-4o", None, "gpt-4o", "gpt-4o"),
    ("openai.chat.completions.create", "chat", None, None),  # no model: the row keeps the span's name
])
def test_an_llm_span_reads_model_and_operation(name, attribute, model, label):
    assert _calls.call_label(model, _calls.operation(name, attribute), name) == label


@pytest.mark.slow
def test_in_a_kernel_a_traced_cell_shows_the_explorer(store_path):
    cells = [
        "from llmops_nb.widgets import install_display, show\ninstall_display()",
        f"%%llm_trace t --name explorer-run\nwith llmops_nb.span({XSS_NAME!r}, kind='TOOL'):\n    pass",
        "show(t.trace_id)",
        "t",
    ]
    executed = run_cells(cells, store_path)
    for cell in executed[1:]:
        bundles = [out["data"] for out in cell.outputs if out.output_type in ("display_data", "execute_result")]
        assert bundles, outputs_text(cell)
        data = bundles[-1]
        assert WIDGET_MIME in data, data.keys()
        assert "explorer-run" in data["text/html"] and "<script" not in data["text/html"].lower()
        assert "explorer-run" in data["text/plain"]


def test_assessments_show_on_their_span_and_in_the_snapshot():
    """The root's detail carries the trace's assessments (evaluation, feedback, online judges), a span's
    those an online judge made of it alone; the snapshot lists the trace's, as text."""
    from llmops_nb.monitor import Monitor
    from llmops_nb.widgets.explorer._snapshot import trace_snapshot

    xss = "<img src=x onerror=alert(1)>"

    @llmops_nb.trace(name="agent")
    def agent():
        with llmops_nb.span("call", kind="CHAT_MODEL") as call:
            call.set_outputs("hello")
        return "done"

    agent()
    llmops_nb.flush()
    trace_id = llmops_nb.traces().trace_id[0]
    llmops_nb.log_feedback(trace_id, value=False, comment=xss, name="helpful")

    @llmops_nb.scorer(name=xss)
    def per_call(outputs):
        return len(str(outputs)) < 10

    mon = Monitor(retries=0)
    mon.add(per_call, span_kind="LLM", backfill=True)
    mon.run_once()
    mon.close()
    spans = llmops_nb.spans(trace_id)
    root = spans[spans.parent_span_id.isna()].span_id.iloc[0]
    call = spans[spans.name == "call"].span_id.iloc[0]
    on_root = _data.span(trace_id, root)["assessments"]
    assert [(a["name"], a["value"], a["passed"], a["rationale"]) for a in on_root] == [("helpful", False, False, xss)]
    on_call = _data.span(trace_id, call)["assessments"]
    assert [(a["name"], a["value"], a["source"]) for a in on_call] == [(xss, True, "CODE")]
    html = trace_snapshot(trace_id)["text/html"]
    assert "<strong>Assessments:</strong> helpful false" in html
    assert xss not in html and "&lt;img" not in html.split("Assessments:")[1].split("<br>")[0]
