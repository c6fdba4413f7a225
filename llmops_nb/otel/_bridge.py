"""The in-process bridge: every OTel span that ends in this process becomes one of our span records.

:class:`RecordProcessor` is an OTel ``SpanProcessor``; its ``on_end`` converts the ended
``ReadableSpan`` (``_convert.py``) and hands the record to our sink — a deque append, so the
instrumented thread never waits for the store. :func:`install` puts it where spans are made:

- no SDK tracer provider set yet: ours becomes the global one, with span limits high enough that
  nothing is dropped (the SDK's default of 128 attributes silently lost the first messages and
  ``input.value`` of a 99-message chat);
- an SDK provider already set (Phoenix's ``register()``, the user's own): our processor is added
  to it, its exporters keep working, and whatever its limits drop is counted
  (``llmops_nb.otel.dropped`` on the span, ``dropped_attributes`` in ``status()``).

**No double capture.** When a framework's LLM span (LangChain's ``ChatOpenAI``, a LlamaIndex or
LiteLLM call) wraps an SDK call that our own openai/anthropic capture records, both would count the
call. The framework's span is then kept as a ``CHAIN`` around our ``CHAT_MODEL`` span, its token
columns left empty (its attributes still hold them) — when our SDK span was recorded right under it
(``_llm_count.py``); a framework that reaches the API past the SDK methods we capture
(LiteLLM) keeps its LLM span and its count. The same holds between frameworks: DSPy's ``LM.__call__``
with LiteLLM's ``completion`` right under it becomes the CHAIN, and ``completion`` (with the tokens) counts.
Spans of the OpenInference/OTel openai and anthropic instrumentors themselves are skipped (counted)
while our capture of that SDK is on.
"""

from __future__ import annotations

import threading
from typing import Any

from opentelemetry import trace as otel_trace
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, SpanProcessor, Tracer, TracerProvider

from .._config import settings
from .._safety import log_once
from ..tracing import _context as our_context
from ..tracing import _sink
from . import _context
from ._convert import BadSpanError, OtelSpan, plain_value, to_record
from ._llm_count import count_once

#: generous, not unlimited: a runaway loop adding attributes still ends somewhere
LIMITS = dict(max_span_attributes=100_000, max_events=10_000, max_links=10_000, max_event_attributes=10_000,
              max_link_attributes=10_000, max_attributes=100_000)
_SDK_SCOPES = {  # instrumentation scopes that record the same SDK calls our own capture records
    "openinference.instrumentation.openai": "openai", "opentelemetry.instrumentation.openai_v2": "openai",
    "opentelemetry.instrumentation.openai": "openai", "openinference.instrumentation.anthropic": "anthropic",
    "opentelemetry.instrumentation.anthropic": "anthropic",
    # the anthropic SDK (2.x) traces its own calls once a global OTel provider exists — ours is one;
    # its platform clients add a suffix ("com.anthropic.sdk.python.bedrock")
    "com.anthropic.sdk.python": "anthropic",
}


def _sdk_of(scope: str) -> str | None:
    if scope in _SDK_SCOPES:
        return _SDK_SCOPES[scope]
    head = scope.rsplit(".", 1)[0]
    return _SDK_SCOPES.get(head) if head == "com.anthropic.sdk.python" else None

stats: dict[str, Any] = {"spans": 0, "dropped_attributes": 0, "dropped_events": 0, "dropped_links": 0,
                         "skipped_duplicate_sdk_spans": 0, "rejected": {}}
_lock = threading.Lock()
_state: dict[str, Any] = {"provider": None, "processor": None, "owned": False}


def from_readable(span: ReadableSpan) -> OtelSpan:
    """An SDK span as an :class:`OtelSpan` (attribute values made plain)."""
    context = span.get_span_context()
    parent = span.parent
    resource = span.resource.attributes if span.resource is not None else {}
    scope = span.instrumentation_scope
    assert context is not None  # an ended SDK span always has its context
    return OtelSpan(
        context.trace_id, context.span_id, parent.span_id if parent is not None else 0, span.name,
        kind=span.kind.value + 1,  # the API's enum starts at INTERNAL=0, OTLP's at UNSPECIFIED=0
        start_ns=span.start_time or 0, end_ns=span.end_time or 0,
        status_code=span.status.status_code.value, status_message=span.status.description,
        attributes={key: plain_value(value) for key, value in (span.attributes or {}).items()},
        events=[(event.name, event.timestamp, {k: plain_value(v) for k, v in (event.attributes or {}).items()})
                for event in span.events],
        links=[{"trace_id": f"{link.context.trace_id:032x}", "span_id": f"{link.context.span_id:016x}",
                "attributes": {k: plain_value(v) for k, v in (link.attributes or {}).items()}} for link in span.links],
        resource={"service.name": resource.get("service.name")} if resource.get("service.name") else None,
        scope=scope.name if scope is not None else None,
        dropped={"attributes": span.dropped_attributes, "events": span.dropped_events, "links": span.dropped_links},
    )


def sdk_captured(sdk: str) -> bool:
    """True when our own capture records calls of ``sdk`` ('openai' or 'anthropic')."""
    try:
        from ..integrations._originals import is_patched

        return is_patched(sdk)
    except Exception as exc:  # noqa: BLE001 - integrations being reorganized must not break the bridge
        log_once("otel.sdk_captured", exc)
        return False


class RecordProcessor(SpanProcessor):
    """Hands every ended OTel span to our sink as a record (see the module doc)."""

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        pass

    def on_end(self, span: ReadableSpan) -> None:
        try:
            scope = span.instrumentation_scope.name if span.instrumentation_scope is not None else ""
            sdk = _sdk_of(scope)
            if sdk is not None and sdk_captured(sdk):
                stats["skipped_duplicate_sdk_spans"] += 1
                return
            plain = from_readable(span)
            record = to_record(plain, settings.max_payload_chars)
            record = count_once(record, plain.span_id, plain.parent_id)
            for name in ("attributes", "events", "links"):
                if plain.dropped.get(name):
                    stats[f"dropped_{name}"] += plain.dropped[name]
            stats["spans"] += 1
            _sink.emit(record)
        except BadSpanError as exc:
            count_rejection(str(exc))
        except Exception as exc:  # noqa: BLE001 - an instrumented call must never fail because of us
            log_once("otel.bridge", exc)

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return _sink.flush(timeout_millis / 1000)


def count_rejection(reason: str, count: int = 1) -> None:
    with _lock:
        rejected = stats["rejected"]
        rejected[reason] = rejected.get(reason, 0) + count


class _Tracer(Tracer):
    """The SDK tracer, except that a root span in a %llm_autotrace cell first opens the cell's trace."""

    def start_span(self, name: str, context: Any = None, *args: Any, **kwargs: Any) -> Any:
        if context is None and our_context.current_span.get() is None:
            holder = our_context._cell_root[0]
            if holder is not None and getattr(holder, "root", True) is None:
                try:
                    our_context.cell_root_span()  # materializes the lazy root: the span below joins it
                except Exception as exc:  # noqa: BLE001
                    log_once("otel.autotrace_root", exc)
        return super().start_span(name, context, *args, **kwargs)


class BridgeTracerProvider(TracerProvider):
    """An SDK provider with generous span limits whose tracers open %llm_autotrace cells' traces."""

    def get_tracer(self, *args: Any, **kwargs: Any) -> Any:
        tracer = super().get_tracer(*args, **kwargs)
        if type(tracer) is Tracer:
            tracer.__class__ = _Tracer  # same object and state, one more step in start_span
        return tracer


def install() -> TracerProvider:
    """Route this process's OTel spans into the store (idempotent); returns the provider spans go through.

    >>> import llmops_nb.otel
    >>> provider = llmops_nb.otel.install()   # doctest: +SKIP
    """
    _context.install()
    with _lock:
        if _state["provider"] is not None:
            return _state["provider"]
        current = otel_trace.get_tracer_provider()
        processor = RecordProcessor()
        if isinstance(current, TracerProvider):
            current.add_span_processor(processor)
            provider, owned = current, False
        else:
            provider = BridgeTracerProvider(span_limits=SpanLimits(**LIMITS))
            provider.add_span_processor(processor)
            if type(current) is otel_trace.ProxyTracerProvider:
                otel_trace.set_tracer_provider(provider)
            # Another thread may have set a provider first, or a non-SDK one is set: then ours serves
            # the instrumentors we enable ourselves (they take a provider), and that one is left alone.
            owned = otel_trace.get_tracer_provider() is provider
        _state.update(provider=provider, processor=processor, owned=owned)
        return provider


def provider() -> TracerProvider | None:
    """The provider our processor is attached to (None before :func:`install`)."""
    return _state["provider"]


def status() -> dict[str, Any]:
    return {"installed": _state["provider"] is not None, "context_bridged": _context.installed(),
            "own_provider": bool(_state["owned"]), **{k: (dict(v) if isinstance(v, dict) else v)
                                                      for k, v in stats.items()}}


__all__ = ["BridgeTracerProvider", "RecordProcessor", "count_rejection", "install", "provider", "status"]
