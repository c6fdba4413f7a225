"""The hand-written loopback transport that ``llmops_nb/models/_loopback.py`` was, kept only as a contender.

It carried the SDK's requests to servers on this machine over the standard
library's ``http.client`` and a plain pool of keep-alive connections, instead
of httpx's default transport, to save the pool's per-request CPU under many
threads. ``benchmarks/loopback_bench.py`` measured it against httpx on the
judge/evaluate path: up to about 1.2x against a server that answers at once,
1.01-1.08x against one that takes 50 ms — short of the clear win that would
pay for an HTTP client of our own (figures and decision in
``docs/benchmarks.md``). So the package uses the SDKs' httpx transport, and
this file stays here only so the figure can be measured again.
"""

from __future__ import annotations

import http.client
import threading
from typing import Any

_MAX_IDLE = 256
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, ConnectionAbortedError)


def http_client(sdk: Any) -> Any:
    """The SDK's default httpx client (same defaults) on the lean transport."""
    base = sdk.DefaultHttpxClient
    httpx = __import__(next(c for c in base.__mro__ if c.__name__ == "Client").__module__.split(".")[0])
    return base(transport=_transport_class(httpx)())


_classes: dict[str, type] = {}


def _transport_class(httpx: Any) -> type:
    """A transport class for the httpx flavour the SDK uses (``httpx`` or a fork), made once."""
    cls = _classes.get(httpx.__name__)
    if cls is not None:
        return cls

    class LoopbackTransport(httpx.BaseTransport):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            self._idle: list[http.client.HTTPConnection] = []
            self._lock = threading.Lock()

        def handle_request(self, request: Any) -> Any:
            if request.headers.get("accept") == "text/event-stream":
                raise httpx.UnsupportedProtocol("the loopback transport does not stream", request=request)
            timeout = (request.extensions.get("timeout") or {}).get("read")
            body = request.read()
            with self._lock:
                connection = self._idle.pop() if self._idle else None
            if connection is not None:
                try:
                    return self._send(connection, request, body, timeout)
                except _STALE:
                    connection.close()  # the server dropped an idle keep-alive connection: use a fresh one
            url = request.url
            return self._send(http.client.HTTPConnection(url.host, url.port or 80, timeout=timeout), request,
                              body, timeout, fresh=True)

        def _send(self, connection: http.client.HTTPConnection, request: Any, body: bytes, timeout: Any,
                  fresh: bool = False) -> Any:
            try:
                if connection.sock is not None:
                    connection.sock.settimeout(timeout)
                connection.putrequest(request.method, request.url.raw_path.decode("ascii"), skip_host=True,
                                      skip_accept_encoding=True)
                for name, value in request.headers.raw:
                    connection.putheader(name.decode("latin-1"), value.decode("latin-1"))
                connection.endheaders(body)
                response = connection.getresponse()
                data = response.read()
            except _STALE:
                if not fresh:
                    raise
                connection.close()
                raise httpx.RemoteProtocolError("the server closed the connection", request=request) from None
            except TimeoutError as exc:
                connection.close()
                raise httpx.ReadTimeout(f"no answer within {timeout} s", request=request) from exc
            except (OSError, http.client.HTTPException) as exc:
                connection.close()
                raise httpx.ConnectError(f"{type(exc).__name__}: {exc}", request=request) from exc
            if connection.sock is not None:  # closed when the server said Connection: close
                with self._lock:
                    if len(self._idle) < _MAX_IDLE:
                        self._idle.append(connection)
                        connection = None  # type: ignore[assignment]
                if connection is not None:
                    connection.close()
            return httpx.Response(response.status, headers=response.getheaders(), content=data, request=request)

        def close(self) -> None:
            with self._lock:
                idle, self._idle = self._idle, []
            for connection in idle:
                connection.close()

    _classes[httpx.__name__] = LoopbackTransport
    return LoopbackTransport
