"""Values as every text view writes them (snapshots, summaries), mirrored by ``js/lib/format.js`` for the live views.

A leaf, so that the one-line trace summary (``_display.py``) uses it as well as the widgets' snapshots.

A cost keeps two significant digits below a dollar, so a real $0.000017 call never reads as
``$0.0000`` or ``<$0.0001``, and two decimals from a dollar up.

>>> [cost(v) for v in (0.000017, 0.0012, 0.42, 12.34, 0, None)]
['$0.000017', '$0.0012', '$0.42', '$12.34', '$0', '–']
"""

from __future__ import annotations

import math
from typing import Any

UNKNOWN = "–"
_SMALLEST = 1e-8  # below this a sum of prices is float noise, not money


def _finite(number: Any) -> float | None:
    """A finite float, or None for what a view shows as unknown (None, a bool, NaN, not a number)."""
    if number is None or isinstance(number, bool):
        return None
    try:
        value = float(number)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def cost(usd: Any) -> str:
    """A cost in US dollars: ``$0.000017``, ``$0.0012``, ``$0.42``, ``$12.34``; ``$0`` for exactly
    zero, ``–`` when unknown (None, NaN or not a number)."""
    value = _finite(usd)
    if value is None:
        return UNKNOWN
    sign, value = ("-" if value < 0 else ""), abs(value)
    if value == 0:
        return "$0"
    if value < _SMALLEST:
        return "<$0.00000001"
    if value >= 1:
        return f"{sign}${value:,.2f}"
    # the exponent of the value rounded to two significant digits: 0.0999 rounds to 0.10, not 0.100
    exponent = int(f"{value:.1e}".split("e")[1])
    return f"{sign}${value:.{max(2, 1 - exponent)}f}"


def duration(ms: Any) -> str:
    """A duration as ``js/lib/format.js`` writes it: ``850 µs``, ``2.5 ms``, ``120 ms``, ``1.25 s``,
    ``2 min 5 s``; ``–`` when unknown.

    >>> [duration(v) for v in (0.85, 2.5, 120, 1250, 125_000, None)]
    ['850 µs', '2.5 ms', '120 ms', '1.25 s', '2 min 5 s', '–']
    """
    value = _finite(ms)
    if value is None:
        return UNKNOWN
    if value < 1:
        return f"{value * 1000:.0f} µs"
    if value < 1000:
        return f"{value:.1f} ms" if value < 10 else f"{value:.0f} ms"
    if value < 60_000:
        return f"{value / 1000:.2f} s" if value < 10_000 else f"{value / 1000:.1f} s"
    return f"{int(value // 60_000)} min {round((value % 60_000) / 1000)} s"
