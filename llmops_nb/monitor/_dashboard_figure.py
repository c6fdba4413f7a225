"""The dashboard's live chart: a :class:`~._dashboard_charts.Layout` as one plotly figure, and how a shown
``FigureWidget`` takes a new one in place.

A grid of subplots sharing one UTC time axis (zooming one chart zooms all); a legend entry per group;
hovering shows every line's exact value at that time (``x unified``), with the counts behind a rate and a
score's confidence interval. Names from traces (groups, scorers) are escaped: plotly reads labels and
hover text as a small HTML dialect. Times go to plotly as epoch milliseconds on ``type="date"`` axes,
which plotly shows as UTC, and every array as float64, which ``FigureWidget`` sends as binary.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._html import escape
from ._dashboard_charts import DASHES, Chart, Layout, Series, band_note, series_key

ROW_PX = 250  # one row of charts
MARKERS_UP_TO = 100  # points per line drawn with markers (a lone bucket between gaps stays visible)
_UNIT_AXIS: dict[str, dict[str, Any]] = {
    "count": {"rangemode": "tozero", "tickformat": "~s"},
    "rate": {"rangemode": "tozero", "tickformat": ".1%"},
    "ms": {"rangemode": "tozero", "tickformat": ",.0f"},
    "usd": {"rangemode": "tozero", "tickprefix": "$"},
    "score": {"tickformat": ".0%"},
}


def text(value: Any) -> str:
    """A string from the data as plotly text: escaped, quotes left as typed (plotly shows ``&quot;`` literally)."""
    return str(escape(value, quote=False))


def epoch_ms(rows: Any) -> Any:
    """The rows' ``time`` (bucket start, UTC) as float64 epoch milliseconds."""
    import pandas as pd

    times = pd.to_datetime(rows["time"])
    if getattr(times.dt, "tz", None) is not None:
        times = times.dt.tz_convert("UTC").dt.tz_localize(None)
    return times.to_numpy(dtype="datetime64[ms]").astype("int64").astype("float64")


def values(rows: Any, column: str) -> Any:
    """A column as float64 (NaN where missing); all NaN when the frame lacks it."""
    if column in rows.columns:
        return rows[column].to_numpy(dtype="float64", na_value=np.nan)
    return np.full(len(rows), np.nan)


def grid(count: int) -> tuple[int, int]:
    """(rows, cols) of the chart grid: two columns from two charts on."""
    cols = 1 if count < 2 else 2
    return max(1, math.ceil(count / cols)), cols


def title(chart: Chart, layout: Layout) -> str:
    """A chart's title in plotly's markup: its name, then what tells its lines apart."""
    key = series_key(chart, layout)
    if layout.grouped:
        styles = " · ".join(f"{label} {style}" for label, style in key)
    else:
        styles = " · ".join(f'<span style="color:{colour}">{label}</span>' for label, colour in key)
    styles = " · ".join(part for part in (styles, band_note(chart)) if part)
    name = f"Score: {text(chart.title)}" if chart.unit == "score" else chart.title
    return f"<b>{name}</b>" + (f"  <span style=\"font-size:10px\">{styles}</span>" if styles else "")


def build(layout: Layout, heading: str, window: tuple[Any, Any] | None = None) -> dict[str, Any]:
    """The figure of ``layout`` as plotly's dict (``{"data": [...], "layout": {...}}``), ``heading`` (ours,
    plain text) on top; ``window`` (since, until as Timestamps) spans the time axis when there is nothing to
    draw. Plain dicts, laid out here rather than by ``make_subplots`` (a tenth of the time, the same grid):
    plotly validates them once, in ``go.Figure``, or not at all in the live ``FigureWidget``."""
    charts = layout.charts
    spec, refs = _grid(charts, [title(c, layout) for c in charts])
    traces: list[dict[str, Any]] = []
    shown: set[str] = set()
    for i, chart in enumerate(charts):
        y_axis = spec[_axis_key("yaxis", refs[i][False]["yaxis"])]
        y_axis.update(_UNIT_AXIS[chart.unit])
        if chart.y_range is not None:
            y_axis.update(range=list(chart.y_range), autorange=False)
        for trace, on_secondary in _chart_traces(chart, layout, shown):
            traces.append({**trace, **refs[i][on_secondary]})
    empty_range = [str(t) for t in window] if layout.empty and window is not None else None
    for key in spec:
        if key.startswith("xaxis"):
            spec[key].update(type="date", hoverformat="%Y-%m-%d %H:%M UTC", showticklabels=True)
            if empty_range:
                spec[key]["range"] = empty_range
    rows = grid(len(charts))[0]
    height = 120 + rows * ROW_PX
    spec.update(
        title={"text": text(heading), "x": 0, "xanchor": "left", "y": 1 - 12 / height, "yanchor": "top",
               "yref": "container", "font": {"size": 15}},
        template="plotly_white", hovermode="x unified", height=height,
        margin={"l": 60, "r": 30, "t": 110, "b": 40}, showlegend=layout.grouped,
        # the groups under the heading, above the charts
        legend={"orientation": "h", "x": 0, "xanchor": "left", "y": 1 - 44 / height, "yanchor": "top",
                "yref": "container"},
    )
    if layout.empty:
        spec["annotations"].append({"text": "No traces in this window: nothing to chart yet.", "showarrow": False,
                                    "xref": "paper", "yref": "paper", "x": 0.5, "y": 0.5,
                                    "font": {"size": 16, "color": "#57606a"}})
    return {"data": traces, "layout": spec}


def _grid(charts: tuple[Chart, ...], titles: list[str]) -> tuple[dict[str, Any], list[dict[bool, dict[str, str]]]]:
    """The layout's axes for a grid of ``charts`` (two columns from two on, one time axis for all: zooming
    one zooms every chart), their titles, and each chart's axis references for its traces, by secondary."""
    rows, cols = grid(len(charts))
    h_gap, v_gap = 0.09, 0.32 / rows
    width, height = (1 - (cols - 1) * h_gap) / cols, (1 - (rows - 1) * v_gap) / rows
    spec: dict[str, Any] = {"annotations": []}
    refs: list[dict[bool, dict[str, str]]] = []
    extra = len(charts)  # second y axes are numbered after the charts' own
    for i, chart in enumerate(charts):
        row, col = divmod(i, cols)
        left, top = col * (width + h_gap), 1 - row * (height + v_gap)
        x, y = f"x{i + 1 if i else ''}", f"y{i + 1 if i else ''}"
        spec[_axis_key("xaxis", x)] = {"domain": _span(left, left + width), "anchor": y,
                                       **({"matches": "x"} if i else {})}
        spec[_axis_key("yaxis", y)] = {"domain": _span(top - height, top), "anchor": x}
        own = {"xaxis": x, "yaxis": y}
        second = own
        if chart.secondary:
            extra += 1
            second = {"xaxis": x, "yaxis": f"y{extra}"}
            spec[f"yaxis{extra}"] = {"anchor": x, "overlaying": y, "side": "right", "showgrid": False,
                                     "tickformat": ".3~g", "title": {"text": "mean"}}
        refs.append({False: own, True: second})
        spec["annotations"].append({"text": titles[i], "x": left + width / 2, "xanchor": "center", "xref": "paper",
                                    "y": top, "yanchor": "bottom", "yref": "paper", "showarrow": False,
                                    "font": {"size": 13}})
    return spec, refs


def _span(low: float, high: float) -> list[float]:
    """A domain, rounded into [0, 1] (float steps leave -5e-17 at an edge, which plotly refuses)."""
    return [min(1.0, max(0.0, round(low, 6))), min(1.0, max(0.0, round(high, 6)))]


def _axis_key(kind: str, ref: str) -> str:
    """``x3`` -> ``xaxis3`` (``x`` -> ``xaxis``): a trace's axis reference as the layout's key."""
    return kind + ref[1:]


def _chart_traces(chart: Chart, layout: Layout, shown: set[str]) -> list[tuple[dict[str, Any], bool]]:
    out = []
    for group in layout.groups:
        x = epoch_ms(group.rows)
        mode = "lines+markers" if len(x) <= MARKERS_UP_TO else "lines"
        for index, series in enumerate(chart.series):
            colour = layout.colour(group, index)
            dash = DASHES[index % len(DASHES)] if layout.grouped else "solid"
            legend = text(group.label) if layout.grouped else f"{chart.key}:{series.label}"
            if series.band is not None:
                out += [({**trace, "meta": {"chart": chart.key, "series": f"{series.label} band"}}, series.secondary)
                        for trace in _band(x, group.rows, series, colour, legend)]
            name = text(group.label) if layout.grouped else series.label
            label = "%{fullData.name}" + (f" {series.label}" if layout.grouped and len(chart.series) > 1 else "")
            trace = {"type": "scatter", "x": x, "y": values(group.rows, series.column), "mode": mode, "name": name,
                     "meta": {"chart": chart.key, "series": series.label},
                     "legendgroup": legend, "showlegend": layout.grouped and legend not in shown,
                     "line": {"color": colour, "dash": dash, "width": 1.6}, "marker": {"size": 4},
                     "hovertemplate": f"{label}: {series.value}<extra></extra>"}
            if series.extra:
                trace["customdata"] = _customdata(group.rows, series)
            out.append((trace, series.secondary))
            shown.add(legend)
    return out


def _band(x: Any, rows: Any, series: Series, colour: str, legend: str) -> list[dict[str, Any]]:
    assert series.band is not None
    low, high = series.band
    common = {"type": "scatter", "x": x, "mode": "lines", "line": {"width": 0, "color": colour},
              "hoverinfo": "skip", "showlegend": False, "legendgroup": legend}
    return [{**common, "y": values(rows, low), "name": f"{series.label} low"},
            {**common, "y": values(rows, high), "name": f"{series.label} high", "fill": "tonexty",
             "fillcolor": _rgba(colour, 0.15)}]


def _customdata(rows: Any, series: Series) -> Any:
    # NaN -> 0: a 2-D array reaches the browser as a JSON list, where NaN is not allowed; only buckets
    # with a value are hovered, and their counts and bounds are there
    return np.nan_to_num(np.column_stack([values(rows, c) for c in series.extra]), nan=0.0)


def _rgba(colour: str, alpha: float) -> str:
    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def _shape(trace: Any) -> tuple[Any, ...]:
    return (trace.type, trace.name, trace.legendgroup, trace.xaxis, trace.yaxis, trace.fill, trace.showlegend)


def _axes(layout: Any) -> tuple[str, ...]:
    return tuple(sorted(k for k in layout.to_plotly_json() if k.startswith(("xaxis", "yaxis"))))


def apply(widget: Any, figure: Any) -> None:
    """Show ``figure`` in ``widget`` (a shown ``FigureWidget``): the same charts and lines get their new
    values in one batch (the user's zoom and hidden legend entries stay); otherwise everything is replaced."""
    same = (len(widget.data) == len(figure.data) and _axes(widget.layout) == _axes(figure.layout)
            and all(_shape(a) == _shape(b) for a, b in zip(widget.data, figure.data, strict=True)))
    if same:
        with widget.batch_update():
            for old, new in zip(widget.data, figure.data, strict=True):
                old.update(x=new.x, y=new.y, mode=new.mode, customdata=new.customdata, hovertemplate=new.hovertemplate)
            widget.layout.annotations = figure.layout.annotations
            widget.layout.title = figure.layout.title
            widget.layout.height = figure.layout.height
            for key, axis in figure.layout.to_plotly_json().items():
                if key.startswith("yaxis") and "range" in axis:
                    widget.layout[key].range = axis["range"]
        return
    widget.data = ()
    widget.add_traces(list(figure.data))
    stale = set(_axes(widget.layout)) - set(_axes(figure.layout))
    if stale:  # a chart gone (a judge without scores in the window now): its axes go, or they draw empty
        widget.plotly_relayout({key: None for key in stale})
    widget.layout = figure.layout.to_plotly_json()
