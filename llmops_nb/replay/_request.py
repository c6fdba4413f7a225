"""What makes two LLM requests "the same call": the method, the path and the body, normalized.

Left out of the match: the host and port (the offline model's server gets a new port per run, a
proxy or Azure resource may change), every header (keys, user agents, idempotency keys, retry
counts), the body's key order and whitespace, and what the user lists as non-deterministic:
body keys (``ignore_keys``, default ``user`` and ``metadata``) and text patterns inside any
string (``ignore_patterns``, default UUIDs and ISO-8601 timestamps, so a prompt that quotes the
current time or a fresh id still matches). The normalized body is redacted like everything we
store (a key pasted into a prompt never reaches a recording), and the match runs on that text.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .._redact import redact_text

#: the endpoints recorded and replayed (suffixes of a POST's path): OpenAI's and Anthropic's APIs,
#: and every OpenAI-compatible server (the offline model, Ollama, vLLM, LiteLLM's proxy, a gateway)
LLM_PATHS = ("/chat/completions", "/completions", "/responses", "/embeddings", "/messages")
DEFAULT_IGNORE_KEYS = ("user", "metadata")
DEFAULT_IGNORE_PATTERNS = (
    r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b",  # UUID
    r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?\b",  # ISO-8601 time
)
MASK = "<ignored>"


@dataclass(frozen=True)
class Normalizer:
    """The rule for the match; the same rule must record and replay (it is stored with the recording)."""

    ignore_keys: tuple[str, ...] = DEFAULT_IGNORE_KEYS
    ignore_patterns: tuple[str, ...] = DEFAULT_IGNORE_PATTERNS
    _compiled: tuple[re.Pattern[str], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        compiled = []
        for pattern in self.ignore_patterns:
            try:
                compiled.append(re.compile(pattern))
            except re.error as exc:
                raise ValueError(f"ignore pattern {pattern!r} is not a valid regular expression: {exc}") from None
        object.__setattr__(self, "_compiled", tuple(compiled))

    @classmethod
    def of(cls, ignore_keys: Iterable[str] | None = None, ignore_patterns: Iterable[str] | None = None) -> Normalizer:
        for name, values in (("ignore_keys", ignore_keys), ("ignore_patterns", ignore_patterns)):
            if values is not None and (isinstance(values, str) or not all(isinstance(v, str) for v in values)):
                raise TypeError(f"{name} takes a list of strings, got {values!r}.")
        return cls(DEFAULT_IGNORE_KEYS if ignore_keys is None else tuple(ignore_keys),
                   DEFAULT_IGNORE_PATTERNS if ignore_patterns is None else tuple(ignore_patterns))

    def body_text(self, body: bytes, content_type: str) -> str:
        """The body as stable text: canonical JSON with ignored parts masked, else a digest of the bytes."""
        if "json" in content_type or body[:1] in (b"{", b"["):
            try:
                data = json.loads(body)
            except ValueError:
                pass
            else:
                return redact_text(json.dumps(self._mask(data), sort_keys=True, ensure_ascii=False,
                                              separators=(",", ":")))
        # multipart uploads (audio, files): their boundary is random, so only the parts' bytes count
        boundary = re.search(r"boundary=([^;]+)", content_type)
        if boundary:
            body = body.replace(boundary.group(1).strip('"').encode(), b"<boundary>")
        return f"<{len(body)} bytes, sha256 {hashlib.sha256(body).hexdigest()}>"

    def _mask(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: MASK if k in self.ignore_keys else self._mask(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._mask(v) for v in value]
        if isinstance(value, str):
            for pattern in self._compiled:
                value = pattern.sub(MASK, value)
        return value


def is_llm_call(method: str, url: str) -> bool:
    return method == "POST" and urlsplit(url).path.rstrip("/").endswith(LLM_PATHS)


def path_of(url: str) -> str:
    parts = urlsplit(url)  # a key passed as ?api-key=… (Azure) is redacted like everywhere else
    return parts.path + f"?{redact_text(parts.query)}" if parts.query else parts.path


def provider_of(url: str, path: str) -> str:
    """Who answered, by host: the providers' own APIs by name, anything else as compatible with one."""
    host = (urlsplit(url).hostname or "").lower()
    for suffix, name in ((".openai.azure.com", "azure"), ("openai.com", "openai"), ("anthropic.com", "anthropic")):
        if host.endswith(suffix):
            return name
    messages = urlsplit(url).path.rstrip("/").endswith("/messages")
    return "anthropic-compatible" if messages else "openai-compatible"


def model_of(text: str) -> str | None:
    if not text.startswith("{"):
        return None
    try:
        model = json.loads(text).get("model")
    except ValueError:
        return None
    return model if isinstance(model, str) else None


def call_key(method: str, path: str, text: str) -> str:
    return hashlib.sha256(f"{method} {path}\n{text}".encode()).hexdigest()
