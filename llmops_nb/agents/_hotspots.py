"""``hotspots()``: where an agent's tokens, cost and time go, over one trace, many, or a filter.

``Hotspots`` answers lazily, each answer one SQL query (``_hotspots_sql.py``) read when first used
and kept: ``frame`` (by span name and kind), ``repeated`` (identical calls: cache candidates),
``critical_path(trace_id)``, ``prompt_growth``; ``figure()`` and the notebook table draw the frame
(``_hotspots_view.py``).

The critical path's rule is written once, in :func:`critical_path_by_index` (:func:`critical_path_of`
takes parent ids), over plain columns: the trace explorer's skeleton and its snapshot call it on the
spans they already read.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

from . import _hotspots_sql as q
from ._select import reading, resolve_store, span_start_bound, trace_filters, trace_ids

__all__ = ["Hotspots", "hotspots"]


def hotspots(traces: Any = None, *, since: Any = None, until: Any = None, name: str | None = None,
             store: Any = None) -> Hotspots:
    """Where the tokens, cost and time go in some traces: a :class:`Hotspots`.

    ``traces``: one trace id, a list of them, a DataFrame with a ``trace_id`` column (e.g.
    ``llmops_nb.traces(...)``), a ``Trace``, or None for every trace passing the filters. The filters
    (``name`` exact or a glob, ``since``/``until`` on the trace's start, as in ``traces()``) narrow
    either. ``store``: the configured store, a path to a DuckDB file, or a store.

    >>> from llmops_nb import agents
    >>> spots = agents.hotspots(llmops_nb.traces(name="agent", since="1d", limit=None))  # doctest: +SKIP
    >>> spots.frame.head()                      # by span name and kind, most self time first  # doctest: +SKIP
    >>> spots.repeated                          # identical LLM/TOOL calls within a trace  # doctest: +SKIP
    >>> spots.critical_path(trace_id)       # the spans it waited for  # doctest: +SKIP
    """
    ids = trace_ids(traces, "hotspots")
    where, params = trace_filters(since, until, name)
    if ids is not None:
        where.insert(0, "t.trace_id IN (SELECT unnest(?::VARCHAR[]))")
        params.insert(0, ids)
    selection = "SELECT t.trace_id FROM traces AS t" + (" WHERE " + " AND ".join(where) if where else "")
    resolved = resolve_store(store, "hotspots")
    with reading(resolved) as con:
        count, first_ns, last_ns, open_traces, one = con.execute(
            f"SELECT count(*), min(t.start_ns), max(t.end_ns), count_if(t.end_ns IS NULL), min(t.trace_id) "
            f"FROM traces AS t WHERE t.trace_id IN ({selection})", params).fetchone()
    if ids and not count and len(where) == 1:  # ids alone, none known (with filters, none passing is an answer)
        shown = ids[0] if len(ids) == 1 else f"any of {len(ids)} trace ids"
        raise LookupError(f"No trace in the store matches {shown}: take ids from llmops_nb.traces().trace_id.")
    bound = span_start_bound(first_ns, None if open_traces else last_ns)
    return Hotspots(resolved, selection, params, count=int(count), bound=bound, only=one if count == 1 else None)


class Hotspots:
    """Where the time, tokens and cost of some traces go; made by :func:`hotspots`.

    - ``frame``: one row per span name and kind — ``calls``, ``total_ms``, ``self_ms`` (duration
      minus the union of its children's intervals, so overlapping children count once),
      ``p50_ms``/``p95_ms`` (of durations), ``share_of_wall`` (self time over the sum of the traces'
      wall times, first span start to last span end), ``input_tokens``, ``output_tokens``,
      ``cost_usd``, ``errors`` — most self time first.
    - ``repeated``: LLM and TOOL calls made more than once in one trace with the same name and the same
      inputs JSON (a capped payload compares by its kept prefix): ``calls``, and the time, tokens and
      cost of all but the first (``wasted_*``) — what a cache would save. Most wasted cost first.
    - ``critical_path(trace_id)``: the spans that set a trace's wall time.
    - ``prompt_growth``: input tokens per turn of each session among the traces.
    - ``figure()``: a plotly chart of self time and cost by span.

    >>> spots = llmops_nb.agents.hotspots(trace_id)  # doctest: +SKIP
    >>> spots.frame[["name", "self_ms", "share_of_wall"]].head(3)  # doctest: +SKIP
    """

    def __init__(self, store: Any, selection: str, params: list[Any], *, count: int, bound: str,
                 only: str | None) -> None:
        self._store = store
        self._selection = selection
        self._params = params
        self._bound = bound
        self._only = only
        #: how many traces these hotspots cover
        self.traces = count
        #: the sum of the traces' wall times (ms), known once ``frame`` is read
        self.wall_ms: float | None = None

    def _query(self, template: str) -> Any:
        with reading(self._store) as con:
            return con.execute(template.format(selection=self._selection, bound=self._bound), self._params).df()

    @functools.cached_property
    def frame(self) -> Any:
        """Time, tokens and cost by span name and kind (see the class doc)."""
        frame = self._query(q.FRAME)
        wall = frame.pop("wall_ns")
        self.wall_ms = float(wall.iloc[0]) / 1e6 if len(wall) and wall.iloc[0] == wall.iloc[0] else 0.0
        return frame[list(q.FRAME_COLUMNS)]

    @functools.cached_property
    def repeated(self) -> Any:
        """Identical LLM and TOOL calls within one trace: cache candidates (see the class doc)."""
        return self._query(q.REPEATED)[list(q.REPEATED_COLUMNS)]

    @functools.cached_property
    def prompt_growth(self) -> Any:
        """Per session (the traces' session ids, as ``sessions()`` reads them) and turn — the covered
        traces in start order: ``input_tokens`` (all calls), ``max_call_input_tokens`` (the largest
        single LLM call: the context sent), ``llm_calls`` and ``growth`` (input tokens over the first
        turn's). Traces outside any session are left out."""
        return self._query(q.PROMPT_GROWTH)[list(q.GROWTH_COLUMNS)]

    def critical_path(self, trace_id: Any = None) -> Any:
        """The chain of spans that sets ``trace_id``'s wall time, root first, as a DataFrame (``depth``,
        ``span_id``, ``parent_span_id``, ``name``, ``kind``, ``start_time``, ``end_time``,
        ``duration_ms``).

        The rule (:func:`critical_path_by_index`): start at the root (a span whose parent is not in the
        trace; of several, the one ending last), then repeatedly take the child that ends last — of
        children ending together, the longest, then the smallest span id — until a span without
        children. The path is what the trace waited for: shortening a span off it does not end the
        trace sooner. ``trace_id`` may be left out when these hotspots cover one trace.
        """
        import pandas as pd

        from ..store._queries import _check_trace_id, trace_spans_filter

        if trace_id is None:
            if self._only is None:
                raise ValueError(f"critical_path() needs a trace id: these hotspots cover {self.traces} traces. "
                                 "Pass one, e.g. spots.critical_path(llmops_nb.traces().trace_id[0]).")
            trace_id = self._only
        trace_id = _check_trace_id(trace_id)
        with reading(self._store) as con:
            where, params = trace_spans_filter(con, trace_id)
            spans = con.execute(q.TRACE_SPANS.format(where=where), params).df()
        if spans.empty:
            raise LookupError(f"No spans of trace {trace_id} in the store: take an id from "
                              "llmops_nb.traces().trace_id.")
        path = critical_path_of(spans.span_id.tolist(), spans.parent_span_id.tolist(), spans.start_ns.tolist(),
                                spans.end_ns.tolist(), spans.kind.tolist())
        frame = spans.iloc[path].reset_index(drop=True)
        frame.insert(0, "depth", pd.Series(range(len(frame)), dtype="int32"))
        if len(frame):
            frame.loc[0, "parent_span_id"] = None  # the root's parent, if it names one, is not in the trace
        return frame[list(q.PATH_COLUMNS)]

    def figure(self, top: int = 20) -> Any:
        """A plotly figure: self time and cost of the ``top`` span names (most self time first).

        >>> llmops_nb.agents.hotspots(trace_id).figure().show()  # doctest: +SKIP
        """
        from ._hotspots_view import figure

        return figure(self, top)

    def _repr_html_(self) -> str:
        from ._hotspots_view import html_table

        return html_table(self)

    def __repr__(self) -> str:
        return (f"<Hotspots of {self.traces} trace{'' if self.traces == 1 else 's'}: .frame, .repeated, "
                ".critical_path(trace_id), .prompt_growth, .figure()>")


def critical_path_of(span_ids: Sequence[str], parent_ids: Sequence[str | None], start_ns: Sequence[int],
                     end_ns: Sequence[int | None], kinds: Sequence[str] | None = None) -> list[int]:
    """The critical path of one trace's spans, given as parallel columns with parent *ids*: their
    indices, root first (:func:`critical_path_by_index` holds the rule; a parent id not among
    ``span_ids`` makes its span a root).

    >>> critical_path_of(["a", "b", "c"], [None, "a", "a"], [0, 1, 2], [10, 9, 8])
    [0, 1]
    """
    index = {span_id: i for i, span_id in enumerate(span_ids)}
    parents = [-1 if parent_id is None else index.get(parent_id, -1) for parent_id in parent_ids]
    return critical_path_by_index(parents, span_ids, start_ns, end_ns, kinds)


#: spans that are never on a critical path: a scorer's work attached to a trace after it ran (an
#: evaluation over stored traces, an online judge) is not what the trace waited for
OFF_PATH_KINDS = frozenset({"EVALUATOR"})


def critical_path_by_index(parents: Sequence[int], span_ids: Sequence[str], start_ns: Sequence[int],
                           end_ns: Sequence[int | None], kinds: Sequence[str] | None = None) -> list[int]:
    """The critical path of one trace's spans: their indices, root first. ``parents`` holds each
    span's parent's index, -1 for none (no parent, or one not among the spans).

    The chain of spans that sets the trace's wall time — what the trace waited for. The rule, written
    only here (``Hotspots.critical_path``, the explorer's skeleton and its snapshot all call it):

    1. The root: a span without a parent among the spans (none, one not stored, or itself). Of
       several — a trace still running (its root is stored when it ends, so its ended children are
       roots until then), spans whose parent was dropped — the one ending last.
    2. From there, repeatedly the child ending last, down to a span without children. Of parallel
       children (threads, tasks), the branch ending last is on the path, the others are not; a child
       ending after its parent (left running by it) is still its child and, ending last, on the path.
    3. Ties in "ending last" go to the longest span (the earlier start), then the smaller span id,
       so every read gives the same path.
    4. Spans of a kind in :data:`OFF_PATH_KINDS` (``kinds``, when given) are left out, with what is
       under them: an EVALUATOR span added to a trace afterwards ends last but held nothing up.

    A span without an end (``None``: still running) ends after every ended span. One span is its own
    path; no spans, or spans whose parent links only loop, give an empty path; each span is visited
    once, so a loop (malformed data) ends the walk. One pass over the spans, no sort: O(spans)
    (~1 ms for 10,000 spans).

    >>> critical_path_by_index([-1, 0, 0, 2], ["r", "a", "b", "b1"], [0, 1, 1, 2], [10, 5, 9, 8])
    [0, 2, 3]
    """
    ends = [math.inf if end is None else end for end in end_ns]
    root = -1
    best = [-1] * len(ends)  # a span -> its child ending last
    for i, parent in enumerate(parents):
        if kinds is not None and kinds[i] in OFF_PATH_KINDS:
            continue
        is_root = parent < 0 or parent == i
        j = root if is_root else best[parent]
        # i takes j's place if it ends later, or as late and starts earlier, or ties with a smaller id
        if j >= 0 and (ends[i] < ends[j] or (ends[i] == ends[j]
                                             and (start_ns[i], span_ids[i]) >= (start_ns[j], span_ids[j]))):
            continue
        if is_root:
            root = i
        else:
            best[parent] = i
    path: list[int] = []
    seen: set[int] = set()
    while root >= 0 and root not in seen:
        path.append(root)
        seen.add(root)
        root = best[root]
    return path


