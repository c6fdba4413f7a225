"""What one alert rule reads now: per group, the metric over the window (and the baseline), breached or not.

Every number comes from ``metrics(every=None)``: the value an alert fires on is the one a dashboard
shows for the same window. A group below ``min_requests`` (now, or in the baseline) has no data:
its finding is neither a breach nor a recovery. A count missing from the frame (no
``errors/TimeoutError`` column when none happened) is 0; a missing rate or percentile is no data.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass, field
from typing import Any

from ._alert_rules import COUNTS, AlertRule, family_of
from ._durations import duration_ns
from ._metrics import metrics


@dataclass
class Finding:
    """One rule's reading for one group: ``breached`` True or False, or None without enough data."""

    rule: AlertRule
    group: dict[str, Any]
    value: float | None
    baseline: float | None
    breached: bool | None
    message: str
    key: str = field(init=False)  # the incident's group_key

    def __post_init__(self) -> None:
        self.key = group_key(self.group)


def group_key(group: dict[str, Any]) -> str:
    """A group as ``monitor_incidents.group_key``: its values as a JSON object with sorted keys."""
    return json.dumps(group, sort_keys=True, default=str)


def measure(rule: AlertRule, moment: dt.datetime, store: Any) -> list[Finding]:
    """``rule`` over the ``window`` before ``moment``, per group; change rules also over the baseline before it."""
    window = dt.timedelta(microseconds=duration_ns(rule.window, "window") // 1000)
    current = _read(rule, moment - window, moment, store)
    if not rule.is_change:
        return [_finding(rule, group, value, None) for group, value in current.values()]
    baseline = dt.timedelta(microseconds=duration_ns(rule.baseline, "baseline") // 1000)
    before = _read(rule, moment - window - baseline, moment - window, store)
    return [_finding(rule, group, value, before.get(key, (group, None))[1]) for key, (group, value) in current.items()]


def _read(rule: AlertRule, since: dt.datetime, until: dt.datetime,
          store: Any) -> dict[str, tuple[dict[str, Any], float | None]]:
    """Per group key: the group's values and the metric (None when the group had too few requests)."""
    families = tuple(dict.fromkeys(("volume", family_of(rule.metric))))
    frame = metrics(by=rule.by, every=None, since=since, until=until, where=rule.where,
                    params=None if rule.params is None else list(rule.params), families=families, store=store)
    found: dict[str, tuple[dict[str, Any], float | None]] = {}
    for row in frame.to_dict("records"):
        group = {name: _plain(row.get(name)) for name in rule.by}
        value = _plain(row.get(rule.metric))
        if value is None and _is_count(rule.metric):
            value = 0.0  # no such events in the window: none happened
        enough = (_plain(row.get("requests")) or 0) >= rule.min_requests
        found[group_key(group)] = (group, value if enough else None)
    return found


def _is_count(metric: str) -> bool:
    return metric in COUNTS or metric.startswith("errors/") or metric.endswith(("/count", "/errors"))


def _plain(value: Any) -> Any:
    """A pandas/numpy cell as a plain Python value; NaN and NA as None."""
    import pandas as pd

    if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)):
        return None
    return value.item() if hasattr(value, "item") and not isinstance(value, (str, bytes)) else value


def _finding(rule: AlertRule, group: dict[str, Any], value: float | None, baseline: float | None) -> Finding:
    if value is None or (rule.is_change and baseline is None):
        return Finding(rule, group, value, baseline, None, "")
    value = float(value)
    if baseline is None:
        breached = value > rule.threshold if rule.kind == "above" else value < rule.threshold
        sign = (">" if breached else "<=") if rule.kind == "above" else ("<" if breached else ">=")
        text = f"{rule.metric} {_num(value)} {sign} {_num(rule.threshold)} over the last {_span(rule.window)}"
        return Finding(rule, group, value, None, breached, text + _group_text(group))
    baseline = float(baseline)
    # from a baseline of 0 any rise is +inf and any fall -inf: "errors appeared" is a change past every limit
    change = (value - baseline) / abs(baseline) if baseline else (0.0 if value == 0 else math.copysign(math.inf, value))
    breached = change > rule.threshold if rule.kind == "change_above" else change < rule.threshold
    sign = (">" if breached else "<=") if rule.kind == "change_above" else ("<" if breached else ">=")
    text = (f"{rule.metric} {_num(value)} over the last {_span(rule.window)} is {_percent(change)} vs "
            f"{_num(baseline)} over the {_span(rule.baseline)} before ({sign} {_percent(rule.threshold)})")
    return Finding(rule, group, value, baseline, breached, text + _group_text(group))


def _group_text(group: dict[str, Any]) -> str:
    return f" ({', '.join(f'{name}={value}' for name, value in group.items())})" if group else ""


def _num(value: float) -> str:
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def _percent(change: float) -> str:
    return ("+∞" if change > 0 else "-∞") if math.isinf(change) else f"{change:+.0%}"


def _span(value: Any) -> str:
    """A duration as written (``"15m"``), or in the largest whole unit."""
    if isinstance(value, str):
        return value.strip()
    seconds = duration_ns(value, "duration") / 1e9
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"
