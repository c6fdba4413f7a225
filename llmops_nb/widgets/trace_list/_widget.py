"""``TraceList``: the store's traces, filtered, sorted and paged from DuckDB as you scroll.

The view (``js/trace_list/``, bundled to ``llmops_nb/static/trace_list.js``) asks the kernel for
one page of rows at a time through ``_rpc``::

    page {filters, sort: {column, descending}, offset, limit, as_of?}
      -> {rows, total, eval_total, evals_hidden, offset, limit, sort, filters, as_of, elapsed_ms}

(``_query``). A row click opens that trace in the explorer inside the same view, so the widget
also answers the explorer's methods (``skeleton``, ``span``, ``search``). Traitlets hold the view
state only (filters, sort, the open trace and its explorer state); rows are never synced.

>>> from llmops_nb.widgets import trace_list
>>> trace_list(status="ERROR", since="2026-11-01")  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import traitlets

from ..._html import tag
from .._base import View, bundle_available, check_height, check_options, esm_path, in_kernel
from .._rpc import Methods
from ..explorer._widget import explorer_methods
from ._filters import normalize_filters
from ._query import check_sort, page
from ._snapshot import TraceListSnapshot, snapshot

#: What the list's view asks: ``page``, and the explorer's methods for the trace it opens.
trace_list_methods = explorer_methods.extend(Methods({"page": page}))

_EXPLORER_STATE = {"trace_id", "selected_span_id", "collapsed_span_ids", "search_text"}

BUNDLE = "trace_list"  # llmops_nb/static/trace_list.js and .css, built from js/trace_list/


class TraceList(View, bundle=BUNDLE):
    """The store's traces as a list: filter, sort, scroll; click a trace to explore it.

    >>> from llmops_nb.widgets import TraceList
    >>> TraceList(filters={"status": "ERROR", "tags": {"env": "dev"}})  # doctest: +SKIP
    """

    filters = traitlets.Dict().tag(sync=True)
    sort_by = traitlets.Unicode("start_time").tag(sync=True)
    sort_desc = traitlets.Bool(True).tag(sync=True)
    height = traitlets.Int(520).tag(sync=True)
    # The trace opened in the explorer (None: the list shows), and that explorer's state under
    # the names TraceExplorer uses, so the view can hand this model to the explorer as is.
    trace_id = traitlets.Unicode(None, allow_none=True).tag(sync=True)
    selected_span_id = traitlets.Unicode(None, allow_none=True).tag(sync=True)
    collapsed_span_ids = traitlets.List(traitlets.Unicode()).tag(sync=True)
    search_text = traitlets.Unicode("").tag(sync=True)

    def __init__(self, filters: dict[str, Any] | None = None, *, sort_by: str = "start_time",
                 sort_desc: bool = True, height: int = 520, **kwargs: Any) -> None:
        check_options("TraceList", kwargs, _EXPLORER_STATE, "filters, sort_by, sort_desc, height, trace_id, "
                      "selected_span_id, collapsed_span_ids, search_text")
        check_sort({"column": sort_by, "descending": sort_desc})
        super().__init__(filters=normalize_filters(filters), sort_by=sort_by, sort_desc=sort_desc,
                         height=check_height(height, 200), **kwargs)

    def methods(self) -> Methods:
        return trace_list_methods

    def snapshot(self) -> dict[str, str]:
        """The script-free ``text/html`` table and ``text/plain`` summary of the current list."""
        try:
            return snapshot(dict(self.filters), (self.sort_by, self.sort_desc))
        except ValueError as exc:
            return {"text/plain": f"TraceList: bad filters ({exc})", "text/html": tag("p", str(exc))}

    def __repr__(self) -> str:
        return f"TraceList(filters={dict(self.filters)!r}, sort_by={self.sort_by!r}, sort_desc={self.sort_desc!r})"


def trace_list(*, widget: bool | None = None, **filters: Any) -> Any:
    """A browsable list of the store's traces, newest first.

    Filters: ``name`` (``*``/``?`` wildcards), ``tags`` (``{"env": "dev"}`` or ``"env=dev, team=x"``;
    all must match), ``status`` (OK, ERROR, IN_PROGRESS), ``model`` (traces with a span of that
    model), ``session``, ``eval_run`` (one evaluation run's traces: its run id or name), ``evals``
    (``True``: list evaluation traces too; they are hidden by default), ``since``/``until`` (ISO text,
    datetime, or a timedelta meaning "ago"), ``text`` (in names, inputs, outputs and errors).
    ``widget=None`` makes the interactive ``TraceList`` inside a Jupyter kernel and a static table elsewhere.

    >>> import llmops_nb
    >>> llmops_nb.widgets.trace_list(status="ERROR", tags={"env": "dev"})  # doctest: +SKIP
    """
    if "tag" in filters and "tags" not in filters:
        filters["tags"] = filters.pop("tag")
    filters = normalize_filters(filters)
    want = widget if widget is not None else in_kernel()
    if want:
        if bundle_available(BUNDLE):
            return TraceList(filters)
        from ..._safety import log_once

        log_once("widgets.trace_list_bundle", message="llmops_nb: the trace list's JS bundle is missing "
                 f"({esm_path(BUNDLE)}); showing a static table. Build it: cd js && npm ci && npm run build")
    return TraceListSnapshot(filters)
