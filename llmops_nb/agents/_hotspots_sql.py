"""The SQL behind ``Hotspots``: one query per answer, each over the selected traces' spans.

Every query starts ``WITH sel AS (<the selection>)`` — ``SELECT t.trace_id FROM traces AS t WHERE …`` —
and reads the spans ``WHERE trace_id IN (SELECT trace_id FROM sel)`` plus a start range (literal
ints from the store, so DuckDB skips row groups of other times).

Span keys are DuckDB's 64-bit ``hash(trace_id, span_id)``: joining and grouping on them is ~8x faster
than on the two strings (862 → 113 ms over 10,000 traces of 20 spans); two spans of the selection
sharing a hash (odds ~n²/2⁶⁵) would merge their children.
"""

from __future__ import annotations

from ._select import SESSION_ID, turns_from

#: MLflow's kinds of model calls, and the kinds whose identical calls are cache candidates
LLM_KINDS = ("LLM", "CHAT_MODEL")
REPEATABLE_KINDS = (*LLM_KINDS, "TOOL")

FRAME_COLUMNS = ("name", "kind", "calls", "total_ms", "self_ms", "p50_ms", "p95_ms", "share_of_wall", "input_tokens",
                 "output_tokens", "cost_usd", "errors")
REPEATED_COLUMNS = ("trace_id", "name", "kind", "calls", "wasted_calls", "wasted_ms", "wasted_input_tokens",
                    "wasted_output_tokens", "wasted_cost_usd", "inputs_preview")
PATH_COLUMNS = ("depth", "span_id", "parent_span_id", "name", "kind", "start_time", "end_time", "duration_ms")
GROWTH_COLUMNS = ("session", "turn", "trace_id", "start_time", "input_tokens", "max_call_input_tokens", "llm_calls",
                  "growth")


def _in(kinds: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{k}'" for k in kinds) + ")"


# Self time: a span's duration minus the union of its children's intervals, each clipped to the span
# (a child outliving its parent, or overlapping a sibling in another thread, is counted once). The
# union is one window: children sorted by start, each adds what reaches past the latest end before it.
FRAME = """
WITH sel AS ({selection}),
s AS MATERIALIZED (
    SELECT hash(trace_id, span_id) AS k,
           CASE WHEN parent_span_id IS NOT NULL THEN hash(trace_id, parent_span_id) END AS pk,
           trace_id, name, kind, start_ns, end_ns, end_ns - start_ns AS d, status, input_tokens, output_tokens,
           cost_usd
    FROM spans WHERE trace_id IN (SELECT trace_id FROM sel){bound}
),
c AS (
    SELECT ch.pk AS k, greatest(ch.start_ns, p.start_ns) AS a, least(ch.end_ns, p.end_ns) AS b
    FROM s AS ch JOIN s AS p ON p.k = ch.pk
    WHERE least(ch.end_ns, p.end_ns) > greatest(ch.start_ns, p.start_ns)
),
m AS (SELECT k, a, b, max(b) OVER (PARTITION BY k ORDER BY a, b ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
                      AS before FROM c),
covered AS (SELECT k, sum(greatest(0, b - greatest(a, COALESCE(before, a)))) AS covered_ns FROM m GROUP BY k),
wall AS (SELECT sum(w) AS wall_ns FROM (SELECT max(end_ns) - min(start_ns) AS w FROM s GROUP BY trace_id))
SELECT s.name, s.kind, count(*) AS calls,
       sum(s.d) / 1e6 AS total_ms,
       sum(s.d - COALESCE(covered_ns, 0)) / 1e6 AS self_ms,
       quantile_cont(s.d, 0.5) / 1e6 AS p50_ms,
       quantile_cont(s.d, 0.95) / 1e6 AS p95_ms,
       sum(s.d - COALESCE(covered_ns, 0)) / NULLIF(any_value(wall.wall_ns), 0) AS share_of_wall,
       CAST(COALESCE(sum(s.input_tokens), 0) AS BIGINT) AS input_tokens,
       CAST(COALESCE(sum(s.output_tokens), 0) AS BIGINT) AS output_tokens,
       sum(s.cost_usd) AS cost_usd,
       CAST(count_if(s.status = 'ERROR') AS BIGINT) AS errors,
       any_value(wall.wall_ns) AS wall_ns
FROM s LEFT JOIN covered USING (k) CROSS JOIN wall
GROUP BY s.name, s.kind
ORDER BY self_ms DESC, s.name, s.kind
"""

# Identical calls: one trace, same name and kind, same inputs JSON (by hash). Grouping on the one hash
# and taking the strings with any_value (equal in a group) is ~10x faster than grouping on them.
# Wasted: everything but the first call (the one a cache would have answered from).
REPEATED = f"""
WITH sel AS ({{selection}}),
calls AS (
    SELECT hash(trace_id, name, kind, inputs) AS g, trace_id, name, kind, start_ns, end_ns - start_ns AS d,
           input_tokens, output_tokens, cost_usd, inputs
    FROM spans
    WHERE trace_id IN (SELECT trace_id FROM sel){{bound}} AND kind IN {_in(REPEATABLE_KINDS)} AND inputs IS NOT NULL
)
SELECT any_value(trace_id) AS trace_id, any_value(name) AS name, any_value(kind) AS kind, count(*) AS calls,
       count(*) - 1 AS wasted_calls,
       (sum(d) - arg_min(d, start_ns)) / 1e6 AS wasted_ms,
       CAST(COALESCE(sum(input_tokens), 0) - COALESCE(arg_min(input_tokens, start_ns), 0) AS BIGINT)
           AS wasted_input_tokens,
       CAST(COALESCE(sum(output_tokens), 0) - COALESCE(arg_min(output_tokens, start_ns), 0) AS BIGINT)
           AS wasted_output_tokens,
       sum(cost_usd) - arg_min(cost_usd, start_ns) AS wasted_cost_usd,
       any_value(left(inputs, 200)) AS inputs_preview
FROM calls GROUP BY g HAVING count(*) >= 2
ORDER BY wasted_cost_usd DESC NULLS LAST, wasted_ms DESC, trace_id, name
"""

# One trace's spans for its critical path, which ``_hotspots.critical_path_of`` picks from them (the
# rule is written once there, in Python, so the explorer shares it): the path's rows are these rows.
TRACE_SPANS = """
SELECT span_id, parent_span_id, name, kind, make_timestamp(start_ns // 1000) AS start_time,
       make_timestamp(end_ns // 1000) AS end_time, (end_ns - start_ns) / 1e6 AS duration_ms, start_ns, end_ns
FROM spans WHERE {where}
"""

# Context growth: each selected trace that belongs to a session is a turn; its input tokens (all
# calls) and its largest single call's, which is the context the model was sent.
PROMPT_GROWTH = f"""
WITH sel AS ({{selection}}),
calls AS (
    SELECT trace_id, max(input_tokens) AS largest FROM spans
    WHERE trace_id IN (SELECT trace_id FROM sel){{bound}} AND kind IN {_in(LLM_KINDS)}
    GROUP BY trace_id
),
turns AS (
    SELECT {SESSION_ID} AS session, t.trace_id, t.start_ns, t.input_tokens, t.llm_calls
    FROM {turns_from()} WHERE t.trace_id IN (SELECT trace_id FROM sel)
)
SELECT session, row_number() OVER w AS turn, trace_id, make_timestamp(start_ns // 1000) AS start_time,
       input_tokens, c.largest AS max_call_input_tokens, llm_calls,
       input_tokens / NULLIF(first_value(input_tokens) OVER w, 0) AS growth
FROM turns LEFT JOIN calls AS c USING (trace_id)
WHERE session IS NOT NULL
WINDOW w AS (PARTITION BY session ORDER BY start_ns, trace_id)
ORDER BY min(start_ns) OVER (PARTITION BY session), session, turn
"""
