"""What a dashboard draws, decided once from a ``metrics()`` frame: its charts, their series, the groups.

The live plotly figure (``_dashboard_figure``) and the script-free snapshot (``_dashboard_snapshot``)
both draw a :class:`Layout`, so they show the same charts, series, colours and line styles: a group
(``by=``) is a colour, a series of a chart (p50/p95/p99, input/output tokens) a line style; without
``by`` each series gets its own colour instead.

>>> from llmops_nb.monitor._dashboard_charts import chart_names
>>> chart_names(["latency", "score:relevance"])
('latency', 'score:relevance')
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .._errors import did_you_mean

#: Every chart a dashboard can draw, in the default order; ``scores`` is one chart per judge score.
CHARTS = ("requests", "errors", "latency", "ttft", "tokens", "cost", "scores", "guardrails")
#: The ``metrics()`` family each chart reads (``volume`` is always asked for: it says whether there was traffic).
FAMILIES = {"requests": "volume", "errors": "errors", "latency": "latency", "ttft": "latency", "tokens": "usage",
            "cost": "usage", "scores": "scores", "guardrails": "guardrails"}
SCORE_PREFIX = "score:"
#: More groups than this make unreadable charts: the busiest are drawn, the rest counted in a note.
MAX_GROUPS = 10
#: Matplotlib's and d3's ten colours: the same in the live chart and the snapshot.
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf")
DASHES = ("solid", "dash", "dot")
DASH_WORDS = {"solid": "solid", "dash": "dashed", "dot": "dotted"}


@dataclass(frozen=True)
class Series:
    """One line of a chart: ``column`` of the frame; its place in the chart gives its line style (its colour
    without groups)."""

    column: str
    label: str  # ours, never from a trace: "p95", "input", "pass rate"
    value: str  # the value in a plotly hover template: "%{y:,.0f} ms"
    extra: tuple[str, ...] = ()  # columns a hover reads as %{customdata[i]}
    band: tuple[str, str] | None = None  # low/high columns drawn as a filled area under the line
    secondary: bool = False  # on a second y axis (a judge's mean outside [0, 1])


@dataclass(frozen=True)
class Chart:
    key: str  # "latency", "score:<name>"
    title: str  # the scorer's name for a judge chart: text from traces, escaped wherever it is written
    unit: str  # "count", "rate", "ms", "usd", "score"
    series: tuple[Series, ...]
    y_range: tuple[float, float] | None = None  # fixed range (a pass rate's [0, 1])

    @property
    def secondary(self) -> bool:
        return any(s.secondary for s in self.series)


@dataclass(frozen=True)
class Group:
    label: str  # the group's values joined with " · " ("all" without by=): from traces, escaped where written
    rows: Any  # the frame's rows of this group, in time order
    colour: str


@dataclass(frozen=True)
class Layout:
    """A frame as charts: what both the live figure and the snapshot draw."""

    charts: tuple[Chart, ...]
    groups: tuple[Group, ...]
    grouped: bool  # by= was given: a group is a colour, a series a line style
    hidden_groups: int  # groups past MAX_GROUPS, not drawn
    requests: int  # in the whole window, every group

    @property
    def empty(self) -> bool:
        return self.requests == 0

    def colour(self, group: Group, index: int) -> str:
        """A series' colour: its group's with by=, else its own."""
        return group.colour if self.grouped else PALETTE[index % len(PALETTE)]


def chart_names(charts: str | Iterable[str] | None) -> tuple[str, ...]:
    """``charts=`` checked: names from :data:`CHARTS` or ``"score:<name>"``, in the order given, once each."""
    if charts is None:
        return CHARTS
    given = [charts] if isinstance(charts, str) else list(charts)
    names: list[str] = []
    for name in given:
        if not isinstance(name, str) or not (name in CHARTS or (name.startswith(SCORE_PREFIX) and name[6:])):
            raise ValueError(f"dashboard(charts=...) got {name!r}; a chart is one of {', '.join(CHARTS)} or "
                             f"'score:<assessment name>' for one judge's chart.{did_you_mean(name, CHARTS)}")
        if name not in names:
            names.append(name)
    if not names:
        raise ValueError(f"dashboard(charts=...) is empty; leave it out for every chart, or pick from {CHARTS}.")
    return tuple(names)


def families(names: Sequence[str]) -> list[str]:
    """The ``metrics()`` families the charts read."""
    wanted = ["volume"]
    for name in names:
        family = "scores" if name.startswith(SCORE_PREFIX) else FAMILIES[name]
        if family not in wanted:
            wanted.append(family)
    return wanted


def score_names(columns: Iterable[str]) -> list[str]:
    """The judge scores a frame has columns for (``<name>/mean`` beside ``<name>/count``), sorted."""
    present = set(columns)
    return sorted(c[: -len("/mean")] for c in present if c.endswith("/mean") and f"{c[:-5]}/count" in present)


def layout(frame: Any, by: Sequence[str], names: Sequence[str]) -> Layout:
    """What to draw for ``frame`` (a ``metrics()`` result) grouped on ``by``, charts ``names``."""
    charts: list[Chart] = []
    scores = score_names(frame.columns)
    for name in names:
        if name == "scores":
            charts += [_score_chart(frame, s) for s in scores if f"{SCORE_PREFIX}{s}" not in names]
        elif name.startswith(SCORE_PREFIX):
            charts.append(_score_chart(frame, name[len(SCORE_PREFIX):]))
        else:
            charts.append(_FIXED[name])
    groups, hidden = _groups(frame, list(by))
    requests = int(frame["requests"].sum()) if "requests" in frame.columns and len(frame) else 0
    return Layout(tuple(charts), tuple(groups), bool(by), hidden, requests)


_MS = "%{y:,.0f} ms"
_FIXED = {
    "requests": Chart("requests", "Requests", "count", (Series("requests", "requests", "%{y:,.0f} requests"),)),
    "errors": Chart("errors", "Error rate", "rate", (
        Series("error_rate", "error rate", "%{y:.2%} (%{customdata[0]:,.0f} of %{customdata[1]:,.0f} requests)",
               extra=("errors", "requests")),)),
    "latency": Chart("latency", "Latency (ms)", "ms", (
        Series("latency_p50_ms", "p50", _MS), Series("latency_p95_ms", "p95", _MS),
        Series("latency_p99_ms", "p99", _MS))),
    "ttft": Chart("ttft", "Time to first token (ms)", "ms", (
        Series("ttft_p50_ms", "p50", _MS), Series("ttft_p95_ms", "p95", _MS))),
    "tokens": Chart("tokens", "Tokens", "count", (
        Series("input_tokens", "input", "%{y:,.0f} tokens"), Series("output_tokens", "output", "%{y:,.0f} tokens"))),
    "cost": Chart("cost", "Cost (USD)", "usd", (Series("cost_usd", "cost", "$%{y:,.4f}"),)),
    "guardrails": Chart("guardrails", "Guardrail events", "count", (
        Series("guardrail_events", "events", "%{y:,.0f} events"),
        Series("guardrail_failures", "failures", "%{y:,.0f} failures"))),
}


def _score_chart(frame: Any, name: str) -> Chart:
    """A judge's chart: its pass rate with its confidence band on [0, 1], and its mean unless the mean is
    the pass rate (a pass/fail judge) — on a second axis when the mean leaves [0, 1] (a 1–5 scale)."""

    def col(metric: str) -> str:
        return f"{name}/{metric}"

    count = "n=%{customdata[2]:,.0f}"
    rate_hover = f"%{{y:.1%}} (95% CI %{{customdata[0]:.1%}}–%{{customdata[1]:.1%}}, {count})"
    mean_hover = f"%{{y:.3g}} (95% CI %{{customdata[0]:.3g}}–%{{customdata[1]:.3g}}, {count})"
    rate = Series(col("pass_rate"), "pass rate", rate_hover,
                  extra=(col("pass_rate_low"), col("pass_rate_high"), col("count")),
                  band=(col("pass_rate_low"), col("pass_rate_high")))
    has_rate, has_mean = _any(frame, rate.column), _any(frame, col("mean"))
    if has_rate and has_mean and _same(frame, rate.column, col("mean")):
        has_mean = False  # a pass/fail judge: its mean is its pass rate
    series = [rate] if has_rate or not has_mean else []
    unit_scale = has_rate or not has_mean or _within(frame, col("mean"))
    if has_mean:
        series.append(Series(col("mean"), "mean", mean_hover,
                             extra=(col("mean_low"), col("mean_high"), col("count")),
                             band=None if has_rate else (col("mean_low"), col("mean_high")),
                             secondary=has_rate and not _within(frame, col("mean"))))
    return Chart(f"{SCORE_PREFIX}{name}", name, "score", tuple(series), (0.0, 1.0) if unit_scale else None)


def _any(frame: Any, column: str) -> bool:
    return column in frame.columns and bool(frame[column].notna().any())


def _same(frame: Any, a: str, b: str) -> bool:
    left, right = frame[a].to_numpy(dtype=float), frame[b].to_numpy(dtype=float)
    both = ~(_isnan(left) | _isnan(right))
    return bool((_isnan(left) == _isnan(right)).all()) and bool((abs(left[both] - right[both]) < 1e-9).all())


def _isnan(values: Any) -> Any:
    return values != values  # noqa: PLR0124 - NaN is the one value unequal to itself


def _within(frame: Any, column: str) -> bool:
    if column not in frame.columns:
        return True
    values = frame[column].dropna()
    return not len(values) or (float(values.min()) >= 0 and float(values.max()) <= 1)


def _groups(frame: Any, by: list[str]) -> tuple[list[Group], int]:
    """One group per combination of ``by`` values, the busiest first; at most MAX_GROUPS."""
    if not by:
        return [Group("all", frame, PALETTE[0])], 0
    if not len(frame):
        return [], 0
    parts = []
    for key, rows in frame.groupby(by, sort=False, dropna=False):
        values = key if isinstance(key, tuple) else (key,)
        parts.append((int(rows["requests"].sum()) if "requests" in rows else 0, _label(values), rows))
    parts.sort(key=lambda p: (-p[0], p[1]))
    shown = parts[:MAX_GROUPS]
    return ([Group(label, rows, PALETTE[i % len(PALETTE)]) for i, (_, label, rows) in enumerate(shown)],
            len(parts) - len(shown))


def _label(values: tuple[Any, ...]) -> str:
    def one(value: Any) -> str:
        missing = value is None or (isinstance(value, float) and math.isnan(value)) or str(value) in ("NaT", "<NA>")
        return "(none)" if missing else str(value)

    return " · ".join(one(v) for v in values)


def band_note(chart: Chart) -> str:
    """What a chart's shaded area is, or ``""``: ``metrics()`` gives 95% intervals (Wilson's for a pass rate)."""
    banded = [s.label for s in chart.series if s.band is not None]
    return f"shaded: {banded[0]}'s 95% interval" if banded else ""


def series_key(chart: Chart, layout_: Layout) -> list[tuple[str, str]]:
    """What tells the series of ``chart`` apart, as (label, style) pairs: colours without groups, line styles
    with them; empty for a single series."""
    if len(chart.series) < 2:
        return []
    if layout_.grouped:
        return [(s.label, DASH_WORDS[DASHES[i % len(DASHES)]]) for i, s in enumerate(chart.series)]
    return [(s.label, PALETTE[i % len(PALETTE)]) for i, s in enumerate(chart.series)]
