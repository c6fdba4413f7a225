"""The reads behind an eval table's requests: a page of rows, one row's detail, the per-scorer summary
with its histograms, the ids of all matching rows, feedback history, known labels, runs to compare with.

Every call opens its own query, so one ``Reader`` serves the RPC pool's threads at once.
"""

from __future__ import annotations

from typing import Any

from ...evals._util import from_json
from ...store._connection import get_store
from . import _histogram as histograms
from ._filters import order_by, where_sql
from ._format import (
    CELL_DIFF_CHARS,
    DETAIL_CHARS,
    TIP_CHARS,
    clip,
    feedback_json,
    integer,
    iso,
    number,
    payload,
    preview,
    text_of,
    value_of,
    word_ops,
)
from ._sql import View, record_ids, word_sql

MAX_ROW_IDS = 100_000


class Reader:
    """The queries behind one table's requests (thread-safe: every call opens its own query)."""

    def __init__(self, view: View) -> None:
        self.view = view
        self._q, self._sql = view.relation()

    def query(self, tail: str = "", params: list[Any] | None = None, select: str = "*",
              select_params: list[Any] | None = None) -> list[dict[str, Any]]:
        """``SELECT select FROM (relation) t tail`` as dicts; parameters in textual order."""
        sql = f"SELECT {select} FROM ({self._sql}) t{tail}"
        with get_store().connect() as con:
            for name, table in self._q.tables.items():
                con.register(name, table)
            try:
                cursor = con.execute(sql, list(select_params or []) + self._q.params + list(params or []))
                names = [d[0] for d in cursor.description]
                return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
            finally:
                for name in self._q.tables:
                    con.unregister(name)

    # -- page ---------------------------------------------------------------------------
    def page(self, filters: dict[str, Any], sort: Any, offset: int, limit: int) -> dict[str, Any]:
        where, params = where_sql(filters, self.view)
        column, order, descending = order_by(sort, self.view)
        rows = self.query(f"{where} ORDER BY {order} LIMIT ? OFFSET ?", [*params, limit, offset])
        total = self.query(where, params, select="count(*) AS n")[0]["n"]
        return {"rows": [self.row_json(r) for r in rows], "total": int(total), "offset": offset, "limit": limit,
                "sort": {"column": column, "descending": descending}, "filters": filters}

    def row_json(self, r: dict[str, Any]) -> dict[str, Any]:
        tokens = total_tokens(r["input_tokens"], r["output_tokens"])
        out: dict[str, Any] = {
            "row": int(r["row_index"]), "record_id": r["record_id"], "trace_id": r["trace_id"],
            "inputs": preview(r["inputs"]), "outputs": preview(r["outputs"]),
            "expectations": preview(r["expectations"]), "error": clip(r["error"], TIP_CHARS),
            "latency_ms": number(r["latency_ms"]), "tokens": tokens, "cost_usd": number(r["cost_usd"]),
            "trace_tokens": integer(r["trace_tokens"]), "trace_cost_usd": number(r["trace_cost_usd"]),
            "feedback": feedback_json(r),
        }
        scores = []
        for s in self.view.scorers:
            i = s["index"]
            score = {"v": value_of(r[f"s{i}_v"]), "p": r[f"s{i}_p"], "r": clip(r[f"s{i}_r"], TIP_CHARS),
                     "e": clip(r[f"s{i}_e"], TIP_CHARS)}
            if self.view.compare:
                score.update({"bv": value_of(r[f"s{i}_bv"]), "bp": r[f"s{i}_bp"], "br": clip(r[f"s{i}_br"], TIP_CHARS),
                              "be": clip(r[f"s{i}_be"], TIP_CHARS), "d": number(r[f"s{i}_d"]), "o": r[f"s{i}_o"]})
            scores.append(score)
        out["scores"] = scores
        out.update(self.conversation(r))
        if self.view.compare:
            out["base"] = {"row": int(r["base_row"]), "trace_id": r["base_trace_id"],
                           "outputs": preview(r["base_outputs"]), "error": clip(r["base_error"], TIP_CHARS),
                           "latency_ms": number(r["base_latency_ms"]), "cost_usd": number(r["base_cost_usd"]),
                           "tokens": total_tokens(r["base_input_tokens"], r["base_output_tokens"])}
            out["diff"] = word_ops(text_of(r["base_outputs"], CELL_DIFF_CHARS),
                                   text_of(r["outputs"], CELL_DIFF_CHARS))
        return out

    def conversation(self, r: dict[str, Any]) -> dict[str, Any]:
        """A conversation row's ``session`` and ``turns`` (and in a comparison the baseline's
        ``base_session``); nothing for an ordinary run's row."""
        out = {c: integer(r[c]) if c == "turns" else r[c] for c in self.view.columns}
        if self.view.base_session:
            out["base_session"] = r["base_session"]
        return out

    def row_ids(self, filters: dict[str, Any], sort: Any) -> list[int]:
        where, params = where_sql(filters, self.view)
        _, order, _ = order_by(sort, self.view)
        rows = self.query(f"{where} ORDER BY {order} LIMIT ?", [*params, MAX_ROW_IDS], select="row_index")
        return [int(r["row_index"]) for r in rows]

    def one(self, row: int) -> dict[str, Any]:
        found = self.query(" WHERE row_index = ?", [row])
        if not found:
            raise LookupError(f"No row {row} in this evaluation table.")
        return found[0]

    # -- row detail -----------------------------------------------------------------------
    def detail(self, row: int) -> dict[str, Any]:
        r = self.one(row)
        out: dict[str, Any] = {
            "row": int(r["row_index"]), "record_id": r["record_id"], "trace_id": r["trace_id"],
            "inputs": payload(r["inputs"]), "outputs": payload(r["outputs"]),
            "expectations": payload(r["expectations"]), "error": r["error"],
            "latency_ms": number(r["latency_ms"]), "input_tokens": integer(r["input_tokens"]),
            "output_tokens": integer(r["output_tokens"]), "cost_usd": number(r["cost_usd"]),
            "trace_tokens": integer(r["trace_tokens"]), "trace_cost_usd": number(r["trace_cost_usd"]),
        }
        scores = []
        for s in self.view.scorers:
            i = s["index"]
            score = {"name": s["name"], "source": s["source"], "model": s["model"], "value": value_of(r[f"s{i}_v"],
                     DETAIL_CHARS), "pass": r[f"s{i}_p"], "rationale": r[f"s{i}_r"], "error": r[f"s{i}_e"],
                     "span_id": r[f"s{i}_span"]}
            if self.view.compare:
                score.update({"base_value": value_of(r[f"s{i}_bv"], DETAIL_CHARS), "base_pass": r[f"s{i}_bp"],
                              "base_rationale": r[f"s{i}_br"], "base_error": r[f"s{i}_be"],
                              "base_span_id": r[f"s{i}_bspan"], "delta": number(r[f"s{i}_d"]),
                              "outcome": r[f"s{i}_o"]})
            if self.view.conversations:
                score["per_turn"] = bool(s.get("per_turn"))
            scores.append(score)
        out["scores"] = scores
        out.update(self.conversation(r))
        out["feedback"] = feedback_history(r["trace_id"])
        if self.view.compare:
            out["base"] = {"row": int(r["base_row"]), "trace_id": r["base_trace_id"],
                           "outputs": payload(r["base_outputs"]), "error": r["base_error"],
                           "latency_ms": number(r["base_latency_ms"]), "cost_usd": number(r["base_cost_usd"]),
                           "input_tokens": integer(r["base_input_tokens"]),
                           "output_tokens": integer(r["base_output_tokens"])}
            out["diff"] = word_ops(text_of(r["base_outputs"], DETAIL_CHARS), text_of(r["outputs"], DETAIL_CHARS))
        return out

    # -- summary --------------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        """Per scorer: count, mean, pass rate, errors, missing, a histogram (and win/loss/tie in a
        comparison); rows, failed predictions and feedback given. One query, plus one per histogram
        of numbers or words."""
        select = ["count(*) AS total", "count(*) FILTER (WHERE error IS NOT NULL) AS row_errors",
                  "count(*) FILTER (WHERE fb_value = 'true') AS fb_up",
                  "count(*) FILTER (WHERE fb_value = 'false') AS fb_down",
                  "count(*) FILTER (WHERE fb_count > 0) AS fb_given", *usage_sql("", "u")]
        if self.view.compare:
            select += usage_sql("base_", "bu")
        stats = {
            "count": "count(*) FILTER (WHERE s{i}_v IS NOT NULL AND s{i}_v <> 'null')",
            "mean": "avg(s{i}_n)", "passed": "count(*) FILTER (WHERE s{i}_p)",
            "failed": "count(*) FILTER (WHERE s{i}_p = FALSE)", "errors": "count(*) FILTER (WHERE s{i}_e IS NOT NULL)",
            "missing": "count(*) FILTER (WHERE (s{i}_v IS NULL OR s{i}_v = 'null') AND s{i}_e IS NULL)",
            "trues": "count(*) FILTER (WHERE s{i}_v = 'true')", "falses": "count(*) FILTER (WHERE s{i}_v = 'false')",
            "numbers": "count(s{i}_n)", "distinct": "count(DISTINCT s{i}_n)", "lo": "min(s{i}_n)", "hi": "max(s{i}_n)",
            "texts": "count(*) FILTER (WHERE s{i}_v LIKE '\"%')",
        }
        if self.view.compare:
            stats.update({"win": "count(*) FILTER (WHERE s{i}_o = 'win')",
                          "loss": "count(*) FILTER (WHERE s{i}_o = 'loss')",
                          "tie": "count(*) FILTER (WHERE s{i}_o = 'tie')", "mean_baseline": "avg(s{i}_bnum)",
                          "mean_candidate": "avg(s{i}_num)"})
        for s in self.view.scorers:
            select += [f"{expr.format(i=s['index'])} AS s{s['index']}__{key}" for key, expr in stats.items()]
        found = self.query("", select=", ".join(select))[0]
        scorers = []
        for s in self.view.scorers:
            i = s["index"]
            got = {key: found[f"s{i}__{key}"] for key in stats}
            judged = got["passed"] + got["failed"]
            item = {"name": s["name"], "source": s["source"], "model": s["model"], "threshold": s["threshold"],
                    "lower_is_better": s["lower_is_better"], "count": int(got["count"]), "mean": number(got["mean"]),
                    "pass_rate": got["passed"] / judged if judged else None, "passed": int(got["passed"]),
                    "failed": int(got["failed"]), "errors": int(got["errors"]), "missing": int(got["missing"]),
                    "histogram": self.histogram(i, got, s["threshold"])}
            if self.view.compare:
                item.update({"win": int(got["win"]), "loss": int(got["loss"]), "tie": int(got["tie"]),
                             "mean_baseline": number(got["mean_baseline"]),
                             "mean_candidate": number(got["mean_candidate"])})
            scorers.append(item)
        out: dict[str, Any] = {"total": int(found["total"]), "scorers": scorers, "errors": int(found["row_errors"]),
                               "feedback": {"up": int(found["fb_up"]), "down": int(found["fb_down"]),
                                            "given": int(found["fb_given"])}}
        out["usage"] = usage_of(found, "u")
        if self.view.compare:
            out["base_usage"] = usage_of(found, "bu")
            out["only_in_baseline"], out["only_in_candidate"] = self.unmatched()
        return out

    def histogram(self, i: int, got: dict[str, Any], threshold: float | None = None) -> dict[str, Any]:
        """Bars of a scorer's values placed on their axis (``_histogram``): false/true for booleans, a
        bar per value when there are few, else even bins; the most frequent words for text values."""
        bools = got["trues"] + got["falses"]
        if bools and bools == got["numbers"]:
            return histograms.categorical([{"label": "false", "count": int(got["falses"]), "result": "fail"},
                                           {"label": "true", "count": int(got["trues"]), "result": "pass"}], "bool")
        if got["numbers"] and got["distinct"] <= histograms.FEW_VALUES:
            rows = self.query(f" WHERE s{i}_n IS NOT NULL GROUP BY 1 ORDER BY 1", select=f"s{i}_n AS k, count(*) AS n")
            return histograms.points([(float(r["k"]), int(r["n"])) for r in rows], threshold)
        if got["numbers"]:
            lo, hi = float(got["lo"]), float(got["hi"])
            start, width = histograms.bin_edges(lo, hi)
            rows = self.query(f" WHERE s{i}_n IS NOT NULL GROUP BY 1", select_params=[start, width],
                              select=f"least(greatest(floor((s{i}_n - ?) / ?), 0), {histograms.BINS - 1})::INTEGER "
                                     "AS k, count(*) AS n")
            return histograms.ranges(lo, hi, {int(r["k"]): int(r["n"]) for r in rows}, threshold)
        if got["texts"]:
            rows = self.query(f" WHERE s{i}_v LIKE '\"%' GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 8",
                              select=f"{word_sql(i)} AS k, count(*) AS n")
            return histograms.categorical([{"label": clip(r["k"], 40) or "", "count": int(r["n"])} for r in rows],
                                          "labels")
        return histograms.empty()

    def unmatched(self) -> tuple[int, int]:
        """Rows of the baseline with no match in the candidate (by record_id), and the other way round."""
        assert self.view.baseline is not None
        a_ids, b_ids = record_ids(self.view.baseline), record_ids(self.view.candidate)
        return len(a_ids - b_ids), len(b_ids - a_ids)



def total_tokens(input_tokens: Any, output_tokens: Any) -> int | None:
    if input_tokens is None and output_tokens is None:
        return None
    return int(input_tokens or 0) + int(output_tokens or 0)


def usage_sql(prefix: str, alias: str) -> list[str]:
    """A side's latency, tokens and cost over the table's rows (``prefix`` "base_": the baseline's)."""
    tokens = f"coalesce({prefix}input_tokens, 0) + coalesce({prefix}output_tokens, 0)"
    known = f"{prefix}input_tokens IS NOT NULL OR {prefix}output_tokens IS NOT NULL"
    out = [f"avg({prefix}latency_ms) AS {alias}_latency", f"sum({tokens}) FILTER (WHERE {known}) AS {alias}_tokens",
           f"sum({prefix}cost_usd) AS {alias}_cost"]
    if not prefix:  # the baseline's trace totals are not joined: only the table's own trace is
        out.append(f"sum(trace_cost_usd) AS {alias}_trace_cost")
    return out


def usage_of(found: dict[str, Any], alias: str) -> dict[str, Any]:
    """Mean latency, total tokens and total cost of a side (the app's spans; ``trace_cost_usd``: the
    whole row traces', judges included)."""
    out = {"latency_ms": number(found[f"{alias}_latency"]), "tokens": integer(found[f"{alias}_tokens"]),
           "cost_usd": number(found[f"{alias}_cost"])}
    if f"{alias}_trace_cost" in found:
        out["trace_cost_usd"] = number(found[f"{alias}_trace_cost"])
    return out


def feedback_history(trace_id: str | None) -> list[dict[str, Any]]:
    """Every piece of human feedback on a trace, newest first."""
    if not trace_id:
        return []
    with get_store().connect() as con:
        rows = con.execute("SELECT name, value, label, rationale, source_id, created_at, run_id, row_index "
                           "FROM assessments WHERE trace_id = ? AND source_type = 'HUMAN' "
                           "ORDER BY created_at DESC, assessment_id LIMIT 200", [trace_id]).fetchall()
    return [{"name": n, "value": from_json(v), "label": label, "comment": c, "author": a, "at": iso(t),
             "run_id": run, "row": row} for n, v, label, c, a, t, run, row in rows]


def known_labels(limit: int = 30) -> list[str]:
    """Labels people gave before, most used first (the feedback form suggests them)."""
    with get_store().connect() as con:
        rows = con.execute("SELECT label FROM assessments WHERE source_type = 'HUMAN' AND label IS NOT NULL "
                           "GROUP BY label ORDER BY count(*) DESC, label LIMIT ?", [limit]).fetchall()
    return [r[0] for r in rows]


def list_runs(exclude: str | None, record_ids: list[str], limit: int = 50) -> list[dict[str, Any]]:
    """Stored runs to compare against, those sharing rows (record_id) with this table first."""
    with get_store().connect() as con:
        rows = con.execute(
            """
            WITH mine AS (SELECT DISTINCT unnest(?::VARCHAR[]) AS record_id),
                 shared AS (SELECT e.run_id, count(DISTINCT e.record_id) AS n FROM eval_results e
                            JOIN mine m ON m.record_id = e.record_id GROUP BY e.run_id)
            SELECT r.run_id, r.name, r.status, r.started_at, r.rows_done, r.dataset_name, r.dataset_version,
                   coalesce(s.n, 0) AS shared
            FROM eval_runs r LEFT JOIN shared s ON s.run_id = r.run_id
            WHERE r.run_id <> ? ORDER BY coalesce(s.n, 0) > 0 DESC, r.started_at DESC LIMIT ?
            """, [record_ids, exclude or "", limit]).fetchall()
    return [{"run_id": run_id, "name": name, "status": status, "started_at": iso(started), "rows": int(done or 0),
             "dataset": {"name": ds, "version": ver} if ds else None, "shared": int(shared)}
            for run_id, name, status, started, done, ds, ver, shared in rows]
