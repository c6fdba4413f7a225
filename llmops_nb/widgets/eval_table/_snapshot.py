"""An eval table as script-free HTML and text: what a shared notebook shows of it.

The run's facts and usage (latency, tokens, cost; in a comparison both runs' and the change), a
table of per-scorer summaries with each histogram drawn as SVG on its value axis (``_svg``), and
the first ``SNAPSHOT_ROWS`` rows with pass/fail in words and colour, the judges' rationales, each
row's tokens and cost and its latest feedback (``_snapshot_cells``); a run over conversations adds each
row's ``session`` (the id that opens it: ``llmops_nb.agents.session(id)``) and ``turns``. Every string
escaped (``llmops_nb._html``); never raises: a read error becomes the message.
"""

from __future__ import annotations

from typing import Any

from ..._html import Markup, table, tag
from ._format import clip
from ._reader import Reader
from ._sides import side_of
from ._snapshot_cells import _failed, feedback_cell, score_cell, usage_cells, usage_line
from ._sql import View
from ._svg import histogram_svg

SNAPSHOT_ROWS = 50
#: JupyterLab's and nbconvert's CSS right-align table cells; text reads from the left
TEXT_CELL = "text-align:left;vertical-align:top"


def _percent(value: Any) -> str:
    return "–" if value is None else f"{value * 100:.0f}%"


def _mean_text(value: Any) -> str:
    return "–" if value is None else f"{value:.3g}"


def snapshot(view: View, filters: dict[str, Any] | None = None, sort: Any = None,
             rows: int = SNAPSHOT_ROWS) -> dict[str, str]:
    """``text/html`` (script-free, every string escaped) and ``text/plain`` of a table; never raises."""
    run = view.candidate
    title = f"Evaluation {run.name!r}" + (f" compared with {view.baseline.name!r}" if view.baseline else "")
    try:
        reader = Reader(view)
        summary = reader.summary()
        data = reader.page(filters or {}, sort, 0, rows)
    except Exception as exc:  # noqa: BLE001 - a display must not fail the cell
        message = f"{title} could not be read: {type(exc).__name__}: {exc}"
        return {"text/plain": message, "text/html": tag("p", message)}
    head = f"{title}: " + " · ".join(_facts(view, summary))
    usage = usage_line(summary, view.compare)
    stats = [_scorer_stats(view, s) for s in summary["scorers"]]
    shown, total = len(data["rows"]), data["total"]
    more = f" The first {shown} rows are listed; run the notebook to browse them all." if total > shown else ""
    parts = [tag("p", tag("strong", head), more)]
    if usage:
        parts.append(tag("p", usage))
    if stats:
        parts.append(_table(["scorer", "source", "summary", "histogram"],
                            [tag("tr", tag("th", s["name"], scope="row"), tag("td", s["source"]), tag("td", stat),
                                 tag("td", histogram_svg(s["histogram"])))
                             for s, (_, _, stat, _) in zip(summary["scorers"], stats, strict=True)]))
    if data["rows"]:
        # inputs and outputs (both sides), and a conversation's session, read from the left
        texts = (3 if view.compare else 2) + ("session" in view.columns)
        parts.append(_table(_headers(view), [tag("tr", *(tag("td", c, style=TEXT_CELL if 0 < i <= texts else None)
                                                         for i, c in enumerate(_cells(view, r))))
                                             for r in data["rows"]]))
    html_text = tag("div", Markup("\n"), Markup("\n").join(parts), Markup("\n"), class_="llmops-nb-eval-table")
    lines = [f"EvalTable: {head}"] + ([f"  {usage}"] if usage else [])
    lines += [f"  {name:<20} {stat}" for name, _, stat, _ in stats]
    lines += [f"  {r['row']:>4}  {_session_text(r)}{clip(r['inputs'], 40) or '':<40}  {clip(r['outputs'], 40)}"
              for r in data["rows"][:10]]
    if total > min(shown, 10):
        lines.append(f"  … {total - min(shown, 10):,} more rows")
    return {"text/plain": "\n".join(lines), "text/html": str(html_text)}


def _facts(view: View, summary: dict[str, Any]) -> list[str]:
    run = view.candidate
    ident = run.run_id or run.frame_run_id
    facts = [f"{summary['total']:,} row{'s' if summary['total'] != 1 else ''}"]
    if run.status:
        facts.append(run.status.lower())
    if ident:
        facts.append(f"run {ident}")
    if view.baseline is not None:
        facts.append(f"baseline {view.baseline.run_id or view.baseline.frame_run_id or view.baseline.name}")
    if summary["errors"]:
        facts.append(f"{summary['errors']} failed prediction{'s' if summary['errors'] != 1 else ''}")
    fb = summary["feedback"]
    if fb["given"]:
        facts.append(f"feedback on {fb['given']} ({fb['up']} up, {fb['down']} down)")
    return facts


def _scorer_stats(view: View, s: dict[str, Any]) -> tuple[str, str, str, str]:
    """(name, source, summary, histogram) of one scorer, as text."""
    if view.compare:
        stat = (f"win {s['win']} · loss {s['loss']} · tie {s['tie']} · mean {_mean_text(s['mean_baseline'])} → "
                f"{_mean_text(s['mean_candidate'])}")
    else:
        stat = f"mean {_mean_text(s['mean'])} · pass {_percent(s['pass_rate'])}"
    stat += f" · {s['count']} scored" + (f" · {s['errors']} errors" if s["errors"] else "")
    bars = " ".join(f"{b['label']}:{b['count']}" for b in s["histogram"]["bins"])
    return s["name"], s["source"], stat, bars


def _session_text(r: dict[str, Any]) -> str:
    return f"{r['session']}  " if r.get("session") else ""


def _headers(view: View) -> list[str]:
    headers = ["#", "inputs", "outputs", *view.columns] + [s["name"] for s in view.scorers]
    if view.compare:
        headers[2:3] = ["baseline outputs", "outputs"]
    return [*headers, "latency", "tokens", "cost", "feedback"]


def _cells(view: View, r: dict[str, Any]) -> list[Any]:
    cells: list[Any] = [str(r["row"]), clip(r["inputs"], 200) or ""]
    if view.compare:
        cells.append(clip(r["base"]["outputs"], 200) or "")
    cells.append(_failed(r["error"]) if r["error"] else clip(r["outputs"], 200) or "")
    cells += ["" if r.get(c) is None else str(r[c]) for c in view.columns]  # session, turns: text, escaped by tag()
    cells += [score_cell(view, s, score) for s, score in zip(view.scorers, r["scores"], strict=True)]
    return [*cells, *usage_cells(r, view.compare), feedback_cell(r["feedback"])]


def _table(headers: list[str], rows: list[Markup]) -> Markup:
    return table(headers, rows)


class EvalTableSnapshot:
    """What shows where no widget can (a terminal, a missing JS bundle): the same table as static HTML and text."""

    def __init__(self, results: Any, compare_to: Any = None) -> None:
        attrs = getattr(results, "attrs", None) or {}
        if compare_to is None and hasattr(results, "columns") and attrs.get("baseline") and attrs.get("candidate"):
            results, compare_to = attrs["candidate"], attrs["baseline"]
        candidate = side_of(results)
        baseline = side_of(compare_to) if compare_to is not None else None
        self.view = View(candidate, baseline)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return snapshot(self.view)

    def __repr__(self) -> str:
        return snapshot(self.view)["text/plain"]
