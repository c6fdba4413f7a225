"""``EvalTable``: an evaluation result — or two runs side by side — as a table under the cell.

Where the rows come from (decided here, once for every request):

* **A stored run** — ``evaluate()`` stores every run, so its DataFrame's ``attrs["run_id"]`` is found in
  the store's ``eval_runs`` — is read from DuckDB: ``eval_results`` joined with the run's
  ``assessments`` pivoted per scorer, filtered, sorted and paged by SQL (100 rows a request, the next
  page prefetched by the view). Nothing is copied into the kernel, and what the view shows is what
  the file holds: feedback given in the view, or by ``log_feedback()`` in another cell, appears on
  the next read. A DataFrame sliced from a stored result (``df[df["correctness/value"] == False]``
  keeps its ``attrs``) shows only its own rows, matched by index and trace id.
* **Any other DataFrame** with ``evaluate()``'s columns (a run kept in another store file, a frame
  whose index no longer matches its run, your own results with ``<scorer>/value`` columns) is served
  from the DataFrame itself: converted once to an Arrow table of the same columns and queried by the
  same SQL, so both kinds sort, filter and page alike.

Human feedback (thumbs, a label, a comment) is written with :func:`llmops_nb.evals.log_feedback`
(source HUMAN, with its author and time, tied to the run and row) and read back from the store's
``assessments`` by trace id, newest per field. Two runs compare row by row on ``record_id``, with the
same rules as :func:`llmops_nb.evals.compare_runs` (a test keeps them equal): per scorer the delta,
and win/loss/tie from the candidate's side; outputs are diffed word by word with ``llmops_nb.diff``.

The view (``js/eval_table.js``) asks through ``_rpc``: ``info``, ``summary``, ``page``, ``row``,
``row_ids``, ``runs``, ``feedback``, ``to_dataset``, and the explorer's ``skeleton``/``span``/``search``
for the trace a row opens. Every request names the run it compares against (``compare``), so an
answer never depends on which traitlet change reached the kernel first. Traitlets hold view state
only (filters, sort, the selection, the open row and its explorer state); rows are never synced.

>>> import llmops_nb
>>> df = llmops_nb.evaluate(data, predict_fn=app, scorers=[...])  # doctest: +SKIP
>>> llmops_nb.widgets.EvalTable(df, compare_to=baseline_df)  # doctest: +SKIP
"""

from __future__ import annotations

import difflib
import html
import itertools
import json
import math
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anywidget
import traitlets

from ..evals._scorer import FAIL_WORDS, PASS_WORDS
from ..evals._util import author as current_user
from ..evals._util import from_json, is_missing, to_json
from ..store._connection import get_store
from ..store._queries import _escape_like
from ._explorer import explorer_methods
from ._rpc import Methods, RpcServer, attach

__all__ = ["EvalTable", "EvalTableSnapshot", "display_after_evaluate", "display_eval", "eval_table",
           "is_eval_frame"]

STATIC = Path(__file__).resolve().parent.parent / "static"
ESM = STATIC / "eval_table.js"
CSS = STATIC / "eval_table.css"

PAGE_SIZE = 100
MAX_LIMIT = 1000
MAX_FILTER_CHARS = 1000
MAX_ROW_IDS = 100_000
PREVIEW_CHARS = 300  # a cell's text
TIP_CHARS = 1000  # a rationale or error in a cell's tooltip
CELL_DIFF_CHARS = 2000  # the outputs diffed word by word in a compare row
DETAIL_CHARS = 200_000  # a payload in the row detail
SNAPSHOT_ROWS = 50
FEEDBACK_NAME = "human_feedback"

FILTERS = ("text", "scorer", "result", "feedback", "errors")
RESULTS = ("pass", "fail", "error", "missing", "win", "loss", "tie")
FEEDBACK_FILTERS = ("up", "down", "any", "none")
BASE_SORTS = ("row", "latency", "tokens", "cost", "error", "feedback")

_WORDS_SQL = {"pass": ", ".join(f"'{w}'" for w in sorted(PASS_WORDS)),
              "fail": ", ".join(f"'{w}'" for w in sorted(FAIL_WORDS))}
_TABLES = itertools.count()


# ------------------------------------------------------------------------------------------ sides

@dataclass
class Side:
    """One run as the table reads it: stored in this store (``run_id``), or a DataFrame (``frame``)."""

    key: str  # the run id, or "frame:N" for a DataFrame that is not a stored run
    name: str
    scorers: list[dict[str, Any]]
    run_id: str | None = None  # set when the rows are read from the store
    status: str | None = None
    started_at: str | None = None
    dataset: dict[str, Any] | None = None
    rows: list[int] | None = None  # a stored run seen through a slice of its DataFrame: only these rows
    frame: Any = None  # the DataFrame, when the rows come from it
    table: Any = None  # its Arrow table (built once)
    labels: list[Any] = field(default_factory=list)  # frame index label of each position
    frame_run_id: str | None = None  # attrs["run_id"] of a frame not in this store

    @property
    def stored(self) -> bool:
        return self.run_id is not None

    def facts(self) -> dict[str, Any]:
        return {"key": self.key, "run_id": self.run_id or self.frame_run_id, "name": self.name,
                "status": self.status, "started_at": self.started_at, "dataset": self.dataset,
                "stored": self.stored, "scorers": [s["name"] for s in self.scorers]}


def is_eval_frame(obj: Any) -> bool:
    """Whether ``obj`` looks like what ``evaluate()`` or ``compare_runs()`` returns (a DataFrame with a
    run id in ``attrs``, or ``<scorer>/value`` columns)."""
    if not (hasattr(obj, "columns") and hasattr(obj, "attrs")):
        return False
    attrs = getattr(obj, "attrs", {}) or {}
    if attrs.get("run_id") or (attrs.get("baseline") and attrs.get("candidate")):
        return True
    return any(str(c).endswith("/value") for c in obj.columns)


def side_of(results: Any, key: str | None = None) -> Side:
    """The :class:`Side` for a run id, an ``evaluate()`` DataFrame, or any frame of its columns."""
    if isinstance(results, str):
        return _stored_side(_check_run_id(results))
    if not (hasattr(results, "columns") and hasattr(results, "index")):
        raise TypeError(f"EvalTable shows an evaluate() DataFrame or a run id; got {type(results).__name__}.")
    run_id = (results.attrs or {}).get("run_id")
    if isinstance(run_id, str) and run_id:
        stored = _stored_rows(run_id)
        if stored is not None:
            rows = _matching_rows(results, stored)
            if rows is not None:
                side = _stored_side(run_id)
                side.rows = None if len(rows) == len(stored) else rows
                return side
    return _frame_side(results, key or f"frame:{next(_TABLES)}")


def _check_run_id(run_id: str) -> str:
    value = run_id.strip().lower()
    if len(value) != 32 or not set(value) <= set("0123456789abcdef"):
        raise ValueError(f"Expected a run id of 32 hex characters, got {run_id!r}; see llmops_nb.eval_runs().run_id.")
    return value


def _stored_rows(run_id: str) -> dict[int, str | None] | None:
    with get_store().connect() as con:
        if con.execute("SELECT count(*) FROM eval_runs WHERE run_id = ?", [run_id]).fetchone()[0] == 0:
            return None
        found = con.execute("SELECT row_index, trace_id FROM eval_results WHERE run_id = ?", [run_id]).fetchall()
    return {int(r): t for r, t in found}


def _matching_rows(frame: Any, stored: dict[int, str | None]) -> list[int] | None:
    """The stored rows a DataFrame shows, or None when its index or trace ids do not match the run."""
    rows = []
    traces = list(frame["trace_id"]) if "trace_id" in frame.columns else [None] * len(frame)
    for label, trace_id in zip(frame.index, traces, strict=True):
        if isinstance(label, bool) or (not isinstance(label, int) and not hasattr(label, "__index__")):
            return None
        index = int(label)
        if index not in stored or (trace_id is not None and not is_missing(trace_id) and stored[index] != trace_id):
            return None
        rows.append(index)
    return rows if len(set(rows)) == len(rows) else None


def _stored_side(run_id: str) -> Side:
    with get_store().connect() as con:
        found = con.execute("SELECT name, status, started_at, scorers, dataset_name, dataset_version FROM eval_runs "
                            "WHERE run_id = ?", [run_id]).fetchone()
    if found is None:
        raise LookupError(f"No evaluation run {run_id!r} in the store ({get_store().path}); "
                          "see llmops_nb.eval_runs().run_id.")
    name, status, started, scorers, dataset_name, dataset_version = found
    return Side(key=run_id, run_id=run_id, name=str(name), status=status, started_at=_iso(started),
                scorers=_scorer_list(from_json(scorers)),
                dataset={"name": dataset_name, "version": dataset_version} if dataset_name else None)


def _scorer_list(described: Any, names: list[str] | None = None) -> list[dict[str, Any]]:
    """Scorer facts (name, source, model, threshold, lower_is_better) in order, one per name."""
    out: dict[str, dict[str, Any]] = {}
    for item in described if isinstance(described, list) else []:
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            threshold = item.get("threshold")
            try:
                threshold = float(threshold) if threshold is not None else None
            except (TypeError, ValueError):
                threshold = None
            if threshold is not None and not math.isfinite(threshold):
                threshold = None
            out.setdefault(item["name"], {"name": item["name"], "source": str(item.get("source") or "CODE"),
                                          "model": item.get("model"), "threshold": threshold,
                                          "lower_is_better": bool(item.get("lower_is_better"))})
    for name in names or []:
        out.setdefault(name, {"name": name, "source": "CODE", "model": None, "threshold": None,
                              "lower_is_better": False})
    if names is not None:
        return [out[n] for n in names]
    return list(out.values())


def _frame_side(frame: Any, key: str) -> Side:
    import pyarrow as pa

    names = [str(c)[:-6] for c in frame.columns if str(c).endswith("/value")]
    if not names and "outputs" not in frame.columns:
        raise ValueError("This DataFrame has neither an outputs column nor <scorer>/value columns: pass what "
                         "llmops_nb.evaluate() returned (or its run id).")
    attrs = frame.attrs or {}
    scorers = _scorer_list(attrs.get("scorers"), names)
    n = len(frame)

    def column(name: str) -> list[Any]:
        return list(frame[name]) if name in frame.columns else [None] * n

    def text(values: list[Any]) -> list[str | None]:
        return [None if is_missing(v) else str(v) for v in values]

    columns: dict[str, Any] = {
        "row_index": pa.array(range(n), pa.int64()),
        "record_id": pa.array(text(column("record_id")), pa.string()),
        "trace_id": pa.array(text(column("trace_id")), pa.string()),
        "inputs": pa.array([_json_text(v) for v in column("inputs")], pa.string()),
        "outputs": pa.array([_json_text(v) for v in column("outputs")], pa.string()),
        "expectations": pa.array([_json_text(v) for v in column("expectations")], pa.string()),
        "latency_ms": pa.array([_number(v) for v in column("latency_ms")], pa.float64()),
        "input_tokens": pa.array([_integer(v) for v in column("input_tokens")], pa.int64()),
        "output_tokens": pa.array([_integer(v) for v in column("output_tokens")], pa.int64()),
        "cost_usd": pa.array([_number(v) for v in column("cost_usd")], pa.float64()),
        "error": pa.array(text(column("error")), pa.string()),
    }
    for i, scorer in enumerate(scorers):
        values = column(f"{scorer['name']}/value")
        columns[f"s{i}_v"] = pa.array([_json_text(v) for v in values], pa.string())
        columns[f"s{i}_n"] = pa.array([_value_number(v) for v in values], pa.float64())
        columns[f"s{i}_r"] = pa.array(text(column(f"{scorer['name']}/rationale")), pa.string())
        columns[f"s{i}_e"] = pa.array(text(column(f"{scorer['name']}/error")), pa.string())
        columns[f"s{i}_span"] = pa.array([None] * n, pa.string())
    run_id = attrs.get("run_id") if isinstance(attrs.get("run_id"), str) else None
    dataset = attrs.get("dataset") if isinstance(attrs.get("dataset"), dict) else None
    return Side(key=key, name=str(attrs.get("name") or "evaluation"), scorers=scorers,
                status=attrs.get("status") if isinstance(attrs.get("status"), str) else None, dataset=dataset,
                frame=frame, table=pa.table(columns), labels=list(frame.index), frame_run_id=run_id)


def _json_text(value: Any) -> str | None:
    if value is None or is_missing(value):
        return None
    if hasattr(value, "item") and callable(value.item) and not isinstance(value, (list, dict)):
        try:
            value = value.item()  # numpy scalars
        except (TypeError, ValueError):
            pass
    return to_json(value)


def _value_number(value: Any) -> float | None:
    if hasattr(value, "item") and callable(value.item) and not isinstance(value, (list, dict, str)):
        try:
            value = value.item()
        except (TypeError, ValueError):
            return None
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float)):
        return _number(value)
    return None


def _number(value: Any) -> float | None:
    if value is None or is_missing(value):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _integer(value: Any) -> int | None:
    number = _number(value)
    return None if number is None else int(number)


# ------------------------------------------------------------------------------------------ SQL

class _Query:
    """SQL text with its parameters in textual order, and the Arrow tables it needs registered."""

    def __init__(self) -> None:
        self.params: list[Any] = []
        self.tables: dict[str, Any] = {}

    def side_sql(self, side: Side) -> str:
        """The side's rows with uniform columns, plus per scorer ``s{i}_num`` and ``s{i}_p`` (pass)."""
        if side.stored:
            inner = self._stored_sql(side)
        else:
            name = f"_llmops_eval_{id(side)}"
            self.tables[name] = side.table
            inner = f"SELECT * FROM {name}"
        extra = []
        for i, scorer in enumerate(side.scorers):
            extra += [f"{_num_sql(i)} AS s{i}_num", f"{_pass_sql(i, scorer)} AS s{i}_p"]
        return f"SELECT *{''.join(', ' + e for e in extra)} FROM ({inner})"

    def _stored_sql(self, side: Side) -> str:
        pivots = []
        for i, scorer in enumerate(side.scorers):
            for col, source in (("v", "value"), ("n", "value_number"), ("r", "rationale"), ("e", "error"),
                                ("span", "span_id")):
                pivots.append(f"any_value({source}) FILTER (WHERE name = ?) AS s{i}_{col}")
                self.params.append(scorer["name"])
        scores = [f"a.s{i}_{c}" for i in range(len(side.scorers)) for c in ("v", "n", "r", "e", "span")]
        sql = ("SELECT r.row_index::BIGINT AS row_index, r.record_id, r.trace_id, r.inputs, r.outputs, "
               "r.expectations, r.latency_ms, r.input_tokens, r.output_tokens, r.cost_usd, r.error"
               + "".join(", " + s for s in scores) + " FROM eval_results r")
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


def _word_sql(i: int) -> str:
    return f"lower(trim(try(json_extract_string(s{i}_v, '$')), ' \t\n\r'))"


def _num_sql(i: int) -> str:
    # compare_runs' reading of a value as a number: booleans 1/0, numbers, pass/fail words 1/0, numeric text
    word = _word_sql(i)
    return (f"COALESCE(s{i}_n, CASE WHEN s{i}_v LIKE '\"%' THEN CASE WHEN {word} IN ({_WORDS_SQL['pass']}) THEN 1.0 "
            f"WHEN {word} IN ({_WORDS_SQL['fail']}) THEN 0.0 ELSE TRY_CAST({word} AS DOUBLE) END END)")


def _pass_sql(i: int, scorer: dict[str, Any]) -> str:
    # Scorer.passes(): booleans pass by themselves, numbers against the threshold, pass/fail words
    threshold = scorer.get("threshold")
    if threshold is None:
        numeric = "NULL"
    else:  # a finite float (checked in _scorer_list): its repr is a safe SQL literal
        numeric = f"(s{i}_n {'<=' if scorer.get('lower_is_better') else '>='} {float(threshold)!r})"
    word = _word_sql(i)
    return (f"(CASE WHEN s{i}_v IS NULL OR s{i}_v = 'null' THEN NULL WHEN s{i}_v = 'true' THEN TRUE "
            f"WHEN s{i}_v = 'false' THEN FALSE WHEN s{i}_n IS NOT NULL THEN {numeric} "
            f"WHEN s{i}_v LIKE '\"%' THEN CASE WHEN {word} IN ({_WORDS_SQL['pass']}) THEN TRUE "
            f"WHEN {word} IN ({_WORDS_SQL['fail']}) THEN FALSE END END)")


_FEEDBACK_SQL = """
SELECT trace_id,
       arg_max(value, created_at) FILTER (WHERE value IS NOT NULL) AS fb_value,
       arg_max(label, created_at) FILTER (WHERE label IS NOT NULL) AS fb_label,
       arg_max(rationale, created_at) FILTER (WHERE rationale IS NOT NULL) AS fb_comment,
       arg_max(source_id, created_at) AS fb_author, max(created_at) AS fb_at, count(*) AS fb_count
FROM assessments WHERE source_type = 'HUMAN' AND name = ? GROUP BY trace_id
"""


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

    def relation(self) -> tuple[_Query, str]:
        """SQL of every row with the latest human feedback joined on trace id: ``SELECT ... FROM (...) t``."""
        q = _Query()
        if self.baseline is None:
            rows = q.side_sql(self.candidate)
        else:
            a_sql = q.side_sql(self.baseline)
            b_sql = q.side_sql(self.candidate)
            cols = ["b.row_index", "b.record_id", "b.trace_id", "b.inputs", "b.outputs", "b.expectations",
                    "b.latency_ms", "b.input_tokens", "b.output_tokens", "b.cost_usd", "b.error",
                    "a.row_index AS base_row", "a.trace_id AS base_trace_id", "a.outputs AS base_outputs",
                    "a.error AS base_error", "a.latency_ms AS base_latency_ms"]
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
        sql = f"SELECT t.*, f.* EXCLUDE (trace_id) FROM ({rows}) t LEFT JOIN ({_FEEDBACK_SQL}) f USING (trace_id)"
        return q, sql

    def scorer(self, name: Any) -> dict[str, Any]:
        for s in self.scorers:
            if s["name"] == name:
                return s
        names = [s["name"] for s in self.scorers]
        close = difflib.get_close_matches(str(name), names, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ValueError(f"no scorer {name!r} in this table: {hint}scorers: {', '.join(names) or 'none'}.")


# ------------------------------------------------------------------------------------------ filters and sort

def normalize_filters(filters: Any, view: View) -> dict[str, Any]:
    """The canonical filter dict (empty values dropped); ``ValueError`` naming a bad value."""
    if filters is None:
        return {}
    if not isinstance(filters, dict):
        raise ValueError(f"filters must be an object of {', '.join(FILTERS)}; got {type(filters).__name__}.")
    unknown = [k for k in filters if k not in FILTERS]
    if unknown:
        close = difflib.get_close_matches(str(unknown[0]), FILTERS, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ValueError(f"unknown filter {unknown[0]!r}: {hint}check the spelling. Filters: {', '.join(FILTERS)}.")
    out: dict[str, Any] = {}
    text = filters.get("text")
    if text not in (None, ""):
        if not isinstance(text, str) or len(text) > MAX_FILTER_CHARS:
            raise ValueError(f"filter 'text' must be a string of at most {MAX_FILTER_CHARS} characters.")
        out["text"] = text
    scorer, result = filters.get("scorer"), filters.get("result")
    if scorer not in (None, "") or result not in (None, ""):
        if scorer in (None, "") or result in (None, ""):
            raise ValueError("filters 'scorer' and 'result' go together, e.g. {'scorer': 'correctness', "
                             "'result': 'fail'}.")
        view.scorer(scorer)
        allowed = RESULTS if view.compare else RESULTS[:4]
        if result not in allowed:
            raise ValueError(f"result must be one of {', '.join(allowed)}; got {result!r}.")
        out["scorer"], out["result"] = scorer, result
    feedback = filters.get("feedback")
    if feedback not in (None, ""):
        if feedback not in FEEDBACK_FILTERS:
            raise ValueError(f"feedback must be one of {', '.join(FEEDBACK_FILTERS)}; got {feedback!r}.")
        out["feedback"] = feedback
    errors = filters.get("errors")
    if errors not in (None, False):
        if errors is not True:
            raise ValueError(f"filter 'errors' is true (rows whose prediction failed) or absent; got {errors!r}.")
        out["errors"] = True
    return out


def _where(filters: dict[str, Any], view: View) -> tuple[str, list[Any]]:
    where: list[str] = []
    params: list[Any] = []
    if "text" in filters:
        text = filters["text"]
        columns = ["inputs", "outputs", "expectations", "error"] + (["base_outputs"] if view.compare else [])
        for i in (s["index"] for s in view.scorers):
            columns += [f"s{i}_r", f"s{i}_e"]
        clauses = []
        for variant in dict.fromkeys([text, json.dumps(text, ensure_ascii=False)[1:-1]]):
            pattern = f"%{_escape_like(variant)}%"
            clauses += [f"{c} ILIKE ? ESCAPE '\\'" for c in columns]
            params += [pattern] * len(columns)
        where.append("(" + " OR ".join(clauses) + ")")
    if "scorer" in filters:
        i = view.scorer(filters["scorer"])["index"]
        where.append({
            "pass": f"s{i}_p IS TRUE", "fail": f"s{i}_p IS FALSE", "error": f"s{i}_e IS NOT NULL",
            "missing": f"(s{i}_v IS NULL OR s{i}_v = 'null') AND s{i}_e IS NULL",
            "win": f"s{i}_o = 'win'", "loss": f"s{i}_o = 'loss'", "tie": f"s{i}_o = 'tie'",
        }[filters["result"]])
    if "feedback" in filters:
        where.append({"up": "fb_value = 'true'", "down": "fb_value = 'false'", "any": "fb_count > 0",
                      "none": "fb_count IS NULL"}[filters["feedback"]])
    if filters.get("errors"):
        where.append("error IS NOT NULL")
    return (" WHERE " + " AND ".join(where)) if where else "", params


def sort_keys(view: View) -> list[str]:
    keys = list(BASE_SORTS)
    for s in view.scorers:
        keys.append(f"score:{s['name']}")
        if view.compare:
            keys.append(f"delta:{s['name']}")
    return keys


def _order(sort: Any, view: View) -> tuple[str, str, bool]:
    if sort is None:
        sort = {}
    if not isinstance(sort, dict) or set(sort) - {"column", "descending"}:
        raise ValueError(f"sort must be {{'column': ..., 'descending': true|false}}; got {sort!r}.")
    column = sort.get("column") or "row"
    descending = sort.get("descending", False)
    if not isinstance(descending, bool):
        raise ValueError(f"sort.descending must be true or false, got {descending!r}.")
    keys = sort_keys(view)
    if column not in keys:
        close = difflib.get_close_matches(str(column), keys, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ValueError(f"cannot sort by {column!r}: {hint}columns: {', '.join(keys)}.")
    kind, _, name = column.partition(":")
    if kind == "score":
        i = view.scorer(name)["index"]
        expr = [f"s{i}_num", f"s{i}_v", f"(s{i}_e IS NOT NULL)"]
    elif kind == "delta":
        expr = [f"s{view.scorer(name)['index']}_d"]
    else:
        expr = {"row": [], "latency": ["latency_ms"], "tokens": ["(coalesce(input_tokens, 0) + "
                                                                   "coalesce(output_tokens, 0))"],
                "cost": ["cost_usd"], "error": ["(error IS NOT NULL)", "error"],
                "feedback": ["fb_value", "fb_at"]}[column]
    direction = "DESC" if descending else "ASC"
    order = ", ".join(f"{e} {direction} NULLS LAST" for e in expr)
    # ties keep the data's order whichever way the column sorts
    tie = f"row_index {direction}" if column == "row" else "row_index ASC"
    return column, (order + ", " if order else "") + tie, descending


# ------------------------------------------------------------------------------------------ reading

def _iso(value: Any) -> str | None:
    if value is None or is_missing(value):
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat(timespec="milliseconds") + ("Z" if getattr(value, "tzinfo", None) is None else "")
    return str(value)


def _clip(text: Any, limit: int) -> str | None:
    if text is None:
        return None
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def preview(json_text: Any, limit: int = PREVIEW_CHARS) -> str:
    """A payload as one line of text: a string as is, a one-key dict as its value, else compact JSON."""
    if json_text is None:
        return ""
    raw = str(json_text)
    value = from_json(raw) if len(raw) <= 20_000 else raw
    if isinstance(value, dict) and len(value) == 1 and isinstance(next(iter(value.values())), (str, int, float)):
        value = next(iter(value.values()))
    if not isinstance(value, str):
        value = json.dumps(value, ensure_ascii=False, default=str)
    return _clip(" ".join(value.split()), limit) or ""


def _payload(json_text: Any) -> dict[str, Any]:
    """A payload for the detail pane: parsed JSON, or its first DETAIL_CHARS characters when longer."""
    if json_text is None:
        return {"value": None, "truncated": False}
    raw = str(json_text)
    if len(raw) > DETAIL_CHARS:
        return {"value": raw[:DETAIL_CHARS], "truncated": True, "chars": len(raw)}
    return {"value": from_json(raw), "truncated": False}


def _value(json_text: Any, limit: int = PREVIEW_CHARS) -> Any:
    value = from_json(json_text)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, str):
        return _clip(value, limit)
    if isinstance(value, (dict, list)):
        return _clip(json.dumps(value, ensure_ascii=False), limit)
    return value


def _text_of(json_text: Any, limit: int) -> str:
    if json_text is None:
        return ""
    value = from_json(json_text)
    text = value if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False, default=str)
    return text[:limit]


def word_ops(a: str, b: str) -> list[list[str]]:
    """``llmops_nb.diff(a, b)`` flattened to ``[tag, a_text, b_text]`` runs (equal, insert, delete,
    replace), words inside changed lines, lines joined by newlines."""
    from .._diff import diff

    ops: list[list[str]] = []

    def add(tag: str, left: str, right: str) -> None:
        if not left and not right:
            return
        if ops and ops[-1][0] == tag:
            ops[-1][1] += left
            ops[-1][2] += right
        else:
            ops.append([tag, left, right])

    rows = [row for section in diff(a, b).sections for row in section["rows"]]
    for k, row in enumerate(rows):
        if row["op"] == "equal":
            add("equal", row["a"], row["b"])
        elif row["op"] == "insert":
            add("insert", "", row["b"])
        elif row["op"] == "delete":
            add("delete", row["a"], "")
        else:
            for tag, left, right in row.get("words") or [["replace", row["a"] or "", row["b"] or ""]]:
                add(tag, left, right)
        if k < len(rows) - 1:
            left_nl = "\n" if row["a"] is not None else ""
            right_nl = "\n" if row["b"] is not None else ""
            add("equal" if left_nl and right_nl else "delete" if left_nl else "insert", left_nl, right_nl)
    return ops


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
        where, params = _where(filters, self.view)
        column, order, descending = _order(sort, self.view)
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
            "expectations": preview(r["expectations"]), "error": _clip(r["error"], TIP_CHARS),
            "latency_ms": _number(r["latency_ms"]), "tokens": tokens, "cost_usd": _number(r["cost_usd"]),
            "feedback": _feedback_json(r),
        }
        scores = []
        for s in self.view.scorers:
            i = s["index"]
            score = {"v": _value(r[f"s{i}_v"]), "p": r[f"s{i}_p"], "r": _clip(r[f"s{i}_r"], TIP_CHARS),
                     "e": _clip(r[f"s{i}_e"], TIP_CHARS)}
            if self.view.compare:
                score.update({"bv": _value(r[f"s{i}_bv"]), "bp": r[f"s{i}_bp"], "br": _clip(r[f"s{i}_br"], TIP_CHARS),
                              "be": _clip(r[f"s{i}_be"], TIP_CHARS), "d": _number(r[f"s{i}_d"]), "o": r[f"s{i}_o"]})
            scores.append(score)
        out["scores"] = scores
        if self.view.compare:
            out["base"] = {"row": int(r["base_row"]), "trace_id": r["base_trace_id"],
                           "outputs": preview(r["base_outputs"]), "error": _clip(r["base_error"], TIP_CHARS)}
            out["diff"] = word_ops(_text_of(r["base_outputs"], CELL_DIFF_CHARS),
                                   _text_of(r["outputs"], CELL_DIFF_CHARS))
        return out

    def row_ids(self, filters: dict[str, Any], sort: Any) -> list[int]:
        where, params = _where(filters, self.view)
        _, order, _ = _order(sort, self.view)
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
            "inputs": _payload(r["inputs"]), "outputs": _payload(r["outputs"]),
            "expectations": _payload(r["expectations"]), "error": r["error"],
            "latency_ms": _number(r["latency_ms"]), "input_tokens": _integer(r["input_tokens"]),
            "output_tokens": _integer(r["output_tokens"]), "cost_usd": _number(r["cost_usd"]),
        }
        scores = []
        for s in self.view.scorers:
            i = s["index"]
            score = {"name": s["name"], "source": s["source"], "model": s["model"], "value": _value(r[f"s{i}_v"],
                     DETAIL_CHARS), "pass": r[f"s{i}_p"], "rationale": r[f"s{i}_r"], "error": r[f"s{i}_e"],
                     "span_id": r[f"s{i}_span"]}
            if self.view.compare:
                score.update({"base_value": _value(r[f"s{i}_bv"], DETAIL_CHARS), "base_pass": r[f"s{i}_bp"],
                              "base_rationale": r[f"s{i}_br"], "base_error": r[f"s{i}_be"],
                              "base_span_id": r[f"s{i}_bspan"], "delta": _number(r[f"s{i}_d"]),
                              "outcome": r[f"s{i}_o"]})
            scores.append(score)
        out["scores"] = scores
        out["feedback"] = feedback_history(r["trace_id"])
        if self.view.compare:
            out["base"] = {"row": int(r["base_row"]), "trace_id": r["base_trace_id"],
                           "outputs": _payload(r["base_outputs"]), "error": r["base_error"],
                           "latency_ms": _number(r["base_latency_ms"])}
            out["diff"] = word_ops(_text_of(r["base_outputs"], DETAIL_CHARS), _text_of(r["outputs"], DETAIL_CHARS))
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
                    "lower_is_better": s["lower_is_better"], "count": int(got["count"]), "mean": _number(got["mean"]),
                    "pass_rate": got["passed"] / judged if judged else None, "passed": int(got["passed"]),
                    "failed": int(got["failed"]), "errors": int(got["errors"]), "missing": int(got["missing"]),
                    "histogram": self.histogram(i, got)}
            if self.view.compare:
                item.update({"win": int(got["win"]), "loss": int(got["loss"]), "tie": int(got["tie"]),
                             "mean_baseline": _number(got["mean_baseline"]),
                             "mean_candidate": _number(got["mean_candidate"])})
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
            return {"kind": "values", "bins": [{"label": _short_number(r["k"]), "count": int(r["n"]),
                                                "lo": _number(r["k"]), "hi": _number(r["k"])} for r in rows]}
        if got["numbers"]:
            lo, hi = float(got["lo"]), float(got["hi"])
            width = (hi - lo) / 10 or 1.0
            rows = self.query(f" WHERE s{i}_n IS NOT NULL GROUP BY 1", select_params=[lo, width],
                              select=f"least(floor((s{i}_n - ?) / ?), 9)::INTEGER AS k, count(*) AS n")
            counts = {int(r["k"]): int(r["n"]) for r in rows}
            return {"kind": "bins", "bins": [{"label": f"{_short_number(lo + k * width)}–"
                                                       f"{_short_number(lo + (k + 1) * width)}",
                                              "count": counts.get(k, 0), "lo": lo + k * width,
                                              "hi": lo + (k + 1) * width} for k in range(10)]}
        if got["texts"]:
            rows = self.query(f" WHERE s{i}_v LIKE '\"%' GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 8",
                              select=f"{_word_sql(i)} AS k, count(*) AS n")
            return {"kind": "labels", "bins": [{"label": _clip(r["k"], 40) or "", "count": int(r["n"])} for r in rows]}
        return {"kind": "none", "bins": []}

    def unmatched(self) -> tuple[int, int]:
        """Rows of the baseline with no match in the candidate (by record_id), and the other way round."""
        assert self.view.baseline is not None
        a_ids, b_ids = _record_ids(self.view.baseline), _record_ids(self.view.candidate)
        return len(a_ids - b_ids), len(b_ids - a_ids)



def _record_ids(side: Side) -> set[str | None]:
    q = _Query()
    sql = q.side_sql(side)
    return {r[0] for r in q.run_get(f"SELECT record_id FROM ({sql})")}


def _short_number(value: Any) -> str:
    number = _number(value)
    if number is None:
        return ""
    if number == int(number) and abs(number) < 1e9:
        return str(int(number))
    return f"{number:.3g}"


def _feedback_json(r: dict[str, Any]) -> dict[str, Any] | None:
    if not r.get("fb_count"):
        return None
    return {"value": from_json(r["fb_value"]), "label": r["fb_label"], "comment": _clip(r["fb_comment"], TIP_CHARS),
            "author": r["fb_author"], "at": _iso(r["fb_at"]), "count": int(r["fb_count"])}


def feedback_history(trace_id: str | None) -> list[dict[str, Any]]:
    """Every piece of human feedback on a trace, newest first."""
    if not trace_id:
        return []
    with get_store().connect() as con:
        rows = con.execute("SELECT name, value, label, rationale, source_id, created_at, run_id, row_index "
                           "FROM assessments WHERE trace_id = ? AND source_type = 'HUMAN' "
                           "ORDER BY created_at DESC, assessment_id LIMIT 200", [trace_id]).fetchall()
    return [{"name": n, "value": from_json(v), "label": label, "comment": c, "author": a, "at": _iso(t),
             "run_id": run, "row": row} for n, v, label, c, a, t, run, row in rows]


def known_labels(limit: int = 30) -> list[str]:
    """Labels people gave before, most used first (the feedback form suggests them)."""
    with get_store().connect() as con:
        rows = con.execute("SELECT label FROM assessments WHERE source_type = 'HUMAN' AND label IS NOT NULL "
                           "GROUP BY label ORDER BY count(*) DESC, label LIMIT ?", [limit]).fetchall()
    return [r[0] for r in rows]
# ------------------------------------------------------------------------------------------ writing

def write_feedback(view: View, row: int, value: Any, *, label: Any, comment: Any, author: str | None) -> dict[str, Any]:
    """Store one piece of feedback on a row's trace (``log_feedback``) and return the row's latest feedback."""
    from ..evals._feedback import log_feedback

    if value is not None and not isinstance(value, bool):
        raise ValueError(f"feedback value is true (thumbs up), false (thumbs down) or absent; got {value!r}.")
    for name, text, limit in (("label", label, 200), ("comment", comment, 20_000)):
        if text is not None and (not isinstance(text, str) or len(text) > limit):
            raise ValueError(f"feedback {name} must be text of at most {limit:,} characters.")
    label = label.strip() if isinstance(label, str) and label.strip() else None
    comment = comment if isinstance(comment, str) and comment.strip() else None
    r = Reader(view).one(row)
    if not r["trace_id"]:
        raise ValueError(f"Row {row} has no trace to give feedback on.")
    side = view.candidate
    assessment_id = log_feedback(r["trace_id"], value, label=label, comment=comment, author=author or None,
                                 name=FEEDBACK_NAME, run_id=side.run_id or side.frame_run_id, row=row)
    latest = Reader(view).one(row)
    return {"row": row, "assessment_id": assessment_id, "feedback": _feedback_json(latest),
            "history": feedback_history(r["trace_id"])}


def make_dataset(side: Side, rows: Any, *, name: Any = None, append: Any = True, expectations_from_outputs: Any = False,
                 description: Any = None) -> dict[str, Any]:
    """A new dataset version from selected rows (``datasets.from_eval_rows``; ``datasets.create`` for a
    DataFrame without a run id)."""
    from ..evals._datasets import datasets

    if not isinstance(rows, list) or not rows or not all(isinstance(r, int) and not isinstance(r, bool)
                                                          for r in rows):
        raise ValueError("Select at least one row (rows is a list of row numbers).")
    if len(set(rows)) != len(rows):
        raise ValueError("rows lists a row twice.")
    for label, flag in (("append", append), ("expectations_from_outputs", expectations_from_outputs)):
        if not isinstance(flag, bool):
            raise ValueError(f"{label} must be true or false, got {flag!r}.")
    for label, text in (("name", name), ("description", description)):
        if text is not None and not isinstance(text, str):
            raise ValueError(f"{label} must be text, got {type(text).__name__}.")
    name = name.strip() if isinstance(name, str) and name.strip() else None
    description = description.strip() if isinstance(description, str) and description.strip() else None
    options = {"name": name, "append": append, "expectations_from_outputs": expectations_from_outputs,
               "description": description}
    if side.stored:
        known = _stored_rows(side.run_id or "") or {}
        missing = [r for r in rows if r not in known]
        if missing:
            raise ValueError(f"Rows {missing[:5]} are not in run {side.run_id}.")
        dataset = datasets.from_eval_rows(side.run_id, rows, **options)
    else:
        frame = side.frame
        bad = [r for r in rows if not 0 <= r < len(side.labels)]
        if bad:
            raise ValueError(f"Rows {bad[:5]} are not in this table (it has {len(side.labels)} rows).")
        labels = [side.labels[r] for r in rows]
        if side.frame_run_id:
            dataset = datasets.from_eval_rows(frame, labels, **options)
        else:
            picked = frame.loc[labels]
            records = []
            for _, item in picked.iterrows():
                expectations = item.get("expectations")
                if expectations_from_outputs:
                    expectations = {**(expectations if isinstance(expectations, dict) else {}),
                                    "expected_response": item.get("outputs")}
                record = {"inputs": item.get("inputs"), "expectations": expectations}
                if isinstance(item.get("record_id"), str):
                    record["record_id"] = item.get("record_id")
                records.append(record)
            dataset = datasets.create(name or side.name, records, description=description)
    return {"name": dataset.name, "version": int(dataset.version), "rows": len(dataset),
            "parent_version": (dataset.info or {}).get("parent_version")}


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
    return [{"run_id": run_id, "name": name, "status": status, "started_at": _iso(started), "rows": int(done or 0),
             "dataset": {"name": ds, "version": ver} if ds else None, "shared": int(shared)}
            for run_id, name, status, started, done, ds, ver, shared in rows]


# ------------------------------------------------------------------------------------------ the widget

def bundle_available() -> bool:
    return ESM.is_file() and CSS.is_file()


def _int_param(value: Any, label: str, low: int, high: int | None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ValueError(f"{label} must be an integer {bound}; got {value!r}.")
    return value


def _check_params(params: dict[str, Any], allowed: tuple[str, ...], method: str) -> None:
    extra = sorted(set(params) - set(allowed))
    if extra:
        raise ValueError(f"unknown {method} parameter(s) {', '.join(map(repr, extra))}; "
                         f"{method} takes {', '.join(allowed) or 'nothing'}.")


class _Sources:
    """The sides one table can show, by key: its own run, a baseline given from Python, and any stored
    run the view picks to compare with (loaded on first use). Thread-safe: requests run on a pool."""

    def __init__(self, candidate: Side, extra: list[Side]) -> None:
        self.candidate = candidate
        self._sides = {candidate.key: candidate, **{s.key: s for s in extra}}
        self._views: dict[str | None, View] = {}
        self._lock = threading.Lock()

    def side(self, key: str) -> Side:
        with self._lock:
            found = self._sides.get(key)
        if found is not None:
            return found
        if key.startswith("frame:"):
            raise LookupError(f"No DataFrame {key!r} is attached to this table; pass it as compare_to=.")
        side = _stored_side(_check_run_id(key))
        with self._lock:
            return self._sides.setdefault(side.key, side)

    def view(self, compare: Any) -> View:
        if compare is not None and not isinstance(compare, str):
            raise ValueError(f"compare is a run id or null, got {compare!r}.")
        compare = compare or None
        if compare == self.candidate.key:
            raise ValueError("A run cannot be compared with itself: pick another run.")
        with self._lock:
            found = self._views.get(compare)
        if found is not None:
            return found
        made = View(self.candidate, self.side(compare) if compare else None)
        with self._lock:
            return self._views.setdefault(compare, made)

    def extra(self) -> list[Side]:
        with self._lock:
            return [s for k, s in self._sides.items() if k != self.candidate.key and not s.stored]


class EvalTable(anywidget.AnyWidget):
    """An evaluation result as a table: sort, filter, open a row's trace, compare runs, give feedback.

    ``results``: the DataFrame ``evaluate()`` returned, a run id, or ``compare_runs()``'s DataFrame
    (shown as its two runs compared). ``compare_to``: a baseline run (DataFrame or run id) to compare
    with, row by row on ``record_id``. ``author``: who the feedback given in the table is from
    (default: the OS user). The rows checked in the table are in ``selected_rows``.

    >>> import llmops_nb
    >>> from llmops_nb.widgets import EvalTable
    >>> EvalTable(df_b, compare_to=df_a)  # doctest: +SKIP
    """

    if bundle_available():
        _esm = ESM
        _css = CSS

    run_key = traitlets.Unicode(read_only=True).tag(sync=True)
    compare_to = traitlets.Unicode(None, allow_none=True).tag(sync=True)
    filters = traitlets.Dict().tag(sync=True)
    sort_by = traitlets.Unicode("row").tag(sync=True)
    sort_desc = traitlets.Bool(False).tag(sync=True)
    selected_rows = traitlets.List(traitlets.Int()).tag(sync=True)
    open_row = traitlets.Int(None, allow_none=True).tag(sync=True)
    author = traitlets.Unicode("").tag(sync=True)
    height = traitlets.Int(620).tag(sync=True)
    # the trace open under a row, and its explorer's state under TraceExplorer's names
    trace_id = traitlets.Unicode(None, allow_none=True).tag(sync=True)
    selected_span_id = traitlets.Unicode(None, allow_none=True).tag(sync=True)
    collapsed_span_ids = traitlets.List(traitlets.Unicode()).tag(sync=True)
    search_text = traitlets.Unicode("").tag(sync=True)

    def __init__(self, results: Any, *, compare_to: Any = None, author: str | None = None, height: int = 620,
                 **kwargs: Any) -> None:
        if not bundle_available():
            raise RuntimeError(f"llmops_nb's widget bundle is missing ({ESM}). It is built when the package is "
                               "installed; or build it by hand: cd js && npm ci && npm run build.")
        allowed = {"filters", "sort_by", "sort_desc", "selected_rows", "open_row", "trace_id", "selected_span_id",
                   "collapsed_span_ids", "search_text"}
        unknown = sorted(set(kwargs) - allowed)
        if unknown:
            raise TypeError(f"EvalTable() got unexpected keyword argument(s) {', '.join(map(repr, unknown))}; "
                            "check the spelling. It takes: results, compare_to, author, height, "
                            f"{', '.join(sorted(allowed))}.")
        attrs = getattr(results, "attrs", None) or {}
        if compare_to is None and hasattr(results, "columns") and attrs.get("baseline") and attrs.get("candidate"):
            results, compare_to = attrs["candidate"], attrs["baseline"]  # a compare_runs() DataFrame
        candidate = side_of(results)
        extra: list[Side] = []
        baseline_key = None
        if compare_to is not None:
            baseline = side_of(compare_to)
            if baseline.key == candidate.key:
                raise ValueError("compare_to is the same run as the table: pass another run's DataFrame or id.")
            extra.append(baseline)
            baseline_key = baseline.key
        if not 240 <= int(height) <= 4000:
            raise ValueError(f"height is in pixels, between 240 and 4000; got {height!r}.")
        self._sources = _Sources(candidate, extra)
        view = self._sources.view(baseline_key)
        filters = normalize_filters(kwargs.pop("filters", None), view)
        sort = _order({"column": kwargs.get("sort_by", "row"), "descending": kwargs.get("sort_desc", False)}, view)
        kwargs["sort_by"], kwargs["sort_desc"] = sort[0], sort[2]
        super().__init__(compare_to=baseline_key, filters=filters, author=author or current_user() or "",
                         height=int(height), **kwargs)
        self.set_trait("run_key", candidate.key)
        self._rpc: RpcServer = attach(self, explorer_methods.extend(self._methods()))

    # -- what the view asks -------------------------------------------------------------
    def _methods(self) -> Methods:
        return Methods({"info": self._info, "summary": self._summary, "page": self._page, "row": self._row,
                        "row_ids": self._row_ids, "runs": self._runs, "feedback": self._feedback,
                        "to_dataset": self._to_dataset})

    def _view(self, params: dict[str, Any]) -> View:
        return self._sources.view(params.get("compare"))

    def _info(self, params: dict[str, Any]) -> dict[str, Any]:
        _check_params(params, ("compare",), "info")
        view = self._view(params)
        return {"run": view.candidate.facts(), "baseline": view.baseline.facts() if view.baseline else None,
                "scorers": view.scorers, "sorts": sort_keys(view), "author": self.author,
                "labels": known_labels(), "frames": [s.facts() for s in self._sources.extra()]}

    def _summary(self, params: dict[str, Any]) -> dict[str, Any]:
        _check_params(params, ("compare",), "summary")
        start = time.perf_counter()
        out = Reader(self._view(params)).summary()
        out["elapsed_ms"] = round((time.perf_counter() - start) * 1000, 1)
        return out

    def _page(self, params: dict[str, Any]) -> dict[str, Any]:
        _check_params(params, ("compare", "filters", "sort", "offset", "limit", "as_of"), "page")
        start = time.perf_counter()
        view = self._view(params)
        filters = normalize_filters(params.get("filters"), view)
        offset = _int_param(params.get("offset", 0), "offset", 0, None)
        limit = _int_param(params.get("limit", PAGE_SIZE), "limit", 1, MAX_LIMIT)
        out = Reader(view).page(filters, params.get("sort"), offset, limit)
        # A finished run's rows do not change (feedback is re-read per page); the token lets the view's page
        # cache load pages side by side.
        out["as_of"] = "rows"
        out["elapsed_ms"] = round((time.perf_counter() - start) * 1000, 1)
        return out

    def _row(self, params: dict[str, Any]) -> dict[str, Any]:
        _check_params(params, ("compare", "row"), "row")
        view = self._view(params)
        return Reader(view).detail(_int_param(params.get("row"), "row", 0, None))

    def _row_ids(self, params: dict[str, Any]) -> dict[str, Any]:
        _check_params(params, ("compare", "filters", "sort"), "row_ids")
        view = self._view(params)
        rows = Reader(view).row_ids(normalize_filters(params.get("filters"), view), params.get("sort"))
        return {"rows": rows, "capped": len(rows) >= MAX_ROW_IDS}

    def _runs(self, params: dict[str, Any]) -> dict[str, Any]:
        _check_params(params, ("compare",), "runs")
        candidate = self._sources.candidate
        return {"runs": list_runs(candidate.run_id or candidate.frame_run_id,
                                  [r for r in _record_ids(candidate) if r]),
                "frames": [s.facts() for s in self._sources.extra()]}

    def _feedback(self, params: dict[str, Any]) -> dict[str, Any]:
        _check_params(params, ("compare", "row", "value", "label", "comment", "author"), "feedback")
        view = self._view(params)
        author = params.get("author")
        if author is not None and (not isinstance(author, str) or len(author) > 200):
            raise ValueError("author must be text of at most 200 characters.")
        if author is None or not author.strip():
            author = self.author or None
        given = [params.get(k) for k in ("label", "comment")]
        if params.get("value") is None and not any(isinstance(g, str) and g.strip() for g in given) and \
                all(g is None or isinstance(g, str) for g in given):
            raise ValueError("Give a thumbs up or down, a label or a comment.")
        return write_feedback(view, _int_param(params.get("row"), "row", 0, None), params.get("value"),
                              label=params.get("label"), comment=params.get("comment"),
                              author=author.strip() if author else None)

    def _to_dataset(self, params: dict[str, Any]) -> dict[str, Any]:
        _check_params(params, ("compare", "rows", "name", "append", "expectations_from_outputs", "description"),
                      "to_dataset")
        return make_dataset(self._sources.candidate, params.get("rows"), name=params.get("name"),
                            append=params.get("append", True),
                            expectations_from_outputs=params.get("expectations_from_outputs", False),
                            description=params.get("description"))

    # -- display ------------------------------------------------------------------------
    def _repr_mimebundle_(self, **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]] | None:
        # the widget where widgets run; elsewhere a plain table of the first rows and a text summary
        shown = super()._repr_mimebundle_(**kwargs)
        if shown is None:
            return None
        data, metadata = shown
        return {**data, **self.snapshot()}, metadata

    def snapshot(self) -> dict[str, str]:
        """The script-free ``text/html`` and ``text/plain`` of what the table shows now."""
        try:
            view = self._sources.view(self.compare_to)
            filters = normalize_filters(self.filters, view)
            sort = {"column": self.sort_by, "descending": self.sort_desc}
        except (ValueError, LookupError) as exc:
            message = f"EvalTable: {exc}"
            return {"text/plain": message, "text/html": f"<p>{html.escape(message)}</p>"}
        return snapshot(view, filters, sort)

    def __repr__(self) -> str:
        compare = f", compare_to={self.compare_to!r}" if self.compare_to else ""
        return f"EvalTable({self.run_key!r}{compare})"


# ------------------------------------------------------------------------------------------ snapshot

def _value_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _short_number(value)
    return str(value)


def _percent(value: Any) -> str:
    return "–" if value is None else f"{value * 100:.0f}%"


def _mean_text(value: Any) -> str:
    return "–" if value is None else f"{value:.3g}"


def snapshot(view: View, filters: dict[str, Any] | None = None, sort: Any = None,
             rows: int = SNAPSHOT_ROWS) -> dict[str, str]:
    """``text/html`` (script-free, every string escaped) and ``text/plain`` of a table; never raises."""
    esc = lambda s: html.escape(str(s), quote=True)  # noqa: E731
    run = view.candidate
    title = f"Evaluation {run.name!r}" + (f" compared with {view.baseline.name!r}" if view.baseline else "")
    try:
        reader = Reader(view)
        summary = reader.summary()
        data = reader.page(filters or {}, sort, 0, rows)
    except Exception as exc:  # noqa: BLE001 - a display must not fail the cell
        message = f"{title} could not be read: {type(exc).__name__}: {exc}"
        return {"text/plain": message, "text/html": f"<p>{esc(message)}</p>"}
    ident = run.run_id or run.frame_run_id
    facts = [f"{summary['total']:,} row{'s' if summary['total'] != 1 else ''}"]
    if run.status:
        facts.append(run.status.lower())
    if ident:
        facts.append(f"run {ident}")
    if view.baseline is not None:
        facts.append(f"baseline {view.baseline.run_id or view.baseline.frame_run_id or view.baseline.name}")
    if summary["errors"]:
        facts.append(f"{summary['errors']} failed prediction{'s' if summary['errors'] != 1 else ''}")
    fb = summary["feedback"]
    if fb["given"]:
        facts.append(f"feedback on {fb['given']} ({fb['up']} up, {fb['down']} down)")
    head = f"{title}: " + " · ".join(facts)

    lines = [f"EvalTable: {head}"]
    stat_rows = []
    for s in summary["scorers"]:
        if view.compare:
            stat = (f"win {s['win']} · loss {s['loss']} · tie {s['tie']} · mean {_mean_text(s['mean_baseline'])} → "
                    f"{_mean_text(s['mean_candidate'])}")
        else:
            stat = f"mean {_mean_text(s['mean'])} · pass {_percent(s['pass_rate'])}"
        stat += f" · {s['count']} scored" + (f" · {s['errors']} errors" if s["errors"] else "")
        bars = " ".join(f"{b['label']}:{b['count']}" for b in s["histogram"]["bins"])
        lines.append(f"  {s['name']:<20} {stat}" + (f"  [{bars}]" if bars else ""))
        stat_rows.append(f"<tr><th scope=\"row\">{esc(s['name'])}</th><td>{esc(s['source'])}</td><td>{esc(stat)}</td>"
                         f"<td>{esc(bars)}</td></tr>")
    headers = ["#", "inputs", "outputs"] + [s["name"] for s in view.scorers] + ["feedback"]
    if view.compare:
        headers[2:3] = ["baseline outputs", "outputs"]
    body = []
    for r in data["rows"]:
        cells = [str(r["row"]), r["inputs"]]
        if view.compare:
            cells.append(r["base"]["outputs"])
        cells.append(r["outputs"] if not r["error"] else f"error: {r['error']}")
        for score in r["scores"]:
            if view.compare:
                delta = "" if score["d"] is None else f" ({score['d']:+.3g}, {score['o']})"
                cells.append(f"{_value_text(score['bv'])} → {_value_text(score['v'])}{delta}")
            else:
                cells.append(f"error: {score['e']}" if score["e"] else _value_text(score["v"]))
        f = r["feedback"]
        cells.append("" if f is None else " ".join(x for x in (
            {True: "thumbs up", False: "thumbs down"}.get(f["value"], ""), f["label"] or "", f["comment"] or "") if x))
        body.append("<tr>" + "".join(f"<td>{esc(_clip(c, 200) or '')}</td>" for c in cells) + "</tr>")
    shown, total = len(data["rows"]), data["total"]
    more = f" The first {shown} rows are listed; run the notebook to browse them all." if total > shown else ""
    parts = [f"<div class=\"llmops-nb-eval-table\">\n<p><strong>{esc(head)}</strong>{esc(more)}</p>"]
    if stat_rows:
        parts.append("<table>\n<thead><tr><th>scorer</th><th>source</th><th>summary</th><th>histogram</th></tr>"
                     "</thead>\n<tbody>\n" + "\n".join(stat_rows) + "\n</tbody>\n</table>")
    if body:
        parts.append("<table>\n<thead><tr>" + "".join(f"<th>{esc(h)}</th>" for h in headers) + "</tr></thead>\n"
                     "<tbody>\n" + "\n".join(body) + "\n</tbody>\n</table>")
    parts.append("</div>")
    for r in data["rows"][:10]:
        lines.append(f"  {r['row']:>4}  {_clip(r['inputs'], 40) or '':<40}  {_clip(r['outputs'], 40)}")
    if total > min(shown, 10):
        lines.append(f"  … {total - min(shown, 10):,} more rows")
    return {"text/plain": "\n".join(lines), "text/html": "\n".join(parts)}


class EvalTableSnapshot:
    """What shows where no widget can (a terminal, a missing JS bundle): the same table as static HTML and text."""

    def __init__(self, results: Any, compare_to: Any = None) -> None:
        attrs = getattr(results, "attrs", None) or {}
        if compare_to is None and hasattr(results, "columns") and attrs.get("baseline") and attrs.get("candidate"):
            results, compare_to = attrs["candidate"], attrs["baseline"]
        candidate = side_of(results)
        baseline = side_of(compare_to) if compare_to is not None else None
        self.view = View(candidate, baseline)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return snapshot(self.view)

    def __repr__(self) -> str:
        return snapshot(self.view)["text/plain"]


def eval_table(results: Any, *, compare_to: Any = None, widget: bool | None = None, **options: Any) -> Any:
    """The view of an evaluation result: the interactive :class:`EvalTable` inside a Jupyter kernel,
    a static table elsewhere (or when the JS bundle is missing).

    >>> import llmops_nb
    >>> llmops_nb.widgets.eval_table(df, compare_to=baseline_df)  # doctest: +SKIP
    """
    from . import _in_kernel

    want = _in_kernel() if widget is None else widget
    if want:
        if bundle_available():
            return EvalTable(results, compare_to=compare_to, **options)
        from .._safety import log_once

        log_once("widgets.eval_table_bundle", message=f"llmops_nb: the eval table's JS bundle is missing ({ESM}); "
                 "showing a static table. Build it: cd js && npm ci && npm run build")
    elif options:
        unknown = sorted(set(options) - {"author", "height"})
        if unknown:
            raise TypeError(f"eval_table() got unexpected keyword argument(s) {', '.join(map(repr, unknown))}; "
                            "check the spelling.")
    return EvalTableSnapshot(results, compare_to)


def display_eval(results: Any, *, compare_to: Any = None, **options: Any) -> None:
    """Show an evaluation result under the cell (``llmops_nb.show(df)`` calls this): the EvalTable in a
    notebook, its text summary in a terminal.

    >>> import llmops_nb
    >>> llmops_nb.widgets.display_eval(df)  # doctest: +SKIP
    """
    view = eval_table(results, compare_to=compare_to, **options)
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        print(repr(view))
        return
    if get_ipython() is None:
        print(repr(view))
        return
    display(view)


def display_after_evaluate(results: Any) -> None:
    """The hook ``evaluate()`` calls with its DataFrame: shows the EvalTable inside a Jupyter kernel, does
    nothing elsewhere, and never fails (a display problem is logged once)."""
    from . import _in_kernel

    if not _in_kernel():
        return
    try:
        display_eval(results)
    except Exception as exc:  # noqa: BLE001 - the result matters more than its view
        from .._safety import log_once

        log_once("widgets.eval_table", exc)
