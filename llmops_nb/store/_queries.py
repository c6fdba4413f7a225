"""Reading the store: ``traces()``, ``spans()``, ``sql()`` — pandas DataFrames, parameterized SQL."""

from __future__ import annotations

import json
import math
from typing import Any

from ._connection import get_store
from ._time import epoch_ns, instant

_TRACE_COLUMNS = """
SELECT trace_id, name,
       make_timestamp(start_ns // 1000) AS start_time,
       CASE WHEN end_ns IS NULL THEN NULL ELSE (end_ns - start_ns) / 1e6 END AS duration_ms,
       COALESCE(status, 'IN_PROGRESS') AS status,
       span_count, llm_calls, input_tokens, output_tokens, cost_usd, error_count, dropped_spans,
       tags, session, cell, request_preview, response_preview, error_message
"""
_TRACE_SELECT = _TRACE_COLUMNS + "FROM traces\n"

_SPAN_SELECT = """
SELECT trace_id, span_id, parent_span_id, name, kind,
       make_timestamp(start_ns // 1000) AS start_time,
       (end_ns - start_ns) / 1e6 AS duration_ms,
       status, status_message, error, inputs, outputs, attributes, events,
       model, input_tokens, output_tokens, cost_usd, start_ns, end_ns
FROM spans
"""
_JSON_TRACE_COLUMNS = ("tags", "cell")
_JSON_SPAN_COLUMNS = ("error", "inputs", "outputs", "attributes", "events")
_STATUSES = ("OK", "ERROR", "IN_PROGRESS")


def _no_prompt_filter(prompt: Any) -> tuple[str, list[Any]]:
    raise RuntimeError("traces(prompt=...) needs the prompt registry: import llmops_nb first.")


#: ``prompt -> (WHERE clause, params)``: the prompt registry's, installed by ``_runtime.install``
#: (the store sits below prompts and must not import it)
_prompt_filter: list[Any] = [_no_prompt_filter]


def set_prompt_filter(build: Any) -> None:
    _prompt_filter[0] = build


#: how long a read waits for this process's ended spans to be written first
READ_FLUSH_S = 5.0


def _reading() -> Any:
    """The store's connection, after this process's ended spans are written: a trace that just ended is in
    ``traces()`` in the very next cell, not one flush interval later (an idle flush costs ~60 µs). Not when
    this process already holds the store (a read nested in a block): the writer would wait for that block."""
    store = get_store()
    if not store.held_by_this_thread():
        from ..tracing import flush

        flush(READ_FLUSH_S)
    return store.connect()


def sql(query: str, params: list[Any] | dict[str, Any] | None = None) -> Any:
    """Run SQL on the store and return a pandas DataFrame. Use ``?`` or ``$name`` placeholders.

    >>> import llmops_nb
    >>> llmops_nb.sql("SELECT kind, count(*) FROM spans WHERE trace_id = ? GROUP BY kind", [tid])  # doctest: +SKIP
    """
    if not isinstance(query, str) or not query.strip():
        raise ValueError("sql() needs a SQL string, e.g. llmops_nb.sql('SELECT * FROM traces LIMIT 5').")
    with _reading() as con:
        return con.execute(query, params).df() if params is not None else con.execute(query).df()


def traces(*, name: str | None = None, tag: str | dict[str, str] | list[str] | None = None,
           status: str | None = None, since: Any = None, until: Any = None, text: str | None = None,
           session: str | None = None, prompt: Any = None, limit: int | None = 100, offset: int = 0,
           as_of: Any = None) -> Any:
    """The store's traces, newest first, as a pandas DataFrame.

    Filters: ``name`` (exact, unless it holds ``*`` or ``?``: then a glob, where ``[*]``, ``[?]``
    and ``[[]`` — or ``\\*``, ``\\?`` — match those characters literally), ``tag`` (``"env=dev"``,
    ``{"env": "dev"}`` or a list; all must match), ``status`` (OK, ERROR, IN_PROGRESS),
    ``since``/``until`` (datetime, ISO string, or a ``timedelta`` meaning "this long ago"),
    ``text`` (case-insensitive, in names, inputs and outputs of every span), ``session``,
    ``prompt`` (``"qa"`` any version, ``"qa@3"``/``"qa/3"``/``"prompts:/qa/3"`` that version,
    ``"qa@production"`` the version the alias points to now, or a ``PromptVersion``: traces
    with any span that loaded or formatted it).

    ``as_of`` (a team store on DuckLake only; a time as for ``since``): the traces as the store held
    them then — before a colleague's runs landed, or to reproduce a dashboard. History goes back as
    far as ``llmops_nb.store.maintain(keep=...)`` keeps it (7 days by default).

    >>> import llmops_nb
    >>> llmops_nb.traces(tag="env=dev", status="ERROR", since="2026-11-01")  # doctest: +SKIP
    """
    where: list[str] = []
    params: list[Any] = []
    if name is not None:
        where.append("name GLOB ?" if _is_glob(name) else "name = ?")
        params.append(name)
    for key, value in _tags(tag).items():
        where.append("json_extract_string(tags, ?) = ?")
        params += [_json_path(key), value]
    if status is not None:
        upper = str(status).upper()
        if upper not in _STATUSES:
            raise ValueError(f"status must be one of {', '.join(_STATUSES)}; got {status!r}.")
        where.append("COALESCE(status, 'IN_PROGRESS') = ?")
        params.append(upper)
    if since is not None:
        where.append("start_ns >= ?")
        params.append(epoch_ns(since, "since"))
    if until is not None:
        where.append("start_ns < ?")
        params.append(epoch_ns(until, "until"))
    if session is not None:
        where.append("session = ?")
        params.append(session)
    if prompt is not None:
        clause, clause_params = _prompt_filter[0](prompt)
        where.append(clause)
        params += clause_params
    if text:
        # ESCAPE only when needed: it takes DuckDB off its fast substring path (~2x slower scans).
        needs_escape = any(ch in text for ch in "%_\\")
        pattern = f"%{_escape_like(text) if needs_escape else text}%"
        like = "ILIKE ? ESCAPE '\\'" if needs_escape else "ILIKE ?"
        where.append(
            f"(name {like} OR trace_id IN (SELECT trace_id FROM spans WHERE name {like} "
            f"OR inputs {like} OR outputs {like} OR status_message {like}))"
        )
        params += [pattern] * 5
    clause = " WHERE " + " AND ".join(where) if where else ""
    with _connect(as_of) as con:
        if limit is not None and not get_store().supports_upsert:
            # the columns the filters read (a lake aggregates each per trace: only those it needs)
            used = {"name": name is not None or bool(text), "tags": tag is not None, "status": status is not None,
                    "session": session is not None}
            filtered = tuple(column for column, needed in used.items() if needed)
            frame = _lake_page(con, clause, params, int(limit), int(offset), filtered=filtered)
        else:
            query = _TRACE_SELECT + clause + " ORDER BY start_ns DESC, trace_id"
            if limit is not None:
                query += " LIMIT ? OFFSET ?"
                params += [int(limit), int(offset)]
            frame = con.execute(query, params).df()
    return _parse_json_columns(frame, _JSON_TRACE_COLUMNS)


def _lake_page(con: Any, clause: str, params: list[Any], limit: int, offset: int, *,
               filtered: tuple[str, ...]) -> Any:
    """One page of ``traces()`` on a lake, in two steps.

    The lake's ``traces`` is a view aggregating every part of every trace (``_lake_schema.py``), and
    DuckDB filters and sorts only after aggregating all of them, wide columns included. So first
    the page's trace ids, from an aggregate of the columns the order and ``filtered`` use; then the
    whole rows of just those traces, from their parts alone: their parts start no earlier than the
    page's oldest trace (a trace's spans start after it), a bound that skips older row groups —
    written as a literal (an int from the store), because DuckDB 1.5.5 pushes no prepared
    parameter into a DuckLake scan. Measured at 1M spans after maintenance: 35 → 30 ms; with
    many small commits not yet merged, 209 → 163 ms.
    """
    from ._lake_schema import traces_select

    narrow = traces_select(columns=("start_ns", *filtered))
    rows = con.execute(f"SELECT trace_id, start_ns FROM ({narrow}){clause} ORDER BY start_ns DESC, trace_id "
                       "LIMIT ? OFFSET ?", [*params, limit, offset]).fetchall()
    if not rows:
        return con.execute(_TRACE_SELECT + " LIMIT 0").df()
    starts = [int(start) for _, start in rows if start is not None]
    bound = f" AND (start_ns >= {min(starts)} OR start_ns IS NULL)" if starts else ""
    parts = f"(SELECT * FROM trace_parts WHERE trace_id IN ({', '.join('?' * len(rows))}){bound})"
    query = f"{_TRACE_COLUMNS}FROM ({traces_select(parts)}) ORDER BY start_ns DESC, trace_id"
    return con.execute(query, [trace_id for trace_id, _ in rows]).df()


def spans(trace_id: str, *, parse_json: bool = True, as_of: Any = None) -> Any:
    """Every span of one trace, in start order, as a pandas DataFrame (JSON columns parsed).
    ``as_of``: as the store held them at that time (a team store on DuckLake only; see ``traces``).

    >>> import llmops_nb
    >>> llmops_nb.spans(llmops_nb.traces().trace_id[0])  # doctest: +SKIP
    """
    trace_id = _check_trace_id(trace_id)
    with _connect(as_of) as con:
        where, params = trace_spans_filter(con, trace_id)
        frame = con.execute(f"{_SPAN_SELECT} WHERE {where} ORDER BY start_ns, span_id", params).df()
    return _parse_json_columns(frame, _JSON_SPAN_COLUMNS) if parse_json else frame


def _connect(as_of: Any) -> Any:
    """The store's connection, or one reading the lake as it was at ``as_of``."""
    if as_of is None:
        return _reading()
    store = get_store()
    moment = instant(as_of, "as_of")
    connect_as_of = getattr(store, "connect_as_of", None)
    if connect_as_of is None:
        raise ValueError("as_of needs a team store on DuckLake, which keeps every commit as a snapshot; a DuckDB "
                         "file keeps no history. Drop as_of, or configure(db='ducklake:postgres:...').")
    return connect_as_of(moment)


#: how far a span may start outside its trace's [start, end] (clocks of other processes and machines)
CLOCK_SLACK_NS = 60 * 10**9


def trace_spans_filter(con: Any, trace_id: str) -> tuple[str, list[Any]]:
    """A WHERE clause selecting one trace's spans that DuckDB answers without scanning every span.

    ``trace_id`` values are random, so DuckDB's per-row-group min/max cannot skip anything on them;
    ``start_ns`` grows with time, so it can. The trace's time range comes from its ``traces`` row
    (a primary-key lookup), widened by CLOCK_SLACK_NS. Measured on 1M spans: 3.3 ms → 1.3 ms.
    """
    if not get_store().supports_upsert:
        # A lake's traces row is an aggregate, not a key lookup: asking it costs more (~13 ms at 1M
        # spans) than the range saves. Merged files' small row groups (_maintain.py) keep the scan short.
        return "trace_id = ?", [trace_id]
    row = con.execute("SELECT start_ns, end_ns FROM traces WHERE trace_id = ?", [trace_id]).fetchone()
    if row is None or row[0] is None:
        return "trace_id = ?", [trace_id]
    start, end = row
    if end is None:  # still running: its spans start after its start, end unknown
        return "trace_id = ? AND start_ns >= ?", [trace_id, start - CLOCK_SLACK_NS]
    return "trace_id = ? AND start_ns BETWEEN ? AND ?", [trace_id, start - CLOCK_SLACK_NS, end + CLOCK_SLACK_NS]


def trace_row(trace_id: str) -> dict[str, Any] | None:
    trace_id = _check_trace_id(trace_id)
    with _reading() as con:
        frame = con.execute(_TRACE_SELECT + " WHERE trace_id = ?", [trace_id]).df()
    if frame.empty:
        return None
    row: dict[str, Any] = _parse_json_columns(frame, _JSON_TRACE_COLUMNS).iloc[0].to_dict()
    return row


def _check_trace_id(trace_id: Any) -> str:
    value = getattr(trace_id, "trace_id", trace_id)
    if not isinstance(value, str) or len(value) != 32 or any(ch not in "0123456789abcdef" for ch in value):
        raise ValueError(f"Expected a trace id of 32 lowercase hex characters, got {trace_id!r}. "
                         "Take one from llmops_nb.traces().trace_id.")
    return value


def _tags(tag: Any) -> dict[str, str]:
    if tag is None:
        return {}
    if isinstance(tag, dict):
        return {str(k): str(v) for k, v in tag.items()}
    items = [tag] if isinstance(tag, str) else list(tag)
    parsed = {}
    for item in items:
        key, sep, value = str(item).partition("=")
        if not sep or not key:
            raise ValueError(f"Bad tag filter {item!r}: write 'KEY=VALUE', e.g. tag='env=dev'.")
        parsed[key] = value
    return parsed


def _json_path(key: str) -> str:
    return '$."' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _is_glob(name: str) -> bool:
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, got {name!r}.")
    if "*" not in name and "?" not in name:
        return False
    depth = 0
    escaped = False
    for ch in name:
        if escaped:
            escaped = False
        elif ch == "\\" and not depth:
            escaped = True
        elif ch == "[" and not depth:
            depth = 1
        elif ch == "]" and depth:
            depth = 0
    if depth:
        raise ValueError(f"name={name!r} has a '[' that is never closed; in a pattern, write [[] for a literal '['.")
    return True


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _parse_json_columns(frame: Any, columns: tuple[str, ...]) -> Any:
    import pandas as pd

    for column in columns:
        if column in frame.columns:
            # object dtype: a column of 3 and None must stay 3 and None, not 3.0 and NaN
            frame[column] = pd.Series([_loads(v) for v in frame[column]], index=frame.index, dtype=object)
    return frame


def _loads(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    try:
        return json.loads(value)
    except (TypeError, ValueError):
        return value
