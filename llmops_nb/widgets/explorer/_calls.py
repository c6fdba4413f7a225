"""What an LLM span is, in a few words: its label (``model · operation``), whether it was streamed
or made from an async client, and its time to first token. Read here once, by the same SQL, for the
live view's skeleton (``_data``) and the snapshot (``_snapshot_tree``), so both name a row alike;
the view (``js/explorer/calls.js``) only shows it.

An agent's trace holds a dozen ``openai.chat.completions.create`` spans: ``gpt-4o · chat`` marked
``stream`` tells them apart; the span's own name stays in the tooltip, the detail and the snapshot.

What the integrations record (``llmops_nb/integrations/_call.py`` and ``_streams.py``):
``gen_ai.operation.name`` (``chat`` for every SDK method, so the span name says more),
``llmops_nb.stream``, and for a stream that produced content ``llmops_nb.time_to_first_token_ms``
and a ``gen_ai.first_token`` event. Nothing marks a call made from an async client yet (its span's
name and attributes are those of the sync call): a span with ``llmops_nb.async: true`` is marked.

>>> call_label("gpt-4o", operation("openai.chat.completions.create", "chat"), "openai.chat.completions.create")
'gpt-4o · chat'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

LLM_KINDS = frozenset({"LLM", "CHAT_MODEL", "EMBEDDING"})
FIRST_TOKEN_EVENT = "gen_ai.first_token"

# The resource path of an SDK method span name ``<provider>.<path>.<method>`` -> the operation.
_SDK_OPERATIONS = {
    "chat.completions": "chat", "beta.chat.completions": "chat", "completions": "completions",
    "responses": "responses", "embeddings": "embeddings", "messages": "messages", "beta.messages": "messages",
}
_ATTRIBUTE_PATHS = ('$."gen_ai.operation.name"', '$."llmops_nb.stream"', '$."llmops_nb.async"',
                    '$."llmops_nb.time_to_first_token_ms"')
_PATHS = ", ".join(f"'{path}'" for path in _ATTRIBUTE_PATHS)
_IS_LLM = "kind IN ({})".format(", ".join(f"'{k}'" for k in sorted(LLM_KINDS)))

#: Two columns of a ``spans`` row (which needs ``kind``, ``attributes``, ``events`` and ``start_ns``),
#: read for LLM spans only and NULL for the rest: the attributes :func:`call_of` reads (one JSON parse),
#: and the first-token event's time after the span's start in ns. ``try``: a cut payload is not JSON.
CALL_COLUMNS = (
    f"CASE WHEN {_IS_LLM} THEN try(json_extract_string(attributes, [{_PATHS}])) "
    "END, "
    f"CASE WHEN {_IS_LLM} AND events IS NOT NULL THEN try((list_filter(CAST(json_extract(events, '$[*]') AS JSON[]), "
    f"lambda e: e->>'name' = '{FIRST_TOKEN_EVENT}')[1]->>'time_ns')::BIGINT - start_ns) END"
)


@dataclass(frozen=True)
class Call:
    """An LLM span's row facts; ``label`` is None when the span's name is all there is to show."""

    label: str | None
    stream: bool
    is_async: bool
    ttft_ms: float | None


def call_of(kind: str, name: str | None, model: str | None, attributes: list[str | None] | None,
            first_token_ns: int | None) -> Call | None:
    """The facts of one span from its light columns and the two :data:`CALL_COLUMNS`; None unless an LLM span."""
    if kind not in LLM_KINDS:
        return None
    op_attr, stream, is_async, ttft = attributes or (None, None, None, None)
    ttft_ms = _number(ttft)
    if ttft_ms is None and first_token_ns is not None and first_token_ns >= 0:
        ttft_ms = round(first_token_ns / 1e6, 3)
    return Call(label=call_label(model, operation(name, op_attr), name),
                stream=stream == "true" or ttft_ms is not None, is_async=is_async == "true", ttft_ms=ttft_ms)


def operation(name: str | None, attribute: str | None) -> str | None:
    """``chat``, ``responses``, ``messages``, ``embeddings`` …: from an SDK method's span name
    (``anthropic.messages.stream`` → ``messages``), else the ``gen_ai.operation.name`` attribute."""
    parts = (name or "").split(".")
    if len(parts) >= 3:
        found = _SDK_OPERATIONS.get(".".join(parts[1:-1]))
        if found:
            return found
    return (attribute.strip() or None) if isinstance(attribute, str) else None


def call_label(model: str | None, operation: str | None, name: str | None) -> str | None:
    """``model · operation``; ``model · name`` when no operation is known; None without a model."""
    if not model:
        return None
    if operation:
        return f"{model} · {operation}"
    return f"{model} · {name}" if name and name != model else model


def _number(text: str | None) -> float | None:
    try:
        value = float(text) if text is not None else None
    except ValueError:
        return None
    return round(value, 3) if value is not None and 0 <= value < float("inf") else None


def event_offsets(events: Any, start_ns: int) -> Any:
    """Each event with ``offset_ms``, its time after the span's start (an epoch in ns reads as nothing);
    anything but a list of event objects is returned as it is."""
    if not isinstance(events, list):
        return events
    return [{**e, "offset_ms": round((e["time_ns"] - start_ns) / 1e6, 3)}
            if isinstance(e, dict) and type(e.get("time_ns")) is int else e for e in events]
