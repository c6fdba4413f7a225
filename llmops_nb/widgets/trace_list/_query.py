"""One page of the trace list from DuckDB: ``page(filters, sort, offset, limit, as_of)``.

Two parameterized queries per page: the rows (``ORDER BY ... LIMIT ? OFFSET ?``, a tie-break on
``trace_id`` so pages never overlap) and ``count(*)`` under the same filters, counted once per
pinned list. ``as_of`` (epoch ns as a string: JSON numbers lose precision past 2**53) pins the
list while the user scrolls: traces that start later stay out until the view refreshes, so
offsets do not shift under new traces. Sort keys map to our own SQL, never the client's text.
"""

from __future__ import annotations

import json
import math
import threading
import time
from typing import Annotated, Any

from ..._errors import did_you_mean
from ...store._connection import get_store
from ...store._queries import _epoch_ns, _escape_like, _json_path
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
}
_SORT_LABELS = {"start_time": "start time", "llm_calls": "LLM calls"}

_ROW_SQL = """
SELECT trace_id, name, start_ns, end_ns, COALESCE(status, 'IN_PROGRESS'), span_count, llm_calls, error_count,
       input_tokens, output_tokens, cost_usd, tags, session, left(error_message, 300)
FROM traces
"""
_ROW_FIELDS = ("trace_id", "name", "start_ns", "end_ns", "status", "span_count", "llm_calls", "error_count",
               "input_tokens", "output_tokens", "cost_usd", "tags", "session", "error_message")

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
    if "since" in filters:
        where.append("start_ns >= ?")
        params.append(_epoch_ns(filters["since"], "since"))
    if "until" in filters:
        where.append("start_ns < ?")
        params.append(_epoch_ns(filters["until"], "until"))
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
        self._items: dict[str, int] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> int | None:
        with self._lock:
            return self._items.get(key)

    def put(self, key: str, value: int) -> None:
        with self._lock:
            self._items.pop(key, None)
            self._items[key] = value
            while len(self._items) > self.size:
                self._items.pop(next(iter(self._items)))


_counts = _Counts()


def page(*, filters: dict[str, Any] | None = None, sort: dict[str, Any] | None = None, offset: int = 0,
         limit: int = PAGE_SIZE, as_of: AsOf = None) -> dict[str, Any]:
    """One page of the list → ``{rows, total, offset, limit, sort, filters, as_of, elapsed_ms}``.
    Bad input raises ``ValueError`` naming it."""
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
        rows = con.execute(_ROW_SQL + where + order + " LIMIT ? OFFSET ?", [*args, limit, offset]).fetchall()
        # a pinned list's count does not change while the user scrolls: count once per (filters, as_of)
        count_key = json.dumps([str(get_store().path), filters, as_of_ns], sort_keys=True) if as_of else None
        total = _counts.get(count_key) if count_key else None
        if total is None:
            total = con.execute("SELECT count(*) FROM traces" + where, args).fetchone()[0]
    if count_key:
        _counts.put(count_key, total)
    return {
        "rows": [_row(r) for r in rows],
        "total": int(total),
        "offset": offset,
        "limit": limit,
        "sort": {"column": column, "descending": descending},
        "filters": filters,
        "as_of": str(as_of_ns),
        "elapsed_ms": round((time.perf_counter() - start) * 1000, 1),
    }


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


def _row(r: tuple[Any, ...]) -> dict[str, Any]:
    row = dict(zip(_ROW_FIELDS, r, strict=True))
    start_ns, end_ns = row.pop("start_ns"), row.pop("end_ns")
    row["start_time"] = iso(start_ns)
    row["duration_ms"] = None if start_ns is None or end_ns is None else round((end_ns - start_ns) / 1e6, 3)
    row["tokens"] = (row["input_tokens"] or 0) + (row["output_tokens"] or 0)
    cost = row["cost_usd"]
    row["cost_usd"] = None if isinstance(cost, float) and not math.isfinite(cost) else cost
    row["tags"] = _tag_dict(row["tags"])
    return row


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
