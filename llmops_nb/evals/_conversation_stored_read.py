"""Reading stored conversations for ``evaluate()``: each session's turns as ``agents.session()`` gives them
(its rules, in one read for every session), the root span of each turn (the parent of a scorer's
EVALUATOR span), and the turns that have not finished.

A turn is a trace of the session whose root span is stored. The store learns a trace's session when its
root is written (``traces.session``, see ``agents/_select.py``), so a turn whose root is still open is not
in ``agents.session()`` yet: it is scored with the turns stored so far, never waited for. When such a
turn can be seen it is named in the conversation's row: a trace without a stored root whose stored spans
carry the session in OpenInference's ``session.id`` or OpenTelemetry GenAI's ``gen_ai.conversation.id``
(OpenInference's ``using_session`` puts it on every span, so a turn whose model call has ended already
shows), or, defensively, a listed turn whose root is missing or still ``IN_PROGRESS``. Such a trace may
also be one whose process ended before its root did: the note says "not finished", not "running".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .._errors import LlmopsError

_AMONG = "SELECT unnest(?::VARCHAR[])"
#: traces whose root is not stored (yet): the store knows none of their sessions
_OPEN_TRACES = "SELECT trace_id, start_ns FROM traces WHERE status IS NULL AND end_ns IS NULL AND start_ns IS NOT NULL"


class UnknownSessionError(LlmopsError, LookupError):
    """A session id given to ``evaluate()`` has no turn in the store."""


@dataclass
class StoredTurn:
    """One stored turn: the user's words and the assistant's, under the trace ``trace_id`` (root ``span_id``)."""

    trace_id: str
    span_id: str
    user: str
    assistant: str
    duration_ms: float | None
    status: str
    error: str | None


@dataclass
class StoredSession:
    turns: list[StoredTurn] = field(default_factory=list)
    unfinished: list[str] = field(default_factory=list)  # trace ids of turns not stored (yet), oldest first


def read_sessions(session_ids: list[str]) -> dict[str, StoredSession]:
    """Every session's stored turns in order and its unfinished turns; an :class:`UnknownSessionError`
    naming ``llmops_nb.sessions()`` when a session has neither.

    One read for all the sessions, with ``agents.session()``'s rules — which traces are a session's
    (``keyed_turns``), their order (start, then trace id), the user's and the assistant's words
    (``agents._text``) — not one ``session()`` call per session (~14 ms each on a small store)."""
    from ..agents._select import keyed_turns
    from ..store._connection import get_store
    from ..tracing import flush

    flush()  # this process's ended turns count
    with get_store().connect() as con:
        turns = con.execute(
            f"SELECT session, trace_id, start_ns, end_ns, COALESCE(status, 'IN_PROGRESS'), error_message "
            f"FROM ({keyed_turns('t.trace_id, t.start_ns, t.end_ns, t.status, t.error_message', 'TRUE', among=_AMONG)})"
            " ORDER BY session, start_ns, trace_id", [session_ids]).fetchall()
        roots = _roots(con, turns)
        unfinished = _unfinished(con, session_ids)
    stored = {row[0] for row in turns}
    unknown = [s for s in session_ids if s not in stored and s not in unfinished]
    if unknown:
        more = f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""
        raise UnknownSessionError(
            f"No session {unknown[0]!r}{more} in the store: take the ids from llmops_nb.sessions().session, or pass "
            "llmops_nb.sessions(...) itself (a session id is traces.session, or a root span's session.id or "
            "gen_ai.conversation.id attribute).")
    from ..agents._text import assistant_text, loads, user_text

    found: dict[str, StoredSession] = {s: StoredSession(unfinished=list(unfinished.get(s, []))) for s in session_ids}
    for session_id, trace_id, start_ns, end_ns, status, error in turns:
        read, root = found[session_id], roots.get(trace_id)
        if root is None or status == "IN_PROGRESS":  # listed, but its root is not stored (see the module doc)
            read.unfinished.append(trace_id)
            continue
        span_id, inputs, outputs = root
        duration = None if end_ns is None else (end_ns - start_ns) / 1e6
        read.turns.append(StoredTurn(trace_id, span_id, user_text(loads(inputs)), assistant_text(loads(outputs)),
                                     duration, status, error or None))
    return found


def _unfinished(con: Any, session_ids: list[str]) -> dict[str, list[str]]:
    """Per session: traces without a stored root whose stored spans name it (see the module doc)."""
    from ..store._batch_sql import ROOT_SESSION

    open_traces = con.execute(_OPEN_TRACES).fetchall()
    if not open_traces:
        return {}
    since = min(int(start) for _, start in open_traces)
    # the bound lets DuckDB skip older row groups; ROOT_SESSION reads a span's attributes, as for a root
    rows = con.execute(
        f"SELECT session, trace_id, min(start_ns) AS first_ns FROM (SELECT trace_id, start_ns, {ROOT_SESSION} AS "
        f"session FROM spans WHERE start_ns >= {since} AND trace_id IN (SELECT unnest(?::VARCHAR[]))) "
        "WHERE session IN (SELECT unnest(?::VARCHAR[])) GROUP BY ALL ORDER BY first_ns, trace_id",
        [[trace_id for trace_id, _ in open_traces], session_ids]).fetchall()
    found: dict[str, list[str]] = {}
    for session_id, trace_id, _ in rows:
        found.setdefault(session_id, []).append(trace_id)
    return found


def _roots(con: Any, turns: list[Any]) -> dict[str, tuple[str, Any, Any]]:
    """The turns' root spans: span id, inputs and outputs (JSON text), by trace id."""
    if not turns:
        return {}
    # a root starts when its trace does: the range lets DuckDB skip row groups of other times
    first, last = min(t[2] for t in turns), max(t[2] for t in turns)
    rows = con.execute("SELECT trace_id, span_id, inputs, outputs FROM spans WHERE parent_span_id IS NULL AND "
                       f"start_ns BETWEEN {int(first)} AND {int(last)} AND trace_id IN (SELECT unnest(?::VARCHAR[]))",
                       [[t[1] for t in turns]]).fetchall()
    return {trace_id: (span_id, inputs, outputs) for trace_id, span_id, inputs, outputs in rows}
