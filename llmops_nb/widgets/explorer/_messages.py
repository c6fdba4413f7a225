"""Chat messages out of a span's inputs, outputs and attributes, whatever the provider's shape.

Read once, here, for every view: the explorer's detail pane receives them ready to render (the
``messages`` of a ``span`` answer) and the script-free snapshot renders the same form. Shapes:
OpenAI Chat Completions (``messages``, ``choices[].message``, ``tool_calls``), Anthropic Messages
(``system`` + ``messages``, content blocks ``text``/``tool_use``/``tool_result``/``thinking``),
OpenAI Responses (``instructions`` + ``input`` items, ``output`` items) and the OpenTelemetry
``gen_ai.input.messages``/``gen_ai.output.messages`` attributes.

The form: ``{"input": [message], "output": [message]}``, or None when the span holds no
conversation; a message is ``{"role", "name", "parts"}``; a part is one of

* ``{"type": "text" | "refusal" | "thinking" | "media" | "other", "text"}``
* ``{"type": "tool_call", "id", "name", "arguments"}`` (arguments pretty-printed JSON text)
* ``{"type": "tool_result", "id", "content", "is_error"}``

Everything is text for the views to show as text: an image is ``[image]``, never its URL.

>>> normalize_messages({"messages": [{"role": "user", "content": "hi"}]}, "hello", None)["output"]
[{'role': 'assistant', 'name': None, 'parts': [{'type': 'text', 'text': 'hello'}]}]
"""

from __future__ import annotations

import json
import re
from typing import Any

Part = dict[str, Any]
Message = dict[str, Any]

# A payload the store cut is a JSON string ending in this marker: JSON text, not a reply.
_CUT = re.compile(r"… \[truncated at \d+ chars\]$")
_TEXT_BLOCKS = ("text", "input_text", "output_text")
_MEDIA = {"image": "[image]", "image_url": "[image]", "input_image": "[image]", "input_audio": "[audio]",
          "audio": "[audio]", "input_file": "[file]", "file": "[file]", "document": "[document]"}


def pretty_json(value: Any) -> str:
    """JSON for people: indented; a string that holds a JSON object or list (tool arguments) is parsed first."""
    if isinstance(value, str):
        stripped = value.strip()
        if (stripped[:1], stripped[-1:]) in (("{", "}"), ("[", "]")):
            try:
                return json.dumps(json.loads(stripped), indent=2, ensure_ascii=False)
            except ValueError:
                return value
        return value
    try:
        return json.dumps(value, indent=2, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(value)


def _text(value: Any) -> str:
    return "" if value is None else value if isinstance(value, str) else pretty_json(value)


def _tool_call(call_id: Any, name: Any, arguments: Any) -> Part:
    return {"type": "tool_call", "id": None if call_id is None else str(call_id),
            "name": "(unnamed tool)" if name is None else str(name), "arguments": pretty_json(arguments or "")}


def _tool_result(call_id: Any, content: Any, is_error: Any = False) -> Part:
    text = "\n".join(_part_text(p) for p in parts(content)) if isinstance(content, list) else _text(content)
    return {"type": "tool_result", "id": None if call_id is None else str(call_id), "content": pretty_json(text),
            "is_error": bool(is_error)}


def _part_text(part: Part) -> str:
    return str(part.get("text") or part.get("content") or part.get("arguments") or "")


def parts(content: Any) -> list[Part]:
    """Content — a string, one block, or a list of blocks — as parts."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    out: list[Part] = []
    for block in content if isinstance(content, list) else [content]:
        if isinstance(block, str):
            out.append({"type": "text", "text": block})
        elif isinstance(block, dict):
            out.append(_block(block))
    return out


def _block(block: dict[str, Any]) -> Part:
    kind = block.get("type")
    if kind in _TEXT_BLOCKS:
        return {"type": "text", "text": _text(block.get("text", block.get("content")))}
    if kind == "refusal":
        return {"type": "refusal", "text": _text(block.get("refusal", block.get("text")))}
    if kind in ("tool_use", "server_tool_use"):  # Anthropic
        return _tool_call(block.get("id"), block.get("name"), block.get("input"))
    if kind in ("tool_call", "function_call"):  # OpenTelemetry part, Responses item
        return _tool_call(block.get("id", block.get("call_id")), block.get("name"), block.get("arguments"))
    if kind == "tool_result":
        return _tool_result(block.get("tool_use_id"), block.get("content"), block.get("is_error"))
    if kind in ("tool_call_response", "function_call_output"):
        return _tool_result(block.get("id", block.get("call_id")), block.get("response", block.get("output")))
    if kind in ("thinking", "reasoning"):
        found = block.get("thinking", block.get("content"))
        return {"type": "thinking", "text": _text(found) if found is not None else _summary(block.get("summary"))}
    if kind == "redacted_thinking":
        return {"type": "thinking", "text": "[redacted thinking]"}
    if kind in _MEDIA:
        return {"type": "media", "text": _MEDIA[kind]}
    if kind is None and isinstance(block.get("text"), str):
        return {"type": "text", "text": block["text"]}
    return {"type": "other", "text": pretty_json(block)}


def _summary(summary: Any) -> str:
    if not isinstance(summary, list):
        return _text(summary)
    return "\n".join(_text(s.get("text")) if isinstance(s, dict) else _text(s) for s in summary)


def _chat_message(m: Any) -> Message:
    """One Chat Completions or Anthropic message."""
    if not isinstance(m, dict):
        return {"role": "user", "name": None, "parts": parts(_text(m))}
    role = str(m.get("role") or "user")
    name = m.get("name")
    if role in ("tool", "function"):
        return {"role": "tool", "name": name, "parts": [_tool_result(m.get("tool_call_id", name), m.get("content"))]}
    out = parts(m.get("content"))
    if m.get("refusal"):
        out.append({"type": "refusal", "text": _text(m["refusal"])})
    for call in m.get("tool_calls") or []:
        if isinstance(call, dict):
            fn = call.get("function") if isinstance(call.get("function"), dict) else {}
            out.append(_tool_call(call.get("id"), fn.get("name", call.get("name")),
                                  fn.get("arguments", call.get("arguments"))))
    if isinstance(m.get("function_call"), dict):
        out.append(_tool_call(None, m["function_call"].get("name"), m["function_call"].get("arguments")))
    # Anthropic sends tool results back as a user message made only of tool_result blocks
    only_results = bool(out) and all(p["type"] == "tool_result" for p in out)
    return {"role": "tool" if only_results else role, "name": name, "parts": out}


def _responses_item(item: Any) -> Message | None:
    """One OpenAI Responses input or output item."""
    if isinstance(item, str):
        return {"role": "user", "name": None, "parts": parts(item)}
    if not isinstance(item, dict):
        return None
    if item.get("role") is not None:
        return {"role": str(item["role"]), "name": None, "parts": parts(item.get("content"))}
    kind = item.get("type")
    if kind in ("function_call", "custom_tool_call"):
        call = _tool_call(item.get("call_id", item.get("id")), item.get("name"),
                          item.get("arguments", item.get("input")))
        return {"role": "assistant", "name": None, "parts": [call]}
    if kind in ("function_call_output", "custom_tool_call_output"):
        return {"role": "tool", "name": None, "parts": [_tool_result(item.get("call_id"), item.get("output"))]}
    if kind == "reasoning":
        return {"role": "assistant", "name": None,
                "parts": [{"type": "thinking", "text": _summary(item.get("summary")) or "[reasoning]"}]}
    return {"role": "assistant", "name": None, "parts": [{"type": "other", "text": pretty_json(item)}]}


def _json_value(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _otel_messages(value: Any) -> list[Message]:
    value = _json_value(value)
    if not isinstance(value, list):
        return []
    return [{"role": str(m.get("role") or "user"), "name": None, "parts": parts(m.get("parts", m.get("content")))}
            for m in value if isinstance(m, dict)]


def _input_messages(inputs: Any, attributes: Any) -> list[Message]:
    # The GenAI attributes, when a span has them, are the conversation in the one standard form;
    # its inputs then hold a framework's own shape (LangChain's serialized messages) that reads worse.
    if isinstance(attributes, dict) and attributes.get("gen_ai.input.messages") is not None:
        out = _otel_messages(attributes.get("gen_ai.input.messages"))
        if out:
            system = attributes.get("gen_ai.system_instructions")
            head = [{"role": "system", "name": None, "parts": parts(_json_value(system))}] if system is not None else []
            return head + out
    out = []
    if isinstance(inputs, dict):
        for key in ("system", "instructions"):  # Anthropic; OpenAI Responses
            if inputs.get(key) is not None:
                out.append({"role": "system", "name": None, "parts": parts(inputs[key])})
        if isinstance(inputs.get("messages"), list):
            out += [_chat_message(m) for m in inputs["messages"]]
        given = inputs.get("input")
        if isinstance(given, str):
            out.append({"role": "user", "name": None, "parts": parts(given)})
        elif isinstance(given, list):
            out += [m for m in map(_responses_item, given) if m is not None]
        if not out and isinstance(inputs.get("prompt"), str):
            out.append({"role": "user", "name": None, "parts": parts(inputs["prompt"])})
    if not out and isinstance(attributes, dict):
        system = attributes.get("gen_ai.system_instructions")
        if system is not None:
            out.append({"role": "system", "name": None, "parts": parts(_json_value(system))})
        out += _otel_messages(attributes.get("gen_ai.input.messages"))
    return out


def _output_messages(outputs: Any, attributes: Any) -> list[Message]:
    if isinstance(attributes, dict) and attributes.get("gen_ai.output.messages") is not None:
        out = _otel_messages(attributes.get("gen_ai.output.messages"))
        if out:
            return out
    out = []
    if isinstance(outputs, dict):
        if isinstance(outputs.get("choices"), list):  # OpenAI chat completion
            choices = outputs["choices"]
            for i, c in enumerate(choices):
                if not isinstance(c, dict):
                    continue
                if isinstance(c.get("message"), dict):
                    m = _chat_message({"role": "assistant", **c["message"]})
                else:
                    delta = c.get("delta") if isinstance(c.get("delta"), dict) else {}
                    m = {"role": "assistant", "name": None, "parts": parts(c.get("text", delta.get("content")))}
                if len(choices) > 1:
                    m["name"] = f"choice {c.get('index', i)}"
                out.append(m)
        elif isinstance(outputs.get("content"), list) and (outputs.get("role") is not None
                                                             or outputs.get("type") == "message"):
            out.append({"role": str(outputs.get("role") or "assistant"), "name": None,
                        "parts": parts(outputs["content"])})  # Anthropic message
        elif isinstance(outputs.get("output"), list):  # OpenAI Responses
            out += [m for m in map(_responses_item, outputs["output"]) if m is not None]
    elif isinstance(outputs, str) and outputs and not _CUT.search(outputs[-60:]):
        out.append({"role": "assistant", "name": None, "parts": parts(outputs)})
    if not out and isinstance(attributes, dict):
        out += _otel_messages(attributes.get("gen_ai.output.messages"))
    return out


def normalize_messages(inputs: Any, outputs: Any, attributes: Any) -> dict[str, list[Message]] | None:
    """The conversation of a span, or None when it holds none (a plain tool call, a chain's dict)."""
    asked = _input_messages(inputs, attributes)
    answered = _output_messages(outputs, attributes) if asked or isinstance(outputs, dict) else []
    if not asked and not answered:
        return None
    return {"input": asked, "output": answered}
