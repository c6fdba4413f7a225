"""Nesting where a framework runs code: a LangGraph node, a streamed LangChain chat model (real, offline).

And a failing chat model: our hooks in LangChain leave no frame in the user's traceback.
"""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("openinference.instrumentation.langchain")
pytest.importorskip("langgraph")

import llmops_nb
from tests.fakes import FakeLLMServer, Reply, Usage
from tests.support import PACKAGE, assert_untraced_traceback


@pytest.fixture(scope="module", autouse=True)
def bridged():
    llmops_nb.autolog()
    import langchain_core  # noqa: F401 - the import itself turns the instrumentor on

    yield


def tree():
    llmops_nb.flush()
    frame = llmops_nb.traces()
    assert len(frame) == 1, frame
    trace = frame.iloc[0]
    return trace, {(r["name"], r["kind"]): r for _, r in llmops_nb.spans(trace["trace_id"]).iterrows()}


def test_a_traced_function_in_a_langgraph_node_nests_under_the_node():
    from typing import TypedDict

    from langgraph.graph import END, START, StateGraph

    class State(TypedDict):
        question: str
        answer: str

    @llmops_nb.trace(kind="RETRIEVER")
    def lookup(question):
        return f"facts about {question}"

    def research(state: State) -> dict:
        return {"answer": lookup(state["question"])}

    graph = StateGraph(State)
    graph.add_node("research", research)
    graph.add_edge(START, "research")
    graph.add_edge("research", END)
    app = graph.compile()
    with llmops_nb.span("cell", kind="CHAIN"):
        assert app.invoke({"question": "Paris"})["answer"] == "facts about Paris"
    _, spans = tree()
    node = spans[("research", "CHAIN")]
    assert spans[("lookup", "RETRIEVER")]["parent_span_id"] == node["span_id"]
    assert spans[("LangGraph", "CHAIN")]["parent_span_id"] == spans[("cell", "CHAIN")]["span_id"]


def streaming_model(client):
    """A LangChain chat model (the framework's own extension API) that streams from the openai SDK."""
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import AIMessage, AIMessageChunk
    from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

    class SdkChat(BaseChatModel):
        @property
        def _llm_type(self) -> str:
            return "sdk-chat"

        def _get_ls_params(self, stop=None, **kwargs):  # how LangChain models name their provider
            return {**super()._get_ls_params(stop=stop, **kwargs), "ls_provider": "openai"}

        def _messages(self, messages):
            return [{"role": "user", "content": str(m.content)} for m in messages]

        def _generate(self, messages, stop=None, run_manager=None, **kwargs):
            reply = client.chat.completions.create(model="gpt-4o-mini", messages=self._messages(messages))
            return ChatResult(generations=[ChatGeneration(message=AIMessage(content=reply.choices[0].message.content))])

        def _stream(self, messages, stop=None, run_manager=None, **kwargs):
            for event in client.chat.completions.create(model="gpt-4o-mini", messages=self._messages(messages),
                                                        stream=True, stream_options={"include_usage": True}):
                if event.choices and event.choices[0].delta.content:
                    yield ChatGenerationChunk(message=AIMessageChunk(content=event.choices[0].delta.content))

        async def _astream(self, messages, stop=None, run_manager=None, **kwargs):
            for chunk in self._stream(messages, stop, run_manager, **kwargs):
                yield chunk

    return SdkChat()


@pytest.mark.parametrize("mode", ["stream", "astream"])
def test_an_sdk_call_in_a_streamed_chat_model_nests_under_its_llm_span(mode):
    import openai

    @llmops_nb.trace
    def between(chunk):  # the consumer's code between chunks is not inside the model's span
        return chunk

    with FakeLLMServer() as server:
        server.enqueue(Reply(text="Paris is the capital", usage=Usage(input_tokens=7, output_tokens=4)))
        client = openai.OpenAI(api_key="sk-test-not-real-000000000000", base_url=server.openai_base_url)
        model = streaming_model(client)
        with llmops_nb.span("cell", kind="CHAIN"):
            if mode == "stream":
                text = "".join(between(chunk).content for chunk in model.stream("Capital of France?"))
            else:
                async def consume():
                    return "".join([between(chunk).content async for chunk in model.astream("Capital of France?")])
                text = asyncio.run(consume())
    assert text == "Paris is the capital"
    trace, spans = tree()
    framework = spans[("SdkChat", "CHAIN")]  # kept as a CHAIN: our SDK span counts the call
    sdk = [r for (name, kind), r in spans.items() if kind == "CHAT_MODEL"]
    assert len(sdk) == 1 and sdk[0]["parent_span_id"] == framework["span_id"]
    assert framework["parent_span_id"] == spans[("cell", "CHAIN")]["span_id"]
    assert spans[("between", "UNKNOWN")]["parent_span_id"] == spans[("cell", "CHAIN")]["span_id"]
    assert trace["llm_calls"] == 1 and trace["input_tokens"] == 7


def _call(model, mode):
    if mode == "invoke":
        return model.invoke("Capital?")
    if mode == "stream":
        return list(model.stream("Capital?"))

    async def call():
        if mode == "ainvoke":
            return await model.ainvoke("Capital?")
        return [chunk async for chunk in model.astream("Capital?")]

    return asyncio.run(call())


def _failure(model, mode):
    try:
        _call(model, mode)
    except Exception as exc:  # the SDK's error, compared below
        return exc
    raise AssertionError("expected the model to fail")


@pytest.mark.parametrize("mode", ["invoke", "ainvoke", "stream", "astream"])
def test_a_failing_chat_model_raises_with_the_untraced_traceback(mode):
    import openai

    with FakeLLMServer() as server, openai.OpenAI(api_key="sk-test-not-real-000000000000",
                                                 base_url=server.openai_base_url, max_retries=0) as client:
        model = streaming_model(client)
        server.enqueue(Reply.error(500), Reply.error(500))
        llmops_nb.autolog(disable=True)
        try:
            plain = _failure(model, mode)
        finally:
            llmops_nb.autolog()
        with llmops_nb.span("cell", kind="CHAIN"):
            traced = _failure(model, mode)
    assert_untraced_traceback(traced, plain)  # no frame of our LangChain hooks, nor of the SDK's capture
    _, spans = tree()
    (sdk,) = [r for (name, kind), r in spans.items() if kind == "CHAT_MODEL"]
    assert sdk["status"] == "ERROR" and PACKAGE not in sdk["error"]["traceback"]
    assert sdk["attributes"]["http.response.status_code"] == 500  # recorded in full under LangChain's span
