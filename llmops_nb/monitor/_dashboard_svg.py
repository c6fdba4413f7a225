"""The snapshot's charts: each chart of a :class:`~._dashboard_charts.Layout` as inline SVG, drawn by matplotlib.

matplotlib is optional (the ``monitor`` extra): it is imported here, when a snapshot is made, and its
``ImportError`` is the caller's cue to show a table instead. No pyplot: a ``matplotlib.figure.Figure``
on the SVG canvas per chart, so nothing touches the user's current figure. Text is written as SVG
``<text>`` (escaped by matplotlib, and only ours: numbers, dates; names from traces go in the HTML
around it), which needs ``svg.fonttype`` set for the moment of drawing — one rc key, set and put back
under a lock, never ``rc_context``, which would put back every key another thread changed meanwhile.

A snapshot is a picture, not the data: each line keeps its lowest and highest value in each of at most
``BUCKETS`` time slices (so a spike survives), fewer when a chart has many lines (about
``POINTS_PER_CHART`` points a chart: ~30 kB of SVG); every coordinate to 0.1 pt; matplotlib's ``<style>``
(which would restyle every SVG of the page) and metadata go. The live chart keeps every point.
"""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from ._dashboard_charts import DASHES, Chart, Layout
from ._dashboard_figure import MARKERS_UP_TO, epoch_ms, values

WIDTH_IN, HEIGHT_IN, DPI = 7.2, 2.4, 72  # matplotlib's default font sizes, read at about 11 px once scaled to fit
BUCKETS = 150  # time slices per line in the snapshot (two points each at most)...
POINTS_PER_CHART = 1600  # ...fewer when a chart has many lines (10 groups × p50/p95/p99), to bound its size
MIN_BUCKETS = 24
_AXES_RECT = (0.085, 0.12, 0.895, 0.83)  # fixed: no layout engine to run per chart
_LINESTYLES = {"solid": "-", "dash": "--", "dot": ":"}
_TICK_STEPS_H = (1, 2, 3, 6, 12, 24, 48, 72, 168, 336, 720, 2160, 8760)  # hours between time ticks
_RC_LOCK = threading.Lock()
_PAST_TENTHS = re.compile(r"(?<=\.\d)\d+")  # the digits after a number's first decimal
_PATH_DATA = re.compile(r' d="([^"]*)"')
_DROP = (re.compile(r"^.*?(?=<svg)", re.S), re.compile(r"<metadata>.*?</metadata>\s*", re.S),
         re.compile(r"<defs>\s*<style[^>]*>.*?</style>\s*</defs>\s*", re.S))
_ROOT_SIZE = re.compile(r'<svg([^>]*?) width="[^"]*" height="[^"]*"')


@contextmanager
def _svg_text() -> Iterator[None]:
    import matplotlib

    with _RC_LOCK:
        before = matplotlib.rcParams["svg.fonttype"]
        matplotlib.rcParams["svg.fonttype"] = "none"
        try:
            yield
        finally:
            matplotlib.rcParams["svg.fonttype"] = before


def chart_svgs(layout: Layout) -> list[str]:
    """One ``<svg>`` per chart, in the layout's order. Raises ``ImportError`` without matplotlib."""
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.dates import DateFormatter, date2num
    from matplotlib.figure import Figure
    from matplotlib.ticker import FixedLocator

    lines = []
    for group in layout.groups:
        ms = epoch_ms(group.rows)
        lines.append((group, date2num(ms.astype("datetime64[ms]")), len(ms)))
    starts = [x[0] for _, x, n in lines if n]
    ends = [x[-1] for _, x, n in lines if n]
    span = (min(starts), max(ends)) if starts else None
    ticks, fmt = _time_ticks(*span) if span else ([], "%H:%M")
    out = []
    with _svg_text():
        for chart in layout.charts:
            figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)
            FigureCanvasSVG(figure)
            axes = figure.add_axes(_AXES_RECT)
            _draw(axes, chart, layout, lines)
            if span is not None and span[0] < span[1]:
                axes.set_xlim(*span)
            # the same few time ticks on every chart, placed once (matplotlib's date locators cost more per chart)
            axes.xaxis.set_major_locator(FixedLocator(ticks))
            axes.xaxis.set_major_formatter(DateFormatter(fmt))
            buffer = io.StringIO()
            figure.savefig(buffer, format="svg", metadata={"Creator": None, "Date": None, "Format": None,
                                                           "Type": None})
            out.append(clean_svg(buffer.getvalue(), chart))
    return out


def _time_ticks(start: float, end: float) -> tuple[list[float], str]:
    """At most six ticks on whole hours or days (UTC) between ``start`` and ``end`` (matplotlib day numbers),
    and how to write them."""
    hours = max((end - start) * 24, 1e-9)
    step = next((h for h in _TICK_STEPS_H if hours / h <= 5), _TICK_STEPS_H[-1]) / 24
    first = np.ceil(start / step - 1e-9) * step
    ticks = list(np.arange(first, end + 1e-9, step))
    if step >= 1:
        return ticks, "%m-%d"
    return ticks, "%H:%M" if hours <= 24 else "%m-%d %H:%M"


def _draw(axes: Any, chart: Chart, layout: Layout, lines: list[tuple[Any, Any, int]]) -> None:
    from matplotlib.ticker import FuncFormatter, MaxNLocator, PercentFormatter

    twin = axes.twinx() if chart.secondary else None
    strokes = len(lines) * sum(3 if s.band else 1 for s in chart.series)  # a band is drawn along both its edges
    buckets = max(MIN_BUCKETS, min(BUCKETS, POINTS_PER_CHART // 2 // max(1, strokes)))
    for group, x, count in lines:
        if not count:
            continue
        for index, series in enumerate(chart.series):
            target = twin if series.secondary and twin is not None else axes
            colour = layout.colour(group, index)
            style = _LINESTYLES[DASHES[index % len(DASHES)]] if layout.grouped else "-"
            y = values(group.rows, series.column)
            keep = _decimated(y, buckets)
            if series.band is not None:
                low, high = (values(group.rows, c)[keep] for c in series.band)
                target.fill_between(x[keep], low, high, color=colour, alpha=0.15, linewidth=0)
            target.plot(x[keep], y[keep], color=colour, linestyle=style, linewidth=1.3,
                        marker="o" if count <= MARKERS_UP_TO else None, markersize=2.5)
    for ax in (axes, twin):
        if ax is not None:
            ax.yaxis.set_major_locator(MaxNLocator(nbins=4))
    if chart.y_range is not None:
        axes.set_ylim(*chart.y_range)
    elif chart.unit != "score":
        top = axes.get_ylim()[1]
        axes.set_ylim(0, top if np.isfinite(top) and top > 0 else 1)
    if chart.unit == "rate" or chart.y_range is not None:
        axes.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=None))
    else:
        axes.yaxis.set_major_formatter(FuncFormatter(_short_usd if chart.unit == "usd" else _short))


def _decimated(y: Any, buckets: int = BUCKETS) -> Any:
    """Indices that keep each of ``buckets`` time slices' lowest and highest value (in time order), or all of
    them when there are few; a slice with no value keeps one NaN, so a gap stays a gap."""
    n = len(y)
    if n <= 2 * buckets:
        return np.arange(n)
    size = -(-n // buckets)
    buckets = -(-n // size)  # the slices that hold a point
    padded = np.full(size * buckets, np.nan)
    padded[:n] = y
    table = padded.reshape(buckets, size)
    empty = np.isnan(table).all(axis=1)
    low = np.argmin(np.where(np.isnan(table), np.inf, table), axis=1)
    high = np.argmax(np.where(np.isnan(table), -np.inf, table), axis=1)
    starts = np.arange(buckets) * size
    first, second = np.minimum(low, high), np.maximum(low, high)
    picks = np.column_stack([starts + first, starts + np.where(empty, first, second)]).ravel()
    picks = picks[picks < n]
    return picks[np.concatenate(([True], picks[1:] != picks[:-1]))]


def _short(value: float, _position: Any = None) -> str:
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:.3g}{suffix}"
    return f"{value:.3g}"


def _short_usd(value: float, _position: Any = None) -> str:
    return "$" + _short(value)


def _rounded(match: re.Match[str]) -> str:
    return ' d="' + _PAST_TENTHS.sub("", match.group(1)) + '"'


def clean_svg(svg: str, chart: Chart) -> str:
    """matplotlib's SVG as an inline element: no XML prolog, metadata or page-wide ``<style>``, coordinates
    to 0.1, and a size that follows its container."""
    for pattern in _DROP:
        svg = pattern.sub("", svg, count=1)
    svg = _PATH_DATA.sub(_rounded, svg)
    label = "chart" if chart.unit == "score" else chart.title  # a scorer's name is in the caption, escaped there
    return _ROOT_SIZE.sub(f'<svg\\1 width="100%" role="img" aria-label="{label}" '
                          'style="max-width:100%;height:auto;display:block"', svg, count=1)
