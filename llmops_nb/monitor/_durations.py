"""Durations and instants as monitoring takes them: ``"30s"``, ``"15m"``, ``"24h"``, ``"7d"``, ``"2w"``.

One reading for every monitoring knob (a monitor's interval, a scorer's backfill, an alert's window),
so ``"15m"`` means the same wherever it is written.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from typing import Any

_UNITS_NS = {"ms": 1_000_000, "s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000,
             "d": 86_400_000_000_000, "w": 604_800_000_000_000}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$")


def duration_ns(value: Any, what: str) -> int:
    """``value`` (``"15m"``, seconds as a number, a timedelta) in nanoseconds; > 0.

    >>> duration_ns("15m", "window") == 15 * 60 * 10**9
    True
    """
    if isinstance(value, dt.timedelta):
        ns = int(value.total_seconds() * 1e9)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        ns = int(value * 1e9)
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        ns = int(float(match.group(1)) * _UNITS_NS[match.group(2)])
    else:
        raise ValueError(f"{what} is a duration like '30s', '15m', '24h', '7d' or '2w' (or seconds as a number); "
                         f"got {value!r}.")
    if ns <= 0:
        raise ValueError(f"{what} must be longer than zero, got {value!r}.")
    return ns


def instant_ns(value: Any, what: str, now_ns: int | None = None) -> int:
    """A point in time in epoch nanoseconds: ``"24h"`` (that long ago), a datetime (naive = UTC), an ISO
    string, or epoch nanoseconds.

    >>> instant_ns(0, "since")
    0
    """
    now = time.time_ns() if now_ns is None else now_ns
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _DURATION.match(value):
        return now - duration_ns(value, what)
    if isinstance(value, dt.timedelta):
        return now - duration_ns(value, what)
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{what} is a time: '24h' (that long ago), an ISO date like '2026-12-01T09:00', a "
                             f"datetime or epoch nanoseconds; got {value!r}.") from None
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return int(value.timestamp() * 1_000_000) * 1000
    if hasattr(value, "value") and hasattr(value, "tz_localize"):  # a pandas Timestamp
        return instant_ns(value.to_pydatetime(), what, now)
    raise ValueError(f"{what} is a time: '24h' (that long ago), an ISO date, a datetime or epoch nanoseconds; "
                     f"got {type(value).__name__} {value!r}.")
