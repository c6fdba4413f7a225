"""An OTLP/HTTP trace receiver in the kernel: other processes' spans land in the store.

>>> import llmops_nb
>>> r = llmops_nb.receive()          # doctest: +SKIP
>>> r.endpoint                        # doctest: +SKIP
'http://127.0.0.1:40123/v1/traces'

``POST /v1/traces`` takes OTLP protobuf (``application/x-protobuf``) or OTLP/JSON
(``application/json``), optionally gzip-compressed, on 127.0.0.1 and a random port. Every route
wants ``Authorization: Bearer <token>``. ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``/``_HEADERS``/
``_PROTOCOL`` are set in ``os.environ`` (restored by :func:`stop_receiving`), so any subprocess
the notebook starts with an OTel SDK sends its traces here with no configuration.

**Why the standard library's ``ThreadingHTTPServer``** and not uvicorn/starlette: importing those
costs 135-500 ms in the kernel (measured, docs/interop) for one route; OTLP senders batch (512
spans a request by default), so the request rate is low and the work is decoding — which is the
same Python either way. Its weak spots are handled here: concurrent connections are bounded
(``MAX_CONNECTIONS``; the rest wait in the listen backlog), a connection idle for
``IDLE_TIMEOUT_S`` is closed, bodies need a ``Content-Length`` and are capped before reading.

What happens to a request, in order (each rejection counted by reason in ``status()``): 401
without the token; 404 other paths; 411 no length; 413 over ``max_request_bytes`` (also after
gzip, so a zip bomb stops at the cap); 415 another content type; 503 with ``Retry-After`` when
the store's queue is near its memory bound (OTLP senders retry, so nothing is lost); 400 for a
payload that does not decode. Good spans are converted on the HTTP thread and queued for the
store's writer (never written here); spans with bad ids, and spans already received (an OTLP
retry), are skipped, counted, and reported in the response's ``partial_success``.
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
import threading
import time
import zlib
from collections import deque
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .._config import settings
from .._safety import log_once
from ..store._recorder import recorder
from ..tracing import _sink
from ._convert import BadSpanError, to_record
from ._llm_count import count_once
from ._otlp_decode import MalformedError, decode_json, decode_protobuf

MAX_CONNECTIONS = 16
IDLE_TIMEOUT_S = 10.0
DEFAULT_MAX_REQUEST_BYTES = 128 << 20
#: span ids remembered to recognise a sender's retry of a batch we already took
SEEN_SPANS = 500_000
_ENV = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
_PROTOBUF = "application/x-protobuf"


class Receiver:
    """A running receiver: ``endpoint``, ``token``, ``headers``; :meth:`stop` ends it."""

    def __init__(self, *, port: int = 0, token: str | None = None,
                 max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES) -> None:
        self.token = token or secrets.token_urlsafe(24)
        self.max_request_bytes = int(max_request_bytes)
        self.requests = 0
        self.spans_received = 0
        self.rejected_requests: dict[str, int] = {}
        self.rejected_spans: dict[str, int] = {}
        self.started_at = time.time()
        self._lock = threading.Lock()  # the counters
        self._taking = threading.Lock()  # the span ids seen, and the order spans reach the store
        self._seen: set[int] = set()
        self._seen_order: deque[int] = deque()
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self._server = _Server(("127.0.0.1", port), _Handler, self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="llmops_nb-otlp-receiver",
                                        kwargs={"poll_interval": 0.2}, daemon=True)
        self._thread.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/traces"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def status(self) -> dict[str, Any]:
        with self._lock:
            return {"running": True, "endpoint": self.endpoint, "requests": self.requests,
                    "spans_received": self.spans_received,
                    "rejected_requests": dict(self.rejected_requests), "rejected_spans": dict(self.rejected_spans)}

    def __repr__(self) -> str:
        return f"<llmops_nb OTLP receiver {self.endpoint} · {self.spans_received:,} spans received>"

    # -- called by the handler ------------------------------------------------------------------
    def reject_request(self, reason: str) -> None:
        with self._lock:
            self.rejected_requests[reason] = self.rejected_requests.get(reason, 0) + 1

    def authorized(self, header: str | None) -> bool:
        expected = f"Bearer {self.token}".encode()
        return header is not None and hmac.compare_digest(header.strip().encode("utf-8", "replace"), expected)

    def store_busy(self, incoming: int) -> bool:
        # Ask senders to come back rather than accept spans the recorder would drop at its bound.
        return (recorder.waiting_bytes() + 4 * incoming > recorder.max_bytes
                or len(recorder.queue) > 0.9 * recorder.max_spans)

    def take(self, spans: Iterable[Any]) -> tuple[int, list[str]]:
        """Queue decoded spans for the store; returns (spans rejected, reasons)."""
        reasons: list[str] = []
        cap = settings.max_payload_chars
        emit = _sink.emit
        seen, order = self._seen, self._seen_order
        taken = 0
        # One request at a time: the work is Python under the GIL, so handler threads could not run
        # it side by side anyway; taking turns per request rather than per span spares them a lock
        # convoy, and a sender's retry arriving on another connection is still caught.
        with self._taking:
            for span in spans:  # converted as decoded (see decode_protobuf)
                key = (span.trace_id << 64) | span.span_id
                if key in seen:
                    reasons.append("duplicate span id")
                    continue
                seen.add(key)
                order.append(key)
                try:
                    record = count_once(to_record(span, cap), span.span_id, span.parent_id)
                except BadSpanError as exc:
                    reasons.append(str(exc))
                    continue
                emit(record)
                taken += 1
            while len(order) > SEEN_SPANS:
                seen.discard(order.popleft())
        with self._lock:
            self.requests += 1
            self.spans_received += taken
            for reason in reasons:
                self.rejected_spans[reason] = self.rejected_spans.get(reason, 0) + 1
        return len(reasons), reasons


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # a burst of connections waits in the kernel's backlog, not in threads

    def __init__(self, address: tuple[str, int], handler: Any, owner: Receiver) -> None:
        self.owner = owner
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        # At most MAX_CONNECTIONS handler threads: the accept loop waits for a free slot.
        self.owner._slots.acquire()
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.owner._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.owner._slots.release()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: a sender's batches share one connection
    timeout = IDLE_TIMEOUT_S
    server: _Server

    def do_POST(self) -> None:  # the name http.server dispatches to
        try:
            self._post()
        except (ConnectionError, TimeoutError):
            self.close_connection = True
        except Exception as exc:  # noqa: BLE001 - one bad request must never stop the receiver
            log_once("otel.receiver", exc)
            self.server.owner.reject_request("internal error")
            self._answer(500, {"error": "internal error; see the kernel's log"}, json_body=True)

    def do_GET(self) -> None:  # the name http.server dispatches to
        self._refuse_other()

    def do_PUT(self) -> None:  # the name http.server dispatches to
        self._refuse_other()

    def _refuse_other(self) -> None:
        owner = self.server.owner
        self._drain()
        if not owner.authorized(self.headers.get("Authorization")):
            owner.reject_request("unauthorized")
            self._answer(401, {"error": "missing or wrong bearer token"}, json_body=True)
        else:
            owner.reject_request("not found")
            self._answer(404, {"error": "only POST /v1/traces is served"}, json_body=True)

    def _post(self) -> None:
        owner = self.server.owner
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        json_body = content_type == "application/json"
        length = self.headers.get("Content-Length")
        if not owner.authorized(self.headers.get("Authorization")):
            self._drain()
            owner.reject_request("unauthorized")
            return self._answer(401, {"error": "missing or wrong bearer token"}, json_body=json_body)
        if self.path.split("?")[0] != "/v1/traces":
            self._drain()
            owner.reject_request("not found")
            return self._answer(404, {"error": "only POST /v1/traces is served"}, json_body=json_body)
        if length is None or not length.isdigit():
            owner.reject_request("no content length")
            self.close_connection = True
            return self._answer(411, {"error": "send a Content-Length"}, json_body=json_body)
        size = int(length)
        if size > owner.max_request_bytes:
            owner.reject_request("too large")
            self.close_connection = True
            return self._answer(413, {"error": f"request over {owner.max_request_bytes} bytes"}, json_body=json_body)
        body = self.rfile.read(size)
        if content_type not in (_PROTOBUF, "application/json"):
            owner.reject_request("unsupported media type")
            return self._answer(415, {"error": "send application/x-protobuf or application/json"}, json_body=False)
        encoding = (self.headers.get("Content-Encoding") or "identity").strip().lower()
        if encoding == "gzip":
            try:
                body = _gunzip(body, owner.max_request_bytes)
            except ValueError as exc:
                owner.reject_request("too large" if "over" in str(exc) else "bad gzip")
                return self._answer(413 if "over" in str(exc) else 400, {"error": str(exc)}, json_body=json_body)
        elif encoding != "identity":
            owner.reject_request("unsupported encoding")
            return self._answer(415, {"error": f"Content-Encoding {encoding!r}: send gzip or none"},
                                json_body=json_body)
        if owner.store_busy(len(body)):
            owner.reject_request("store busy")
            return self._answer(503, {"error": "the store is catching up; retry"}, json_body=json_body,
                                extra={"Retry-After": "1"})
        try:
            spans = decode_json(body) if json_body else decode_protobuf(body)
        except MalformedError as exc:
            owner.reject_request("malformed")
            return self._answer(400, {"error": str(exc)}, json_body=json_body)
        rejected, reasons = owner.take(spans)
        answer: dict[str, Any] = {}
        if rejected:
            summary = ", ".join(f"{reasons.count(r)} {r}" for r in sorted(set(reasons)))
            answer = {"partialSuccess": {"rejectedSpans": rejected, "errorMessage": f"rejected: {summary}"}}
        return self._answer(200, answer, json_body=json_body)

    def _drain(self) -> None:
        length = self.headers.get("Content-Length")
        if length and length.isdigit() and int(length) <= self.server.owner.max_request_bytes:
            self.rfile.read(int(length))
        else:
            self.close_connection = True

    def _answer(self, code: int, payload: dict[str, Any], *, json_body: bool,
                extra: dict[str, str] | None = None) -> None:
        if json_body or code >= 400:
            body = json.dumps(payload).encode()
            kind = "application/json"
        else:
            body = _protobuf_response(payload)
            kind = _PROTOBUF
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # http.server's signature; the kernel stays quiet
        pass


def _gunzip(body: bytes, cap: int) -> bytes:
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, cap + 1)
    except zlib.error as exc:
        raise ValueError(f"the body is not gzip ({exc})") from None
    if len(out) > cap or inflater.unconsumed_tail:
        raise ValueError(f"the body inflates to over {cap} bytes")
    return out


def _protobuf_response(payload: dict[str, Any]) -> bytes:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

    response = ExportTraceServiceResponse()
    partial = payload.get("partialSuccess")
    if partial:
        response.partial_success.rejected_spans = partial["rejectedSpans"]
        response.partial_success.error_message = partial["errorMessage"]
    return response.SerializeToString()


_running: list[Receiver] = []
_saved_env: dict[str, str | None] = {}


def receive(*, port: int = 0, token: str | None = None, max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
            set_env: bool = True) -> Receiver:
    """Start (or return the running) OTLP/HTTP receiver on 127.0.0.1; spans it receives go to the store.

    >>> import llmops_nb, subprocess
    >>> receiver = llmops_nb.receive()                       # doctest: +SKIP
    >>> subprocess.run(["python", "my_instrumented_app.py"])  # doctest: +SKIP

    With ``set_env`` (the default) the ``OTEL_EXPORTER_OTLP_TRACES_*`` variables point at it, so
    subprocesses using an OTel SDK export here. ``receiver.endpoint`` and ``receiver.headers``
    configure any other sender.
    """
    if _running:
        return _running[0]
    if max_request_bytes < 1:
        raise ValueError(f"max_request_bytes must be a positive number of bytes, got {max_request_bytes!r}.")
    receiver = Receiver(port=port, token=token, max_request_bytes=max_request_bytes)
    _running.append(receiver)
    if set_env:
        for name in _ENV:
            _saved_env.setdefault(name, os.environ.get(name))
        os.environ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = receiver.endpoint
        # The spec's header list is percent-encoded: the space after Bearer is %20.
        os.environ["OTEL_EXPORTER_OTLP_TRACES_HEADERS"] = f"Authorization=Bearer%20{receiver.token}"
        os.environ["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"] = "http/protobuf"
    return receiver


def stop_receiving() -> None:
    """Stop the receiver and restore the environment variables it set."""
    while _running:
        _running.pop().stop()
    for name, value in _saved_env.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    _saved_env.clear()


def status() -> dict[str, Any]:
    return _running[0].status() if _running else {"running": False}


__all__ = ["Receiver", "receive", "status", "stop_receiving"]
