"""What the two wire protocols share and the gateway reads off both: the JSON codec, stop reasons, usage.

Usage, the one subtle part: Anthropic's ``input_tokens`` exclude cache reads and writes while
OpenAI's ``prompt_tokens`` include them, so ``prompt_tokens = input + cache_read + cache_creation``
and back, and :class:`Usage` counts input tokens the OpenAI way whatever the protocol (budgets
and rate limits see every token the prompt had; cache discounts are not applied).
"""

from __future__ import annotations

import json
from typing import Any

from ._types import UpstreamFailure, Usage

try:  # ~5x faster both ways on request-sized bodies; the stdlib otherwise
    import orjson

    loads = orjson.loads

    def dumps(value: Any) -> bytes:
        try:
            return orjson.dumps(value)
        except TypeError:  # what orjson refuses (an int over 64 bits, a non-str key): the stdlib's way
            return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str).encode()
except ImportError:  # pragma: no cover - orjson is optional
    def dumps(value: Any) -> bytes:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str).encode()

    loads = json.loads  # type: ignore[assignment]

__all__ = ["DEFAULT_MAX_TOKENS", "FINISH_REASONS", "STOP_REASONS", "anthropic_usage_to_chat",
           "chat_usage_to_anthropic", "dumps", "loads", "refuse", "usage_from_chat", "usage_from_messages"]

#: Anthropic requires max_tokens; when an OpenAI client gave none
DEFAULT_MAX_TOKENS = 4096
#: Anthropic stop_reason → OpenAI finish_reason
FINISH_REASONS = {"end_turn": "stop", "max_tokens": "length", "tool_use": "tool_calls", "stop_sequence": "stop",
                  "refusal": "content_filter", "pause_turn": "stop", "model_context_window_exceeded": "length"}
#: OpenAI finish_reason → Anthropic stop_reason
STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use", "function_call": "tool_use",
                "content_filter": "refusal"}


def refuse(message: str) -> UpstreamFailure:
    """A request the deployment's protocol cannot express: final, HTTP 400."""
    return UpstreamFailure("client", message, status=400)



def _count(value: Any) -> int:
    return value if isinstance(value, int) else 0


def anthropic_usage_to_chat(usage: Any) -> dict[str, Any]:
    """Anthropic's usage object as OpenAI's (cache reads and writes counted in ``prompt_tokens``)."""
    usage = usage if isinstance(usage, dict) else {}
    read, write = _count(usage.get("cache_read_input_tokens")), _count(usage.get("cache_creation_input_tokens"))
    prompt = _count(usage.get("input_tokens")) + read + write
    completion = _count(usage.get("output_tokens"))
    out: dict[str, Any] = {"prompt_tokens": prompt, "completion_tokens": completion,
                           "total_tokens": prompt + completion}
    if read or write:
        out["prompt_tokens_details"] = {"cached_tokens": read, **({"cache_write_tokens": write} if write else {})}
    return out


def chat_usage_to_anthropic(usage: Any) -> dict[str, Any]:
    """OpenAI's usage object as Anthropic's (cached tokens taken out of ``input_tokens``)."""
    usage = usage if isinstance(usage, dict) else {}
    details = usage.get("prompt_tokens_details") or {}
    read, write = _count(details.get("cached_tokens")), _count(details.get("cache_write_tokens"))
    return {"input_tokens": max(0, _count(usage.get("prompt_tokens")) - read - write),
            "output_tokens": _count(usage.get("completion_tokens")),
            "cache_creation_input_tokens": write, "cache_read_input_tokens": read}


def usage_from_chat(usage: Any, model: Any = None) -> Usage:
    """The :class:`Usage` of an OpenAI chat or embeddings answer (embeddings: 0 output tokens)."""
    if not isinstance(usage, dict):
        return Usage(model=model if isinstance(model, str) else None)
    output = usage.get("completion_tokens")
    return Usage(usage.get("prompt_tokens"), output if output is not None or "prompt_tokens" not in usage else 0,
                 model if isinstance(model, str) else None)


def usage_from_messages(usage: Any, model: Any = None) -> Usage:
    """The :class:`Usage` of an Anthropic answer, input counted with its cache reads and writes."""
    if not isinstance(usage, dict):
        return Usage(model=model if isinstance(model, str) else None)
    tokens = usage.get("input_tokens")
    if tokens is not None:
        tokens += _count(usage.get("cache_read_input_tokens")) + _count(usage.get("cache_creation_input_tokens"))
    return Usage(tokens, usage.get("output_tokens"), model if isinstance(model, str) else None)
