"""An ended span as a flat record: a plain tuple of strings and numbers, built on the caller's thread.

Why a tuple and not the ``Span`` object: (1) the writer must never run user code — every value
here is already text or a number, so nothing the writer does can call a user's ``repr`` or
``__str__``, recurse or hang; (2) the garbage collector stops tracking a tuple of atoms after its
first young collection, so a million queued records cost the caller no GC pauses, where a million
``Span`` objects (each with dicts) were rescanned at every full collection; (3) the writer turns a
batch into columns with one ``zip(*records)``.

Fields, in order (indexes below): ids are ints (``parent`` 0 for a root), times epoch ns, JSON
columns are JSON text or None. ``size`` is the record's approximate memory in bytes, for the
recorder's memory bound. A span with no attributes, events, error or trace facts — most calls
of a decorated function — ends as a *short* record of the first ``SHORT_FIELDS`` fields (built
inline in ``Span.end``: every field saved there is saved on every traced call); :func:`full`
pads it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import _serialize

if TYPE_CHECKING:
    from ._span import Span

TRACE_ID, SPAN_ID, PARENT_ID, NAME, KIND, START, END, STATUS, STATUS_MESSAGE, INPUTS, OUTPUTS = range(11)
IS_ROOT, SIZE = 11, 12
SHORT_FIELDS = 13
ERROR, ATTRIBUTES, EVENTS, MODEL, INPUT_TOKENS, OUTPUT_TOKENS, COST, TAGS, SESSION, CELL = range(13, 23)
FIELDS = 23
PAD = (None,) * (FIELDS - SHORT_FIELDS)

#: measured with tracemalloc: a record of short strings, its tuple, ints and the queue's share
BASE_BYTES = 420
_INT64 = 2**63


_encode = _serialize.plain_json_encoder()


def from_span(span: Span, cap: int) -> tuple[Any, ...]:
    """The record of an ended span. Runs in the user's call: cheap, and never raises for bad data."""
    attrs = span._attributes
    model = in_tok = out_tok = cost = None
    if attrs:
        attributes: str | None = _attributes_json(attrs, cap)
        got = attrs.get("gen_ai.response.model") or attrs.get("gen_ai.request.model")
        model = got if got is None or type(got) is str else _serialize.safe_str(got)
        in_tok = _int(attrs.get("gen_ai.usage.input_tokens"))
        out_tok = _int(attrs.get("gen_ai.usage.output_tokens"))
        cost = _float(attrs.get("llmops_nb.cost_usd"))
    else:
        attributes = None
    events = span.events
    events_json = _events_json(events, cap) if events else None
    error = span.error
    error_json = _encode(error) if error else None
    inputs, outputs = span.inputs, span.outputs
    size = BASE_BYTES
    for text in (inputs, outputs, attributes, events_json, error_json):
        if text is not None:
            size += len(text)
    meta = span.trace_meta if span.is_root else None
    tags = session = cell = None
    if meta:
        tags = _encode(meta["tags"]) if meta.get("tags") else None
        session = _serialize.safe_str(meta["session"]) if meta.get("session") is not None else None
        cell = _encode(meta["cell"]) if meta.get("cell") else None
    return (span.trace_id_int, span.span_id_int, span.parent_id_int, span.name, span.kind, span.start_ns,
            span.end_ns, span.status, span.status_message, inputs, outputs, span.is_root, size,
            error_json, attributes, events_json, model, in_tok, out_tok, cost, tags, session, cell)


def full(record: tuple[Any, ...]) -> tuple[Any, ...]:
    """The record with every field (a short record padded with Nones)."""
    return record if len(record) == FIELDS else record + PAD


def _attributes_json(attrs: dict[str, Any], cap: int) -> str:
    try:
        text = _encode(attrs)
    except (TypeError, ValueError, RecursionError):  # a value set behind set_attribute's back
        text = _serialize.to_json(attrs, cap)[0]
    if len(text) > cap:
        text = _serialize.to_json(attrs, cap)[0]
    return text


def _events_json(events: list[tuple[str, int, dict[str, Any] | None]], cap: int) -> str:
    plain = [{"name": name, "time_ns": time_ns, "attributes": attributes} for name, time_ns, attributes in events]
    try:
        text = _encode(plain)
    except (TypeError, ValueError, RecursionError):
        text = _serialize.to_json(plain, cap)[0]
    if len(text) > cap:
        text = _serialize.to_json(plain, cap)[0]
    return text


def _int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if -_INT64 <= number < _INT64 else None


def _float(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        return None


def trace_hex(trace_id: int) -> str:
    return f"{trace_id:032x}"


def span_hex(span_id: int) -> str:
    return f"{span_id:016x}"
