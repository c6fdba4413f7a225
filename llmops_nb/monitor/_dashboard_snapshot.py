"""A dashboard as script-free HTML and plain text: what a saved, shared or reopened notebook shows.

The charts are the live ones drawn again by matplotlib as inline SVG (``_dashboard_svg``), each in a
``<figure>`` whose caption names it and its lines; then a table of each group's figures. Without
matplotlib (it comes with ``pip install 'llmops_nb[monitor]'``) the table stands alone, with a note
saying how to get the charts. No ``<script>``, no ``<style>``, no link or image, no external URL; the
inline styles are decoration. Every string from traces — a group's values, a scorer's name — goes
through ``llmops_nb._html``; the SVGs hold only numbers and dates, escaped by matplotlib anyway.

>>> from llmops_nb.monitor._dashboard_snapshot import snapshot
>>> snapshot(layout, heading="Monitoring · last 24h", updated=now)  # doctest: +SKIP
{'text/html': '<div class="llmops-nb-snapshot lnb-dashboard-snapshot">…', 'text/plain': 'Monitoring · …'}
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from .._format import cost as cost_text
from .._html import Markup, clean, tag
from ._dashboard_charts import SCORE_PREFIX, Chart, Group, Layout, band_note, series_key

INSTALL = "pip install 'llmops_nb[monitor]'"
EMPTY = "No traces in this window: nothing to chart yet."
_GREY = "#57606a"


def snapshot(layout: Layout, *, heading: str, updated: dt.datetime, charts: bool = True) -> dict[str, str]:
    """``{"text/html": ..., "text/plain": ...}`` of ``layout``; ``charts=False`` skips the SVGs (the table only)."""
    from .._safety import log_once

    svgs: list[str] | None = None
    note = ""
    if charts and not layout.empty and layout.charts:
        try:
            from ._dashboard_svg import chart_svgs

            svgs = chart_svgs(layout)
        except ImportError:
            note = f"Charts need matplotlib: {INSTALL}"
        except Exception as exc:  # noqa: BLE001 - a display must not fail the cell: the table still says it
            log_once("monitor.dashboard.svg", exc)
            note = f"The charts could not be drawn ({type(exc).__name__}); the figures are below."
    rows = facts(layout)
    return {"text/html": _html(layout, heading, updated, svgs=svgs, rows=rows, note=note),
            "text/plain": _text(layout, heading, updated, rows)}


def text(layout: Layout, *, heading: str, updated: dt.datetime) -> str:
    """The ``text/plain`` alone (no charts drawn): the window's totals and each group's figures."""
    return _text(layout, heading, updated, facts(layout))


def _html(layout: Layout, heading: str, updated: dt.datetime, *, svgs: list[str] | None, rows: list[Any],
          note: str) -> str:
    stamp = f"{updated:%Y-%m-%d %H:%M:%S} UTC"
    parts: list[Any] = [tag("p", tag("strong", heading), Markup("<br>"), tag(
        "small", f"Static snapshot of {totals(layout)}, taken {stamp}. The interactive charts come back "
        "when the cell runs; refresh() brings them up to date."))]
    if layout.empty:
        parts.append(tag("p", tag("em", EMPTY)))
    if layout.grouped and layout.groups:
        parts.append(tag("p", *_legend(layout)))
    if note:
        parts.append(tag("p", tag("em", note)))
    if svgs:
        figures = [tag("figure", tag("figcaption", _caption(chart, layout)), Markup(svg),
                       style="margin:0;flex:1 1 420px;max-width:620px")
                   for chart, svg in zip(layout.charts, svgs, strict=True)]
        parts.append(tag("div", *figures, style="display:flex;flex-wrap:wrap;gap:12px 20px"))
    if rows and not layout.empty:
        parts.append(_table(rows))
    if layout.hidden_groups:
        parts.append(tag("p", tag("small", f"{layout.hidden_groups:,} quieter groups not drawn (at most "
                                           f"{len(layout.groups)}); narrow them with where=.")))
    return str(tag("div", *parts, class_="llmops-nb-snapshot lnb-dashboard-snapshot")) + "\n"


def _legend(layout: Layout) -> list[Any]:
    items: list[Any] = [Markup("groups:")]
    for group in layout.groups:
        items += [tag("span", style=f"display:inline-block;width:16px;height:3px;background:{group.colour};"
                                    "vertical-align:middle;margin:0 4px 0 12px"), group.label]
    return items


def _caption(chart: Chart, layout: Layout) -> Markup:
    name = tag("b", f"Score: {chart.title}" if chart.key.startswith(SCORE_PREFIX) else chart.title)
    key = series_key(chart, layout)
    if layout.grouped:
        words: list[Any] = [f"{label} {style}" for label, style in key]
    else:
        words = [tag("span", label, style=f"color:{colour}") for label, colour in key]
    note = band_note(chart)
    return Markup(" · ").join([name, *words, *([note] if note else [])])


def _table(rows: list[tuple[Group, list[tuple[str, str]]]]) -> Markup:
    headers = ["group"] + [label for label, _ in rows[0][1]]
    head = tag("tr", *(tag("th", h, style="text-align:left;padding:2px 10px 2px 0") for h in headers))
    body = [tag("tr", tag("td", group.label, style="padding:2px 10px 2px 0"),
                *(tag("td", value, style="padding:2px 10px 2px 0") for _, value in cells))
            for group, cells in rows]
    caption = tag("caption", "Totals over the window; latency, time to first token and scores from each group's "
                             "last bucket with data.", style=f"caption-side:bottom;text-align:left;color:{_GREY}")
    return tag("table", caption, tag("thead", head), tag("tbody", *body),
               style="border-collapse:collapse;margin-top:8px")


def totals(layout: Layout) -> str:
    """``5 requests in 2 groups`` (``1 request`` without ``by``)."""
    def plural(n: int, word: str) -> str:
        return f"{n:,} {word}{'' if n == 1 else 's'}"

    groups = f" in {plural(len(layout.groups) + layout.hidden_groups, 'group')}" if layout.grouped else ""
    return plural(layout.requests, "request") + groups


def _text(layout: Layout, heading: str, updated: dt.datetime, rows: list[Any]) -> str:
    lines = [f"{clean(heading)}: {totals(layout)}, updated {updated:%Y-%m-%d %H:%M:%S} UTC"]
    if layout.empty:
        lines.append(f"  {EMPTY}")
    for group, cells in rows if not layout.empty else []:
        label = f"{_one_line(group.label)}: " if layout.grouped else ""
        lines.append("  " + label + " · ".join(f"{name} {value}" for name, value in cells))
    if layout.hidden_groups:
        lines.append(f"  … {layout.hidden_groups:,} quieter groups not shown")
    lines.append("charts: " + ", ".join(_one_line(c.key) for c in layout.charts))
    return "\n".join(lines)


# -- the figures of each group ------------------------------------------------------------------

def facts(layout: Layout) -> list[tuple[Group, list[tuple[str, str]]]]:
    """Per group: (label, value) pairs, first its last bucket with traffic, then one per chart."""
    return [(group, [("last traffic (UTC)", _last_time(group.rows)),
                     *(cell for chart in layout.charts for cell in _cells(chart, group.rows))])
            for group in layout.groups]


def _cells(chart: Chart, rows: Any) -> list[tuple[str, str]]:
    key = chart.key
    if key == "requests":
        return [("requests", _count(_sum(rows, "requests")))]
    if key == "errors":
        errors, requests = _sum(rows, "errors"), _sum(rows, "requests")
        rate = f" ({errors / requests:.1%})" if requests else ""
        return [("errors", f"{_count(errors)}{rate}")]
    if key in ("latency", "ttft"):
        latest = [_latest(rows, s.column) for s in chart.series]
        labels = " / ".join(s.label for s in chart.series)
        name = "latency" if key == "latency" else "TTFT"
        shown = " / ".join("–" if v is None else f"{v:,.0f}" for v in latest)
        return [(f"{name} {labels}", f"{shown} ms")]
    if key == "tokens":
        return [("tokens in / out", f"{_count(_sum(rows, 'input_tokens'))} / {_count(_sum(rows, 'output_tokens'))}")]
    if key == "cost":
        total = rows["cost_usd"].sum(min_count=1) if "cost_usd" in rows.columns else None
        return [("cost", cost_text(total))]
    if key == "guardrails":
        return [("guardrail events / failures",
                 f"{_count(_sum(rows, 'guardrail_events'))} / {_count(_sum(rows, 'guardrail_failures'))}")]
    return [(chart.title, _score(chart, rows))]


def _score(chart: Chart, rows: Any) -> str:
    name = chart.key[len(SCORE_PREFIX):]
    count_column = f"{name}/count"
    for series in chart.series:
        index = _latest_index(rows, series.column)
        if index is None:
            continue
        row = rows.loc[index]
        count = row.get(count_column)
        details = [] if count is None or _nan(count) else [f"n={int(count):,}"]
        if series.label == "pass rate":
            low, high = row.get(f"{name}/pass_rate_low"), row.get(f"{name}/pass_rate_high")
            if not (low is None or high is None or _nan(low) or _nan(high)):
                details.insert(0, f"CI {low:.0%}–{high:.0%}")
            value = f"{row[series.column]:.0%} pass"
        else:
            value = f"mean {row[series.column]:.3g}"
        return value + (f" ({', '.join(details)})" if details else "")
    return "–"


def _sum(rows: Any, column: str) -> float:
    return float(rows[column].sum()) if column in rows.columns else 0.0


def _count(value: float) -> str:
    return f"{value:,.0f}"


def _latest_index(rows: Any, column: str) -> Any:
    if column not in rows.columns:
        return None
    present = rows[column].notna()
    if "requests" in rows.columns:
        present &= rows["requests"].fillna(0) > 0
    hits = rows.index[present.to_numpy()]
    return hits[-1] if len(hits) else None


def _latest(rows: Any, column: str) -> float | None:
    index = _latest_index(rows, column)
    return None if index is None else float(rows.loc[index, column])


def _last_time(rows: Any) -> str:
    if "requests" not in rows.columns or not len(rows):
        return "–"
    busy = rows.loc[rows["requests"].fillna(0).to_numpy() > 0, "time"]
    return "none" if busy.empty else f"{busy.iloc[-1]:%Y-%m-%d %H:%M}"


def _nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _one_line(text: str) -> str:
    return " ".join(clean(text).split())

