"""The trace list as script-free HTML and text: what a shared notebook shows of ``%llm_traces``.

A plain table of the first ``SNAPSHOT_ROWS`` traces with the filter and the order stated in words,
the columns of the live list (an evaluation trace named by its run and row, evaluation traces hidden
unless the filters ask for them, and how many were hidden), every string escaped
(``llmops_nb._html``); it never raises: a store error becomes the message.
"""

from __future__ import annotations

from typing import Any

from ..._format import cost
from ..._html import Markup, table, tag
from ._filters import describe_filters, normalize_filters
from ._query import page, sort_text

SNAPSHOT_ROWS = 50
_HEADERS = ("Start (UTC)", "Name", "Request", "Response", "Session", "Model", "Duration", "Spans", "LLM calls",
            "Tokens", "Cost", "Status", "Trace id")
_NAME, _DURATION, _STATUS, _TRACE_ID = 1, 6, 11, 12
PREVIEW_CHARS = 80  # of a request or response in a cell


def snapshot(filters: dict[str, Any], sort: tuple[str, bool] = ("start_time", True),
             rows: int = SNAPSHOT_ROWS) -> dict[str, str]:
    """``text/html`` (a plain, script-free table of the first ``rows`` traces, filter stated) and
    ``text/plain`` for a list. Bad filters raise ``ValueError``; a store error becomes the message."""
    filters = normalize_filters(filters)
    stated = describe_filters(filters)
    try:
        data = page(filters=filters, sort={"column": sort[0], "descending": sort[1]}, limit=rows)
    except Exception as exc:  # noqa: BLE001 - a display must not fail the cell
        message = f"Traces ({stated}) could not be read: {type(exc).__name__}: {exc}"
        return {"text/plain": message, "text/html": tag("p", message)}
    shown, total = data["rows"], data["total"]
    head = f"{total:,} trace{'s' if total != 1 else ''} in the llmops_nb store matching: {stated}; " \
           f"{sort_text(*sort)}."
    more = f" The first {len(shown)} are listed; run the notebook to browse them all." if total > len(shown) else ""
    evals = data["eval_total"]
    if data["evals_hidden"] and evals:
        more += (f" {evals:,} evaluation trace{'s are' if evals != 1 else ' is'} not listed "
                 "(%llm_traces --evals lists them).")
    listing = table(_HEADERS, (_cells(r) for r in shown)) if shown else Markup("")
    html_text = tag("div", Markup("\n"), tag("p", head + more), Markup("\n"), listing, Markup("\n"),
                    class_="llmops-nb-trace-list")
    lines = [f"TraceList: {head}"]
    for r in shown[:10]:
        c = _cells(r)
        lines.append(f"  {c[0][:23]:<23}  {_clip(c[_NAME], 28):<28}  {c[_DURATION]:>10}  {c[_STATUS]:<11}  "
                     f"{c[_TRACE_ID]}")
    if total > min(len(shown), 10):
        lines.append(f"  … {total - min(len(shown), 10):,} more")
    if data["evals_hidden"] and evals:
        lines.append(f"  ({evals:,} evaluation trace{'s' if evals != 1 else ''} not listed: %llm_traces --evals)")
    return {"text/plain": "\n".join(lines), "text/html": str(html_text)}


def _cells(row: dict[str, Any]) -> list[str]:
    def number(v: Any) -> str:
        return "" if v is None else f"{v:,}"

    duration = row["duration_ms"]
    if duration is None:
        shown = "running"
    else:
        shown = f"{duration:,.0f} ms" if duration < 10_000 else f"{duration / 1000:,.1f} s"
    return [
        (row["start_time"] or "").replace("T", " ").replace("+00:00", "Z"),
        row["eval"]["label"] if row["eval"] else row["name"] or "",
        _clip(row["request"], PREVIEW_CHARS),
        _clip(row["response"], PREVIEW_CHARS),
        row["session"] or "",
        ", ".join(row["models"]),
        shown,
        number(row["span_count"]),
        number(row["llm_calls"]),
        number(row["tokens"]),
        cost(row["cost_usd"]),
        row["status"],
        row["trace_id"],
    ]


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


class TraceListSnapshot:
    """What ``trace_list()`` returns where no widget can show (a terminal, a missing JS bundle):
    the same table as static HTML and text."""

    def __init__(self, filters: dict[str, Any]) -> None:
        self.filters = normalize_filters(filters)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return snapshot(self.filters)

    def __repr__(self) -> str:
        return snapshot(self.filters)["text/plain"]
