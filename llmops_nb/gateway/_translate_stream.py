"""OpenAI chat-completion chunks ⇄ Anthropic message events: streamed answers for a client of the other protocol.

Both take the upstream's raw SSE events (as :class:`.UpstreamStream` yields them) and yield the
client's, one translated event at a time, so the first token is not held back. Text and tool-call
deltas both cross. What cannot: OpenAI reports usage only at the end, so an Anthropic client sees
``input_tokens: 0`` in ``message_start`` and the real counts in ``message_delta`` (the Anthropic SDK
takes them from there); Anthropic's thinking deltas have no OpenAI counterpart and are dropped. An
error event the upstream sends mid-stream becomes the client protocol's error event, ending the
stream. ``model`` and ``id`` are the upstream's, as in :mod:`._translate` (which re-exports these two).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

from ._sse import fields, frame
from ._wire import FINISH_REASONS, STOP_REASONS, anthropic_usage_to_chat, chat_usage_to_anthropic, dumps, loads

__all__ = ["chat_stream_to_messages", "messages_stream_to_chat"]

_DONE = b"data: [DONE]\n\n"


async def _objects(events: AsyncIterator[bytes]) -> AsyncIterator[tuple[str | None, Any]]:
    """Each event's name and parsed data; comments, pings without data and non-JSON data are skipped."""
    async for event in events:
        name, data = fields(event)
        if not data:
            continue
        if data == b"[DONE]":
            yield name, None
            continue
        try:
            value = loads(data)
        except ValueError:
            continue
        if isinstance(value, dict):
            yield name, value


# -- Anthropic → OpenAI ---------------------------------------------------------------------------

async def messages_stream_to_chat(events: AsyncIterator[bytes], model_name: str, *,
                                  include_usage: bool = False) -> AsyncIterator[bytes]:
    """Anthropic message events as ``chat.completion.chunk`` events ending with ``data: [DONE]``.

    ``include_usage``: the client set ``stream_options.include_usage``, so it gets the final
    usage-only chunk (``choices: []``) and ``"usage": null`` in the others, as from OpenAI.
    """
    head: dict[str, Any] = {"id": None, "object": "chat.completion.chunk", "created": int(time.time()),
                            "model": model_name}
    tools: dict[Any, int] = {}  # Anthropic block index → OpenAI tool-call index
    usage: dict[str, Any] = {}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        data = {**head, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}
        if include_usage:
            data["usage"] = None
        return frame(dumps(data))

    async for name, obj in _objects(events):
        kind = (obj or {}).get("type") or name
        if kind == "message_start":
            message = obj.get("message") or {}
            head["id"], head["model"] = message.get("id"), message.get("model") or model_name
            usage.update(message.get("usage") or {})
            yield chunk({"role": "assistant", "content": ""})
        elif kind == "content_block_start":
            block = obj.get("content_block") or {}
            if block.get("type") == "tool_use":
                tools[obj.get("index")] = index = len(tools)
                yield chunk({"tool_calls": [{"index": index, "id": block.get("id"), "type": "function",
                                             "function": {"name": block.get("name"), "arguments": ""}}]})
            elif block.get("type") == "text" and block.get("text"):
                yield chunk({"content": block["text"]})
        elif kind == "content_block_delta":
            delta = obj.get("delta") or {}
            if delta.get("type") == "text_delta":
                yield chunk({"content": delta.get("text", "")})
            elif delta.get("type") == "input_json_delta" and obj.get("index") in tools:
                yield chunk({"tool_calls": [{"index": tools[obj.get("index")],
                                             "function": {"arguments": delta.get("partial_json", "")}}]})
        elif kind == "message_delta":
            # usage here is cumulative and may repeat the input counts: newer values win
            usage.update({k: v for k, v in (obj.get("usage") or {}).items() if v is not None})
            stop = (obj.get("delta") or {}).get("stop_reason") or ""
            yield chunk({}, FINISH_REASONS.get(stop, "stop"))
        elif kind == "message_stop":
            if include_usage:
                yield frame(dumps({**head, "choices": [], "usage": anthropic_usage_to_chat(usage)}))
            yield _DONE
            return
        elif kind == "error":
            error = obj.get("error") or {}
            yield frame(dumps({"error": {"message": error.get("message", "The upstream stream failed."),
                                         "type": error.get("type", "api_error"), "param": None, "code": None}}))
            return


# -- OpenAI → Anthropic ---------------------------------------------------------------------------

async def chat_stream_to_messages(events: AsyncIterator[bytes], model_name: str) -> AsyncIterator[bytes]:
    """``chat.completion.chunk`` events as Anthropic message events.

    message_start, then per text run or tool call content_block_start / content_block_delta
    (``text_delta`` / ``input_json_delta``) / content_block_stop, then message_delta with the
    stop_reason and usage, then message_stop. Only choice 0 is translated (Anthropic has no ``n``).
    The upstream request should ask for usage (:func:`._translate.messages_to_chat` does).
    """
    started = False
    block = -1                       # index of the last block opened
    open_block: int | None = None    # the block still open, if any
    tools: dict[int, int] = {}       # OpenAI tool-call index → block index
    stop: str | None = None
    usage: Any = None

    def event(kind: str, **data: Any) -> bytes:
        return frame(dumps({"type": kind, **data}), kind)

    def close() -> bytes | None:
        nonlocal open_block
        closing, open_block = open_block, None
        return None if closing is None else event("content_block_stop", index=closing)

    async for _name, obj in _objects(events):
        if obj is None:  # [DONE]
            break
        if obj.get("error"):
            error = obj["error"] if isinstance(obj["error"], dict) else {"message": str(obj["error"])}
            yield event("error", error={"type": error.get("type") or "api_error",
                                        "message": error.get("message") or "The upstream stream failed."})
            return
        if not started:
            started = True
            yield event("message_start", message={
                "id": obj.get("id"), "type": "message", "role": "assistant", "model": obj.get("model") or model_name,
                "content": [], "stop_reason": None, "stop_sequence": None,
                "usage": {"input_tokens": 0, "output_tokens": 0}})
        if obj.get("usage"):
            usage = obj["usage"]
        for choice in obj.get("choices") or []:
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            text = delta.get("content") or delta.get("refusal")
            if text:
                if open_block is None or open_block in tools.values():
                    if (stopped := close()) is not None:
                        yield stopped
                    block += 1
                    open_block = block
                    yield event("content_block_start", index=block, content_block={"type": "text", "text": ""})
                yield event("content_block_delta", index=open_block, delta={"type": "text_delta", "text": text})
            for call in delta.get("tool_calls") or []:
                index, function = call.get("index", 0), call.get("function") or {}
                if index not in tools:
                    if (stopped := close()) is not None:
                        yield stopped
                    block += 1
                    tools[index] = open_block = block
                    yield event("content_block_start", index=block, content_block={
                        "type": "tool_use", "id": call.get("id"), "name": function.get("name"), "input": {}})
                if function.get("arguments"):
                    # a late fragment of an earlier (closed) call still names its own block
                    yield event("content_block_delta", index=tools[index],
                                delta={"type": "input_json_delta", "partial_json": function["arguments"]})
            if choice.get("finish_reason"):
                stop = STOP_REASONS.get(choice["finish_reason"], "end_turn")
    if not started:
        return
    if (stopped := close()) is not None:
        yield stopped
    final = chat_usage_to_anthropic(usage) if usage else {"output_tokens": 0}
    yield event("message_delta", delta={"stop_reason": stop or "end_turn", "stop_sequence": None}, usage=final)
    yield event("message_stop")
