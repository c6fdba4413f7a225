"""``TraceList``: the store's traces, filtered, sorted and paged from DuckDB as you scroll.

The view (``js/trace_list.js``, bundled to ``llmops_nb/static/trace_list.js``) asks
the kernel for one page of rows at a time through ``_rpc``::

    page {filters, sort: {column, descending}, offset, limit, as_of?}
      -> {rows, total, offset, limit, sort, as_of, elapsed_ms}

Two parameterized queries per page: the rows (``ORDER BY ... LIMIT ? OFFSET ?``,
a tie-break on ``trace_id`` so pages never overlap) and ``count(*)`` under the
same filters, counted once per pinned list. ``as_of`` (epoch ns as a string: JSON numbers lose precision past
2**53) pins the list while the user scrolls: traces that start later stay out
until the view refreshes, so offsets do not shift under new traces. A row
click opens that trace in the explorer inside the same view, so the widget also
answers the explorer's methods (``skeleton``, ``span``, ``search``).

Traitlets hold the view state only (filters, sort, the open trace and its
explorer state); rows are never synced.

>>> from llmops_nb.widgets._trace_list import trace_list
>>> trace_list(status="ERROR", since="2026-11-01")  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import difflib
import html
import json
import math
import threading
import time
from pathlib import Path
from typing import Any

import anywidget
import traitlets

from ..store._connection import get_store
from ..store._queries import _STATUSES, _epoch_ns, _escape_like, _json_path
from ._explorer import explorer_methods
from ._rpc import Methods, RpcServer, attach

__all__ = ["FILTERS", "SORT_COLUMNS", "TraceList", "TraceListSnapshot", "normalize_filters", "page", "trace_list",
           "trace_list_methods"]

STATIC = Path(__file__).resolve().parent.parent / "static"
ESM = STATIC / "trace_list.js"
CSS = STATIC / "trace_list.css"

PAGE_SIZE = 100
MAX_LIMIT = 1000
MAX_FILTER_CHARS = 1000
SNAPSHOT_ROWS = 50
#: Before a first page (new filters, sort, or a refresh) the recorder is flushed for at most this long,
#: so traces that just ended are listed.
FLUSH_S = 2.0

FILTERS = ("name", "tags", "status", "model", "session", "since", "until", "text")

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


# ----------------------------------------------------------------------------------------- filters

def normalize_filters(filters: Any) -> dict[str, Any]:
    """Check a filter dict and return its canonical form (empty values dropped, tags a dict,
    status upper-case, times as ISO strings). Raises ``ValueError`` naming the bad value."""
    if filters is None:
        return {}
    if not isinstance(filters, dict):
        raise ValueError(f"filters must be an object of {', '.join(FILTERS)}; got {type(filters).__name__}.")
    unknown = [key for key in filters if key not in FILTERS]
    if unknown:
        key = str(unknown[0])
        close = difflib.get_close_matches(key, FILTERS, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ValueError(f"unknown filter {key!r}: {hint}check the spelling. Filters: {', '.join(FILTERS)}.")
    out: dict[str, Any] = {}
    for key in ("name", "model", "session", "text"):
        value = filters.get(key)
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            raise ValueError(f"filter {key!r} must be a string, got {type(value).__name__} {value!r}.")
        if len(value) > MAX_FILTER_CHARS:
            raise ValueError(f"filter {key!r} is {len(value)} characters; at most {MAX_FILTER_CHARS}.")
        out[key] = value
    tags = _tags(filters.get("tags"))
    if tags:
        out["tags"] = tags
    status = filters.get("status")
    if status not in (None, ""):
        upper = str(status).strip().upper()
        if upper not in _STATUSES:
            raise ValueError(f"status must be one of {', '.join(_STATUSES)}; got {status!r}.")
        out["status"] = upper
    bounds = {}
    for key in ("since", "until"):
        value = filters.get(key)
        if value is None or value == "":
            continue
        if isinstance(value, str):
            value = value.strip()
        bounds[key] = _epoch_ns(value, key)
        out[key] = value if isinstance(value, str) else _iso(bounds[key])
    if len(bounds) == 2 and bounds["since"] >= bounds["until"]:
        raise ValueError(f"since ({out['since']}) must be before until ({out['until']}).")
    return {key: out[key] for key in FILTERS if key in out}


def _tags(value: Any) -> dict[str, str]:
    # a dict, a list of "KEY=VALUE", or one string of them separated by commas (the view's text box)
    if value is None or value == "":
        return {}
    if isinstance(value, dict):
        items = list(value.items())
    else:
        words = [w.strip() for w in value.split(",")] if isinstance(value, str) else value
        if not isinstance(words, (list, tuple)):
            raise ValueError(f"tags must be KEY=VALUE text, a list of them, or a dict; got {value!r}.")
        items = []
        for word in words:
            if word == "" and isinstance(value, str):
                continue
            key, sep, val = str(word).partition("=")
            if not sep or not key.strip():
                raise ValueError(f"bad tag filter {word!r}: write KEY=VALUE, e.g. env=dev (several: env=dev, team=x).")
            items.append((key.strip(), val.strip()))
    tags = {}
    for key, val in items:
        if not isinstance(key, str) or not key or not isinstance(val, str):
            raise ValueError(f"tag filters map text keys to text values; got {key!r}: {val!r}.")
        tags[key] = val
    return tags


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


# ----------------------------------------------------------------------------------------- paging

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


def page(params: dict[str, Any]) -> dict[str, Any]:
    """One page of the list: ``{filters, sort: {column, descending}, offset, limit, as_of?}`` →
    ``{rows, total, offset, limit, sort, as_of, elapsed_ms}``. Bad input raises ``ValueError``."""
    start = time.perf_counter()
    if not isinstance(params, dict):
        raise ValueError(f"page params must be an object, got {type(params).__name__}.")
    extra = sorted(set(params) - {"filters", "sort", "offset", "limit", "as_of"})
    if extra:
        raise ValueError(f"unknown page parameter(s) {', '.join(map(repr, extra))}; "
                         "page takes filters, sort, offset, limit, as_of.")
    filters = normalize_filters(params.get("filters"))
    column, descending = _sort(params.get("sort"))
    offset = _int(params.get("offset", 0), "offset", 0, None)
    limit = _int(params.get("limit", PAGE_SIZE), "limit", 1, MAX_LIMIT)
    as_of = params.get("as_of")
    if as_of is not None and (not isinstance(as_of, str) or not as_of.isdigit() or len(as_of) > 20):
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


def _sort(sort: Any) -> tuple[str, bool]:
    if sort is None:
        return "start_time", True
    if not isinstance(sort, dict) or set(sort) - {"column", "descending"}:
        raise ValueError(f"sort must be {{'column': ..., 'descending': true|false}}; got {sort!r}.")
    column = sort.get("column", "start_time")
    if column not in SORT_COLUMNS:
        close = difflib.get_close_matches(str(column), SORT_COLUMNS, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ValueError(f"cannot sort by {column!r}: {hint}columns: {', '.join(SORT_COLUMNS)}.")
    descending = sort.get("descending", True)
    if not isinstance(descending, bool):
        raise ValueError(f"sort.descending must be true or false, got {descending!r}.")
    return column, descending


def _int(value: Any, label: str, low: int, high: int | None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ValueError(f"{label} must be an integer {bound}; got {value!r}.")
    return value


def _flush() -> None:
    from .._safety import log_once
    from ..tracing import flush

    try:
        flush(timeout=FLUSH_S)
    except Exception as exc:  # noqa: BLE001 - a list without the newest trace beats no list
        log_once("widgets.trace_list.flush", exc)


def _row(r: tuple[Any, ...]) -> dict[str, Any]:
    row = dict(zip(_ROW_FIELDS, r, strict=True))
    start_ns, end_ns = row.pop("start_ns"), row.pop("end_ns")
    row["start_time"] = _iso(start_ns)
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


def _iso(ns: int | None) -> str | None:
    if ns is None:
        return None
    return dt.datetime.fromtimestamp(ns / 1e9, tz=dt.timezone.utc).isoformat(timespec="milliseconds")


# ----------------------------------------------------------------------------------------- snapshot

def describe_filters(filters: dict[str, Any]) -> str:
    """``name = 'rag', tag env = 'dev', status ERROR`` (or ``all traces``)."""
    parts = []
    for key in FILTERS:
        if key not in filters:
            continue
        value = filters[key]
        if key == "tags":
            parts += [f"tag {k} = {v!r}" for k, v in value.items()]
        elif key == "status":
            parts.append(f"status {value}")
        elif key in ("since", "until"):
            parts.append(f"{'started at or after' if key == 'since' else 'started before'} {value}")
        elif key == "text":
            parts.append(f"text contains {value!r}")
        elif key == "model":
            parts.append(f"a span of model {value!r}")
        else:
            parts.append(f"{key} = {value!r}")
    return ", ".join(parts) if parts else "all traces"


def _sort_text(column: str, descending: bool) -> str:
    label = _SORT_LABELS.get(column, column)
    if column == "start_time":
        return "newest first" if descending else "oldest first"
    return f"by {label}, {'descending' if descending else 'ascending'}"


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
        row["name"] or "",
        shown,
        number(row["span_count"]),
        number(row["llm_calls"]),
        number(row["tokens"]),
        "" if row["cost_usd"] is None else f"${row['cost_usd']:.4f}",
        row["status"],
        row["trace_id"],
    ]


_HEADERS = ("Start (UTC)", "Name", "Duration", "Spans", "LLM calls", "Tokens", "Cost", "Status", "Trace id")


def snapshot(filters: dict[str, Any], sort: tuple[str, bool] = ("start_time", True),
             rows: int = SNAPSHOT_ROWS) -> dict[str, str]:
    """``text/html`` (a plain, script-free table of the first ``rows`` traces, filter stated) and
    ``text/plain`` for a list; never raises (a store error becomes the message)."""
    filters = normalize_filters(filters)
    stated = describe_filters(filters)
    try:
        data = page({"filters": filters, "sort": {"column": sort[0], "descending": sort[1]}, "limit": rows})
    except Exception as exc:  # noqa: BLE001 - a display must not fail the cell
        message = f"Traces ({stated}) could not be read: {type(exc).__name__}: {exc}"
        return {"text/plain": message, "text/html": f"<p>{html.escape(message, quote=True)}</p>"}
    shown, total = data["rows"], data["total"]
    order = _sort_text(*sort)
    head = f"{total:,} trace{'s' if total != 1 else ''} in the llmops_nb store matching: {stated}; {order}."
    more = f" The first {len(shown)} are listed; run the notebook to browse them all." if total > len(shown) else ""
    esc = lambda s: html.escape(str(s), quote=True)  # noqa: E731
    body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in _cells(r)) + "</tr>\n" for r in shown)
    table = ("<table>\n<thead><tr>" + "".join(f"<th>{h}</th>" for h in _HEADERS) + "</tr></thead>\n<tbody>\n"
             + body + "</tbody>\n</table>") if shown else ""
    html_text = f"<div class=\"llmops-nb-trace-list\">\n<p>{esc(head + more)}</p>\n{table}\n</div>"
    lines = [f"TraceList: {head}"]
    for r in shown[:10]:
        c = _cells(r)
        lines.append(f"  {c[0][:23]:<23}  {_clip(c[1], 28):<28}  {c[2]:>10}  {c[7]:<11}  {c[8]}")
    if total > min(len(shown), 10):
        lines.append(f"  … {total - min(len(shown), 10):,} more")
    return {"text/plain": "\n".join(lines), "text/html": html_text}


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


# ----------------------------------------------------------------------------------------- widget

def bundle_available() -> bool:
    return ESM.is_file() and CSS.is_file()


#: What the list's view asks: ``page``, and the explorer's methods for the trace it opens.
trace_list_methods = explorer_methods.extend(Methods({"page": page}))


class TraceList(anywidget.AnyWidget):
    """The store's traces as a list: filter, sort, scroll; click a trace to explore it.

    >>> from llmops_nb.widgets._trace_list import TraceList
    >>> TraceList(filters={"status": "ERROR", "tags": {"env": "dev"}})  # doctest: +SKIP
    """

    if bundle_available():
        _esm = ESM
        _css = CSS

    filters = traitlets.Dict().tag(sync=True)
    sort_by = traitlets.Unicode("start_time").tag(sync=True)
    sort_desc = traitlets.Bool(True).tag(sync=True)
    height = traitlets.Int(520).tag(sync=True)
    # The trace opened in the explorer (None: the list shows), and that explorer's state under
    # the names TraceExplorer uses, so the view can hand this model to the explorer as is.
    trace_id = traitlets.Unicode(None, allow_none=True).tag(sync=True)
    selected_span_id = traitlets.Unicode(None, allow_none=True).tag(sync=True)
    collapsed_span_ids = traitlets.List(traitlets.Unicode()).tag(sync=True)
    search_text = traitlets.Unicode("").tag(sync=True)

    def __init__(self, filters: dict[str, Any] | None = None, *, sort_by: str = "start_time",
                 sort_desc: bool = True, height: int = 520, **kwargs: Any) -> None:
        if not bundle_available():
            raise RuntimeError(
                f"llmops_nb's widget bundle is missing ({ESM}). It is built when the package is installed; "
                "or build it by hand: cd js && npm ci && npm run build."
            )
        unknown = sorted(set(kwargs) - {"trace_id", "selected_span_id", "collapsed_span_ids", "search_text"})
        if unknown:
            raise TypeError(f"TraceList() got unexpected keyword argument(s) {', '.join(map(repr, unknown))}; "
                            "check the spelling. It takes: filters, sort_by, sort_desc, height, trace_id, "
                            "selected_span_id, collapsed_span_ids, search_text.")
        _sort({"column": sort_by, "descending": sort_desc})
        if not 200 <= int(height) <= 4000:
            raise ValueError(f"height is in pixels, between 200 and 4000; got {height!r}.")
        super().__init__(filters=normalize_filters(filters), sort_by=sort_by, sort_desc=sort_desc,
                         height=int(height), **kwargs)
        self._rpc: RpcServer = attach(self, trace_list_methods)

    def _repr_mimebundle_(self, **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]] | None:
        # the widget where widgets run; elsewhere a plain table of the first rows and a text summary
        shown = super()._repr_mimebundle_(**kwargs)
        if shown is None:
            return None
        data, metadata = shown
        return {**data, **self.snapshot()}, metadata

    def snapshot(self) -> dict[str, str]:
        """The script-free ``text/html`` table and ``text/plain`` summary of the current list."""
        try:
            filters = normalize_filters(self.filters)
        except ValueError as exc:
            return {"text/plain": f"TraceList: bad filters ({exc})", "text/html": f"<p>{html.escape(str(exc))}</p>"}
        return snapshot(filters, (self.sort_by, self.sort_desc))

    def __repr__(self) -> str:
        return f"TraceList(filters={dict(self.filters)!r}, sort_by={self.sort_by!r}, sort_desc={self.sort_desc!r})"


class TraceListSnapshot:
    """What ``trace_list()`` returns where no widget can show (a terminal, a missing JS bundle):
    the same table as static HTML and text."""

    def __init__(self, filters: dict[str, Any]) -> None:
        self.filters = normalize_filters(filters)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return snapshot(self.filters)

    def __repr__(self) -> str:
        return snapshot(self.filters)["text/plain"]


def trace_list(*, widget: bool | None = None, **filters: Any) -> Any:
    """A browsable list of the store's traces, newest first.

    Filters: ``name`` (``*``/``?`` wildcards), ``tags`` (``{"env": "dev"}`` or ``"env=dev, team=x"``;
    all must match), ``status`` (OK, ERROR, IN_PROGRESS), ``model`` (traces with a span of that
    model), ``session``, ``since``/``until`` (ISO text, datetime, or a timedelta meaning "ago"),
    ``text`` (in names, inputs, outputs and errors). ``widget=None`` makes the interactive
    ``TraceList`` inside a Jupyter kernel and a static table elsewhere.

    >>> import llmops_nb
    >>> llmops_nb.widgets.trace_list(status="ERROR", tags={"env": "dev"})  # doctest: +SKIP
    """
    if "tag" in filters and "tags" not in filters:
        filters["tags"] = filters.pop("tag")
    filters = normalize_filters(filters)
    from .._safety import log_once

    want = widget if widget is not None else _in_kernel()
    if want:
        if bundle_available():
            return TraceList(filters)
        log_once("widgets.trace_list_bundle", message="llmops_nb: the trace list's JS bundle is missing "
                 f"({ESM}); showing a static table. Build it: cd js && npm ci && npm run build")
    return TraceListSnapshot(filters)


def _in_kernel() -> bool:
    from . import _in_kernel as in_kernel

    return in_kernel()
