"""The dashboard's live view: plotly's ``FigureWidget`` (an anywidget since plotly 6) above a status line.

The status line (``js/dashboard/widget.js``) says when the charts were last brought up to date, and
after a refresh hands the new snapshot to the notebook (an ``lnb-snapshot`` event), so a notebook
saved later keeps charts as current as the live ones without a display update, which would draw
every chart again and lose the user's zoom.
"""

from __future__ import annotations

from typing import Any

import anywidget
import traitlets

from .._base import bundle_available, css_path, esm_path, missing_bundle

BUNDLE = "dashboard"


class DashboardStatus(anywidget.AnyWidget):
    """When the charts were last brought up to date; and the snapshot of then, for the saved notebook."""

    if bundle_available(BUNDLE):
        _esm = esm_path(BUNDLE)
        _css = css_path(BUNDLE)
    status = traitlets.Unicode("").tag(sync=True)
    #: {"text/html", "text/plain"} after a refresh; empty until then (the output already has the first one)
    snapshot = traitlets.Dict().tag(sync=True)

    def __init__(self, **traits: Any) -> None:
        if not bundle_available(BUNDLE):
            raise RuntimeError(missing_bundle(BUNDLE))
        super().__init__(**traits)


def live_view(figure: dict[str, Any], status: str) -> tuple[Any, Any, Any]:
    """(the view to display, its ``FigureWidget``, its ``DashboardStatus``) for plotly's ``figure`` dict."""
    import ipywidgets
    import plotly.graph_objects as go

    # not validated again: the dicts are ours, and the tests validate them (go.Figure); a third of the time
    chart = go.FigureWidget(figure, _validate=False)
    chart._config = {**chart._config, "responsive": True, "displaylogo": False}  # follow the output's width
    line = DashboardStatus(status=status)
    view = ipywidgets.VBox([chart, line])
    view.add_class("lnb-dashboard")
    return view, chart, line
