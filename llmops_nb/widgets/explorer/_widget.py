"""``TraceExplorer``: one trace as a tree, a waterfall and a span detail pane, under the cell.

The view (``js/explorer/``, bundled to ``llmops_nb/static/explorer.js``) asks the kernel for
data through ``_rpc``: ``skeleton`` once, ``span`` when a span is selected, ``search`` as the
user types, and for the graph tab (``_graph``) ``trace_graph`` when it is first opened and
``trace_graph_spans`` when a node or an edge is clicked. Traitlets hold only view state (which trace,
selected span, collapsed spans, search text, whether the critical path is highlighted, which of the
tree and the graph shows), so a re-rendered or re-opened view comes back as the user left it, and no
payload is ever synced.
"""

from __future__ import annotations

from typing import Annotated, Any

import traitlets

from .._base import View, check_height, check_options
from .._rpc import Methods
from . import _data
from ._graph import trace_graph, trace_graph_spans

TraceId = Annotated[str, "a trace id of 32 lowercase hex characters"]
SpanId = Annotated[str, "a span id of 16 lowercase hex characters"]


def _skeleton(*, trace_id: TraceId) -> dict[str, Any]:
    return _data.skeleton(trace_id)


def _span(*, trace_id: TraceId, span_id: SpanId) -> dict[str, Any]:
    return _data.span(trace_id, span_id)


def _search(*, trace_id: TraceId, text: Annotated[str, "a string"]) -> dict[str, Any]:
    return _data.search(trace_id, text)


#: What the explorer's view asks; the views embedding an explorer (trace list, eval table, sessions, graph)
#: answer these too.
explorer_methods = Methods({"skeleton": _skeleton, "span": _span, "search": _search, "trace_graph": trace_graph,
                            "trace_graph_spans": trace_graph_spans})
VIEWS = ("tree", "graph")


class TraceExplorer(View, bundle="explorer"):
    """An interactive view of one trace.

    The view is as tall as its rows (at least 240 px) up to ``height`` pixels, and the user can
    drag its corner to make it taller or shorter. ``show_critical_path`` (the toolbar's "critical
    path" toggle) outlines the waterfall bars of the spans that set the trace's wall time. ``view``
    is the toolbar's tab: ``"tree"`` (the spans and their waterfall) or ``"graph"`` (the trace's
    agent graph; a click on a node or an edge highlights its spans in the tree).

    >>> import llmops_nb
    >>> from llmops_nb.widgets import TraceExplorer
    >>> TraceExplorer(llmops_nb.traces().trace_id[0])  # doctest: +SKIP
    """

    trace_id = traitlets.Unicode().tag(sync=True)
    selected_span_id = traitlets.Unicode(None, allow_none=True).tag(sync=True)
    collapsed_span_ids = traitlets.List(traitlets.Unicode()).tag(sync=True)
    search_text = traitlets.Unicode("").tag(sync=True)
    show_critical_path = traitlets.Bool(True).tag(sync=True)
    view = traitlets.Enum(VIEWS, default_value="tree").tag(sync=True)
    height = traitlets.Int(460).tag(sync=True)

    def __init__(self, trace: Any, *, selected_span_id: str | None = None, height: int = 460,
                 **kwargs: Any) -> None:
        check_options("TraceExplorer", kwargs, {"collapsed_span_ids", "search_text", "show_critical_path", "view"},
                      "trace, selected_span_id, collapsed_span_ids, search_text, show_critical_path, view, height")
        trace_id = _data.check_trace_id(getattr(trace, "trace_id", trace))
        if kwargs.get("view", "tree") not in VIEWS:
            raise ValueError(f"view is 'tree' (the spans and their waterfall) or 'graph' (the agent graph); "
                             f"got {kwargs['view']!r}.")
        if selected_span_id is not None:
            _data.check_span_id(selected_span_id)
        super().__init__(trace_id=trace_id, selected_span_id=selected_span_id, height=check_height(height, 120),
                         **kwargs)

    def methods(self) -> Methods:
        return explorer_methods

    def snapshot(self) -> dict[str, str]:
        from ._snapshot_bundle import snapshot_bundle

        return snapshot_bundle(self.trace_id)

    def __repr__(self) -> str:
        return f"TraceExplorer({self.trace_id!r})"
