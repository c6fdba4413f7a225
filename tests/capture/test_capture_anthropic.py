"""What only the anthropic SDK's capture does: its token counting (cache reads and writes are part of the
prompt), tool input JSON cut off mid-stream, and the ``messages.stream()`` helper's deferred request.
The rest is in ``test_capture_common.py``."""

from __future__ import annotations

import asyncio
import gc
import warnings

import anthropic
import pytest

import llmops_nb
from tests.capture.drivers import llm_spans, only_span, user
from tests.fakes import Reply, ToolCall, Usage

MODEL = "claude-opus-4-7"
WEATHER = ToolCall("get_weather", {"city": "Paris"})


@pytest.fixture
def provider():
    return "anthropic"


def test_usage_counts_cache_reads_and_writes_in_the_prompt(server, client):
    usage = Usage(100, 50, cache_read_tokens=1000, cache_creation_tokens=200, reasoning_tokens=30)
    server.enqueue(Reply(text="Let me look.", tool_calls=[WEATHER], usage=usage))
    with llmops_nb.span("cell") as root:
        message = client.messages.create(model=MODEL, max_tokens=256, messages=user("Weather?"), system="Be brief.",
                                         stop_sequences=["END"])
    assert message.content[1].input == WEATHER.arguments

    span = only_span(root)
    attrs = span["attributes"]
    assert attrs["gen_ai.request.stop_sequences"] == ["END"]
    assert attrs["gen_ai.response.finish_reasons"] == ["tool_use"]
    # OTel counts the whole prompt as input: 100 fresh + 1000 cache reads + 200 cache writes
    assert attrs["gen_ai.usage.input_tokens"] == 1300 and attrs["gen_ai.usage.output_tokens"] == 50
    assert attrs["gen_ai.usage.cache_read.input_tokens"] == 1000
    assert attrs["gen_ai.usage.cache_creation.input_tokens"] == 200
    assert attrs["gen_ai.usage.reasoning.output_tokens"] == 30
    # opus 4.7: 100 x $5 + 1000 x $0.50 + 200 x $6.25 + 50 x $25, per 1M
    assert attrs["llmops_nb.cost_usd"] == pytest.approx(0.0035) and span["cost_usd"] == pytest.approx(0.0035)
    assert span["inputs"] == {"model": MODEL, "max_tokens": 256, "messages": user("Weather?"),
                              "system": "Be brief.", "stop_sequences": ["END"]}


def test_stream_usage_merges_message_start_and_delta(server, client):
    server.enqueue(Reply(text="Checking now", usage=Usage(20, 9, cache_read_tokens=5)))
    with llmops_nb.span("cell") as root:
        list(client.messages.create(model=MODEL, max_tokens=64, messages=user("Weather?"), stream=True))
    span = only_span(root)
    assert span["outputs"]["usage"]["output_tokens"] == 9 and span["outputs"]["usage"]["input_tokens"] == 20
    assert span["attributes"]["gen_ai.usage.input_tokens"] == 25


def test_cut_off_tool_json_is_kept_raw(server, client):
    server.enqueue(Reply(text=None, tool_calls=[ToolCall("lookup", {"query": "a long question"})], fail_after=5))
    with llmops_nb.span("cell") as root, pytest.raises(anthropic.APIStatusError):
        list(client.messages.create(model=MODEL, max_tokens=8, messages=user("hi"), stream=True))
    block = only_span(root)["outputs"]["content"][0]
    assert block["type"] == "tool_use" and isinstance(block["input"], str) and block["input"].startswith('{"query')


def test_stream_helper_never_entered_sends_nothing(server, client):
    with llmops_nb.span("cell") as root:
        client.messages.stream(model=MODEL, max_tokens=64, messages=user("never sent"))
    assert llm_spans(root) == [] and server.requests == []


def test_async_stream_helper(server):
    server.enqueue(Reply(text="helper text"))

    async def main():
        async with anthropic.AsyncAnthropic(api_key="sk-ant-test", base_url=server.anthropic_base_url,
                                            max_retries=0) as sdk:
            with llmops_nb.span("cell") as root:
                async with sdk.messages.stream(model=MODEL, max_tokens=8, messages=user("c")) as helper:
                    final = await helper.get_final_message()
            return final, llm_spans(root)

    final, spans = asyncio.run(main())
    assert final.content[0].text == "helper text"
    assert [s["name"] for s in spans] == ["anthropic.messages.stream"]
    assert spans[0]["outputs"]["content"][0]["text"] == "helper text"
    assert spans[0]["attributes"]["llmops_nb.async"] is True


def test_async_helper_never_entered_adds_no_warning(server):
    async def main():
        async with anthropic.AsyncAnthropic(api_key="x", base_url=server.anthropic_base_url, max_retries=0) as sdk:
            sdk.messages.stream(model=MODEL, max_tokens=8, messages=user("never"))

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        asyncio.run(main())
        gc.collect()
    ours = [w for w in caught if "traced_request_async" in str(w.message)]
    assert ours == [] and server.requests == []
