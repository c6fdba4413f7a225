"""Capture of the ``openai`` SDK: ``chat.completions.create``/``parse`` and ``responses.create``/``parse``.

Sync and async, streamed or not. The SDK's streaming helpers are covered on the
way through: ``chat.completions.stream()`` and ``responses.stream()`` both call
``create(stream=True)`` (the first is named ``openai.chat.completions.stream``
from the helper header it sends). ``parse()`` posts directly, so it is patched
on its own. Usage follows OpenAI's counting: ``input_tokens`` include cached
tokens, ``output_tokens`` include reasoning tokens.
"""

from __future__ import annotations

import json
from typing import Any

from .. import _pricing
from ._attributes import cost_attributes, given, request_attributes, response_identity, usage_attributes
from ._call import CallSpec
from ._patching import Method, enable, unpatch

PROVIDER = "openai"
_REQUEST_NUMBERS = (("temperature", "gen_ai.request.temperature"), ("top_p", "gen_ai.request.top_p"),
                    ("frequency_penalty", "gen_ai.request.frequency_penalty"),
                    ("presence_penalty", "gen_ai.request.presence_penalty"), ("seed", "gen_ai.request.seed"))


def enable_openai() -> bool:
    """Trace the openai SDK (idempotent); False when it is not installed."""
    return enable(PROVIDER, _methods)


def disable_openai() -> None:
    """Stop tracing the openai SDK (restores the original methods)."""
    unpatch(PROVIDER)


def _methods() -> list[Method]:
    import openai
    from openai.resources.chat.completions import AsyncCompletions, Completions
    from openai.types.chat import ChatCompletion

    streams = (openai.Stream, openai.AsyncStream)
    chat = CallSpec(PROVIDER, "openai.chat.completions.create", _chat_request, _chat_response, _ChatAggregator,
                    streams, helper_names={"chat.completions.stream": "openai.chat.completions.stream"},
                    output_model=ChatCompletion)
    # parse() posts directly instead of calling create(); older SDKs lack it
    methods = [Method(Completions, AsyncCompletions, "create", chat),
               Method(Completions, AsyncCompletions, "parse", chat.renamed("openai.chat.completions.parse"),
                      optional=True)]
    try:  # the Responses API arrived in openai 1.66
        from openai.resources.responses import AsyncResponses, Responses
        from openai.types.responses import Response
    except ImportError:
        return methods
    responses = CallSpec(PROVIDER, "openai.responses.create", _responses_request, _responses_response,
                         _ResponsesAggregator, streams, response_error=_responses_error, output_model=Response)
    return [*methods, Method(Responses, AsyncResponses, "create", responses),
            Method(Responses, AsyncResponses, "parse", responses.renamed("openai.responses.parse"), optional=True)]


# -- request and response attributes -------------------------------------------------------

def _common_request(kwargs: dict[str, Any]) -> dict[str, Any]:
    attrs = request_attributes(kwargs, _REQUEST_NUMBERS)
    tier = given(kwargs, "service_tier")
    if isinstance(tier, str):
        attrs["openai.request.service_tier"] = tier
    return attrs


def _chat_request(kwargs: dict[str, Any]) -> dict[str, Any]:
    attrs = _common_request(kwargs)
    limit = given(kwargs, "max_completion_tokens") or given(kwargs, "max_tokens")
    if isinstance(limit, int):
        attrs["gen_ai.request.max_tokens"] = limit
    stop = given(kwargs, "stop")
    if stop is not None:
        attrs["gen_ai.request.stop_sequences"] = [stop] if isinstance(stop, str) else [str(s) for s in stop]
    n = given(kwargs, "n")
    if isinstance(n, int) and n != 1:
        attrs["gen_ai.request.choice.count"] = n
    return attrs


def _responses_request(kwargs: dict[str, Any]) -> dict[str, Any]:
    attrs = _common_request(kwargs)
    limit = given(kwargs, "max_output_tokens")
    if isinstance(limit, int):
        attrs["gen_ai.request.max_tokens"] = limit
    return attrs


def _response_common(out: dict[str, Any], request_model: str | None, *, input_tokens: Any, output_tokens: Any,
                     cached: Any, written: Any, reasoning: Any) -> dict[str, Any]:
    attrs = response_identity(out)
    if out.get("service_tier"):
        attrs["openai.response.service_tier"] = str(out["service_tier"])
    attrs.update(usage_attributes(input_tokens, output_tokens, cached, written, reasoning))
    attrs.update(cost_attributes(out.get("model"), request_model, lambda model: _pricing.cost_usd(
        PROVIDER, model, input_tokens, output_tokens, cached or 0, written or 0)))
    return attrs


def _chat_response(out: dict[str, Any], request_model: str | None) -> dict[str, Any]:
    usage = out.get("usage") or {}
    prompt = usage.get("prompt_tokens_details") or {}
    completion = usage.get("completion_tokens_details") or {}
    attrs = _response_common(out, request_model, input_tokens=usage.get("prompt_tokens"),
                             output_tokens=usage.get("completion_tokens"), cached=prompt.get("cached_tokens"),
                             written=prompt.get("cache_write_tokens"), reasoning=completion.get("reasoning_tokens"))
    reasons = [str(c["finish_reason"]) for c in out.get("choices") or [] if c.get("finish_reason")]
    if reasons:
        attrs["gen_ai.response.finish_reasons"] = reasons
    if out.get("system_fingerprint"):
        attrs["openai.response.system_fingerprint"] = str(out["system_fingerprint"])
    return attrs


def _responses_response(out: dict[str, Any], request_model: str | None) -> dict[str, Any]:
    usage = out.get("usage") or {}
    given_in = usage.get("input_tokens_details") or {}
    given_out = usage.get("output_tokens_details") or {}
    attrs = _response_common(out, request_model, input_tokens=usage.get("input_tokens"),
                             output_tokens=usage.get("output_tokens"), cached=given_in.get("cached_tokens"),
                             written=given_in.get("cache_write_tokens"), reasoning=given_out.get("reasoning_tokens"))
    reason = _responses_finish_reason(out)
    if reason:
        attrs["gen_ai.response.finish_reasons"] = [reason]
    return attrs


def _responses_finish_reason(out: dict[str, Any]) -> str | None:
    # The Responses API has a status, not a finish reason: map it onto Chat Completions' words.
    status = out.get("status")
    if status == "completed":
        calls = any(str(item.get("type", "")).endswith("_call") for item in out.get("output") or [])
        return "tool_calls" if calls else "stop"
    if status == "incomplete":
        return str((out.get("incomplete_details") or {}).get("reason") or "incomplete")
    return "error" if status == "failed" else None


def _responses_error(out: dict[str, Any]) -> str | None:
    if out.get("status") != "failed":
        return None
    error = out.get("error") or {}
    return f"{error.get('code') or 'failed'}: {error.get('message') or 'the response failed'}"


# -- stream aggregation ------------------------------------------------------------------------

class _ChatAggregator:
    """Chat completion chunks -> the dict a non-streamed ``ChatCompletion`` dumps to."""

    def __init__(self) -> None:
        self.head: dict[str, Any] = {}
        self.choices: dict[int, dict[str, Any]] = {}
        self.usage: dict[str, Any] | None = None
        self.error: str | None = None

    @property
    def complete(self) -> bool:
        return bool(self.choices) and all(c["finish_reason"] for c in self.choices.values())

    def add(self, chunk: Any) -> bool:
        if not self.head.get("model"):  # some gateways open with a filter-results chunk without a model
            self.head = {"id": chunk.id, "object": "chat.completion", "created": chunk.created, "model": chunk.model,
                         "service_tier": getattr(chunk, "service_tier", None),
                         "system_fingerprint": getattr(chunk, "system_fingerprint", None)}
        if getattr(chunk, "usage", None) is not None:
            self.usage = chunk.usage.model_dump(mode="json", warnings=False)
        produced = False
        for choice in chunk.choices or []:
            state = self.choices.get(choice.index)
            if state is None:
                state = self.choices[choice.index] = {"role": "assistant", "content": [], "refusal": [],
                                                      "tool_calls": {}, "finish_reason": None, "logprobs": []}
            delta = choice.delta
            if delta is not None:
                produced = self._add_delta(state, delta) or produced
            if choice.finish_reason:
                state["finish_reason"] = choice.finish_reason
            logprobs = getattr(choice, "logprobs", None)
            if logprobs is not None and logprobs.content:
                state["logprobs"].extend(p.model_dump(mode="json", warnings=False) for p in logprobs.content)
        return produced

    @staticmethod
    def _add_delta(state: dict[str, Any], delta: Any) -> bool:
        produced = False
        if delta.role:
            state["role"] = delta.role
        for key in ("content", "refusal"):
            text = getattr(delta, key, None)
            if text:
                state[key].append(text)
                produced = True
        for call in delta.tool_calls or []:
            slot = state["tool_calls"].setdefault(call.index, {"id": None, "type": "function", "name": [], "args": []})
            slot["id"] = call.id or slot["id"]
            slot["type"] = call.type or slot["type"]
            if call.function is not None:
                if call.function.name:
                    slot["name"].append(call.function.name)
                if call.function.arguments:
                    slot["args"].append(call.function.arguments)
            produced = True
        return produced

    def result(self) -> dict[str, Any]:
        choices = []
        for index in sorted(self.choices):
            state = self.choices[index]
            calls = [{"id": slot["id"], "type": slot["type"],
                      "function": {"name": "".join(slot["name"]), "arguments": "".join(slot["args"])}}
                     for _, slot in sorted(state["tool_calls"].items())]
            message = {"role": state["role"], "content": "".join(state["content"]) or None,
                       "refusal": "".join(state["refusal"]) or None, "tool_calls": calls or None}
            choices.append({"index": index, "message": message, "finish_reason": state["finish_reason"],
                            "logprobs": {"content": state["logprobs"]} if state["logprobs"] else None})
        return {**self.head, "choices": choices, "usage": self.usage}


class _ResponsesAggregator:
    """Responses API events -> the dict a non-streamed ``Response`` dumps to."""

    _FINAL = ("response.completed", "response.incomplete", "response.failed")
    _SNAPSHOTS = ("response.created", "response.in_progress", "response.queued", *_FINAL)
    _GENERATED = ("response.output_text.delta", "response.refusal.delta", "response.function_call_arguments.delta",
                  "response.reasoning_text.delta", "response.reasoning_summary_text.delta",
                  "response.custom_tool_call_input.delta")

    def __init__(self) -> None:
        self.response: dict[str, Any] = {}
        self.items: dict[int, dict[str, Any]] = {}
        self.text: dict[tuple[int, int], list[str]] = {}
        self.args: dict[int, list[str]] = {}
        self.complete = False
        self.error: str | None = None

    def add(self, event: Any) -> bool:
        kind = getattr(event, "type", None)
        if kind in self._SNAPSHOTS:
            self.response = event.response.model_dump(mode="json", warnings=False)
            self.complete = self.complete or kind in self._FINAL
            self.error = _responses_error(self.response) or self.error
        elif kind in ("response.output_item.added", "response.output_item.done"):
            self.items[event.output_index] = event.item.model_dump(mode="json", warnings=False)
        elif kind == "response.output_text.delta":
            self.text.setdefault((event.output_index, event.content_index), []).append(event.delta)
        elif kind == "response.function_call_arguments.delta":
            self.args.setdefault(event.output_index, []).append(event.delta)
        elif kind == "error":
            self.error = f"{getattr(event, 'code', None) or 'error'}: {getattr(event, 'message', '')}"
        return kind in self._GENERATED

    def result(self) -> dict[str, Any]:
        if self.complete:
            return self.response
        # Cut short: rebuild the output from the items and deltas seen so far.
        output = []
        for index in sorted(self.items):
            item = json.loads(json.dumps(self.items[index]))  # a copy we may fill in
            if item.get("type") == "function_call" and not item.get("arguments"):
                item["arguments"] = "".join(self.args.get(index, []))
            if item.get("type") == "message":
                parts = item.setdefault("content", [])
                for (out_index, part_index), pieces in sorted(self.text.items()):
                    if out_index == index and part_index >= len(parts):
                        parts.append({"type": "output_text", "text": "".join(pieces), "annotations": []})
            output.append(item)
        return {**self.response, "output": output}
