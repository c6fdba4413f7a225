"""The in-kernel clients: the official SDKs with an httpx transport that hands requests to the gateway.

``gw.client()`` is a real ``openai.OpenAI`` — every method, type and exception users know — whose
HTTP layer is this module instead of a socket: the request's JSON goes to
:meth:`Gateway.handle` in this process, and its answer (or its refusal, as the HTTP status and
OpenAI-shaped error body the server would send) comes back as an ``httpx.Response``. So notebook
code changes only the line that builds its client, and a refused budget raises the SDK's own
``RateLimitError`` carrying our message, as it would from the server.

Sync clients run the gateway on a private loop of the calling thread (:mod:`._sync`), with the
caller's current span as the request's parent, so the request's trace nests under the cell's. Async clients
run it on the caller's loop. The SDKs' own retries are turned off: the gateway retries upstream.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

from ..integrations._attributes import GATEWAY_HOST
from ..tracing import get_current_span
from ._errors import GatewayError
from ._types import GatewayRequest, GatewayResponse, Route, body_user, bound_to_key
from ._wire import dumps, loads

if TYPE_CHECKING:
    from ._gateway import Gateway

#: The base URL in-kernel clients are built with: never resolved, never connected to. Its host also
#: tells autolog's SDK patch to leave these calls to the gateway's own spans (counted once).
BASE_URL = f"http://{GATEWAY_HOST}"
_ROUTES: dict[str, Route] = {"/v1/chat/completions": "chat", "/chat/completions": "chat",
                             "/v1/embeddings": "embeddings", "/embeddings": "embeddings",
                             "/v1/messages": "messages", "/messages": "messages"}
#: The SDKs want a key; the in-kernel owner has none (a virtual key given to client() replaces it).
_OWNER = "llmops-nb-in-kernel"


class _Caller:
    """Who the requests of one client come from, and how its request becomes a GatewayRequest."""

    def __init__(self, gateway: Gateway, key: str | None, user: str | None, team: str | None,
                 project: str | None) -> None:
        self.gateway, self.token = gateway, key
        self.user, self.team, self.project = user, team, project

    def request(self, http: Any, sent: Any, body: bytes) -> Any:
        """The GatewayRequest of an SDK's HTTP request, or the error response it gets instead."""
        route = _ROUTES.get(sent.url.path)
        if sent.method != "POST" or route is None:
            return _error(http, sent, GatewayError(f"{sent.method} {sent.url.path} is not a gateway route; the "
                                                   "in-kernel client serves chat completions, embeddings and "
                                                   "messages", status=404, code="not_found"))
        try:
            payload = loads(body)
        except ValueError:
            return _error(http, sent, GatewayError("the request body is not JSON", status=400, code="invalid_json"))
        if not isinstance(payload, dict):
            return _error(http, sent, GatewayError("the request body must be a JSON object", status=400,
                                                   code="invalid_json"))
        try:
            key = self.gateway.authenticate(self.token) if self.token else None
        except GatewayError as exc:
            return _error(http, sent, exc)
        user, team, project = bound_to_key(key, self.user or body_user(route, payload), self.team, self.project)
        return GatewayRequest(route=route, body=payload, key=key, user=user, team=team, project=project,
                              parent=get_current_span())


def _error(http: Any, sent: Any, exc: GatewayError) -> Any:
    body = exc.anthropic_body() if sent.url.path.endswith("/messages") else exc.openai_body()
    return http.Response(exc.status, headers={**exc.headers, "content-type": "application/json"},
                         content=dumps(body), request=sent)


def _response(http: Any, sent: Any, answer: GatewayResponse, stream: Any = None) -> Any:
    if stream is not None:
        return http.Response(answer.status, headers={**answer.headers, "content-type": "text/event-stream"},
                             stream=stream, request=sent)
    return http.Response(answer.status, headers={**answer.headers, "content-type": "application/json"},
                         content=dumps(answer.body), request=sent)


@functools.cache
def _transports(http: Any) -> tuple[type, type]:
    """The (sync, async) transport classes for one HTTP library: the SDKs moved from ``httpx`` to its
    successor ``httpx2`` (openai 3, anthropic 2) with the same API, so the classes are built for the
    library the installed SDK uses."""

    class GatewayTransport(http.BaseTransport):
        """Sync: the gateway runs on its loop thread; a stream's events are fetched one at a time."""

        def __init__(self, caller: _Caller) -> None:
            self.caller = caller

        def handle_request(self, request: Any) -> Any:
            built = self.caller.request(http, request, request.read())
            if not isinstance(built, GatewayRequest):
                return built
            gateway = self.caller.gateway
            try:
                answer = gateway.run_sync(gateway.handle(built))
            except GatewayError as exc:
                return _error(http, request, exc)
            if answer.stream is None:
                return _response(http, request, answer)
            return _response(http, request, answer, SyncEvents(gateway, answer.stream))

    class SyncEvents(http.SyncByteStream):
        """A stream's events, each fetched on the loop that opened the stream (its connection is there)."""

        def __init__(self, gateway: Gateway, events: AsyncIterator[bytes]) -> None:
            self.gateway, self.events, self.loop = gateway, events, gateway.sync_loop()

        def __iter__(self) -> Iterator[bytes]:
            run, loop, events = self.gateway.run_sync, self.loop, self.events
            while True:
                try:
                    yield run(_next(events), loop)
                except StopAsyncIteration:
                    return

        def close(self) -> None:  # the SDK closes a stream it stops reading: end the upstream one too
            if not self.loop.is_closed():
                self.gateway.run_sync(self.events.aclose(), self.loop)  # type: ignore[attr-defined]

    class AsyncGatewayTransport(http.AsyncBaseTransport):
        """Async: the gateway runs on the caller's loop."""

        def __init__(self, caller: _Caller) -> None:
            self.caller = caller

        async def handle_async_request(self, request: Any) -> Any:
            built = self.caller.request(http, request, await request.aread())
            if not isinstance(built, GatewayRequest):
                return built
            try:
                answer = await self.caller.gateway.handle(built)
            except GatewayError as exc:
                return _error(http, request, exc)
            if answer.stream is None:
                return _response(http, request, answer)
            return _response(http, request, answer, AsyncEvents(answer.stream))

    class AsyncEvents(http.AsyncByteStream):
        def __init__(self, events: AsyncIterator[bytes]) -> None:
            self.events = events

        async def __aiter__(self) -> AsyncIterator[bytes]:
            async for event in self.events:
                yield event

        async def aclose(self) -> None:
            await self.events.aclose()  # type: ignore[attr-defined]

    return GatewayTransport, AsyncGatewayTransport


async def _next(events: AsyncIterator[bytes]) -> bytes:
    return await events.__anext__()


def _http_library(sdk: Any) -> Any:
    """The HTTP library the SDK's client is built on (``httpx2`` for openai 3 / anthropic 2, else ``httpx``)."""
    import importlib

    base = importlib.import_module(f"{sdk.__name__}._base_client")
    return getattr(base, "httpx2", None) or base.httpx


def _http_client(sdk: Any, caller: _Caller, is_async: bool) -> Any:
    http = _http_library(sdk)
    sync_transport, async_transport = _transports(http)
    if is_async:
        return http.AsyncClient(transport=async_transport(caller))
    return http.Client(transport=sync_transport(caller))


def openai_client(gateway: Gateway, *, key: str | None, user: str | None, team: str | None, project: str | None,
                  is_async: bool, **options: Any) -> Any:
    import openai

    caller = _Caller(gateway, key, user, team, project)
    options.setdefault("max_retries", 0)
    make = openai.AsyncOpenAI if is_async else openai.OpenAI
    return make(api_key=key or _OWNER, base_url=BASE_URL + "/v1",
                http_client=_http_client(openai, caller, is_async), **options)


def anthropic_client(gateway: Gateway, *, key: str | None, user: str | None, team: str | None,
                     project: str | None, is_async: bool, **options: Any) -> Any:
    import anthropic

    caller = _Caller(gateway, key, user, team, project)
    options.setdefault("max_retries", 0)
    make = anthropic.AsyncAnthropic if is_async else anthropic.Anthropic
    return make(api_key=key or _OWNER, base_url=BASE_URL, http_client=_http_client(anthropic, caller, is_async),
                **options)
