"""``erase()``: remove a user's, a session's or some traces' payloads from everywhere the store keeps them.

A trace's content lives in more places than ``spans``: its row in ``traces`` (previews of the
request and response; ``trace_parts`` on a lake), the assessments and feedback on it, dataset rows
copied from it (``eval_dataset_rows.source_trace_id``), the evaluation results that ran it
(``eval_results.trace_id``: their inputs, outputs, expectations and error are blanked, the scores
and the run's totals stay), the raw LLM calls recorded during it (``recorded_calls``), and the drop
log's rows about it. All go in one transaction, with the audit trail's ``data.erased`` row (counts
and a digest of the selector, never the erased content): erased and recorded, or neither.

Who is a user: a trace belongs to ``user_id`` when one of its spans has the attribute ``user.id``
(OpenTelemetry's name) or ``enduser.id`` (its older one) equal to it, or the trace has the tag
``user.id`` or ``user_id`` equal to it. Set one with ``span.set_attributes({"user.id": ...})`` or
``%%llm_trace --tag user.id=...``.

Deleting rows from the current state is not the end on a lake: DuckLake keeps earlier snapshots for
time travel (``traces(as_of=...)``) until they expire. ``erase()`` says so in its result; the
owner's ``llmops_nb.store.maintain(keep=timedelta(0))`` expires them and deletes their files.
On a DuckDB file the rows are deleted at once, though their bytes may linger in the file's free
blocks until reused; ``llmops_nb.store.copy_store`` into a new file leaves none behind. Spans still
in memory are flushed first; a trace still running when it is erased can gain spans afterwards,
so erase traces once they have ended.
"""

from __future__ import annotations

import hashlib
from typing import Any

from ._audit import audited
from ._connection import get_store

__all__ = ["DELETE_LOCKS", "delete_traces", "erase"]

#: the lake's locks the deletes take, in this order (the audit trail's comes last, in ``audited``):
#: two deleters never run at once, and each table is changed under the lock its own writers take
DELETE_LOCKS = ("erase", "eval_datasets", "eval_runs", "recorded_calls")
_IDS = "(SELECT unnest(?::VARCHAR[]))"
_USER_TRACES = """
SELECT DISTINCT trace_id FROM spans
WHERE json_extract_string(attributes, '$."user.id"') = ? OR json_extract_string(attributes, '$."enduser.id"') = ?
UNION
SELECT trace_id FROM traces
WHERE json_extract_string(tags, '$."user.id"') = ? OR json_extract_string(tags, '$."user_id"') = ?
"""


def erase(*, user_id: Any = None, session: str | None = None, trace_ids: Any = None) -> dict[str, Any]:
    """Delete every stored payload of a user, a session or some traces; returns the counts per place.

    Give exactly one: ``user_id`` (spans with the attribute ``user.id``/``enduser.id``, or traces
    tagged ``user.id``/``user_id``), ``session`` (``%%llm_trace --session``) or ``trace_ids`` (ids, a
    ``llmops_nb.traces()`` DataFrame). The erasure is recorded in the audit trail (counts only).

    >>> import llmops_nb
    >>> llmops_nb.erase(user_id="u-1842")  # doctest: +SKIP
    {'traces': 3, 'spans': 17, 'assessments': 1, 'dataset_rows': 0, ...}
    """
    chosen = {name: value for name, value in
              (("user_id", user_id), ("session", session), ("trace_ids", trace_ids)) if value is not None}
    if len(chosen) != 1:
        raise ValueError("erase() takes exactly one of user_id=, session= or trace_ids= "
                         f"(got {', '.join(chosen) or 'none'}): say whose data to delete.")
    (by, value), = chosen.items()
    ids = _ids(value) if by == "trace_ids" else None
    if by == "user_id":
        if isinstance(value, bool) or not isinstance(value, (str, int)) or not str(value).strip():
            raise ValueError(f"user_id is the user's id as stored in the attribute user.id, got {value!r}.")
        value = str(value)
    elif by == "session" and (not isinstance(value, str) or not value):
        raise ValueError(f"session is a session name as given to %%llm_trace --session, got {value!r}.")
    from ..tracing import flush

    flush()  # spans this process recorded before the call are in the store, so they are erased too
    lake = not get_store().supports_upsert

    def work(con: Any) -> tuple[str, str, dict[str, Any], dict[str, Any]]:
        found = ids if ids is not None else _traces_of(con, by, value)
        counts = delete_traces(con, found, lake=lake, derived=True)
        digest = hashlib.sha256("\n".join(sorted(found) if ids is not None else [value]).encode()).hexdigest()
        # the selector's digest proves which request was carried out without keeping the id itself
        return "data.erased", by, {"by": by, "selector_sha256": digest, **counts}, counts

    result: dict[str, Any] = audited(work, locks=DELETE_LOCKS)
    if lake:
        result["history"] = ("the lake's earlier snapshots still hold these rows until they expire: "
                             "llmops_nb.store.maintain(keep=datetime.timedelta(0)), run by the catalog's owner, "
                             "expires them and deletes their files")
    return result


def _ids(value: Any) -> list[str]:
    if isinstance(value, str):
        value = [value]
    elif hasattr(value, "columns") and "trace_id" in value.columns:  # a traces() DataFrame
        value = list(value["trace_id"])
    try:
        ids = [str(v) for v in value]
    except TypeError:
        raise TypeError(f"trace_ids is a trace id, a list of them or a traces() DataFrame, got {value!r}.") from None
    bad = [v for v in ids if len(v) != 32 or any(ch not in "0123456789abcdef" for ch in v)]
    if bad:
        raise ValueError(f"trace ids are 32 lowercase hex characters; {bad[0]!r} is not one. Take them from "
                         "llmops_nb.traces().trace_id.")
    return sorted(set(ids))


def _traces_of(con: Any, by: str, value: str) -> list[str]:
    if by == "session":
        rows = con.execute("SELECT trace_id FROM traces WHERE session = ?", [value]).fetchall()
    else:
        rows = con.execute(_USER_TRACES, [value] * 4).fetchall()
    return sorted({row[0] for row in rows})


def delete_traces(con: Any, ids: list[str], *, lake: bool, derived: bool) -> dict[str, int]:
    """Delete traces ``ids`` in the caller's transaction; the rows removed (or blanked) per place.

    ``derived``: also what was made from them (assessments, dataset rows, evaluation results'
    payloads, recorded calls) — an erasure; retention deletes only the traces and their spans.
    """
    counts = {"traces": 0, "spans": 0}
    if not ids:
        return counts if not derived else {**counts, "assessments": 0, "dataset_rows": 0, "eval_results": 0,
                                           "recorded_calls": 0}
    counts["traces"] = _count(con, f"SELECT count(*) FROM traces WHERE trace_id IN {_IDS}", ids)
    counts["spans"] = _changed(con, f"DELETE FROM spans WHERE trace_id IN {_IDS}", ids)
    con.execute(f"DELETE FROM {'trace_parts' if lake else 'traces'} WHERE trace_id IN {_IDS}", [ids])
    con.execute(f"DELETE FROM dropped_spans WHERE trace_id IN {_IDS}", [ids])
    if derived:
        counts["assessments"] = _changed(con, f"DELETE FROM assessments WHERE trace_id IN {_IDS}", ids)
        counts["dataset_rows"] = _changed(con, f"DELETE FROM eval_dataset_rows WHERE source_trace_id IN {_IDS}", ids)
        # the run's row stays (its scores and totals are aggregates); what the row was about goes
        counts["eval_results"] = _changed(con, "UPDATE eval_results SET inputs = NULL, outputs = NULL, "
                                          f"expectations = NULL, error = NULL WHERE trace_id IN {_IDS}", ids)
        counts["recorded_calls"] = _changed(con, f"DELETE FROM recorded_calls WHERE trace_id IN {_IDS}", ids)
    return counts


def _count(con: Any, query: str, ids: list[str]) -> int:
    return int(con.execute(query, [ids]).fetchone()[0])


def _changed(con: Any, statement: str, ids: list[str]) -> int:
    row = con.execute(statement, [ids]).fetchone()  # DuckDB answers a DELETE or UPDATE with its row count
    return int(row[0]) if row else 0
