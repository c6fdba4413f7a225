"""LlamaIndex and LiteLLM through their OpenInference instrumentors, offline: one tree, each call counted once."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import warnings

import pytest

import llmops_nb
from tests.fakes import FakeLLMServer, Reply, Usage

KEY = "sk-test-not-real-000000000000"


def need(module: str, extra: str) -> None:
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed (pip install llmops_nb[{extra}])")


@pytest.fixture(scope="module", autouse=True)
def bridged():
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # LiteLLM fetches prices at import otherwise
    llmops_nb.autolog()
    yield
    # LlamaIndex and LiteLLM leave an event loop set as this thread's current one; a later
    # asyncio.run() replaces it and it is garbage-collected unclosed (a ResourceWarning, an error
    # here). Close it while we know whose it is.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            loop = asyncio.get_event_loop_policy().get_event_loop()
        except RuntimeError:
            loop = None
    if loop is not None and not loop.is_running() and not loop.is_closed():
        loop.close()
    asyncio.set_event_loop(None)


def tree():
    llmops_nb.flush()
    frame = llmops_nb.traces()
    assert len(frame) == 1, frame
    trace = frame.iloc[0]
    return trace, [row for _, row in llmops_nb.spans(trace["trace_id"]).iterrows()]


# The instrumentor calls pydantic's deprecated .json() on LLM metadata; warnings are errors here and
# would make it drop the span (a notebook only shows the warning).
@pytest.mark.filterwarnings("ignore:The `json` method is deprecated:DeprecationWarning")
def test_llama_index_calls_nest_under_ours_and_an_sdk_call_counts_once():
    need("llama_index.core", "llama-index")
    need("openinference.instrumentation.llama_index", "llama-index")
    import openai
    from llama_index.core.llms import CompletionResponse, CustomLLM, LLMMetadata, MockLLM
    from llama_index.core.llms.callbacks import llm_completion_callback

    assert "llama_index" in llmops_nb.status()["otel"]["frameworks"]["enabled"]
    with FakeLLMServer() as server:
        server.enqueue(Reply(text="Paris", usage=Usage(input_tokens=5, output_tokens=1)))
        client = openai.OpenAI(api_key=KEY, base_url=server.openai_base_url)

        class SdkLLM(CustomLLM):  # LlamaIndex's own extension API, calling the openai SDK
            @property
            def metadata(self) -> LLMMetadata:
                return LLMMetadata(model_name="gpt-4o-mini")

            @llm_completion_callback()
            def complete(self, prompt, formatted=False, **kwargs):
                reply = client.chat.completions.create(model="gpt-4o-mini",
                                                       messages=[{"role": "user", "content": prompt}])
                return CompletionResponse(text=reply.choices[0].message.content)

            @llm_completion_callback()
            def stream_complete(self, prompt, formatted=False, **kwargs):
                raise NotImplementedError

        @llmops_nb.trace(kind="AGENT")
        def ask(question):
            return SdkLLM().complete(question).text + " / " + MockLLM(max_tokens=3).complete(question).text

        assert ask("Capital of France?") == "Paris / text text text"
    trace, spans = tree()
    by_name = {row["name"]: row for row in spans}
    root = by_name["ask"]
    assert by_name["SdkLLM.complete"]["parent_span_id"] == root["span_id"]
    assert by_name["SdkLLM.complete"]["kind"] == "CHAIN"  # around our SDK span, which counts the call
    sdk = by_name["openai.chat.completions.create"]
    assert sdk["kind"] == "CHAT_MODEL" and sdk["parent_span_id"] == by_name["SdkLLM.complete"]["span_id"]
    mock = by_name["MockLLM.complete"]
    assert mock["kind"] == "LLM" and mock["parent_span_id"] == root["span_id"]
    assert mock["inputs"] == {"args": ["Capital of France?"]}
    assert trace["span_count"] == 4 and trace["llm_calls"] == 2 and trace["input_tokens"] == 5


def test_litellm_completion_is_one_llm_span_with_tokens_and_cost():
    need("litellm", "litellm")
    need("openinference.instrumentation.litellm", "litellm")
    import litellm

    assert "litellm" in llmops_nb.status()["otel"]["frameworks"]["enabled"]
    with FakeLLMServer() as server:
        server.enqueue(Reply(text="Paris", usage=Usage(input_tokens=12, output_tokens=2)))
        server.enqueue(Reply(text="Lyon"))

        @llmops_nb.trace(kind="AGENT")
        def ask(question):
            messages = [{"role": "user", "content": question}]
            first = litellm.completion(model="openai/gpt-4o-mini", messages=messages,
                                       api_base=server.openai_base_url, api_key=KEY)
            chunks = litellm.completion(model="openai/gpt-4o-mini", messages=messages,
                                        api_base=server.openai_base_url, api_key=KEY, stream=True)
            return first.choices[0].message.content + "".join(c.choices[0].delta.content or "" for c in chunks)

        assert ask("Capital of France?") == "ParisLyon"
    trace, spans = tree()
    calls = [row for row in spans if row["name"] == "completion"]
    root = next(row for row in spans if row["name"] == "ask")
    # LiteLLM posts to the API past the SDK method our capture wraps: its span is the one count
    assert len(spans) == 3 and [row["kind"] for row in calls] == ["CHAT_MODEL", "CHAT_MODEL"]
    assert all(row["parent_span_id"] == root["span_id"] for row in calls)
    priced = next(row for row in calls if row["input_tokens"] == 12)
    assert "gpt-4o-mini" in priced["model"] and priced["cost_usd"] > 0
    assert trace["llm_calls"] == 2 and trace["input_tokens"] == 12
    assert priced["attributes"]["gen_ai.input.messages"][0]["parts"][0]["content"] == "Capital of France?"
