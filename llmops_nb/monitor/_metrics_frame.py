"""The families' rows made one frame: every bucket of the window for every group that had traffic.

Each family's statement (``_metrics_sql.py``) returns rows only where traces were; here they are laid
on one grid — every bucket from the window's first to its last (epoch-aligned, UTC) times every group
seen in any family's rows — so a chart of 30 days hourly has 720 points per group. Counts of a
bucket without traffic are 0; rates, means and percentiles are NaN (nothing was measured, which is
not 0%). The statistics that need more than SQL's aggregates — the 95% intervals — are computed here,
once, from the counts the statement returned.
"""

from __future__ import annotations

import itertools
from typing import Any

from ._metrics_args import Window

__all__ = ["FIXED_COLUMNS", "Z95", "assemble", "mean_interval", "wilson_interval"]

#: the 97.5% quantile of the standard normal: the half-width of a two-sided 95% interval in standard errors
Z95 = 1.959963984540054
#: each family's columns that are there whatever the data holds (errors/<type> and the scores' are not)
FIXED_COLUMNS = {
    "volume": ("requests",),
    "errors": ("errors", "error_rate"),
    "latency": ("latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "ttft_p50_ms", "ttft_p95_ms"),
    "usage": ("input_tokens", "output_tokens", "cost_usd"),
    "scores": (),
    "guardrails": ("guardrail_events", "guardrail_failures"),
}
_COUNTS = frozenset({"requests", "input_tokens", "output_tokens", "guardrail_events", "guardrail_failures"})
_SCORE_STATS = ("mean", "mean_low", "mean_high", "count", "pass_rate", "pass_rate_low", "pass_rate_high", "errors")
# A group value standing for SQL's NULL while frames are merged (pandas would not match missing keys).
_MISSING = "\x00missing"


def wilson_interval(passed: Any, n: Any) -> tuple[Any, Any]:
    """The 95% Wilson score interval of ``passed`` successes in ``n`` trials (arrays; NaN where n is 0).

    Unlike the normal approximation it stays inside [0, 1] and is not zero-width at 0/n or n/n:
    0 of 10 gives [0, 0.278].
    """
    import numpy as np

    k, n = np.asarray(passed, dtype=float), np.asarray(n, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        z2 = Z95 * Z95
        denominator = 1 + z2 / n
        center = (p + z2 / (2 * n)) / denominator
        half = Z95 * np.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denominator
        # exact at the ends, where rounding would leave 1e-17 (0 of n: from 0; n of n: up to 1)
        low = np.where(k <= 0, 0.0, np.clip(center - half, 0.0, 1.0))
        high = np.where(k >= n, 1.0, np.clip(center + half, 0.0, 1.0))
    empty = ~(n > 0)
    return np.where(empty, np.nan, low), np.where(empty, np.nan, high)


def mean_interval(mean: Any, sd: Any, n: Any) -> tuple[Any, Any]:
    """The 95% interval of a mean by the normal approximation with the sample's standard deviation;
    NaN when n < 2 (one value says nothing of the spread)."""
    import numpy as np

    mean, sd, n = (np.asarray(x, dtype=float) for x in (mean, sd, n))
    with np.errstate(divide="ignore", invalid="ignore"):
        half = Z95 * sd / np.sqrt(n)
    unknown = ~(n >= 2)
    return np.where(unknown, np.nan, mean - half), np.where(unknown, np.nan, mean + half)


def assemble(results: dict[str, Any], window: Window, keys: list[str]) -> Any:
    """One frame from each family's rows (``results``: family → its statement's DataFrame), in family order."""
    import pandas as pd

    groups = [f"g{i}" for i in range(len(keys))]
    timed = window.every_ns is not None
    on = ["_one", *(["bucket"] if timed else []), *groups]  # _one: a key even without bucket or groups
    seen: set[tuple[Any, ...]] = set()
    for frame in results.values():
        _fill_missing(frame, groups)
        if groups:
            seen.update(frame[groups].itertuples(index=False, name=None))
        elif len(frame):
            seen.add(())  # without groups: the one group, when there was traffic
    ordered = sorted(seen, key=lambda row: [(value == _MISSING, value) for value in row])
    buckets = window.buckets() if timed else [None]
    rows = [(0, *((bucket,) if timed else ()), *group) for bucket, group in itertools.product(buckets, ordered)]
    out = pd.DataFrame(rows, columns=on)
    if timed:
        out["bucket"] = out["bucket"].astype("int64")
    for family, frame in results.items():
        wide = _WIDEN[family](frame.assign(_one=0), on)
        out = out.merge(wide, how="left", on=on, sort=False)
        for column in wide.columns.difference(on):
            if _is_count(family, column):  # no traffic: nothing counted
                out[column] = out[column].fillna(0).astype("int64")
            elif column == "cost_usd":  # no traffic: nothing spent (as a trace without priced calls counts $0)
                out[column] = out[column].fillna(0.0)
    for column in groups:
        out[column] = out[column].astype(object).where(out[column] != _MISSING, None)
    if timed:
        out.insert(0, "time", pd.to_datetime(out["bucket"], unit="ns"))
    out = out.drop(columns=["_one", "bucket"], errors="ignore").rename(columns=dict(zip(groups, keys, strict=True)))
    return out.reset_index(drop=True)


def _is_count(family: str, column: str) -> bool:
    if family == "errors":
        return column != "error_rate"
    if family == "scores":
        return column.endswith(("/count", "/errors"))
    return column in _COUNTS


def _fill_missing(frame: Any, groups: list[str]) -> None:
    for column in groups:
        frame[column] = frame[column].astype(object).where(frame[column].notna(), _MISSING)


def _volume(frame: Any, on: list[str]) -> Any:
    return frame[[*on, "requests"]]


def _errors(frame: Any, on: list[str]) -> Any:
    totals = frame.groupby(on, sort=False)["n"].sum().rename("requests").to_frame()
    failed = frame[frame["error_type"].notna()]
    per_type = failed.set_index([*on, "error_type"])["n"].unstack("error_type", fill_value=0)
    totals["errors"] = per_type.sum(axis=1).reindex(totals.index, fill_value=0).astype("int64")
    totals["error_rate"] = totals["errors"] / totals["requests"]
    per_type = per_type[sorted(per_type.columns)]
    per_type.columns = [f"errors/{name}" for name in per_type.columns]
    return totals.join(per_type).drop(columns="requests").reset_index()


def _columns(*names: str) -> Any:
    def widen(frame: Any, on: list[str]) -> Any:
        return frame[[*on, *names]]

    return widen


def _scores(frame: Any, on: list[str]) -> Any:
    """Per assessment name: its mean with a 95% interval, count, pass rate with Wilson's interval, errors."""
    rows = frame[frame["name"].notna()]
    if not len(rows):  # no assessment in the window: no score columns, the groups still count
        return frame[on].drop_duplicates()
    stats = rows[[*on, "name"]].copy()
    stats["mean"], stats["count"], stats["errors"] = rows["mean"].astype(float), rows["n"], rows["errors"]
    stats["mean_low"], stats["mean_high"] = mean_interval(rows["mean"], rows["sd"], rows["n"])
    judged = rows["passed_n"].astype(float)
    stats["pass_rate"] = (rows["passed_k"] / judged).where(judged > 0)
    stats["pass_rate_low"], stats["pass_rate_high"] = wilson_interval(rows["passed_k"], rows["passed_n"])
    wide = stats.set_index([*on, "name"])[list(_SCORE_STATS)].unstack("name")
    names = sorted(rows["name"].unique())
    wide = wide.reindex(columns=[(stat, name) for name in names for stat in _SCORE_STATS])
    wide.columns = [f"{name}/{stat}" for name in names for stat in _SCORE_STATS]
    return wide.reset_index()


_WIDEN = {
    "volume": _volume,
    "errors": _errors,
    "latency": _columns(*FIXED_COLUMNS["latency"]),
    "usage": _columns(*FIXED_COLUMNS["usage"]),
    "scores": _scores,
    "guardrails": _columns(*FIXED_COLUMNS["guardrails"]),
}
