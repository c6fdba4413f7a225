"""A local HTTP server that speaks OpenAI's and Anthropic's wire protocols, for tests.

Point the real SDK clients at it and script what the "model" answers::

    with FakeLLMServer() as server:
        server.enqueue(Reply(text="Paris", usage=Usage(input_tokens=12, output_tokens=1)))
        client = openai.OpenAI(api_key="sk-test", base_url=server.openai_base_url)
        client.chat.completions.create(model="gpt-4o", messages=[...])
        server.requests[-1].body["messages"]      # what the SDK sent

Routes: ``POST /v1/chat/completions``, ``POST /v1/responses`` and ``POST /v1/embeddings`` (OpenAI),
``POST /v1/messages`` (Anthropic), each as JSON or, with ``"stream": true``, as
server-sent events over chunked transfer encoding, so a dropped connection is a
real protocol error on the client side. Replies are taken first in, first out
across all routes; with none queued the server echoes the last user message.
The fake lives at the boundary: nothing in the SDKs is patched.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from . import _anthropic_wire, _openai_wire
from ._replies import Rendered, Reply, ToolCall, Usage, resolve

__all__ = ["FakeLLMServer", "RecordedRequest", "Reply", "ToolCall", "Usage"]

_Renderer = Callable[[Reply, Usage, dict[str, Any], int], Rendered]
_ROUTES: dict[str, tuple[_Renderer, Callable[[Reply, int], Rendered], str]] = {
    "/v1/chat/completions": (_openai_wire.chat, _openai_wire.error, "messages"),
    "/v1/responses": (_openai_wire.responses, _openai_wire.error, "input"),
    "/v1/embeddings": (_openai_wire.embeddings, _openai_wire.error, "input"),
    "/v1/messages": (_anthropic_wire.messages, _anthropic_wire.error, "messages"),
}
_DISCONNECTS = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError)


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server received it; header names are lower-cased."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: Any
    raw: bytes


class FakeLLMServer:
    """The server, listening on 127.0.0.1 on a free port from construction until :meth:`close`."""

    def __init__(self, responder: Callable[[dict[str, Any]], Reply | str | None] | None = None) -> None:
        """``responder(body)``: the reply when none is queued (e.g. a judge that reads the prompt); None: echo."""
        self._responder = responder
        self._lock = threading.Lock()
        self._queue: deque[Reply] = deque()
        self._requests: list[RecordedRequest] = []
        self._sent: list[bytes] = []
        self._connections: set[socket.socket] = set()
        self._seq = 0
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.owner = self  # type: ignore[attr-defined]
        self.port: int = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"fake-llm-server:{self.port}", daemon=True)
        self._thread.start()
        self._closed = False

    # -- addresses ----------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def openai_base_url(self) -> str:
        """For ``openai.OpenAI(base_url=...)``: the SDK appends ``/chat/completions`` to it."""
        return f"{self.base_url}/v1"

    @property
    def anthropic_base_url(self) -> str:
        """For ``anthropic.Anthropic(base_url=...)``: the SDK appends ``/v1/messages`` to it."""
        return self.base_url

    # -- scripting ------------------------------------------------------------------
    def enqueue(self, *replies: Reply | str) -> None:
        """Queue replies for the next requests, in order; a plain string is a text reply."""
        with self._lock:
            self._queue.extend(Reply(text=r) if isinstance(r, str) else r for r in replies)

    @property
    def pending(self) -> int:
        """Replies queued and not yet used."""
        with self._lock:
            return len(self._queue)

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, oldest first (a copy)."""
        with self._lock:
            return list(self._requests)

    @property
    def sent(self) -> list[bytes]:
        """The body bytes of every answer written so far, oldest first; a stream's as its SSE bytes
        (what a client reads, without the chunked framing), up to where it failed."""
        with self._lock:
            return list(self._sent)

    def reset(self) -> None:
        """Forget queued replies, recorded requests and sent answers."""
        with self._lock:
            self._queue.clear()
            self._requests.clear()
            self._sent.clear()

    # -- lifecycle --------------------------------------------------------------------
    def close(self) -> None:
        """Stop listening and drop open connections (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._httpd.shutdown()
        self._httpd.server_close()
        with self._lock:
            live = list(self._connections)
        for conn in live:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(timeout=5)

    def __enter__(self) -> FakeLLMServer:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<FakeLLMServer {self.base_url} queued={self.pending} requests={len(self._requests)}>"

    # -- request handling (handler threads) ---------------------------------------------
    def _handle(self, handler: _Handler) -> None:
        parts = urlsplit(handler.path)
        raw = handler.rfile.read(int(handler.headers.get("content-length") or 0))
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        headers = {k.lower(): v for k, v in handler.headers.items()}
        route = _ROUTES.get(parts.path) if handler.command == "POST" else None
        with self._lock:
            self._requests.append(RecordedRequest(handler.command, parts.path, parts.query, headers, body, raw))
            self._seq += 1
            seq = self._seq
            queued = self._queue.popleft() if route is not None and self._queue else None
        if route is None:
            self._send_json(handler, _openai_wire.error(
                Reply(status=404, error_message=f"No route {handler.command} {parts.path} in the fake server."), seq))
            return
        render, render_error, prompt_key = route
        if not isinstance(body, dict):
            self._send_json(handler, render_error(Reply(status=400, error_message="Body must be a JSON object."), seq))
            return
        prompt = body.get(prompt_key)
        if prompt_key == "input" and body.get("instructions"):
            prompt = [body["instructions"], prompt]
        if queued is None and self._responder is not None:
            answer = self._responder(body)
            queued = Reply(text=answer) if isinstance(answer, str) else answer
        reply, usage = resolve(queued, prompt)
        if reply.delay:
            time.sleep(reply.delay)
        if reply.status != 200:
            self._send_json(handler, render_error(reply, seq))
            return
        rendered = render(reply, usage, body, seq)
        if rendered.events is None:
            self._send_json(handler, rendered)
        else:
            self._send_events(handler, rendered, reply)

    def _send_json(self, handler: _Handler, rendered: Rendered) -> None:
        payload = json.dumps(rendered.body).encode()
        with self._lock:
            self._sent.append(payload)
        handler.send_response(rendered.status)
        handler.send_header("content-type", "application/json")
        handler.send_header("content-length", str(len(payload)))
        for name, value in rendered.headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(payload)

    def _send_events(self, handler: _Handler, rendered: Rendered, reply: Reply) -> None:
        handler.send_response(200)
        handler.send_header("content-type", "text/event-stream; charset=utf-8")
        handler.send_header("transfer-encoding", "chunked")
        handler.send_header("cache-control", "no-cache")
        for name, value in rendered.headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        events = rendered.events or []
        sent = bytearray()
        with self._lock:
            self._sent.append(b"")
            slot = len(self._sent) - 1
        try:
            for index, event in enumerate(events):
                if reply.fail_after is not None and index >= reply.fail_after:
                    if reply.failure == "disconnect":
                        handler.abort_connection()
                        return
                    if rendered.error_event is not None:
                        handler.write_chunk(self._record(sent, slot, _frame(*rendered.error_event)))
                    break
                if index and reply.chunk_delay:
                    time.sleep(reply.chunk_delay)
                handler.write_chunk(self._record(sent, slot, _frame(*event)))
            handler.write_chunk(b"")  # the zero-length chunk ends the body
        except _DISCONNECTS:
            handler.close_connection = True  # the client hung up (closed the stream early)

    def _record(self, sent: bytearray, slot: int, data: bytes) -> bytes:
        sent += data
        with self._lock:
            if slot < len(self._sent):  # not reset() meanwhile
                self._sent[slot] = bytes(sent)
        return data


def _frame(event: str | None, data: Any) -> bytes:
    text = data if isinstance(data, str) else json.dumps(data)
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {text}\n\n".encode()


class _Server(ThreadingHTTPServer):
    # a gateway fans many concurrent requests in: socketserver's backlog of 5 would reset connections
    request_queue_size = 128


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive and chunked bodies, like the real APIs
    timeout = 30  # an idle keep-alive connection frees its thread eventually

    def setup(self) -> None:
        super().setup()
        # headers and body go out in separate writes: without this, Nagle holds the body back until the
        # client's delayed ACK (~40 ms), and every answer looks 40 ms slow
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.owner._lock:
            self.owner._connections.add(self.connection)

    def finish(self) -> None:
        with self.owner._lock:
            self.owner._connections.discard(self.connection)
        try:
            super().finish()
        except OSError:
            pass

    @property
    def owner(self) -> FakeLLMServer:
        return self.server.owner  # type: ignore[attr-defined, no-any-return]

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except _DISCONNECTS:
            self.close_connection = True  # the client dropped a keep-alive connection: not an error

    def do_POST(self) -> None:  # the name http.server dispatches to
        self.owner._handle(self)

    do_GET = do_POST  # unknown routes answer 404 in the provider's shape

    def write_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):X}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def abort_connection(self) -> None:
        """Drop the connection mid-body: the client sees an incomplete chunked read."""
        self.wfile.flush()
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:  # http.server's signature
        pass  # keep test output clean; the requests are recorded on the server object
