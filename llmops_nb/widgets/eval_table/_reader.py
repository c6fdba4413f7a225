"""The reads behind an eval table's requests: a page of rows, one row's detail, the per-scorer summary
with its histograms, the ids of all matching rows, feedback history, known labels, runs to compare with.

Every call opens its own query, so one ``Reader`` serves the RPC pool's threads at once.
"""

from __future__ import annotations

from typing import Any

from ...evals._util import from_json
from ...store._connection import get_store
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
    short_number,
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
        tokens = None if r["input_tokens"] is None and r["output_tokens"] is None else \
            int(r["input_tokens"] or 0) + int(r["output_tokens"] or 0)
        out: dict[str, Any] = {
            "row": int(r["row_index"]), "record_id": r["record_id"], "trace_id": r["trace_id"],
            "inputs": preview(r["inputs"]), "outputs": preview(r["outputs"]),
            "expectations": preview(r["expectations"]), "error": clip(r["error"], TIP_CHARS),
            "latency_ms": number(r["latency_ms"]), "tokens": tokens, "cost_usd": number(r["cost_usd"]),
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
        if self.view.compare:
            out["base"] = {"row": int(r["base_row"]), "trace_id": r["base_trace_id"],
                           "outputs": preview(r["base_outputs"]), "error": clip(r["base_error"], TIP_CHARS)}
            out["diff"] = word_ops(text_of(r["base_outputs"], CELL_DIFF_CHARS),
                                   text_of(r["outputs"], CELL_DIFF_CHARS))
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
            scores.append(score)
        out["scores"] = scores
        out["feedback"] = feedback_history(r["trace_id"])
        if self.view.compare:
            out["base"] = {"row": int(r["base_row"]), "trace_id": r["base_trace_id"],
                           "outputs": payload(r["base_outputs"]), "error": r["base_error"],
                           "latency_ms": number(r["base_latency_ms"])}
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
                  "count(*) FILTER (WHERE fb_count > 0) AS fb_given"]
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
                    "histogram": self.histogram(i, got)}
            if self.view.compare:
                item.update({"win": int(got["win"]), "loss": int(got["loss"]), "tie": int(got["tie"]),
                             "mean_baseline": number(got["mean_baseline"]),
                             "mean_candidate": number(got["mean_candidate"])})
            scorers.append(item)
        out: dict[str, Any] = {"total": int(found["total"]), "scorers": scorers, "errors": int(found["row_errors"]),
                               "feedback": {"up": int(found["fb_up"]), "down": int(found["fb_down"]),
                                            "given": int(found["fb_given"])}}
        if self.view.compare:
            out["only_in_baseline"], out["only_in_candidate"] = self.unmatched()
        return out

    def histogram(self, i: int, got: dict[str, Any]) -> dict[str, Any]:
        """Bars of a scorer's values: false/true for booleans, each value when there are few, else 10
        even bins; the most frequent words for text values."""
        bools = got["trues"] + got["falses"]
        if bools and bools == got["numbers"]:
            return {"kind": "bool", "bins": [{"label": "false", "count": int(got["falses"]), "result": "fail"},
                                             {"label": "true", "count": int(got["trues"]), "result": "pass"}]}
        if got["numbers"] and got["distinct"] <= 12:
            rows = self.query(f" WHERE s{i}_n IS NOT NULL GROUP BY 1 ORDER BY 1", select=f"s{i}_n AS k, count(*) AS n")
            return {"kind": "values", "bins": [{"label": short_number(r["k"]), "count": int(r["n"]),
                                                "lo": number(r["k"]), "hi": number(r["k"])} for r in rows]}
        if got["numbers"]:
            lo, hi = float(got["lo"]), float(got["hi"])
            width = (hi - lo) / 10 or 1.0
            rows = self.query(f" WHERE s{i}_n IS NOT NULL GROUP BY 1", select_params=[lo, width],
                              select=f"least(floor((s{i}_n - ?) / ?), 9)::INTEGER AS k, count(*) AS n")
            counts = {int(r["k"]): int(r["n"]) for r in rows}
            return {"kind": "bins", "bins": [{"label": f"{short_number(lo + k * width)}–"
                                                       f"{short_number(lo + (k + 1) * width)}",
                                              "count": counts.get(k, 0), "lo": lo + k * width,
                                              "hi": lo + (k + 1) * width} for k in range(10)]}
        if got["texts"]:
            rows = self.query(f" WHERE s{i}_v LIKE '\"%' GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 8",
                              select=f"{word_sql(i)} AS k, count(*) AS n")
            return {"kind": "labels", "bins": [{"label": clip(r["k"], 40) or "", "count": int(r["n"])} for r in rows]}
        return {"kind": "none", "bins": []}

    def unmatched(self) -> tuple[int, int]:
        """Rows of the baseline with no match in the candidate (by record_id), and the other way round."""
        assert self.view.baseline is not None
        a_ids, b_ids = record_ids(self.view.baseline), record_ids(self.view.candidate)
        return len(a_ids - b_ids), len(b_ids - a_ids)



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
