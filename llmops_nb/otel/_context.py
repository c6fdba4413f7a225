"""One current span for both worlds: OTel spans nest under ours, ours under OTel's.

Our spans keep the current span in a contextvar (``tracing/_context.current_span``), OTel keeps its
own (the runtime context). Both are contextvars, so asyncio tasks and our ThreadPoolExecutor hook
carry them alike; what is needed is that each side *sees* the other's current span:

- **OTel → ours**: OTel offers one hook for observing context changes, the runtime context object
  (chosen by ``OTEL_PYTHON_CONTEXT`` when ``opentelemetry.context`` is imported, so too early for
  us to pick). :func:`install` wraps that object: each ``attach`` of a context holding a span also
  makes a :class:`ForeignParent` of that span our current span (and ``detach`` undoes it), so a
  ``@llmops_nb.trace`` function called under an OTel span becomes its child.
- **ours → OTel**: the wrapper's ``get_current`` adds our current span (as a non-recording span
  with our ids) to the context OTel reads, when ours is the innermost — which it is whenever it
  is not a ``ForeignParent``, since every OTel attach replaces ours. An OTel span started inside a
  ``%%llm_trace`` cell or a ``@trace`` function therefore gets our trace id and our span as parent.

Frameworks that never attach their spans to the context (LangChain's callback tracer) are bridged
by :mod:`._frameworks`, which sets a ``ForeignParent`` where the framework runs user code.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace as otel_trace
from opentelemetry.context.context import Context, _RuntimeContext
from opentelemetry.trace.propagation import _SPAN_KEY

from ..tracing import _context
from ._llm_count import note_llm_call_under

_lock = threading.Lock()


class ForeignParent:
    """An OTel span standing in our context as the parent of our spans (``Span`` reads its ids and depth).

    The methods users call on ``llmops_nb.get_current_span()`` work on it too, and write to the
    OTel span (values as OTel attribute types: JSON text for anything structured).
    """

    __slots__ = ("depth", "is_root", "otel_span", "span_id_int", "trace_id_int")

    def __init__(self, otel_span: Any, depth: int = 0) -> None:
        context = otel_span.get_span_context()
        self.otel_span = otel_span
        self.trace_id_int = context.trace_id
        self.span_id_int = context.span_id
        self.depth = depth
        self.is_root = False

    @property
    def trace_id(self) -> str:
        return f"{self.trace_id_int:032x}"

    @property
    def span_id(self) -> str:
        return f"{self.span_id_int:016x}"

    @property
    def name(self) -> str:
        return str(getattr(self.otel_span, "name", ""))

    @property
    def ended(self) -> bool:
        return not self.otel_span.is_recording()

    @property
    def attributes(self) -> dict[str, Any]:
        """A copy: change attributes with ``set_attribute``."""
        given = getattr(self.otel_span, "attributes", None) or {}
        return {key: _json_or_value(value) for key, value in given.items()}

    def set_attribute(self, key: str, value: Any) -> None:
        self.otel_span.set_attribute(str(key), otel_value(value))

    def set_attributes(self, attributes: dict[str, Any]) -> None:
        for key, value in attributes.items():
            self.set_attribute(key, value)

    def set_inputs(self, inputs: Any) -> None:
        self.otel_span.set_attributes({"input.value": otel_value(inputs), "input.mime_type": "application/json"})

    def set_outputs(self, outputs: Any) -> None:
        self.otel_span.set_attributes({"output.value": otel_value(outputs), "output.mime_type": "application/json"})

    def add_event(self, name: str, attributes: dict[str, Any] | None = None, timestamp_ns: int | None = None) -> None:
        plain = {str(k): otel_value(v) for k, v in (attributes or {}).items()}
        self.otel_span.add_event(str(name), plain, timestamp_ns)

    def set_status(self, status: str, message: str | None = None) -> None:
        code = otel_trace.StatusCode.ERROR if str(status).upper() == "ERROR" else otel_trace.StatusCode.OK
        self.otel_span.set_status(otel_trace.Status(code, message))

    def record_exception(self, exc: BaseException) -> None:
        self.otel_span.record_exception(exc)
        self.set_status("ERROR", str(exc))

    def note_sdk_call(self) -> None:
        """Our SDK capture records a call right under this OTel span (``integrations/_call.py``)."""
        note_llm_call_under(self.span_id_int)

    def __repr__(self) -> str:
        return f"<ForeignParent OTel span {self.name!r} span_id={self.span_id}>"


def otel_value(value: Any) -> Any:
    """A value OTel accepts as an attribute: scalars as they are, homogeneous scalar lists, else JSON text."""
    if isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (list, tuple)) and value and all(type(v) is type(value[0]) for v in value) \
            and isinstance(value[0], (str, bool, int, float)):
        return list(value)
    from ..tracing._serialize import to_json

    return to_json(value, 200_000)[0]


def _json_or_value(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return list(value) if isinstance(value, tuple) else value


class _Shadow(otel_trace.NonRecordingSpan):
    """Our span as OTel sees it: our ids, nothing recorded (our span records itself)."""

    def __init__(self, ours: Any) -> None:
        super().__init__(otel_trace.SpanContext(ours.trace_id_int, ours.span_id_int, is_remote=False,
                                                trace_flags=otel_trace.TraceFlags(otel_trace.TraceFlags.SAMPLED)))
        self.ours = ours


def shadow_of(ours: Any) -> _Shadow:
    """The OTel view of one of our spans, made once per span."""
    held = ours.__dict__.get("_otel_shadow") if hasattr(ours, "__dict__") else None
    if held is None:
        held = _Shadow(ours)
        if hasattr(ours, "__dict__"):
            ours.__dict__["_otel_shadow"] = held
    return held


class _TokenVar:
    """``token.var`` of our tokens, for code that resets OTel's context itself (``token.var.reset(token)``,
    as the LlamaIndex instrumentor does) rather than through ``context.detach``: without it that
    code failed on our token, its span never ended and our current span stayed set."""

    @staticmethod
    def reset(token: _Token) -> None:
        try:
            _context.current_span.reset(token.ours)
        except ValueError:  # reset in another context than set: the caller expects the inner one's error
            pass
        token.inner.var.reset(token.inner)


class _Token:
    __slots__ = ("inner", "ours")
    var = _TokenVar()

    def __init__(self, inner: Any, ours: Any) -> None:
        self.inner, self.ours = inner, ours

    @property
    def old_value(self) -> Any:  # the rest of a contextvars.Token's face
        return self.inner.old_value


def _open_cell_root() -> Any:
    holder = _context._cell_root[0]
    return None if holder is None else getattr(holder, "root", holder)  # %llm_autotrace's root is lazy


class BridgedRuntimeContext(_RuntimeContext):
    """OTel's runtime context, wrapped so that our current span and OTel's are one (see the module doc)."""

    def __init__(self, inner: _RuntimeContext) -> None:
        self.inner = inner

    def attach(self, context: Context) -> Any:
        token = self.inner.attach(context)
        span = context.get(_SPAN_KEY)
        if isinstance(span, _Shadow):
            ours = span.ours
        elif span is not None and span.get_span_context().is_valid:  # type: ignore[attr-defined]
            previous = _context.current_span.get()
            ours = ForeignParent(span, previous.depth + 1 if previous is not None else 0)
        else:
            ours = None
        return _Token(token, _context.current_span.set(ours))

    def detach(self, token: Any) -> None:
        if not isinstance(token, _Token):  # attached before we were installed
            self.inner.detach(token)
            return
        try:
            _context.current_span.reset(token.ours)
        except ValueError:  # detached in another context than attached: OTel logs that itself below
            pass
        self.inner.detach(token.inner)

    def get_current(self) -> Context:
        context = self.inner.get_current()
        ours = _context.current_span.get()
        span = context.get(_SPAN_KEY)
        if ours is None:
            if span is not None and span.get_span_context().is_valid:  # type: ignore[attr-defined]
                return context
            ours = _open_cell_root()  # a raw thread in a traced cell
            if ours is None:
                return context
        target = ours.otel_span if type(ours) is ForeignParent else shadow_of(ours)
        if span is target:
            return context
        # Ours is the innermost span (or OTel's own context did not follow into this thread).
        return Context({**context, _SPAN_KEY: target})


def install() -> None:
    """Wrap OTel's runtime context (idempotent)."""
    with _lock:
        current = otel_context._RUNTIME_CONTEXT
        if not isinstance(current, BridgedRuntimeContext):
            otel_context._RUNTIME_CONTEXT = BridgedRuntimeContext(current)
    if not _context.installed:
        _context.install_thread_propagation()


def uninstall() -> None:
    with _lock:
        current = otel_context._RUNTIME_CONTEXT
        if isinstance(current, BridgedRuntimeContext):
            otel_context._RUNTIME_CONTEXT = current.inner


def installed() -> bool:
    return isinstance(otel_context._RUNTIME_CONTEXT, BridgedRuntimeContext)
