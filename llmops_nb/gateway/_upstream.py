"""HTTP to one deployment: a request in the deployment's own protocol out, its answer (or stream) and usage back.

One ``httpx.AsyncClient`` per event loop (its connections belong to that loop), with a pool sized
for a gateway that fans in many concurrent requests. A request costs the gateway as little as we
can make it: the URL, headers and timeout of each deployment are built once (keyed by deployment
and key, so a rotated key takes effect at once), bodies go through orjson when installed, and the
request is handed to the client ready-made, skipping httpx's per-request merging of client
defaults. Every failure becomes an :class:`UpstreamFailure` whose kind the router acts on
(:mod:`._upstream_errors`); the key never appears in one.

The ``local`` provider is the offline model's server (:mod:`llmops_nb.local_model`): started on first
use, asked before each request whether it is up (waiting out a restart), reached with its own key.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx2 as httpx  # the API of httpx, maintained; see pyproject.toml

from ._sync import BLOCKING, run_here
from ._types import Deployment, Route, UpstreamFailure, Usage
from ._upstream_errors import failure_from_exception, failure_from_response
from ._upstream_stream import UpstreamStream
from ._wire import dumps, loads, usage_from_chat, usage_from_messages

__all__ = ["Upstream", "UpstreamStream"]

_OPENAI_BASE = "https://api.openai.com/v1"
_ANTHROPIC_BASE = "https://api.anthropic.com"
_ANTHROPIC_VERSION = "2023-06-01"
#: the gateway fans many concurrent requests into few upstreams: a deep pool, generous keep-alive
_LIMITS = httpx.Limits(max_connections=1000, max_keepalive_connections=100, keepalive_expiry=30)
_MAX_TARGETS = 1024  # cached (deployment, key) pairs; past that the cache starts over (keys rotating fast)


@dataclass(frozen=True)
class _Target:
    """Everything about one deployment a request needs, built once."""

    url: httpx.URL                   # chat completions / messages
    embeddings_url: httpx.URL | None
    headers: list[tuple[bytes, bytes]]   # all of them but Content-Length, Host first
    extensions: dict[str, Any]       # httpx's per-request timeout
    where: str                       # "<deployment id> (<url>)", for messages
    secret: str | None               # the key, to scrub from what the upstream says


class Upstream:
    """Sends requests to deployments; ``resolve_key(deployment)`` gives the provider key, or None.

    >>> upstream = Upstream(lambda d: os.environ.get("OPENAI_API_KEY"))  # doctest: +SKIP
    >>> body, usage = await upstream.send(deployment, "chat", {"messages": [...]})  # doctest: +SKIP
    >>> await upstream.aclose()  # doctest: +SKIP
    """

    def __init__(self, resolve_key: Callable[[Deployment], str | None]) -> None:
        self._resolve_key = resolve_key
        self._lock = threading.Lock()
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = \
            weakref.WeakKeyDictionary()
        self._targets: dict[tuple[Any, ...], _Target] = {}
        self._closing: set[asyncio.Task[None]] = set()
        self._sync_client: httpx.Client | None = None

    # -- one request ----------------------------------------------------------------------------
    async def send(self, d: Deployment, route: Route, body: dict[str, Any]) -> tuple[dict[str, Any], Usage]:
        """POST ``body`` (in ``d``'s protocol; its ``model`` replaced by ``d.model``); the JSON answer and its usage.

        Raises ``UpstreamFailure`` for a non-2xx answer, a timeout (``d.timeout`` per attempt, for each
        of connect / write / wait-for-bytes), a failed connection, or an answer that is not JSON.
        """
        target = await self._target(d)
        url = self._url(target, d, route)
        request = _request(url, target, dumps({**body, "model": d.model}))
        try:
            if BLOCKING.get():  # a sync caller's private loop: nothing else to run while we wait
                response = self._blocking_client().send(request)
            else:
                response = await self._client().send(request)
        except httpx.HTTPError as exc:
            raise await self._transport_failure(exc, d, target) from exc
        if not 200 <= response.status_code < 300:
            raise failure_from_response(response.status_code, response.headers, response.content,
                                        secret=target.secret)
        try:
            data = loads(response.content)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise UpstreamFailure("server", f"{target.where} answered HTTP {response.status_code} without a JSON "
                                  "object; is api_base the provider's API root?", status=response.status_code)
        if d.protocol == "anthropic":
            return data, usage_from_messages(data.get("usage"), data.get("model"))
        return data, usage_from_chat(data.get("usage"), data.get("model"))

    async def open_stream(self, d: Deployment, route: Route, body: dict[str, Any]) -> UpstreamStream:
        """Start a streamed answer; raises ``UpstreamFailure`` before returning unless the upstream said 2xx.

        So the router can still retry or fall back: no byte has reached the client yet. An OpenAI
        chat stream always asks for usage (budgets need real token counts); when the client did
        not, the usage-only chunk is dropped from what it receives.
        """
        target = await self._target(d)
        url = self._url(target, d, route)
        payload = {**body, "model": d.model, "stream": True}
        drop_usage_chunk = False
        if d.protocol == "openai":
            options = body.get("stream_options")
            if not (isinstance(options, dict) and options.get("include_usage")):
                payload["stream_options"] = {**(options if isinstance(options, dict) else {}), "include_usage": True}
                drop_usage_chunk = True
        request = _request(url, target, dumps(payload))
        blocking = BLOCKING.get()
        try:
            if blocking:
                response = self._blocking_client().send(request, stream=True)
            else:
                response = await self._client().send(request, stream=True)
        except httpx.HTTPError as exc:
            raise await self._transport_failure(exc, d, target) from exc
        if not 200 <= response.status_code < 300:
            try:
                content = response.read() if blocking else await response.aread()
            except httpx.HTTPError:
                content = b""
            finally:
                if blocking:
                    response.close()
                else:
                    await response.aclose()
            raise failure_from_response(response.status_code, response.headers, content, secret=target.secret)
        return UpstreamStream(response, d.protocol, drop_usage_chunk=drop_usage_chunk, where=target.where,
                              timeout=d.timeout, secret=target.secret, blocking=blocking)

    # -- where and how ----------------------------------------------------------------------------
    async def _target(self, d: Deployment) -> _Target:
        if d.provider == "local":
            server = await self._local_server(d)
            base, key = server.base_url, server.api_key
        else:
            base, key = d.api_base, self._resolve_key(d)
            if key is None and base is None:
                raise UpstreamFailure("auth", f"Deployment {d.id!r} has no API key: set litellm_params.api_key "
                                      "(os.environ/NAME or secrets/NAME) for it.")
        cache_key = (d.id, d.protocol, base, key, d.timeout)
        target = self._targets.get(cache_key)
        if target is None:
            target = _build_target(d, base, key)
            with self._lock:
                if len(self._targets) >= _MAX_TARGETS:
                    self._targets.clear()
                self._targets[cache_key] = target
        return target

    @staticmethod
    def _url(target: _Target, d: Deployment, route: Route) -> httpx.URL:
        if route != "embeddings":
            return target.url
        if target.embeddings_url is None:
            raise UpstreamFailure("client", f"Deployment {d.id!r} speaks the Anthropic protocol, which does not "
                                  "serve embeddings; route embeddings to an OpenAI-protocol deployment.", status=400)
        return target.embeddings_url

    @staticmethod
    async def _local_server(d: Deployment) -> Any:
        from ..local_model import LocalModelError, local_server

        try:  # off the loop: the first call starts the process, a later one may wait out a restart
            return await asyncio.to_thread(local_server)
        except LocalModelError as exc:  # not installed, or died for good: another deployment may serve
            raise UpstreamFailure("connection", f"Deployment {d.id!r} (the offline model): {exc}") from exc

    async def _transport_failure(self, exc: httpx.HTTPError, d: Deployment, target: _Target) -> UpstreamFailure:
        if d.provider == "local" and isinstance(exc, httpx.ConnectError):
            from ..local_model import LocalModelError, local_server

            # a dead server process: say why it died, or (restarted) let the router's retry reach the new one
            try:
                await asyncio.to_thread(lambda: local_server().check(connection_failed=True))
            except LocalModelError as down:
                return UpstreamFailure("connection", f"Deployment {d.id!r} (the offline model): {down}")
        return failure_from_exception(exc, target.where, d.timeout, secret=target.secret)

    # -- clients ------------------------------------------------------------------------------------
    def _client(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            with self._lock:
                client = self._clients.get(loop)
                if client is None:
                    # redirects are not followed: a provider API that redirects a POST is misconfigured
                    client = self._clients[loop] = httpx.AsyncClient(limits=_LIMITS, follow_redirects=False)
        return client

    def _blocking_client(self) -> httpx.Client:
        client = self._sync_client
        if client is None:
            with self._lock:
                client = self._sync_client
                if client is None:  # one for every sync caller: httpx's pool is thread-safe
                    client = self._sync_client = httpx.Client(limits=_LIMITS, follow_redirects=False)
        return client

    async def aclose(self) -> None:
        """Close the running loop's client and its connections (call it before that loop ends)."""
        with self._lock:
            client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()

    def close(self) -> None:
        """Close every loop's client, each on its own loop: a loop in another thread, an idle one, or this one.

        On the running loop (called from a coroutine) the close is scheduled, not awaited: prefer
        ``await aclose()`` there. A client whose loop is already closed has lost its connections with it.
        """
        with self._lock:
            clients = list(self._clients.items())
            self._clients = weakref.WeakKeyDictionary()
            blocking, self._sync_client = self._sync_client, None
        if blocking is not None:
            blocking.close()
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        for loop, client in clients:
            if loop.is_closed():
                continue
            if loop is running:
                task = loop.create_task(client.aclose())
                self._closing.add(task)
                task.add_done_callback(self._closing.discard)
            elif loop.is_running():
                asyncio.run_coroutine_threadsafe(client.aclose(), loop).result(timeout=10)
            else:  # an idle loop: a sync client's (see _sync), possibly in a notebook cell
                run_here(loop, client.aclose())


def _request(url: httpx.URL, target: _Target, payload: bytes) -> httpx.Request:
    # httpx.Request(content=..., headers=dict) normalises every header twice, ~12 µs of a ~60 µs send;
    # a ready header list with a byte stream skips that (Host and Content-Length are then ours to set)
    return httpx.Request("POST", url, headers=[*target.headers, (b"Content-Length", b"%d" % len(payload))],
                         stream=httpx.ByteStream(payload), extensions=target.extensions)


def _build_target(d: Deployment, base: str | None, key: str | None) -> _Target:
    headers = {"accept": "application/json", "accept-encoding": "gzip, deflate", "content-type": "application/json",
               "user-agent": "llmops_nb-gateway"}
    if d.protocol == "anthropic":
        root = (base or _ANTHROPIC_BASE).rstrip("/").removesuffix("/v1")  # the API root, with or without /v1
        url, embeddings = httpx.URL(f"{root}/v1/messages"), None
        headers["anthropic-version"] = _ANTHROPIC_VERSION
        if key:
            headers["x-api-key"] = key
    else:
        root = (base or _OPENAI_BASE).rstrip("/")
        url, embeddings = httpx.URL(f"{root}/chat/completions"), httpx.URL(f"{root}/embeddings")
        if key:
            headers["authorization"] = f"Bearer {key}"
    raw = [(b"Host", url.netloc), *((name.encode(), value.encode()) for name, value in headers.items())]
    timeout = httpx.Timeout(d.timeout)
    return _Target(url, embeddings, raw, {"timeout": timeout.as_dict()}, f"deployment {d.id!r} ({url})", key)
