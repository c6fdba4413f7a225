"""The arguments of ``metrics()`` checked and made plain: the window, the bucket size, the groups, the families.

Everything here is pure Python (no DuckDB, no pandas), so a bad argument fails before the store is
opened, with a message that shows what to write.

Times: ``since``/``until`` take a duration counted back from now (``"24h"``, ``"7d"``, a
``timedelta``), a datetime or pandas Timestamp, an ISO string, or epoch nanoseconds (an ``int``,
the unit of ``traces.start_ns``). A time without a zone is UTC — the zone of the ``time`` column
``metrics()`` returns, so a bucket's time passed back as ``since`` means that bucket.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .._errors import did_you_mean

__all__ = ["FAMILIES", "KEYS", "MAX_BUCKETS", "Window", "parse_by", "parse_every", "parse_families", "parse_window"]

#: the metric families, in the order their columns appear
FAMILIES = ("volume", "errors", "latency", "usage", "scores", "guardrails")
#: what ``by`` may name, besides ``tag:<name>``
KEYS = ("model", "name", "status", "session", "user", "prompt", "error_type")
TAG_PREFIX = "tag:"
#: more buckets than this is a mistake (``every="1s"`` over a month), not a chart
MAX_BUCKETS = 200_000

_NS = {"s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9, "d": 86_400 * 10**9, "w": 7 * 86_400 * 10**9}
_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*")
_EVERY_FORM = ("write a whole number and a unit s, m, h, d or w — '1m', '5m', '15m', '1h', '6h', '1d', '7d' — "
               "or a pandas Timedelta / datetime.timedelta of whole seconds; every=None gives one row per group "
               "over the whole window")
# An int below this is no epoch-nanosecond time of this century: most likely epoch seconds or milliseconds.
_MIN_EPOCH_NS = 10**17  # 1973-03-03


@dataclass(frozen=True)
class Window:
    """The traces a query counts: those that started in [since_ns, until_ns); buckets of every_ns (None: one)."""

    since_ns: int
    until_ns: int
    every_ns: int | None

    def buckets(self) -> list[int]:
        """Every bucket's start (epoch ns) from the one holding ``since`` to the one holding ``until - 1``."""
        if self.every_ns is None:
            return []
        first = self.since_ns // self.every_ns * self.every_ns
        return list(range(first, self.until_ns, self.every_ns))


def parse_every(every: Any) -> int | None:
    """``every`` as nanoseconds (a whole number of seconds, at least one), or None."""
    if every is None:
        return None
    if isinstance(every, str):
        match = _DURATION.fullmatch(every)
        if match is None or "." in match.group(1):
            raise ValueError(f"every={every!r} is not a bucket size: {_EVERY_FORM}.")
        ns = int(match.group(1)) * _NS[match.group(2)]
    elif isinstance(every, dt.timedelta):  # a pandas Timedelta is one too
        ns = _timedelta_ns(every)
    else:
        raise ValueError(f"every={every!r} is not a bucket size: {_EVERY_FORM}.")
    if ns <= 0 or ns % 10**9:
        raise ValueError(f"every={every!r} is not a bucket size: {_EVERY_FORM}.")
    return ns


def parse_window(since: Any, until: Any, every_ns: int | None) -> Window:
    """The window [since, until) in epoch ns. A ``since`` counted back from now is rounded up to the next
    bucket boundary, so that every bucket but the current one is whole: ``since="30d", every="1h"`` is
    720 hourly points. A ``since`` given as a time is taken as it is (its first bucket may be partial)."""
    now = time.time_ns()
    since_ns, relative = _instant(since, "since", now)
    until_ns = now if until is None else _instant(until, "until", now)[0]
    if relative and every_ns is not None:
        since_ns = -(-since_ns // every_ns) * every_ns
    if until_ns <= since_ns:
        raise ValueError(f"metrics() needs since before until; got since={since!r} ({_iso(since_ns)}) and "
                         f"until={until!r} ({_iso(until_ns)}). Pass e.g. since='24h' (until defaults to now).")
    window = Window(since_ns, until_ns, every_ns)
    if every_ns is not None and (until_ns - 1) // every_ns - since_ns // every_ns + 1 > MAX_BUCKETS:
        count = (until_ns - 1) // every_ns - since_ns // every_ns + 1
        raise ValueError(f"every={_span(every_ns)} over {_span(until_ns - since_ns)} makes {count:,} buckets (at most "
                         f"{MAX_BUCKETS:,}): use a coarser every= (e.g. '1h' or '1d') or a shorter window (since=).")
    return window


def parse_by(by: Any) -> list[str]:
    """``by`` as a list of group keys, each given once, in the order given."""
    names = [by] if isinstance(by, str) else list(by) if isinstance(by, Iterable) else None
    if names is None or not all(isinstance(name, str) for name in names):
        raise TypeError(f"metrics(by=...) takes a group key or a list of them, e.g. by='model' or "
                        f"by=['model', 'tag:env']; got {by!r}.")
    for name in names:
        if name.startswith(TAG_PREFIX):
            if not name[len(TAG_PREFIX):]:
                raise ValueError("metrics(by='tag:') needs the tag's name after 'tag:', e.g. by='tag:env'.")
            continue
        if name not in KEYS:
            raise ValueError(f"metrics() cannot group by {name!r}.{did_you_mean(name, [*KEYS, 'tag:'])} "
                             f"Group by any of: {', '.join(KEYS)}, or a trace tag as 'tag:<name>' (e.g. 'tag:env').")
    return list(dict.fromkeys(names))


def parse_families(families: Any) -> list[str]:
    """``families`` as a list in :data:`FAMILIES` order (None: all of them)."""
    if families is None:
        return list(FAMILIES)
    names = [families] if isinstance(families, str) else list(families) if isinstance(families, Iterable) else None
    if names is None or not all(isinstance(name, str) for name in names):
        raise TypeError(f"metrics(families=...) takes family names, e.g. families=['errors', 'latency']; "
                        f"got {families!r}.")
    if not names:
        raise ValueError(f"metrics(families=[]) asks for no metric: name some of {', '.join(FAMILIES)}, "
                         "or leave families=None for all.")
    for name in names:
        if name not in FAMILIES:
            raise ValueError(f"metrics() has no metric family {name!r}.{did_you_mean(name, FAMILIES)} "
                             f"The families are: {', '.join(FAMILIES)}.")
    return [name for name in FAMILIES if name in names]


def _instant(value: Any, label: str, now: int) -> tuple[int, bool]:
    """``value`` as epoch ns, and whether it was counted back from now."""
    if isinstance(value, str) and _DURATION.fullmatch(value):
        match = _DURATION.fullmatch(value)
        assert match is not None
        return now - round(float(match.group(1)) * _NS[match.group(2)]), True
    if isinstance(value, dt.timedelta):
        return now - _timedelta_ns(value), True
    if isinstance(value, bool) or value is None:
        raise TypeError(_time_form(label, value))
    if isinstance(value, int):
        if value < _MIN_EPOCH_NS:
            raise ValueError(f"{label}={value!r} is not an epoch time in nanoseconds (it would be "
                             f"{_iso(value)}); for epoch seconds pass {label}={value} * 10**9, or a datetime.")
        return value, False
    import pandas as pd

    if isinstance(value, str):
        if not value.strip()[:1].isdigit():  # pandas reads "now" and "today" too, as local time: not ours
            raise ValueError(_time_form(label, value))
        try:
            stamp = pd.Timestamp(value.strip())
        except ValueError:
            raise ValueError(_time_form(label, value)) from None
    elif isinstance(value, (dt.datetime, dt.date, pd.Timestamp)) or type(value).__name__ == "datetime64":
        stamp = pd.Timestamp(value)
    else:
        raise TypeError(_time_form(label, value))
    if pd.isna(stamp):
        raise ValueError(_time_form(label, value))
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return int(stamp.value), False


def _timedelta_ns(value: dt.timedelta) -> int:
    if type(value).__name__ == "Timedelta":  # pandas: exact nanoseconds
        return int(value.value)  # type: ignore[attr-defined]
    return (value.days * 86_400 + value.seconds) * 10**9 + value.microseconds * 1000


def _time_form(label: str, value: Any) -> str:
    return (f"{label}={value!r} is not a time: write a duration back from now ('24h', '7d', '30m'), a datetime "
            "or pandas Timestamp, an ISO string ('2026-12-01', '2026-12-01T14:00Z'; no zone means UTC), or epoch "
            "nanoseconds (an int).")


def _iso(ns: int) -> str:
    return dt.datetime.fromtimestamp(ns / 1e9, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") if ns > 0 else "1970"


def _span(ns: int) -> str:
    for unit in ("w", "d", "h", "m"):
        if ns % _NS[unit] == 0:
            return f"'{ns // _NS[unit]}{unit}'"
    return f"'{ns / 1e9:g}s'"
