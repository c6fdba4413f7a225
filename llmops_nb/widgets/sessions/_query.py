"""Pages of the sessions view from the store, through ``llmops_nb.agents`` only: ``page`` (sessions) and
``turns`` (one session's turns).

``page`` asks ``agents.sessions()`` for one more row than it shows: that row says whether more sessions
follow, so the list is paged without counting every session in the store (``sessions()`` gives no
count, and summing all of them is what its design avoids). ``total`` is exact once the last page is
seen (``exact``), else the rows known so far plus one, which the view's scroll area grows with.
``as_of`` pins the list while the user scrolls: later pages read the turns that started by then
(``until=``), so new turns do not shift the rows under the user; a refresh starts a new list.

``turns`` reads a session once (``agents.session()``, which has no paging) and pages the turns from
that reading: the first page reads the store and returns an ``as_of`` token, later pages with the
token are sliced from memory (a few sessions are kept). A turn's words are capped at
``TEXT_CHARS`` characters, with the full length given, so one huge answer does not flood the comm.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import threading
import time
from collections import OrderedDict
from typing import Annotated, Any

from ...store._time import epoch_ns
from .._params import check_filter_keys, check_range

PAGE_SIZE = 100
MAX_LIMIT = 1000
TURN_PAGE = 50
TEXT_CHARS = 20_000
#: what a view's filters may hold: the turns' trace name and start times, and how many sessions at most
FILTERS = ("name", "since", "until", "limit")
MAX_FILTER_CHARS = 1000
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)

AsOf = Annotated[str | None, "the epoch-nanosecond string a previous page returned, or null"]
Token = Annotated[str | None, "the as_of token the first page of turns returned, or null"]
SessionId = Annotated[str, "a session id (text)"]


def normalize_filters(filters: Any) -> dict[str, Any]:
    """A filter dict in the form the view and the query hold: ``name`` (exact or a glob), ``since`` and
    ``until`` as text (a datetime or a timedelta becomes ISO text), ``limit`` a positive integer;
    empty values dropped. Raises ``ValueError`` naming the bad value."""
    from ...store._queries import _is_glob

    filters = check_filter_keys(filters, FILTERS)
    out: dict[str, Any] = {}
    name = filters.get("name")
    if name not in (None, ""):
        if not isinstance(name, str) or len(name) > MAX_FILTER_CHARS:
            raise ValueError(f"name is a trace name (text, * and ? as wildcards), e.g. 'chat'; got {name!r}.")
        _is_glob(name)  # an unclosed [ says how to write it
        out["name"] = name
    bounds = {}
    for key in ("since", "until"):
        value = filters.get(key)
        if isinstance(value, str):
            value = value.strip()
        if value is None or value == "":
            continue
        bounds[key] = epoch_ns(value, key)
        out[key] = value if isinstance(value, str) else iso(bounds[key])
    if len(bounds) == 2 and bounds["since"] >= bounds["until"]:
        raise ValueError(f"since ({out['since']}) must be before until ({out['until']}).")
    limit = filters.get("limit")
    if limit is not None:
        check_range(limit, "limit (the most sessions listed)", 1, None)
        out["limit"] = limit
    return {key: out[key] for key in FILTERS if key in out}


def describe_filters(filters: dict[str, Any]) -> str:
    """``trace name 'chat*', turns since 2026-12-01`` (or ``all sessions``)."""
    parts = []
    if "name" in filters:
        parts.append(f"turns named {filters['name']!r}")
    if "since" in filters:
        parts.append(f"turns started at or after {filters['since']}")
    if "until" in filters:
        parts.append(f"turns started before {filters['until']}")
    if "limit" in filters:
        parts.append(f"the newest {filters['limit']:,}")
    return ", ".join(parts) if parts else "all sessions"


def page(*, filters: dict[str, Any] | None = None, offset: int = 0, limit: int = PAGE_SIZE,
         as_of: AsOf = None) -> dict[str, Any]:
    """One page of sessions, newest activity first → ``{rows, total, exact, offset, limit, filters, as_of,
    elapsed_ms}`` (see the module doc for ``total`` and ``as_of``). Bad input raises ``ValueError``."""
    from ...agents import sessions

    start = time.perf_counter()
    filters = normalize_filters(filters)
    check_range(offset, "offset", 0, None)
    check_range(limit, "limit", 1, MAX_LIMIT)
    if as_of is not None and (not as_of.isdigit() or len(as_of) > 20):
        raise ValueError(f"as_of is the epoch-nanosecond string a previous page returned; got {as_of!r}.")
    cap = filters.get("limit")
    wanted = limit if cap is None else max(0, min(limit, cap - offset))
    until_ns = epoch_ns(filters["until"], "until") if "until" in filters else None
    if as_of is not None:  # the turns that had started when the first page was read: inclusive, to the µs
        pinned = int(as_of) // 1000 * 1000 + 1000
        until_ns = pinned if until_ns is None else min(until_ns, pinned)
    # one row more than the page: whether more follow (none past the cap: not asked)
    probe = wanted + 1 if cap is None or offset + wanted < cap else wanted
    frame = sessions(name=filters.get("name"), since=filters.get("since"),
                     until=None if until_ns is None else _instant(until_ns), limit=probe, offset=offset)
    rows = [session_row(record) for record in frame.head(wanted).to_dict("records")]
    more = len(frame) > wanted
    if as_of is None:
        # now, or the newest turn listed if a clock put it in the future: every turn stored so far is in
        newest = _ns(frame.last_at.max()) if len(frame) else 0
        as_of = str(max(time.time_ns(), newest))
    return {
        "rows": rows,
        "total": offset + len(rows) + (1 if more else 0),
        "exact": not more,
        "offset": offset,
        "limit": limit,
        "filters": filters,
        "as_of": as_of,
        "elapsed_ms": round((time.perf_counter() - start) * 1000, 1),
    }


def session_row(record: dict[str, Any]) -> dict[str, Any]:
    """One row of ``agents.sessions()`` as plain JSON: times as ISO text (UTC), NaN as null, the
    ``<name>/mean`` and ``<name>/pass_rate`` columns as a ``scores`` list."""
    scores: dict[str, dict[str, Any]] = {}
    for key, value in record.items():
        name, slash, measure = str(key).rpartition("/")
        if slash and measure in ("mean", "pass_rate"):
            scores.setdefault(name, {"name": name, "mean": None, "pass_rate": None})[measure] = _number(value)
    tokens_in, tokens_out = _int(record.get("input_tokens")), _int(record.get("output_tokens"))
    return {
        "session": str(record["session"]),
        "first_at": _iso_time(record.get("first_at")),
        "last_at": _iso_time(record.get("last_at")),
        "turns": _int(record.get("turns")),
        "duration_s": _number(record.get("duration_s")),
        "input_tokens": tokens_in,
        "output_tokens": tokens_out,
        "tokens": None if tokens_in is None and tokens_out is None else (tokens_in or 0) + (tokens_out or 0),
        "cost_usd": _number(record.get("cost_usd")),
        "errors": _int(record.get("errors")),
        "llm_calls": _int(record.get("llm_calls")),
        "first_input": _text(record.get("first_input")),
        "last_output": _text(record.get("last_output")),
        "scores": [s for s in scores.values() if s["mean"] is not None or s["pass_rate"] is not None],
    }


class _Readings:
    """The last few sessions read for ``turns``, by token: later pages are sliced from them."""

    def __init__(self, size: int = 8) -> None:
        self.size = size
        self._items: OrderedDict[str, tuple[str, list[dict[str, Any]]]] = OrderedDict()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    def get(self, token: str, session_id: str) -> list[dict[str, Any]] | None:
        with self._lock:
            found = self._items.get(token)
            return found[1] if found is not None and found[0] == session_id else None

    def put(self, session_id: str, rows: list[dict[str, Any]]) -> str:
        with self._lock:
            token = f"{time.time_ns()}-{next(self._ids)}"
            self._items[token] = (session_id, rows)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
            return token


_readings = _Readings()


def read_turns(session_id: str) -> list[dict[str, Any]]:
    """Every turn of a session as plain JSON rows (``agents.session()``; ``LookupError`` if unknown)."""
    from ...agents import session

    if not session_id:
        raise ValueError("session is a session id, e.g. the session column of llmops_nb.agents.sessions().")
    return [turn_row(record) for record in session(session_id).to_dict("records")]


def turns(*, session: SessionId, offset: int = 0, limit: int = TURN_PAGE, as_of: Token = None) -> dict[str, Any]:
    """One page of a session's turns, in order → ``{session, rows, total, offset, limit, as_of}``.
    A session not in the store raises ``LookupError`` (its message says how to list them)."""
    check_range(offset, "offset", 0, None)
    check_range(limit, "limit", 1, MAX_LIMIT)
    rows = _readings.get(as_of, session) if as_of is not None else None
    if rows is None:
        rows = read_turns(session)
        as_of = _readings.put(session, rows)
    return {"session": session, "rows": rows[offset:offset + limit], "total": len(rows), "offset": offset,
            "limit": limit, "as_of": as_of}


def turn_row(record: dict[str, Any]) -> dict[str, Any]:
    """One turn of ``agents.session()`` as plain JSON; its words capped (``user_chars`` and
    ``assistant_chars`` give their full length)."""
    tokens_in, tokens_out = _int(record.get("input_tokens")), _int(record.get("output_tokens"))
    user, assistant = _text(record.get("user")), _text(record.get("assistant"))
    return {
        "turn": _int(record.get("turn")),
        "trace_id": str(record["trace_id"]),
        "start_time": _iso_time(record.get("start_time")),
        "user": user[:TEXT_CHARS],
        "user_chars": len(user),
        "assistant": assistant[:TEXT_CHARS],
        "assistant_chars": len(assistant),
        "input_tokens": tokens_in,
        "output_tokens": tokens_out,
        "tokens": None if tokens_in is None and tokens_out is None else (tokens_in or 0) + (tokens_out or 0),
        "cost_usd": _number(record.get("cost_usd")),
        "llm_calls": _int(record.get("llm_calls")),
        "status": _text(record.get("status")) or "IN_PROGRESS",
        "error": _text(record.get("error")) or None,
        "duration_ms": _number(record.get("duration_ms")),
    }


def iso(ns: int | None) -> str | None:
    if ns is None:
        return None
    return dt.datetime.fromtimestamp(ns / 1e9, tz=dt.timezone.utc).isoformat(timespec="milliseconds")


def _instant(ns: int) -> dt.datetime:
    return _EPOCH + dt.timedelta(microseconds=ns // 1000)


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        import pandas as pd

        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _number(value: Any) -> float | None:
    if _missing(value) or isinstance(value, bool):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _int(value: Any) -> int | None:
    number = _number(value)
    return None if number is None else int(number)


def _text(value: Any) -> str:
    return "" if _missing(value) else str(value)


def _iso_time(value: Any) -> str | None:
    """A tz-naive UTC timestamp from the frame as ISO text with its offset (the browser reads it as UTC)."""
    if _missing(value):
        return None
    moment = value.to_pydatetime() if hasattr(value, "to_pydatetime") else value
    if not isinstance(moment, dt.datetime):
        return str(moment)
    return moment.replace(tzinfo=dt.timezone.utc).isoformat(timespec="microseconds")


def _ns(value: Any) -> int:
    """A tz-naive UTC timestamp from the frame as epoch nanoseconds (0 when missing)."""
    if _missing(value):
        return 0
    moment = value.to_pydatetime() if hasattr(value, "to_pydatetime") else value
    return epoch_ns(moment.replace(tzinfo=dt.timezone.utc), "last_at")
