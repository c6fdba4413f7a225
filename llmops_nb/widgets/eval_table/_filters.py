"""The eval table's filters and sort keys: checked against the table's scorers, then turned into SQL.

Every key maps to our own SQL (a column of ``_sql``'s relation), never to the client's text.
"""

from __future__ import annotations

import json
from typing import Any

from ..._errors import did_you_mean
from ...store._queries import _escape_like
from .._params import check_filter_keys
from ._sql import View

MAX_FILTER_CHARS = 1000
FILTERS = ("text", "scorer", "result", "feedback", "errors")
RESULTS = ("pass", "fail", "error", "missing", "win", "loss", "tie")
FEEDBACK_FILTERS = ("up", "down", "any", "none")
BASE_SORTS = ("row", "latency", "tokens", "cost", "error", "feedback")


def normalize_filters(filters: Any, view: View) -> dict[str, Any]:
    """The canonical filter dict (empty values dropped); ``ValueError`` naming a bad value."""
    filters = check_filter_keys(filters, FILTERS)
    out: dict[str, Any] = {}
    text = filters.get("text")
    if text not in (None, ""):
        if not isinstance(text, str) or len(text) > MAX_FILTER_CHARS:
            raise ValueError(f"filter 'text' must be a string of at most {MAX_FILTER_CHARS} characters.")
        out["text"] = text
    scorer, result = filters.get("scorer"), filters.get("result")
    if scorer not in (None, "") or result not in (None, ""):
        if scorer in (None, "") or result in (None, ""):
            raise ValueError("filters 'scorer' and 'result' go together, e.g. {'scorer': 'correctness', "
                             "'result': 'fail'}.")
        view.scorer(scorer)
        allowed = RESULTS if view.compare else RESULTS[:4]
        if result not in allowed:
            raise ValueError(f"result must be one of {', '.join(allowed)}; got {result!r}.")
        out["scorer"], out["result"] = scorer, result
    feedback = filters.get("feedback")
    if feedback not in (None, ""):
        if feedback not in FEEDBACK_FILTERS:
            raise ValueError(f"feedback must be one of {', '.join(FEEDBACK_FILTERS)}; got {feedback!r}.")
        out["feedback"] = feedback
    errors = filters.get("errors")
    if errors not in (None, False):
        if errors is not True:
            raise ValueError(f"filter 'errors' is true (rows whose prediction failed) or absent; got {errors!r}.")
        out["errors"] = True
    return out


def where_sql(filters: dict[str, Any], view: View) -> tuple[str, list[Any]]:
    where: list[str] = []
    params: list[Any] = []
    if "text" in filters:
        text = filters["text"]
        columns = ["inputs", "outputs", "expectations", "error"] + (["base_outputs"] if view.compare else [])
        for i in (s["index"] for s in view.scorers):
            columns += [f"s{i}_r", f"s{i}_e"]
        clauses = []
        for variant in dict.fromkeys([text, json.dumps(text, ensure_ascii=False)[1:-1]]):
            pattern = f"%{_escape_like(variant)}%"
            clauses += [f"{c} ILIKE ? ESCAPE '\\'" for c in columns]
            params += [pattern] * len(columns)
        where.append("(" + " OR ".join(clauses) + ")")
    if "scorer" in filters:
        i = view.scorer(filters["scorer"])["index"]
        where.append({
            "pass": f"s{i}_p IS TRUE", "fail": f"s{i}_p IS FALSE", "error": f"s{i}_e IS NOT NULL",
            "missing": f"(s{i}_v IS NULL OR s{i}_v = 'null') AND s{i}_e IS NULL",
            "win": f"s{i}_o = 'win'", "loss": f"s{i}_o = 'loss'", "tie": f"s{i}_o = 'tie'",
        }[filters["result"]])
    if "feedback" in filters:
        where.append({"up": "fb_value = 'true'", "down": "fb_value = 'false'", "any": "fb_count > 0",
                      "none": "fb_count IS NULL"}[filters["feedback"]])
    if filters.get("errors"):
        where.append("error IS NOT NULL")
    return (" WHERE " + " AND ".join(where)) if where else "", params


def sort_keys(view: View) -> list[str]:
    keys = list(BASE_SORTS)
    if "turns" in view.columns:  # a run over conversations: the longest conversations first, or the shortest
        keys.append("turns")
    for s in view.scorers:
        keys.append(f"score:{s['name']}")
        if view.compare:
            keys.append(f"delta:{s['name']}")
    return keys


def order_by(sort: Any, view: View) -> tuple[str, str, bool]:
    if sort is None:
        sort = {}
    if not isinstance(sort, dict) or set(sort) - {"column", "descending"}:
        raise ValueError(f"sort must be {{'column': ..., 'descending': true|false}}; got {sort!r}.")
    column = sort.get("column") or "row"
    descending = sort.get("descending", False)
    if not isinstance(descending, bool):
        raise ValueError(f"sort.descending must be true or false, got {descending!r}.")
    keys = sort_keys(view)
    if column not in keys:
        raise ValueError(f"cannot sort by {column!r}.{did_you_mean(column, keys)} Columns: {', '.join(keys)}.")
    kind, _, name = column.partition(":")
    if kind == "score":
        i = view.scorer(name)["index"]
        expr = [f"s{i}_num", f"s{i}_v", f"(s{i}_e IS NOT NULL)"]
    elif kind == "delta":
        expr = [f"s{view.scorer(name)['index']}_d"]
    else:
        expr = {"row": [], "latency": ["latency_ms"], "tokens": ["(coalesce(input_tokens, 0) + "
                                                                   "coalesce(output_tokens, 0))"],
                "cost": ["cost_usd"], "error": ["(error IS NOT NULL)", "error"],
                "feedback": ["fb_value", "fb_at"], "turns": ["turns"]}[column]
    direction = "DESC" if descending else "ASC"
    order = ", ".join(f"{e} {direction} NULLS LAST" for e in expr)
    # ties keep the data's order whichever way the column sorts
    tie = f"row_index {direction}" if column == "row" else "row_index ASC"
    return column, (order + ", " if order else "") + tie, descending
