"""The SQL behind ``AgentGraph``: nodes, edges, paths and the spans behind a node or an edge.

Every query reads the selected traces' spans — ``$ids``, a list of trace ids — plus a start range
(literal ints from the store, so DuckDB skips row groups of other times; see ``_graph_select._bound``),
and takes ``$skip``, the kinds made transparent. Only aggregates leave DuckDB: one row per node and
per edge, one per distinct path.

The chain of CTEs (:func:`pairs`):

- ``s``: the spans, keyed by DuckDB's 64-bit ``hash(trace_id, span_id)`` (joins on it are ~8x faster
  than on the two strings, see ``_hotspots_sql.py``) and their node by ``hash(kind, name)``;
- ``v``: the visible spans, each with its visible parent ``vp`` (NULL: a top-level span — the root, or
  an orphan whose parent is not in the store). Without ``$skip`` that is one self-join; with it a
  recursive CTE first lifts every hidden span to its nearest visible ancestor;
- ``seq``: siblings in start order (ties by span id), each with the node before it;
- ``pairs``: one row per edge occurrence — ``call`` (parent's node → child's), ``next`` or ``handoff``
  (sibling before → sibling) — carrying the target span's numbers.
"""

from __future__ import annotations

import re
from typing import Any

NODE_COLUMNS = ("id", "name", "kind", "calls", "traces", "errors", "duration_ms", "duration_ms_p50", "input_tokens",
                "output_tokens", "cost_usd", "in_cycle", "first_ns")
EDGE_COLUMNS = ("id", "type", "source", "target", "count", "traces", "share", "duration_ms", "input_tokens",
                "output_tokens", "cost_usd", "errors", "in_cycle")
CYCLE_COLUMNS = ("id", "nodes", "repeats", "traces", "label")
PATH_COLUMNS = ("path", "traces", "share")
SPAN_COLUMNS = ("trace_id", "span_id", "name", "kind", "start_time", "duration_ms", "status")

#: the kinds a path lists: who decides and what it calls
PATH_KINDS = ("AGENT", "TOOL", "LLM", "CHAT_MODEL", "RETRIEVER")
#: how a path shows a step repeated back to back, and joins its steps
REPEAT, ARROW = " ×", " → "

_PARAMETER = re.compile(r"\$(\w+)")


def bind(sql: str, values: dict[str, Any]) -> dict[str, Any]:
    """The named parameters ``sql`` uses, from ``values``: DuckDB refuses a parameter a query does not use
    (``$skip`` is absent when nothing is skipped)."""
    return {name: values[name] for name in set(_PARAMETER.findall(sql))}


# Ties in start order go to the smaller span id, compared as the 64-bit number its 16 hex digits spell
# (the same order as the strings', at half the cost of sorting on them; an id that is not hex is NULL).
SPAN_ORDER = "TRY_CAST(('0x' || span_id) AS UBIGINT)"

_SPANS = f"""s AS MATERIALIZED (
    SELECT hash(trace_id, span_id) AS k,
           CASE WHEN parent_span_id IS NOT NULL THEN hash(trace_id, parent_span_id) END AS pk,
           hash(kind, name) AS nk, hash(trace_id) AS tk, {SPAN_ORDER} AS sk, trace_id, span_id, name, kind,
           start_ns, end_ns, end_ns - start_ns AS d, status, input_tokens, output_tokens, cost_usd
    FROM spans WHERE trace_id IN (SELECT unnest($ids::VARCHAR[])){{bound}}
)"""

# Nothing skipped: a span's visible parent is its parent, if that is in the store.
_VISIBLE = """v AS MATERIALIZED (
    SELECT c.*, p.k AS vp, p.nk AS pnk FROM s AS c LEFT JOIN s AS p ON p.k = c.pk
)"""

# Spans of skipped kinds are lifted, each once, to their nearest visible ancestor (``lifted.anc``:
# NULL when the hidden chain reaches the top); a visible span whose parent is hidden takes that
# ancestor. The depth bound guards against parent links that loop; a looping span gets no parent.
_VISIBLE_SKIPPING = """hidden AS (SELECT k, pk FROM s WHERE list_contains($skip::VARCHAR[], kind)),
climb(k, anc, depth) AS (
    SELECT k, pk, 0 FROM hidden
    UNION ALL
    SELECT climb.k, h.pk, climb.depth + 1 FROM climb JOIN hidden AS h ON h.k = climb.anc WHERE climb.depth < 1000
),
lifted AS (SELECT k, anc FROM climb WHERE anc IS NULL OR anc NOT IN (SELECT k FROM hidden)),
v AS MATERIALIZED (
    SELECT c.*, p.k AS vp, p.nk AS pnk
    FROM s AS c LEFT JOIN lifted AS l ON l.k = c.pk
    LEFT JOIN s AS p ON p.k = (CASE WHEN l.k IS NULL THEN c.pk ELSE l.anc END)
                    AND NOT list_contains($skip::VARCHAR[], p.kind)
    WHERE NOT list_contains($skip::VARCHAR[], c.kind)
)"""

# Siblings share a visible parent; the top-level spans of one trace (a root, or orphans) are siblings too.
_PAIRS = """seq AS (
    SELECT *, lag(nk) OVER w AS prev_nk, lag(kind) OVER w AS prev_kind
    FROM v WINDOW w AS (PARTITION BY tk, COALESCE(vp, 0) ORDER BY start_ns, sk)
),
pairs AS (
    SELECT 'call' AS type, pnk AS src, nk AS dst, k, tk, d, status, input_tokens, output_tokens, cost_usd
    FROM v WHERE vp IS NOT NULL
    UNION ALL
    SELECT CASE WHEN prev_kind = 'AGENT' AND kind = 'AGENT' THEN 'handoff' ELSE 'next' END, prev_nk, nk, k, tk, d,
           status, input_tokens, output_tokens, cost_usd
    FROM seq WHERE prev_nk IS NOT NULL
)"""


def pairs(bound: str, skipping: bool) -> str:
    """``WITH`` the CTEs ``s``, ``v``, ``seq`` and ``pairs`` (see the module doc), without a trailing comma.
    ``bound``: literal SQL from the store's ints; ``skipping``: whether ``$skip`` is non-empty (the
    empty case is one join, no recursion)."""
    visible = _VISIBLE_SKIPPING if skipping else _VISIBLE
    return f"WITH RECURSIVE {_SPANS.format(bound=bound)},\n{visible},\n{_PAIRS}\n"


def _sums(source: str) -> str:
    return (f"CAST(count_if({source}.status = 'ERROR') AS BIGINT) AS errors, sum({source}.d) / 1e6 AS duration_ms, "
            f"CAST(COALESCE(sum({source}.input_tokens), 0) AS BIGINT) AS input_tokens, "
            f"CAST(COALESCE(sum({source}.output_tokens), 0) AS BIGINT) AS output_tokens, "
            f"sum({source}.cost_usd) AS cost_usd")


def graph(bound: str, skipping: bool) -> str:
    """Nodes, edges and the span count in one pass over the spans, told apart by ``what``: 'node' rows
    (``target`` its node key), 'edge' rows (``type``, ``source``, ``target`` node keys) and one 'spans'
    row (``count``: every span read, hidden kinds included). Integer columns hold no NULL (pandas would
make them floats, and a 64-bit key a rounded float). Grouped on the 64-bit keys; the strings
    ride along with ``any_value`` (~10x faster than grouping on them, see ``_hotspots_sql.py``)."""
    return pairs(bound, skipping) + f"""
SELECT 'node' AS what, NULL AS type, 0::UBIGINT AS source, v.nk AS target, any_value(v.name) AS name,
       any_value(v.kind) AS kind, count(*) AS count, count(DISTINCT v.tk) AS traces, {_sums("v")},
       quantile_cont(v.d, 0.5) / 1e6 AS duration_ms_p50, min(v.start_ns) AS first_ns
FROM v GROUP BY v.nk
UNION ALL
SELECT 'edge', p.type, p.src, p.dst, NULL, NULL, count(*), count(DISTINCT p.tk), {_sums("p")}, NULL, 0
FROM pairs AS p GROUP BY p.type, p.src, p.dst
UNION ALL
SELECT 'spans', NULL, 0, 0, NULL, NULL, count(*), 0, 0, NULL, 0, 0, NULL, NULL, 0 FROM s
"""


def cycle_traces(bound: str, skipping: bool) -> str:
    """For cycles with several back edges: how many traces hold at least one of a cycle's back edges.
    ``$cycle``, ``$type``, ``$src_kind``, ``$src_name``, ``$dst_kind``, ``$dst_name``: parallel lists,
    one entry per back edge."""
    return pairs(bound, skipping) + """,
named AS (
    SELECT unnest($cycle::INTEGER[]) AS cycle, unnest($type::VARCHAR[]) AS type,
           unnest($src_kind::VARCHAR[]) AS src_kind, unnest($src_name::VARCHAR[]) AS src_name,
           unnest($dst_kind::VARCHAR[]) AS dst_kind, unnest($dst_name::VARCHAR[]) AS dst_name
),
back AS MATERIALIZED (SELECT cycle, type, hash(src_kind, src_name) AS src, hash(dst_kind, dst_name) AS dst FROM named)
SELECT b.cycle, count(DISTINCT p.tk) AS traces
FROM pairs AS p JOIN back AS b ON p.type = b.type AND p.src = b.src AND p.dst = b.dst
WHERE p.dst IN (SELECT dst FROM back)
GROUP BY b.cycle
"""


# A path: the trace's spans of PATH_KINDS in start order. DuckDB lists each trace's names and counts
# the traces of each list; the lists — as many as distinct sequences, few — are compressed
# ("search ×3") in Python (``_graph.py``).
_PATH_KINDS_SQL = "(" + ", ".join(f"'{kind}'" for kind in PATH_KINDS) + ")"
PATHS = f"""
WITH per_trace AS (
    SELECT list(name ORDER BY start_ns, {SPAN_ORDER}) AS names FROM spans
    WHERE trace_id IN (SELECT unnest($ids::VARCHAR[])){{bound}}
      AND kind IN {_PATH_KINDS_SQL} AND NOT list_contains($skip::VARCHAR[], kind)
    GROUP BY trace_id
)
SELECT names, count(*) AS traces FROM per_trace GROUP BY names
"""


# The spans behind a node or an edge, newest trace first ($ids is newest first), then start order.
# The page is LEFT JOINed to its total, so an offset past the end still answers the total.
def selected_spans(bound: str, skipping: bool, edge: bool, paged: bool) -> str:
    """``edge``: the target spans of the edge ``$type`` from (``$src_kind``, ``$src_name``) to
    (``$dst_kind``, ``$dst_name``); else the spans of the node (``$dst_kind``, ``$dst_name``).
    ``paged``: rows ``$offset`` … ``$offset + $limit`` with ``total`` beside each, else every span id."""
    if edge:
        hits = ("SELECT s.* FROM pairs AS p JOIN s ON s.k = p.k WHERE p.type = $type "
                "AND p.src = hash($src_kind::VARCHAR, $src_name::VARCHAR) "
                "AND p.dst = hash($dst_kind::VARCHAR, $dst_name::VARCHAR)")
        head = pairs(bound, skipping) + ","
    else:
        hits = "SELECT * FROM s WHERE s.kind = $dst_kind AND s.name = $dst_name"
        head = f"WITH {_SPANS.format(bound=bound)},"
    ordered = f"""{head}
hits AS ({hits}),
rank AS (SELECT unnest($ids::VARCHAR[]) AS trace_id, generate_subscripts($ids::VARCHAR[], 1) AS r),
ordered AS (SELECT h.*, rank.r FROM hits AS h JOIN rank USING (trace_id))
"""
    if not paged:
        return ordered + "SELECT span_id FROM ordered ORDER BY r, start_ns, sk, span_id"
    return ordered + """,
page AS (
    SELECT trace_id, span_id, name, kind, strftime(make_timestamp(start_ns // 1000), '%Y-%m-%dT%H:%M:%S.%fZ')
           AS start_time, d / 1e6 AS duration_ms, status, r, start_ns, sk
    FROM ordered ORDER BY r, start_ns, sk, span_id LIMIT $limit OFFSET $offset
)
SELECT (SELECT count(*) FROM hits) AS total, page.* EXCLUDE (r, start_ns, sk)
FROM (SELECT 1) AS one LEFT JOIN page ON true
ORDER BY page.r, page.start_ns, page.sk, page.span_id
"""
