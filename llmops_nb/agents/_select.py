"""Which traces, and whose conversation each one is: the SQL that ``sessions()`` and ``hotspots()`` share.

A trace's session id is ``traces.session``, which the store writes once with the trace's root
(``store/_batch_sql.py`` ``TRACE_SESSION``): the root's own (``@trace(session=...)``, ``span(session=...)``,
``%%llm_trace --session``, an imported OTel root's ``session.id``), else the root span's attribute
``session.id`` (OpenInference's name), else its ``gen_ai.conversation.id`` (OpenTelemetry GenAI's name).
Migration ``m006`` filled it in for traces written before. An empty string counts as missing.

>>> f"SELECT {SESSION_ID} AS session FROM {turns_from()}"  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

#: the session id of the trace ``t`` (its row of ``traces``), NULL when it has none
SESSION_ID = "NULLIF(t.session, '')"


def turns_from() -> str:
    """``FROM`` traces ``t``, whose session :data:`SESSION_ID` reads."""
    return "traces AS t"


def keyed_turns(columns: str, where: str, since_ns: int | None = None, among: str | None = None) -> str:
    """``SELECT session, <columns>`` of the traces ``t`` passing ``where`` that belong to a session.
    ``since_ns``: only traces starting then or later, a literal int (so that DuckDB skips older row
    groups). ``among``: a query of the session ids to keep."""
    bound = "" if since_ns is None else f" AND t.start_ns >= {int(since_ns)}"
    keep = "" if among is None else f" AND {SESSION_ID} IN ({among})"
    return (f"SELECT {SESSION_ID} AS session, {columns} FROM traces AS t "
            f"WHERE ({where}){bound} AND {SESSION_ID} IS NOT NULL{keep}")


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


def trace_ids(traces: Any, caller: str) -> list[str] | None:
    """``traces`` as a list of trace ids, in the order given without repeats (None: use the filters)."""
    from ..store._queries import _check_trace_id

    if traces is None:
        return None
    if isinstance(traces, str) or isinstance(getattr(traces, "trace_id", None), str):  # an id, a Trace
        values: list[Any] = [traces]
    elif hasattr(traces, "columns"):  # a DataFrame
        if "trace_id" not in traces.columns:
            has = ", ".join(map(str, traces.columns)) or "no columns"
            raise ValueError(f"{caller}() takes a DataFrame with a trace_id column, e.g. "
                             f"llmops_nb.traces(name='agent'); this one has {has}.")
        values = list(traces["trace_id"])
    elif isinstance(traces, Iterable) and not isinstance(traces, (bytes, bytearray, Mapping)):
        values = list(traces)  # a list, a set, a Series, an array, a generator
    else:
        raise TypeError(f"{caller}() takes a trace id, an iterable of them, a Trace, a DataFrame with a trace_id "
                        f"column (e.g. llmops_nb.traces(...)) or None with filters; got {type(traces).__name__}.")
    return list(dict.fromkeys(_check_trace_id(value) for value in values))


def span_start_bound(first_ns: int | None, last_ns: int | None) -> str:
    """SQL narrowing ``spans.start_ns`` to some traces' spans, with literal ints (so that DuckDB skips row
    groups of other times): from the first trace's start to the last one's end (None: no bound on that
    side, e.g. a trace still running), widened by the clock slack ``trace_spans_filter`` allows."""
    from ..store._queries import CLOCK_SLACK_NS

    bound = "" if first_ns is None else f" AND start_ns >= {int(first_ns) - CLOCK_SLACK_NS}"
    return bound + ("" if last_ns is None else f" AND start_ns <= {int(last_ns) + CLOCK_SLACK_NS}")


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
