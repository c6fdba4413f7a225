"""``AgentGraphView``: how an agent's steps follow and call each other, drawn as a graph; ``graph()`` makes one.

The graph itself — nodes, edges, cycles, paths, and the spans behind each — is the data layer's
(``llmops_nb.agents._graph``: ``agent_graph()`` / ``AgentGraph``), computed once when the view is made;
its JSON payload is kept on the widget. The view (``js/graph/``, bundled to
``llmops_nb/static/graph.js``) lays it out with dagre and asks the kernel through ``_rpc``::

    graph {}                                  -> AgentGraph.payload()
    spans {selector, offset=0, limit=50}      -> AgentGraph.spans(...): the spans behind a node or an edge

and, for the trace a span row opens in the embedded explorer, the explorer's methods (``skeleton``,
``span``, ``search``), as the trace list does. Traitlets hold the view state only: the selected node
or edge (``selected``), the open trace and its explorer state under the explorer's names.

>>> import llmops_nb
>>> llmops_nb.graph(llmops_nb.traces(name="support-agent", limit=200))  # doctest: +SKIP
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Annotated, Any

import traitlets

from ..._errors import did_you_mean
from .._base import View, check_height, check_options
from .._params import check_range
from .._rpc import Methods
from ..explorer._widget import explorer_methods
from ._snapshot import snapshot, text_line

if TYPE_CHECKING:
    from ...agents._graph import AgentGraph

BUNDLE = "graph"  # llmops_nb/static/graph.js and .css, built from js/graph/
SPAN_PAGE = 50  # spans the view asks for at a time
MAX_SPAN_PAGE = 500
MAX_PATHS = 10
MIN_HEIGHT = 240
_STATE = {"selected", "trace_id", "selected_span_id", "collapsed_span_ids", "search_text"}
_TAKES = "traces, since, until, name, store, limit, skip_kinds, height"

Selector = Annotated[str, "a node id or an edge id of this graph (as its payload lists them)"]


class AgentGraphView(View, bundle=BUNDLE):
    """An agent's graph: who calls whom, what follows what, where it loops; click a node or an edge to
    list its spans, a span to open its trace.

    >>> from llmops_nb.widgets import AgentGraphView
    >>> AgentGraphView(trace_id)  # doctest: +SKIP
    """

    #: the selected node or edge id (None: nothing selected); the view lists its spans
    selected = traitlets.Unicode(None, allow_none=True).tag(sync=True)
    height = traitlets.Int(520).tag(sync=True)
    # The trace a span row opened (None: the graph shows), and that explorer's state under the names
    # TraceExplorer uses, so the view hands this model to the explorer as is (as the trace list does).
    trace_id = traitlets.Unicode(None, allow_none=True).tag(sync=True)
    selected_span_id = traitlets.Unicode(None, allow_none=True).tag(sync=True)
    collapsed_span_ids = traitlets.List(traitlets.Unicode()).tag(sync=True)
    search_text = traitlets.Unicode("").tag(sync=True)

    def __init__(self, traces: Any = None, *, since: Any = None, until: Any = None, name: Any = None,
                 store: Any = None, limit: int = 10_000, skip_kinds: Any = (), height: int = 520,
                 **kwargs: Any) -> None:
        check_options("AgentGraphView", kwargs, _STATE, f"{_TAKES}, {', '.join(sorted(_STATE))}")
        height = check_height(height, MIN_HEIGHT)
        from ...agents._graph import AgentGraph, agent_graph

        if isinstance(traces, AgentGraph):  # a graph already computed: shown as it is
            self._graph = traces
        else:
            self._graph = agent_graph(traces, since=since, until=until, name=name, store=store, limit=limit,
                                      skip_kinds=skip_kinds)
        self._payload: dict[str, Any] = self._graph.payload(max_paths=MAX_PATHS)
        self._lock = threading.Lock()  # spans are read from the RPC's worker threads
        selected = kwargs.get("selected")
        if selected is not None:
            self._check_selector(selected)
        super().__init__(height=height, **kwargs)

    @property
    def agent_graph(self) -> AgentGraph:
        """The ``AgentGraph`` shown: its ``nodes``, ``edges``, ``cycles`` and ``paths`` DataFrames."""
        return self._graph

    def payload(self) -> dict[str, Any]:
        """What the view draws (computed once, when the view was made)."""
        return self._payload

    def methods(self) -> Methods:
        def graph() -> dict[str, Any]:
            return self._payload

        def spans(*, selector: Selector, offset: int = 0, limit: int = SPAN_PAGE) -> dict[str, Any]:
            check_range(offset, "offset", 0)
            check_range(limit, "limit", 1, MAX_SPAN_PAGE)
            with self._lock:  # an unknown selector: the graph's ValueError, naming it
                return self._graph.spans(selector, offset=offset, limit=limit)

        return explorer_methods.extend(Methods({"graph": graph, "spans": spans}))

    def _check_selector(self, selector: Any) -> None:
        if not isinstance(selector, str):
            raise TypeError(f"selected is a node or edge id (a string) or None; got {type(selector).__name__}.")
        known = [n["id"] for n in self._payload["nodes"]] + [e["id"] for e in self._payload["edges"]]
        if selector not in known:
            shown = ", ".join(map(repr, known[:8])) + (", …" if len(known) > 8 else "") if known else "none"
            raise ValueError(f"{selector!r} is no node or edge of this graph.{did_you_mean(selector, known)} "
                             f"Its ids: {shown}.")

    def snapshot(self) -> dict[str, str]:
        """The script-free ``text/html`` (the graph as SVG, its cycles and paths) and a ``text/plain`` line."""
        return snapshot(self._payload, self.selected)

    def __repr__(self) -> str:
        return text_line(self._payload).replace("AgentGraph:", "AgentGraphView:", 1)


def graph(traces: Any = None, *, since: Any = None, until: Any = None, name: Any = None, store: Any = None,
          limit: int = 10_000, skip_kinds: Any = (), height: int = 520, **kwargs: Any) -> AgentGraphView:
    """The agent graph of one trace or of many, as an interactive view.

    Nodes are the (kind, name) pairs of the spans — agents, tools, LLM calls, retrievers, …; edges
    are calls (parent → child), next steps (one sibling after another) and handoffs between agents,
    with their counts; cycles (an agent looping llm → tool → llm) are highlighted with how often they
    repeat. Click a node or an edge to list its spans; click a span to open its trace.

    ``traces``: a trace id, a ``Trace``, the DataFrame ``llmops_nb.traces()`` returns, a list of ids,
    or None to select by ``since``/``until``/``name`` (newest first, at most ``limit``).
    ``skip_kinds``: span kinds to see through (e.g. ``("CHAIN",)``); ``height`` in pixels.

    >>> import llmops_nb
    >>> llmops_nb.graph(llmops_nb.traces(name="support-agent", limit=200))  # doctest: +SKIP
    >>> llmops_nb.graph(since="1h", skip_kinds=("CHAIN",))  # doctest: +SKIP
    """
    check_options("graph", kwargs, set(), _TAKES)
    return AgentGraphView(traces, since=since, until=until, name=name, store=store, limit=limit,
                          skip_kinds=skip_kinds, height=height)
