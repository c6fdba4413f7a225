"""Auto-capture of the openai SDK, driven through the real SDK against the fake server.

Each test checks both halves of the contract: the user's program sees exactly
what the SDK gives (types, chunks, exceptions), and the store gets a correct
CHAT_MODEL span (attributes, inputs, outputs, status).
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import json
import logging
import subprocess
import sys

import openai
import pydantic
import pytest

import llmops_nb
from llmops_nb import _safety
from llmops_nb.integrations import _openai
from tests.fakes import FakeLLMServer, Reply, ToolCall, Usage

WEATHER = ToolCall("get_weather", {"city": "Paris"})


@pytest.fixture(autouse=True)
def autologged():
    assert "openai" in llmops_nb.autolog()
    yield
    llmops_nb.autolog(disable=True)


@pytest.fixture
def server():
    with FakeLLMServer() as fake:
        yield fake


@pytest.fixture
def client(server):
    with openai.OpenAI(api_key="sk-test", base_url=server.openai_base_url, max_retries=0) as sdk:
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


# -- chat completions, not streamed -------------------------------------------------------

def test_chat_completion_span(server, client):
    server.enqueue(Reply(text="Paris.", usage=Usage(1000, 100, cache_read_tokens=400, reasoning_tokens=20)))
    with llmops_nb.span("cell") as root:
        result = client.chat.completions.create(model="gpt-4o", messages=user("Capital?"), temperature=0.2,
                                                max_tokens=50, top_p=0.9, seed=7, stop=["\n"])
    assert type(result) is openai.types.chat.ChatCompletion and result.choices[0].message.content == "Paris."

    span = only_span(root)
    assert span["name"] == "openai.chat.completions.create" and span["status"] == "OK"
    assert span["parent_span_id"] == root.span_id
    attrs = span["attributes"]
    assert attrs["gen_ai.operation.name"] == "chat" and attrs["gen_ai.provider.name"] == "openai"
    assert attrs["gen_ai.request.model"] == "gpt-4o" and attrs["gen_ai.request.temperature"] == 0.2
    assert attrs["gen_ai.request.max_tokens"] == 50 and attrs["gen_ai.request.top_p"] == 0.9
    assert attrs["gen_ai.request.seed"] == 7 and attrs["gen_ai.request.stop_sequences"] == ["\n"]
    assert attrs["gen_ai.response.id"] == result.id and attrs["gen_ai.response.model"] == "gpt-4o"
    assert attrs["gen_ai.response.finish_reasons"] == ["stop"]
    assert attrs["gen_ai.usage.input_tokens"] == 1000 and attrs["gen_ai.usage.output_tokens"] == 100
    assert attrs["gen_ai.usage.cache_read.input_tokens"] == 400
    assert attrs["gen_ai.usage.reasoning.output_tokens"] == 20
    # gpt-4o: 600 fresh x $2.50 + 400 cached x $1.25 + 100 out x $10, per 1M
    assert attrs["llmops_nb.cost_usd"] == pytest.approx(0.003)
    assert attrs["server.address"] == "127.0.0.1" and attrs["server.port"] == server.port
    assert attrs["llmops_nb.stream"] is False
    assert (span["input_tokens"], span["output_tokens"], span["model"]) == (1000, 100, "gpt-4o")
    assert span["cost_usd"] == pytest.approx(0.003)
    assert span["inputs"] == {"model": "gpt-4o", "messages": user("Capital?"), "temperature": 0.2,
                              "max_tokens": 50, "top_p": 0.9, "seed": 7, "stop": ["\n"]}
    assert span["outputs"] == result.model_dump(mode="json")


def test_tool_calls_and_unknown_model_cost(server, client):
    server.enqueue(Reply(text=None, tool_calls=[WEATHER]))
    with llmops_nb.span("cell") as root:
        result = client.chat.completions.create(model="my-private-model", messages=user("Weather?"),
                                                tools=[{"type": "function", "function": {"name": "get_weather"}}])
    span = only_span(root)
    assert span["outputs"]["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] == '{"city":"Paris"}'
    assert span["inputs"]["tools"][0]["function"]["name"] == "get_weather"
    assert span["attributes"]["gen_ai.response.finish_reasons"] == ["tool_calls"]
    assert "llmops_nb.cost_usd" not in span["attributes"]  # unknown model: no guess
    assert result.choices[0].message.tool_calls[0].id == "call_fake1_0"


def test_parse_keeps_the_parsed_type(server, client):
    class City(pydantic.BaseModel):
        name: str

    server.enqueue(Reply(text='{"name": "Paris"}'))
    with llmops_nb.span("cell") as root:
        result = client.chat.completions.parse(model="gpt-4o", messages=user("City?"), response_format=City)
    assert isinstance(result.choices[0].message.parsed, City)
    span = only_span(root)
    assert span["name"] == "openai.chat.completions.parse"
    assert span["outputs"]["choices"][0]["message"]["parsed"] == {"name": "Paris"}


def test_http_error_is_reraised_unchanged_and_recorded(server, client):
    server.enqueue(Reply.error(429, "Rate limit reached", retry_after=1))
    with llmops_nb.span("cell") as root, pytest.raises(openai.RateLimitError) as raised:
        client.chat.completions.create(model="gpt-4o", messages=user("hi"))
    assert raised.value.status_code == 429 and raised.value.body["code"] == "rate_limit_exceeded"
    span = only_span(root)
    assert span["status"] == "ERROR" and span["error"]["type"] == "openai.RateLimitError"
    assert span["error"]["message"] == str(raised.value)
    assert span["attributes"]["http.response.status_code"] == 429
    assert span["attributes"]["error.type"] == "openai.RateLimitError"


# -- chat completions, streamed -------------------------------------------------------------

def test_stream_passes_chunks_through_and_aggregates(server, client):
    call = ToolCall("get_weather", {"city": "Paris"}, id="call_1")  # fixed id: both runs must match
    script = Reply(text="It is sunny.", tool_calls=[call], usage=Usage(50, 12, cache_read_tokens=10))
    server.enqueue(script, script)
    with openai.OpenAI(api_key="sk-test", base_url=server.openai_base_url, max_retries=0) as plain:
        llmops_nb.autolog(disable=True)
        untraced = [c.model_dump() for c in plain.chat.completions.create(
            model="gpt-4o", messages=user("hi"), stream=True, stream_options={"include_usage": True})]
        llmops_nb.autolog()
    with llmops_nb.span("cell") as root:
        stream = client.chat.completions.create(model="gpt-4o", messages=user("hi"), stream=True,
                                                stream_options={"include_usage": True})
        assert type(stream) is openai.Stream
        chunks = list(stream)
    assert [c.model_dump(exclude={"id", "created"}) for c in chunks] == [
        {k: v for k, v in c.items() if k not in ("id", "created")} for c in untraced]

    span = only_span(root)
    attrs = span["attributes"]
    assert attrs["llmops_nb.stream"] is True and attrs["llmops_nb.stream.complete"] is True
    assert attrs["llmops_nb.time_to_first_token_ms"] > 0
    assert [e["name"] for e in span["events"]] == ["gen_ai.first_token"]
    assert attrs["gen_ai.usage.input_tokens"] == 50 and attrs["gen_ai.usage.cache_read.input_tokens"] == 10
    assert attrs["gen_ai.response.finish_reasons"] == ["tool_calls"]
    message = span["outputs"]["choices"][0]["message"]
    assert message["content"] == "It is sunny."
    assert json.loads(message["tool_calls"][0]["function"]["arguments"]) == WEATHER.arguments
    assert message["tool_calls"][0]["id"] == "call_1"
    assert span["outputs"]["usage"]["prompt_tokens"] == 50
    # the aggregate has the non-streamed response's shape
    shape = openai.types.chat.ChatCompletion.model_construct().model_dump(mode="json")
    assert set(span["outputs"]) == set(shape) and "annotations" in message


def test_loop_break_ends_the_span(server, client):
    server.enqueue(Reply(text="one two three four five"))
    with llmops_nb.span("cell") as root:
        stream = client.chat.completions.create(model="gpt-4o", messages=user("hi"), stream=True)
        for chunk in stream:
            if chunk.choices[0].delta.content == "one":
                break
        span = only_span(root)  # written while `stream` is still alive and unclosed
    assert span["end_ns"] is not None and span["status"] == "OK"
    assert span["attributes"]["llmops_nb.stream.complete"] is False
    assert span["outputs"]["choices"][0]["message"]["content"] == "one"
    assert next(stream).choices[0].delta.content == " two"  # the user may still read on
    stream.close()


def test_with_block_close_ends_the_span(server, client):
    server.enqueue(Reply(text="one two three"))
    with llmops_nb.span("cell") as root:
        with client.chat.completions.create(model="gpt-4o", messages=user("hi"), stream=True) as stream:
            next(stream)
            next(stream)
        span = only_span(root)
    assert span["outputs"]["choices"][0]["message"]["content"] == "one"
    assert span["attributes"]["llmops_nb.stream.complete"] is False


def test_stream_dropped_unread_ends_the_span(server, client):
    with llmops_nb.span("cell") as root:
        stream = client.chat.completions.create(model="gpt-4o", messages=user("hi"), stream=True)
        del stream  # never read, never closed
        gc.collect()
        span = only_span(root)
    assert span["end_ns"] is not None and span["attributes"]["llmops_nb.stream.complete"] is False


def test_stream_error_midway_reraised_and_recorded(server, client):
    server.enqueue(Reply(text="a b c d", fail_after=3))
    seen = []
    with llmops_nb.span("cell") as root, pytest.raises(openai.APIError) as raised:
        for chunk in client.chat.completions.create(model="gpt-4o", messages=user("hi"), stream=True):
            seen.append(chunk.choices[0].delta.content)
    assert seen == ["", "a", " b"] and type(raised.value) is openai.APIError
    span = only_span(root)
    assert span["status"] == "ERROR" and span["error"]["message"] == str(raised.value)
    assert span["outputs"]["choices"][0]["message"]["content"] == "a b"


def test_stream_disconnect_midway(server, client):
    server.enqueue(Reply(text="a b c d", fail_after=2, failure="disconnect"))
    with llmops_nb.span("cell") as root, pytest.raises(openai.APIConnectionError):
        list(client.chat.completions.create(model="gpt-4o", messages=user("hi"), stream=True))
    span = only_span(root)
    assert span["status"] == "ERROR" and span["error"]["type"] == "openai.APIConnectionError"


def test_stream_helper(server, client):
    server.enqueue(Reply(text="Sunny", tool_calls=[WEATHER]))
    with llmops_nb.span("cell") as root:
        with client.chat.completions.stream(model="gpt-4o", messages=user("Weather?")) as stream:
            final = stream.get_final_completion()
    assert final.choices[0].message.content == "Sunny"
    span = only_span(root)
    assert span["name"] == "openai.chat.completions.stream"
    assert span["inputs"] == {"model": "gpt-4o", "messages": user("Weather?"), "stream": True}
    assert span["outputs"]["choices"][0]["message"]["content"] == "Sunny"


def test_stream_helper_left_early(server, client):
    server.enqueue(Reply(text="one two three"))
    with llmops_nb.span("cell") as root:
        with client.chat.completions.stream(model="gpt-4o", messages=user("hi")) as stream:
            for event in stream:
                if event.type == "content.delta":
                    break
        span = only_span(root)
    assert span["attributes"]["llmops_nb.stream.complete"] is False


# -- async ------------------------------------------------------------------------------------

def test_async_create_and_stream(server):
    server.enqueue(Reply(text="first"), Reply(text="second part", usage=Usage(3, 2)),
                   Reply(text="x y z w"), Reply(text="p q r"))

    async def main():
        async with openai.AsyncOpenAI(api_key="sk-test", base_url=server.openai_base_url, max_retries=0) as sdk:
            with llmops_nb.span("cell") as root:
                first = await sdk.chat.completions.create(model="gpt-4o", messages=user("a"))
                stream = await sdk.chat.completions.create(model="gpt-4o", messages=user("b"), stream=True,
                                                           stream_options={"include_usage": True})
                assert type(stream) is openai.AsyncStream
                text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
                early = await sdk.chat.completions.create(model="gpt-4o", messages=user("c"), stream=True)
                async for _ in early:
                    break
                for _ in range(3):
                    await asyncio.sleep(0)  # the dropped async iterator is closed by the event loop
                async with await sdk.chat.completions.create(model="gpt-4o", messages=user("d"),
                                                             stream=True) as closed:
                    await closed.__anext__()
                spans = llm_spans(root)
            await early.close()
            return first, text, spans

    first, text, spans = asyncio.run(main())
    assert first.choices[0].message.content == "first" and text == "second part"
    assert len(spans) == 4
    assert spans[1]["outputs"]["choices"][0]["message"]["content"] == "second part"
    assert spans[1]["attributes"]["gen_ai.usage.output_tokens"] == 2
    assert spans[2]["attributes"]["llmops_nb.stream.complete"] is False  # loop left early
    assert spans[3]["attributes"]["llmops_nb.stream.complete"] is False  # `async with` closed it


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


# -- the rules: secrets, signatures, our own failures -----------------------------------------------

def test_api_key_never_reaches_the_store(server, store_path):
    secret = "sk-test-SECRET-123"
    headers = {"Authorization": f"Bearer {secret}", "api-key": secret, "X-Trace-Tag": "visible-tag-42"}
    server.enqueue(Reply(text="ok"), Reply(text="streamed ok"), Reply.error(401, "Incorrect API key provided"))
    with openai.OpenAI(api_key=secret, base_url=server.openai_base_url, max_retries=0) as sdk:
        with llmops_nb.span("cell") as root:
            sdk.chat.completions.create(model="gpt-4o", messages=user("hi"), extra_headers=headers)
            list(sdk.chat.completions.create(model="gpt-4o", messages=user("hi"), stream=True, extra_headers=headers))
            with pytest.raises(openai.AuthenticationError):
                sdk.responses.create(model="gpt-5.4", input="hi", extra_headers=headers,
                                     extra_query={"api_key": secret}, extra_body={"max_tokens": 5})
    assert server.requests[0].headers["authorization"] == f"Bearer {secret}"  # it really was sent
    spans = llm_spans(root)
    assert spans[0]["inputs"]["extra_headers"] == {"Authorization": "[redacted]", "api-key": "[redacted]",
                                                   "X-Trace-Tag": "visible-tag-42"}
    assert spans[2]["inputs"]["extra_query"] == {"api_key": "[redacted]"}
    assert spans[2]["inputs"]["extra_body"] == {"max_tokens": 5}
    llmops_nb.flush()
    raw = b"".join(p.read_bytes() for p in store_path.parent.iterdir() if p.name.startswith(store_path.name))
    assert b"visible-tag-42" in raw  # the control: recorded text is findable in the raw bytes
    assert secret.encode() not in raw
    assert llmops_nb.sql("SELECT count(*) AS n FROM spans WHERE concat_ws('|', inputs, outputs, attributes, "
                         "error, events, status_message) LIKE ?", [f"%{secret}%"]).n[0] == 0


def test_clients_made_before_autolog_are_traced_and_signatures_kept(server):
    llmops_nb.autolog(disable=True)
    with openai.OpenAI(api_key="sk-test", base_url=server.openai_base_url, max_retries=0) as early:
        original = inspect.signature(early.chat.completions.create)
        assert llmops_nb.autolog() == llmops_nb.autolog()  # idempotent
        with llmops_nb.span("cell") as root:
            early.chat.completions.create(model="gpt-4o", messages=user("hi"))
        assert len(llm_spans(root)) == 1
        assert inspect.signature(early.chat.completions.create) == original
        assert inspect.iscoroutinefunction(openai.resources.chat.AsyncCompletions.create)
        llmops_nb.autolog(disable=True)
        with llmops_nb.span("cell") as quiet:
            early.chat.completions.create(model="gpt-4o", messages=user("hi"))
        assert llm_spans(quiet) == []


def test_raw_response_wrappers_still_work(server, client):
    server.enqueue("raw body")
    with llmops_nb.span("cell") as root:
        raw = client.chat.completions.with_raw_response.create(model="gpt-4o", messages=user("hi"))
        assert raw.parse().choices[0].message.content == "raw body"
    span = only_span(root)
    assert span["attributes"]["llmops_nb.raw_response"] is True and span["status"] == "OK"


def test_importing_integrations_does_not_import_the_sdks():
    code = ("import sys, llmops_nb.integrations\n"
            "print([m for m in ('openai', 'anthropic') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_failure_starting_a_span_leaves_the_call_untraced(server, client, monkeypatch, caplog):
    def broken(*_args):
        raise RuntimeError("bug in llmops_nb")

    monkeypatch.setattr(_safety, "_seen", set())
    monkeypatch.setattr(_openai, "_chat_request", broken)
    llmops_nb.autolog(disable=True)
    llmops_nb.autolog()
    server.enqueue("fine", "still fine")
    with caplog.at_level(logging.WARNING, logger="llmops_nb"), llmops_nb.span("cell") as root:
        answers = [client.chat.completions.create(model="gpt-4o", messages=user("hi")).choices[0].message.content
                   for _ in range(2)]
    assert answers == ["fine", "still fine"] and llm_spans(root) == []
    assert sum("openai.begin" in r.getMessage() for r in caplog.records) == 1


def test_our_failure_is_logged_once_and_the_call_proceeds(server, client, monkeypatch, caplog):
    def broken(*_args):
        raise RuntimeError("bug in llmops_nb")

    monkeypatch.setattr(_safety, "_seen", set())
    monkeypatch.setattr(_openai, "_chat_response", broken)  # our code, never the SDK's
    monkeypatch.setattr(_openai._ChatAggregator, "add", broken)
    llmops_nb.autolog(disable=True)
    llmops_nb.autolog()  # re-read the patched function
    server.enqueue("one", "two", "three four")
    with caplog.at_level(logging.WARNING, logger="llmops_nb"), llmops_nb.span("cell") as root:
        first = client.chat.completions.create(model="gpt-4o", messages=user("hi"))
        second = client.chat.completions.create(model="gpt-4o", messages=user("hi"))
        pieces = [c.choices[0].delta.content for c in
                  client.chat.completions.create(model="gpt-4o", messages=user("hi"), stream=True)]
    assert (first.choices[0].message.content, second.choices[0].message.content) == ("one", "two")
    assert pieces == ["", "three", " four", None]
    warnings = [r.getMessage() for r in caplog.records]
    assert sum("openai.record" in w for w in warnings) == 1
    assert sum("openai.stream.aggregate" in w for w in warnings) == 1
    assert len(llm_spans(root)) == 3  # spans still end, just with less in them
