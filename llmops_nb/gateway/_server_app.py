"""The gateway's HTTP face: one Starlette app speaking OpenAI's, Anthropic's and LiteLLM's key routes.

``create_app(gateway)`` answers ``POST /v1/chat/completions``, ``/v1/embeddings``, ``/v1/messages``
(Anthropic), ``GET /v1/models`` and ``/health``, and — master key only — LiteLLM's ``POST
/key/generate``, ``POST /key/delete`` and ``GET /key/list``. The model routes also answer without
``/v1`` (LiteLLM's own base URL has none). Every route wants a key, as ``Authorization: Bearer`` or
``x-api-key`` (the Anthropic SDK's header). Errors have the shape of the route's protocol: OpenAI's
``{"error": {...}}`` everywhere, Anthropic's ``{"type": "error", ...}`` on ``/v1/messages``, so each
SDK raises its own exception class. Nothing here decides policy: the app reads, authenticates and
attributes the request, then :meth:`Gateway.handle` does the rest.

**Why Starlette + uvicorn** (and not the standard library, as the OTLP receiver in
``otel/_receiver.py`` does): the gateway is a long-lived server for many clients holding streams
open for a minute each, which wants a maintained ASGI stack with async I/O rather than a thread per
connection; the receiver avoids these imports because it lives in the kernel for one low-rate
route. Here the import cost is paid once, by a process (or ``gw.serve()``) that asked for it.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from functools import partial
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route as StarletteRoute
from starlette.types import Receive, Scope, Send

from .._errors import did_you_mean
from .._safety import log_once
from ._errors import GatewayAuthError, GatewayError, GatewayRequestTooLarge
from ._types import GatewayRequest, GatewayResponse, Route, VirtualKey, body_user, bound_to_key
from ._wire import dumps, loads  # orjson when installed (~10x faster on large bodies), else the stdlib

#: headers about one hop's framing: ours are set by uvicorn for the body we actually send
_HOP_HEADERS = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive", "content-encoding",
                          "content-type"})
#: LiteLLM's /key/generate fields we honour; anything else is refused rather than silently dropped
#: (a "duration" taken for an expiry that never happens would be worse than an error).
_GENERATE_FIELDS = ("models", "max_budget", "budget_duration", "rpm_limit", "tpm_limit", "user_id", "team_id",
                    "metadata", "key_alias")


def _refused(status: int, message: str, code: str, error_type: str = "invalid_request_error") -> GatewayError:
    """An error of this module's own (bad JSON, not the master key …), in the gateway's error shapes."""
    return GatewayError(message, status=status, error_type=error_type, code=code)


def _error_response(error: GatewayError, anthropic: bool) -> Response:
    body = error.anthropic_body() if anthropic else error.openai_body()
    return _json(body, error.status, dict(error.headers))


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(dumps(body), status_code=status, headers=headers, media_type="application/json")


def _token(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.headers.get("x-api-key", "").strip() or None


class _Api:
    """The endpoints of one gateway; ``master_key`` is an extra owner key (``serve()``'s generated one)."""

    def __init__(self, gateway: Any, master_key: str | None) -> None:
        self.gateway = gateway
        self.master_key = master_key
        self.max_bytes = int(gateway.config.max_request_bytes)
        self.created = int(time.time())

    # -- the frame every route runs in ------------------------------------------------------------------
    def endpoint(self, name: str, work: Callable[[Request, VirtualKey | None], Awaitable[Response]],
                 *, anthropic: bool = False, owner_only: bool = False) -> Callable[[Request], Awaitable[Response]]:
        async def run(request: Request) -> Response:
            try:
                key = self.authenticate(request)
                if owner_only and key is not None:
                    raise _refused(403, f"{request.url.path} needs the master key; virtual keys cannot manage keys",
                                   "master_key_required", "permission_error")
                return await work(request, key)
            except GatewayError as exc:
                return _error_response(exc, anthropic)
            except ClientDisconnect:
                return Response(status_code=400)  # nobody is listening; uvicorn drops it
            except Exception as exc:  # noqa: BLE001 - the client gets a generic 500, never a traceback or a key
                log_once(f"gateway.server.{name}", exc, f"llmops_nb gateway: {request.url.path} failed inside the "
                         "gateway; the client got a 500")
                return _error_response(_refused(500, "the gateway failed on this request (an internal error; the "
                                                     "server's log has the cause)", "internal_error",
                                                "gateway_error"), anthropic)
        return run

    def authenticate(self, request: Request) -> VirtualKey | None:
        token = _token(request)
        if token and self.master_key is not None and hmac.compare_digest(token.encode(), self.master_key.encode()):
            return None
        if not token:  # never ask the gateway with no token: an in-kernel gateway may treat that as the owner
            raise GatewayAuthError("no API key: send 'Authorization: Bearer <key>' (or 'x-api-key: <key>') with a "
                                   "virtual key from /key/generate or the master key")
        key: VirtualKey | None = self.gateway.authenticate(token)
        return key

    async def body(self, request: Request) -> dict[str, Any]:
        """The JSON object the client sent, refused past ``max_request_bytes`` before it is all in memory."""
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            raise GatewayRequestTooLarge(int(length), self.max_bytes)  # by its announced length, before reading
        chunks: list[bytes] = []
        size = 0
        async with aclosing(request.stream()) as stream:
            async for chunk in stream:
                size += len(chunk)
                if size > self.max_bytes:  # a chunked body has no length up front: stop at the cap
                    raise GatewayRequestTooLarge(size, self.max_bytes)
                chunks.append(chunk)
        try:
            body = loads(b"".join(chunks))
        except ValueError as exc:
            raise _refused(400, f"the request body is not valid JSON ({exc}); send a JSON object with "
                                "'Content-Type: application/json'", "invalid_json") from None
        if not isinstance(body, dict):
            raise _refused(400, f"the request body is JSON {type(body).__name__}, not an object; send the "
                                "request's parameters as one JSON object", "invalid_json")
        return body

    # -- the model routes ---------------------------------------------------------------------------------
    def model_route(self, route: Route) -> Callable[[Request, VirtualKey | None], Awaitable[Response]]:
        async def work(request: Request, key: VirtualKey | None) -> Response:
            body = await self.body(request)
            user, team, project = _attribution(route, body, request, key)
            answer = await self.gateway.handle(GatewayRequest(route=route, body=body, key=key, user=user, team=team,
                                                              project=project))
            return _response(answer, route)
        return work

    async def models(self, request: Request, key: VirtualKey | None) -> Response:
        names = self.gateway.model_names(key)
        if "anthropic-version" in request.headers:  # the Anthropic SDK's models.list() reads its own shape
            data = [{"type": "model", "id": n, "display_name": n, "created_at": "1970-01-01T00:00:00Z"} for n in names]
            return _json({"data": data, "has_more": False, "first_id": names[0] if names else None,
                          "last_id": names[-1] if names else None})
        return _json({"object": "list", "data": [{"id": n, "object": "model", "created": self.created,
                                                  "owned_by": "llmops_nb"} for n in names]})

    async def health(self, request: Request, key: VirtualKey | None) -> Response:
        return _json({"status": "ok", "models": len(self.gateway.model_names(key))})

    # -- key management (LiteLLM's routes and field names) ----------------------------------------------
    async def key_generate(self, request: Request, key: VirtualKey | None) -> Response:
        body = await self.body(request)
        unknown = sorted(set(body) - set(_GENERATE_FIELDS))
        if unknown:
            raise _refused(400, f"/key/generate does not take {', '.join(map(repr, unknown))}; it takes "
                                f"{', '.join(_GENERATE_FIELDS)}.{did_you_mean(unknown[0], _GENERATE_FIELDS)}",
                           "invalid_field")
        metadata = body.get("metadata") or {}
        if not isinstance(metadata, dict) or set(metadata) - {"project"}:
            raise _refused(400, "/key/generate's metadata holds only 'project' here, e.g. "
                                '{"metadata": {"project": "search"}}', "invalid_field")
        models = body.get("models") or None  # LiteLLM's [] means every model
        if models is not None:
            known = self.gateway.model_names(None)
            if not isinstance(models, list) or not all(isinstance(m, str) for m in models):
                raise _refused(400, "models is a list of model names, e.g. [\"chat\"]", "invalid_field")
            for name in models:
                if name not in known:  # a key limited to a misspelt model would be refused everywhere
                    raise _refused(400, f"models names {name!r}, which this gateway does not serve; it serves "
                                        f"{', '.join(known)}.{did_you_mean(name, known)}", "invalid_field")
        create = partial(self.gateway.keys.create, body.get("key_alias"), models=models, rpm=body.get("rpm_limit"),
                         tpm=body.get("tpm_limit"), max_budget=body.get("max_budget"),
                         budget_duration=body.get("budget_duration"), user=body.get("user_id"),
                         team=body.get("team_id"), project=metadata.get("project"))
        try:
            plaintext, created = await asyncio.to_thread(create)  # a store write: off the loop that streams
        except (TypeError, ValueError) as exc:
            raise _refused(400, f"/key/generate: {exc}", "invalid_field") from None
        return _json({"key": plaintext, **_key_fields(created)})

    async def key_delete(self, request: Request, key: VirtualKey | None) -> Response:
        body = await self.body(request)
        wanted = body.get("keys")
        if set(body) != {"keys"} or not isinstance(wanted, list) or not all(isinstance(k, str) for k in wanted):
            raise _refused(400, '/key/delete takes {"keys": [key_id or key, ...]}', "invalid_field")
        return _json({"deleted_keys": await asyncio.to_thread(self._revoke, wanted)})

    def _revoke(self, wanted: list[str]) -> list[str]:
        """Revoke keys given by id or (LiteLLM accepts both) by the key itself; none if one is unknown."""
        known = set(self.gateway.keys.list()["key_id"])
        ids = []
        for given in wanted:
            found = given if given in known else getattr(self.gateway.keys.verify(given), "key_id", None)
            if found is None:
                raise _refused(404, "no such key: /key/delete takes key ids from /key/list (or the keys "
                                    "themselves)", "key_not_found", "not_found_error")
            ids.append(str(found))
        for key_id in ids:
            self.gateway.keys.revoke(key_id)
        return ids

    async def key_list(self, request: Request, key: VirtualKey | None) -> Response:
        listed = await asyncio.to_thread(self.gateway.keys.list)
        hidden = [c for c in listed.columns if "hash" in str(c).lower()]  # a key's hash stays on the server
        records = json.loads(listed.drop(columns=hidden).to_json(orient="records", date_format="iso"))
        return _json({"keys": records, "total_count": len(records)})


def _attribution(route: Route, body: dict[str, Any], request: Request,
                 key: VirtualKey | None) -> tuple[str | None, str | None, str | None]:
    """Who the request is for: the body's or the headers' say, unless the key is bound (a key bound to a
    user, team or project cannot claim another: its own value wins)."""
    headers = request.headers
    return bound_to_key(key, body_user(route, body) or headers.get("x-llmops-user") or None,
                        headers.get("x-llmops-team") or None, headers.get("x-llmops-project") or None)


def _key_fields(key: VirtualKey) -> dict[str, Any]:
    return {"key_id": key.key_id, "key_alias": key.name, "models": list(key.models or ()),
            "max_budget": key.max_budget, "budget_duration": key.budget_duration, "rpm_limit": key.rpm,
            "tpm_limit": key.tpm, "user_id": key.user, "team_id": key.team, "metadata": {"project": key.project}}


def _response(answer: GatewayResponse, route: Route) -> Response:
    headers = {name: value for name, value in answer.headers.items() if name.lower() not in _HOP_HEADERS}
    if answer.stream is None:
        return _json(answer.body if answer.body is not None else {}, answer.status, headers)
    return _EventStream(answer.stream, answer.status, headers, anthropic=route == "messages")


class _EventStream(Response):
    """Server-sent events passed through byte for byte; a client that hangs up closes the upstream stream.

    Not Starlette's ``StreamingResponse``: it leaves an upstream generator that was suspended at ``yield``
    when the client left (its send waiting on a full socket) to the garbage collector, and for servers
    of ASGI spec 2.4 it does not watch for the disconnect at all — uvicorn then drops the writes
    silently and the copy reads the provider's stream (tokens billed, nobody reading) to its end. Here a
    watcher sees ``http.disconnect``, cancels the copy, and the upstream iterator's ``aclose()`` runs at
    once, whatever it was waiting on.
    """

    def __init__(self, stream: AsyncIterator[bytes], status: int, headers: dict[str, str], *, anthropic: bool) -> None:
        self.stream, self.status_code, self.anthropic = stream, status, anthropic
        self.background = None
        self.init_headers({"cache-control": "no-cache", "x-accel-buffering": "no", **headers,
                           "content-type": "text/event-stream; charset=utf-8"})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async with anyio.create_task_group() as group:
            async def watch() -> None:
                while (await receive())["type"] != "http.disconnect":
                    pass
                group.cancel_scope.cancel()

            group.start_soon(watch)
            try:
                await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
                await self._copy(send)
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            finally:
                with anyio.CancelScope(shield=True):  # the close must finish even though we are being cancelled
                    close = getattr(self.stream, "aclose", None)
                    if close is not None:
                        await close()
            group.cancel_scope.cancel()

    async def _copy(self, send: Send) -> None:
        try:
            async for chunk in self.stream:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except GatewayError as exc:  # the status line is sent: the error goes in the stream, as the SDKs expect
            await send({"type": "http.response.body", "body": self._error_event(exc), "more_body": True})
        except Exception as exc:  # noqa: BLE001 - cut short with a generic error event, never a traceback
            log_once("gateway.server.stream", exc, "llmops_nb gateway: a stream failed inside the gateway; the "
                     "client got an error event")
            refused = _refused(500, "the gateway failed while streaming (an internal error; the server's log has "
                                    "the cause)", "internal_error", "gateway_error")
            await send({"type": "http.response.body", "body": self._error_event(refused), "more_body": True})

    def _error_event(self, error: GatewayError) -> bytes:
        body = _error_response(error, self.anthropic).body
        return (b"event: error\ndata: " if self.anthropic else b"data: ") + bytes(body) + b"\n\n"


def _not_found(request: Request, exc: Exception) -> Response:
    """404 and 405 in the OpenAI (or, under /messages, Anthropic) error shape, like every other answer."""
    status = exc.status_code if isinstance(exc, HTTPException) else 404
    where = f"{request.method} {request.url.path}"
    if status == 405:
        allowed = (exc.headers or {}).get("Allow", "another method") if isinstance(exc, HTTPException) else ""
        error = _refused(405, f"{where}: this route takes {allowed}", "method_not_allowed")
    else:
        error = _refused(404, f"{where} is not a route of this gateway (it serves /v1/chat/completions, "
                              "/v1/embeddings, /v1/messages, /v1/models, /health and /key/*)", "not_found")
    return _error_response(error, anthropic=request.url.path.rstrip("/").endswith("/messages"))


def create_app(gateway: Any, *, master_key: str | None = None) -> Starlette:
    """The ASGI app serving ``gateway``; ``master_key`` is one more owner key besides the config's.

    >>> app = create_app(llmops_nb.gateway.load("gateway.yaml"))   # doctest: +SKIP
    >>> uvicorn.run(app, port=4000)                                 # doctest: +SKIP
    """
    api = _Api(gateway, master_key)
    routes: list[StarletteRoute] = []
    for prefix in ("/v1", ""):  # OpenAI clients whose base_url lacks /v1 (LiteLLM's) call the bare paths
        routes += [
            StarletteRoute(f"{prefix}/chat/completions", api.endpoint("chat", api.model_route("chat")),
                           methods=["POST"]),
            StarletteRoute(f"{prefix}/embeddings", api.endpoint("embeddings", api.model_route("embeddings")),
                           methods=["POST"]),
            StarletteRoute(f"{prefix}/messages", api.endpoint("messages", api.model_route("messages"), anthropic=True),
                           methods=["POST"]),
            StarletteRoute(f"{prefix}/models", api.endpoint("models", api.models), methods=["GET"]),
        ]
    routes += [
        StarletteRoute("/health", api.endpoint("health", api.health), methods=["GET"]),
        StarletteRoute("/key/generate", api.endpoint("key_generate", api.key_generate, owner_only=True),
                       methods=["POST"]),
        StarletteRoute("/key/delete", api.endpoint("key_delete", api.key_delete, owner_only=True), methods=["POST"]),
        StarletteRoute("/key/list", api.endpoint("key_list", api.key_list, owner_only=True), methods=["GET"]),
    ]
    return Starlette(routes=routes, exception_handlers={404: _not_found, 405: _not_found})
