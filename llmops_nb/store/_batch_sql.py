"""The SQL that turns a batch of span records (an Arrow table registered as ``_batch``) into rows.

Shared by both stores: the file store inserts the spans and upserts ``TRACE_TOTALS`` into
``traces`` (``_writer.py``); a DuckLake store inserts the same spans and appends the same totals
to ``trace_parts``, one row per trace per batch (``_lake_writer.py``).
"""

from __future__ import annotations

from ..tracing._span import PROPAGATED

PREVIEW_CHARS = 300  # traces.request_preview / response_preview
TRACE_ID = "printf('%016x%016x', trace_hi, trace_lo)"
# An exception that passed through several spans is one error: the spans it reached from a child
# carry this attribute (``Span._count_once``) and are not counted again. CASEs, not ANDs, since
# only they fix the order: the JSON is looked at for ERROR spans only (never for the many others),
# and a malformed attributes text is never parsed (it would fail the whole write): its span counts.
NEW_ERROR = (f"CASE WHEN status IS DISTINCT FROM 'ERROR' THEN false WHEN json_valid(attributes) "
              f"THEN json_extract_string(attributes, '$.\"{PROPAGATED}\"') IS DISTINCT FROM 'true' ELSE true END")

#: a root span's attributes that name its conversation, the first non-empty one wins: OpenInference's
#: ``session.id``, then OpenTelemetry GenAI's ``gen_ai.conversation.id``
SESSION_ATTRIBUTES = ("session.id", "gen_ai.conversation.id")
# The session a span's attributes name, else NULL. CASEs, so that the order is fixed: a substring test
# first, so that only the JSON of the few that mention one is parsed (most carry none); and a malformed
# text is never parsed (it would fail the whole write).
SESSION_MENTIONED = " OR ".join(f"contains(attributes, '\"{a}\"')" for a in SESSION_ATTRIBUTES)
ROOT_SESSION = (f"CASE WHEN {SESSION_MENTIONED} THEN CASE WHEN json_valid(attributes) "
                "THEN list_filter(json_extract_string(attributes, ["
                + ", ".join(f"'$.\"{a}\"'" for a in SESSION_ATTRIBUTES)  # quoted: the names hold dots
                + "]), lambda v: v <> '')[1] END END")
#: a trace's session, written once with its root: the root's own (``@trace(session=)``, ``span(session=)``,
#: ``%%llm_trace --session``, an imported OTel root's), else what its attributes name (:data:`ROOT_SESSION`).
#: So every reader asks ``traces.session`` only (``llmops_nb.agents``, ``metrics(by="session")``, ``erase()``).
#: Other spans' attributes are never looked at (the aggregate's input is computed for every row of a batch).
TRACE_SESSION = (f"CASE WHEN NOT is_root THEN NULL WHEN NULLIF(session, '') IS NOT NULL THEN session "
                 f"ELSE {ROOT_SESSION} END")

INSERT_SPANS = f"""
INSERT INTO spans (trace_id, span_id, parent_span_id, name, kind, start_ns, end_ns, status, status_message,
                   error, inputs, outputs, attributes, events, model, input_tokens, output_tokens, cost_usd)
SELECT {TRACE_ID}, printf('%016x', span_id), CASE WHEN parent_id = 0 THEN NULL ELSE printf('%016x', parent_id) END,
       name, kind, start_ns, end_ns, status, status_message, error, inputs, outputs, attributes, events, model,
       input_tokens, output_tokens, cost_usd
FROM _batch
"""

TRACE_COLUMNS = ("trace_id, name, status, start_ns, end_ns, span_count, llm_calls, error_count, input_tokens, "
                 "output_tokens, cost_usd, dropped_spans, tags, session, cell, request_preview, response_preview, "
                 "error_message")
# Root-only facts come from the root's row (at most one per trace); totals from every row.
TRACE_TOTALS = f"""
SELECT {TRACE_ID},
       any_value(name) FILTER (WHERE is_root),
       any_value(status) FILTER (WHERE is_root),
       COALESCE(any_value(start_ns) FILTER (WHERE is_root), min(start_ns)),
       any_value(end_ns) FILTER (WHERE is_root),
       count(*),
       count(*) FILTER (WHERE kind IN ('LLM', 'CHAT_MODEL')),
       count(*) FILTER (WHERE {NEW_ERROR}),
       COALESCE(sum(input_tokens), 0),
       COALESCE(sum(output_tokens), 0),
       sum(cost_usd),
       0,
       any_value(tags) FILTER (WHERE is_root),
       any_value({TRACE_SESSION}) FILTER (WHERE is_root),
       any_value(cell) FILTER (WHERE is_root),
       any_value(left(inputs, {PREVIEW_CHARS})) FILTER (WHERE is_root),
       any_value(left(outputs, {PREVIEW_CHARS})) FILTER (WHERE is_root),
       any_value(status_message) FILTER (WHERE is_root AND status = 'ERROR')
FROM _batch GROUP BY trace_hi, trace_lo
"""
