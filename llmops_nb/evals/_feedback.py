"""Human feedback and assessments: ``log_feedback()``, ``feedback()``, ``assessments()``.

Feedback is an assessment with source HUMAN, kept with its author and time;
giving feedback again adds a row (the history stays), and ``feedback(latest=True)``
keeps each author's newest per trace and name.
"""

from __future__ import annotations

from typing import Any

from .._config import current_author
from .._redact import redact_strings
from ..pii._records import scrub_texts
from ..store._connection import get_store
from ._run_store import as_number
from ._scorer import verdict
from ._util import from_json, new_id, object_series, to_json, utc_now

_HEX = frozenset("0123456789abcdef")


def log_feedback(trace_id: Any, value: Any = None, *, label: str | None = None, comment: str | None = None,
                 author: str | None = None, name: str = "human_feedback", run_id: str | None = None,
                 row: int | None = None) -> str:
    """Record a person's judgement of a trace; returns the assessment id.

    ``value``: ``True``/``False`` (thumbs up/down), a number or a string;
    ``label``: a category; ``comment``: free text. ``author`` defaults to
    ``configure(author=...)``, then ``$LLMOPS_NB_AUTHOR``, then the login name.
    ``run_id``/``row`` tie it to an evaluation row.

    >>> import llmops_nb
    >>> llmops_nb.log_feedback(df.trace_id[0], value=False, label="hallucination",
    ...                        comment="cites a paper that does not exist")  # doctest: +SKIP
    'c0ffee...'
    """
    trace_id = _check_trace_id(trace_id)
    if value is None and label is None and not comment:
        raise ValueError("log_feedback() needs a value (e.g. True/False), a label or a comment.")
    if value is not None and not isinstance(value, (bool, int, float, str)):
        raise TypeError(f"Feedback value must be a bool, number or string, got {type(value).__name__}.")
    if not isinstance(name, str) or not name:
        raise ValueError("Feedback needs a non-empty name, e.g. name='helpfulness'.")
    who = current_author(author)
    from ..tracing import flush

    flush()
    assessment_id = new_id()
    with get_store().connect() as con:
        if con.execute("SELECT count(*) FROM traces WHERE trace_id = ?", [trace_id]).fetchone()[0] == 0:
            raise LookupError(f"No trace {trace_id} in the store: take the id from llmops_nb.traces().trace_id or "
                              "an evaluation result's trace_id column.")
        con.execute(
            "INSERT INTO assessments (assessment_id, trace_id, name, source_type, source_id, value, value_number, "
            "passed, label, rationale, run_id, row_index, created_at) "
            "VALUES (?, ?, ?, 'HUMAN', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [assessment_id, trace_id, name, who, *scrub_texts(redact_strings([to_json(value)])),
             as_number(value), verdict(value), *scrub_texts(redact_strings([label, comment])), run_id, row, utc_now()])
    return assessment_id


def feedback(trace_id: Any = None, *, run_id: str | None = None, author: str | None = None,
             name: str | None = None, latest: bool = False) -> Any:
    """Human feedback as a DataFrame (newest first): trace_id, name, value, label, comment, author, created_at.

    >>> import llmops_nb
    >>> llmops_nb.feedback(run_id=df.attrs["run_id"], latest=True)  # doctest: +SKIP
    """
    frame = _query(trace_id, run_id, "HUMAN", name, author)
    frame = frame.rename(columns={"rationale": "comment", "source_id": "author"})
    if latest and len(frame):
        frame = frame.drop_duplicates(subset=["trace_id", "name", "author"], keep="first")
    return frame[["assessment_id", "trace_id", "name", "value", "label", "comment", "author", "created_at",
                  "run_id", "row_index"]].reset_index(drop=True)


def assessments(trace_id: Any = None, *, run_id: str | None = None, source: str | None = None,
                name: str | None = None) -> Any:
    """Every assessment — judges' and code scorers' scores and human feedback — as a DataFrame, newest first.

    ``source``: HUMAN, LLM_JUDGE or CODE.

    >>> import llmops_nb
    >>> llmops_nb.assessments(source="LLM_JUDGE", name="correctness")  # doctest: +SKIP
    """
    if source is not None:
        source = str(source).upper()
        if source not in ("HUMAN", "LLM_JUDGE", "CODE"):
            raise ValueError(f"source must be HUMAN, LLM_JUDGE or CODE, got {source!r}.")
    return _query(trace_id, run_id, source, name, None)


def _query(trace_id: Any, run_id: str | None, source: str | None, name: str | None, author: str | None) -> Any:
    where, params = [], []
    if trace_id is not None:
        where.append("trace_id = ?")
        params.append(_check_trace_id(trace_id))
    for column, value in (("run_id", run_id), ("source_type", source), ("name", name), ("source_id", author)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    query = ("SELECT assessment_id, trace_id, name, source_type, source_id, value, label, rationale, error, run_id, "
             "row_index, span_id, created_at FROM assessments")
    if where:
        query += " WHERE " + " AND ".join(where)
    with get_store().connect() as con:
        frame = con.execute(query + " ORDER BY created_at DESC, assessment_id", params).df()
    frame["value"] = object_series([from_json(v) for v in frame["value"]], frame.index)
    return frame


def _check_trace_id(trace_id: Any) -> str:
    value = getattr(trace_id, "trace_id", trace_id)
    if not isinstance(value, str) or len(value) != 32 or not set(value) <= _HEX:
        raise ValueError(f"Expected a trace id of 32 lowercase hex characters, got {trace_id!r}. Take one from "
                         "llmops_nb.traces().trace_id or an evaluation result's trace_id column.")
    return value
