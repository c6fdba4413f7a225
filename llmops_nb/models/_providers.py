"""The official SDKs behind model URIs: building clients, one request, one normalized reply.

Clients are built with ``max_retries=0`` — :mod:`._retry` is the only retry
layer, so a 429 storm is not multiplied by the SDK's own retries — and the
spec's timeout. Calls go through the SDKs' public ``create`` methods, which
``llmops_nb.autolog`` patches, so every attempt is a CHAT_MODEL span.
Async clients hold connections bound to one event loop, so there is one per loop.

The ``local`` provider talks to the offline model's server process
(:mod:`llmops_nb.local_model`) with that server's key. Before each request it
asks the server's supervisor whether it is up, and a connection error becomes
``LocalModelError`` naming why the process died (not retried: it fails in
milliseconds) — or, when the supervisor restarted it, the connection error is
re-raised once the new process serves, so the retry layer simply tries again.
"""

from __future__ import annotations

import asyncio
import os
import threading
import weakref
from dataclasses import dataclass, field
from typing import Any

from ._uri import ModelSpec

_ANTHROPIC_MAX_TOKENS = 1024  # Anthropic requires max_tokens; OpenAI's default is "until done"


@dataclass
class ChatResult:
    """One model reply, the same shape for every provider."""

    text: str
    model: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    finish_reason: str | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    #: the SDK's own response object
    raw: Any = None
    #: attempts made (1 = no retry)
    attempts: int = 1

    def __str__(self) -> str:
        return self.text


def messages_of(prompt: Any, system: str | None = None) -> list[dict[str, Any]]:
    """A string becomes one user message; a list of ``{role, content}`` dicts is kept."""
    if isinstance(prompt, str):
        messages = [{"role": "user", "content": prompt}]
    elif isinstance(prompt, (list, tuple)) and all(isinstance(m, dict) and "role" in m for m in prompt):
        messages = [dict(m) for m in prompt]
    else:
        raise TypeError(f"A model call takes a prompt string or a list of {{'role', 'content'}} dicts, "
                        f"got {type(prompt).__name__}.")
    if system:
        messages.insert(0, {"role": "system", "content": system})
    return messages


class Provider:
    """SDK clients for one spec: one sync client shared by all threads, one async client per event loop."""

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec
        self._lock = threading.Lock()
        self._sync: Any = None
        self._async: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
        self._local: tuple[Any, str] | None = None  # the offline model's server and URL the clients are for

    # -- clients --------------------------------------------------------------
    def client(self) -> Any:
        client = self._sync
        if client is None:
            with self._lock:
                if self._sync is None:
                    self._sync = self._build(is_async=False)
                client = self._sync
        return client

    def async_client(self) -> Any:
        loop = asyncio.get_running_loop()
        with self._lock:
            client = self._async.get(loop)
            if client is None:
                client = self._async[loop] = self._build(is_async=True)
            return client

    def _build(self, *, is_async: bool) -> Any:
        spec = self.spec
        from ..integrations import enable_anthropic, enable_openai

        options: dict[str, Any] = {"timeout": spec.timeout, "max_retries": 0}
        base_url = spec.base_url
        if spec.provider == "local":
            from ..local_model import local_server

            server = local_server()
            base_url = server.base_url
            self._local = (server, base_url)
        if base_url:
            options["base_url"] = base_url
        key = server.api_key if spec.provider == "local" else self._api_key(base_url)
        if key is not None:
            options["api_key"] = key
        try:
            sdk = __import__(spec.sdk)
        except ImportError as exc:
            raise ImportError(f"{spec.uri} is called through the official {spec.sdk} SDK, which is not installed: "
                              f"pip install {spec.sdk}") from exc
        # every call a CHAT_MODEL span, whether or not the user called autolog()
        if spec.sdk == "anthropic":
            enable_anthropic()
            factory = sdk.AsyncAnthropic if is_async else sdk.Anthropic
        else:
            enable_openai()
            factory = sdk.AsyncOpenAI if is_async else sdk.OpenAI
        try:
            return factory(**options)
        except Exception as exc:
            if "api_key" in str(exc).lower() or "api key" in str(exc).lower():
                var = "ANTHROPIC_API_KEY" if spec.sdk == "anthropic" else "OPENAI_API_KEY"
                raise RuntimeError(f"No API key for {spec.uri}: set {var}, or name another variable with "
                                   "?api_key_env=NAME; for a local OpenAI-compatible server add "
                                   "?base_url=http://HOST:PORT/v1.") from exc
            raise

    def _api_key(self, base_url: str | None) -> str | None:
        spec = self.spec
        if spec.api_key_env:
            value = os.environ.get(spec.api_key_env)
            if not value:
                raise RuntimeError(f"{spec.uri} reads its API key from ${spec.api_key_env}, which is not set.")
            return value
        if spec.provider == "ollama":
            return "local"  # Ollama ignores the key, but the SDK insists on one
        if base_url and spec.sdk == "openai" and not os.environ.get("OPENAI_API_KEY"):
            return "not-needed"  # a self-hosted OpenAI-compatible server rarely wants one
        return None

    # -- one request ----------------------------------------------------------
    def request(self, messages: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
        model = _local_name() if self.spec.provider == "local" else self.spec.name
        if self.spec.sdk != "anthropic":
            return {"model": model, "messages": messages, **params}
        system = [m["content"] for m in messages if m.get("role") == "system"]
        rest = [m for m in messages if m.get("role") != "system"]
        body = {"model": model, "messages": rest, "max_tokens": params.pop("max_tokens", _ANTHROPIC_MAX_TOKENS),
                **params}
        if system:
            body["system"] = "\n\n".join(str(s) for s in system)
        return body

    def call(self, body: dict[str, Any]) -> ChatResult:
        if self.spec.provider == "local":
            self._local_server().check()
        client = self.client()
        try:
            raw = (client.messages.create(**body) if self.spec.sdk == "anthropic"
                   else client.chat.completions.create(**body))
        except Exception as exc:
            if self.spec.provider == "local" and _connection_failed(exc):
                self._local_server().check(connection_failed=True)  # raises LocalModelError if it died for good
            raise
        return self.result(raw)

    async def call_async(self, body: dict[str, Any]) -> ChatResult:
        if self.spec.provider == "local":  # waits while a restart is under way: off the event loop
            await asyncio.to_thread(self._local_server().check)
        client = self.async_client()
        try:
            raw = await (client.messages.create(**body) if self.spec.sdk == "anthropic"
                         else client.chat.completions.create(**body))
        except Exception as exc:
            if self.spec.provider == "local" and _connection_failed(exc):
                await asyncio.to_thread(self._local_server().check, connection_failed=True)
            raise
        return self.result(raw)

    def _local_server(self) -> Any:
        """The shared offline model server; clients built for another one (or another port) are dropped."""
        from ..local_model import local_server

        server, stale = local_server(), None
        with self._lock:
            if self._local is not None and self._local != (server, server.base_url):
                # replaced (local_server(restart=True)) or restarted on another port: the old clients'
                # server is gone; the next client() builds new ones
                stale, self._sync, self._async, self._local = self._sync, None, weakref.WeakKeyDictionary(), None
        if stale is not None:
            stale.close()
        return server

    def result(self, raw: Any) -> ChatResult:
        if self.spec.sdk == "anthropic":
            blocks = getattr(raw, "content", None) or []
            text = "".join(getattr(b, "text", "") or "" for b in blocks if getattr(b, "type", "") == "text")
            calls = [{"id": b.id, "name": b.name, "arguments": b.input} for b in blocks
                     if getattr(b, "type", "") == "tool_use"]
            usage = getattr(raw, "usage", None)
            return ChatResult(text, getattr(raw, "model", None), getattr(usage, "input_tokens", None),
                              getattr(usage, "output_tokens", None), getattr(raw, "stop_reason", None), calls, raw)
        choices = getattr(raw, "choices", None) or []
        message = choices[0].message if choices else None
        calls = [{"id": c.id, "name": c.function.name, "arguments": c.function.arguments}
                 for c in (getattr(message, "tool_calls", None) or []) if getattr(c, "function", None)]
        usage = getattr(raw, "usage", None)
        return ChatResult((getattr(message, "content", None) or "") if message else "", getattr(raw, "model", None),
                          getattr(usage, "prompt_tokens", None), getattr(usage, "completion_tokens", None),
                          choices[0].finish_reason if choices else None, calls, raw)

    async def aclose(self) -> None:
        """Close the running loop's async client (its connections belong to this loop)."""
        with self._lock:
            client = self._async.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.close()

    def close(self) -> None:
        with self._lock:
            client, self._sync = self._sync, None
        if client is not None:
            client.close()


def _local_name() -> str:
    from ..local_model import MODEL

    return MODEL


def _connection_failed(exc: BaseException) -> bool:
    # By name, as in _retry.classify: no SDK import here. A timeout is a slow server, not a dead one.
    names = {cls.__name__ for cls in type(exc).__mro__}
    return "APIConnectionError" in names and "APITimeoutError" not in names
