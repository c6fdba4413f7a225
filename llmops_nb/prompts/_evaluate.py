"""Evaluating one prompt version on a dataset: the single seam ``compare()`` goes through.

``evaluate_version`` runs ``predict_fn(prompt, **inputs)`` on each row as its own trace
(linked to the prompt version), then every scorer, and returns MLflow's result shape:
one row per data row with ``inputs``, ``outputs``, ``expectations``, ``trace_id`` and,
per scorer, ``<name>/value``, ``<name>/rationale``, ``<name>/error_message``.

This is a small stand-in until ``llmops_nb.evals.evaluate`` lands; when it does, only
``evaluate_version`` changes (call it with ``functools.partial(predict_fn, prompt)``).
"""

from __future__ import annotations

import inspect
from typing import Any

from ._link import link_current_span

_SCORER_ARGS = ("inputs", "outputs", "expectations", "trace")


def rows_of(data: Any) -> list[dict[str, Any]]:
    """``data`` as rows of ``{"inputs": dict, "expectations": dict | None}``.

    Accepts a DataFrame or a list of dicts; a row without an ``inputs`` key is itself the inputs.
    """
    records = data.to_dict("records") if hasattr(data, "to_dict") and hasattr(data, "columns") else data
    if isinstance(records, dict) or not hasattr(records, "__iter__"):
        raise TypeError("data must be a list of rows (dicts) or a DataFrame, e.g. "
                        "[{'inputs': {'question': 'What is DuckDB?'}, 'expectations': {'answer': 'a database'}}].")
    rows = []
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise TypeError(f"data row {index} must be a dict, got {type(record).__name__}.")
        inputs = record.get("inputs", record)
        if not isinstance(inputs, dict):
            raise TypeError(f"data row {index}: 'inputs' must be a dict of keyword arguments for predict_fn, "
                            f"got {type(inputs).__name__}.")
        rows.append({"inputs": inputs, "expectations": record.get("expectations") if "inputs" in record else None})
    if not rows:
        raise ValueError("data is empty: give at least one row to evaluate.")
    return rows


def scorer_name(scorer: Any) -> str:
    return str(getattr(scorer, "name", None) or getattr(scorer, "__name__", None) or type(scorer).__name__)


def check_scorers(scorers: Any) -> list[Any]:
    scorers = [scorers] if callable(scorers) else list(scorers or [])
    for scorer in scorers:
        if not callable(scorer) and not callable(getattr(scorer, "score", None)):
            raise TypeError(f"Each scorer must be callable, like def exact(outputs, expectations): ..., or a "
                            f"scorer object with score(); got {scorer!r}.")
    names = [scorer_name(s) for s in scorers]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"Two scorers are named {duplicates[0]!r}; give each a distinct function name.")
    return scorers


def evaluate_version(prompt: Any, rows: list[dict[str, Any]], scorers: list[Any], predict_fn: Any) -> Any:
    """Run and score ``prompt`` on every row; a pandas DataFrame in MLflow's ``result_df`` shape."""
    import pandas as pd

    from ..tracing import start_span, use_span

    records = []
    for index, row in enumerate(rows):
        root = start_span(f"{prompt.name} v{prompt.version}", "CHAIN", {"llmops_nb.eval.row": index}, parent=None)
        root.set_inputs(row["inputs"])
        outputs, error = None, None
        with use_span(root):
            link_current_span(prompt)
            try:
                outputs = predict_fn(prompt, **row["inputs"])
            except Exception as exc:  # noqa: BLE001 - one failing row is a result, not the end of the run
                root.record_exception(exc)
                error = f"{type(exc).__name__}: {exc}"
        root.set_outputs(outputs)
        record = {"row": index, "inputs": row["inputs"], "outputs": outputs, "expectations": row["expectations"],
                  "trace_id": root.trace_id, "prompt_uri": prompt.uri, "prompt_version": prompt.version,
                  "error": error}
        for scorer in scorers:
            name = scorer_name(scorer)
            value, rationale, failure = _score(scorer, row, outputs, root) if error is None else \
                (None, None, "predict_fn failed on this row")
            record.update({f"{name}/value": value, f"{name}/rationale": rationale, f"{name}/error_message": failure})
            if failure is None:
                root.add_event("gen_ai.evaluation.result", {
                    "gen_ai.evaluation.name": name, "gen_ai.evaluation.score.value": value,
                    "gen_ai.evaluation.explanation": rationale})
        root.end()
        records.append(record)
    # object columns keep values as returned: None stays None, a string column is not coerced
    columns = {key: pd.Series([r[key] for r in records], dtype=None if key in ("row", "prompt_version") else object)
               for key in records[0]}
    return pd.DataFrame(columns)


def _score(scorer: Any, row: dict[str, Any], outputs: Any, root: Any) -> tuple[Any, Any, Any]:
    available = {"inputs": row["inputs"], "outputs": outputs, "expectations": row["expectations"], "trace": None}
    try:
        if callable(getattr(scorer, "score", None)) and hasattr(scorer, "needs"):  # an llmops_nb.evals Scorer
            call, wanted = scorer.score, [name for name in _SCORER_ARGS if name in scorer.needs]
        else:
            params = inspect.signature(scorer).parameters
            call = scorer
            if any(p.kind is p.VAR_KEYWORD for p in params.values()):
                wanted = list(_SCORER_ARGS)
            else:
                wanted = [name for name in params if name in _SCORER_ARGS]
        if "trace" in wanted:
            available["trace"] = root.trace_id
        result = call(**{name: available[name] for name in wanted})
    except Exception as exc:  # noqa: BLE001 - a broken scorer is reported per row
        return None, None, f"{type(exc).__name__}: {exc}"
    if isinstance(result, dict) and "value" in result:
        return result["value"], result.get("rationale"), result.get("error")
    if hasattr(result, "value") and not isinstance(result, (int, float, str, bool)):
        return result.value, getattr(result, "rationale", None), getattr(result, "error", None)
    return result, None, None
