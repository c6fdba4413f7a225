"""Requests from a widget's JS view, answered by the kernel — every one of them.

The view sends a custom message ``{"type": "request", "id", "method", "params"}``;
the kernel answers ``{"type": "response", "id", "ok": true, "data"}`` or
``{"type": "response", "id", "ok": false, "error", "error_type"}``. Every request
gets exactly one response, whatever fails (bad message, unknown method, a query
error, a result that cannot be sent), so no promise in the browser waits for an
answer that never comes; the JS side (``js/lib/rpc.js``) also gives up after a
timeout. Handlers run on a small shared thread pool: a slow query never holds
the kernel's main thread, so the notebook stays responsive while a view loads.

A widget declares what it answers as a :class:`Methods` table and calls
:func:`attach`; another view reuses or extends a table. A handler takes keyword-only
parameters, checked against its annotations before it runs (:mod:`._params`)::

    methods = Methods()

    @methods.register("page")
    def page(*, offset: int = 0, limit: int = 100) -> dict:
        return {"rows": ...}

    attach(widget, explorer_methods.extend(methods))
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from .._errors import LlmopsError, did_you_mean
from ._params import bind

logger = logging.getLogger("llmops_nb.widgets")

Handler = Callable[..., Any]  # keyword-only parameters: the request's params

#: Requests slower than this are logged (INFO on the ``llmops_nb.widgets`` logger).
SLOW_MS = 200.0
#: Worker threads shared by every widget: DuckDB access is serialized per store anyway,
#: a few workers keep one slow search from queueing a quick span fetch behind it.
WORKERS = 4


class Methods:
    """A table of request handlers by name. A handler takes the request's params as keyword-only
    arguments and returns JSON-serializable data; an exception it raises becomes an ``ok: false``
    response, and so do params that do not fit its signature."""

    def __init__(self, handlers: dict[str, Handler] | None = None) -> None:
        self._bound: dict[str, Callable[[dict[str, Any]], Any]] = {}
        for name, handler in (handlers or {}).items():
            self.register(name, handler)

    def register(self, name: str, handler: Handler | None = None) -> Any:
        """Add a handler (or use as a decorator: ``@methods.register("name")``)."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"A method name must be a non-empty string, got {name!r}.")

        def add(fn: Handler) -> Handler:
            self._add(name, bind(name, fn))
            return fn

        return add(handler) if handler is not None else add

    def _add(self, name: str, bound: Callable[[dict[str, Any]], Any]) -> None:
        if name in self._bound:
            raise ValueError(f"Method {name!r} is already registered; pick another name.")
        self._bound[name] = bound

    def extend(self, other: Methods) -> Methods:
        """A new table with this one's methods and ``other``'s (a name in both is an error)."""
        merged = Methods()
        for table in (self, other):
            for name, bound in table._bound.items():
                merged._add(name, bound)
        return merged

    def names(self) -> list[str]:
        return sorted(self._bound)

    def get(self, name: str) -> Callable[[dict[str, Any]], Any] | None:
        """The handler of ``name`` as a function of the params dict (checked, then called)."""
        return self._bound.get(name)


class RpcError(LlmopsError):
    """A request the handler refuses (bad params, missing data): its message goes to the view as is."""


_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def executor() -> ThreadPoolExecutor:
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="llmops_nb-rpc")
        return _executor


class RpcServer:
    """Answers the requests in one widget's custom messages through ``send``."""

    def __init__(self, methods: Methods, send: Callable[[dict[str, Any]], Any],
                 pool: ThreadPoolExecutor | None = None) -> None:
        self.methods = methods
        self._send = send
        self._pool = pool

    def handle(self, message: Any) -> Future[Any] | None:
        """Start answering ``message``; returns the future of its response (None: not a request)."""
        if not isinstance(message, dict) or message.get("type") != "request":
            return None  # other custom messages on the same comm are not ours to answer
        req_id = message.get("id")
        method, params = message.get("method"), message.get("params")
        if params is None:
            params = {}
        handler = self.methods.get(method) if isinstance(method, str) else None
        problem = None
        if not isinstance(req_id, (str, int)) or isinstance(req_id, bool):
            problem = f"request id must be a string or an integer, got {req_id!r}"
            req_id = None  # answered all the same, under an id that cannot collide with a real one
        elif handler is None:
            problem = _unknown_method(method, self.methods.names())
        elif not isinstance(params, dict):
            problem = f"params must be an object, got {type(params).__name__}"
        if problem is not None:
            future: Future[Any] = Future()
            future.set_exception(RpcError(problem))
            self._reply(req_id, str(method), future)
            return future
        assert handler is not None
        try:
            future = (self._pool or executor()).submit(_timed, str(method), handler, params)
        except RuntimeError as exc:  # the pool is shut down: the interpreter is exiting
            future = Future()
            future.set_exception(exc)
        future.add_done_callback(lambda done: self._reply(req_id, str(method), done))
        return future

    def _reply(self, req_id: Any, method: str, done: Future[Any]) -> None:
        exc = done.exception()
        if exc is None:
            response = {"type": "response", "id": req_id, "ok": True, "data": done.result()}
            try:
                self._send(response)
                return
            except Exception as error:  # noqa: BLE001 - e.g. data that is not JSON: still answer
                exc = error
        if not isinstance(exc, (RpcError, LookupError, ValueError)):
            logger.debug("llmops_nb: request %s failed", method, exc_info=exc)
        try:
            self._send({"type": "response", "id": req_id, "ok": False, "error": _message(exc),
                        "error_type": type(exc).__name__})
        except Exception as error:  # noqa: BLE001 - the comm is gone: nobody is waiting any more
            logger.debug("llmops_nb: could not answer request %s: %s", method, error)


def attach(widget: Any, methods: Methods) -> RpcServer:
    """Answer the requests sent to ``widget`` (an ipywidget) with ``methods``."""
    server = RpcServer(methods, widget.send)
    widget.on_msg(lambda _widget, content, _buffers: server.handle(content))
    return server


def _timed(method: str, handler: Callable[[dict[str, Any]], Any], params: dict[str, Any]) -> Any:
    start = time.perf_counter()
    try:
        return handler(params)
    finally:
        elapsed = (time.perf_counter() - start) * 1000
        if elapsed > SLOW_MS:
            logger.info("llmops_nb: slow widget request %s(%s) took %.0f ms", method, _brief(params), elapsed)


def _message(exc: BaseException) -> str:
    if isinstance(exc, (RpcError, LookupError, ValueError)):
        text = str(exc.args[0]) if len(exc.args) == 1 else str(exc)
    else:
        text = f"{type(exc).__name__}: {exc}"
    return text[:2000]


def _unknown_method(method: Any, known: list[str]) -> str:
    answers = ", ".join(known) or "nothing"
    return f"unknown method {method!r}.{did_you_mean(method, known)} This view answers: {answers}."


def _brief(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={str(v)[:40]!r}" for k, v in params.items())
