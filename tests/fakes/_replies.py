"""What a test scripts the fake server to answer: one :class:`Reply` per request.

A reply is provider-neutral (text, tool calls, usage, timing, failure); the wire
modules render it in OpenAI's or Anthropic's exact shapes. Usage numbers are
written verbatim into the provider's native fields, so a test states what the
provider would report: OpenAI's ``prompt_tokens`` include cached tokens,
Anthropic's ``input_tokens`` exclude cache reads and writes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(frozen=True)
class ToolCall:
    """A function/tool call the model makes. ``arguments`` as a dict, or raw JSON text (may be invalid)."""

    name: str
    arguments: Mapping[str, Any] | str = field(default_factory=dict)
    id: str | None = None

    def arguments_json(self) -> str:
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(dict(self.arguments), separators=(",", ":"))

    def arguments_object(self) -> dict[str, Any]:
        """The arguments as an object (Anthropic's ``input``); invalid JSON text becomes ``{}``."""
        if not isinstance(self.arguments, str):
            return dict(self.arguments)
        try:
            value = json.loads(self.arguments)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class Usage:
    """Token counts, written as-is into the provider's usage fields."""

    input_tokens: int = 10
    output_tokens: int = 5
    cache_read_tokens: int = 0
    cache_creation_tokens: int = 0
    reasoning_tokens: int = 0


@dataclass(frozen=True)
class Reply:
    """One scripted answer.

    ``text=None`` with tool calls gives a tool-only answer. ``finish_reason`` is the
    provider's own value (``"length"``, ``"max_tokens"``, ``"max_output_tokens"`` …);
    by default it follows from the content. ``delay`` is slept before the response
    starts, ``chunk_delay`` between streamed events. ``fail_after=N`` stops a stream
    after N events, with the provider's error event or (``failure="disconnect"``) a
    dropped connection. ``status`` other than 200 answers with the provider's error
    JSON; ``retry_after`` adds ``retry-after``/``retry-after-ms`` headers; ``error_code`` is OpenAI's
    ``error.code`` (e.g. ``"context_length_exceeded"``), else the status's usual one.
    """

    text: str | None = ""
    tool_calls: Sequence[ToolCall] = ()
    usage: Usage | None = None
    finish_reason: str | None = None
    model: str | None = None
    chunks: Sequence[str] | None = None
    delay: float = 0.0
    chunk_delay: float = 0.0
    fail_after: int | None = None
    failure: Literal["error_event", "disconnect"] = "error_event"
    status: int = 200
    error_message: str | None = None
    error_type: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    retry_after: float | None = None
    error_code: str | None = None

    @classmethod
    def error(cls, status: int, message: str | None = None, *, retry_after: float | None = None,
              error_type: str | None = None, headers: Mapping[str, str] | None = None,
              code: str | None = None) -> Reply:
        """An HTTP error answer, e.g. ``Reply.error(429, retry_after=0.01)``."""
        return cls(status=status, error_message=message, retry_after=retry_after, error_type=error_type,
                   headers=dict(headers or {}), error_code=code)

    def text_chunks(self) -> list[str]:
        """The text as streamed deltas: the scripted ``chunks``, else word by word (spaces kept)."""
        if self.chunks is not None:
            return list(self.chunks)
        if not self.text:
            return []
        return re.findall(r"\s*\S+\s*$|\s*\S+", self.text) or [self.text]

    def error_headers(self) -> dict[str, str]:
        headers = dict(self.headers)
        if self.retry_after is not None:
            headers.setdefault("retry-after-ms", str(int(self.retry_after * 1000)))
            headers.setdefault("retry-after", str(max(0, round(self.retry_after))))
        return headers


def split_json(text: str, size: int = 8) -> list[str]:
    """Tool-call arguments as streamed fragments (fixed size, like the providers' partial JSON)."""
    return [text[i:i + size] for i in range(0, len(text), size)] or [""]


def word_count(value: Any) -> int:
    """Whitespace words in every string of a JSON value: the fake's stand-in for a tokenizer."""
    if isinstance(value, str):
        return len(value.split())
    if isinstance(value, Mapping):
        return sum(word_count(v) for k, v in value.items() if k not in ("role", "type"))
    if isinstance(value, (list, tuple)):
        return sum(word_count(v) for v in value)
    return 0


def last_user_text(messages: Any) -> str:
    """The text of the last user turn in a chat/messages/responses input (str or content parts)."""
    if isinstance(messages, str):
        return messages
    if not isinstance(messages, list):
        return ""
    for message in reversed(messages):
        if isinstance(message, Mapping) and message.get("role", "user") == "user":
            return _content_text(message.get("content"))
    return ""


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, Mapping) and "text" in p)
    return ""


def resolve(reply: Reply | None, prompt: Any) -> tuple[Reply, Usage]:
    """The reply to send (the echo default when none is queued) and its usage numbers."""
    if reply is None:
        said = " ".join(last_user_text(prompt).split())[:200]
        reply = Reply(text=f"echo: {said}" if said else "echo: (empty)")
    if reply.usage is not None:
        return reply, reply.usage
    out = word_count(reply.text or "") + sum(1 + word_count(t.arguments_json()) for t in reply.tool_calls)
    return reply, Usage(input_tokens=max(1, word_count(prompt)), output_tokens=max(1, out))


@dataclass
class Rendered:
    """A reply in one provider's wire format: a JSON body, or SSE events (``(event, data)`` pairs)."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    events: list[tuple[str | None, Any]] | None = None
    #: what a stream sends when it fails midway with ``failure="error_event"``
    error_event: tuple[str | None, Any] | None = None
