"""Which traces an agent graph covers: the ``traces`` argument read, the filters applied, newest first.

The selection is fetched as a list of trace ids (at most ``limit`` + 1 rows, so that a cut is seen)
and passed to every later query as one list parameter: the graph's queries then need neither the
filters again nor a join to ``traces``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ._select import trace_filters


@dataclass(frozen=True)
class Selection:
    """The traces a graph covers, newest first, and what the queries over their spans need."""

    ids: list[str]
    truncated: bool
    #: literal SQL narrowing ``spans.start_ns`` to the traces' time range (see ``_bound``)
    bound: str


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


def check_limit(limit: Any, caller: str) -> int | None:
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ValueError(f"{caller}(limit=...) is how many traces at most (the newest), e.g. limit=10_000, or None "
                         f"for all; got {limit!r}.")
    return limit


def select(con: Any, ids: list[str] | None, *, since: Any, until: Any, name: Any, limit: int | None) -> Selection:
    """The selected traces that are in the store, newest first, at most ``limit`` of them."""
    if ids == []:
        return Selection([], False, "")
    where, params = trace_filters(since, until, name)
    if ids is not None:
        where.insert(0, "t.trace_id IN (SELECT unnest(?::VARCHAR[]))")
        params.insert(0, ids)
    sql = ("SELECT t.trace_id, t.start_ns, t.end_ns FROM traces AS t"
           + (" WHERE " + " AND ".join(where) if where else "")
           + " ORDER BY t.start_ns DESC NULLS LAST, t.trace_id DESC")
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit + 1)
    rows = con.execute(sql, params).fetchall()
    truncated = limit is not None and len(rows) > limit
    rows = rows[:limit]
    if not rows:
        return Selection([], truncated, "")
    starts = [row[1] for row in rows if row[1] is not None]
    ends = [row[2] for row in rows]
    first = min(starts) if len(starts) == len(rows) else None  # a trace without a start: no lower bound
    last = None if any(end is None for end in ends) else max(ends)  # a trace still running: no upper bound
    return Selection([row[0] for row in rows], truncated, _bound(first, last))


def _bound(first_ns: int | None, last_ns: int | None) -> str:
    """The traces' spans' start range as SQL with literal ints (so that DuckDB skips row groups of other
    times), widened by the clock slack ``trace_spans_filter`` allows; as ``_hotspots._bound`` does."""
    from ..store._queries import CLOCK_SLACK_NS

    bound = "" if first_ns is None else f" AND start_ns >= {int(first_ns) - CLOCK_SLACK_NS}"
    return bound + ("" if last_ns is None else f" AND start_ns <= {int(last_ns) + CLOCK_SLACK_NS}")
