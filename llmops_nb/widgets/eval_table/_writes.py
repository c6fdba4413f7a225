"""What the eval table writes: feedback on a row's trace (``log_feedback``) and a dataset version made
from selected rows (``datasets.from_eval_rows`` / ``datasets.create``)."""

from __future__ import annotations

from typing import Any

from ._format import feedback_json
from ._reader import Reader, feedback_history
from ._sides import Side, stored_rows
from ._sql import FEEDBACK_NAME, View


def write_feedback(view: View, row: int, value: Any, *, label: Any, comment: Any, author: str | None) -> dict[str, Any]:
    """Store one piece of feedback on a row's trace (``log_feedback``) and return the row's latest feedback."""
    from ...evals._feedback import log_feedback

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
    return {"row": row, "assessment_id": assessment_id, "feedback": feedback_json(latest),
            "history": feedback_history(r["trace_id"])}


def make_dataset(side: Side, rows: Any, *, name: Any = None, append: Any = True, expectations_from_outputs: Any = False,
                 description: Any = None) -> dict[str, Any]:
    """A new dataset version from selected rows (``datasets.from_eval_rows``; ``datasets.create`` for a
    DataFrame without a run id)."""
    from ...evals._datasets import datasets

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
        known = stored_rows(side.run_id or "") or {}
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
