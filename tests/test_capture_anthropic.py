"""Auto-capture of the anthropic SDK, driven through the real SDK against the fake server."""

from __future__ import annotations

import asyncio
import gc
import json
import warnings

import anthropic
import pydantic
import pytest

import llmops_nb
from tests.fakes import FakeLLMServer, Reply, ToolCall, Usage

MODEL = "claude-opus-4-7"
WEATHER = ToolCall("get_weather", {"city": "Paris"})


@pytest.fixture(autouse=True)
def autologged():
    assert "anthropic" in llmops_nb.autolog()
    yield
    llmops_nb.autolog(disable=True)


@pytest.fixture
def server():
    with FakeLLMServer() as fake:
        yield fake


@pytest.fixture
def client(server):
    with anthropic.Anthropic(api_key="sk-ant-test", base_url=server.anthropic_base_url, max_retries=0) as sdk:
        yield sdk


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def llm_spans(root) -> list[dict]:
    llmops_nb.flush()
    frame = llmops_nb.spans(root.trace_id)
    return [row for row in frame.to_dict("records") if row["kind"] == "CHAT_MODEL"]


def only_span(root) -> dict:
    spans = llm_spans(root)
    assert len(spans) == 1, spans
    return spans[0]


def test_create_span_usage_and_cost(server, client):
    usage = Usage(100, 50, cache_read_tokens=1000, cache_creation_tokens=200, reasoning_tokens=30)
    server.enqueue(Reply(text="Let me look.", tool_calls=[WEATHER], usage=usage))
    with llmops_nb.span("cell") as root:
        message = client.messages.create(model=MODEL, max_tokens=256, messages=user("Weather?"), system="Be brief.",
                                         stop_sequences=["END"])
    assert type(message) is anthropic.types.Message and message.content[1].input == WEATHER.arguments

    span = only_span(root)
    attrs = span["attributes"]
    assert span["name"] == "anthropic.messages.create" and span["status"] == "OK"
    assert attrs["gen_ai.provider.name"] == "anthropic" and attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.request.model"] == MODEL and attrs["gen_ai.request.max_tokens"] == 256
    assert attrs["gen_ai.request.stop_sequences"] == ["END"]
    assert attrs["gen_ai.response.finish_reasons"] == ["tool_use"] and attrs["gen_ai.response.id"] == message.id
    # OTel counts the whole prompt as input: 100 fresh + 1000 cache reads + 200 cache writes
    assert attrs["gen_ai.usage.input_tokens"] == 1300 and attrs["gen_ai.usage.output_tokens"] == 50
    assert attrs["gen_ai.usage.cache_read.input_tokens"] == 1000
    assert attrs["gen_ai.usage.cache_creation.input_tokens"] == 200
    assert attrs["gen_ai.usage.reasoning.output_tokens"] == 30
    # opus 4.7: 100 x $5 + 1000 x $0.50 + 200 x $6.25 + 50 x $25, per 1M
    assert attrs["llmops_nb.cost_usd"] == pytest.approx(0.0035) and span["cost_usd"] == pytest.approx(0.0035)
    assert span["inputs"] == {"model": MODEL, "max_tokens": 256, "messages": user("Weather?"),
                              "system": "Be brief.", "stop_sequences": ["END"]}
    assert span["outputs"] == message.model_dump(mode="json")


def test_create_stream_passes_events_and_aggregates(server, client):
    usage = Usage(20, 9, cache_read_tokens=5)
    server.enqueue(Reply(text="Checking now", tool_calls=[WEATHER], usage=usage))
    with llmops_nb.span("cell") as root:
        stream = client.messages.create(model=MODEL, max_tokens=64, messages=user("Weather?"), stream=True)
        assert type(stream) is anthropic.Stream
        events = list(stream)
    assert [e.type for e in events][:2] == ["message_start", "content_block_start"]
    span = only_span(root)
    out = span["outputs"]
    assert out["content"][0]["text"] == "Checking now"
    assert out["content"][1]["type"] == "tool_use" and out["content"][1]["input"] == WEATHER.arguments
    assert out["stop_reason"] == "tool_use" and out["usage"]["output_tokens"] == 9
    assert set(out) == set(anthropic.types.Message.model_construct().model_dump(mode="json"))
    attrs = span["attributes"]
    assert attrs["gen_ai.usage.input_tokens"] == 25 and attrs["gen_ai.usage.output_tokens"] == 9
    assert attrs["llmops_nb.stream"] is True and attrs["llmops_nb.stream.complete"] is True
    assert attrs["llmops_nb.time_to_first_token_ms"] > 0


def test_stream_helper(server, client):
    server.enqueue(Reply(text="Bonjour tout le monde", usage=Usage(4, 4)))
    with llmops_nb.span("cell") as root:
        with client.messages.stream(model=MODEL, max_tokens=64, messages=user("Hi")) as stream:
            text = "".join(stream.text_stream)
            final = stream.get_final_message()
    assert text == "Bonjour tout le monde" and final.usage.output_tokens == 4
    span = only_span(root)
    assert span["name"] == "anthropic.messages.stream"
    assert span["inputs"] == {"model": MODEL, "max_tokens": 64, "messages": user("Hi")}
    assert span["outputs"]["content"][0]["text"] == text
    assert span["attributes"]["llmops_nb.stream"] is True


def test_stream_helper_left_early_and_never_entered(server, client):
    server.enqueue(Reply(text="one two three four"))
    with llmops_nb.span("cell") as root:
        with client.messages.stream(model=MODEL, max_tokens=64, messages=user("Hi")) as stream:
            for event in stream:
                if event.type == "text":
                    break
        client.messages.stream(model=MODEL, max_tokens=64, messages=user("never sent"))
        span = only_span(root)
    assert span["attributes"]["llmops_nb.stream.complete"] is False
    assert span["outputs"]["content"][0]["text"] == "one"
    assert len(server.requests) == 1


def test_loop_break_on_raw_stream(server, client):
    server.enqueue(Reply(text="alpha beta gamma"))
    with llmops_nb.span("cell") as root:
        stream = client.messages.create(model=MODEL, max_tokens=64, messages=user("Hi"), stream=True)
        for event in stream:
            if event.type == "content_block_delta":
                break
        span = only_span(root)
    assert span["outputs"]["content"][0]["text"] == "alpha"
    stream.close()


def test_http_error_and_stream_failures(server, client):
    server.enqueue(Reply.error(529), Reply(text="a b c d", fail_after=4),
                   Reply(text="a b c d", fail_after=4, failure="disconnect"))
    with llmops_nb.span("cell") as root:
        with pytest.raises(anthropic.OverloadedError) as overloaded:
            client.messages.create(model=MODEL, max_tokens=8, messages=user("hi"))
        with pytest.raises(anthropic.APIStatusError) as midway:
            list(client.messages.create(model=MODEL, max_tokens=8, messages=user("hi"), stream=True))
        with pytest.raises(Exception, match="incomplete chunked read") as dropped:
            list(client.messages.create(model=MODEL, max_tokens=8, messages=user("hi"), stream=True))
    first, second, third = llm_spans(root)
    assert first["status"] == "ERROR" and first["attributes"]["http.response.status_code"] == 529
    assert first["error"]["message"] == str(overloaded.value)
    assert second["status"] == "ERROR" and second["error"]["message"] == str(midway.value)
    assert second["outputs"]["content"][0]["text"] == "a"
    assert third["status"] == "ERROR" and third["error"]["type"].endswith(type(dropped.value).__name__)


def test_cut_off_tool_json_is_kept_raw(server, client):
    server.enqueue(Reply(text=None, tool_calls=[ToolCall("lookup", {"query": "a long question"})], fail_after=5))
    with llmops_nb.span("cell") as root, pytest.raises(anthropic.APIStatusError):
        list(client.messages.create(model=MODEL, max_tokens=8, messages=user("hi"), stream=True))
    block = only_span(root)["outputs"]["content"][0]
    assert block["type"] == "tool_use" and isinstance(block["input"], str) and block["input"].startswith('{"query')


def test_parse(server, client):
    class City(pydantic.BaseModel):
        name: str

    server.enqueue(Reply(text='{"name": "Paris"}'))
    with llmops_nb.span("cell") as root:
        parsed = client.messages.parse(model=MODEL, max_tokens=64, messages=user("City?"), output_format=City)
    assert parsed.parsed_output == City(name="Paris")
    span = only_span(root)
    assert span["name"] == "anthropic.messages.parse" and span["outputs"]["content"][0]["text"] == '{"name": "Paris"}'


def test_async_create_stream_and_helper(server):
    server.enqueue(Reply(text="plain"), Reply(text="raw stream"), Reply(text="helper text"))

    async def main():
        async with anthropic.AsyncAnthropic(api_key="sk-ant-test", base_url=server.anthropic_base_url,
                                            max_retries=0) as sdk:
            with llmops_nb.span("cell") as root:
                plain = await sdk.messages.create(model=MODEL, max_tokens=8, messages=user("a"))
                stream = await sdk.messages.create(model=MODEL, max_tokens=8, messages=user("b"), stream=True)
                assert type(stream) is anthropic.AsyncStream
                kinds = [event.type async for event in stream]
                async with sdk.messages.stream(model=MODEL, max_tokens=8, messages=user("c")) as helper:
                    final = await helper.get_final_message()
            return plain, kinds, final, llm_spans(root)

    plain, kinds, final, spans = asyncio.run(main())
    assert plain.content[0].text == "plain" and kinds[-1] == "message_stop" and final.content[0].text == "helper text"
    assert [s["name"] for s in spans] == ["anthropic.messages.create", "anthropic.messages.create",
                                          "anthropic.messages.stream"]
    assert spans[1]["outputs"]["content"][0]["text"] == "raw stream"
    assert spans[2]["outputs"]["content"][0]["text"] == "helper text"


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


def test_api_key_never_reaches_the_store(server, store_path):
    secret = "sk-ant-test-SECRET-123"
    headers = {"x-api-key": secret, "Authorization": f"Bearer {secret}", "X-Trace-Tag": "visible-tag-77"}
    server.enqueue(Reply(text="ok"), Reply(text="streamed"), Reply.error(401))
    with anthropic.Anthropic(api_key=secret, base_url=server.anthropic_base_url, max_retries=0) as sdk:
        with llmops_nb.span("cell") as root:
            sdk.messages.create(model=MODEL, max_tokens=8, messages=user("hi"), extra_headers=headers)
            with sdk.messages.stream(model=MODEL, max_tokens=8, messages=user("hi"), extra_headers=headers) as s:
                s.until_done()
            with pytest.raises(anthropic.AuthenticationError):
                sdk.messages.create(model=MODEL, max_tokens=8, messages=user("hi"), extra_headers=headers)
    assert secret in server.requests[0].headers["authorization"]  # it really was sent
    spans = llm_spans(root)
    assert spans[1]["inputs"]["extra_headers"] == {"x-api-key": "[redacted]", "Authorization": "[redacted]",
                                                   "X-Trace-Tag": "visible-tag-77"}
    llmops_nb.flush()
    raw = b"".join(p.read_bytes() for p in store_path.parent.iterdir() if p.name.startswith(store_path.name))
    assert b"visible-tag-77" in raw and secret.encode() not in raw
    assert json.dumps(spans, default=str).count(secret) == 0
