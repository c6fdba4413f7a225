"""``TraceExplorer``: one trace as a tree, a waterfall and a span detail pane, under the cell.

The view (``js/explorer.js``, bundled to ``llmops_nb/static/explorer.js``) asks the
kernel for data through ``_rpc``: ``skeleton`` once, ``span`` when a span is
selected, ``search`` as the user types. Traitlets hold only view state (which
trace, selected span, collapsed spans, search text), so a re-rendered or
re-opened view comes back as the user left it, and no payload is ever synced.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anywidget
import traitlets

from . import _data
from ._rpc import Methods, RpcServer, attach

STATIC = Path(__file__).resolve().parent.parent / "static"
ESM = STATIC / "explorer.js"
CSS = STATIC / "explorer.css"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def bundle_available() -> bool:
    """Whether the built JS/CSS are there (``pip install`` builds them; a bare checkout may not have)."""
    return ESM.is_file() and CSS.is_file()


explorer_methods = Methods({
    "skeleton": lambda p: _data.skeleton(p.get("trace_id")),
    "span": lambda p: _data.span(p.get("trace_id"), p.get("span_id")),
    "search": lambda p: _data.search(p.get("trace_id"), p.get("text")),
})


class TraceExplorer(anywidget.AnyWidget):
    """An interactive view of one trace.

    >>> import llmops_nb
    >>> from llmops_nb.widgets import TraceExplorer
    >>> TraceExplorer(llmops_nb.traces().trace_id[0])  # doctest: +SKIP
    """

    # anywidget reads these files when the class is defined, so only point at them when they exist;
    # __init__ explains what to do when they do not.
    if bundle_available():
        _esm = ESM
        _css = CSS

    trace_id = traitlets.Unicode().tag(sync=True)
    selected_span_id = traitlets.Unicode(None, allow_none=True).tag(sync=True)
    collapsed_span_ids = traitlets.List(traitlets.Unicode()).tag(sync=True)
    search_text = traitlets.Unicode("").tag(sync=True)
    height = traitlets.Int(460).tag(sync=True)

    def __init__(self, trace: Any, *, selected_span_id: str | None = None, height: int = 460,
                 **kwargs: Any) -> None:
        if not bundle_available():
            raise RuntimeError(
                f"llmops_nb's widget bundle is missing ({ESM}). It is built when the package is installed "
                "(pip install needs npm for a source checkout); or build it by hand: cd js && npm ci && "
                "npm run build."
            )
        unknown = sorted(set(kwargs) - {"collapsed_span_ids", "search_text"})
        if unknown:
            raise TypeError(f"TraceExplorer() got unexpected keyword argument(s) {', '.join(map(repr, unknown))}; "
                            "check the spelling. It takes: trace, selected_span_id, collapsed_span_ids, "
                            "search_text, height.")
        trace_id = _data.check_trace_id(getattr(trace, "trace_id", trace))
        if selected_span_id is not None:
            _data.check_span_id(selected_span_id)
        if not 120 <= int(height) <= 4000:
            raise ValueError(f"height is in pixels, between 120 and 4000; got {height!r}.")
        super().__init__(trace_id=trace_id, selected_span_id=selected_span_id, height=int(height), **kwargs)
        self._rpc: RpcServer = attach(self, explorer_methods)

    def _repr_mimebundle_(self, **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]] | None:
        # The widget view where widgets run; elsewhere (GitHub, nbviewer, exports, a notebook
        # reopened without its kernel) the script-free snapshot and a one-line summary.
        shown = super()._repr_mimebundle_(**kwargs)
        if shown is None:
            return None
        from . import snapshot_bundle

        data, metadata = shown
        data = {**data, **snapshot_bundle(self.trace_id)}
        return data, metadata

    def __repr__(self) -> str:
        return f"TraceExplorer({self.trace_id!r})"

