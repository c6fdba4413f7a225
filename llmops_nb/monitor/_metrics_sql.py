"""The SQL of ``metrics()``: one statement per metric family, each the family's whole time series.

Every statement starts from the same rows, ``_mx_b``: one per trace that started in [since, until),
has finished (its root ended, so its status, latency and totals are final; running traces are left
out) and matches ``where=``, carrying its bucket (``start_ns`` floored to a multiple of ``every``
since the epoch, in UTC), its group keys (``g0``, ``g1``, … in ``by`` order) and the facts the family
reads. Each family aggregates those rows into one row per (bucket, group) that has traffic — the
pandas side (``_metrics_frame.py``) fills the buckets between.

Speed (1M traces, 2M spans): typed columns first — the window filters ``traces.start_ns``, and every
``spans`` scan is bounded by the window's spans (from ``since`` less the clock slack to the last
trace's end plus it) and by typed columns (``kind``, ``status``, ``parent_span_id``) before any JSON
is parsed; JSON is read only on the few spans a raw-text ``contains`` lets through. The group keys
that live on spans are joined per trace; the model, which every LLM span carries, is taken from the
one LLM span of a trace without an aggregate when ``traces.llm_calls`` says there is one.

No value of the caller's reaches this text: times, bucket sizes and tag names are bound as ``?``
parameters, in the order they appear (:class:`Sql` keeps the order); ``where`` is inserted only after
``_where.check_where`` accepted it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ._metrics_args import TAG_PREFIX, Window
from ._where import TRAFFIC, wrap

__all__ = ["CLOCK_SLACK_NS", "LLM_KINDS", "TTFT_ATTRIBUTE", "Plan", "Sql", "family_sql"]

#: how far a span may start outside its trace's [start, end] (clocks of other processes), as in store/_queries.py
CLOCK_SLACK_NS = 60 * 10**9
#: an assessment is made after its trace started; this much earlier still counts (clocks of other machines)
ASSESSMENT_SLACK_NS = 86_400 * 10**9
LLM_KINDS = "('LLM', 'CHAT_MODEL')"
TTFT_ATTRIBUTE = "llmops_nb.time_to_first_token_ms"  # set on streamed calls: integrations/_streams.py
_GUARDRAIL = "llmops_nb.guardrail."  # guardrails/_run.py


def _attr(name: str, column: str = "attributes") -> str:
    # try(): a payload cut short is not JSON, and one such span must not fail the whole series
    return f"try(json_extract_string({column}, '$.\"{name}\"'))"


@dataclass
class Sql:
    """SQL text and its ``?`` parameters, kept in the order the placeholders appear."""

    text: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)

    def add(self, text: str, *params: Any) -> Sql:
        if text.count("?") != len(params):  # our own text: every ? is a placeholder
            raise AssertionError(f"{text.count('?')} placeholders, {len(params)} values: {text}")
        return self.add_checked(text, params)

    def add_checked(self, text: str, params: Any) -> Sql:
        """Text whose placeholders were counted by DuckDB (``where=``: a '?' in a string literal is none)."""
        self.text.append(text)
        self.params.extend(params)
        return self

    def sql(self) -> str:
        return "".join(self.text)


@dataclass(frozen=True)
class Plan:
    """What the statements need: the window, the group keys (``by``) and the caller's condition."""

    window: Window
    keys: tuple[str, ...]
    where: str | None = None
    where_params: tuple[Any, ...] = ()

    @property
    def groups(self) -> list[str]:
        """The group columns of every statement's result: ``bucket`` (unless every=None), g0, g1, …"""
        return (["bucket"] if self.window.every_ns is not None else []) + [f"g{i}" for i in range(len(self.keys))]


# ------------------------------------------------------------------------------------------ the rows

#: what each family reads from a trace, computed in the first stage (from ``traces AS t``)
_FACTS = {
    "volume": {},
    "errors": {"_status": "t.status"},
    "latency": {"_lat": "(t.end_ns - t.start_ns) / 1e6"},
    "usage": {"_in": "t.input_tokens", "_out": "t.output_tokens", "_cost": "t.cost_usd"},
    "scores": {},
    "guardrails": {},
}
_TRACE_KEYS = {"name": "t.name", "status": "t.status", "session": "t.session"}
_TAG = "json_extract_string(t.tags, ?)"


def _json_path(key: str) -> str:
    return '$."' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _spans_window(alias: str) -> str:
    """The window's spans: from since less the slack to the last trace's end plus it (one ``?``: the start)."""
    return f"{alias}.start_ns >= ? AND {alias}.start_ns <= (SELECT hi FROM _mx_hi)"


# Span-derived keys, one row per trace. The user: OpenTelemetry's (and OpenInference's, and the
# gateway's) span attribute user.id, else the older enduser.id — the root's, else the earliest span's
# that has one — the attributes erase(user_id=...) finds by (store/_erase.py).
_USER = (f"SELECT trace_id, arg_min(v, (parent_span_id IS NOT NULL, start_ns, span_id)) AS v FROM ("
         "SELECT trace_id, parent_span_id, start_ns, span_id, "
         f"COALESCE({_attr('user.id')}, {_attr('enduser.id')}) AS v "
         f"FROM spans AS s WHERE contains(s.attributes, 'user.id\"') AND {_spans_window('s')}) "
         "WHERE v IS NOT NULL GROUP BY trace_id")


def _prompt_sql() -> tuple[str, str]:
    """The prompt: the first version the trace loaded or formatted — the first of llmops_nb.prompt.uris on
    its earliest span that has it (prompts/_link.py: a traced cell's root records every version its cell
    used); and its name@version from the URI (prompts:/qa/3 -> qa@3). Imported here: only by="prompt" needs it."""
    from ..prompts._link import URIS
    from ..prompts._refs import SCHEME

    per_trace = (f"SELECT trace_id, arg_min(v, (start_ns, span_id)) AS v FROM ("
                 f"SELECT trace_id, start_ns, span_id, try(json_extract_string(attributes, '$.\"{URIS}\"[0]')) AS v "
                 f"FROM spans AS s WHERE contains(s.attributes, '\"{URIS}\"') AND {_spans_window('s')}) "
                 "WHERE v IS NOT NULL GROUP BY trace_id")
    return per_trace, f"regexp_replace(kp.v, '^{SCHEME}(.+)/([0-9]+)$', '\\1@\\2')"


# The error's type: the root span's error JSON {type, message, traceback}; an ERROR without one is "Error".
_ERROR_TYPE = (f"SELECT trace_id, any_value({_attr('type', 'error')}) AS v FROM spans AS s "
               f"WHERE s.parent_span_id IS NULL AND s.status = 'ERROR' AND {_spans_window('s')} GROUP BY trace_id")


def _rows(plan: Plan, facts: dict[str, str], *, spans: bool = False, twice: bool = False) -> Sql:
    """``WITH … _mx_b AS (…)``: the traces of the window with bucket, keys and ``facts`` (see the module doc).

    ``spans``: the family reads spans too (the window's bound on them is needed); ``twice``: it reads
    ``_mx_b`` twice — computed once (MATERIALIZED) when span joins made it costly, else scanned twice.
    """
    window, keys = plan.window, plan.keys
    needs_type = "_status" in facts or "error_type" in keys
    first = window.since_ns - CLOCK_SLACK_NS  # the earliest start of a span of the window's traces
    q = Sql().add("WITH ")
    if spans or needs_type or any(k in ("user", "prompt", "model") for k in keys):
        q.add("_mx_hi AS (SELECT max(t.end_ns) + ? AS hi FROM traces AS t WHERE t.start_ns >= ? AND t.start_ns < ?),\n",
              CLOCK_SLACK_NS, window.since_ns, window.until_ns)
    # Stage 1: the traces, their bucket, the keys and facts on the traces row.
    stage1 = {**facts, **({"_status": "t.status"} if needs_type else {})}
    # NOT MATERIALIZED: a scan of typed columns is cheaper to repeat than a million rows to keep aside
    q.add("_mx_t AS NOT MATERIALIZED (SELECT t.trace_id, t.llm_calls")
    if window.every_ns is not None:
        q.add(", (t.start_ns // ?) * ? AS bucket", window.every_ns, window.every_ns)
    for column, expr in stage1.items():
        q.add(f", {expr} AS {column}")
    columns = ["trace_id", "llm_calls", *(["bucket"] if window.every_ns is not None else []), *stage1]
    for i, key in enumerate(keys):
        if key in _TRACE_KEYS:
            q.add(f", {_TRACE_KEYS[key]} AS g{i}")
            columns.append(f"g{i}")
        elif key.startswith(TAG_PREFIX):
            q.add(f", {_TAG} AS g{i}", _json_path(key[len(TAG_PREFIX):]))
            columns.append(f"g{i}")
        elif key == "user":  # the trace's tags first: a label the caller set on purpose
            q.add(f", COALESCE({_TAG}, {_TAG}) AS _user_tag", _json_path("user.id"), _json_path("user_id"))
    q.add(f"\nFROM traces AS t WHERE t.start_ns >= ? AND t.start_ns < ? AND t.end_ns IS NOT NULL AND {TRAFFIC}",
          window.since_ns, window.until_ns)
    if plan.where is not None:
        q.add_checked(" AND " + wrap(plan.where), plan.where_params)
    q.add("),\n")
    # Stage 2: keys from sparse spans (the user, the prompt, the error's type), each joined per trace.
    joins, stage2 = [], {}
    if "user" in keys:
        q.add(f"_mx_user AS ({_USER}),\n", first)
        joins.append("LEFT JOIN _mx_user AS ku ON ku.trace_id = r.trace_id")
        stage2[f"g{keys.index('user')}"] = "COALESCE(r._user_tag, ku.v)"
    if "prompt" in keys:
        per_trace, name = _prompt_sql()
        q.add(f"_mx_prompt AS ({per_trace}),\n", first)
        joins.append("LEFT JOIN _mx_prompt AS kp ON kp.trace_id = r.trace_id")
        stage2[f"g{keys.index('prompt')}"] = name
    source = "_mx_t"
    if joins:
        listed = ", ".join(f"r.{c}" for c in columns) + "".join(f", {e} AS {c}" for c, e in stage2.items())
        q.add(f"_mx_k AS (SELECT {listed} FROM _mx_t AS r {' '.join(joins)}),\n")
        columns += list(stage2)
        source = "_mx_k"
    if needs_type:  # only the failed traces (a tenth, say) look their type up: the others probe nothing
        q.add(f"_mx_etype AS ({_ERROR_TYPE}),\n", first)
        typed = ["_etype", *([f"g{keys.index('error_type')}"] if "error_type" in keys else [])]
        listed = ", ".join(f"r.{c}" for c in columns)
        unknown = "".join(f", NULL::VARCHAR AS {c}" for c in typed)
        named = "".join(f", COALESCE(ke.v, 'Error') AS {c}" for c in typed)  # ERROR without an exception: "Error"
        q.add(f"_mx_e AS (SELECT {listed}{unknown} FROM {source} AS r WHERE r._status IS DISTINCT FROM 'ERROR'\n"
              f"  UNION ALL SELECT {listed}{named} FROM {source} AS r "
              "LEFT JOIN _mx_etype AS ke ON ke.trace_id = r.trace_id WHERE r._status = 'ERROR'),\n")
        columns += typed
        source = "_mx_e"
    # Read twice: computed once when joins made it costly; else each reader scans traces again.
    materialized = ("MATERIALIZED " if source != "_mx_t" or "model" in keys else "NOT MATERIALIZED ") if twice else ""
    if "model" not in keys:
        return q.add(f"_mx_b AS {materialized}(SELECT * FROM {source})")
    # Stage 3: the model of the trace's first LLM span (by start, then span id). A trace with at most one
    # LLM call (traces.llm_calls) joins at most one span: its model needs no aggregate — the common case,
    # and at 1M traces the costly one; the others keep their first span's.
    model = f"g{keys.index('model')}"
    q.add(f"_mx_lm AS (SELECT r.*, s.model AS _m, s.start_ns AS _m_start, s.span_id AS _m_span FROM {source} AS r "
          f"LEFT JOIN spans AS s ON s.trace_id = r.trace_id AND s.kind IN {LLM_KINDS} AND s.model IS NOT NULL "
          f"AND {_spans_window('s')}),\n", first)
    others = ", ".join(f"any_value({c}) AS {c}" for c in columns if c != "trace_id")
    return q.add(f"_mx_b AS {materialized}(SELECT {', '.join(columns)}, _m AS {model} FROM _mx_lm WHERE llm_calls <= 1"
                 f"\n  UNION ALL SELECT trace_id, {others}, arg_min(_m, (_m_start, _m_span)) AS {model} "
                 "FROM _mx_lm WHERE llm_calls > 1 GROUP BY trace_id)")


# -------------------------------------------------------------------------------------- the families

# The raw-text test first: the JSON is parsed only for the spans that hold the attribute. (Reading the
# attributes text at all is most of this family's time at 1M calls: a typed column would make it cheap.)
_TTFT_SPANS = (f"SELECT s.trace_id, TRY_CAST({_attr(TTFT_ATTRIBUTE, 's.attributes')} AS DOUBLE) AS v FROM spans AS s "
               f"WHERE s.kind IN {LLM_KINDS} AND {_spans_window('s')} "
               f"AND contains(s.attributes, '\"{TTFT_ATTRIBUTE}\"')")
# The scores: per trace, name and target span the newest assessment only (a re-scored trace counts once).
_ASSESSMENTS = ("SELECT trace_id, name, arg_max({'v': value_number, 'p': passed, 'e': error IS NOT NULL}, "
                "(created_at, assessment_id)) AS x FROM assessments WHERE created_at >= make_timestamp(?) "
                "GROUP BY trace_id, name, target_span_id")
# A guardrail event: one GUARDRAIL span per validator run (guardrails/_run.py), not the span grouping a
# check() made outside any trace (it has a side but no validator name). It failed when the check did not
# pass (llmops_nb.guardrail.passed false: blocked, redacted, warned, or the check itself raised); a
# GUARDRAIL span of another library's, without that attribute, when its status is ERROR.
_GUARDRAILS = ("SELECT trace_id, count(*) AS n, count_if(failed) AS f FROM (SELECT trace_id, "
               f"COALESCE({_attr(_GUARDRAIL + 'passed')} = 'false', status = 'ERROR') AS failed "
               f"FROM spans AS s WHERE s.kind = 'GUARDRAIL' AND {_spans_window('s')} "
               f"AND NOT ({_attr(_GUARDRAIL + 'side')} IS NOT NULL AND {_attr(_GUARDRAIL + 'name')} IS NULL)) "
               "GROUP BY trace_id")


def family_sql(family: str, plan: Plan) -> Sql:
    """The one statement of ``family``: a row per (bucket, group) with traffic, grouped by ``plan.groups``.

    The families that read sparse rows (streamed calls, assessments, guardrail spans) keep a row for
    the traces without any, so that every group with traffic has its rows. Without groups an aggregate
    gives one row even over no traces: ``HAVING count(*) > 0`` drops it.
    """
    groups = plan.groups
    listed = "".join(f"{g}, " for g in groups)
    on_b = "".join(f"b.{g}, " for g in groups)
    by = f" GROUP BY {', '.join(groups)}" if groups else " HAVING count(*) > 0"
    first = plan.window.since_ns - CLOCK_SLACK_NS
    if family == "volume":
        return _rows(plan, _FACTS[family]).add(f"\nSELECT {listed}count(*) AS requests FROM _mx_b{by}")
    if family == "errors":  # per type (NULL: the traces that did not fail); the totals are summed in pandas
        return _rows(plan, _FACTS[family]).add(f"\nSELECT {listed}_etype AS error_type, count(*) AS n FROM _mx_b "
                                               f"GROUP BY {', '.join([*groups, '_etype'])}")
    if family == "usage":
        return _rows(plan, _FACTS[family]).add(
            f"\nSELECT {listed}CAST(sum(_in) AS BIGINT) AS input_tokens, CAST(sum(_out) AS BIGINT) AS output_tokens, "
            f"COALESCE(sum(_cost), 0.0) AS cost_usd FROM _mx_b{by}")
    if family == "latency":  # each trace's wall time, and each streamed LLM call's time to first token
        q = _rows(plan, _FACTS[family], spans=True, twice=True)
        q.add(f",\n_mx_ttft AS ({_TTFT_SPANS})", first)
        return q.add(f"\nSELECT {listed}lat[1] AS latency_p50_ms, lat[2] AS latency_p95_ms, lat[3] AS latency_p99_ms, "
                     f"ttft[1] AS ttft_p50_ms, ttft[2] AS ttft_p95_ms FROM (SELECT {listed}"
                     "quantile_cont(_lat, [0.5, 0.95, 0.99]) AS lat, quantile_cont(_ttft, [0.5, 0.95]) AS ttft FROM ("
                     f"SELECT {listed}_lat, NULL::DOUBLE AS _ttft FROM _mx_b UNION ALL SELECT {on_b}NULL, x.v "
                     f"FROM _mx_b AS b JOIN _mx_ttft AS x ON x.trace_id = b.trace_id){by})")
    by_b = f" GROUP BY {', '.join(f'b.{g}' for g in groups)}" if groups else " HAVING count(*) > 0"
    if family == "scores":  # a row per trace and assessment name, and one (name NULL) for a trace without any
        q = _rows(plan, _FACTS[family])
        q.add(f",\n_mx_a AS ({_ASSESSMENTS})", (plan.window.since_ns - ASSESSMENT_SLACK_NS) // 1000)
        return q.add(f"\nSELECT {on_b}a.name AS name, count(a.x.v) AS n, avg(a.x.v) AS mean, stddev_samp(a.x.v) AS sd, "
                     "count(a.x.p) AS passed_n, count_if(a.x.p) AS passed_k, count_if(a.x.e) AS errors "
                     "FROM _mx_b AS b LEFT JOIN _mx_a AS a ON a.trace_id = b.trace_id "
                     f"GROUP BY {', '.join([*(f'b.{g}' for g in groups), 'a.name'])}")
    if family == "guardrails":  # the guardrail spans counted per trace, then per group
        q = _rows(plan, _FACTS[family], spans=True)
        q.add(f",\n_mx_g AS ({_GUARDRAILS})", first)
        return q.add(f"\nSELECT {on_b}CAST(COALESCE(sum(g.n), 0) AS BIGINT) AS guardrail_events, "
                     "CAST(COALESCE(sum(g.f), 0) AS BIGINT) AS guardrail_failures "
                     f"FROM _mx_b AS b LEFT JOIN _mx_g AS g ON g.trace_id = b.trace_id{by_b}")
    raise AssertionError(f"no family {family!r}")
