"""OpenAI's wire shapes: Chat Completions and Responses, JSON and SSE.

Field names follow the installed SDK's types (``openai/types/chat`` and
``openai/types/responses``): the SDK builds its objects from exactly these
dicts, so a field spelled wrong here shows up as ``None`` in a test.
"""

from __future__ import annotations

from typing import Any

from ._replies import Rendered, Reply, Usage, split_json

CREATED = 1_700_000_000

_ERRORS = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
}


def error(reply: Reply, seq: int) -> Rendered:
    kind, code = _ERRORS.get(reply.status, ("server_error", None))
    message = reply.error_message or f"Fake error {reply.status} from the test server."
    body = {"error": {"message": message, "type": reply.error_type or kind, "param": None,
                      "code": reply.error_code or code}}
    return Rendered(status=reply.status, headers={"x-request-id": f"req_fake{seq}", **reply.error_headers()},
                    body=body)


# -- Chat Completions ---------------------------------------------------------

def _chat_usage(u: Usage) -> dict[str, Any]:
    prompt_details: dict[str, Any] = {"cached_tokens": u.cache_read_tokens, "audio_tokens": 0}
    if u.cache_creation_tokens:
        prompt_details["cache_write_tokens"] = u.cache_creation_tokens
    return {
        "prompt_tokens": u.input_tokens,
        "completion_tokens": u.output_tokens,
        "total_tokens": u.input_tokens + u.output_tokens,
        "prompt_tokens_details": prompt_details,
        "completion_tokens_details": {"reasoning_tokens": u.reasoning_tokens, "audio_tokens": 0,
                                      "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0},
    }


def _call_id(reply: Reply, seq: int, index: int) -> str:
    return reply.tool_calls[index].id or f"call_fake{seq}_{index}"


def chat(reply: Reply, usage: Usage, body: dict[str, Any], seq: int) -> Rendered:
    model = reply.model or str(body.get("model", "gpt-fake"))
    finish = reply.finish_reason or ("tool_calls" if reply.tool_calls else "stop")
    head = {"id": f"chatcmpl-fake{seq}", "created": CREATED + seq, "model": model,
            "system_fingerprint": "fp_fake", "service_tier": "default"}
    headers = {"x-request-id": f"req_fake{seq}"}
    if not body.get("stream"):
        message: dict[str, Any] = {"role": "assistant", "content": reply.text if reply.text or not reply.tool_calls
                                   else None, "refusal": None, "annotations": []}
        if reply.tool_calls:
            message["tool_calls"] = [
                {"id": _call_id(reply, seq, i), "type": "function",
                 "function": {"name": call.name, "arguments": call.arguments_json()}}
                for i, call in enumerate(reply.tool_calls)]
        return Rendered(headers=headers, body={
            **head, "object": "chat.completion",
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
            "usage": _chat_usage(usage)})

    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        data = {**head, "object": "chat.completion.chunk",
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}]}
        if include_usage:
            data["usage"] = None
        return data

    events: list[tuple[str | None, Any]] = [(None, chunk({"role": "assistant", "content": "", "refusal": None}))]
    events += [(None, chunk({"content": piece})) for piece in reply.text_chunks()]
    for i, call in enumerate(reply.tool_calls):
        events.append((None, chunk({"tool_calls": [{"index": i, "id": _call_id(reply, seq, i), "type": "function",
                                                    "function": {"name": call.name, "arguments": ""}}]})))
        events += [(None, chunk({"tool_calls": [{"index": i, "function": {"arguments": part}}]}))
                   for part in split_json(call.arguments_json())]
    events.append((None, chunk({}, finish)))
    if include_usage:
        events.append((None, {**head, "object": "chat.completion.chunk", "choices": [],
                              "usage": _chat_usage(usage)}))
    events.append((None, "[DONE]"))
    failure = {"error": {"message": reply.error_message or "The server had an error while streaming.",
                         "type": "server_error", "param": None, "code": None}}
    return Rendered(headers=headers, events=events, error_event=(None, failure))


# -- Responses ------------------------------------------------------------------

def _responses_usage(u: Usage) -> dict[str, Any]:
    return {
        "input_tokens": u.input_tokens,
        "input_tokens_details": {"cached_tokens": u.cache_read_tokens, "cache_write_tokens": u.cache_creation_tokens},
        "output_tokens": u.output_tokens,
        "output_tokens_details": {"reasoning_tokens": u.reasoning_tokens},
        "total_tokens": u.input_tokens + u.output_tokens,
    }


def _items(reply: Reply, seq: int) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    if reply.text or not reply.tool_calls:
        items.append({"type": "message", "id": f"msg_fake{seq}", "status": "completed", "role": "assistant",
                      "content": [{"type": "output_text", "text": reply.text or "", "annotations": [],
                                   "logprobs": []}]})
    items += [{"type": "function_call", "id": f"fc_fake{seq}_{i}", "call_id": _call_id(reply, seq, i),
               "name": call.name, "arguments": call.arguments_json(), "status": "completed"}
              for i, call in enumerate(reply.tool_calls)]
    return items


def _response(reply: Reply, usage: Usage | None, body: dict[str, Any], seq: int, *, done: bool) -> dict[str, Any]:
    finish = reply.finish_reason
    incomplete = done and finish not in (None, "stop", "completed", "tool_calls")
    status = ("incomplete" if incomplete else "completed") if done else "in_progress"
    return {
        "id": f"resp_fake{seq}", "object": "response", "created_at": float(CREATED + seq), "status": status,
        "completed_at": float(CREATED + seq + 1) if status == "completed" else None,
        "error": None, "incomplete_details": {"reason": finish} if incomplete else None,
        "instructions": body.get("instructions"), "max_output_tokens": body.get("max_output_tokens"),
        "model": reply.model or str(body.get("model", "gpt-fake")),
        "output": _items(reply, seq) if done else [],
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "previous_response_id": body.get("previous_response_id"),
        "reasoning": {"effort": None, "summary": None}, "store": body.get("store", True),
        "temperature": body.get("temperature", 1.0), "text": {"format": {"type": "text"}, "verbosity": "medium"},
        "tool_choice": body.get("tool_choice", "auto"), "tools": body.get("tools") or [],
        "top_p": body.get("top_p", 1.0), "truncation": "disabled", "service_tier": "default",
        "usage": _responses_usage(usage) if done and usage is not None else None,
        "user": None, "metadata": body.get("metadata") or {},
    }


def responses(reply: Reply, usage: Usage, body: dict[str, Any], seq: int) -> Rendered:
    headers = {"x-request-id": f"req_fake{seq}"}
    if not body.get("stream"):
        return Rendered(headers=headers, body=_response(reply, usage, body, seq, done=True))

    events: list[tuple[str | None, Any]] = []

    def emit(kind: str, **fields: Any) -> None:
        events.append((kind, {"type": kind, "sequence_number": len(events), **fields}))

    start = _response(reply, None, body, seq, done=False)
    emit("response.created", response=start)
    emit("response.in_progress", response=start)
    for index, item in enumerate(_items(reply, seq)):
        if item["type"] == "message":
            part = item["content"][0]
            emit("response.output_item.added", output_index=index,
                 item={**item, "status": "in_progress", "content": []})
            emit("response.content_part.added", item_id=item["id"], output_index=index, content_index=0,
                 part={**part, "text": ""})
            for piece in reply.text_chunks():
                emit("response.output_text.delta", item_id=item["id"], output_index=index, content_index=0,
                     delta=piece, logprobs=[])
            emit("response.output_text.done", item_id=item["id"], output_index=index, content_index=0,
                 text=part["text"], logprobs=[])
            emit("response.content_part.done", item_id=item["id"], output_index=index, content_index=0, part=part)
        else:
            emit("response.output_item.added", output_index=index,
                 item={**item, "arguments": "", "status": "in_progress"})
            for piece in split_json(item["arguments"]):
                emit("response.function_call_arguments.delta", item_id=item["id"], output_index=index, delta=piece)
            emit("response.function_call_arguments.done", item_id=item["id"], output_index=index,
                 arguments=item["arguments"], name=item["name"])
        emit("response.output_item.done", output_index=index, item=item)
    final = _response(reply, usage, body, seq, done=True)
    emit("response.completed" if final["status"] == "completed" else "response.incomplete", response=final)
    failure = {"type": "error", "code": "server_error", "param": None, "sequence_number": reply.fail_after or 0,
               "message": reply.error_message or "The server had an error while streaming."}
    return Rendered(headers=headers, events=events, error_event=("error", failure))


# -- Embeddings -------------------------------------------------------------------

def embeddings(reply: Reply, usage: Usage, body: dict[str, Any], seq: int) -> Rendered:
    """A vector per input, derived from the input's text (equal inputs, equal vectors)."""
    import hashlib

    inputs = body.get("input")
    texts = [inputs] if isinstance(inputs, str) else list(inputs or [])
    data = []
    for index, text in enumerate(texts):
        digest = hashlib.sha256(str(text).encode()).digest()
        data.append({"object": "embedding", "index": index, "embedding": [round(b / 255, 4) for b in digest[:8]]})
    tokens = usage.input_tokens
    return Rendered(headers={"x-request-id": f"req_fake{seq}"},
                    body={"object": "list", "data": data, "model": str(body.get("model", "text-embedding-fake")),
                          "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})
