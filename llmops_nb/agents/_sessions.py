"""Conversations that span traces: ``sessions()`` one row per session, ``session(id)`` its turns.

A session is every trace (a *turn*) with the same session id (``_select.py`` gives the rule). The page
is found without aggregating every session: the newest sessions are those with the newest turns, so
the turns that started since a threshold — the start of the K-th newest trace, a filter DuckDB answers
from row-group min/max — hold the page's sessions with their exact latest start; when they hold too
few sessions, K grows and the search runs again. Only the page's sessions are then summed, over all
their turns, and only their first and last roots' payloads are read for the previews. On 100,000
sessions of 3 turns the first page takes ~40 ms warm, against 180 ms for one query aggregating every
session (``benchmarks/agents_bench.py``; ~75 ms before ``traces.session`` held the roots' attribute
sessions too, when every page also scanned the roots' attributes).
"""

from __future__ import annotations

from typing import Any

from ._select import check_page, keyed_turns, reading, resolve_store, trace_filters
from ._text import assistant_text, loads, preview, user_text

__all__ = ["session", "sessions"]

SESSION_COLUMNS = ("session", "first_at", "last_at", "turns", "duration_s", "input_tokens", "output_tokens",
                   "cost_usd", "errors", "llm_calls", "first_input", "last_output")
TURN_COLUMNS = ("turn", "trace_id", "start_time", "user", "assistant", "input_tokens", "output_tokens", "cost_usd",
                "llm_calls", "status", "error", "duration_ms")
_FIRST_K = 64  # the threshold's first K is 4 x (offset + limit) + this; then x 8 per retry

_TURN_COLUMNS = "t.trace_id, t.start_ns, t.end_ns, t.status, t.input_tokens, t.output_tokens, t.cost_usd, t.llm_calls"
_SUMMARY = """
WITH page AS (SELECT unnest(?::VARCHAR[]) AS session),
turns AS MATERIALIZED (__TURNS__),
scores AS (
    SELECT session, list({'name': name, 'mean': mean, 'pass_rate': pass_rate} ORDER BY name) AS scores
    FROM (SELECT u.session, a.name, avg(a.value_number) AS mean, avg(CAST(a.passed AS DOUBLE)) AS pass_rate
          FROM turns AS u JOIN assessments AS a ON a.trace_id = u.trace_id GROUP BY ALL)
    GROUP BY session
)
SELECT u.session,
       make_timestamp(min(u.start_ns) // 1000) AS first_at,
       make_timestamp(max(u.start_ns) // 1000) AS last_at,
       count(*) AS turns,
       (max(COALESCE(u.end_ns, u.start_ns)) - min(u.start_ns)) / 1e9 AS duration_s,
       CAST(sum(u.input_tokens) AS BIGINT) AS input_tokens,
       CAST(sum(u.output_tokens) AS BIGINT) AS output_tokens,
       sum(u.cost_usd) AS cost_usd,
       CAST(count_if(u.status = 'ERROR') AS BIGINT) AS errors,
       CAST(sum(u.llm_calls) AS BIGINT) AS llm_calls,
       arg_min(u.trace_id, u.start_ns) AS first_trace,
       arg_max(u.trace_id, u.start_ns) AS last_trace,
       min(u.start_ns) AS first_ns, max(u.start_ns) AS last_ns,
       any_value(s.scores) AS scores
FROM turns AS u LEFT JOIN scores AS s USING (session)
GROUP BY u.session
ORDER BY max(u.start_ns) DESC, u.session
"""

_TURNS = f"""
SELECT trace_id, start_ns, make_timestamp(start_ns // 1000) AS start_time,
       CASE WHEN end_ns IS NULL THEN NULL ELSE (end_ns - start_ns) / 1e6 END AS duration_ms,
       COALESCE(status, 'IN_PROGRESS') AS status, error_message AS error,
       input_tokens, output_tokens, cost_usd, llm_calls
FROM ({keyed_turns(_TURN_COLUMNS + ", t.error_message", "TRUE")})
WHERE session = ?
ORDER BY start_ns, trace_id
"""


def sessions(*, since: Any = None, until: Any = None, name: str | None = None, limit: int | None = 100,
             offset: int = 0, store: Any = None) -> Any:
    """Conversations that span traces, newest activity first, as a pandas DataFrame (one row per session).

    Columns: ``session``; ``first_at`` and ``last_at`` (UTC, tz-naive, like ``traces()``'s times: when
    the first and the latest turn started — the order of the rows, newest first); ``turns`` (traces);
    ``duration_s`` (first turn's start to the last end); ``input_tokens``, ``output_tokens``,
    ``cost_usd``, ``errors`` (turns whose status is ERROR) and ``llm_calls`` summed over the turns;
    ``first_input`` (the user's words in the first turn, a one-line preview) and ``last_output``
    (the assistant's last answer); then, for each assessment name on the page's turns,
    ``<name>/mean`` (mean of ``value_number``; booleans are 1/0) and ``<name>/pass_rate`` (share of
    ``passed``), NaN where a session has none.

    A trace's session id is ``traces.session``, else its root span's ``session.id`` attribute
    (OpenInference), else its ``gen_ai.conversation.id`` (OpenTelemetry GenAI). The filters pick
    turns, as in ``traces()``: ``name`` (exact or a glob), ``since``/``until`` (on the turn's start);
    a session's row sums the turns that pass them. ``limit``/``offset`` page in SQL (``limit=None``:
    every session). ``store``: the configured store, a path to a DuckDB file, or a store.
    No ``where=`` yet: filter the frame, or by name and time.

    >>> from llmops_nb import agents
    >>> agents.sessions(since="2026-12-01", limit=20)  # doctest: +SKIP
    """
    limit, offset = check_page(limit, offset, "sessions")
    where, params = trace_filters(since, until, name)
    clause = " AND ".join(where) or "TRUE"
    with reading(resolve_store(store, "sessions")) as con:
        page = _page(con, clause, params, limit, offset)
        turns = keyed_turns(_TURN_COLUMNS, clause, among="SELECT session FROM page")
        frame = con.execute(_SUMMARY.replace("__TURNS__", turns), [page, *params]).df()
        roots = _root_payloads(con, frame)
    return _finish(frame, roots)


def session(session_id: str, *, store: Any = None) -> Any:
    """One session's turns in order, as a pandas DataFrame.

    Columns: ``turn`` (1, 2, ...), ``trace_id``, ``start_time`` (UTC, tz-naive), ``user`` (the user's
    words: the last user message of a chat's ``messages``, else a prompt-like argument of the root),
    ``assistant`` (the root's answer: a string, an OpenAI or Anthropic reply's text), ``input_tokens``,
    ``output_tokens``, ``cost_usd``, ``llm_calls``, ``status``, ``error`` (the root's error message) and
    ``duration_ms``. The session id is read as for ``sessions()``.

    >>> from llmops_nb import agents
    >>> agents.session(agents.sessions().session[0])  # doctest: +SKIP
    """
    if not isinstance(session_id, str) or not session_id:
        raise TypeError(f"session() takes a session id (a string), e.g. agents.session(agents.sessions().session[0]); "
                        f"got {session_id!r}.")
    with reading(resolve_store(store, "session")) as con:
        frame = con.execute(_TURNS, [session_id]).df()
        if frame.empty:
            raise LookupError(f"No session {session_id!r} in the store: list them with llmops_nb.agents.sessions() "
                              "(a session id is traces.session, or a root span's session.id or "
                              "gen_ai.conversation.id attribute).")
        payloads = _payloads(con, list(frame.trace_id), int(frame.start_ns.min()), int(frame.start_ns.max()))
    inputs = [payloads.get(t, (None, None))[0] for t in frame.trace_id]
    outputs = [payloads.get(t, (None, None))[1] for t in frame.trace_id]
    frame.insert(0, "turn", range(1, len(frame) + 1))
    frame["user"] = [user_text(loads(v)) for v in inputs]
    frame["assistant"] = [assistant_text(loads(v)) for v in outputs]
    return frame[list(TURN_COLUMNS)]


def _page(con: Any, clause: str, params: list[Any], limit: int | None, offset: int) -> list[str]:
    """The page's session ids, newest latest turn first (see the module doc for the threshold)."""
    wanted = None if limit is None else offset + limit
    k = None if wanted is None else 4 * wanted + _FIRST_K
    while True:
        threshold = None
        if k is not None:
            row = con.execute(f"SELECT t.start_ns FROM traces AS t WHERE {clause} ORDER BY t.start_ns DESC "
                              "LIMIT 1 OFFSET ?", [*params, k - 1]).fetchone()
            threshold = None if row is None or row[0] is None else int(row[0])
        query = (f"SELECT session, max(start_ns) AS last_ns FROM ({keyed_turns('t.start_ns', clause, threshold)}) "
                 "GROUP BY session HAVING session IS NOT NULL ORDER BY last_ns DESC, session")
        page_params = [*params]
        if limit is not None:
            query += " LIMIT ? OFFSET ?"
            page_params += [limit, offset]
        elif offset:
            query += " OFFSET ?"
            page_params.append(offset)
        found = [row[0] for row in con.execute(query, page_params).fetchall()]
        # a full page, or every turn searched: exact (a session outside the turns since the threshold
        # started its latest turn before every session found)
        if threshold is None or (limit is not None and len(found) == limit):
            return found
        k = None if k is None else k * 8


def _root_payloads(con: Any, frame: Any) -> dict[str, tuple[Any, Any]]:
    """The page's first and last turns' root inputs and outputs (JSON text), by trace id."""
    if frame.empty:
        return {}
    ids = list(dict.fromkeys([*frame.first_trace, *frame.last_trace]))
    return _payloads(con, ids, int(frame.first_ns.min()), int(frame.last_ns.max()))


def _payloads(con: Any, trace_ids: list[str], first_ns: int, last_ns: int) -> dict[str, tuple[Any, Any]]:
    # a root starts when its trace does: the range lets DuckDB skip row groups of other times
    rows = con.execute("SELECT trace_id, inputs, outputs FROM spans WHERE parent_span_id IS NULL AND "
                       f"start_ns BETWEEN {first_ns} AND {last_ns} AND trace_id IN (SELECT unnest(?::VARCHAR[]))",
                       [trace_ids]).fetchall()
    return {trace_id: (inputs, outputs) for trace_id, inputs, outputs in rows}


def _finish(frame: Any, roots: dict[str, tuple[Any, Any]]) -> Any:
    """The page as returned: previews added, scores spread into ``<name>/mean`` and ``<name>/pass_rate``."""
    import pandas as pd

    frame["first_input"] = pd.Series([preview(user_text(loads(roots.get(t, (None, None))[0])))
                                      for t in frame.first_trace], index=frame.index, dtype=object)
    frame["last_output"] = pd.Series([preview(assistant_text(loads(roots.get(t, (None, None))[1])))
                                      for t in frame.last_trace], index=frame.index, dtype=object)
    # a list of structs per session arrives as an array of dicts; a session without assessments as NA
    per_session = [{} if pd.api.types.is_scalar(scores) else {s["name"]: s for s in scores}
                   for scores in frame.scores]
    columns = list(SESSION_COLUMNS)
    for score in sorted({name for found in per_session for name in found}):
        for measure in ("mean", "pass_rate"):
            values = [found[score][measure] if score in found else None for found in per_session]
            frame[f"{score}/{measure}"] = pd.Series([float("nan") if v is None else float(v) for v in values],
                                                    index=frame.index, dtype="float64")
            columns.append(f"{score}/{measure}")
    return frame[columns].reset_index(drop=True)
