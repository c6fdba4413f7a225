"""Which traces, and whose conversation each one is: the SQL that ``sessions()`` and ``hotspots()`` share.

A trace's session id, in this order of precedence:

1. ``traces.session`` — ``@trace(session=...)``, ``span(session=...)``, ``%%llm_trace --session``,
   or an imported OTel root's ``session.id`` (the converter fills it);
2. the root span's attribute ``session.id`` (OpenInference's name);
3. the root span's attribute ``gen_ai.conversation.id`` (OpenTelemetry GenAI's name).

An empty string counts as missing. It is written once: :data:`ROOT_SESSION` reads 2 and 3 from a root's
attributes, :data:`SESSION_ID` puts 1 first, over ``traces AS t``
left-joined to :func:`roots_with_session` as ``r`` (:func:`turns_from`):

>>> f"SELECT {SESSION_ID} AS session FROM {turns_from()}"  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

#: the root span's attributes naming its conversation, after ``traces.session``, first wins
SESSION_ATTRIBUTES = ("session.id", "gen_ai.conversation.id")


#: the root's session from its attributes: one JSON parse for both names, the first non-empty one
ROOT_SESSION = ("list_filter(json_extract_string(attributes, ["
                + ", ".join(f"'$.\"{name}\"'" for name in SESSION_ATTRIBUTES)  # quoted: the names hold dots
                + "]), lambda v: v <> '')[1]")

#: the session id of the trace ``t`` (its row of ``traces``) whose root, if it names one, is ``r``
SESSION_ID = "COALESCE(NULLIF(t.session, ''), r.session)"


def roots_with_session(since_ns: int | None = None, among: str | None = None) -> str:
    """Root spans whose attributes may name a session, with that ``session`` (or NULL): a substring test
    first, so that DuckDB parses the JSON of those few only (most roots carry none). ``since_ns``: only
    roots starting then or later (a root starts when its trace does), a literal so that DuckDB skips
    older row groups. ``among``: a query of the session ids to keep."""
    mentions = " OR ".join(f"contains(attributes, '\"{name}\"')" for name in SESSION_ATTRIBUTES)
    bound = "" if since_ns is None else f" AND start_ns >= {int(since_ns)}"
    keep = "" if among is None else f" AND {ROOT_SESSION} IN ({among})"
    return (f"SELECT trace_id, {ROOT_SESSION} AS session FROM spans "
            f"WHERE parent_span_id IS NULL AND ({mentions}){bound}{keep}")


def turns_from(since_ns: int | None = None) -> str:
    """``FROM`` traces ``t`` with the root ``r`` that :data:`SESSION_ID` reads."""
    return f"traces AS t LEFT JOIN ({roots_with_session(since_ns)}) AS r ON r.trace_id = t.trace_id"


def keyed_turns(columns: str, where: str, since_ns: int | None = None, among: str | None = None) -> str:
    """``SELECT session, <columns>`` of the traces ``t`` passing ``where`` that belong to a session.

    The same rows as ``SELECT {SESSION_ID} AS session, … FROM {turns_from()} WHERE … AND session IS NOT
    NULL``, in two parts, so that the traces keyed by ``traces.session`` — most — are never joined to
    the roots. ``where``'s parameters are needed twice. ``since_ns``: only traces (and roots) starting
    then or later, a literal int. ``among``: a query of session ids to keep, tested inside each part
    (DuckDB does not push it through the union).
    """
    bound = "" if since_ns is None else f" AND t.start_ns >= {int(since_ns)}"
    own = "NULLIF(t.session, '')"
    keep = "" if among is None else f" AND {own} IN ({among})"
    # the roots first, narrowed to the sessions wanted, then their traces: the join's small side
    roots = roots_with_session(since_ns, among)
    return (f"SELECT {own} AS session, {columns} FROM traces AS t WHERE ({where}){bound} AND {own} IS NOT NULL{keep}\n"
            f"UNION ALL\n"
            f"SELECT {SESSION_ID} AS session, {columns} FROM ({roots}) AS r "
            f"JOIN traces AS t ON t.trace_id = r.trace_id "
            f"WHERE ({where}){bound} AND {own} IS NULL AND r.session IS NOT NULL")


def trace_filters(since: Any, until: Any, name: Any) -> tuple[list[str], list[Any]]:
    """WHERE conditions on ``traces AS t`` and their parameters, with ``traces()``'s rules: ``name`` exact
    or a glob (``*``, ``?``, ``[...]``), ``since``/``until`` a datetime, ISO string, epoch seconds or a
    ``timedelta`` meaning "this long ago", on the trace's start (``until`` exclusive)."""
    from ..store._queries import _is_glob
    from ..store._time import epoch_ns

    where: list[str] = []
    params: list[Any] = []
    if name is not None:
        where.append("t.name GLOB ?" if _is_glob(name) else "t.name = ?")
        params.append(name)
    if since is not None:
        where.append("t.start_ns >= ?")
        params.append(epoch_ns(since, "since"))
    if until is not None:
        where.append("t.start_ns < ?")
        params.append(epoch_ns(until, "until"))
    return where, params


def resolve_store(store: Any, caller: str) -> Any:
    """The store to read: the configured one, the DuckDB file at a path, or a store object."""
    from ..store._connection import store_argument

    return store_argument(store, caller)


@contextlib.contextmanager
def reading(store: Any) -> Iterator[Any]:
    """A connection to ``store`` after this process's finished spans are written (so they are counted)."""
    from ..tracing import flush

    flush()
    with store.connect() as con:
        yield con


def check_page(limit: Any, offset: Any, caller: str) -> tuple[int | None, int]:
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise ValueError(f"{caller}(limit=...) is a count of rows, e.g. limit=100, or None for all; got {limit!r}.")
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise ValueError(f"{caller}(offset=...) is how many rows to skip, e.g. offset=100 for the second page; "
                         f"got {offset!r}.")
    return limit, offset
