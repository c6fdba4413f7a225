"""The manual tracing API: ``@trace``, ``span()``, and the internal ``start_span``/``use_span``.

Every entry point follows one rule: if *our* code fails, the failure is logged
once and the user's function runs exactly as it would untraced; if *their*
code fails, the span records the error and the very same exception propagates.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Callable, Iterator
from typing import Any, TypeVar, overload

from .._config import settings
from .._safety import log_once
from . import _context, _recursion
from ._context import cell_root_span, current_span, get_current_span
from ._recursion import DEEP
from ._serialize import plain, safe_str
from ._span import Span, check_kind
from ._tracebacks import drop_our_frames

F = TypeVar("F", bound=Callable[..., Any])
_MAX_YIELDS_KEPT = 1000


def start_span(name: str, kind: str = "UNKNOWN", attributes: dict[str, Any] | None = None,
               parent: Span | bool | None = True) -> Span:
    """Start a span without making it current; ``parent=True`` means the current span."""
    return Span(safe_str(name), kind, get_current_span() if parent is True else parent or None,
                plain_attributes(attributes))


def plain_attributes(attributes: dict[str, Any] | None) -> dict[str, Any] | None:
    """Attributes given when a span starts, made plain like ``Span.set_attribute`` does."""
    if not attributes:
        return None
    return {key if type(key) is str else safe_str(key): plain(value, settings.max_payload_chars)
            for key, value in attributes.items()}


def trace_labels(tags: Any, session: Any, where: str) -> dict[str, Any] | None:
    """``tags``/``session`` checked once, where they are given: the trace_meta a root span gets."""
    if tags is None and session is None:
        return None
    if tags is not None and (not isinstance(tags, dict) or not all(isinstance(k, str) and k for k in tags)):
        raise TypeError(f"{where}: tags is a dict of names to values, e.g. tags={{'app': 'served'}}; got {tags!r}.")
    if session is not None and not isinstance(session, str):
        raise TypeError(f"{where}: session is a string (a conversation or user session id); got {session!r}.")
    return {"tags": {key: str(value) for key, value in (tags or {}).items()}, "session": session}


def label_trace(span: Span, meta: dict[str, Any]) -> None:
    """Label the trace ``span`` starts; inside another trace, keep the labels on the span itself."""
    if span.is_root:
        span.trace_meta = {"tags": dict(meta["tags"]), "session": meta["session"]}
        return
    if meta["tags"]:
        span.set_attribute("llmops_nb.tags", dict(meta["tags"]))
    if meta["session"] is not None:
        span.set_attribute("llmops_nb.session", meta["session"])


@contextlib.contextmanager
def use_span(span: Span) -> Iterator[Span]:
    """Make ``span`` the parent of spans started inside the block (does not end it)."""
    token = current_span.set(span)
    try:
        yield span
    finally:
        current_span.reset(token)


class span:  # noqa: N801 - reads like a function at the call site: ``with llmops_nb.span(...)``
    """Trace a block of code as one span.

    >>> import llmops_nb
    >>> with llmops_nb.span("retrieve", kind="RETRIEVER") as s:   # doctest: +SKIP
    ...     s.set_inputs({"query": "capital of France"})
    ...     s.set_outputs([{"id": "doc-1", "score": 0.9}])

    Works with ``async with`` too. An exception inside the block marks the span
    ERROR and propagates unchanged. ``tags``/``session``: as for ``@trace``.
    """

    __slots__ = ("_attributes", "_kind", "_meta", "_name", "_span", "_token")

    def __init__(self, name: str, kind: str = "UNKNOWN", attributes: dict[str, Any] | None = None, *,
                 tags: dict[str, str] | None = None, session: str | None = None) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"span() needs a non-empty name string, got {name!r}.")
        if not _context.installed:
            _context.install_thread_propagation()
        self._name = name
        self._kind = check_kind(kind)
        self._attributes = plain_attributes(attributes)
        self._meta = trace_labels(tags, session, "span()")
        self._span: Span | None = None
        self._token: Any = None

    def __enter__(self) -> Span:
        try:
            self._span = Span(self._name, self._kind, get_current_span(), self._attributes)
            if self._meta is not None:
                label_trace(self._span, self._meta)
            self._token = current_span.set(self._span)
        except Exception as exc:  # noqa: BLE001
            log_once("span.enter", exc)
            # A detached span keeps `s.set_inputs(...)` in the user's block working.
            self._span = Span(self._name, self._kind, None, None)
            self._span._ended = True
        return self._span

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        opened = self._span
        if opened is None or self._token is None:
            return
        try:
            current_span.reset(self._token)
            if exc is not None:
                opened.record_exception(exc)
            opened.end()
        except Exception as error:  # noqa: BLE001
            log_once("span.exit", error)

    async def __aenter__(self) -> Span:
        return self.__enter__()

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        self.__exit__(exc_type, exc, tb)


@overload
def trace(func: F, /) -> F: ...
@overload
def trace(*, name: str | None = None, kind: str = "UNKNOWN", attributes: dict[str, Any] | None = None,
          capture_inputs: bool = True, capture_outputs: bool = True, tags: dict[str, str] | None = None,
          session: str | None = None) -> Callable[[F], F]: ...


def trace(func: Any = None, /, *, name: str | None = None, kind: str = "UNKNOWN",
          attributes: dict[str, Any] | None = None, capture_inputs: bool = True,
          capture_outputs: bool = True, tags: dict[str, str] | None = None, session: str | None = None) -> Any:
    """Trace every call of a function as a span: sync, async, generator or async generator.

    >>> import llmops_nb
    >>> @llmops_nb.trace(kind="TOOL")
    ... def add(a, b):
    ...     return a + b
    >>> add(1, 2)
    3

    Inputs are the call's arguments by parameter name (``self``/``cls`` left
    out); outputs are the return value, or the yielded items of a generator.
    ``tags`` and ``session`` label the trace a call starts, as ``%%llm_trace --tag``/``--session``
    do (``traces(tag="app=served")``); a call inside another trace keeps them as the span's
    ``llmops_nb.tags``/``llmops_nb.session`` attributes, the trace's labels being its root's.
    """
    kind = check_kind(kind)
    meta = trace_labels(tags, session, "@trace")
    if name is not None and not isinstance(name, str):
        raise TypeError(f"@trace(name=...) needs a string, got {name!r}.")
    if not _context.installed:
        _context.install_thread_propagation()

    def decorate(fn: Any) -> Any:
        if not callable(fn) and not isinstance(fn, (staticmethod, classmethod)):
            raise TypeError(f"@trace decorates functions and methods, got {type(fn).__name__}.")
        target = fn.__func__ if isinstance(fn, (staticmethod, classmethod)) else fn
        default = getattr(target, "__qualname__", None) or getattr(target, "__name__", None) or repr(target)
        plan = _Plan(target, name or default.rsplit("<locals>.", 1)[-1], kind,
                     plain_attributes(attributes), capture_inputs=capture_inputs, capture_outputs=capture_outputs,
                     meta=meta)
        if inspect.isasyncgenfunction(target):
            wrapper = _wrap_async_gen(target, plan)
        elif inspect.isgeneratorfunction(target):
            wrapper = _wrap_gen(target, plan)
        elif inspect.iscoroutinefunction(target):
            wrapper = _wrap_async(target, plan)
        else:
            wrapper = _wrap_sync(target, plan)
        functools.update_wrapper(wrapper, target)
        if isinstance(fn, staticmethod):
            return staticmethod(wrapper)
        if isinstance(fn, classmethod):
            return classmethod(wrapper)
        return wrapper

    return decorate(func) if func is not None else decorate


class _Plan:
    """What a decorated function records, worked out once at decoration time."""

    __slots__ = (
        "attributes",
        "capture_inputs",
        "capture_outputs",
        "kind",
        "meta",
        "name",
        "names",
        "signature",
        "simple",
        "skip_first",
        "var_keyword",
    )

    def __init__(self, fn: Any, name: str, kind: str, attributes: dict[str, Any] | None, *,
                 capture_inputs: bool, capture_outputs: bool, meta: dict[str, Any] | None = None) -> None:
        self.name, self.kind, self.attributes, self.meta = name, kind, attributes, meta
        self.capture_inputs, self.capture_outputs = capture_inputs, capture_outputs
        try:
            self.signature: inspect.Signature | None = inspect.signature(fn)
            params = list(self.signature.parameters.values())
        except (TypeError, ValueError):
            self.signature, params = None, []
        self.names = tuple(p.name for p in params)
        self.skip_first = bool(params) and params[0].name in ("self", "cls")
        self.simple = all(p.kind is p.POSITIONAL_OR_KEYWORD for p in params)
        self.var_keyword = next((p.name for p in params if p.kind is p.VAR_KEYWORD), None)

    def begin(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Span:
        span = Span(self.name, self.kind, get_current_span(), self.attributes)
        if self.meta is not None:
            label_trace(span, self.meta)
        if self.capture_inputs and (args or kwargs):
            span.set_inputs(self.bind(args, kwargs))
        return span

    def bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        if self.simple and len(args) <= len(self.names):
            bound = dict(zip(self.names, args, strict=False))
            bound.update(kwargs)
        elif self.signature is not None:
            try:
                bound = dict(self.signature.bind_partial(*args, **kwargs).arguments)
                if self.var_keyword in bound:  # **kwargs read better flattened
                    extra = bound.pop(self.var_keyword)
                    bound.update({k: v for k, v in extra.items() if k not in bound})
            except TypeError:
                bound = {"args": list(args), "kwargs": kwargs}
        else:
            bound = {"args": list(args), "kwargs": kwargs}
        if self.skip_first and self.names:
            bound.pop(self.names[0], None)
        return bound


def _finish(span: Span, token: Any, outputs: Any, plan: _Plan, keep: bool = True) -> None:
    try:
        current_span.reset(token) if token is not None else None
        if keep and plan.capture_outputs:
            span.set_outputs(outputs)
        span.end()
    except Exception as exc:  # noqa: BLE001
        log_once("trace.finish", exc)


def _fail(span: Span, token: Any, exc: BaseException) -> None:
    """Record the user's exception on the span and end it, before the wrapper re-raises it without our frame."""
    drop_our_frames(exc)
    try:
        current_span.reset(token) if token is not None else None
        span.record_exception(exc)
        span.end()
    except Exception as error:  # noqa: BLE001
        log_once("trace.fail", error)


def _wrap_sync(fn: Any, plan: _Plan) -> Any:
    # The hottest path in the package: everything is bound to locals and inlined,
    # since each extra Python call costs about as much as the whole floor recorder.
    name, kind, attributes, meta = plan.name, plan.kind, plan.attributes, plan.meta
    capture_inputs, capture_outputs = plan.capture_inputs, plan.capture_outputs
    get_parent, set_current, reset_current = current_span.get, current_span.set, current_span.reset
    cell_root = _context._cell_root

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            span = Span(name, kind, get_parent() or (cell_root[0] and cell_root_span()), attributes)
            if meta is not None:
                label_trace(span, meta)
            if capture_inputs and (args or kwargs):
                span.set_inputs(plan.bind(args, kwargs))
            token = set_current(span)
        except Exception as exc:  # noqa: BLE001
            log_once("trace.begin", exc)
            token = None  # the call runs untraced below, outside this handler, so its errors do not chain to ours
        if token is None:
            try:
                return fn(*args, **kwargs)
            except BaseException as exc:
                drop_our_frames(exc)
                raise
        deep = span.depth > DEEP
        if deep:  # deep recursion: keep the headroom it has untraced (see _recursion.py)
            _recursion.reserve(span.depth)
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            if deep:
                _recursion.release()
            _fail(span, token, exc)
            raise
        if deep:
            _recursion.release()
        try:
            reset_current(token)
            if capture_outputs:
                span.outputs = "null" if result is None else span._capture("outputs", result)
            span.end()
        except Exception as exc:  # noqa: BLE001
            log_once("trace.finish", exc)
        return result

    return wrapper


def _wrap_async(fn: Any, plan: _Plan) -> Any:
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            span = plan.begin(args, kwargs)
            token = current_span.set(span)
        except Exception as exc:  # noqa: BLE001
            log_once("trace.begin", exc)
            token = None  # untraced below, outside this handler (see _wrap_sync)
        if token is None:
            try:
                return await fn(*args, **kwargs)
            except BaseException as exc:
                drop_our_frames(exc)
                raise
        try:
            result = await fn(*args, **kwargs)
        except BaseException as exc:
            _fail(span, token, exc)
            raise
        _finish(span, token, result, plan)
        return result

    return wrapper


class _Yields:
    """The items a traced generator yielded, kept up to a bound."""

    __slots__ = ("count", "items")

    def __init__(self) -> None:
        self.items: list[Any] = []
        self.count = 0

    def add(self, item: Any) -> None:
        self.count += 1
        if len(self.items) < _MAX_YIELDS_KEPT:
            self.items.append(item)

    def outputs(self) -> Any:
        if self.count > len(self.items):
            return {"yielded": self.items, "note": f"first {len(self.items)} of {self.count} items kept"}
        return self.items


def _wrap_gen(fn: Any, plan: _Plan) -> Any:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            span = plan.begin(args, kwargs)
        except Exception as exc:  # noqa: BLE001
            log_once("trace.begin", exc)
            span = None  # untraced below, outside this handler (see _wrap_sync)
        if span is None:
            try:
                return (yield from fn(*args, **kwargs))
            except BaseException as exc:
                drop_our_frames(exc)
                raise
        yields = _Yields()
        try:
            token = current_span.set(span)
            try:
                gen = fn(*args, **kwargs)
            finally:
                current_span.reset(token)
            step, value = gen.send, None
            while True:
                token = current_span.set(span)
                try:
                    item = step(value)
                finally:
                    current_span.reset(token)
                yields.add(item)
                try:
                    value = yield item
                    step = gen.send
                except GeneratorExit:
                    gen.close()
                    span.set_attribute("llmops_nb.generator.closed_early", True)
                    raise
                except BaseException as exc:  # noqa: BLE001 - thrown in by the consumer: pass it on
                    drop_our_frames(exc)  # it was raised at our `yield`: the generator's own comes next
                    step, value = gen.throw, exc
        except StopIteration as stop:
            _finish(span, None, yields.outputs(), plan)
            return stop.value
        except GeneratorExit:
            _finish(span, None, yields.outputs(), plan)
            raise
        except BaseException as exc:
            _fail(span, None, exc)
            raise

    return wrapper


def _wrap_async_gen(fn: Any, plan: _Plan) -> Any:
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            span = plan.begin(args, kwargs)
        except Exception as exc:  # noqa: BLE001
            log_once("trace.begin", exc)
            span = None  # untraced below, outside this handler (see _wrap_sync)
        if span is None:
            try:
                async for item in fn(*args, **kwargs):
                    yield item
            except BaseException as exc:
                drop_our_frames(exc)
                raise
            return
        yields = _Yields()
        try:
            token = current_span.set(span)
            try:
                agen = fn(*args, **kwargs)
            finally:
                current_span.reset(token)
            step, value = agen.asend, None
            while True:
                token = current_span.set(span)
                try:
                    item = await step(value)
                finally:
                    current_span.reset(token)
                yields.add(item)
                try:
                    value = yield item
                    step = agen.asend
                except GeneratorExit:
                    await agen.aclose()
                    span.set_attribute("llmops_nb.generator.closed_early", True)
                    raise
                except BaseException as exc:  # noqa: BLE001
                    drop_our_frames(exc)
                    step, value = agen.athrow, exc
        except StopAsyncIteration:
            _finish(span, None, yields.outputs(), plan)
        except GeneratorExit:
            _finish(span, None, yields.outputs(), plan)
            raise
        except BaseException as exc:
            _fail(span, None, exc)
            raise

    return wrapper
