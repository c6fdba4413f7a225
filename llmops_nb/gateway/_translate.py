"""OpenAI chat completions ⇄ Anthropic messages, so any client can reach any deployment: requests and responses.

The router calls these when a request's route and its deployment's protocol differ; streams are
in :mod:`._translate_stream` (re-exported here). What crosses, and what cannot:

- system/developer messages ⇄ ``system``; user/assistant text and images (``data:`` URLs ⇄
  base64 image blocks, http(s) URLs ⇄ URL image blocks, PDF ``file`` parts ⇄ document blocks);
  ``tools``/``tool_choice``/``parallel_tool_calls``, assistant ``tool_calls`` ⇄ ``tool_use`` blocks,
  ``tool`` messages ⇄ ``tool_result`` blocks; ``max_completion_tokens``/``max_tokens`` ⇄
  ``max_tokens`` (Anthropic requires it: 4096 when the client gave none); ``stop`` ⇄
  ``stop_sequences``; ``temperature``, ``top_p``, ``stream``; ``user`` ⇄ ``metadata.user_id``.
- Parameters with no counterpart are dropped rather than refused, as LiteLLM does, because clients
  send them by default: OpenAI's ``seed``, penalties, ``logit_bias``, ``logprobs``,
  ``response_format``, ``service_tier``, ``store``, ``metadata``; Anthropic's ``top_k`` (kept when
  going to Anthropic), ``thinking`` blocks of earlier turns, ``cache_control``, a tool result's
  ``is_error``. What would change the answer's shape (``n`` > 1, server tools, audio) is refused
  with an ``UpstreamFailure("client")`` (HTTP 400) that says so.

Responses keep the upstream's ``model`` and ``id``: clients log the model that answered, and a
translated answer says the same as one passed through untouched (``model_name``, the name the
client asked for, is only the fallback when the upstream gave none). Usage objects are converted
by :mod:`._wire` (cache tokens are part of OpenAI's ``prompt_tokens``, not of Anthropic's
``input_tokens``).
"""

from __future__ import annotations

import time
from typing import Any

from ._translate_stream import chat_stream_to_messages, messages_stream_to_chat
from ._wire import (
    DEFAULT_MAX_TOKENS,
    FINISH_REASONS,
    STOP_REASONS,
    anthropic_usage_to_chat,
    chat_usage_to_anthropic,
    dumps,
    loads,
    refuse,
)

__all__ = ["arguments_object", "chat_response_to_messages", "chat_stream_to_messages", "chat_to_messages",
           "messages_response_to_chat", "messages_stream_to_chat", "messages_to_chat"]


# -- requests: OpenAI chat → Anthropic messages -----------------------------------------------------

def chat_to_messages(body: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI chat-completions request as an Anthropic messages request.

    >>> chat_to_messages({"model": "m", "messages": [{"role": "system", "content": "Be brief."},
    ...                                              {"role": "user", "content": "Hi"}]})
    {'model': 'm', 'max_tokens': 4096, 'messages': [{'role': 'user', 'content': 'Hi'}], 'system': 'Be brief.'}
    """
    if (body.get("n") or 1) != 1:
        raise refuse("n > 1 (several choices) cannot be sent to an Anthropic deployment; ask n times instead.")
    if body.get("functions") or body.get("function_call"):
        raise refuse("The legacy functions/function_call parameters are not translated; use tools/tool_choice.")
    out: dict[str, Any] = {}
    if "model" in body:
        out["model"] = body["model"]
    out["max_tokens"] = body.get("max_completion_tokens") or body.get("max_tokens") or DEFAULT_MAX_TOKENS
    system: list[str] = []
    messages: list[dict[str, Any]] = []
    for message in body.get("messages") or []:
        role = message.get("role")
        if role in ("system", "developer"):  # Anthropic has one system prompt, wherever they were
            system.append(_text_of(message.get("content")))
        elif role == "user":
            _append(messages, "user", _blocks_from_parts(message.get("content")))
        elif role == "assistant":
            _append(messages, "assistant", _assistant_blocks(message))
        elif role == "tool":
            _append(messages, "user", [_tool_result(message)])
        else:
            raise refuse(f"A message with role {role!r} cannot be sent to an Anthropic deployment; "
                         "use system, developer, user, assistant or tool.")
    out["messages"] = messages
    if system:
        out["system"] = "\n\n".join(system)
    stop = body.get("stop")
    if stop:
        out["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    for name in ("temperature", "top_p", "stream", "top_k"):
        if body.get(name) is not None:
            out[name] = body[name]
    if body.get("user"):
        out["metadata"] = {"user_id": body["user"]}
    if body.get("tools"):
        out["tools"] = [_anthropic_tool(tool) for tool in body["tools"]]
    choice = _anthropic_tool_choice(body.get("tool_choice"), body.get("parallel_tool_calls"))
    if choice is not None:
        out["tool_choice"] = choice
    return out


def _append(messages: list[dict[str, Any]], role: str, content: Any) -> None:
    # Anthropic wants the tool results answering one turn in one user message: merge same-role turns.
    if messages and messages[-1]["role"] == role:
        messages[-1]["content"] = _as_blocks(messages[-1]["content"]) + _as_blocks(content)
    else:
        messages.append({"role": role, "content": content})


def _as_blocks(content: Any) -> list[dict[str, Any]]:
    return [{"type": "text", "text": content}] if isinstance(content, str) else list(content)


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return "" if content is None else str(content)


def _blocks_from_parts(content: Any) -> Any:
    if content is None or isinstance(content, str):
        return content or ""
    blocks = []
    for part in content:
        kind = part.get("type")
        if kind == "text":
            blocks.append({"type": "text", "text": part.get("text", "")})
        elif kind == "image_url":
            image = part.get("image_url")
            url = image.get("url", "") if isinstance(image, dict) else str(image or "")
            blocks.append({"type": "image", "source": _source(url, "image")})
        elif kind == "file" and str((part.get("file") or {}).get("file_data", "")).startswith("data:"):
            blocks.append({"type": "document", "source": _source(part["file"]["file_data"], "file")})
        else:
            raise refuse(f"A content part of type {kind!r} cannot be sent to an Anthropic deployment "
                         "(text, image_url and PDF file parts can).")
    return blocks


def _source(url: str, what: str) -> dict[str, Any]:
    if url.startswith("data:"):
        head, _, data = url.partition(",")
        if not head.endswith(";base64"):
            raise refuse(f"A {what} data: URL must be base64-encoded (data:<type>;base64,...).")
        return {"type": "base64", "media_type": head[5:-7], "data": data}
    if url.startswith(("http://", "https://")):
        return {"type": "url", "url": url}
    raise refuse(f"A {what} must be a data: URL or an http(s) URL, not {url[:40]!r}.")


def _assistant_blocks(message: dict[str, Any]) -> Any:
    content, calls = message.get("content"), message.get("tool_calls") or []
    if not calls and (content is None or isinstance(content, str)):
        return content or ""
    text = _text_of(content) or message.get("refusal") or ""
    blocks: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
    for call in calls:
        function = call.get("function") or {}
        blocks.append({"type": "tool_use", "id": call.get("id"), "name": function.get("name"),
                       "input": arguments_object(function.get("arguments"))})
    return blocks


def arguments_object(arguments: Any) -> dict[str, Any]:
    """Tool-call arguments (OpenAI's JSON text) as Anthropic's ``input`` object; invalid JSON becomes {}."""
    if isinstance(arguments, dict):
        return arguments
    try:
        value = loads(arguments) if arguments else {}
    except ValueError:
        return {}  # a model's broken JSON: Anthropic only takes an object, and the turn is history anyway
    return value if isinstance(value, dict) else {}


def _tool_result(message: dict[str, Any]) -> dict[str, Any]:
    content = message.get("content")
    return {"type": "tool_result", "tool_use_id": message.get("tool_call_id"),
            "content": _blocks_from_parts(content) if isinstance(content, list) else content or ""}


def _anthropic_tool(tool: dict[str, Any]) -> dict[str, Any]:
    if tool.get("type", "function") != "function":
        raise refuse(f"A tool of type {tool.get('type')!r} cannot be sent to an Anthropic deployment; "
                     "only function tools can.")
    function = tool.get("function") or {}
    out = {"name": function.get("name"),
           "input_schema": function.get("parameters") or {"type": "object", "properties": {}}}
    if function.get("description"):
        out["description"] = function["description"]
    return out


def _anthropic_tool_choice(choice: Any, parallel: Any) -> dict[str, Any] | None:
    if isinstance(choice, dict):
        out = {"type": "tool", "name": (choice.get("function") or {}).get("name")}
    elif choice in ("auto", "none"):
        out = {"type": choice}
    elif choice == "required":
        out = {"type": "any"}
    elif parallel is False:
        out = {"type": "auto"}
    else:
        return None
    if parallel is False and out["type"] != "none":
        out["disable_parallel_tool_use"] = True
    return out


# -- requests: Anthropic messages → OpenAI chat -----------------------------------------------------

def messages_to_chat(body: dict[str, Any]) -> dict[str, Any]:
    """An Anthropic messages request as an OpenAI chat-completions request.

    ``max_tokens`` becomes ``max_completion_tokens`` (OpenAI's reasoning models refuse ``max_tokens``);
    a stream asks for usage (``stream_options.include_usage``), which the Anthropic stream needs.

    >>> messages_to_chat({"model": "m", "max_tokens": 5, "system": "Be brief.",
    ...                   "messages": [{"role": "user", "content": "Hi"}]})["messages"]
    [{'role': 'system', 'content': 'Be brief.'}, {'role': 'user', 'content': 'Hi'}]
    """
    out: dict[str, Any] = {}
    if "model" in body:
        out["model"] = body["model"]
    messages: list[dict[str, Any]] = []
    system = body.get("system")
    if system:
        messages.append({"role": "system", "content": _text_of(system)})
    for message in body.get("messages") or []:
        role, content = message.get("role"), message.get("content")
        if role == "user":
            messages += _user_messages(content)
        elif role == "assistant":
            messages.append(_assistant_message(content))
        else:
            raise refuse(f"A message with role {role!r} is not an Anthropic message; use user or assistant.")
    out["messages"] = messages
    if body.get("max_tokens") is not None:
        out["max_completion_tokens"] = body["max_tokens"]
    if body.get("stop_sequences"):
        out["stop"] = list(body["stop_sequences"])
    for name in ("temperature", "top_p"):
        if body.get(name) is not None:
            out[name] = body[name]
    if body.get("stream"):
        out["stream"] = True
        out["stream_options"] = {"include_usage": True}
    user = (body.get("metadata") or {}).get("user_id")
    if user:
        out["user"] = user
    if body.get("tools"):
        out["tools"] = [_openai_tool(tool) for tool in body["tools"]]
    choice = body.get("tool_choice")
    if isinstance(choice, dict):
        kind = choice.get("type")
        out["tool_choice"] = ({"type": "function", "function": {"name": choice.get("name")}} if kind == "tool"
                              else "required" if kind == "any" else kind)
        if choice.get("disable_parallel_tool_use"):
            out["parallel_tool_calls"] = False
    return out


def _user_messages(content: Any) -> list[dict[str, Any]]:
    if content is None or isinstance(content, str):
        return [{"role": "user", "content": content or ""}]
    # OpenAI wants tool results right after the assistant turn, each a message of its own
    tools = [{"role": "tool", "tool_call_id": block.get("tool_use_id"), "content": _tool_content(block)}
             for block in content if block.get("type") == "tool_result"]
    parts = _parts_from_blocks([block for block in content if block.get("type") != "tool_result"])
    return tools + ([{"role": "user", "content": parts}] if parts else [])


def _tool_content(block: dict[str, Any]) -> Any:
    content = block.get("content")
    return _parts_from_blocks(content) if isinstance(content, list) else content or ""


def _parts_from_blocks(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    parts = []
    for block in blocks:
        kind = block.get("type")
        if kind == "text":
            parts.append({"type": "text", "text": block.get("text", "")})
        elif kind == "image":
            parts.append({"type": "image_url", "image_url": {"url": _url(block.get("source") or {})}})
        elif kind == "document" and (block.get("source") or {}).get("type") == "base64":
            parts.append({"type": "file", "file": {"file_data": _url(block["source"])}})
        elif kind in ("thinking", "redacted_thinking"):
            continue  # the model's earlier reasoning: OpenAI has no place for it
        else:
            raise refuse(f"A content block of type {kind!r} cannot be sent to an OpenAI deployment "
                         "(text, image, base64 PDF document and tool_result blocks can).")
    return parts


def _url(source: dict[str, Any]) -> str:
    if source.get("type") == "base64":
        return f"data:{source.get('media_type')};base64,{source.get('data')}"
    if source.get("type") == "url":
        return str(source.get("url"))
    raise refuse(f"A {source.get('type')!r} image or document source cannot be sent to an OpenAI deployment.")


def _assistant_message(content: Any) -> dict[str, Any]:
    if content is None or isinstance(content, str):
        return {"role": "assistant", "content": content or ""}
    texts = [block.get("text", "") for block in content if block.get("type") == "text"]
    calls = [{"id": block.get("id"), "type": "function",
              "function": {"name": block.get("name"), "arguments": dumps(block.get("input") or {}).decode()}}
             for block in content if block.get("type") == "tool_use"]
    message: dict[str, Any] = {"role": "assistant", "content": (
        texts[0] if len(texts) == 1 else [{"type": "text", "text": t} for t in texts] if texts else None)}
    if calls:
        message["tool_calls"] = calls
    elif message["content"] is None:
        message["content"] = ""
    return message


def _openai_tool(tool: dict[str, Any]) -> dict[str, Any]:
    if tool.get("type") not in (None, "custom") or "input_schema" not in tool:
        raise refuse(f"The Anthropic server tool {tool.get('name') or tool.get('type')!r} cannot be sent to an "
                     "OpenAI deployment; only client tools (name, input_schema) can.")
    function = {"name": tool.get("name"), "parameters": tool["input_schema"]}
    if tool.get("description"):
        function["description"] = tool["description"]
    return {"type": "function", "function": function}


# -- responses ------------------------------------------------------------------------------------

def messages_response_to_chat(resp: dict[str, Any], model_name: str) -> dict[str, Any]:
    """An Anthropic message (non-streamed) as an OpenAI ``chat.completion``."""
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for block in resp.get("content") or []:
        if block.get("type") == "text":
            texts.append(block.get("text", ""))
        elif block.get("type") == "tool_use":
            calls.append({"id": block.get("id"), "type": "function",
                          "function": {"name": block.get("name"),
                                       "arguments": dumps(block.get("input") or {}).decode()}})
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts or not calls else None,
                               "refusal": None}
    if calls:
        message["tool_calls"] = calls
    finish = FINISH_REASONS.get(resp.get("stop_reason") or "", "stop")
    return {"id": resp.get("id"), "object": "chat.completion", "created": int(time.time()),
            "model": resp.get("model") or model_name,
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
            "usage": anthropic_usage_to_chat(resp.get("usage"))}


def chat_response_to_messages(resp: dict[str, Any], model_name: str) -> dict[str, Any]:
    """An OpenAI ``chat.completion`` (its first choice) as an Anthropic message."""
    choices = resp.get("choices") or [{}]
    message = choices[0].get("message") or {}
    blocks: list[dict[str, Any]] = []
    text = _text_of(message.get("content")) or message.get("refusal")
    if text:
        blocks.append({"type": "text", "text": text})
    for call in message.get("tool_calls") or []:
        function = call.get("function") or {}
        blocks.append({"type": "tool_use", "id": call.get("id"), "name": function.get("name"),
                       "input": arguments_object(function.get("arguments"))})
    return {"id": resp.get("id"), "type": "message", "role": "assistant", "model": resp.get("model") or model_name,
            "content": blocks or [{"type": "text", "text": ""}],
            "stop_reason": STOP_REASONS.get(choices[0].get("finish_reason") or "", "end_turn"),
            "stop_sequence": None, "usage": chat_usage_to_anthropic(resp.get("usage"))}


