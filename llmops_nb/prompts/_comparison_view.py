"""What a ``prompts.compare()`` result displays as: the EvalTable comparing the two versions' runs.

After ``%load_ext llmops_nb`` an evaluation result shows with the renderer registered for
``_display.EVALUATION`` (the EvalTable). A comparison hands it ``comparison.table``, whose ``attrs``
name both runs, so the table opens in compare mode: version a's run the baseline, version b's the
candidate. The runs are named after their versions' URIs, so the live view's title reads
``prompts:/qa/2 compared with prompts:/qa/1``; the table's script-free snapshot names the runs by
their ids too, and here those become the URIs: a saved notebook says which prompt versions were
compared, not which hex ids. ``text/plain`` is the comparison's own: the versions, per-scorer
means and deltas, and the template diff.

Without a renderer (no ``%load_ext``, no kernel) the comparison shows as a plain script-free table
of its own (:func:`default_html`): full texts as preformatted text side by side, every string
escaped through ``llmops_nb._html``. Nothing here imports a view: prompts sit below the widgets.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from .. import _display
from .._html import Markup, escape, tag

if TYPE_CHECKING:
    from ._compare import PromptComparison

HTML_ROWS = 50  # rows in the default table; all of them are in .table
TEXT_CHARS = 2_000  # one input or output in the default table
_RED = "#cf222e"
_CELL = "vertical-align:top;text-align:left"  # JupyterLab right-aligns table cells; text reads from the left
_PRE = "white-space:pre-wrap;margin:0"


def comparison_bundle(comparison: PromptComparison) -> dict[str, Any]:
    """The mimebundle: the EvalTable's (run ids named by their URIs) with this ``text/plain``, or the
    default table when no renderer shows evaluation results. Never raises for the view's sake."""
    text = plain_text(comparison)
    chosen = _display.renderer(_display.EVALUATION)
    shown = None
    if chosen is not None:
        try:
            shown = chosen(comparison.table)
        except Exception as exc:  # noqa: BLE001 - a display must not fail the cell; the default still shows
            from .._safety import log_once

            log_once("prompts.compare_view", exc)
    if not shown:
        return {"text/plain": text, "text/html": default_html(comparison)}
    bundle = dict(shown)
    if isinstance(bundle.get("text/html"), str):
        bundle["text/html"] = named_runs(bundle["text/html"], comparison)
    bundle["text/plain"] = text
    return bundle


def named_runs(html: str, comparison: PromptComparison) -> str:
    """``html`` with each run id written as its version's URI (escaped: safe in text and in attributes)."""
    for run_id, uri in ((comparison.run_id_b, comparison.b.uri), (comparison.run_id_a, comparison.a.uri)):
        html = html.replace(run_id, escape(uri))
    return html


def title(comparison: PromptComparison) -> str:
    """``Prompt 'qa': prompts:/qa/1 (baseline) vs prompts:/qa/2 (candidate) on 2 rows``."""
    a, b, rows = comparison.a, comparison.b, len(comparison.table)
    return f"Prompt {a.name!r}: {a.uri} (baseline) vs {b.uri} (candidate) on {rows:,} row{'s' if rows != 1 else ''}"


def _facts(comparison: PromptComparison) -> list[str]:
    table = comparison.table
    facts = [f"output changed in {int(table['outputs_changed'].sum()):,}"]
    for uri, column in ((comparison.a.uri, "error/baseline"), (comparison.b.uri, "error/candidate")):
        failed = sum(isinstance(e, str) for e in table[column]) if column in table else 0
        if failed:
            facts.append(f"{failed:,} failed prediction{'s' if failed != 1 else ''} with {uri}")
    return facts


def plain_text(comparison: PromptComparison) -> str:
    summary = comparison.summary
    return "\n".join([" · ".join([title(comparison), *_facts(comparison)]),
                      summary.to_string() if len(summary) else "(no scorers)", "",
                      comparison.template_diff.unified])


def default_html(comparison: PromptComparison) -> str:
    """A script-free table: the title, per-scorer means, the template diff and the first ``HTML_ROWS`` rows."""
    nl = Markup("\n")
    parts = [tag("p", tag("strong", title(comparison)), " · " + " · ".join(_facts(comparison)))]
    if comparison.scorers:
        parts.append(_summary_table(comparison))
    parts.append(tag("details", tag("summary", "Template diff"),
                     tag("pre", comparison.template_diff.unified, style=_PRE)))
    parts.append(_rows_table(comparison))
    if len(comparison.table) > HTML_ROWS:
        parts.append(tag("p", tag("em", f"… {len(comparison.table) - HTML_ROWS:,} more rows in .table")))
    return str(tag("div", nl, nl.join(parts), nl, class_="llmops-nb-compare"))


def _summary_table(comparison: PromptComparison) -> Markup:
    a, b = comparison.a.uri, comparison.b.uri
    rows = []
    for name, counts in comparison.table.attrs.get("summary", {}).items():
        mean_a, mean_b = number(counts["mean_baseline"]), number(counts["mean_candidate"])
        delta = mean_b - mean_a
        cells = [_fmt(mean_a), _fmt(mean_b), "n/a" if math.isnan(delta) else f"{delta:+.3g}",
                 *(str(counts[k]) for k in ("win", "loss", "tie"))]
        rows.append(tag("tr", tag("th", name, scope="row", style=_CELL), *(tag("td", c, style=_CELL) for c in cells)))
    return _table(["scorer", f"mean {a}", f"mean {b}", "delta", "win", "loss", "tie"], rows)


def _rows_table(comparison: PromptComparison) -> Markup:
    table, a, b = comparison.table, comparison.a.uri, comparison.b.uri
    rows = []
    for i in range(min(len(table), HTML_ROWS)):
        row = table.iloc[i]
        before = _output(row["outputs/baseline"], row.get("error/baseline"))
        after = _output(row["outputs/candidate"], row.get("error/candidate"))
        if not row["outputs_changed"] and not isinstance(row.get("error/candidate"), str):
            after = tag("em", f"same as {a}")  # the reader compares what changed, not two equal texts
        scores = Markup("<br>").join(_score(row, n) for n in comparison.scorers)
        cells = [str(i), tag("pre", _inputs(row["inputs"]), style=_PRE), before, after, scores]
        rows.append(tag("tr", *(tag("td", c, style=_CELL) for c in cells)))
    return _table(["#", "inputs", f"output of {a}", f"output of {b}", "scores"], rows)


def _output(value: Any, error: Any) -> Markup:
    if isinstance(error, str):
        return tag("span", f"error: {error}", style=f"color:{_RED}")
    return tag("pre", _cap(_fmt(value)), style=_PRE)


def _score(row: Any, name: str) -> str:
    outcome = row[f"{name}/outcome"]
    shown = f"{name}: {_fmt(row[f'{name}/baseline'])} → {_fmt(row[f'{name}/candidate'])}"
    return shown + (f" ({outcome})" if isinstance(outcome, str) else "")


def _inputs(value: Any) -> str:
    """A row's inputs as ``name: value`` lines: what was asked, readable."""
    if isinstance(value, dict):
        return _cap("\n".join(f"{k}: {_fmt(v)}" for k, v in value.items()))
    return _cap(_fmt(value))


def _table(headers: list[str], rows: list[Markup]) -> Markup:
    nl = Markup("\n")
    head = tag("thead", tag("tr", *(tag("th", h, style=_CELL) for h in headers)))
    return tag("table", nl, head, nl, tag("tbody", nl, nl.join(rows), nl), nl)


def _cap(text: str) -> str:
    if len(text) <= TEXT_CHARS:
        return text
    return text[:TEXT_CHARS] + f" … [{len(text):,} chars; the first {TEXT_CHARS:,} shown]"


def missing(value: Any) -> bool:
    """None, NaN or pandas' NA: no value."""
    return value is None or (isinstance(value, float) and math.isnan(value)) or type(value).__name__ == "NAType"


def number(value: Any) -> float:
    """A mean as a float, NaN when there is none."""
    return math.nan if value is None else float(value)


def _fmt(value: Any) -> str:
    if missing(value):
        return "n/a"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)
