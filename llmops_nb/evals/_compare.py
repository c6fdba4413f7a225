"""Two evaluation runs side by side: row by row on ``record_id``, per scorer a delta and win/loss/tie."""

from __future__ import annotations

import math
from typing import Any

from ._scorer import verdict
from ._util import object_series


def compare_runs(baseline: Any, candidate: Any) -> Any:
    """Match two runs' rows by ``record_id``; per common scorer: ``<scorer>/baseline``, ``/candidate``,
    ``/delta`` (candidate minus baseline) and ``/outcome`` (``win``, ``loss``, ``tie``, or None when a
    side has no comparable value), from the candidate's point of view. ``df.attrs["summary"]`` counts
    them per scorer with both means.

    ``baseline``/``candidate``: DataFrames from ``evaluate()`` or run ids.

    >>> import llmops_nb
    >>> diff = llmops_nb.compare_runs(run_a_df, run_b_df)  # doctest: +SKIP
    >>> diff.attrs["summary"]["correctness"]  # doctest: +SKIP
    {'win': 3, 'loss': 1, 'tie': 36, 'mean_baseline': 0.8, 'mean_candidate': 0.85}
    """
    import pandas as pd

    from ._results import eval_results

    a = eval_results(baseline) if isinstance(baseline, str) else baseline
    b = eval_results(candidate) if isinstance(candidate, str) else candidate
    for frame, label in ((a, "baseline"), (b, "candidate")):
        if "record_id" not in frame.columns:
            raise ValueError(f"The {label} has no record_id column: pass DataFrames from evaluate() or run ids.")
    keys_a, keys_b = list(a["record_id"]), list(b["record_id"])
    common = [k for k in keys_a if k in set(keys_b)]
    if not common:
        raise ValueError("The two runs share no rows (record_id): were they run on the same dataset?")
    left = a.set_index("record_id").loc[common]
    right = b.set_index("record_id").loc[common]
    out = pd.DataFrame(index=pd.Index(common, name="record_id"))
    out["inputs"] = object_series(list(left["inputs"]), out.index)
    out["expectations"] = object_series(list(left["expectations"]), out.index)
    for column in ("outputs", "trace_id", "error"):
        out[f"{column}/baseline"] = object_series(list(left[column]), out.index)
        out[f"{column}/candidate"] = object_series(list(right[column]), out.index)
    lower = {s.get("name") for s in (a.attrs.get("scorers") or []) + (b.attrs.get("scorers") or [])
             if s.get("lower_is_better")}
    names = [c[:-6] for c in a.columns if c.endswith("/value") and c in b.columns]
    summary = {}
    for name in names:
        base = [_number(v) for v in left[f"{name}/value"]]
        cand = [_number(v) for v in right[f"{name}/value"]]
        out[f"{name}/baseline"] = object_series(list(left[f"{name}/value"]), out.index)
        out[f"{name}/candidate"] = object_series(list(right[f"{name}/value"]), out.index)
        deltas = [None if x is None or y is None else y - x for x, y in zip(base, cand, strict=True)]
        outcomes = [_outcome(d, name in lower) for d in deltas]
        out[f"{name}/delta"] = pd.array(deltas, dtype="Float64")
        out[f"{name}/outcome"] = object_series(outcomes, out.index)
        summary[name] = {"win": outcomes.count("win"), "loss": outcomes.count("loss"), "tie": outcomes.count("tie"),
                         "mean_baseline": _mean(base), "mean_candidate": _mean(cand)}
    out.attrs.update({"baseline": a.attrs.get("run_id"), "candidate": b.attrs.get("run_id"), "summary": summary,
                      "only_in_baseline": [k for k in keys_a if k not in set(keys_b)],
                      "only_in_candidate": [k for k in keys_b if k not in set(keys_a)]})
    return out


def _number(value: Any) -> float | None:
    if value is None or type(value).__name__ == "NAType":
        return None
    if isinstance(value, str):  # a judge's yes/no: its verdict as 1/0
        passed = verdict(value)
        return None if passed is None else float(passed)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _outcome(delta: float | None, lower_is_better: bool) -> str | None:
    if delta is None:
        return None
    if delta == 0:
        return "tie"
    return "win" if (delta < 0) == lower_is_better else "loss"


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None
