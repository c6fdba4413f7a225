"""Record and replay on the wire: the HTTP client's transports, where every official SDK's request ends.

Replaying below the SDK keeps the SDK's own code path: it parses the recorded bytes into its own
objects, raises its own exceptions for recorded errors, and its streams yield the same events —
nothing of the user's program changes but where the bytes come from. The openai and anthropic
SDKs (and the offline model, LiteLLM, the OpenAI Agents SDK… through them) send through
``HTTPTransport.handle_request`` / ``AsyncHTTPTransport.handle_async_request`` of httpx (openai < 3,
anthropic < 2) or of its successor httpx2 (openai 3, anthropic 2): both libraries are patched, when
installed, while a mode is on, and restored with ``off``. Only POSTs to LLM endpoints (``_request.LLM_PATHS``) are
touched; every other request passes untouched. A client built on its own transport (a
``MockTransport``, respx) is not seen.

A miss in strict mode is answered as HTTP 400 with ``x-should-retry: false``: the SDK raises its
``BadRequestError`` carrying our message at once, where an exception from the transport would be
retried by the SDK and end as a bare "Connection error.".
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .._redact import is_secret_name, redact_text
from .._safety import log_once
from ..integrations._call import current_call
from ..tracing import get_current_span
from ._recording import Index, RecordedCall
from ._request import Normalizer, call_key, is_llm_call, model_of, path_of, provider_of

MODES = ("off", "record", "strict", "fallthrough")
_LLM_KINDS = {"CHAT_MODEL", "LLM", "EMBEDDING"}
_DROPPED_HEADERS = {"set-cookie", "cookie"}

_CLIENT_LIBRARIES = ("httpx", "httpx2")


@dataclass
class Session:
    """The mode in force: what to record into, what to answer from."""

    mode: str
    recording: str
    normalizer: Normalizer
    index: Index
    put: Callable[[RecordedCall], None]
    source: str  # where replayed answers come from: "the store" or a file's path
    counts: dict[str, int] = field(default_factory=lambda: {"recorded": 0, "replayed": 0, "missed": 0,
                                                             "passed_through": 0})
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, what: str) -> None:
        with self._lock:
            self.counts[what] += 1


_session: Session | None = None


def activate(session: Session | None) -> None:
    """Put a session in force (None: off) and patch or unpatch the HTTP client libraries accordingly."""
    global _session
    _session = session
    for library in _libraries():
        library.patch(session is not None)


def current() -> Session | None:
    return _session


@dataclass
class _Plan:
    """What to do with one request: answer it from the recording, refuse it, or send it (and record)."""

    call: RecordedCall | None = None
    miss: str | None = None
    record: Callable[[Any], Any] | None = None


def _plan(session: Session, request: Any, body: bytes, recording_stream: type) -> _Plan:
    path = path_of(str(request.url))
    text = session.normalizer.body_text(body, request.headers.get("content-type", ""))
    key = call_key(request.method, path, text)
    # Our SDK call's span, even when another tracer's span (an OpenInference instrumentor's) is the
    # current one by now; else the current span, if it is an LLM call (a framework's, through OTel).
    span = current_call.get() or get_current_span()
    llm_span = span if getattr(span, "kind", None) in _LLM_KINDS else None
    if session.mode in ("strict", "fallthrough"):
        call = session.index.take(key)
        if call is not None:
            session.count("replayed")
            if llm_span is not None:
                llm_span.set_attributes({"llmops_nb.replay": "replayed", "llmops_nb.replay.source": session.source})
            return _Plan(call=call)
        if session.mode == "strict":
            session.count("missed")
            if llm_span is not None:
                llm_span.set_attribute("llmops_nb.replay", "missed")
            return _Plan(miss=session.index.miss_report(request.method, path, text, session.recording))
        session.count("passed_through")
    if llm_span is not None:
        llm_span.set_attribute("llmops_nb.replay", "recorded")
    started_ns = time.time_ns()
    client = request.headers.get("user-agent")
    ids = (llm_span.trace_id, llm_span.span_id) if llm_span is not None else (None, None)

    def record(response: Any) -> Any:
        def done(chunks: list[bytes], complete: bool) -> None:
            body, headers = stored_body(chunks, _kept_headers(response.headers))
            call = RecordedCall(session.recording, started_ns, key, request.method, path, text, response.status_code,
                                headers, body, complete, client, trace_id=ids[0], span_id=ids[1],
                                provider=provider_of(str(request.url), path), model=model_of(text))
            session.put(call)
            session.count("recorded")
            if session.mode == "fallthrough":
                session.index.add(call)

        response.stream = recording_stream(response.stream, done)
        return response

    return _Plan(record=record)


def stored_body(chunks: list[bytes], headers: tuple[tuple[str, str], ...]) -> tuple[tuple[bytes, ...],
                                                                                  tuple[tuple[str, str], ...]]:
    """The body as stored: decompressed, and redacted like everything we keep (a model may echo a key).

    Chunks stay as received unless something had to change; then the body is one chunk (the SDK
    reads the same events from it). A compression we cannot read (brotli without its package)
    is kept as received, unredacted, and logged once.
    """
    encoding = next((v.strip().lower() for n, v in headers if n.lower() == "content-encoding"), "identity")
    changed = encoding not in ("", "identity")
    body = b"".join(chunks)
    if changed:
        try:
            body = _decompress(body, encoding)
        except Exception as exc:  # noqa: BLE001 - keep what was received
            log_once(f"replay.decode.{encoding}", exc, f"llmops_nb: a {encoding} response was recorded as "
                                                       "received (not decompressed, so not checked for secrets)")
            return tuple(chunks), headers
    try:
        text = body.decode()
    except UnicodeDecodeError:
        text = None
    if text is not None:
        redacted = redact_text(text)
        if redacted != text:
            body, changed = redacted.encode(), True
    if not changed:
        return tuple(chunks), headers
    kept = tuple((n, v) for n, v in headers if n.lower() not in ("content-encoding", "content-length"))
    return (body,), kept


def _decompress(body: bytes, encoding: str) -> bytes:
    import zlib

    for part in reversed([e.strip() for e in encoding.split(",")]):
        if part in ("gzip", "x-gzip"):
            body = zlib.decompress(body, 16 + zlib.MAX_WBITS)
        elif part == "deflate":
            try:
                body = zlib.decompress(body)
            except zlib.error:  # raw deflate, as some servers send
                body = zlib.decompress(body, -zlib.MAX_WBITS)
        elif part == "br":
            import brotli

            body = brotli.decompress(body)
        elif part == "zstd":
            import zstandard

            body = zstandard.ZstdDecompressor().decompressobj().decompress(body)
        elif part != "identity":
            raise ValueError(f"unknown content-encoding {part!r}")
    return body


def _kept_headers(headers: Any) -> tuple[tuple[str, str], ...]:
    return tuple((name, redact_text(value)) for name, value in headers.multi_items()
                 if name.lower() not in _DROPPED_HEADERS and not is_secret_name(name))


class _ReplayStream:
    """The recorded body, chunk by chunk as it arrived (mixed into each library's stream classes)."""

    def __init__(self, chunks: tuple[bytes, ...]) -> None:
        self._chunks = chunks

    def __iter__(self) -> Iterator[bytes]:
        yield from self._chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self._chunks:
            yield chunk


class _RecordingStream:
    """The live body, passed through unchanged while a copy is kept; handed over when closed."""

    def __init__(self, inner: Any, done: Callable[[list[bytes], bool], None]) -> None:
        self._inner = inner
        self._done = done
        self._chunks: list[bytes] = []
        self._complete = False
        self._handed = False

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._inner:
            self._chunks.append(chunk)
            yield chunk
        self._complete = True

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            self._chunks.append(chunk)
            yield chunk
        self._complete = True

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            self._hand_over()

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            self._hand_over()

    def _hand_over(self) -> None:
        if self._handed:
            return
        self._handed = True
        try:
            self._done(self._chunks, self._complete)
        except Exception as exc:  # noqa: BLE001 - the user's response is already theirs
            log_once("replay.record", exc)


class _Library:
    """One HTTP client library (httpx or httpx2): its original transport methods and our stand-ins."""

    def __init__(self, module: Any) -> None:
        self.module = module
        self.send = module.HTTPTransport.handle_request
        self.send_async = module.AsyncHTTPTransport.handle_async_request
        # The library checks a stream's base class to tell sync from async: ours derive from its own.
        bases = (module.SyncByteStream, module.AsyncByteStream)
        self.replay_stream = type("ReplayStream", (_ReplayStream, *bases), {})
        self.recording_stream = type("RecordingStream", (_RecordingStream, *bases), {})

    def patch(self, on: bool) -> None:
        transport, async_transport = self.module.HTTPTransport, self.module.AsyncHTTPTransport
        transport.handle_request = self._handle if on else self.send
        async_transport.handle_async_request = self._handle_async if on else self.send_async

    @property
    def _handle(self) -> Callable[[Any, Any], Any]:
        library = self

        def handle_request(transport: Any, request: Any) -> Any:
            session = _session
            if session is None or not is_llm_call(request.method, str(request.url)):
                return library.send(transport, request)
            try:
                plan = _plan(session, request, request.read(), library.recording_stream)
            except Exception as exc:  # noqa: BLE001 - ours failed: the call goes out as if nothing were on
                log_once("replay.request", exc)
                return library.send(transport, request)
            if plan.call is not None or plan.miss is not None:
                return library.answer(plan, request)
            assert plan.record is not None
            return plan.record(library.send(transport, request))

        return handle_request

    @property
    def _handle_async(self) -> Callable[[Any, Any], Any]:
        library = self

        async def handle_async_request(transport: Any, request: Any) -> Any:
            session = _session
            if session is None or not is_llm_call(request.method, str(request.url)):
                return await library.send_async(transport, request)
            try:
                plan = _plan(session, request, await request.aread(), library.recording_stream)
            except Exception as exc:  # noqa: BLE001
                log_once("replay.request", exc)
                return await library.send_async(transport, request)
            if plan.call is not None or plan.miss is not None:
                return library.answer(plan, request)
            assert plan.record is not None
            return plan.record(await library.send_async(transport, request))

        return handle_async_request

    def answer(self, plan: _Plan, request: Any) -> Any:
        """The recorded response, or the refusal of a miss, as this library's Response."""
        if plan.call is not None:
            headers = [*plan.call.headers, ("x-llmops-nb-replayed", "true")]
            return self.module.Response(plan.call.status, headers=headers, request=request,
                                        stream=self.replay_stream(plan.call.chunks),
                                        extensions={"http_version": b"HTTP/1.1"})
        body = json.dumps({"error": {"message": plan.miss, "type": "llmops_nb_replay_miss", "code": "replay_miss"},
                           "type": "error"}).encode()
        return self.module.Response(400, headers={"content-type": "application/json", "x-should-retry": "false"},
                                    content=body, request=request)


_loaded: dict[str, _Library] = {}


def _libraries() -> list[_Library]:
    """httpx and httpx2, those installed, each wrapped once (the originals are kept from the first time)."""
    import importlib

    for name in _CLIENT_LIBRARIES:
        if name not in _loaded:
            try:
                _loaded[name] = _Library(importlib.import_module(name))
            except ImportError:
                continue
    return list(_loaded.values())
