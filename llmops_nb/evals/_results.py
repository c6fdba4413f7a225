"""Evaluation results as pandas DataFrames: a run's rows, the list of runs, per-scorer summaries."""

from __future__ import annotations

import math
from typing import Any

from ..store._connection import get_store
from ._scorer import Scorer
from ._util import from_json, object_series

BASE_COLUMNS = ("inputs", "outputs", "expectations", "trace_id", "record_id", "latency_ms", "input_tokens",
                "output_tokens", "cost_usd", "error")


def summarize(values: dict[str, list[Any]], errors: dict[str, int], scorers: list[Scorer]) -> dict[str, Any]:
    """Per scorer: mean of numeric/boolean values, pass rate, count of values, count of errors."""
    summary = {}
    for scorer in scorers:
        present = [v for v in values.get(scorer.name, []) if v is not None]
        numbers = [float(v) for v in present if isinstance(v, (bool, int, float)) and not
                   (isinstance(v, float) and math.isnan(v))]
        verdicts = [p for p in (scorer.passes(v) for v in present) if p is not None]
        summary[scorer.name] = {
            "mean": sum(numbers) / len(numbers) if numbers else None,
            "pass_rate": sum(verdicts) / len(verdicts) if verdicts else None,
            "count": len(present),
            "errors": errors.get(scorer.name, 0),
        }
    return summary


def build_frame(rows: list[dict[str, Any]], scorer_names: list[str], attrs: dict[str, Any]) -> Any:
    """The result DataFrame: one row per example, base columns then ``<scorer>/value|rationale|error``."""
    import pandas as pd

    rows = sorted(rows, key=lambda r: r["row_index"])
    index = pd.Index([r["row_index"] for r in rows], name="row")
    frame = pd.DataFrame(index=index)
    for column in ("inputs", "outputs", "expectations"):
        frame[column] = object_series([r.get(column) for r in rows], index)
    frame["trace_id"] = object_series([r.get("trace_id") for r in rows], index)
    frame["record_id"] = object_series([r.get("record_id") for r in rows], index)
    frame["latency_ms"] = pd.array([_float(r.get("latency_ms")) for r in rows], dtype="Float64")
    frame["input_tokens"] = pd.array([_int(r.get("input_tokens")) for r in rows], dtype="Int64")
    frame["output_tokens"] = pd.array([_int(r.get("output_tokens")) for r in rows], dtype="Int64")
    frame["cost_usd"] = pd.array([_float(r.get("cost_usd")) for r in rows], dtype="Float64")
    frame["error"] = object_series([r.get("error") for r in rows], index)
    for name in scorer_names:
        scores = [r["scores"].get(name) for r in rows]
        frame[f"{name}/value"] = _typed([s[0] if s else None for s in scores], index)
        frame[f"{name}/rationale"] = object_series([s[1] if s else None for s in scores], index)
        frame[f"{name}/error"] = object_series([s[2] if s else None for s in scores], index)
    frame.attrs.update(attrs)
    return frame


def _typed(values: list[Any], index: Any) -> Any:
    """Booleans as nullable boolean, numbers as nullable float, anything else as objects."""
    import pandas as pd

    present = [v for v in values if v is not None]
    if present and all(isinstance(v, bool) for v in present):
        return pd.Series(pd.array(values, dtype="boolean"), index=index)
    if present and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        return pd.Series(pd.array([_float(v) for v in values], dtype="Float64"), index=index)
    return object_series(values, index)


def _float(value: Any) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value)


def _int(value: Any) -> int | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return int(value)


def eval_runs(name: str | None = None, limit: int | None = 100) -> Any:
    """Evaluation runs, newest first, with each scorer's mean and pass rate as columns.

    >>> import llmops_nb
    >>> llmops_nb.eval_runs()[["run_id", "name", "status", "correctness/pass_rate"]]  # doctest: +SKIP
    """
    query = ("SELECT run_id, name, status, started_at, ended_at, wall_s, row_count, rows_done, dataset_name, "
             "dataset_version, predict_fn, scorers, summary, params, error_message FROM eval_runs")
    params: list[Any] = []
    if name is not None:
        query += " WHERE name = ?"
        params.append(name)
    query += " ORDER BY started_at DESC, run_id"
    if limit is not None:
        query += " LIMIT ?"
        params.append(int(limit))
    with get_store().connect() as con:
        frame = con.execute(query, params).df()
    summaries = [from_json(s) or {} for s in frame["summary"]]
    frame["scorers"] = object_series([from_json(s) for s in frame["scorers"]], frame.index)
    frame["params"] = object_series([from_json(s) for s in frame["params"]], frame.index)
    names: list[str] = []
    for summary in summaries:
        names += [n for n in summary if n not in names]
    for scorer in names:
        for stat in ("mean", "pass_rate"):
            frame[f"{scorer}/{stat}"] = [_float((s.get(scorer) or {}).get(stat)) for s in summaries]
    return frame.drop(columns=["summary"])


def eval_results(run_id: str) -> Any:
    """A stored run's rows as the same DataFrame ``evaluate()`` returned (also for interrupted runs).

    >>> import llmops_nb
    >>> df = llmops_nb.eval_results(llmops_nb.eval_runs().run_id[0])  # doctest: +SKIP
    """
    with get_store().connect() as con:
        run = con.execute("SELECT name, status, scorers, summary, dataset_name, dataset_version, params FROM "
                          "eval_runs WHERE run_id = ?", [run_id]).fetchone()
        if run is None:
            raise LookupError(f"No evaluation run {run_id!r} in the store; see llmops_nb.eval_runs().run_id.")
        results = con.execute("SELECT * FROM eval_results WHERE run_id = ? ORDER BY row_index", [run_id]).df()
        # a conversation's per-turn scores (row_index NULL) are its turns', not the row's
        scores = con.execute("SELECT row_index, name, value, rationale, error FROM assessments WHERE run_id = ? "
                             "AND row_index IS NOT NULL", [run_id]).fetchall()
    by_row: dict[int, dict[str, tuple[Any, Any, Any]]] = {}
    for row_index, name, value, rationale, error in scores:
        by_row.setdefault(int(row_index), {})[name] = (from_json(value), rationale, error)
    rows = []
    for stored in results.to_dict("records"):
        record = {k: (None if _missing(v) else v) for k, v in stored.items()}
        for column in ("inputs", "outputs", "expectations"):
            record[column] = from_json(record[column])
        record["scores"] = by_row.get(int(record["row_index"] or 0), {})
        rows.append(record)
    name, status, scorers, summary, dataset_name, dataset_version, params = run
    described = from_json(scorers) or []
    scorer_names = [s["name"] for s in described]
    attrs = {"run_id": run_id, "name": name, "status": status, "summary": from_json(summary) or {},
             "scorers": described,
             "dataset": {"name": dataset_name, "version": dataset_version} if dataset_name else None}
    from ._conversation_results import reread

    return reread(build_frame(rows, scorer_names, attrs), params)


def run_rows(results: Any, rows: Any) -> tuple[str, list[dict[str, Any]], dict[str, Any]]:
    """(run_id, the selected rows as dicts, the run's facts) from a result DataFrame or a run id."""
    frame = eval_results(results) if isinstance(results, str) else results
    run_id = frame.attrs.get("run_id")
    if not run_id:
        raise ValueError("This DataFrame has no run_id in .attrs: pass the DataFrame evaluate() returned "
                         "(unfiltered attrs) or the run id itself.")
    positions = [rows] if isinstance(rows, int) else list(rows)
    missing = [p for p in positions if p not in frame.index]
    if missing:
        raise KeyError(f"Rows {missing} are not in the evaluation result (its rows are {frame.index.min()}.."
                       f"{frame.index.max()}).")
    if not positions:
        raise ValueError("Select at least one row.")
    picked = [{k: frame.at[p, k] for k in ("inputs", "outputs", "expectations", "trace_id", "record_id")}
              for p in positions]
    with get_store().connect() as con:
        found = con.execute("SELECT name, dataset_name FROM eval_runs WHERE run_id = ?", [run_id]).fetchone()
    run = {"name": found[0], "dataset_name": found[1]} if found else {"name": frame.attrs.get("name")}
    return run_id, picked, run


def _missing(value: Any) -> bool:
    try:
        return value is None or (isinstance(value, float) and math.isnan(value)) or \
            type(value).__name__ in ("NAType", "NaTType")
    except TypeError:
        return False
