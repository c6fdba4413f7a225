"""The fake LLM server, driven by the real openai and anthropic SDKs (nothing patched).

Each test asserts what the SDK *parsed*, so a wire field the fake spells wrong
shows up here rather than as a puzzling failure in a capture test.
"""

from __future__ import annotations

import asyncio
import json
import time

import anthropic
import openai
import pytest

from tests.fakes import FakeLLMServer, Reply, ToolCall, Usage

CLAUDE = "claude-opus-4-7"
WEATHER = ToolCall("get_weather", {"city": "Paris", "unit": "celsius"})


@pytest.fixture
def server():
    with FakeLLMServer() as fake:
        yield fake


@pytest.fixture
def oai(server):
    with openai.OpenAI(api_key="sk-test", base_url=server.openai_base_url, max_retries=0) as client:
        yield client


@pytest.fixture
def claude(server):
    with anthropic.Anthropic(api_key="sk-ant-test", base_url=server.anthropic_base_url, max_retries=0) as client:
        yield client


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


# -- OpenAI Chat Completions -------------------------------------------------------

def test_chat_completion_json(server, oai):
    server.enqueue(Reply(text="Paris.", usage=Usage(input_tokens=20, output_tokens=7, cache_read_tokens=8,
                                                    reasoning_tokens=3)))
    completion = oai.chat.completions.create(model="gpt-4o", messages=user("Capital of France?"), temperature=0.2)

    assert completion.choices[0].message.content == "Paris."
    assert completion.choices[0].finish_reason == "stop"
    assert completion.model == "gpt-4o" and completion.id.startswith("chatcmpl-")
    usage = completion.usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (20, 7, 27)
    assert usage.prompt_tokens_details.cached_tokens == 8
    assert usage.completion_tokens_details.reasoning_tokens == 3
    sent = server.requests[-1]
    assert (sent.method, sent.path) == ("POST", "/v1/chat/completions")
    assert sent.body["messages"] == user("Capital of France?") and sent.body["temperature"] == 0.2
    assert sent.headers["authorization"] == "Bearer sk-test"


def test_chat_completion_tool_calls_json(server, oai):
    server.enqueue(Reply(text=None, tool_calls=[WEATHER, ToolCall("get_time", {}, id="call_given")]))
    message = oai.chat.completions.create(model="gpt-4o", messages=user("Weather?")).choices[0]

    assert message.finish_reason == "tool_calls"
    assert message.message.content is None
    calls = message.message.tool_calls
    assert [c.function.name for c in calls] == ["get_weather", "get_time"]
    assert json.loads(calls[0].function.arguments) == {"city": "Paris", "unit": "celsius"}
    assert calls[1].id == "call_given" and calls[0].type == "function"


def test_chat_stream_text_tool_calls_and_usage(server, oai):
    server.enqueue(Reply(text="Let me check.", tool_calls=[WEATHER], usage=Usage(11, 9, cache_read_tokens=4)))
    chunks = list(oai.chat.completions.create(model="gpt-4o", messages=user("Weather?"), stream=True,
                                              stream_options={"include_usage": True}))

    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Let me check."
    deltas = [t for c in chunks if c.choices for t in c.choices[0].delta.tool_calls or []]
    assert deltas[0].id and deltas[0].function.name == "get_weather" and deltas[0].index == 0
    assert json.loads("".join(d.function.arguments or "" for d in deltas)) == WEATHER.arguments
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "tool_calls"
    assert chunks[-1].choices == [] and chunks[-1].usage.prompt_tokens == 11
    assert chunks[-1].usage.prompt_tokens_details.cached_tokens == 4
    assert all(c.usage is None for c in chunks[:-1])


def test_chat_stream_without_include_usage_has_no_usage_chunk(server, oai):
    chunks = list(oai.chat.completions.create(model="gpt-4o", messages=user("hi"), stream=True))
    assert all(c.choices for c in chunks) and all(c.usage is None for c in chunks)


def test_chat_stream_helper_accumulates(server, oai):
    server.enqueue(Reply(text="Sunny", tool_calls=[WEATHER]))
    with oai.chat.completions.stream(model="gpt-4o", messages=user("Weather?")) as stream:
        events = [event.type for event in stream]
        final = stream.get_final_completion()
    assert "content.delta" in events and "tool_calls.function.arguments.done" in events
    assert final.choices[0].message.content == "Sunny"
    assert json.loads(final.choices[0].message.tool_calls[0].function.arguments) == WEATHER.arguments


def test_chat_async_json_and_stream(server):
    server.enqueue(Reply(text="one"), Reply(text="two three"))

    async def main() -> tuple[str, str]:
        async with openai.AsyncOpenAI(api_key="sk-test", base_url=server.openai_base_url, max_retries=0) as client:
            first = await client.chat.completions.create(model="gpt-4o-mini", messages=user("a"))
            stream = await client.chat.completions.create(model="gpt-4o-mini", messages=user("b"), stream=True)
            pieces = [c.choices[0].delta.content or "" async for c in stream]
            return first.choices[0].message.content, "".join(pieces)

    assert asyncio.run(main()) == ("one", "two three")
    assert server.requests[-1].headers["x-stainless-async"].startswith("async")


# -- OpenAI Responses ---------------------------------------------------------------

def test_responses_json(server, oai):
    server.enqueue(Reply(text="Hi!", tool_calls=[WEATHER],
                         usage=Usage(30, 12, cache_read_tokens=10, cache_creation_tokens=5, reasoning_tokens=6)))
    response = oai.responses.create(model="gpt-5", input="Hello", instructions="Be brief.")

    assert response.output_text == "Hi!" and response.status == "completed"
    call = response.output[1]
    assert (call.type, call.name, json.loads(call.arguments)) == ("function_call", "get_weather", WEATHER.arguments)
    usage = response.usage
    assert (usage.input_tokens, usage.output_tokens, usage.total_tokens) == (30, 12, 42)
    assert usage.input_tokens_details.cached_tokens == 10
    assert usage.input_tokens_details.cache_write_tokens == 5
    assert usage.output_tokens_details.reasoning_tokens == 6
    assert response.instructions == "Be brief." and server.requests[-1].path == "/v1/responses"


def test_responses_incomplete(server, oai):
    server.enqueue(Reply(text="Once upon", finish_reason="max_output_tokens"))
    response = oai.responses.create(model="gpt-5", input="Tell a story", max_output_tokens=2)
    assert response.status == "incomplete" and response.incomplete_details.reason == "max_output_tokens"


def test_responses_stream_events(server, oai):
    server.enqueue(Reply(text="Hello there", tool_calls=[WEATHER], usage=Usage(5, 4)))
    events = list(oai.responses.create(model="gpt-5", input="Hi", stream=True))

    kinds = [e.type for e in events]
    assert kinds[:2] == ["response.created", "response.in_progress"] and kinds[-1] == "response.completed"
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == "Hello there"
    args = "".join(e.delta for e in events if e.type == "response.function_call_arguments.delta")
    assert json.loads(args) == WEATHER.arguments
    assert events[0].response.status == "in_progress" and events[0].response.usage is None
    assert events[-1].response.output_text == "Hello there" and events[-1].response.usage.output_tokens == 4


def test_responses_stream_helper_and_async(server, oai):
    server.enqueue(Reply(text="sync"), Reply(text="async text"))
    with oai.responses.stream(model="gpt-5", input="Hi") as stream:
        for _ in stream:
            pass
        assert stream.get_final_response().output_text == "sync"

    async def main() -> str:
        async with openai.AsyncOpenAI(api_key="sk-test", base_url=server.openai_base_url, max_retries=0) as client:
            stream = await client.responses.create(model="gpt-5", input="Hi", stream=True)
            return "".join([e.delta async for e in stream if e.type == "response.output_text.delta"])

    assert asyncio.run(main()) == "async text"


# -- Anthropic Messages -------------------------------------------------------------

def test_messages_json(server, claude):
    server.enqueue(Reply(text="Bonjour", tool_calls=[WEATHER],
                         usage=Usage(15, 6, cache_read_tokens=100, cache_creation_tokens=50, reasoning_tokens=2)))
    message = claude.messages.create(model=CLAUDE, max_tokens=64, messages=user("Hi"), system="Be brief.")

    assert message.stop_reason == "tool_use" and message.model == CLAUDE and message.role == "assistant"
    assert message.content[0].type == "text" and message.content[0].text == "Bonjour"
    tool = message.content[1]
    assert (tool.type, tool.name, tool.input) == ("tool_use", "get_weather", WEATHER.arguments)
    usage = message.usage
    assert (usage.input_tokens, usage.output_tokens) == (15, 6)
    assert (usage.cache_read_input_tokens, usage.cache_creation_input_tokens) == (100, 50)
    assert usage.output_tokens_details.thinking_tokens == 2
    sent = server.requests[-1]
    assert sent.path == "/v1/messages" and sent.body["system"] == "Be brief." and sent.body["max_tokens"] == 64


def test_messages_raw_stream_events(server, claude):
    server.enqueue(Reply(text="Hi there", tool_calls=[WEATHER], usage=Usage(9, 7, cache_read_tokens=3)))
    events = list(claude.messages.create(model=CLAUDE, max_tokens=64, messages=user("Hi"), stream=True))

    kinds = [e.type for e in events]  # the SDK drops `ping`
    assert kinds[0] == "message_start" and kinds[-2:] == ["message_delta", "message_stop"]
    assert events[0].message.usage.input_tokens == 9 and events[0].message.usage.cache_read_input_tokens == 3
    text = "".join(e.delta.text for e in events if e.type == "content_block_delta" and e.delta.type == "text_delta")
    assert text == "Hi there"
    partial = "".join(e.delta.partial_json for e in events
                      if e.type == "content_block_delta" and e.delta.type == "input_json_delta")
    assert json.loads(partial) == WEATHER.arguments
    delta = events[-2]
    assert delta.delta.stop_reason == "tool_use" and delta.usage.output_tokens == 7


def test_messages_stream_helper_sync_and_async(server, claude):
    server.enqueue(Reply(text="sync words", usage=Usage(4, 2)), Reply(text="async words", tool_calls=[WEATHER]))
    with claude.messages.stream(model=CLAUDE, max_tokens=64, messages=user("Hi")) as stream:
        assert "".join(stream.text_stream) == "sync words"
        final = stream.get_final_message()
    assert final.usage.output_tokens == 2 and final.stop_reason == "end_turn"

    async def main():
        async with anthropic.AsyncAnthropic(api_key="sk-ant-test", base_url=server.anthropic_base_url,
                                            max_retries=0) as client:
            async with client.messages.stream(model=CLAUDE, max_tokens=64, messages=user("Hi")) as stream:
                return await stream.get_final_message()

    message = asyncio.run(main())
    assert message.content[0].text == "async words" and message.content[1].input == WEATHER.arguments


# -- errors, retries, failures midway ---------------------------------------------------

def test_rate_limit_then_retry_succeeds(server):
    server.enqueue(Reply.error(429, retry_after=0.01), Reply(text="after retry"))
    with openai.OpenAI(api_key="sk-test", base_url=server.openai_base_url, max_retries=1) as client:
        completion = client.chat.completions.create(model="gpt-4o", messages=user("hi"))
    assert completion.choices[0].message.content == "after retry"
    assert [r.headers["x-stainless-retry-count"] for r in server.requests] == ["0", "1"]


def test_openai_error_shapes(server, oai):
    server.enqueue(Reply.error(429, "Slow down", retry_after=2), Reply.error(500))
    with pytest.raises(openai.RateLimitError) as limited:
        oai.chat.completions.create(model="gpt-4o", messages=user("hi"))
    assert limited.value.status_code == 429 and limited.value.code == "rate_limit_exceeded"
    assert limited.value.body["message"] == "Slow down"
    assert limited.value.response.headers["retry-after"] == "2"
    with pytest.raises(openai.InternalServerError) as failed:
        oai.responses.create(model="gpt-5", input="hi")
    assert failed.value.type == "server_error" and failed.value.request_id


def test_anthropic_error_shapes(server, claude):
    server.enqueue(Reply.error(429, retry_after=1), Reply.error(529), Reply.error(400, "bad tools"))
    with pytest.raises(anthropic.RateLimitError) as limited:
        claude.messages.create(model=CLAUDE, max_tokens=8, messages=user("hi"))
    assert limited.value.type == "rate_limit_error" and limited.value.response.headers["retry-after"] == "1"
    with pytest.raises(anthropic.OverloadedError):
        claude.messages.create(model=CLAUDE, max_tokens=8, messages=user("hi"))
    with pytest.raises(anthropic.BadRequestError) as bad:
        claude.messages.create(model=CLAUDE, max_tokens=8, messages=user("hi"))
    assert bad.value.api_message == "bad tools" and bad.value.request_id


def test_stream_error_event_midway(server, oai, claude):
    server.enqueue(Reply(text="a b c d e f", fail_after=3), Reply(text="a b c d e f", fail_after=3))
    seen = []
    with pytest.raises(openai.APIError, match="error while streaming"):
        for chunk in oai.chat.completions.create(model="gpt-4o", messages=user("hi"), stream=True):
            seen.append(chunk.choices[0].delta.content)
    assert seen == ["", "a", " b"]
    with pytest.raises(anthropic.APIStatusError) as failed:
        for _ in claude.messages.create(model=CLAUDE, max_tokens=8, messages=user("hi"), stream=True):
            pass
    assert failed.value.body["error"]["type"] == "overloaded_error"


def test_responses_error_event_is_an_event(server, oai):
    server.enqueue(Reply(text="a b c", fail_after=4))
    events = list(oai.responses.create(model="gpt-5", input="hi", stream=True))
    assert events[-1].type == "error" and events[-1].code == "server_error" and len(events) == 5


def test_stream_disconnect_midway(server, oai, claude):
    server.enqueue(Reply(text="a b c d", fail_after=2, failure="disconnect"),
                   Reply(text="a b c d", fail_after=2, failure="disconnect"))
    with pytest.raises(openai.APIConnectionError):
        list(oai.chat.completions.create(model="gpt-4o", messages=user("hi"), stream=True))
    with pytest.raises(Exception, match="incomplete chunked read"):  # the anthropic SDK lets httpx's error through
        list(claude.messages.create(model=CLAUDE, max_tokens=8, messages=user("hi"), stream=True))
    assert oai.chat.completions.create(model="gpt-4o", messages=user("still up")).choices[0].message.content


def test_chunk_delay_and_client_closing_early(server, oai):
    server.enqueue(Reply(text="one two three four five six", chunk_delay=0.05))
    start = time.monotonic()
    stream = oai.chat.completions.create(model="gpt-4o", messages=user("hi"), stream=True)
    first = [next(stream), next(stream)]
    elapsed = time.monotonic() - start
    stream.close()
    assert first[1].choices[0].delta.content == "one" and 0.04 < elapsed < 1.0
    assert oai.chat.completions.create(model="gpt-4o", messages=user("next")).choices[0].message.content


# -- defaults and routing -----------------------------------------------------------

def test_default_reply_echoes_deterministically(server, oai, claude):
    first = oai.chat.completions.create(model="gpt-4o", messages=user("Hello   there  world"))
    again = oai.chat.completions.create(model="gpt-4o", messages=user("Hello   there  world"))
    assert first.choices[0].message.content == again.choices[0].message.content == "echo: Hello there world"
    assert first.usage.prompt_tokens == 3 and first.usage.completion_tokens == 4
    parts = [{"role": "user", "content": [{"type": "text", "text": "from blocks"}]}]
    assert claude.messages.create(model=CLAUDE, max_tokens=8, messages=parts).content[0].text == "echo: from blocks"
    assert server.pending == 0


def test_unknown_route_is_a_404_and_queue_is_kept(server, oai):
    server.enqueue("kept for later")
    with pytest.raises(openai.NotFoundError):
        oai.moderations.create(input="x")
    assert server.pending == 1
    assert oai.chat.completions.create(model="gpt-4o", messages=user("hi")).choices[0].message.content == (
        "kept for later")


def test_close_is_idempotent():
    server = FakeLLMServer()
    url = server.base_url
    server.close()
    server.close()
    with openai.OpenAI(api_key="x", base_url=f"{url}/v1", max_retries=0, timeout=2) as client:
        with pytest.raises(openai.APIConnectionError):
            client.chat.completions.create(model="gpt-4o", messages=user("hi"))
