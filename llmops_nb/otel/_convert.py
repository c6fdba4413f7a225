"""One OTel span, however it arrived, as one of our span records (``tracing/_record.py``).

The bridge (an SDK ``ReadableSpan``), the receiver (OTLP protobuf or JSON) and file import all
first build an :class:`OtelSpan` — ids as ints, times as ns, attributes as plain Python values —
and then call :func:`to_record`. So the checks on bad input live here, once:

- ids: a zero or out-of-range trace or span id cannot be stored: :func:`to_record` raises
  :class:`BadSpanError` naming it (the receiver counts it as a rejection with that reason);
- times: zero, negative or past-int64 times, and an end before the start, are replaced by the
  nearest sane value and the originals kept in ``llmops_nb.otel.fixed_times``;
- values: bytes that are not UTF-8 are decoded with replacement characters; every payload and the
  attributes JSON are capped at ``max_payload_chars`` like our own spans (``llmops_nb.truncated``).
"""

from __future__ import annotations

import math
import time
from typing import Any

from ..tracing import _record, _serialize
from ._mapping import map_attributes

_INT64 = 2**63
_STATUS = {2: "ERROR"}  # OTel: 0 UNSET, 1 OK, 2 ERROR; UNSET means "no error" and reads as OK
_OTEL_KINDS = {2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}  # 0/1 (unspecified, internal) are the norm


class BadSpanError(ValueError):
    """A span that cannot be stored (its reason is the message)."""


class OtelSpan:
    """An OTel span in plain Python values, the common form before :func:`to_record`."""

    __slots__ = ("attributes", "dropped", "end_ns", "events", "kind", "links", "name", "parent_id", "resource",
                 "scope", "span_id", "start_ns", "status_code", "status_message", "trace_id")

    def __init__(self, trace_id: int, span_id: int, parent_id: int, name: str, *, kind: int = 1,
                 start_ns: int = 0, end_ns: int = 0, status_code: int = 0, status_message: str | None = None,
                 attributes: dict[str, Any] | None = None,
                 events: list[tuple[str, int, dict[str, Any]]] | None = None,
                 links: list[dict[str, Any]] | None = None, resource: dict[str, Any] | None = None,
                 scope: str | None = None, dropped: dict[str, int] | None = None) -> None:
        self.trace_id, self.span_id, self.parent_id, self.name = trace_id, span_id, parent_id, name
        self.kind, self.start_ns, self.end_ns = kind, start_ns, end_ns
        self.status_code, self.status_message = status_code, status_message
        self.attributes = attributes or {}
        self.events = events or []
        self.links = links or []
        self.resource = resource or {}
        self.scope = scope
        self.dropped = dropped or {}


def plain_value(value: Any) -> Any:
    """An OTel attribute value as JSON-ready Python: tuples → lists, bytes → text, non-finite floats → text."""
    kind = type(value)
    if kind is str or kind is bool or kind is int or value is None:
        return value
    if kind is float:
        return value if math.isfinite(value) else str(value)
    if kind is bytes or kind is bytearray:
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, (list, tuple)):
        return [plain_value(item) for item in value]
    if isinstance(value, dict):
        return {str(k): plain_value(v) for k, v in value.items()}
    return _serialize.safe_str(value)


def to_record(span: OtelSpan, cap: int) -> tuple[Any, ...]:
    """The full record of one OTel span; raises :class:`BadSpanError` for ids that cannot be stored."""
    for label, value, bits in (("trace id", span.trace_id, 128), ("span id", span.span_id, 64)):
        if not isinstance(value, int) or not 0 < value < 2**bits:
            raise BadSpanError(f"invalid {label}")
    parent = span.parent_id if isinstance(span.parent_id, int) and 0 < span.parent_id < 2**64 else 0
    mapped = map_attributes(span.attributes)
    attrs = mapped.attributes
    start, end = _times(span, attrs)
    service = span.resource.get("service.name")
    if service is not None and not str(service).startswith("unknown_service"):  # the SDK's placeholder
        attrs.setdefault("service.name", service)
    if span.scope:
        attrs.setdefault("otel.scope.name", span.scope)
    if span.kind in _OTEL_KINDS:
        attrs.setdefault("otel.span_kind", _OTEL_KINDS[span.kind])
    if span.links:
        attrs["otel.links"] = span.links
    dropped = {k: v for k, v in span.dropped.items() if v}
    if dropped:
        attrs["llmops_nb.otel.dropped"] = dropped
    inputs = _payload(mapped.stored_inputs, mapped.inputs, "inputs", attrs, cap)
    outputs = _payload(mapped.stored_outputs, mapped.outputs, "outputs", attrs, cap)
    status = _STATUS.get(span.status_code, "OK")
    message = span.status_message[:cap] if span.status_message else None
    error = _error(span.events, status, message, cap)
    attributes_json = _serialize.to_json(attrs, cap)[0] if attrs else None
    events_json = _events_json(span.events, cap) if span.events else None
    size = _record.BASE_BYTES
    for text in (inputs, outputs, attributes_json, events_json, error):
        if text is not None:
            size += len(text)
    name = span.name if type(span.name) is str and span.name else "span"
    is_root = parent == 0
    return (span.trace_id, span.span_id, parent, name, mapped.kind, start, end, status, message, inputs, outputs,
            is_root, size, error, attributes_json, events_json, mapped.model, mapped.input_tokens,
            mapped.output_tokens, mapped.cost, None, mapped.session if is_root else None, None)


def _times(span: OtelSpan, attrs: dict[str, Any]) -> tuple[int, int]:
    start, end = span.start_ns, span.end_ns
    start_ok = isinstance(start, int) and 0 < start < _INT64
    end_ok = isinstance(end, int) and 0 < end < _INT64
    if start_ok and end_ok and end >= start:
        return start, end
    fixed = {"start_ns": str(start), "end_ns": str(end)}
    if not start_ok:
        start = end if end_ok else time.time_ns()
    if not end_ok or end < start:
        end = start
    attrs["llmops_nb.otel.fixed_times"] = fixed
    return start, end


def _payload(stored: str | None, value: Any, field: str, attrs: dict[str, Any], cap: int) -> str | None:
    if stored is not None:
        if len(stored) <= cap:
            return stored
        value = stored  # an over-long JSON text is capped like any string, and says so
    elif value is None:
        return None
    text, original = _serialize.to_json(plain_value(value), cap)
    if original is not None:
        attrs.setdefault("llmops_nb.truncated", {})[field] = {"original_chars": original, "cap_chars": cap}
    return text


def _error(events: list[tuple[str, int, dict[str, Any]]], status: str, message: str | None,
           cap: int) -> str | None:
    for name, _, attributes in events:
        if name == "exception":
            error = {"type": _serialize.safe_str(attributes.get("exception.type", "Exception")),
                     "message": _serialize.safe_str(attributes.get("exception.message", message or ""))[:cap],
                     "traceback": _serialize.safe_str(attributes.get("exception.stacktrace", ""))[-cap:]}
            return _serialize.to_json(error, cap)[0]
    if status == "ERROR" and message:
        return _serialize.to_json({"type": "Error", "message": message, "traceback": ""}, cap)[0]
    return None


def _events_json(events: list[tuple[str, int, dict[str, Any]]], cap: int) -> str:
    return _serialize.to_json([{"name": name, "time_ns": when, "attributes": attributes or None}
                               for name, when, attributes in events], cap)[0]
