"""Online scorers' results as an evaluation-shaped DataFrame: one row per scored trace (or span), with
``<scorer>/value``, ``/rationale`` and ``/error`` columns — the shape ``evaluate()`` returns, so
``llmops_nb.show(frame)`` opens it in the EvalTable and each row opens its trace in the explorer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..evals._util import from_json, object_series
from ..store._connection import get_store
from ..tracing import flush
from ._durations import instant_ns


def monitor_results(scorers: str | Sequence[str] | None = None, *, since: Any = "24h", until: Any = None,
                    limit: int = 10_000, store: Any = None) -> Any:
    """The newest results of online scorers, widest first: a DataFrame for the EvalTable.

    >>> import llmops_nb
    >>> frame = llmops_nb.monitor.results(["polite"], since="1h")  # doctest: +SKIP
    >>> llmops_nb.show(frame)  # doctest: +SKIP
    """
    names = [scorers] if isinstance(scorers, str) else list(scorers or [])
    start = instant_ns(since, "since") if since is not None else 0
    end = instant_ns(until, "until") if until is not None else None
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"limit is the most rows to return, at least 1; got {limit!r}.")
    flush()
    with (store or get_store()).connect() as con:
        rows = con.execute(
            """
            WITH scored AS (
                SELECT m.trace_id, m.target_span_id, m.scorer, a.value, a.rationale, a.error, m.scored_at,
                       t.start_ns
                FROM monitor_scored m JOIN assessments a ON a.assessment_id = m.assessment_id
                JOIN traces t ON t.trace_id = m.trace_id
                WHERE (len(?::VARCHAR[]) = 0 OR m.scorer IN (SELECT unnest(?::VARCHAR[])))
                  AND t.start_ns >= ? AND (? IS NULL OR t.start_ns < ?)
                QUALIFY row_number() OVER (PARTITION BY m.trace_id, m.target_span_id, m.scorer
                                           ORDER BY m.scored_at DESC) = 1),
            keys AS (SELECT trace_id, target_span_id, max(start_ns) AS start_ns FROM scored GROUP BY ALL
                     ORDER BY start_ns DESC, trace_id, target_span_id LIMIT ?)
            SELECT s.trace_id, s.target_span_id, s.scorer, s.value, s.rationale, s.error, s.scored_at,
                   coalesce(sp.inputs, r.inputs) AS inputs, coalesce(sp.outputs, r.outputs) AS outputs, k.start_ns
            FROM scored s JOIN keys k USING (trace_id, target_span_id)
            LEFT JOIN spans sp ON s.target_span_id <> '' AND sp.trace_id = s.trace_id AND sp.span_id = s.target_span_id
            LEFT JOIN spans r ON r.trace_id = s.trace_id AND r.parent_span_id IS NULL
            ORDER BY k.start_ns DESC, s.trace_id, s.target_span_id, s.scorer
            """, [names, names, start, end, end, limit]).fetchall()
    return _frame(rows)


def _frame(rows: list[tuple[Any, ...]]) -> Any:
    import pandas as pd

    records: dict[tuple[str, str], dict[str, Any]] = {}
    scorers: list[str] = []
    for trace_id, target, scorer, value, rationale, error, scored_at, inputs, outputs, _ in rows:
        record = records.setdefault((trace_id, target), {
            "trace_id": trace_id, "span_id": target or None, "inputs": from_json(inputs),
            "outputs": from_json(outputs), "scored_at": scored_at})
        record[f"{scorer}/value"] = from_json(value)
        record[f"{scorer}/rationale"] = rationale
        record[f"{scorer}/error"] = error
        record["scored_at"] = max(record["scored_at"], scored_at)
        if scorer not in scorers:
            scorers.append(scorer)
    columns = ["trace_id", "span_id", "inputs", "outputs"]
    for name in scorers:
        columns += [f"{name}/value", f"{name}/rationale", f"{name}/error"]
    columns.append("scored_at")
    frame = pd.DataFrame({c: object_series([r.get(c) for r in records.values()]) for c in columns if c != "scored_at"},
                         columns=columns[:-1])
    frame["scored_at"] = pd.to_datetime(pd.Series([r["scored_at"] for r in records.values()], dtype=object))
    frame.attrs["monitor"] = True
    return frame
