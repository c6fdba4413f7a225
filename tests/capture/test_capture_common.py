"""What capture does the same way for every provider SDK, each test run against openai and anthropic.

Each test checks both halves of the contract: the user's program sees exactly
what the SDK gives (types, chunks, exceptions), and the store gets a correct
CHAT_MODEL span (attributes, inputs, outputs, status).
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import logging
import subprocess
import sys
from typing import Any

import pydantic
import pytest

import llmops_nb
from llmops_nb import _safety
from tests.capture.drivers import llm_spans, only_span
from tests.fakes import Reply, ToolCall, Usage

PROVIDERS = ("openai", "anthropic")
WEATHER = ToolCall("get_weather", {"city": "Paris"}, id="call_1")  # a fixed id: two runs must match


def _without_ids(value: Any) -> Any:
    """A dumped chunk minus what differs between two runs of one script (ids, timestamps)."""
    if isinstance(value, dict):
        return {k: _without_ids(v) for k, v in value.items() if k not in ("id", "created")}
    if isinstance(value, list):
        return [_without_ids(v) for v in value]
    return value


# -- one call, not streamed ------------------------------------------------------------------

@pytest.mark.parametrize("provider", PROVIDERS)
def test_call_span(server, sdk, client):
    server.enqueue(Reply(text="Paris.", usage=Usage(1000, 100)))
    kwargs = sdk.request("Capital?", max_tokens=50)
    with llmops_nb.span("cell") as root:
        result = sdk.resource(client).create(**kwargs)
    assert type(result) is sdk.response_type and sdk.reply_text(result) == "Paris."

    span = only_span(root)
    assert span["name"] == sdk.create_name and span["status"] == "OK"
    assert span["parent_span_id"] == root.span_id
    attrs = span["attributes"]
    assert attrs["gen_ai.operation.name"] == "chat" and attrs["gen_ai.provider.name"] == sdk.name
    assert attrs["gen_ai.request.model"] == sdk.model and attrs["gen_ai.request.max_tokens"] == 50
    assert attrs["gen_ai.response.id"] == result.id and attrs["gen_ai.response.model"] == sdk.model
    assert attrs["gen_ai.response.finish_reasons"] == [sdk.stop_reason]
    assert attrs["gen_ai.usage.input_tokens"] == 1000 and attrs["gen_ai.usage.output_tokens"] == 100
    price_in, price_out = sdk.price_per_million
    cost = (1000 * price_in + 100 * price_out) / 1e6
    assert attrs["llmops_nb.cost_usd"] == pytest.approx(cost) and span["cost_usd"] == pytest.approx(cost)
    assert attrs["server.address"] == "127.0.0.1" and attrs["server.port"] == server.port
    assert attrs["llmops_nb.stream"] is False and "llmops_nb.async" not in attrs
    assert (span["input_tokens"], span["output_tokens"], span["model"]) == (1000, 100, sdk.model)
    assert span["inputs"] == kwargs
    assert span["outputs"] == result.model_dump(mode="json")


@pytest.mark.parametrize("provider", PROVIDERS)
def test_unknown_model_gets_no_cost(server, sdk, client):
    server.enqueue(Reply(text="ok"))
    with llmops_nb.span("cell") as root:
        sdk.resource(client).create(**sdk.request(model="my-private-model"))
    span = only_span(root)
    assert span["attributes"]["gen_ai.request.model"] == "my-private-model"
    assert "llmops_nb.cost_usd" not in span["attributes"]  # no guess


@pytest.mark.parametrize("provider", PROVIDERS)
def test_parse_keeps_the_parsed_type(server, sdk, client):
    class City(pydantic.BaseModel):
        name: str

    server.enqueue(Reply(text='{"name": "Paris"}'))
    with llmops_nb.span("cell") as root:
        parsed = sdk.parse(client, City, "City?")
    assert parsed == City(name="Paris")
    span = only_span(root)
    assert span["name"] == sdk.parse_name and sdk.span_text(span["outputs"]) == '{"name": "Paris"}'


@pytest.mark.parametrize("provider", PROVIDERS)
def test_http_error_is_reraised_unchanged_and_recorded(server, sdk, client):
    server.enqueue(Reply.error(429, "Rate limit reached", retry_after=1))
    with llmops_nb.span("cell") as root, pytest.raises(sdk.sdk.RateLimitError) as raised:
        sdk.resource(client).create(**sdk.request())
    assert type(raised.value) is sdk.sdk.RateLimitError and raised.value.status_code == 429
    span = only_span(root)
    assert span["status"] == "ERROR" and span["error"]["type"] == f"{sdk.name}.RateLimitError"
    assert span["error"]["message"] == str(raised.value)
    assert span["attributes"]["http.response.status_code"] == 429
    assert span["attributes"]["error.type"] == f"{sdk.name}.RateLimitError"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_raw_response_wrappers_still_work(server, sdk, client):
    server.enqueue("raw body")
    with llmops_nb.span("cell") as root:
        raw = sdk.resource(client).with_raw_response.create(**sdk.request())
        assert sdk.reply_text(raw.parse()) == "raw body"
    span = only_span(root)
    assert span["attributes"]["llmops_nb.raw_response"] is True and span["status"] == "OK"


# -- streams -----------------------------------------------------------------------------------

@pytest.mark.parametrize("provider", PROVIDERS)
def test_stream_passes_chunks_through_and_aggregates(server, sdk, client):
    script = Reply(text="It is sunny.", tool_calls=[WEATHER], usage=Usage(50, 12))
    server.enqueue(script, script)
    with sdk.client() as plain:
        llmops_nb.autolog(disable=True)
        untraced = [chunk.model_dump() for chunk in sdk.resource(plain).create(**sdk.stream_request())]
        llmops_nb.autolog()
    with llmops_nb.span("cell") as root:
        stream = sdk.resource(client).create(**sdk.stream_request())
        assert type(stream) is sdk.sdk.Stream
        chunks = list(stream)
    assert [_without_ids(c.model_dump()) for c in chunks] == [_without_ids(c) for c in untraced]

    span = only_span(root)
    attrs = span["attributes"]
    assert attrs["llmops_nb.stream"] is True and attrs["llmops_nb.stream.complete"] is True
    assert attrs["llmops_nb.time_to_first_token_ms"] > 0
    assert [e["name"] for e in span["events"]] == ["gen_ai.first_token"]
    assert attrs["gen_ai.usage.input_tokens"] == 50 and attrs["gen_ai.usage.output_tokens"] == 12
    assert attrs["gen_ai.response.finish_reasons"] == [sdk.tool_reason]
    assert sdk.span_text(span["outputs"]) == "It is sunny."
    assert sdk.span_tool_call(span["outputs"]) == ("call_1", "get_weather", WEATHER.arguments)
    # the aggregate has the non-streamed response's shape
    assert set(span["outputs"]) == set(sdk.response_type.model_construct().model_dump(mode="json"))


@pytest.mark.parametrize("provider", PROVIDERS)
def test_loop_break_ends_the_span(server, sdk, client):
    server.enqueue(Reply(text="one two three four five"))
    with llmops_nb.span("cell") as root:
        stream = sdk.resource(client).create(**sdk.stream_request())
        for chunk in stream:
            if sdk.piece(chunk) == "one":
                break
        span = only_span(root)  # written while `stream` is still alive and unclosed
    assert span["end_ns"] is not None and span["status"] == "OK"
    assert span["attributes"]["llmops_nb.stream.complete"] is False
    assert sdk.span_text(span["outputs"]) == "one"
    assert sdk.piece(next(stream)) == " two"  # the user may still read on
    stream.close()


@pytest.mark.parametrize("provider", PROVIDERS)
def test_with_block_close_ends_the_span(server, sdk, client):
    server.enqueue(Reply(text="one two three"))
    with llmops_nb.span("cell") as root:
        with sdk.resource(client).create(**sdk.stream_request()) as stream:
            while not sdk.piece(next(stream)):  # next(), not a for loop: only the close can end the span
                pass
        span = only_span(root)
    assert sdk.span_text(span["outputs"]) == "one"
    assert span["attributes"]["llmops_nb.stream.complete"] is False


@pytest.mark.parametrize("provider", PROVIDERS)
def test_stream_dropped_unread_ends_the_span(sdk, client):
    with llmops_nb.span("cell") as root:
        stream = sdk.resource(client).create(**sdk.stream_request())
        del stream  # never read, never closed
        gc.collect()
        span = only_span(root)
    assert span["end_ns"] is not None and span["attributes"]["llmops_nb.stream.complete"] is False


@pytest.mark.parametrize("provider", PROVIDERS)
def test_stream_error_midway_reraised_and_recorded(server, sdk, client):
    server.enqueue(Reply(text="a b c d", fail_after=sdk.events_before_text + 2))
    seen = []
    with llmops_nb.span("cell") as root, pytest.raises(sdk.stream_error) as raised:
        for chunk in sdk.resource(client).create(**sdk.stream_request()):
            seen.append(sdk.piece(chunk))
    assert [piece for piece in seen if piece] == ["a", " b"] and type(raised.value) is sdk.stream_error
    span = only_span(root)
    assert span["status"] == "ERROR" and span["error"]["message"] == str(raised.value)
    assert sdk.span_text(span["outputs"]) == "a b"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_stream_disconnect_midway(server, sdk, client):
    server.enqueue(Reply(text="a b c d", fail_after=sdk.events_before_text + 1, failure="disconnect"))
    with llmops_nb.span("cell") as root, pytest.raises(sdk.sdk.APIConnectionError):
        list(sdk.resource(client).create(**sdk.stream_request()))
    span = only_span(root)
    assert span["status"] == "ERROR" and span["error"]["type"] == f"{sdk.name}.APIConnectionError"
    assert sdk.span_text(span["outputs"]) == "a"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_stream_helper(server, sdk, client):
    server.enqueue(Reply(text="Bonjour tout le monde", usage=Usage(4, 4)))
    kwargs = sdk.request("Hi")
    with llmops_nb.span("cell") as root:
        with sdk.helper(client, **kwargs) as stream:
            text = sdk.helper_final_text(stream)
    assert text == "Bonjour tout le monde"
    span = only_span(root)
    assert span["name"] == sdk.helper_name and span["inputs"] == sdk.helper_inputs(kwargs)
    assert sdk.span_text(span["outputs"]) == text and span["attributes"]["llmops_nb.stream"] is True


@pytest.mark.parametrize("provider", PROVIDERS)
def test_stream_helper_left_early(server, sdk, client):
    server.enqueue(Reply(text="one two three four"))
    with llmops_nb.span("cell") as root:
        with sdk.helper(client, **sdk.request()) as stream:
            for event in stream:
                if sdk.is_text_event(event):
                    break
        span = only_span(root)
    assert span["attributes"]["llmops_nb.stream.complete"] is False
    assert sdk.span_text(span["outputs"]) == "one"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_async_create_and_stream(server, sdk):
    server.enqueue(Reply(text="first"), Reply(text="second part", usage=Usage(3, 2)),
                   Reply(text="x y z w"), Reply(text="p q r"), Reply.error(429))

    async def main():
        async with sdk.async_client() as client:
            resource = sdk.resource(client)
            with llmops_nb.span("cell") as root:
                first = await resource.create(**sdk.request("a"))
                stream = await resource.create(**sdk.stream_request("b"))
                assert type(stream) is sdk.sdk.AsyncStream
                text = "".join([sdk.piece(c) or "" async for c in stream])
                early = await resource.create(**sdk.stream_request("c"))
                async for _ in early:
                    break
                for _ in range(3):
                    await asyncio.sleep(0)  # the dropped async iterator is closed by the event loop
                async with await resource.create(**sdk.stream_request("d")) as closed:
                    while not sdk.piece(await closed.__anext__()):
                        pass
                with pytest.raises(sdk.sdk.RateLimitError):
                    await resource.create(**sdk.request("e"))
                spans = llm_spans(root)
            await early.close()
            return first, text, spans

    first, text, spans = asyncio.run(main())
    assert sdk.reply_text(first) == "first" and text == "second part"
    assert len(spans) == 5 and all(s["name"] == sdk.create_name for s in spans)
    assert all(s["attributes"]["llmops_nb.async"] is True for s in spans)  # the views mark them
    assert sdk.span_text(spans[1]["outputs"]) == "second part"
    assert spans[1]["attributes"]["gen_ai.usage.output_tokens"] == 2
    assert spans[1]["attributes"]["llmops_nb.stream.complete"] is True
    assert spans[2]["attributes"]["llmops_nb.stream.complete"] is False  # loop left early
    assert spans[3]["attributes"]["llmops_nb.stream.complete"] is False  # `async with` closed it
    assert sdk.span_text(spans[3]["outputs"]) == "p"
    assert spans[4]["status"] == "ERROR" and spans[4]["error"]["type"] == f"{sdk.name}.RateLimitError"


# -- the rules: secrets, signatures, our own failures -----------------------------------------------

@pytest.mark.parametrize("provider", PROVIDERS)
def test_api_key_never_reaches_the_store(server, store_path, sdk):
    secret = f"sk-{sdk.name}-SECRET-123"
    headers = {"Authorization": f"Bearer {secret}", "api-key": secret, "x-api-key": secret,
               "X-Trace-Tag": "visible-tag-42"}
    redacted = {"Authorization": "[redacted]", "api-key": "[redacted]", "x-api-key": "[redacted]",
                "X-Trace-Tag": "visible-tag-42"}
    server.enqueue(Reply(text="ok"), Reply(text="streamed ok"), Reply(text="helper ok"), Reply.error(401))
    with sdk.client(api_key=secret) as client, llmops_nb.span("cell") as root:
        resource = sdk.resource(client)
        resource.create(**sdk.request(), extra_headers=headers)
        list(resource.create(**sdk.stream_request(), extra_headers=headers))
        with sdk.helper(client, **sdk.request(), extra_headers=headers) as stream:
            sdk.helper_final_text(stream)
        with pytest.raises(sdk.sdk.AuthenticationError):
            resource.create(**sdk.request(), extra_headers=headers, extra_query={"api_key": secret},
                            extra_body={"max_tokens": 5})
    assert secret in server.requests[0].headers["authorization"]  # it really was sent
    spans = llm_spans(root)
    assert [s["inputs"]["extra_headers"] for s in spans] == [redacted] * 4
    assert spans[3]["inputs"]["extra_query"] == {"api_key": "[redacted]"}
    assert spans[3]["inputs"]["extra_body"] == {"max_tokens": 5}
    llmops_nb.flush()
    raw = b"".join(p.read_bytes() for p in store_path.parent.iterdir() if p.name.startswith(store_path.name))
    assert b"visible-tag-42" in raw  # the control: recorded text is findable in the raw bytes
    assert secret.encode() not in raw
    assert llmops_nb.sql("SELECT count(*) AS n FROM spans WHERE concat_ws('|', inputs, outputs, attributes, "
                         "error, events, status_message) LIKE ?", [f"%{secret}%"]).n[0] == 0


@pytest.mark.parametrize("provider", PROVIDERS)
def test_clients_made_before_autolog_are_traced_and_signatures_kept(sdk):
    llmops_nb.autolog(disable=True)
    with sdk.client() as early:
        original = inspect.signature(sdk.resource(early).create)
        assert llmops_nb.autolog() == llmops_nb.autolog()  # idempotent
        with llmops_nb.span("cell") as root:
            sdk.resource(early).create(**sdk.request())
        assert len(llm_spans(root)) == 1
        assert inspect.signature(sdk.resource(early).create) == original
        assert inspect.iscoroutinefunction(sdk.async_resource.create)
        llmops_nb.autolog(disable=True)
        with llmops_nb.span("cell") as quiet:
            sdk.resource(early).create(**sdk.request())
        assert llm_spans(quiet) == []


def test_importing_integrations_does_not_import_the_sdks():
    code = ("import sys, llmops_nb.integrations\n"
            "print([m for m in ('openai', 'anthropic') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def _broken(*_args):
    raise RuntimeError("bug in llmops_nb")


@pytest.mark.parametrize("provider", PROVIDERS)
def test_failure_starting_a_span_leaves_the_call_untraced(server, sdk, client, monkeypatch, caplog):
    monkeypatch.setattr(_safety, "_seen", set())
    monkeypatch.setattr(sdk.capture, sdk.request_attributes, _broken)
    llmops_nb.autolog(disable=True)
    llmops_nb.autolog()  # re-read the patched function
    server.enqueue("fine", "still fine")
    with caplog.at_level(logging.WARNING, logger="llmops_nb"), llmops_nb.span("cell") as root:
        answers = [sdk.reply_text(sdk.resource(client).create(**sdk.request())) for _ in range(2)]
    assert answers == ["fine", "still fine"] and llm_spans(root) == []
    assert sum(f"{sdk.name}.begin" in r.getMessage() for r in caplog.records) == 1


@pytest.mark.parametrize("provider", PROVIDERS)
def test_our_failure_is_logged_once_and_the_call_proceeds(server, sdk, client, monkeypatch, caplog):
    monkeypatch.setattr(_safety, "_seen", set())
    monkeypatch.setattr(sdk.capture, sdk.response_attributes, _broken)  # our code, never the SDK's
    monkeypatch.setattr(getattr(sdk.capture, sdk.aggregator), "add", _broken)
    llmops_nb.autolog(disable=True)
    llmops_nb.autolog()
    server.enqueue("one", "two", "three four")
    with caplog.at_level(logging.WARNING, logger="llmops_nb"), llmops_nb.span("cell") as root:
        first = sdk.resource(client).create(**sdk.request())
        second = sdk.resource(client).create(**sdk.request())
        pieces = [sdk.piece(c) for c in sdk.resource(client).create(**sdk.stream_request())]
    assert (sdk.reply_text(first), sdk.reply_text(second)) == ("one", "two")
    assert [piece for piece in pieces if piece] == ["three", " four"]
    warnings = [r.getMessage() for r in caplog.records]
    assert sum(f"{sdk.name}.record" in w for w in warnings) == 1
    assert sum(f"{sdk.name}.stream.aggregate" in w for w in warnings) == 1
    assert len(llm_spans(root)) == 3  # spans still end, just with less in them
