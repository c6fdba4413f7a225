"""Our spans → one OTLP protobuf ``ExportTraceServiceRequest``, with the keys each kind of backend reads.

Each span carries, next to its own attributes (already ``gen_ai.*``):

- **MLflow**: ``mlflow.spanType`` (JSON string of the kind), ``mlflow.spanInputs``/``spanOutputs``
  (the stored JSON text) — what MLflow ≥ 3.6 reads at ``/v1/traces`` for its span type and payloads;
- **OpenInference** (Phoenix, Arize): ``openinference.span.kind``, ``input.value``/``output.value``
  with ``application/json`` mime types, ``llm.model_name``, ``llm.token_count.*``;
- **GenAI**: the ``gen_ai.*`` attributes as stored.

Attribute values become OTel types: scalars as they are, lists of one scalar type as arrays, anything
else (objects, mixed lists) as JSON text. The error of a span becomes its OTel ``exception`` event
(unless one is stored already).
"""

from __future__ import annotations

import json
from typing import Any

#: our kind → OpenInference's
_OI_KIND = {"LLM": "LLM", "CHAT_MODEL": "LLM", "CHAIN": "CHAIN", "AGENT": "AGENT", "TOOL": "TOOL",
            "RETRIEVER": "RETRIEVER", "EMBEDDING": "EMBEDDING", "RERANKER": "RERANKER", "GUARDRAIL": "GUARDRAIL",
            "EVALUATOR": "EVALUATOR", "PARSER": "CHAIN", "MEMORY": "CHAIN", "WORKFLOW": "CHAIN", "TASK": "CHAIN",
            "UNKNOWN": "UNKNOWN"}
_STATUS = {"OK": 1, "ERROR": 2}
#: the fields of a span to encode, in this order (store rows and forwarder records are put in it)
FIELDS = ("trace_id", "span_id", "parent_id", "name", "kind", "start_ns", "end_ns", "status", "status_message",
          "error", "inputs", "outputs", "attributes", "events", "model", "input_tokens", "output_tokens")


def encode(spans: list[tuple[Any, ...]], service_name: str = "llmops_nb") -> bytes:
    """Protobuf bytes of an export request holding ``spans`` (tuples in :data:`FIELDS` order, ids as ints)."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    request = ExportTraceServiceRequest()
    group = request.resource_spans.add()
    _set(group.resource.attributes.add(), "service.name", service_name)
    scope = group.scope_spans.add()
    scope.scope.name = "llmops_nb"
    for row in spans:
        _encode_span(scope.spans.add(), row)
    return request.SerializeToString()


def _encode_span(out: Any, row: tuple[Any, ...]) -> None:
    (trace_id, span_id, parent_id, name, kind, start_ns, end_ns, status, status_message, error, inputs, outputs,
     attributes, events, model, input_tokens, output_tokens) = row
    out.trace_id = int(trace_id).to_bytes(16, "big")
    out.span_id = int(span_id).to_bytes(8, "big")
    if parent_id:
        out.parent_span_id = int(parent_id).to_bytes(8, "big")
    out.name = name or "span"
    out.kind = 1  # INTERNAL
    out.start_time_unix_nano = max(0, int(start_ns or 0))
    out.end_time_unix_nano = max(out.start_time_unix_nano, int(end_ns or 0))
    out.status.code = _STATUS.get(status or "OK", 0)
    if status_message:
        out.status.message = status_message
    attrs = _loads(attributes)
    attrs = attrs if isinstance(attrs, dict) else {}
    kind = kind or "UNKNOWN"
    extra: dict[str, Any] = {"mlflow.spanType": json.dumps(kind),
                             "openinference.span.kind": _OI_KIND.get(kind, "UNKNOWN")}
    if inputs is not None:
        extra.update({"mlflow.spanInputs": inputs, "input.value": inputs, "input.mime_type": "application/json"})
    if outputs is not None:
        extra.update({"mlflow.spanOutputs": outputs, "output.value": outputs, "output.mime_type": "application/json"})
    if model:
        extra["llm.model_name"] = model
    if input_tokens is not None:
        extra["llm.token_count.prompt"] = int(input_tokens)
    if output_tokens is not None:
        extra["llm.token_count.completion"] = int(output_tokens)
    if input_tokens is not None and output_tokens is not None:
        extra["llm.token_count.total"] = int(input_tokens) + int(output_tokens)
    for key, value in {**attrs, **extra}.items():
        _set(out.attributes.add(), key, value)
    stored_events = _loads(events)
    stored_events = stored_events if isinstance(stored_events, list) else []
    for event in stored_events:
        if not isinstance(event, dict):
            continue
        item = out.events.add()
        item.name = str(event.get("name") or "event")
        item.time_unix_nano = max(0, int(event.get("time_ns") or out.start_time_unix_nano))
        for key, value in (event.get("attributes") or {}).items():
            _set(item.attributes.add(), str(key), value)
    failure = _loads(error)
    if isinstance(failure, dict) and not any(isinstance(e, dict) and e.get("name") == "exception"
                                             for e in stored_events):
        item = out.events.add()
        item.name = "exception"
        item.time_unix_nano = out.end_time_unix_nano
        for key, field in (("exception.type", "type"), ("exception.message", "message"),
                           ("exception.stacktrace", "traceback")):
            if failure.get(field):
                _set(item.attributes.add(), key, str(failure[field]))


def _set(pair: Any, key: str, value: Any) -> None:
    pair.key = key
    _value(pair.value, value)


def _value(target: Any, value: Any) -> None:
    kind = type(value)
    if kind is str:
        try:
            target.string_value = value
        except (ValueError, UnicodeError):  # a lone surrogate: protobuf strings must be UTF-8
            target.string_value = value.encode("utf-8", "replace").decode("utf-8")
    elif kind is bool:
        target.bool_value = value
    elif kind is int and -(2**63) <= value < 2**63:
        target.int_value = value
    elif kind is float:
        target.double_value = value
    elif kind is list and value and all(type(v) is type(value[0]) for v in value) \
            and type(value[0]) in (str, bool, int, float):
        for item in value:
            _value(target.array_value.values.add(), item)
    elif value is None:
        target.string_value = "null"
    else:
        target.string_value = json.dumps(value, ensure_ascii=False)


def _loads(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return None
