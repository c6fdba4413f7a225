"""Anthropic's wire shapes: the Messages API, JSON and SSE.

Field names follow the installed SDK's types (``anthropic/types``). Every SSE
event carries an ``event:`` line: the SDK skips events without one.
"""

from __future__ import annotations

from typing import Any

from ._replies import Rendered, Reply, Usage, split_json

_ERRORS = {
    400: "invalid_request_error", 401: "authentication_error", 402: "billing_error", 403: "permission_error",
    404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error", 504: "timeout_error",
    529: "overloaded_error",
}


def error(reply: Reply, seq: int) -> Rendered:
    kind = reply.error_type or _ERRORS.get(reply.status, "api_error")
    message = reply.error_message or f"Fake error {reply.status} from the test server."
    body = {"type": "error", "error": {"type": kind, "message": message}, "request_id": f"req_fake{seq}"}
    return Rendered(status=reply.status, headers={"request-id": f"req_fake{seq}", **reply.error_headers()}, body=body)


def _usage(u: Usage, *, output_tokens: int) -> dict[str, Any]:
    usage: dict[str, Any] = {
        "input_tokens": u.input_tokens,
        "cache_creation_input_tokens": u.cache_creation_tokens,
        "cache_read_input_tokens": u.cache_read_tokens,
        "cache_creation": {"ephemeral_5m_input_tokens": u.cache_creation_tokens, "ephemeral_1h_input_tokens": 0},
        "output_tokens": output_tokens,
        "service_tier": "standard",
    }
    if u.reasoning_tokens:
        usage["output_tokens_details"] = {"thinking_tokens": u.reasoning_tokens}
    return usage


def _blocks(reply: Reply, seq: int) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if reply.text or not reply.tool_calls:
        blocks.append({"type": "text", "text": reply.text or "", "citations": None})
    blocks += [{"type": "tool_use", "id": call.id or f"toolu_fake{seq}_{i}", "name": call.name,
                "input": call.arguments_object()} for i, call in enumerate(reply.tool_calls)]
    return blocks


def messages(reply: Reply, usage: Usage, body: dict[str, Any], seq: int) -> Rendered:
    stop = reply.finish_reason or ("tool_use" if reply.tool_calls else "end_turn")
    message = {"id": f"msg_fake{seq}", "type": "message", "role": "assistant",
               "model": reply.model or str(body.get("model", "claude-fake")), "content": _blocks(reply, seq),
               "stop_reason": stop, "stop_sequence": None, "usage": _usage(usage, output_tokens=usage.output_tokens)}
    headers = {"request-id": f"req_fake{seq}"}
    if not body.get("stream"):
        return Rendered(headers=headers, body=message)

    events: list[tuple[str | None, Any]] = []

    def emit(kind: str, **fields: Any) -> None:
        events.append((kind, {"type": kind, **fields}))

    start_usage = _usage(usage, output_tokens=1)
    start_usage.pop("output_tokens_details", None)
    emit("message_start", message={**message, "content": [], "stop_reason": None, "usage": start_usage})
    tool_index = 0
    for index, block in enumerate(message["content"]):
        if block["type"] == "text":
            emit("content_block_start", index=index, content_block={"type": "text", "text": ""})
            if index == 0:
                events.append(("ping", {"type": "ping"}))
            for piece in reply.text_chunks():
                emit("content_block_delta", index=index, delta={"type": "text_delta", "text": piece})
        else:
            emit("content_block_start", index=index, content_block={**block, "input": {}})
            if index == 0:
                events.append(("ping", {"type": "ping"}))
            raw = reply.tool_calls[tool_index].arguments_json()
            tool_index += 1
            for piece in split_json(raw):
                emit("content_block_delta", index=index, delta={"type": "input_json_delta", "partial_json": piece})
        emit("content_block_stop", index=index)
    final_usage = _usage(usage, output_tokens=usage.output_tokens)
    for key in ("cache_creation", "service_tier"):
        final_usage.pop(key)
    emit("message_delta", delta={"stop_reason": stop, "stop_sequence": None}, usage=final_usage)
    emit("message_stop")
    failure = {"type": "error", "error": {"type": reply.error_type or "overloaded_error",
                                          "message": reply.error_message or "Overloaded"}}
    return Rendered(headers=headers, events=events, error_event=("error", failure))
