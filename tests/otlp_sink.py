"""A local OTLP/HTTP collector for tests: records what exporters send (``collector`` fixture in conftest)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar


class _Sink(BaseHTTPRequestHandler):
    bodies: ClassVar[list[tuple[bytes, dict[str, str]]]] = []
    fail = 0

    def do_POST(self):  # the name http.server dispatches to
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if _Sink.fail:
            _Sink.fail -= 1
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        import gzip

        _Sink.bodies.append((gzip.decompress(body), dict(self.headers)))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def start_collector() -> Iterator[ThreadingHTTPServer]:
    _Sink.bodies, _Sink.fail = [], 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def decoded_spans():
    from llmops_nb.otel._otlp_decode import decode_protobuf

    return [span for body, _ in _Sink.bodies for span in decode_protobuf(body)]
