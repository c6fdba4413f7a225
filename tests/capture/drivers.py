"""One driver per provider SDK for the capture tests, and helpers to read the spans they record.

A driver speaks one SDK's chat call (OpenAI's ``chat.completions``, Anthropic's
``messages``) with the same verbs, so a behaviour both providers share is one
test parametrized by provider (``conftest.py`` builds the driver).
"""

from __future__ import annotations

import json
from typing import Any

import anthropic
import openai

import llmops_nb
from llmops_nb.integrations import _anthropic, _openai
from tests.fakes import FakeLLMServer


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def llm_spans(root: Any) -> list[dict[str, Any]]:
    """The CHAT_MODEL spans our capture recorded under ``root``.

    Not those of the OpenTelemetry bridge: once a test elsewhere has installed it, an SDK with its own
    OTel instrumentation (anthropic) is recorded through it while our capture is off.
    """
    llmops_nb.flush()
    frame = llmops_nb.spans(root.trace_id)
    return [row for row in frame.to_dict("records")
            if row["kind"] == "CHAT_MODEL" and "otel.scope.name" not in (row["attributes"] or {})]


def only_span(root: Any) -> dict[str, Any]:
    spans = llm_spans(root)
    assert len(spans) == 1, spans
    return spans[0]


class OpenAIChat:
    """``chat.completions`` of the openai SDK."""

    name = "openai"
    sdk = openai
    capture = _openai  # our module, for the tests that break it on purpose
    request_attributes, response_attributes, aggregator = "_chat_request", "_chat_response", "_ChatAggregator"
    model = "gpt-4o"
    price_per_million = (2.50, 10.0)  # input, output
    response_type = openai.types.chat.ChatCompletion
    async_resource = openai.resources.chat.AsyncCompletions
    create_name = "openai.chat.completions.create"
    parse_name = "openai.chat.completions.parse"
    helper_name = "openai.chat.completions.stream"
    stop_reason, tool_reason = "stop", "tool_calls"
    events_before_text = 1  # the role chunk
    stream_error = openai.APIError  # the provider's error event in the middle of a stream

    def __init__(self, server: FakeLLMServer) -> None:
        self.base_url = server.openai_base_url

    def client(self, api_key: str = "sk-test") -> Any:
        return openai.OpenAI(api_key=api_key, base_url=self.base_url, max_retries=0)

    def async_client(self) -> Any:
        return openai.AsyncOpenAI(api_key="sk-test", base_url=self.base_url, max_retries=0)

    def request(self, text: str = "hi", **params: Any) -> dict[str, Any]:
        """The keyword arguments of one call, which the span's inputs must equal."""
        return {"model": self.model, "messages": user(text), **params}

    def stream_request(self, text: str = "hi", **params: Any) -> dict[str, Any]:
        return self.request(text, stream=True, stream_options={"include_usage": True}, **params)

    @staticmethod
    def resource(client: Any) -> Any:
        return client.chat.completions

    @staticmethod
    def reply_text(result: Any) -> str:
        return result.choices[0].message.content

    @staticmethod
    def piece(chunk: Any) -> str | None:
        """The text a streamed chunk carries, if any."""
        return chunk.choices[0].delta.content if chunk.choices else None

    @staticmethod
    def span_text(outputs: dict[str, Any]) -> str:
        return outputs["choices"][0]["message"]["content"]

    @staticmethod
    def span_tool_call(outputs: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
        call = outputs["choices"][0]["message"]["tool_calls"][0]
        return call["id"], call["function"]["name"], json.loads(call["function"]["arguments"])

    def parse(self, client: Any, output_type: type, text: str) -> Any:
        result = client.chat.completions.parse(**self.request(text), response_format=output_type)
        return result.choices[0].message.parsed

    def helper(self, client: Any, **kwargs: Any) -> Any:
        return client.chat.completions.stream(**kwargs)

    @staticmethod
    def helper_inputs(kwargs: dict[str, Any]) -> dict[str, Any]:
        return {**kwargs, "stream": True}  # the helper calls create(stream=True)

    @staticmethod
    def helper_final_text(stream: Any) -> str:
        return stream.get_final_completion().choices[0].message.content

    @staticmethod
    def is_text_event(event: Any) -> bool:
        return event.type == "content.delta" and bool(event.delta)  # the role chunk's delta is ""


class AnthropicMessages:
    """``messages`` of the anthropic SDK."""

    name = "anthropic"
    sdk = anthropic
    capture = _anthropic
    request_attributes, response_attributes, aggregator = "_request", "_response", "_MessageAggregator"
    model = "claude-opus-4-7"
    price_per_million = (5.0, 25.0)
    response_type = anthropic.types.Message
    async_resource = anthropic.resources.messages.AsyncMessages
    create_name = "anthropic.messages.create"
    parse_name = "anthropic.messages.parse"
    helper_name = "anthropic.messages.stream"
    stop_reason, tool_reason = "end_turn", "tool_use"
    events_before_text = 3  # message_start, content_block_start, ping (the SDK skips pings; the server counts them)
    stream_error = anthropic.APIStatusError

    def __init__(self, server: FakeLLMServer) -> None:
        self.base_url = server.anthropic_base_url

    def client(self, api_key: str = "sk-ant-test") -> Any:
        return anthropic.Anthropic(api_key=api_key, base_url=self.base_url, max_retries=0)

    def async_client(self) -> Any:
        return anthropic.AsyncAnthropic(api_key="sk-ant-test", base_url=self.base_url, max_retries=0)

    def request(self, text: str = "hi", **params: Any) -> dict[str, Any]:
        return {"model": self.model, "max_tokens": params.pop("max_tokens", 64), "messages": user(text), **params}

    def stream_request(self, text: str = "hi", **params: Any) -> dict[str, Any]:
        return self.request(text, stream=True, **params)

    @staticmethod
    def resource(client: Any) -> Any:
        return client.messages

    @staticmethod
    def reply_text(result: Any) -> str:
        return "".join(block.text for block in result.content if block.type == "text")

    @staticmethod
    def piece(event: Any) -> str | None:
        return event.delta.text if event.type == "content_block_delta" and event.delta.type == "text_delta" else None

    @staticmethod
    def span_text(outputs: dict[str, Any]) -> str:
        return "".join(block["text"] for block in outputs["content"] if block["type"] == "text")

    @staticmethod
    def span_tool_call(outputs: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
        block = next(block for block in outputs["content"] if block["type"] == "tool_use")
        return block["id"], block["name"], block["input"]

    def parse(self, client: Any, output_type: type, text: str) -> Any:
        return client.messages.parse(**self.request(text), output_format=output_type).parsed_output

    def helper(self, client: Any, **kwargs: Any) -> Any:
        return client.messages.stream(**kwargs)

    @staticmethod
    def helper_inputs(kwargs: dict[str, Any]) -> dict[str, Any]:
        return kwargs

    @staticmethod
    def helper_final_text(stream: Any) -> str:
        text = "".join(stream.text_stream)
        assert stream.get_final_message().content[0].text == text
        return text

    @staticmethod
    def is_text_event(event: Any) -> bool:
        return event.type == "text"


DRIVERS = {"openai": OpenAIChat, "anthropic": AnthropicMessages}
