"""One page of the trace list from DuckDB: ``page(filters, sort, offset, limit, as_of)``.

Three parameterized queries per page: the rows (``ORDER BY ... LIMIT ? OFFSET ?``, a tie-break on
``trace_id`` so pages never overlap); what only the spans and the eval runs know about those rows
(their LLM models, the eval run's name and row), looked up for the page's ids only; and the counts
under the same filters (listed traces, and evaluation traces), counted once per pinned list.

Evaluation traces (``evaluate()`` tags each row's trace ``llmops_nb.eval_run=<run id>``) are left
out unless the filters ask for them (``evals``) or for one run (``eval_run``): they would bury the
app's own traces. ``as_of`` (epoch ns as a string: JSON numbers lose precision past 2**53) pins the
list while the user scrolls: traces that start later stay out until the view refreshes, so
offsets do not shift under new traces. Sort keys map to our own SQL, never the client's text.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from typing import Annotated, Any

from ..._errors import did_you_mean
from ...store._connection import get_store
from ...store._queries import _escape_like, _json_path
from ...store._time import epoch_ns
from .._params import check_range
from ._filters import iso, normalize_filters

PAGE_SIZE = 100
MAX_LIMIT = 1000
#: Before a first page (new filters, sort, or a refresh) the recorder is flushed for at most this long,
#: so traces that just ended are listed.
FLUSH_S = 2.0

# Sort keys the view may send, each mapped to our own SQL expression (never the client's text).
SORT_COLUMNS = {
    "start_time": "start_ns",
    "name": "name",
    "duration": "(end_ns - start_ns)",
    "spans": "span_count",
    "llm_calls": "llm_calls",
    "tokens": "(input_tokens + output_tokens)",
    "cost": "cost_usd",
    "status": "COALESCE(status, 'IN_PROGRESS')",
    "session": "session",
}
_SORT_LABELS = {"start_time": "start time", "llm_calls": "LLM calls"}

_ROW_SQL = """
SELECT trace_id, name, start_ns, end_ns, COALESCE(status, 'IN_PROGRESS'), span_count, llm_calls, error_count,
       input_tokens, output_tokens, cost_usd, tags, session, left(error_message, 300), request_preview,
       response_preview
FROM traces
"""
_ROW_FIELDS = ("trace_id", "name", "start_ns", "end_ns", "status", "span_count", "llm_calls", "error_count",
               "input_tokens", "output_tokens", "cost_usd", "tags", "session", "error_message", "request",
               "response")

#: The tag evaluate() puts on each row's trace, its value the run id.
EVAL_TAG = "llmops_nb.eval_run"
_EVAL_RUN = f"json_extract_string(tags, '{_json_path(EVAL_TAG)}')"
# The tag's key with its quotes, as text: a key, or (never in practice) a value that is exactly the tag's
# name; inside a value, JSON escapes the quotes. A plain LIKE costs 1 ms on 100k traces where parsing
# the JSON costs 4, and only `x NOT LIKE y` (not `NOT (...)`, `contains`, a CASE) keeps DuckDB's plan
# for a model filter at 11 ms instead of 26.
_PATTERN = f"'%\"{EVAL_TAG}\"%'"
IS_EVAL = f"coalesce(tags, '') LIKE {_PATTERN}"
NOT_EVAL = f"coalesce(tags, '') NOT LIKE {_PATTERN}"

# For the page's ids only: the models of their LLM spans. The time bounds let DuckDB skip row groups
# of spans far from the page (a newest-first page reads one, not all); SKEW_NS of slack keeps spans
# from a clock that runs a little off. The model and kind filters are pushed into the scan, so only
# LLM spans' trace ids are read (6 ms instead of 13 on 500k spans when no row group can be skipped).
SKEW_NS = 60 * 10**9
_MODELS_SQL = """
SELECT trace_id, list(DISTINCT model ORDER BY model)
FROM spans
WHERE model IS NOT NULL AND kind IN ('LLM', 'CHAT_MODEL') AND start_ns >= ? AND start_ns <= ?
  AND trace_id IN (SELECT unnest(?::VARCHAR[]))
GROUP BY trace_id
"""
# An evaluation trace's row: its root's attribute, there from the start (eval_results gets the row
# when it is finished); the run's name from eval_runs.
_EVAL_ROWS_SQL = """
SELECT trace_id, TRY_CAST(json_extract_string(attributes, '$."llmops_nb.eval.row_index"') AS INTEGER)
FROM spans WHERE parent_span_id IS NULL AND trace_id IN (SELECT unnest(?::VARCHAR[]))
"""
_RUN_NAMES_SQL = "SELECT run_id, name FROM eval_runs WHERE run_id IN (SELECT unnest(?::VARCHAR[]))"

AsOf = Annotated[str | None, "the epoch-nanosecond string a previous page returned, or null"]


def _where(filters: dict[str, Any], as_of_ns: int | None) -> tuple[str, list[Any]]:
    where: list[str] = []
    params: list[Any] = []
    if "name" in filters:
        where.append("name GLOB ?" if any(ch in filters["name"] for ch in "*?[") else "name = ?")
        params.append(filters["name"])
    for key, value in filters.get("tags", {}).items():
        where.append("json_extract_string(tags, ?) = ?")
        params += [_json_path(key), value]
    if "status" in filters:
        where.append("COALESCE(status, 'IN_PROGRESS') = ?")
        params.append(filters["status"])
    if "model" in filters:
        op = "GLOB" if any(ch in filters["model"] for ch in "*?[") else "="
        where.append(f"trace_id IN (SELECT trace_id FROM spans WHERE model {op} ?)")
        params.append(filters["model"])
    if "session" in filters:
        where.append("session = ?")
        params.append(filters["session"])
    if "eval_run" in filters:
        # a run id, or a run's name (every run of that name)
        where.append(f"{IS_EVAL} AND {_EVAL_RUN} IN (SELECT run_id FROM eval_runs WHERE run_id = ? OR name = ?)")
        params += [filters["eval_run"]] * 2
    if "since" in filters:
        where.append("start_ns >= ?")
        params.append(epoch_ns(filters["since"], "since"))
    if "until" in filters:
        where.append("start_ns < ?")
        params.append(epoch_ns(filters["until"], "until"))
    if as_of_ns is not None:
        where.append("start_ns <= ?")
        params.append(as_of_ns)
    if "text" in filters:
        text = filters["text"]
        # payloads are JSON text: a quote or newline in them is stored escaped, so look for that too
        patterns = [f"%{_escape_like(v)}%" for v in dict.fromkeys([text, json.dumps(text, ensure_ascii=False)[1:-1]])]
        span_match = " OR ".join(f"{col} ILIKE ? ESCAPE '\\'" for col in ("name", "inputs", "outputs",
                                                                             "status_message"))
        clauses = []
        for pattern in patterns:
            clauses.append(f"name ILIKE ? ESCAPE '\\' OR error_message ILIKE ? ESCAPE '\\' "
                           f"OR trace_id IN (SELECT trace_id FROM spans WHERE {span_match})")
            params += [pattern] * 6
        where.append("(" + " OR ".join(clauses) + ")")
    return (" WHERE " + " AND ".join(where)) if where else "", params


class _Counts:
    """The last few totals by query, shared by the RPC worker threads."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._items: dict[str, tuple[int, int]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> tuple[int, int] | None:
        with self._lock:
            return self._items.get(key)

    def put(self, key: str, value: tuple[int, int]) -> None:
        with self._lock:
            self._items.pop(key, None)
            self._items[key] = value
            while len(self._items) > self.size:
                self._items.pop(next(iter(self._items)))


_counts = _Counts()


def page(*, filters: dict[str, Any] | None = None, sort: dict[str, Any] | None = None, offset: int = 0,
         limit: int = PAGE_SIZE, as_of: AsOf = None) -> dict[str, Any]:
    """One page of the list → ``{rows, total, eval_total, evals_hidden, offset, limit, sort, filters, as_of,
    elapsed_ms}``. ``total`` counts the listed traces; ``eval_total`` the evaluation traces matching the
    other filters (hidden unless ``evals`` or ``eval_run`` is set). Bad input raises ``ValueError``."""
    start = time.perf_counter()
    filters = normalize_filters(filters)
    column, descending = check_sort(sort)
    check_range(offset, "offset", 0, None)
    check_range(limit, "limit", 1, MAX_LIMIT)
    if as_of is not None and (not as_of.isdigit() or len(as_of) > 20):
        raise ValueError(f"as_of is the epoch-nanosecond string a previous page returned; got {as_of!r}.")
    if as_of is None and offset == 0:
        _flush()
    direction = "DESC" if descending else "ASC"
    order = f" ORDER BY {SORT_COLUMNS[column]} {direction} NULLS LAST, trace_id {direction}"
    with get_store().connect() as con:
        if as_of is None:
            # now, or the latest start if a clock put one in the future: every trace stored so far is in
            newest = con.execute("SELECT max(start_ns) FROM traces").fetchone()[0]
            as_of_ns = max(time.time_ns(), newest or 0)
        else:
            as_of_ns = int(as_of)
        where, args = _where(filters, as_of_ns)
        hidden = evals_hidden(filters)
        listed = (where + (" AND " if where else " WHERE ") + NOT_EVAL) if hidden else where
        rows = con.execute(_ROW_SQL + listed + order + " LIMIT ? OFFSET ?", [*args, limit, offset]).fetchall()
        extra = _extra(con, rows)
        # a pinned list's counts do not change while the user scrolls: count once per (filters, as_of)
        count_key = json.dumps([str(get_store().path), filters, as_of_ns], sort_keys=True) if as_of else None
        counts = _counts.get(count_key) if count_key else None
        if counts is None:
            # one scan: the listed traces and the evaluation traces among the matches
            shown = f"count(*) FILTER (WHERE {NOT_EVAL})" if hidden else "count(*)"
            counts = con.execute(f"SELECT {shown}, count(*) FILTER (WHERE {IS_EVAL}) FROM traces" + where,
                                 args).fetchone()
    if count_key:
        _counts.put(count_key, counts)
    total, eval_total = counts
    return {
        "rows": [_row(r, extra.get(r[0])) for r in rows],
        "total": int(total),
        "eval_total": int(eval_total),
        "evals_hidden": hidden,
        "offset": offset,
        "limit": limit,
        "sort": {"column": column, "descending": descending},
        "filters": filters,
        "as_of": str(as_of_ns),
        "elapsed_ms": round((time.perf_counter() - start) * 1000, 1),
    }


def evals_hidden(filters: dict[str, Any]) -> bool:
    """Whether evaluation traces are left out: unless asked for (``evals``) or one run is (``eval_run``)."""
    return not filters.get("evals") and "eval_run" not in filters


def check_sort(sort: Any) -> tuple[str, bool]:
    if sort is None:
        return "start_time", True
    if not isinstance(sort, dict) or set(sort) - {"column", "descending"}:
        raise ValueError(f"sort must be {{'column': ..., 'descending': true|false}}; got {sort!r}.")
    column = sort.get("column", "start_time")
    if column not in SORT_COLUMNS:
        raise ValueError(f"cannot sort by {column!r}.{did_you_mean(column, SORT_COLUMNS)} "
                         f"Columns: {', '.join(SORT_COLUMNS)}.")
    descending = sort.get("descending", True)
    if not isinstance(descending, bool):
        raise ValueError(f"sort.descending must be true or false, got {descending!r}.")
    return column, descending


def _flush() -> None:
    from ..._safety import log_once
    from ...tracing import flush

    try:
        flush(timeout=FLUSH_S)
    except Exception as exc:  # noqa: BLE001 - a list without the newest trace beats no list
        log_once("widgets.trace_list.flush", exc)


def _extra(con: Any, rows: list[tuple[Any, ...]]) -> dict[str, tuple[Any, Any, dict[str, str]]]:
    """trace id → (models, eval row, {run id: run name}) for one page's rows."""
    if not rows:
        return {}
    start_at, end_at, tag_at = (_ROW_FIELDS.index(f) for f in ("start_ns", "end_ns", "tags"))
    low = min((r[start_at] for r in rows if r[start_at] is not None), default=0) - SKEW_NS
    # a running trace's spans may start until now
    high = min(max(r[end_at] if r[end_at] is not None else 2**62 for r in rows) + SKEW_NS, 2**63 - 1)
    models = dict(con.execute(_MODELS_SQL, [low, high, [r[0] for r in rows]]).fetchall())
    runs = {r[0]: run for r in rows
            if r[tag_at] and EVAL_TAG in r[tag_at] and (run := _tag_dict(r[tag_at]).get(EVAL_TAG))}
    eval_rows: dict[str, Any] = {}
    names: dict[str, str] = {}
    if runs:
        eval_rows = dict(con.execute(_EVAL_ROWS_SQL, [list(runs)]).fetchall())
        names = dict(con.execute(_RUN_NAMES_SQL, [sorted(set(runs.values()))]).fetchall())
    return {r[0]: (models.get(r[0]), eval_rows.get(r[0]), names) for r in rows}


def _row(r: tuple[Any, ...], extra: tuple[Any, Any, dict[str, str]] | None) -> dict[str, Any]:
    row = dict(zip(_ROW_FIELDS, r, strict=True))
    models, eval_row, names = extra or (None, None, {})
    start_ns, end_ns = row.pop("start_ns"), row.pop("end_ns")
    row["start_time"] = iso(start_ns)
    row["duration_ms"] = None if start_ns is None or end_ns is None else round((end_ns - start_ns) / 1e6, 3)
    row["tokens"] = (row["input_tokens"] or 0) + (row["output_tokens"] or 0)
    cost = row["cost_usd"]
    row["cost_usd"] = None if isinstance(cost, float) and not math.isfinite(cost) else cost
    tags = _tag_dict(row["tags"])
    tagged_run = tags.pop(EVAL_TAG, None)  # shown as the run's name and row, not as a raw tag
    row["tags"] = tags
    row["models"] = list(models or [])
    row["request"] = preview(row["request"])
    row["response"] = preview(row["response"])
    row["eval"] = None
    if tagged_run is not None:
        name = names.get(tagged_run) or f"eval run {tagged_run[:8]}"
        row["eval"] = {"run_id": tagged_run, "run": name, "row": eval_row,
                       "label": name if eval_row is None else f"{name} · row {eval_row}"}
    return row


def preview(text: str | None) -> str:
    """A payload preview as a person reads it: ``{"question": "Where?"}`` → ``Where?``; a chat's last
    message's content; other JSON compacted. The store cuts previews at 300 characters: from text
    that no longer parses, the last ``"content"`` string in it, else the text as stored."""
    if not text:
        return ""
    try:
        value = json.loads(text)
    except ValueError:
        contents = _CONTENT.findall(text)
        if contents:
            try:
                return " ".join(json.loads(f'"{contents[-1]}"').split())
            except ValueError:
                pass
        return " ".join(text.split())
    value = _readable(value)
    shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return " ".join(shown.split())


# a "content": "..." string, the last one possibly cut short
_CONTENT = re.compile(r'"content"\s*:\s*"((?:[^"\\]|\\.)*)(?:"|\\?$)')


def _readable(value: Any) -> Any:
    for _ in range(4):  # unwrap a few levels of one-key objects and chat shapes, no more
        if isinstance(value, dict) and isinstance(value.get("messages"), list) and value["messages"]:
            value = value["messages"][-1]
        elif isinstance(value, dict) and isinstance(value.get("choices"), list) and value["choices"]:
            value = value["choices"][0]
        elif isinstance(value, dict) and "message" in value and isinstance(value["message"], dict):
            value = value["message"]
        elif isinstance(value, dict) and "content" in value and isinstance(value["content"], str):
            value = value["content"]
        elif isinstance(value, dict) and len(value) == 1:
            value = next(iter(value.values()))
        else:
            break
    return value


def _tag_dict(text: str | None) -> dict[str, str]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def sort_text(column: str, descending: bool) -> str:
    label = _SORT_LABELS.get(column, column)
    if column == "start_time":
        return "newest first" if descending else "oldest first"
    return f"by {label}, {'descending' if descending else 'ascending'}"
