"""What only the openai SDK's capture does: its request parameters and token counting, tool calls in chat
completions, ``parse()``'s parsed object, and the Responses API. The rest is in ``test_capture_common.py``."""

from __future__ import annotations

import asyncio

import openai
import pydantic
import pytest

import llmops_nb
from tests.capture.drivers import llm_spans, only_span, user
from tests.fakes import Reply, ToolCall, Usage

WEATHER = ToolCall("get_weather", {"city": "Paris"})


@pytest.fixture
def provider():
    return "openai"


# -- chat completions ------------------------------------------------------------------------

def test_chat_request_parameters_and_token_counting(server, client):
    server.enqueue(Reply(text="Paris.", usage=Usage(1000, 100, cache_read_tokens=400, reasoning_tokens=20)))
    with llmops_nb.span("cell") as root:
        client.chat.completions.create(model="gpt-4o", messages=user("Capital?"), temperature=0.2, max_tokens=50,
                                       top_p=0.9, seed=7, stop=["\n"], n=2)
    attrs = only_span(root)["attributes"]
    assert attrs["gen_ai.request.temperature"] == 0.2 and attrs["gen_ai.request.top_p"] == 0.9
    assert attrs["gen_ai.request.seed"] == 7 and attrs["gen_ai.request.stop_sequences"] == ["\n"]
    assert attrs["gen_ai.request.choice.count"] == 2
    # OpenAI's input_tokens already include the cached ones, output_tokens the reasoning ones
    assert attrs["gen_ai.usage.input_tokens"] == 1000 and attrs["gen_ai.usage.output_tokens"] == 100
    assert attrs["gen_ai.usage.cache_read.input_tokens"] == 400
    assert attrs["gen_ai.usage.reasoning.output_tokens"] == 20
    # gpt-4o: 600 fresh x $2.50 + 400 cached x $1.25 + 100 out x $10, per 1M
    assert attrs["llmops_nb.cost_usd"] == pytest.approx(0.003)


def test_tool_calls(server, client):
    server.enqueue(Reply(text=None, tool_calls=[WEATHER]))
    with llmops_nb.span("cell") as root:
        result = client.chat.completions.create(model="gpt-4o", messages=user("Weather?"),
                                                tools=[{"type": "function", "function": {"name": "get_weather"}}])
    span = only_span(root)
    assert span["outputs"]["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] == '{"city":"Paris"}'
    assert span["inputs"]["tools"][0]["function"]["name"] == "get_weather"
    assert span["attributes"]["gen_ai.response.finish_reasons"] == ["tool_calls"]
    assert result.choices[0].message.tool_calls[0].id == "call_fake1_0"


def test_parse_output_keeps_the_parsed_object(server, client):
    class City(pydantic.BaseModel):
        name: str

    server.enqueue(Reply(text='{"name": "Paris"}'))
    with llmops_nb.span("cell") as root:
        client.chat.completions.parse(model="gpt-4o", messages=user("City?"), response_format=City)
    assert only_span(root)["outputs"]["choices"][0]["message"]["parsed"] == {"name": "Paris"}


def test_stream_aggregate_is_a_completion_in_depth(server, client):
    server.enqueue(Reply(text="It is sunny.", tool_calls=[WEATHER], usage=Usage(50, 12, cache_read_tokens=10)))
    with llmops_nb.span("cell") as root:
        list(client.chat.completions.create(model="gpt-4o", messages=user("hi"), stream=True,
                                            stream_options={"include_usage": True}))
    span = only_span(root)
    message = span["outputs"]["choices"][0]["message"]
    assert "annotations" in message and message["tool_calls"][0]["type"] == "function"  # nested fields filled in
    assert span["outputs"]["usage"]["prompt_tokens"] == 50
    assert span["attributes"]["gen_ai.usage.cache_read.input_tokens"] == 10


# -- responses ----------------------------------------------------------------------------------

def test_responses_create_and_stream(server, client):
    usage = Usage(300, 40, cache_read_tokens=100, reasoning_tokens=8)
    server.enqueue(Reply(text="Hi!", tool_calls=[WEATHER], usage=usage), Reply(text="Hello there", usage=usage))
    with llmops_nb.span("cell") as root:
        response = client.responses.create(model="gpt-5.4", input="Hello", max_output_tokens=64)
        events = list(client.responses.create(model="gpt-5.4", input="Hello", stream=True))
    plain, streamed = llm_spans(root)
    assert plain["name"] == "openai.responses.create" and plain["outputs"] == response.model_dump(mode="json")
    attrs = plain["attributes"]
    assert attrs["gen_ai.request.max_tokens"] == 64 and attrs["gen_ai.response.finish_reasons"] == ["tool_calls"]
    assert attrs["gen_ai.usage.input_tokens"] == 300 and attrs["gen_ai.usage.cache_read.input_tokens"] == 100
    assert attrs["gen_ai.usage.reasoning.output_tokens"] == 8
    # gpt-5.4: 200 fresh x $2.50 + 100 cached x $0.25 + 40 out x $15, per 1M
    assert attrs["llmops_nb.cost_usd"] == pytest.approx(0.001125)
    assert streamed["outputs"] == events[-1].response.model_dump(mode="json")
    assert streamed["attributes"]["gen_ai.response.finish_reasons"] == ["stop"]
    assert streamed["attributes"]["llmops_nb.stream.complete"] is True


def test_responses_stream_error_event_marks_error(server, client):
    server.enqueue(Reply(text="a b c", fail_after=5))
    with llmops_nb.span("cell") as root:
        events = list(client.responses.create(model="gpt-5.4", input="hi", stream=True))
    assert events[-1].type == "error"
    span = only_span(root)
    assert span["status"] == "ERROR" and "server_error" in span["status_message"]
    assert span["outputs"]["output"][0]["content"][0]["text"] == "a"


def test_responses_stream_helper_and_async(server, client):
    server.enqueue(Reply(text="helper"), Reply(text="async"))
    with llmops_nb.span("cell") as root:
        with client.responses.stream(model="gpt-5.4", input="hi") as stream:
            assert stream.get_final_response().output_text == "helper"

        async def main():
            async with openai.AsyncOpenAI(api_key="sk-test", base_url=server.openai_base_url,
                                          max_retries=0) as sdk:
                return await sdk.responses.create(model="gpt-5.4", input="hi")

        assert asyncio.run(main()).output_text == "async"
    helper, later = llm_spans(root)
    assert helper["attributes"]["llmops_nb.stream"] is True
    assert helper["outputs"]["output"][0]["content"][0]["text"] == "helper"
    assert later["outputs"]["output"][0]["content"][0]["text"] == "async"
