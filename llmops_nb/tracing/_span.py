"""The span: one timed operation, shaped like an OpenTelemetry span.

Ids are random 128-bit (trace) and 64-bit (span) integers, kept as ints on the
hot path and written as lowercase hex like OTLP/JSON. Times are epoch
nanoseconds. Kinds are MLflow's span types; attributes use the OpenTelemetry
GenAI names (``gen_ai.request.model``, ``gen_ai.usage.input_tokens`` …).
"""

from __future__ import annotations

import os
import random
import time
from typing import Any

from .._config import settings
from .._errors import did_you_mean
from . import _record, _serialize, _sink, _tracebacks
from ._context import current_span, started_cell_root


class SpanKind:
    """Span kinds, as MLflow names them (``mlflow.entities.SpanType``)."""

    LLM = "LLM"
    CHAT_MODEL = "CHAT_MODEL"
    CHAIN = "CHAIN"
    AGENT = "AGENT"
    TOOL = "TOOL"
    RETRIEVER = "RETRIEVER"
    EMBEDDING = "EMBEDDING"
    RERANKER = "RERANKER"
    PARSER = "PARSER"
    MEMORY = "MEMORY"
    WORKFLOW = "WORKFLOW"
    TASK = "TASK"
    GUARDRAIL = "GUARDRAIL"
    EVALUATOR = "EVALUATOR"
    UNKNOWN = "UNKNOWN"

    ALL = frozenset(
        {"LLM", "CHAT_MODEL", "CHAIN", "AGENT", "TOOL", "RETRIEVER", "EMBEDDING", "RERANKER", "PARSER",
         "MEMORY", "WORKFLOW", "TASK", "GUARDRAIL", "EVALUATOR", "UNKNOWN"}
    )
    #: kinds counted as LLM calls in trace totals
    LLM_CALLS = frozenset({"LLM", "CHAT_MODEL"})


def check_kind(kind: str) -> str:
    upper = kind.upper() if isinstance(kind, str) else kind
    if upper not in SpanKind.ALL:
        raise ValueError(f"Unknown span kind {kind!r}.{did_you_mean(upper, SpanKind.ALL)} "
                         f"Use one of: {', '.join(sorted(SpanKind.ALL))}.")
    return upper


_rng = random.Random(int.from_bytes(os.urandom(16), "big"))


def _reseed() -> None:
    _rng.seed(int.from_bytes(os.urandom(16), "big"))


if hasattr(os, "register_at_fork"):
    # A forked child must not repeat its parent's ids.
    os.register_at_fork(after_in_child=_reseed)

#: the attribute of a span whose error a child span recorded already: the trace counts it once
PROPAGATED = "llmops_nb.error.propagated"
#: exceptions of a span's failed children kept until it ends, to recognize one passing through
_CHILD_ERRORS_KEPT = 8

_new_bits = _rng.getrandbits
_BASE_BYTES = _record.BASE_BYTES
_now_ns = time.time_ns


class Span:
    """A span being recorded. Create one with ``llmops_nb.span()`` or ``@llmops_nb.trace``.

    Every value is made plain when it is set (inputs and outputs as capped JSON text, attributes
    as JSON-safe copies, messages as strings), so what is recorded is what was passed at that
    moment and nothing downstream ever touches the user's objects. Once ended, further changes
    are ignored: the span has been handed to the sink as a record.
    """

    # Fields every span sets are slots; rarely set ones (events, error, trace_meta, _child_errors) are class
    # defaults that an instance overrides in its __dict__ only when needed, and clear ``_plain``
    # so that ``end()`` knows in one test whether the span needs the general record path.
    __slots__ = (
        "__dict__",
        "_attributes",
        "_ended",
        "_plain",
        "depth",
        "end_ns",
        "inputs",
        "is_root",
        "kind",
        "name",
        "outputs",
        "parent_id_int",
        "span_id_int",
        "start_ns",
        "status",
        "status_message",
        "trace_id_int",
    )
    error: dict[str, str] | None = None
    events: list[tuple[str, int, dict[str, Any] | None]] | None = None
    _trace_meta: dict[str, Any] | None = None
    _child_errors: list[BaseException] | None = None  # see _count_once

    trace_id_int: int
    span_id_int: int
    parent_id_int: int
    depth: int

    def __init__(self, name: str, kind: str, parent: Span | None, attributes: dict[str, Any] | None) -> None:
        if parent is None:
            self.trace_id_int = _new_bits(128) or 1
            self.parent_id_int = 0
            self.is_root = True
            self.depth = 0
        else:
            self.trace_id_int = parent.trace_id_int
            self.parent_id_int = parent.span_id_int
            self.is_root = False
            self.depth = parent.depth + 1
        self.span_id_int = _new_bits(64) or 1
        self.name = name
        self.kind = kind
        # No dict until an attribute is set: most spans never get one, and the allocation shows.
        self._attributes: dict[str, Any] | None = dict(attributes) if attributes else None
        self._ended = False
        self._plain = not attributes
        self.inputs: str | None = None
        self.outputs: str | None = None
        self.status = "OK"
        self.status_message: str | None = None
        self.end_ns = 0
        self.start_ns = _now_ns()

    @property
    def attributes(self) -> dict[str, Any]:
        """The span's attributes (OpenTelemetry GenAI names); prefer ``set_attribute`` to change them."""
        attributes = self._attributes
        if attributes is None:
            attributes = self._attributes = {}
        self._plain = False  # the caller may fill the dict: end() takes the general path
        return attributes

    @property
    def trace_meta(self) -> dict[str, Any] | None:
        """A root's trace-level facts (tags, session, cell provenance), set by the magics."""
        return self._trace_meta

    @trace_meta.setter
    def trace_meta(self, value: dict[str, Any] | None) -> None:
        self._trace_meta = value
        self._plain = False

    # ids as OTLP/JSON writes them
    @property
    def trace_id(self) -> str:
        return f"{self.trace_id_int:032x}"

    @property
    def span_id(self) -> str:
        return f"{self.span_id_int:016x}"

    @property
    def parent_id(self) -> str | None:
        return f"{self.parent_id_int:016x}" if self.parent_id_int else None

    @property
    def ended(self) -> bool:
        return self._ended

    def set_inputs(self, inputs: Any) -> None:
        """Record the span's inputs (serialized now, capped, so later mutation does not change them)."""
        if not self._ended:
            self.inputs = self._capture("inputs", inputs)

    def set_outputs(self, outputs: Any) -> None:
        """Record the span's outputs (serialized now, capped)."""
        if not self._ended:
            self.outputs = self._capture("outputs", outputs)

    def set_attribute(self, key: str, value: Any) -> None:
        """Set one attribute; the value is copied as plain JSON data now (later mutation has no effect)."""
        if not self._ended:
            self.attributes[key if type(key) is str else _serialize.safe_str(key)] = _serialize.plain(
                value, _max_chars())

    def set_attributes(self, attributes: dict[str, Any]) -> None:
        if not self._ended:
            cap = _max_chars()
            for key, value in attributes.items():
                self.attributes[key if type(key) is str else _serialize.safe_str(key)] = _serialize.plain(value, cap)

    def add_event(self, name: str, attributes: dict[str, Any] | None = None, timestamp_ns: int | None = None) -> None:
        if self._ended:
            return
        if self.events is None:
            self.events = []
            self._plain = False
        plain = _serialize.plain(dict(attributes), _max_chars()) if attributes else None
        when = timestamp_ns if type(timestamp_ns) is int else _now_ns()
        self.events.append((_serialize.safe_str(name), when, plain))

    def set_status(self, status: str, message: str | None = None) -> None:
        status = _serialize.safe_str(status).upper()
        if status not in ("OK", "ERROR", "UNSET"):
            raise ValueError(f"Span status must be 'OK' or 'ERROR', got {status!r}.")
        if not self._ended:
            self.status = status
            self.status_message = None if message is None else _serialize.safe_str(message)[:_max_chars()]

    def record_exception(self, exc: BaseException) -> None:
        """Mark the span ERROR with the exception's type, message and traceback (OTel's ``exception`` event)."""
        if self._ended:
            return
        try:
            kind = type(exc)
            exc_type = kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
            message = _safe_str(exc)
            tb = _tracebacks.traceback_text(exc)
        except Exception:  # noqa: BLE001 - an exotic exception must still be recorded
            exc_type, message, tb = "Exception", "<unprintable exception>", ""
        if self.is_root:  # the exception leaves our outermost span: forget it (see traceback_text)
            _tracebacks.forget()
        cap = _max_chars()
        self.status = "ERROR"
        self.status_message = message[:cap]
        self._plain = False
        self.error = {"type": exc_type, "message": message[:cap], "traceback": tb[-cap:]}
        self.add_event("exception", {"exception.type": exc_type, "exception.message": message[:cap]})
        self._count_once(exc)

    def _count_once(self, exc: BaseException) -> None:
        """Mark this error PROPAGATED if a child recorded the same exception; tell the parent about it.

        An exception passing through 3 nested spans is one error, not 3: every span it passes
        through is ERROR with its text, and the trace counts the spans not marked. A failing span's
        parent is the current span right then (the wrappers and ``span()`` reset the context before
        recording), in whatever thread or task the parent runs; a span recorded elsewhere (not under
        its parent) tells nobody, and its parent counts the error again.
        """
        children = self.__dict__.pop("_child_errors", None) if self._child_errors is not None else None
        if children is not None and any(seen is exc for seen in children):
            self.attributes[PROPAGATED] = True
        parent = current_span.get() or started_cell_root()  # the root of an autotraced cell is not current
        if parent is not None and parent.span_id_int == self.parent_id_int and parent.trace_id_int == self.trace_id_int:
            if not isinstance(parent, Span):  # an OTel span standing in as our parent (otel/_context.py)
                return
            # setdefault: children in several threads may fail at once (the key is never None, only absent)
            seen = parent.__dict__.setdefault("_child_errors", [])
            seen.append(exc)
            if len(seen) > _CHILD_ERRORS_KEPT:
                del seen[0]
            parent._plain = False  # so that end() lets go of them (the general path)

    def end(self, end_ns: int | None = None) -> None:
        """Finish the span and hand its record to the sink. Calling it again does nothing."""
        if self._ended:
            return
        self.end_ns = end_ns = end_ns if end_ns and type(end_ns) is int else _now_ns()
        self._ended = True
        if not self._plain:
            if self._child_errors is not None:  # the exceptions (and their frames) need not outlive the span
                self.__dict__.pop("_child_errors", None)
            _sink.emit(_record.from_span(self, settings.max_payload_chars))
            return
        # The common span (a decorated function's call) inlined: this is on every traced call.
        inputs, outputs = self.inputs, self.outputs
        size = _BASE_BYTES
        if inputs is not None:
            size += len(inputs)
        if outputs is not None:
            size += len(outputs)
        # The short record of _record.py: fields TRACE_ID … SIZE, in their order.
        _sink.emit((self.trace_id_int, self.span_id_int, self.parent_id_int, self.name, self.kind, self.start_ns,
                    end_ns, self.status, self.status_message, inputs, outputs, self.is_root, size))

    def _capture(self, field: str, value: Any) -> str:
        text, original = _serialize.to_json(value, _max_chars())
        if original is not None:
            self.attributes.setdefault("llmops_nb.truncated", {})[field] = {
                "original_chars": original, "cap_chars": _max_chars()}
        return text

    def __repr__(self) -> str:
        state = "ended" if self._ended else "open"
        return f"<Span {self.name!r} kind={self.kind} status={self.status} {state} span_id={self.span_id}>"


def _safe_str(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:  # noqa: BLE001
        return f"<{type(exc).__name__}: str() raised>"


def _max_chars() -> int:
    return settings.max_payload_chars
