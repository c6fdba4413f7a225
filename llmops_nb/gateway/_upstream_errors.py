"""How a failed upstream attempt becomes an :class:`UpstreamFailure`: its kind, its Retry-After, a clean message.

The router decides from the kind alone (retry, cool down, fall back, give up), so everything
provider-specific about errors lives here: OpenAI's ``error.code`` values, Anthropic's error types,
and the wording both use for an over-long prompt or a blocked one. Messages are the upstream's own,
with the key we sent and anything shaped like a secret replaced by ``[redacted]``: providers echo
(part of) a rejected key back, and these messages reach logs, traces and clients.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import httpx2 as httpx

from .._redact import REDACTED, redact_text
from ..models._retry import retry_after_seconds
from ._types import FailureKind, UpstreamFailure
from ._wire import loads

__all__ = ["failure_from_exception", "failure_from_response", "scrub"]

# Wording of an over-long prompt: OpenAI ("This model's maximum context length is …", code
# context_length_exceeded), Anthropic ("prompt is too long: … tokens > … maximum"), vLLM and
# llama.cpp ("… exceeds the context window", "input is too long"), Azure, Bedrock via proxies.
_CONTEXT_WORDS = re.compile(
    r"context[ _-]?length|maximum context|context[ _-]?window|prompt is too long|input is too long|"
    r"too many (input )?tokens|reduce the length of the messages", re.IGNORECASE)
_CONTEXT_CODES = frozenset({"context_length_exceeded", "string_above_max_length"})
# A refused prompt or output: OpenAI (code content_policy_violation / invalid_prompt "… usage
# policy", "our safety system"), Azure (code content_filter, "content management policy"),
# Anthropic ("Output blocked by content filtering policy").
_POLICY_WORDS = re.compile(
    r"content[ _-]?(filter|management|policy|filtering policy)|safety system|usage polic", re.IGNORECASE)
_POLICY_CODES = frozenset({"content_filter", "content_policy_violation", "invalid_prompt"})
_SERVER_STATUSES = frozenset({500, 502, 503, 504, 529})


def failure_from_response(status: int, headers: Mapping[str, str], content: bytes, *,
                          secret: str | None) -> UpstreamFailure:
    """The failure for a non-2xx answer; ``secret`` (the key we sent) never appears in it."""
    body = _json_object(content)
    message, code, error_type = _parts(body)
    if not message:
        text = content.decode("utf-8", "replace").strip()[:500]
        message = text or f"The upstream answered HTTP {status} with no message."
    message = scrub(message, secret)
    if body is not None:
        body = scrub(body, secret)
    kind = _kind(status, message, code, error_type)
    wait = retry_after_seconds(headers) if kind in ("rate_limit", "server") else None
    return UpstreamFailure(kind, message, status=status, retry_after=wait, body=body)


def failure_from_exception(exc: httpx.HTTPError, where: str, timeout: float, *,
                           secret: str | None) -> UpstreamFailure:
    """The failure for an attempt that got no HTTP answer: a timeout, a refused or dropped connection."""
    detail = str(exc) or type(exc).__name__
    kind: FailureKind
    if isinstance(exc, httpx.TimeoutException):
        kind, text = "timeout", f"{where} did not answer within the deployment's timeout of {timeout:g} s ({detail})."
    elif isinstance(exc, httpx.UnsupportedProtocol):
        kind, text = "client", f"{where} is not an http:// or https:// URL; check the deployment's api_base ({detail})."
    else:
        kind, text = "connection", f"The connection to {where} failed: {detail}"
    return UpstreamFailure(kind, scrub(text, secret))


def scrub(value: Any, secret: str | None) -> Any:
    """``value`` (a string, or JSON with strings at any depth) without ``secret`` and secret-shaped text."""
    if isinstance(value, str):
        if secret and secret in value:
            value = value.replace(secret, REDACTED)
        return redact_text(value)
    if isinstance(value, dict):
        return {k: scrub(v, secret) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v, secret) for v in value]
    return value


def _json_object(content: bytes) -> dict[str, Any] | None:
    try:
        value = loads(content) if content else None
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _parts(body: dict[str, Any] | None) -> tuple[str, str, str]:
    """message, code, type from OpenAI's ``{"error": {...}}``, Anthropic's ``{"type": "error", "error": {...}}``
    or the ``{"detail"|"message": ...}`` of other OpenAI-compatible servers."""
    if body is None:
        return "", "", ""
    error = body.get("error")
    if isinstance(error, dict):
        return (str(error.get("message") or ""), str(error.get("code") or ""), str(error.get("type") or ""))
    if isinstance(error, str):
        return error, "", ""
    detail = body.get("message") or body.get("detail") or ""
    return (detail if isinstance(detail, str) else str(detail)), "", ""


def _kind(status: int, message: str, code: str, error_type: str) -> FailureKind:
    if status == 429:
        return "rate_limit"
    if status in _SERVER_STATUSES or status >= 500:
        return "server"
    if status == 408:  # the upstream's own request timeout: as retryable as ours
        return "timeout"
    if status in (401, 403):
        return "auth"
    if code in _CONTEXT_CODES or _CONTEXT_WORDS.search(message):
        return "context_window"
    if code in _POLICY_CODES or error_type in _POLICY_CODES or _POLICY_WORDS.search(message):
        return "content_policy"
    return "client"
