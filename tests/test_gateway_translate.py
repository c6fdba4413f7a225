"""OpenAI chat ⇄ Anthropic messages (llmops_nb/gateway/_translate.py, _translate_stream.py).

Answers come from the fake provider server (its exact wire shapes); translated answers are read
back with the official SDKs, through a mock transport, so "a client of the other protocol can use
this" is checked by that client's own parser.
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import AsyncIterator
from typing import Any

import anthropic
import httpx2
import openai
import pytest

from llmops_nb.gateway._sse import fields
from llmops_nb.gateway._translate import (
    chat_response_to_messages,
    chat_stream_to_messages,
    chat_to_messages,
    messages_response_to_chat,
    messages_stream_to_chat,
    messages_to_chat,
)
from llmops_nb.gateway._types import Deployment, UpstreamFailure
from llmops_nb.gateway._upstream import Upstream
from tests.fakes import FakeLLMServer, Reply, ToolCall, Usage

SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
PNG = "iVBORw0KGgoAAAANSUhEUg=="

CHAT_REQUEST: dict[str, Any] = {
    "model": "chat",
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [
            {"type": "text", "text": "What is in these, and the weather?"},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
            {"type": "image_url", "image_url": {"url": "https://example.test/cat.jpg"}},
            {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0="}}]},
        {"role": "assistant", "content": "Let me check.", "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": '{"city":"Paris"}'}},
            {"id": "call_2", "type": "function", "function": {"name": "weather", "arguments": '{"city":"Rome"}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
        {"role": "tool", "tool_call_id": "call_2", "content": "24C"},
        {"role": "user", "content": [{"type": "text", "text": "Thanks"}]},
    ],
    "max_completion_tokens": 300, "stop": ["END"], "temperature": 0.2, "top_p": 0.9, "user": "alice",
    "stream": True, "stream_options": {"include_usage": True},
    "tools": [{"type": "function", "function": {"name": "weather", "description": "Weather in a city",
                                                "parameters": SCHEMA}}],
    "tool_choice": "required", "parallel_tool_calls": False,
}

MESSAGES_REQUEST: dict[str, Any] = {
    "model": "chat",
    "max_tokens": 300,
    "system": "Be brief.",
    "messages": [
        {"role": "user", "content": [
            {"type": "text", "text": "What is in these, and the weather?"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
            {"type": "image", "source": {"type": "url", "url": "https://example.test/cat.jpg"}},
            {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0="}}]},
        {"role": "assistant", "content": [
            {"type": "text", "text": "Let me check."},
            {"type": "tool_use", "id": "call_1", "name": "weather", "input": {"city": "Paris"}},
            {"type": "tool_use", "id": "call_2", "name": "weather", "input": {"city": "Rome"}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "call_1", "content": "18C"},
            {"type": "tool_result", "tool_use_id": "call_2", "content": "24C"},
            {"type": "text", "text": "Thanks"}]},
    ],
    "stop_sequences": ["END"], "temperature": 0.2, "top_p": 0.9, "metadata": {"user_id": "alice"}, "stream": True,
    "tools": [{"name": "weather", "description": "Weather in a city", "input_schema": SCHEMA}],
    "tool_choice": {"type": "any", "disable_parallel_tool_use": True},
}

REPLY = Reply(text="Checking the weather now.", tool_calls=[ToolCall("weather", {"city": "Paris"}, id="call_a"),
                                                            ToolCall("weather", {"city": "Rome"}, id="call_b")],
              usage=Usage(input_tokens=12, output_tokens=7, cache_read_tokens=3))


# -- requests --------------------------------------------------------------------------------------

def test_a_chat_request_becomes_the_equivalent_messages_request():
    assert chat_to_messages(CHAT_REQUEST) == MESSAGES_REQUEST


def test_a_messages_request_becomes_the_equivalent_chat_request():
    assert messages_to_chat(MESSAGES_REQUEST) == CHAT_REQUEST


def test_requests_survive_a_round_trip_and_the_input_is_not_changed():
    chat, messages = copy.deepcopy(CHAT_REQUEST), copy.deepcopy(MESSAGES_REQUEST)
    assert messages_to_chat(chat_to_messages(chat)) == CHAT_REQUEST
    assert chat_to_messages(messages_to_chat(messages)) == MESSAGES_REQUEST
    assert (chat, messages) == (CHAT_REQUEST, MESSAGES_REQUEST)


def test_chat_request_defaults_and_small_forms():
    out = chat_to_messages({"model": "m", "max_tokens": 5, "stop": "END", "tool_choice": {
        "type": "function", "function": {"name": "weather"}}, "seed": 1, "presence_penalty": 0.5,
        "messages": [{"role": "developer", "content": [{"type": "text", "text": "A"}]},
                     {"role": "system", "content": "B"}, {"role": "user", "content": "hi"},
                     {"role": "assistant", "content": None, "tool_calls": [
                         {"id": "c", "type": "function", "function": {"name": "f", "arguments": "not json"}}]},
                     {"role": "tool", "tool_call_id": "c", "content": [{"type": "text", "text": "ok"}]}]})
    assert out == {"model": "m", "max_tokens": 5, "system": "A\n\nB", "stop_sequences": ["END"],
                   "tool_choice": {"type": "tool", "name": "weather"},
                   "messages": [{"role": "user", "content": "hi"},
                                {"role": "assistant", "content": [{"type": "tool_use", "id": "c", "name": "f",
                                                                   "input": {}}]},
                                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "c",
                                                              "content": [{"type": "text", "text": "ok"}]}]}]}
    assert chat_to_messages({"messages": []})["max_tokens"] == 4096  # Anthropic requires it


@pytest.mark.parametrize(("translate", "body", "match"), [
    (chat_to_messages, {"n": 2, "messages": []}, "n > 1"),
    (chat_to_messages, {"messages": [{"role": "function", "content": "x"}]}, "role 'function'"),
    (chat_to_messages, {"messages": [{"role": "user", "content": [{"type": "input_audio"}]}]}, "input_audio"),
    (chat_to_messages, {"messages": [], "tools": [{"type": "web_search"}]}, "only function tools"),
    (chat_to_messages, {"messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "ftp://x"}}]}]}, "data: URL or an http"),
    (messages_to_chat, {"messages": [], "tools": [{"type": "web_search_20250305", "name": "web_search"}]},
     "server tool"),
    (messages_to_chat, {"messages": [{"role": "user", "content": [{"type": "search_result"}]}]}, "search_result"),
])
def test_what_cannot_be_expressed_is_refused_as_a_client_failure(translate, body, match):
    with pytest.raises(UpstreamFailure, match=match) as caught:
        translate(body)
    assert (caught.value.kind, caught.value.status) == ("client", 400)


# -- responses (the fake's real wire shapes) --------------------------------------------------------

def _answer(protocol: str, reply: Reply, body: dict[str, Any]) -> dict[str, Any]:
    with FakeLLMServer() as server:
        server.enqueue(reply)
        base = server.openai_base_url if protocol == "openai" else server.anthropic_base_url
        d = Deployment("chat", "d", protocol, f"{protocol}-up", protocol, api_base=base, timeout=5)

        async def go() -> dict[str, Any]:
            upstream = Upstream(lambda d: "k")
            try:
                return (await upstream.send(d, "chat", body))[0]
            finally:
                await upstream.aclose()
        return asyncio.run(go())


def test_an_anthropic_answer_reads_as_an_openai_chat_completion():
    raw = _answer("anthropic", REPLY, {"max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]})
    chat = messages_response_to_chat(raw, "chat")
    parsed = openai.types.chat.ChatCompletion.model_validate(chat)
    choice = parsed.choices[0]
    assert choice.message.content == "Checking the weather now." and choice.finish_reason == "tool_calls"
    assert [(c.id, c.function.name, json.loads(c.function.arguments)) for c in choice.message.tool_calls] == [
        ("call_a", "weather", {"city": "Paris"}), ("call_b", "weather", {"city": "Rome"})]
    assert (parsed.usage.prompt_tokens, parsed.usage.completion_tokens, parsed.usage.total_tokens) == (15, 7, 22)
    assert parsed.usage.prompt_tokens_details.cached_tokens == 3
    assert parsed.model == "anthropic-up" and parsed.id == raw["id"]  # the upstream's, as when passed through
    assert chat_response_to_messages(chat, "chat")["content"] == [
        {k: b[k] for k in ("type", "text", "id", "name", "input") if k in b} for b in raw["content"]]


def test_an_openai_answer_reads_as_an_anthropic_message():
    raw = _answer("openai", REPLY, {"messages": [{"role": "user", "content": "hi"}]})
    message = chat_response_to_messages(raw, "chat")
    parsed = anthropic.types.Message.model_validate(message)
    assert [b.type for b in parsed.content] == ["text", "tool_use", "tool_use"]
    assert parsed.content[0].text == "Checking the weather now." and parsed.stop_reason == "tool_use"
    assert [(b.id, b.name, b.input) for b in parsed.content[1:]] == [("call_a", "weather", {"city": "Paris"}),
                                                                       ("call_b", "weather", {"city": "Rome"})]
    # OpenAI counts cached tokens in prompt_tokens; Anthropic does not count them in input_tokens
    assert (parsed.usage.input_tokens, parsed.usage.cache_read_input_tokens, parsed.usage.output_tokens) == (9, 3, 7)
    assert parsed.model == "openai-up"
    back = messages_response_to_chat(message, "chat")
    assert back["choices"][0]["message"]["tool_calls"] == raw["choices"][0]["message"]["tool_calls"]
    assert back["usage"]["prompt_tokens"] == raw["usage"]["prompt_tokens"]


@pytest.mark.parametrize(("stop", "finish"), [("end_turn", "stop"), ("max_tokens", "length"),
                                              ("stop_sequence", "stop"), ("tool_use", "tool_calls")])
def test_stop_reasons_map_both_ways(stop, finish):
    chat = messages_response_to_chat({"content": [{"type": "text", "text": "x"}], "stop_reason": stop}, "asked")
    assert chat["choices"][0]["finish_reason"] == finish and chat["model"] == "asked"  # the fallback model
    if stop != "stop_sequence":
        assert chat_response_to_messages(chat, "asked")["stop_reason"] == stop


# -- streams -----------------------------------------------------------------------------------------

def _translated_stream(protocol: str, reply: Reply, body: dict[str, Any], translate: Any,
                       **options: Any) -> list[bytes]:
    """The fake's real stream in ``protocol``, through the Upstream and ``translate``."""
    with FakeLLMServer() as server:
        server.enqueue(reply)
        base = server.openai_base_url if protocol == "openai" else server.anthropic_base_url
        d = Deployment("chat", "d", protocol, f"{protocol}-up", protocol, api_base=base, timeout=5)

        async def go() -> list[bytes]:
            upstream = Upstream(lambda d: "k")
            try:
                stream = await upstream.open_stream(d, "chat", body)
                return [event async for event in translate(stream.events(), "chat", **options)]
            finally:
                await upstream.aclose()
        return asyncio.run(go())


def _serve(events: list[bytes]) -> httpx2.MockTransport:
    return httpx2.MockTransport(lambda request: httpx2.Response(
        200, content=b"".join(events), headers={"content-type": "text/event-stream"}))


def _openai_read(events: list[bytes]) -> tuple[str, dict[int, list[str]], str | None, Any, list[Any]]:
    """What an OpenAI SDK client reads: text, tool calls by index, finish_reason, usage, the chunks."""
    with httpx2.Client(transport=_serve(events)) as http, \
            openai.OpenAI(api_key="k", base_url="http://gw.test/v1", http_client=http) as client:
        chunks = list(client.chat.completions.create(model="chat", messages=[], stream=True))
    text, calls, finish, usage = "", {}, None, None
    for chunk in chunks:
        usage = chunk.usage or usage
        for choice in chunk.choices:
            text += choice.delta.content or ""
            finish = choice.finish_reason or finish
            for call in choice.delta.tool_calls or []:  # [id, name, arguments] as the deltas built them
                parts = calls.setdefault(call.index, ["", "", ""])
                parts[0] += call.id or ""
                parts[1] += call.function.name or ""
                parts[2] += call.function.arguments or ""
    return text, calls, finish, usage, chunks


def _anthropic_read(events: list[bytes]) -> anthropic.types.Message:
    with httpx2.Client(transport=_serve(events)) as http, \
            anthropic.Anthropic(api_key="k", base_url="http://gw.test", http_client=http) as client, \
            client.messages.stream(model="chat", max_tokens=10, messages=[]) as stream:
        return stream.get_final_message()


ANTHROPIC_STREAM = {"max_tokens": 50, "stream": True, "messages": [{"role": "user", "content": "hi"}]}
CHAT_STREAM = {"stream": True, "stream_options": {"include_usage": True},
               "messages": [{"role": "user", "content": "hi"}]}


def test_an_anthropic_stream_reads_as_openai_chunks_with_text_tool_calls_and_usage():
    events = _translated_stream("anthropic", REPLY, ANTHROPIC_STREAM, messages_stream_to_chat, include_usage=True)
    assert events[-1] == b"data: [DONE]\n\n" and all(e.startswith(b"data: ") for e in events)
    text, calls, finish, usage, chunks = _openai_read(events)
    assert text == "Checking the weather now." and finish == "tool_calls"
    assert calls == {0: ["call_a", "weather", '{"city":"Paris"}'], 1: ["call_b", "weather", '{"city":"Rome"}']}
    assert (usage.prompt_tokens, usage.completion_tokens) == (15, 7)
    assert {c.model for c in chunks} == {"anthropic-up"} and len({c.id for c in chunks}) == 1


def test_without_include_usage_the_translated_stream_has_no_usage_chunk():
    events = _translated_stream("anthropic", Reply(text="a b"), ANTHROPIC_STREAM, messages_stream_to_chat)
    text, _calls, finish, usage, _chunks = _openai_read(events)
    assert (text, finish, usage) == ("a b", "stop", None) and b'"usage"' not in b"".join(events)


def test_an_openai_stream_reads_as_an_anthropic_message_stream():
    events = _translated_stream("openai", REPLY, CHAT_STREAM, chat_stream_to_messages)
    assert [fields(e)[0] for e in events] == [
        "message_start", "content_block_start", *["content_block_delta"] * 4, "content_block_stop",
        "content_block_start", *["content_block_delta"] * 2, "content_block_stop",
        "content_block_start", *["content_block_delta"] * 2, "content_block_stop", "message_delta", "message_stop"]
    message = _anthropic_read(events)
    assert [b.type for b in message.content] == ["text", "tool_use", "tool_use"]
    assert message.content[0].text == "Checking the weather now."
    assert [(b.id, b.input) for b in message.content[1:]] == [("call_a", {"city": "Paris"}),
                                                               ("call_b", {"city": "Rome"})]
    assert message.stop_reason == "tool_use" and message.model == "openai-up"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (9, 7)
    assert message.usage.cache_read_input_tokens == 3


def test_streams_survive_a_round_trip():
    async def replay(events: list[bytes]) -> AsyncIterator[bytes]:
        for event in events:
            yield event

    async def through(events: list[bytes], *steps: Any) -> list[bytes]:
        stream: Any = replay(events)
        for step in steps:
            stream = step(stream)
        return [event async for event in stream]

    anthropic_events = _translated_stream("anthropic", REPLY, ANTHROPIC_STREAM, lambda events, _name: events)
    both_ways = asyncio.run(through(anthropic_events, lambda s: messages_stream_to_chat(s, "chat", include_usage=True),
                                    lambda s: chat_stream_to_messages(s, "chat")))
    original, back = _anthropic_read(anthropic_events), _anthropic_read(both_ways)
    assert back.content == original.content and back.stop_reason == original.stop_reason
    assert (back.usage.output_tokens, back.usage.input_tokens) == (original.usage.output_tokens, 12)

    chat_events = _translated_stream("openai", REPLY, CHAT_STREAM, lambda events, _name: events)
    both_ways = asyncio.run(through(chat_events, lambda s: chat_stream_to_messages(s, "chat"),
                                    lambda s: messages_stream_to_chat(s, "chat", include_usage=True)))
    assert _openai_read(both_ways)[:3] == _openai_read(chat_events)[:3]


def test_an_error_mid_stream_becomes_the_clients_error_event():
    failing = Reply(text="a b c d", fail_after=3, error_message="Overloaded")
    to_chat = _translated_stream("anthropic", failing, ANTHROPIC_STREAM, messages_stream_to_chat)
    assert b'"error"' in to_chat[-1] and b"[DONE]" not in b"".join(to_chat)
    with pytest.raises(openai.APIError, match="Overloaded"):
        _openai_read(to_chat)
    to_messages = _translated_stream("openai", failing, CHAT_STREAM, chat_stream_to_messages)
    assert fields(to_messages[-1])[0] == "error"
    with pytest.raises(anthropic.APIError, match="Overloaded"):
        _anthropic_read(to_messages)
