"""One rule for the time bounds every reader takes (``since=``/``until=``): ``traces()``, the trace list's
filters, ``export_parquet()`` and the CLI.

A bound is a datetime, a date (its midnight), an ISO string (``Z`` and offsets understood on every
Python), epoch seconds, or a ``timedelta`` meaning "this long ago". A time without a zone is local
time, as the user reads their clock (on a server that is usually UTC).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def instant(value: Any, label: str) -> dt.datetime:
    """``value`` as an aware UTC datetime; a ``ValueError``/``TypeError`` that shows what to write."""
    if isinstance(value, dt.timedelta):
        return dt.datetime.now(dt.timezone.utc) - value
    if isinstance(value, bool):
        raise TypeError(f"{label} must be a datetime, an ISO string, epoch seconds or a timedelta; got {value!r}.")
    if isinstance(value, (int, float)):
        return _EPOCH + dt.timedelta(seconds=value)
    if isinstance(value, str):
        text = value.strip()
        try:  # Python 3.10's fromisoformat does not know "Z"
            value = dt.datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
        except ValueError:
            raise ValueError(f"{label}={value!r} is not an ISO date/time; write e.g. '2026-11-26', "
                             "'2026-11-26T14:00' (local time) or '2026-11-26T14:00Z' (UTC).") from None
    if hasattr(value, "to_pydatetime"):  # a pandas Timestamp
        value = value.to_pydatetime()
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day)
    if not isinstance(value, dt.datetime):
        raise TypeError(f"{label} must be a datetime, an ISO string, epoch seconds or a timedelta; got {value!r}.")
    moment: dt.datetime = value if value.tzinfo is not None else value.astimezone()  # naive means local time
    return moment.astimezone(dt.timezone.utc)


def epoch_ns(value: Any, label: str) -> int:
    """``value`` (see :func:`instant`) as epoch nanoseconds, the unit of ``spans.start_ns``."""
    return (instant(value, label) - _EPOCH) // dt.timedelta(microseconds=1) * 1000
