"""The SQL of an eval table: every row of one run, or two runs joined on ``record_id``, with per scorer
its value, number, pass/fail (``assessments.passed``, decided when the assessment was stored), and
in a comparison the delta and win/loss/tie (the rules of :func:`llmops_nb.evals.compare_runs`), plus
the latest human feedback per trace and the row trace's total tokens and cost. A run over
conversations adds its ``session`` and ``turns`` columns (``_sides.CONVERSATION_COLUMNS``), in a
comparison the baseline's ``base_session`` too.
"""

from __future__ import annotations

from typing import Any

from ..._errors import did_you_mean
from ...store._connection import get_store
from ._sides import Side

FEEDBACK_NAME = "human_feedback"


class Query:
    """SQL text with its parameters in textual order, and the Arrow tables it needs registered."""

    def __init__(self) -> None:
        self.params: list[Any] = []
        self.tables: dict[str, Any] = {}

    def side_sql(self, side: Side) -> str:
        """The side's rows with uniform columns: per scorer ``s{i}_v`` (value JSON), ``_n`` (as a number),
        ``_p`` (passed), ``_r`` (rationale), ``_e`` (error), ``_span``, and ``_num`` (the value compared);
        then the side's conversation columns."""
        if side.stored:
            inner = self._stored_sql(side)
        else:
            name = f"_llmops_eval_{id(side)}"
            self.tables[name] = side.table
            inner = f"SELECT * FROM {name}"
        extra = [f"{num_sql(i)} AS s{i}_num" for i in range(len(side.scorers))]
        return f"SELECT *{''.join(', ' + e for e in extra)} FROM ({inner})"

    def _stored_sql(self, side: Side) -> str:
        pivots = []
        for i, scorer in enumerate(side.scorers):
            for col, source in (("v", "value"), ("n", "value_number"), ("p", "passed"), ("r", "rationale"),
                                ("e", "error"), ("span", "span_id")):
                pivots.append(f"any_value({source}) FILTER (WHERE name = ?) AS s{i}_{col}")
                self.params.append(scorer["name"])
        scores = [f"a.s{i}_{c}" for i in range(len(side.scorers)) for c in ("v", "n", "p", "r", "e", "span")]
        sql = ("SELECT r.row_index::BIGINT AS row_index, r.record_id, r.trace_id, r.inputs, r.outputs, "
               "r.expectations, r.latency_ms, r.input_tokens, r.output_tokens, r.cost_usd, r.error"
               + "".join(", " + s for s in scores) + "".join(", " + CONVERSATION_SQL[c] for c in side.columns)
               + " FROM eval_results r")
        if pivots:
            sql += (f" LEFT JOIN (SELECT row_index, {', '.join(pivots)} FROM assessments WHERE run_id = ? "
                    "AND source_type <> 'HUMAN' GROUP BY row_index) a ON a.row_index = r.row_index")
            self.params.append(side.run_id)
        sql += " WHERE r.run_id = ?"
        self.params.append(side.run_id)
        if side.rows is not None:
            sql += " AND r.row_index IN (SELECT unnest(?::BIGINT[]))"
            self.params.append(side.rows)
        return sql

    def run_get(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        """Run ``sql`` (built from this query's pieces) on the store; ``params`` follow this query's."""
        with get_store().connect() as con:
            for name, table in self.tables.items():
                con.register(name, table)
            try:
                return con.execute(sql, self.params + list(params or [])).fetchall()
            finally:
                for name in self.tables:
                    con.unregister(name)


#: a stored conversation row's columns, from what evaluate() stored in its outputs
CONVERSATION_SQL = {"session": "json_extract_string(r.outputs, '$.session') AS session",
                    "turns": "TRY_CAST(json_extract_string(r.outputs, '$.turns') AS BIGINT) AS turns"}


def word_sql(i: int) -> str:
    return f"lower(trim(try(json_extract_string(s{i}_v, '$')), ' \t\n\r'))"


def num_sql(i: int) -> str:
    # compare_runs' reading of a value as a number: booleans 1/0, numbers, a pass/fail word as its stored
    # verdict 1/0, numeric text
    return (f"COALESCE(s{i}_n, CASE WHEN s{i}_v LIKE '\"%' THEN COALESCE(s{i}_p::DOUBLE, "
            f"TRY_CAST({word_sql(i)} AS DOUBLE)) END)")


FEEDBACK_SQL = """
SELECT trace_id,
       arg_max(value, created_at) FILTER (WHERE value IS NOT NULL) AS fb_value,
       arg_max(label, created_at) FILTER (WHERE label IS NOT NULL) AS fb_label,
       arg_max(rationale, created_at) FILTER (WHERE rationale IS NOT NULL) AS fb_comment,
       arg_max(source_id, created_at) AS fb_author, max(created_at) AS fb_at, count(*) AS fb_count
FROM assessments WHERE source_type = 'HUMAN' AND name = ? GROUP BY trace_id
"""


TRACE_USAGE = ("tr.input_tokens + tr.output_tokens AS trace_tokens, tr.cost_usd AS trace_cost_usd")


class View:
    """The rows a table shows: one side, or a candidate compared with a baseline on ``record_id``."""

    def __init__(self, candidate: Side, baseline: Side | None = None) -> None:
        self.candidate, self.baseline = candidate, baseline
        if baseline is None:
            self.scorers = [{**s, "index": i} for i, s in enumerate(candidate.scorers)]
        else:
            base_index = {s["name"]: i for i, s in enumerate(baseline.scorers)}
            self.scorers = []
            for i, s in enumerate(candidate.scorers):
                if s["name"] in base_index:
                    j = base_index[s["name"]]
                    lower = s["lower_is_better"] or baseline.scorers[j]["lower_is_better"]
                    self.scorers.append({**s, "index": i, "base_index": j, "lower_is_better": lower})

    @property
    def compare(self) -> bool:
        return self.baseline is not None

    @property
    def columns(self) -> tuple[str, ...]:
        """The conversation columns the rows have (the candidate's); empty for an ordinary run."""
        return self.candidate.columns

    @property
    def conversations(self) -> bool:
        return self.candidate.conversations

    @property
    def base_session(self) -> bool:
        """Whether a row has the baseline's conversation too (``base_session``)."""
        return self.baseline is not None and self.baseline.conversations

    def relation(self) -> tuple[Query, str]:
        """SQL of every row with the latest human feedback joined on trace id: ``SELECT ... FROM (...) t``."""
        q = Query()
        if self.baseline is None:
            rows = q.side_sql(self.candidate)
        else:
            a_sql = q.side_sql(self.baseline)
            b_sql = q.side_sql(self.candidate)
            cols = ["b.row_index", "b.record_id", "b.trace_id", "b.inputs", "b.outputs", "b.expectations",
                    "b.latency_ms", "b.input_tokens", "b.output_tokens", "b.cost_usd", "b.error",
                    "a.row_index AS base_row", "a.trace_id AS base_trace_id", "a.outputs AS base_outputs",
                    "a.error AS base_error", "a.latency_ms AS base_latency_ms",
                    "a.input_tokens AS base_input_tokens", "a.output_tokens AS base_output_tokens",
                    "a.cost_usd AS base_cost_usd"]
            cols += [f"b.{c}" for c in self.columns] + (["a.session AS base_session"] if self.base_session else [])
            for s in self.scorers:
                i, j = s["index"], s["base_index"]
                cols += [f"b.s{i}_{c} AS s{i}_{c}" for c in ("v", "n", "r", "e", "span", "num", "p")]
                cols += [f"a.s{j}_{c} AS s{i}_b{c}" for c in ("v", "r", "e", "span", "num", "p")]
                delta = f"(b.s{i}_num - a.s{j}_num)"
                lower = "TRUE" if s["lower_is_better"] else "FALSE"
                cols += [f"{delta} AS s{i}_d",
                         f"CASE WHEN {delta} IS NULL THEN NULL WHEN {delta} = 0 THEN 'tie' "
                         f"WHEN ({delta} < 0) = {lower} THEN 'win' ELSE 'loss' END AS s{i}_o"]
            rows = f"SELECT {', '.join(cols)} FROM ({a_sql}) a JOIN ({b_sql}) b ON a.record_id = b.record_id"
        q.params.append(FEEDBACK_NAME)
        # the whole row trace's tokens and cost (the scorers' judge calls too), beside the app's own
        sql = (f"SELECT t.*, f.* EXCLUDE (trace_id), {TRACE_USAGE} FROM ({rows}) t "
               f"LEFT JOIN ({FEEDBACK_SQL}) f USING (trace_id) LEFT JOIN traces tr ON tr.trace_id = t.trace_id")
        return q, sql

    def scorer(self, name: Any) -> dict[str, Any]:
        for s in self.scorers:
            if s["name"] == name:
                return s
        names = [s["name"] for s in self.scorers]
        raise ValueError(f"no scorer {name!r} in this table.{did_you_mean(name, names)} "
                         f"Scorers: {', '.join(names) or 'none'}.")


def record_ids(side: Side) -> set[str | None]:
    """The ``record_id`` of every row of a side (to count the rows another run does not share)."""
    q = Query()
    sql = q.side_sql(side)
    return {r[0] for r in q.run_get(f"SELECT record_id FROM ({sql})")}
