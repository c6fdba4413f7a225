"""The explorer's graph tab, kernel side: one trace's agent graph and the spans behind a node or an edge.

The view (``js/explorer/graph_tab.js``) asks, through the explorer's methods (so the trace list, the eval
table, the sessions and the graph view, which embed an explorer, answer too)::

    trace_graph {trace_id}                  -> agent_graph(trace_id).payload(): nodes, edges, cycles
    trace_graph_spans {trace_id, selector}  -> {"span_ids": [...]}: what a click on a node or an edge picks

``trace_graph`` and not ``graph``: the graph view (``AgentGraphView``) already answers ``graph`` with its own
payload and extends these methods, and a name in both tables is an error. ``trace_graph`` is asked only when
the tab is first opened. It reads the trace once (~100 ms for 10,000 spans) and keeps the graph, so a click
that follows reads only the clicked node's spans (a query on its kind and name) and picks them from the
graph the user is looking at, even if the trace has grown since.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Annotated, Any

from . import _data

if TYPE_CHECKING:
    from ...agents._graph import AgentGraph

TraceId = Annotated[str, "a trace id of 32 lowercase hex characters"]
Selector = Annotated[str, "a node id or an edge id of the trace's graph (as its payload lists them)"]

#: graphs kept for the clicks that follow: one per explorer showing its graph tab, a few views at a time
KEPT = 8

_kept: OrderedDict[tuple[Any, str], AgentGraph] = OrderedDict()  # by (store, trace id)
_lock = threading.Lock()  # the requests run on the RPC's worker threads


def _read(trace_id: str) -> AgentGraph:
    """The trace's graph, read now from the configured store, and kept for ``trace_graph_spans``."""
    from ...agents import agent_graph
    from ...store._connection import get_store

    store = get_store()
    graph = agent_graph(trace_id, store=store)
    key = (store, trace_id)  # another store (configure(db=...)) may hold another trace of that id
    with _lock:
        _kept[key] = graph
        _kept.move_to_end(key)
        while len(_kept) > KEPT:
            _kept.popitem(last=False)
    return graph


def _kept_graph(trace_id: str) -> AgentGraph:
    from ...store._connection import get_store

    with _lock:
        graph = _kept.get((get_store(), trace_id))
    return graph if graph is not None else _read(trace_id)


def trace_graph(*, trace_id: TraceId) -> dict[str, Any]:
    """The payload ``drawGraph`` draws (``js/graph/render.js``), without the typical paths: a trace has
    one, as long as the trace, and the tab does not show it."""
    return _read(_data.check_trace_id(trace_id)).payload(max_paths=0)


def trace_graph_spans(*, trace_id: TraceId, selector: Selector) -> dict[str, Any]:
    """Every span id behind a node or an edge (an edge's: its target spans), in start order. An unknown
    selector is the graph's ``ValueError``, naming it."""
    return {"span_ids": _kept_graph(_data.check_trace_id(trace_id)).span_ids(selector)}
