"""A scorer's histogram, placed once on its axis for every drawing of it (the view's cards and the
snapshot's SVG), so the two never disagree about where a bar stands.

Numbers stand on a real value axis: ``[0, 1]`` when every value lies there (ROUGE, a similarity, a
rate), else the values' own range. Few distinct values (a 1–5 grade) are one bar at each value;
many are ``BINS`` even bins whose edges come from the axis. Booleans and words are labelled bars
side by side. Every bar carries ``x0``/``x1``, fractions of the drawing's width; numeric axes carry
``ticks`` (the axis' ends, labelled) and the scorer's threshold when it is on the axis.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from ._format import short_number

BINS = 10
FEW_VALUES = 12  # at most this many distinct numbers: a bar per value
_POINT_WIDTH = 0.08  # the widest bar of a single value, as a fraction of the axis
_GAP = 0.08  # of a slot, left empty on each side of a categorical bar


def value_axis(lo: float, hi: float) -> tuple[float, float]:
    """The axis numbers from ``lo`` to ``hi`` are drawn on.

    >>> value_axis(0.2, 0.9), value_axis(1, 5), value_axis(3, 3)
    ((0.0, 1.0), (1, 5), (2.5, 3.5))
    """
    if lo >= 0 and hi <= 1:
        return 0.0, 1.0
    if lo == hi:
        return lo - 0.5, hi + 0.5
    return lo, hi


def categorical(bins: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    """Labelled bars in equal slots, in the order given."""
    n = max(1, len(bins))
    for k, b in enumerate(bins):
        b["x0"], b["x1"] = (k + _GAP) / n, (k + 1 - _GAP) / n
    return {"kind": kind, "bins": bins, "ticks": [], "axis": None, "threshold_x": None}


def points(values: list[tuple[float, int]], threshold: float | None) -> dict[str, Any]:
    """One bar at each of a few distinct values ``[(value, count), ...]`` (sorted)."""
    lo, hi = value_axis(values[0][0], values[-1][0])
    span = hi - lo
    gaps = [(b - a) / span for (a, _), (b, _) in pairwise(values)]
    width = min([_POINT_WIDTH] + [0.8 * g for g in gaps if g > 0])
    # the axis runs from width/2 to 1 - width/2, so a bar at either end stays inside the drawing
    def at(v: float) -> float:
        return width / 2 + (v - lo) / span * (1 - width)

    bins = [{"label": short_number(v), "count": count, "lo": v, "hi": v, "x0": at(v) - width / 2,
             "x1": at(v) + width / 2} for v, count in values]
    return _numeric("values", bins, lo, hi, at, threshold=threshold)


def ranges(lo_value: float, hi_value: float, counts: dict[int, int], threshold: float | None) -> dict[str, Any]:
    """``BINS`` even bins over the axis of ``[lo_value, hi_value]``; ``counts`` by bin number."""
    lo, hi = value_axis(lo_value, hi_value)
    width = (hi - lo) / BINS

    def at(v: float) -> float:
        return (v - lo) / (hi - lo)

    bins = [{"label": f"{short_number(lo + k * width)}–{short_number(lo + (k + 1) * width)}",
             "count": counts.get(k, 0), "lo": lo + k * width, "hi": lo + (k + 1) * width, "x0": k / BINS,
             "x1": (k + 1) / BINS} for k in range(BINS)]
    return _numeric("bins", bins, lo, hi, at, threshold=threshold)


def bin_edges(lo_value: float, hi_value: float) -> tuple[float, float]:
    """(start, width) of the ``BINS`` bins for values in ``[lo_value, hi_value]`` (what SQL groups by)."""
    lo, hi = value_axis(lo_value, hi_value)
    return lo, (hi - lo) / BINS


def _numeric(kind: str, bins: list[dict[str, Any]], lo: float, hi: float, at: Any, *,
             threshold: float | None) -> dict[str, Any]:
    on_axis = threshold is not None and lo <= threshold <= hi
    return {"kind": kind, "bins": bins, "axis": {"min": lo, "max": hi},
            "ticks": [{"x": at(lo), "label": short_number(lo)}, {"x": at(hi), "label": short_number(hi)}],
            "threshold_x": at(threshold) if on_axis else None}


def empty() -> dict[str, Any]:
    return {"kind": "none", "bins": [], "ticks": [], "axis": None, "threshold_x": None}
