"""Which traces an agent graph covers: the ``traces`` argument read, the filters applied, newest first.

The selection is fetched as a list of trace ids (at most ``limit`` + 1 rows, so that a cut is seen)
and passed to every later query as one list parameter: the graph's queries then need neither the
filters again nor a join to ``traces``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ._select import span_start_bound, trace_filters


@dataclass(frozen=True)
class Selection:
    """The traces a graph covers, newest first, and what the queries over their spans need."""

    ids: list[str]
    truncated: bool
    #: literal SQL narrowing ``spans.start_ns`` to the traces' time range (``span_start_bound``)
    bound: str


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
    return Selection([row[0] for row in rows], truncated, span_start_bound(first, last))
