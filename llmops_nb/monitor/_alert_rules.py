"""Alert rules: which metric, over which window and groups, compared with what — checked when written.

A rule is a value: everything about it is checked in its constructor (a misspelt metric, two thresholds,
a positive ``change_below``), so a scheduler never finds out at 3 a.m. that a rule could not run.
Evaluating rules and keeping their incidents is ``_alerts.py``'s.
"""

from __future__ import annotations

import math
import re
from dataclasses import KW_ONLY, dataclass
from typing import Any

from .._errors import did_you_mean
from ._durations import duration_ns
from ._metrics_args import parse_by
from ._metrics_frame import FIXED_COLUMNS
from ._where import check_where

#: the metric columns of ``metrics()`` with fixed names, and their family
FIXED_METRICS = {column: family for family, columns in FIXED_COLUMNS.items() for column in columns}
#: a scorer's columns in ``metrics()``: ``<name>/<stat>``
SCORE_STATS = ("mean", "mean_low", "mean_high", "count", "pass_rate", "pass_rate_low", "pass_rate_high", "errors")
#: counts: a group without such events in the window has 0 of them, not "no data"
COUNTS = frozenset({"requests", "errors", "input_tokens", "output_tokens", "guardrail_events", "guardrail_failures"})
SEVERITIES = ("info", "warning", "critical")
_KINDS = ("above", "below", "change_above", "change_below")
_NAME = re.compile(r"[^\x00-\x1f]{1,200}")


@dataclass(frozen=True)
class AlertRule:
    """Fire when ``metric`` over the last ``window`` crosses a threshold, per group of ``by``.

    Exactly one of: ``above``/``below`` (the value itself: ``above=0.05`` fires at 0.06), or
    ``change_above``/``change_below`` (the relative change from the ``baseline`` window just before
    the last ``window``: ``change_above=0.2`` fires at +21%, ``change_below=-0.1`` at -11%; from a
    baseline of 0, any rise counts as +∞ and any fall as -∞).

    ``metric``: a column of ``metrics()``: ``error_rate``, ``latency_p95_ms``, ``cost_usd``,
    ``errors/TimeoutError``, ``correctness/pass_rate``… ``by``: group columns as ``metrics(by=...)``
    takes them (``"model"``, ``"tag:env"``), an incident per group. ``where``/``params``: a SQL
    filter over traces aliased ``t``. Groups with fewer than ``min_requests`` requests in the window
    (or in the baseline) have no data: they neither fire nor resolve. ``severity``: info, warning or critical.

    >>> AlertRule("errors-up", "error_rate", above=0.05, window="15m", by="model")  # doctest: +ELLIPSIS
    AlertRule(name='errors-up', metric='error_rate', ...)
    """

    name: str
    metric: str
    _: KW_ONLY
    above: float | None = None
    below: float | None = None
    change_above: float | None = None
    change_below: float | None = None
    baseline: Any = "7d"
    window: Any = "15m"
    by: Any = ()
    where: str | None = None
    params: Any = None
    min_requests: int = 1
    severity: str = "warning"

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name) or not self.name.strip():
            raise ValueError(f"An alert rule's name is its incidents' key: a non-empty string of at most 200 "
                             f"characters without control characters, e.g. 'error-rate-high'; got {self.name!r}.")
        family_of(self.metric)
        given = [kind for kind in _KINDS if getattr(self, kind) is not None]
        if len(given) != 1:
            raise ValueError(f"Alert rule {self.name!r}: give exactly one of above=, below=, change_above=, "
                             f"change_below= (got {', '.join(given) or 'none'}), e.g. above=0.05.")
        kind = given[0]
        limit = getattr(self, kind)
        if isinstance(limit, bool) or not isinstance(limit, (int, float)) or math.isnan(limit):
            raise TypeError(f"Alert rule {self.name!r}: {kind} is a number, got {limit!r}.")
        if kind == "change_above" and limit <= 0:
            raise ValueError(f"Alert rule {self.name!r}: change_above is a relative rise, above 0: change_above=0.2 "
                             f"fires at +20%; got {limit!r}. For a fall, use change_below=-0.2.")
        if kind == "change_below" and limit >= 0:
            raise ValueError(f"Alert rule {self.name!r}: change_below is a relative fall, below 0: change_below=-0.1 "
                             f"fires at -10%; got {limit!r}. For a rise, use change_above=0.1.")
        object.__setattr__(self, kind, float(limit))
        duration_ns(self.window, f"Alert rule {self.name!r}: window")
        duration_ns(self.baseline, f"Alert rule {self.name!r}: baseline")
        object.__setattr__(self, "by", _by(self.name, self.by))
        check_where(self.where, self.params, what=f"Alert rule {self.name!r}: where")
        object.__setattr__(self, "params", None if self.params is None else tuple(self.params))
        if isinstance(self.min_requests, bool) or not isinstance(self.min_requests, int) or self.min_requests < 1:
            raise ValueError(f"Alert rule {self.name!r}: min_requests is a whole number of at least 1, "
                             f"got {self.min_requests!r}.")
        if self.severity not in SEVERITIES:
            raise ValueError(f"Alert rule {self.name!r}: severity is one of {', '.join(SEVERITIES)}; got "
                             f"{self.severity!r}.{did_you_mean(self.severity, SEVERITIES)}")

    @property
    def kind(self) -> str:
        """Which comparison: ``above``, ``below``, ``change_above`` or ``change_below``."""
        return next(kind for kind in _KINDS if getattr(self, kind) is not None)

    @property
    def threshold(self) -> float:
        value: float = getattr(self, self.kind)
        return value

    @property
    def is_change(self) -> bool:
        return self.kind.startswith("change_")


def family_of(metric: Any) -> str:
    """The ``metrics(families=...)`` family that has ``metric``; a ``ValueError`` with "did you mean" if none."""
    if not isinstance(metric, str) or not metric:
        raise TypeError(f"metric is a metrics() column name like 'error_rate' or 'correctness/pass_rate'; "
                        f"got {metric!r}.")
    if metric in FIXED_METRICS:
        return FIXED_METRICS[metric]
    head, _, tail = metric.partition("/")
    if head == "errors" and tail:
        return "errors"
    name, _, stat = metric.rpartition("/")
    if name and stat in SCORE_STATS:
        return "scores"
    if name:
        raise ValueError(f"metric {metric!r}: a scorer's metrics are '<scorer>/<stat>' with stat one of "
                         f"{', '.join(SCORE_STATS)}.{did_you_mean(stat, SCORE_STATS)}")
    raise ValueError(f"Unknown metric {metric!r}.{did_you_mean(metric, FIXED_METRICS)} Metrics: "
                     f"{', '.join(FIXED_METRICS)}, 'errors/<ErrorType>', or a scorer's '<name>/<stat>' "
                     f"(e.g. 'correctness/pass_rate').")


def _by(rule: str, by: Any) -> tuple[str, ...]:
    """``by`` as ``metrics(by=...)`` reads it (its own check, so a rule never asks for a group it cannot have)."""
    try:
        return tuple(parse_by(by))
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"Alert rule {rule!r}: {exc}") from None
