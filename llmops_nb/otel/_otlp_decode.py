"""OTLP trace payloads → :class:`OtelSpan` lists: protobuf (``opentelemetry-proto``) and OTLP/JSON.

OTLP/JSON is not protobuf's JSON mapping (ids are hex, not base64; enums may be numbers or
names; 64-bit ints are strings), so it is walked directly rather than fed to ``json_format``.
Both decoders accept camelCase and snake_case keys (the spec's JSON is camelCase; collectors'
file exporters and some SDKs write snake_case).

A payload that cannot be parsed at all raises :class:`MalformedError` (the receiver answers 400).
A span inside a good payload that cannot be stored (bad ids) is skipped and counted by the caller.
"""

from __future__ import annotations

import json
from typing import Any

from ._convert import OtelSpan, plain_value

_STATUS_NAMES = {"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2}
_KIND_NAMES = {"SPAN_KIND_UNSPECIFIED": 0, "SPAN_KIND_INTERNAL": 1, "SPAN_KIND_SERVER": 2, "SPAN_KIND_CLIENT": 3,
               "SPAN_KIND_PRODUCER": 4, "SPAN_KIND_CONSUMER": 5}


class MalformedError(ValueError):
    """The payload is not an OTLP trace export request."""


# -- protobuf --------------------------------------------------------------------------------------
def decode_protobuf(body: bytes) -> list[OtelSpan]:
    from google.protobuf.message import DecodeError
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(body)
    except (DecodeError, ValueError, RecursionError) as exc:
        raise MalformedError(f"not an OTLP protobuf ExportTraceServiceRequest ({exc})") from None
    out = []
    for resource_spans in request.resource_spans:
        resource = _pb_attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            scope = scope_spans.scope.name or None
            for span in scope_spans.spans:
                out.append(OtelSpan(
                    _pb_id(span.trace_id, 16), _pb_id(span.span_id, 8), _pb_id(span.parent_span_id, 8), span.name,
                    kind=span.kind, start_ns=span.start_time_unix_nano, end_ns=span.end_time_unix_nano,
                    status_code=span.status.code, status_message=span.status.message or None,
                    attributes=_pb_attributes(span.attributes),
                    events=[(e.name, e.time_unix_nano, _pb_attributes(e.attributes)) for e in span.events],
                    links=[{"trace_id": link.trace_id.hex(), "span_id": link.span_id.hex(),
                            "attributes": _pb_attributes(link.attributes)} for link in span.links],
                    resource=resource, scope=scope,
                    dropped={"attributes": span.dropped_attributes_count, "events": span.dropped_events_count,
                             "links": span.dropped_links_count}))
    return out


def _pb_id(raw: bytes, size: int) -> int:
    # A wrong-length id is not an id: 0 makes to_record reject it (or, for a parent, makes a root).
    return int.from_bytes(raw, "big") if len(raw) == size else 0


def _pb_attributes(pairs: Any) -> dict[str, Any]:
    return {pair.key: _pb_value(pair.value) for pair in pairs}


def _pb_value(value: Any) -> Any:
    which = value.WhichOneof("value")
    if which == "string_value":
        return value.string_value
    if which == "int_value":
        return value.int_value
    if which == "double_value":
        return plain_value(value.double_value)
    if which == "bool_value":
        return value.bool_value
    if which == "array_value":
        return [_pb_value(item) for item in value.array_value.values]
    if which == "kvlist_value":
        return {pair.key: _pb_value(pair.value) for pair in value.kvlist_value.values}
    if which == "bytes_value":
        return plain_value(value.bytes_value)
    return None


# -- JSON ------------------------------------------------------------------------------------------
def decode_json(body: bytes | str) -> list[OtelSpan]:
    try:
        text = body.decode("utf-8", "replace") if isinstance(body, (bytes, bytearray)) else body
        document = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise MalformedError(f"not JSON ({exc})") from None
    if not isinstance(document, dict):
        raise MalformedError("an OTLP/JSON request is an object with 'resourceSpans'")
    groups = _get(document, "resourceSpans", "resource_spans")
    if not isinstance(groups, list):
        raise MalformedError("an OTLP/JSON request is an object with 'resourceSpans'")
    out = []
    for group in groups:
        if not isinstance(group, dict):
            raise MalformedError("resourceSpans holds objects")
        resource = _json_attributes(_get(group.get("resource") or {}, "attributes"))
        for scope_group in _get(group, "scopeSpans", "scope_spans", "instrumentationLibrarySpans") or []:
            if not isinstance(scope_group, dict):
                raise MalformedError("scopeSpans holds objects")
            scope_info = _get(scope_group, "scope", "instrumentationLibrary") or {}
            scope = scope_info.get("name") if isinstance(scope_info, dict) else None
            for span in scope_group.get("spans") or []:
                if not isinstance(span, dict):
                    raise MalformedError("spans holds objects")
                out.append(_json_span(span, resource, scope))
    return out


def _json_span(span: dict[str, Any], resource: dict[str, Any], scope: str | None) -> OtelSpan:
    status = span.get("status") or {}
    code = status.get("code", 0) if isinstance(status, dict) else 0
    return OtelSpan(
        _hex(_get(span, "traceId", "trace_id"), 32), _hex(_get(span, "spanId", "span_id"), 16),
        _hex(_get(span, "parentSpanId", "parent_span_id"), 16), _text(span.get("name")),
        kind=_enum(span.get("kind", 1), _KIND_NAMES),
        start_ns=_int(_get(span, "startTimeUnixNano", "start_time_unix_nano")),
        end_ns=_int(_get(span, "endTimeUnixNano", "end_time_unix_nano")),
        status_code=_enum(code, _STATUS_NAMES),
        status_message=_text(status.get("message")) or None if isinstance(status, dict) else None,
        attributes=_json_attributes(span.get("attributes")),
        events=[(_text(e.get("name")), _int(_get(e, "timeUnixNano", "time_unix_nano")),
                 _json_attributes(e.get("attributes"))) for e in span.get("events") or [] if isinstance(e, dict)],
        links=[{"trace_id": _text(_get(link, "traceId", "trace_id")), "span_id": _text(_get(link, "spanId", "span_id")),
                "attributes": _json_attributes(link.get("attributes"))}
               for link in span.get("links") or [] if isinstance(link, dict)],
        resource=resource, scope=scope if isinstance(scope, str) else None,
        dropped={"attributes": _int(_get(span, "droppedAttributesCount", "dropped_attributes_count")),
                 "events": _int(_get(span, "droppedEventsCount", "dropped_events_count")),
                 "links": _int(_get(span, "droppedLinksCount", "dropped_links_count"))})


def _get(mapping: Any, *keys: str) -> Any:
    if not isinstance(mapping, dict):
        return None
    for key in keys:
        if key in mapping:
            return mapping[key]
    return None


def _json_attributes(pairs: Any) -> dict[str, Any]:
    if isinstance(pairs, dict):  # some writers use a plain object
        return {str(k): plain_value(v) for k, v in pairs.items()}
    if not isinstance(pairs, list):
        return {}
    return {str(pair.get("key")): _json_value(pair.get("value")) for pair in pairs if isinstance(pair, dict)}


def _json_value(value: Any) -> Any:
    if not isinstance(value, dict):
        return plain_value(value)
    for key, convert in (("stringValue", _text), ("string_value", _text), ("boolValue", bool), ("bool_value", bool),
                         ("intValue", _int), ("int_value", _int), ("doubleValue", _float), ("double_value", _float),
                         ("bytesValue", _text), ("bytes_value", _text)):
        if key in value:
            return convert(value[key])
    array = _get(value, "arrayValue", "array_value")
    if isinstance(array, dict):
        return [_json_value(item) for item in array.get("values") or []]
    kvlist = _get(value, "kvlistValue", "kvlist_value")
    if isinstance(kvlist, dict):
        return _json_attributes(kvlist.get("values"))
    return None


def _hex(value: Any, digits: int) -> int:
    if not isinstance(value, str) or len(value) != digits:
        return 0
    try:
        return int(value, 16)
    except ValueError:
        return 0


def _int(value: Any) -> int:
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value
    if isinstance(value, (str, float)):
        try:
            return int(value)
        except (ValueError, OverflowError):
            return 0
    return 0


def _float(value: Any) -> Any:
    try:
        return plain_value(float(value))
    except (TypeError, ValueError):
        return _text(value)


def _enum(value: Any, names: dict[str, int]) -> int:
    if isinstance(value, str):
        return names.get(value, 0)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _text(value: Any) -> str:
    return value if isinstance(value, str) else "" if value is None else json.dumps(value)
