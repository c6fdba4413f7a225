"""``Hotspots`` drawn: a plotly figure and the notebook's small HTML table.

Span names come from traces — whatever an agent or a user named them, ``<img onerror=…>`` included —
so every one is escaped where it lands: in the table through ``_html.tag`` (text, never markup), in
the figure through ``_html.escape`` (plotly reads labels and hover text as a small HTML dialect;
quotes stay, as in ``gateway/_usage.py``, since plotly would show ``&quot;`` as typed).
"""

from __future__ import annotations

import math
from typing import Any

from .._format import cost, duration
from .._html import Markup, escape, tag

_TABLE_ROWS = 10


def _number(value: Any) -> float | None:
    """A float for plotly, None for a missing one (NaN, NA, None)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _label(name: Any, kind: Any) -> str:
    return f"{escape(name, quote=False)} · {escape(kind, quote=False)}"


def figure(spots: Any, top: int) -> Any:
    """Self time and cost of the ``top`` (name, kind) groups, side by side, most self time on top."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise ValueError(f"figure(top=...) is how many span names to draw, e.g. top=20; got {top!r}.")
    frame = spots.frame.head(top)
    labels = [_label(n, k) for n, k in zip(frame.name, frame.kind, strict=True)]
    data = [[int(c), float(t), _number(s)] for c, t, s in zip(frame.calls, frame.total_ms, frame.share_of_wall,
                                                                strict=True)]
    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, horizontal_spacing=0.03,
                        subplot_titles=("Self time (ms)", "Cost ($)"))
    fig.add_trace(go.Bar(x=list(frame.self_ms), y=labels, orientation="h", name="self time", customdata=data,
                         marker_color="#1f77b4",
                         hovertemplate="%{y}<br>self %{x:,.1f} ms of %{customdata[1]:,.1f} ms total"
                                       "<br>%{customdata[0]:,} calls · %{customdata[2]:.1%} of wall<extra></extra>"),
                  row=1, col=1)
    fig.add_trace(go.Bar(x=[_number(v) for v in frame.cost_usd], y=labels, orientation="h", name="cost",
                         marker_color="#d62728", hovertemplate="%{y}<br>$%{x:,.6f}<extra></extra>"), row=1, col=2)
    fig.update_yaxes(autorange="reversed", row=1, col=1)  # the biggest on top, as in the frame
    fig.update_xaxes(tickprefix="$", row=1, col=2)
    noun = "trace" if spots.traces == 1 else "traces"
    fig.update_layout(title=f"Where the time and cost go: {spots.traces:,} {noun}", showlegend=False,
                      height=max(320, 26 * len(labels) + 160), bargap=0.25)
    if frame.empty:
        fig.add_annotation(text="No spans in these traces", showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5)
    return fig


def _tokens(row: Any) -> str:
    return f"{int(row.input_tokens):,} / {int(row.output_tokens):,}" if row.input_tokens or row.output_tokens else "–"


def html_table(spots: Any) -> str:
    """The top groups by self time as an HTML table, every string from the traces as text."""
    frame = spots.frame
    repeated = spots.repeated
    noun = "trace" if spots.traces == 1 else "traces"
    facts = [f"{spots.traces:,} {noun}", f"{int(frame.calls.sum()):,} spans",
             f"wall {duration(spots.wall_ms)}"]
    if len(repeated):
        waste = repeated.wasted_cost_usd.sum(min_count=1)
        facts.append(f"{len(repeated):,} repeated calls (cache candidates, {cost(waste)} wasted)")
    head = tag("tr", *(tag("th", h) for h in ("span", "kind", "calls", "self", "share of wall", "p95",
                                               "tokens in / out", "cost", "errors")))
    rows = [tag("tr", tag("td", r.name), tag("td", r.kind), tag("td", f"{int(r.calls):,}"),
                tag("td", duration(r.self_ms)),
                tag("td", "–" if _number(r.share_of_wall) is None else f"{r.share_of_wall:.1%}"),
                tag("td", duration(r.p95_ms)), tag("td", _tokens(r)), tag("td", cost(r.cost_usd)),
                tag("td", f"{int(r.errors):,}" if r.errors else ""))
            for r in frame.head(_TABLE_ROWS).itertuples(index=False)]
    more = len(frame) - _TABLE_ROWS
    note = tag("p", f"… {more:,} more in .frame") if more > 0 else Markup("")
    empty = tag("p", "No spans in these traces.") if frame.empty else Markup("")
    return str(tag("div", tag("p", tag("b", "Hotspots"), ": " + " · ".join(facts)),
                   tag("table", tag("thead", head), tag("tbody", *rows)), note, empty,
                   class_="llmops-nb-hotspots"))
