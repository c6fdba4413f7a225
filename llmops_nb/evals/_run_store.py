"""Writing evaluation runs to the store: the run, its rows, and every score as an assessment.

Rows are written in batches while the run goes (a killed kernel keeps what
was finished), each batch in one short transaction through Arrow. Every write here
updates ``eval_runs`` or ``eval_results`` in place, so it runs inside
``store.exclusive("eval_runs")``: on a DuckLake store two processes' updates of one
table would conflict (for a file it costs nothing: the file lock already serializes).
"""

from __future__ import annotations

from typing import Any

from .._redact import redact_strings
from ..store._connection import get_store
from ._engine import Row
from ._scorer import Scorer
from ._util import insert_rows, new_id, to_json, utc_now

_RESULT_TYPES = {"row_index": "int", "latency_ms": "float", "input_tokens": "int", "output_tokens": "int",
                 "cost_usd": "float"}
_ASSESSMENT_TYPES = {"value_number": "float", "passed": "bool", "row_index": "int", "created_at": "time"}


def create_run(run_id: str, name: str, row_count: int, *, dataset: Any, predict_fn: Any, scorers: list[Scorer],
               params: dict[str, Any]) -> None:
    dataset_name = getattr(dataset, "name", None)
    dataset_version = getattr(dataset, "version", None)
    store = get_store()
    with store.exclusive("eval_runs"), store.connect() as con:
        con.execute(
            "INSERT INTO eval_runs (run_id, name, status, started_at, dataset_name, dataset_version, row_count, "
            "rows_done, predict_fn, scorers, params) VALUES (?, ?, 'RUNNING', ?, ?, ?, ?, 0, ?, ?, ?)",
            [run_id, name, utc_now(), dataset_name, dataset_version, row_count, _qualname(predict_fn),
             *redact_strings([to_json([s.describe() for s in scorers]), to_json(params)])])


def save_rows(run_id: str, rows: list[Row], scorers: list[Scorer], rows_done: int) -> None:
    """Insert finished rows and their assessments; update the run's progress."""
    now = utc_now()
    results: dict[str, list[Any]] = {k: [] for k in ("run_id", "row_index", "record_id", "trace_id", "inputs",
                                                    "outputs", "expectations", "latency_ms", "error")}
    assessments: dict[str, list[Any]] = {k: [] for k in (
        "assessment_id", "trace_id", "name", "source_type", "source_id", "value", "value_number", "passed",
        "rationale", "error", "run_id", "row_index", "span_id", "created_at")}
    for row in rows:
        record = row.record
        for key, value in (("run_id", run_id), ("row_index", row.index), ("record_id", record.record_id),
                           ("trace_id", row.trace_id), ("inputs", to_json(record.inputs)),
                           ("outputs", to_json(row.outputs)), ("expectations", to_json(record.expectations)),
                           ("latency_ms", row.latency_ms), ("error", row.error)):
            results[key].append(value)
        if row.trace_id is None:
            continue
        for scorer in scorers:
            score = row.scores.get(scorer.name)
            if score is None:
                continue
            for column, cell in (("assessment_id", new_id()), ("trace_id", row.trace_id), ("name", scorer.name),
                               ("source_type", scorer.source), ("source_id", scorer.model_uri or scorer.name),
                               ("value", to_json(score.value)), ("value_number", as_number(score.value)),
                               ("passed", scorer.passes(score.value)),
                               ("rationale", score.rationale), ("error", score.error), ("run_id", run_id),
                               ("row_index", row.index), ("span_id", row.span_ids.get(scorer.name)),
                               ("created_at", now)):
                assessments[column].append(cell)
    store = get_store()
    with store.exclusive("eval_runs"), store.connect() as con:
        con.execute("BEGIN TRANSACTION")
        try:
            insert_rows(con, "eval_results", results, _RESULT_TYPES)
            insert_rows(con, "assessments", assessments, _ASSESSMENT_TYPES)
            con.execute("UPDATE eval_runs SET rows_done = ? WHERE run_id = ?", [rows_done, run_id])
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise


def usage_by_trace(trace_ids: list[str]) -> dict[str, tuple[Any, Any, Any, Any]]:
    """Per trace: (input_tokens, output_tokens, cost_usd, duration_ms) of the app's own spans.

    The scorers' EVALUATOR spans and everything under them (a judge's model call) are left out:
    they are the evaluation's cost, not the app's. They are told apart by the tree, not by time,
    because the row's root stays open until its scoring is done.
    """
    if not trace_ids:
        return {}
    with get_store().connect() as con:
        found = con.execute(
            """
            WITH RECURSIVE wanted AS (SELECT trace_id, start_ns AS root_start, end_ns AS root_end FROM traces
                                      WHERE trace_id IN (SELECT unnest(?::VARCHAR[]))),
                 scoring(trace_id, span_id) AS (
                     SELECT s.trace_id, s.span_id FROM spans s JOIN wanted w USING (trace_id)
                     WHERE s.kind = 'EVALUATOR'
                     UNION ALL
                     SELECT s.trace_id, s.span_id FROM spans s
                     JOIN scoring j ON s.trace_id = j.trace_id AND s.parent_span_id = j.span_id)
            SELECT w.trace_id,
                   sum(s.input_tokens) FILTER (WHERE s.kind IN ('LLM', 'CHAT_MODEL')),
                   sum(s.output_tokens) FILTER (WHERE s.kind IN ('LLM', 'CHAT_MODEL')),
                   sum(s.cost_usd),
                   any_value((w.root_end - w.root_start) / 1e6)
            FROM wanted w JOIN spans s ON s.trace_id = w.trace_id
            WHERE NOT EXISTS (SELECT 1 FROM scoring j WHERE j.trace_id = s.trace_id AND j.span_id = s.span_id)
            GROUP BY w.trace_id
            """, [trace_ids]).fetchall()
    return {row[0]: row[1:] for row in found}


def save_usage(run_id: str, usage: dict[str, tuple[Any, Any, Any, Any]], rows: list[Row]) -> None:
    columns: dict[str, list[Any]] = {"row_index": [], "input_tokens": [], "output_tokens": [], "cost_usd": [],
                                     "latency_ms": []}
    for row in rows:
        found = usage.get(row.trace_id or "")
        if found is None:
            continue
        columns["row_index"].append(row.index)
        columns["input_tokens"].append(_int(found[0]))
        columns["output_tokens"].append(_int(found[1]))
        columns["cost_usd"].append(found[2])
        columns["latency_ms"].append(row_latency(row, found))
    if not columns["row_index"]:
        return
    import pyarrow as pa

    table = pa.table(columns, schema=pa.schema([("row_index", pa.int64()), ("input_tokens", pa.int64()),
                                                ("output_tokens", pa.int64()), ("cost_usd", pa.float64()),
                                                ("latency_ms", pa.float64())]))
    store = get_store()
    with store.exclusive("eval_runs"), store.connect() as con:
        con.register("_llmops_usage", table)
        try:
            con.execute("UPDATE eval_results SET input_tokens = u.input_tokens, output_tokens = u.output_tokens, "
                        "cost_usd = u.cost_usd, latency_ms = u.latency_ms FROM _llmops_usage u "
                        "WHERE eval_results.run_id = ? AND eval_results.row_index = u.row_index", [run_id])
        finally:
            con.unregister("_llmops_usage")


def row_latency(row: Row, usage: Any) -> Any:
    """The prediction's time; for a row scored on a stored trace (no prediction here), that trace's
    duration. A row given its outputs has none: its root's time is the scoring's."""
    if row.latency_ms is not None:
        return row.latency_ms
    return usage[3] if usage and row.record.source_trace_id else None


def finish_run(run_id: str, status: str, *, rows_done: int, summary: dict[str, Any], wall_s: float,
               error: str | None = None) -> None:
    store = get_store()
    with store.exclusive("eval_runs"), store.connect() as con:
        con.execute("UPDATE eval_runs SET status = ?, ended_at = ?, rows_done = ?, summary = ?, wall_s = ?, "
                    "error_message = ? WHERE run_id = ?",
                    [status, utc_now(), rows_done, to_json(summary), wall_s, error, run_id])


def as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float)):
        return float(value)
    return None


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _qualname(fn: Any) -> str | None:
    if fn is None:
        return None
    module = getattr(fn, "__module__", None)
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or type(fn).__name__
    return f"{module}.{name}" if module and module != "__main__" else name
