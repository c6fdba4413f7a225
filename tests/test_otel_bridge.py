"""The in-process bridge with real OpenInference instrumentors and real LangChain, offline."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor

import pytest

pytest.importorskip("openinference.instrumentation.langchain")
pytest.importorskip("langchain_core")

from opentelemetry import trace as otel_trace

import llmops_nb
from llmops_nb.otel import _bridge


@pytest.fixture(scope="module", autouse=True)
def bridged():
    llmops_nb.autolog()
    import langchain_core  # noqa: F401 - the import itself turns the instrumentor on

    assert "langchain" in llmops_nb.status()["otel"]["frameworks"]["enabled"]
    yield


def spans_of(trace_id: str):
    llmops_nb.flush()
    frame = llmops_nb.spans(trace_id)
    return {row["name"]: row for _, row in frame.iterrows()}


def one_trace():
    llmops_nb.flush()
    frame = llmops_nb.traces()
    assert len(frame) == 1, frame
    return frame.iloc[0]


def agent_loop():
    from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
    from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
    from langchain_core.tools import tool

    @llmops_nb.trace(kind="RETRIEVER")
    def lookup(city):
        return {"city": city, "temp_c": 21}

    @tool
    def weather(city: str) -> str:
        """The weather in a city."""
        return json.dumps(lookup(city))

    model = FakeMessagesListChatModel(responses=[
        AIMessage(content="", tool_calls=[{"name": "weather", "args": {"city": "Paris"}, "id": "call-1"}]),
        AIMessage(content="21 degrees in Paris."),
    ])
    messages = [HumanMessage(content="Weather in Paris?")]
    while True:
        reply = model.invoke(messages)
        messages.append(reply)
        if not reply.tool_calls:
            return reply.content
        for call in reply.tool_calls:
            messages.append(ToolMessage(content=weather.invoke(call["args"]), tool_call_id=call["id"]))


def test_langchain_agent_inside_our_span_is_one_tree():
    with llmops_nb.span("agent", kind="AGENT"):
        assert agent_loop() == "21 degrees in Paris."
    trace = one_trace()
    spans = llmops_nb.spans(trace["trace_id"])
    by_name = {}
    for _, row in spans.iterrows():
        by_name.setdefault(row["name"], []).append(row)
    root = by_name["agent"][0]
    assert not isinstance(root["parent_span_id"], str) and trace["name"] == "agent"
    models = by_name["FakeMessagesListChatModel"]
    assert len(models) == 2 and all(m["parent_span_id"] == root["span_id"] for m in models)
    assert all(m["kind"] == "CHAT_MODEL" for m in models)
    tool_span = by_name["weather"][0]
    assert tool_span["kind"] == "TOOL" and tool_span["parent_span_id"] == root["span_id"]
    # our @trace function called by the LangChain tool nests under the tool's OTel span
    lookup = by_name["lookup"][0]
    assert lookup["parent_span_id"] == tool_span["span_id"] and lookup["kind"] == "RETRIEVER"
    # messages and tool calls in the GenAI form the explorer renders
    first = models[0]["attributes"]
    assert first["gen_ai.input.messages"] == [{"role": "user", "parts": [{"type": "text",
                                                                           "content": "Weather in Paris?"}]}]
    call = first["gen_ai.output.messages"][0]["parts"][0]
    assert call == {"type": "tool_call", "id": "call-1", "name": "weather", "arguments": {"city": "Paris"}}
    second = models[1]["attributes"]["gen_ai.input.messages"]
    assert second[-1]["role"] == "tool" and second[-1]["parts"][0]["type"] == "tool_call_response"
    assert "Paris" in json.dumps(tool_span["inputs"])
    assert trace["span_count"] == 5 and trace["llm_calls"] == 2


def test_explorer_shows_framework_messages():
    from llmops_nb.widgets.explorer._messages import normalize_messages

    with llmops_nb.span("agent", kind="AGENT"):
        agent_loop()
    trace = one_trace()
    rows = llmops_nb.spans(trace["trace_id"]).iterrows()
    model = next(r for _, r in rows if r["name"] == "FakeMessagesListChatModel")
    shown = normalize_messages(model["inputs"], model["outputs"], model["attributes"])
    assert shown["input"][0]["parts"] == [{"type": "text", "text": "Weather in Paris?"}]
    assert shown["output"][0]["parts"][0]["type"] == "tool_call"


def test_langchain_alone_is_its_own_trace_and_our_trace_decorator_nests_under_it():
    from langchain_core.runnables import RunnableLambda

    @llmops_nb.trace
    def double(x):
        return 2 * x

    chain = RunnableLambda(lambda x: x + 1) | RunnableLambda(double)
    assert chain.invoke(1) == 4
    trace = one_trace()
    rows = [r for _, r in llmops_nb.spans(trace["trace_id"]).iterrows()]
    assert trace["name"] == "RunnableSequence" and trace["span_count"] == 4
    ours = next(r for r in rows if r["name"] == "double" and r["kind"] == "UNKNOWN")
    lambda_span = next(r for r in rows if r["name"] == "double" and r["kind"] == "CHAIN")
    assert ours["parent_span_id"] == lambda_span["span_id"]


def test_otel_spans_in_threads_and_tasks_nest_under_ours():
    tracer = otel_trace.get_tracer("test")

    def work(i):
        with tracer.start_as_current_span(f"thread-{i}"):
            with llmops_nb.span(f"ours-in-thread-{i}"):
                pass

    async def task(i):
        with tracer.start_as_current_span(f"task-{i}"):
            await asyncio.sleep(0)
            with llmops_nb.span(f"ours-in-task-{i}"):
                pass

    async def main():
        await asyncio.gather(*(task(i) for i in range(3)))

    with llmops_nb.span("root"):
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(work, range(3)))
        asyncio.run(main())
    trace = one_trace()
    spans = {r["name"]: r for _, r in llmops_nb.spans(trace["trace_id"]).iterrows()}
    root = spans["root"]["span_id"]
    for i in range(3):
        assert spans[f"thread-{i}"]["parent_span_id"] == root
        assert spans[f"ours-in-thread-{i}"]["parent_span_id"] == spans[f"thread-{i}"]["span_id"]
        assert spans[f"task-{i}"]["parent_span_id"] == root
        assert spans[f"ours-in-task-{i}"]["parent_span_id"] == spans[f"task-{i}"]["span_id"]
    assert trace["span_count"] == 13


def test_generous_span_limits_keep_a_long_chat():
    tracer = otel_trace.get_tracer("test")
    attributes = {"openinference.span.kind": "LLM", "input.value": "x" * 10}
    for i in range(99):
        attributes[f"llm.input_messages.{i}.message.role"] = "user"
        attributes[f"llm.input_messages.{i}.message.content"] = f"message {i}"
    with tracer.start_as_current_span("long chat", attributes=attributes):
        pass
    trace = one_trace()
    span = llmops_nb.spans(trace["trace_id"]).iloc[0]
    messages = span["attributes"]["gen_ai.input.messages"]
    assert len(messages) == 99 and messages[0]["parts"][0]["content"] == "message 0"
    assert span["inputs"] == "x" * 10
    assert llmops_nb.status()["otel"]["bridge"]["dropped_attributes"] == 0


def test_tokens_model_and_cost_from_openinference():
    from llmops_nb.integrations import disable_openai, enable_openai

    tracer = otel_trace.get_tracer("test")
    disable_openai()  # with our openai capture on, this span would be the CHAIN around our own CHAT_MODEL span
    try:
        priced_span(tracer)
    finally:
        enable_openai()
    trace = one_trace()
    span = llmops_nb.spans(trace["trace_id"]).iloc[0]
    assert span["kind"] == "LLM" and span["model"] == "gpt-4o-2024-08-06"


def priced_span(tracer):
    with tracer.start_as_current_span("ChatOpenAI", attributes={
            "openinference.span.kind": "LLM", "llm.model_name": "gpt-4o-2024-08-06", "llm.provider": "azure",
            "llm.token_count.prompt": 1000, "llm.token_count.completion": 100,
            "llm.token_count.prompt_details.cache_read": 400, "llm.token_count.total": 1100,
            "llm.invocation_parameters": json.dumps({"model": "gpt-4o", "temperature": 0.2})}):
        pass


def test_tokens_model_and_cost_columns():
    from llmops_nb.integrations import disable_openai, enable_openai

    disable_openai()
    try:
        priced_span(otel_trace.get_tracer("test"))
    finally:
        enable_openai()
    trace = one_trace()
    span = llmops_nb.spans(trace["trace_id"]).iloc[0]
    assert (span["input_tokens"], span["output_tokens"]) == (1000, 100)
    assert span["cost_usd"] == pytest.approx(0.003)
    attributes = span["attributes"]
    assert attributes["gen_ai.request.model"] == "gpt-4o" and attributes["gen_ai.request.temperature"] == 0.2
    assert attributes["gen_ai.usage.cache_read.input_tokens"] == 400
    assert "llm.token_count.prompt" not in attributes


def test_openai_call_inside_a_langchain_step_is_counted_once(tmp_path):
    import openai
    from langchain_core.runnables import RunnableLambda

    from tests.fakes import FakeLLMServer, Reply, Usage

    tracer = otel_trace.get_tracer("test")
    with FakeLLMServer() as server:
        server.enqueue(Reply(text="Paris", usage=Usage(input_tokens=12, output_tokens=1)))
        client = openai.OpenAI(api_key="sk-test-not-real-000000000000", base_url=server.openai_base_url)

        def ask(question):
            # a framework's LLM span around an SDK call our own capture records
            with tracer.start_as_current_span("ChatOpenAI", attributes={
                    "openinference.span.kind": "LLM", "llm.provider": "openai", "llm.model_name": "gpt-4o",
                    "llm.token_count.prompt": 12, "llm.token_count.completion": 1}):
                reply = client.chat.completions.create(model="gpt-4o",
                                                       messages=[{"role": "user", "content": question}])
            return reply.choices[0].message.content

        assert RunnableLambda(ask).invoke("Capital of France?") == "Paris"
    trace = one_trace()
    spans = {r["name"]: r for _, r in llmops_nb.spans(trace["trace_id"]).iterrows()}
    sdk = [r for r in spans.values() if r["kind"] == "CHAT_MODEL"]
    assert len(sdk) == 1 and sdk[0]["parent_span_id"] == spans["ChatOpenAI"]["span_id"]
    assert spans["ChatOpenAI"]["kind"] == "CHAIN" and spans["ChatOpenAI"]["parent_span_id"] == spans["ask"]["span_id"]
    assert trace["llm_calls"] == 1 and trace["input_tokens"] == 12


def test_bridge_failure_never_reaches_the_instrumented_code():
    tracer = otel_trace.get_tracer("test")

    class Weird:
        def __str__(self):
            raise RuntimeError("no")

    with tracer.start_as_current_span("weird") as span:
        span.set_attribute("ok", "fine")
        span.set_attribute("bytes", b"\xff\xfe not utf-8")
    trace = one_trace()
    row = llmops_nb.spans(trace["trace_id"]).iloc[0]
    assert row["attributes"]["bytes"].endswith("not utf-8")
    assert _bridge.status()["installed"]
