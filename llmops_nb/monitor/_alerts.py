"""Alerts: rules evaluated into incidents — fire once, stay quiet while firing, resolve, fire again anew.

``evaluate_rules`` reads every rule per group with ``metrics()`` (``_alert_findings.py``; nothing is
held meanwhile), then settles the findings against ``monitor_incidents`` in one short locked block
(``_alert_incidents.py``): a breach without an open incident opens one and is an event; a breach with
one open updates its value; a group back within its threshold resolves it and is an event; a group
without data (fewer than ``min_requests`` requests) changes nothing. The events are then delivered
(``_alert_channels.py``) and what each delivery did is kept with its incident.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .._safety import log_once
from ._alert_channels import channels_of, deliver, notice_html
from ._alert_findings import measure
from ._alert_incidents import keep_deliveries, settle
from ._alert_rules import AlertRule
from ._durations import instant_ns
from ._metrics import _store
from ._webhook import Webhook

__all__ = ["AlertEvent", "AlertRule", "Webhook", "alerts", "check_channels", "evaluate_rules"]

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_STATES = ("FIRING", "RESOLVED")


@dataclass(frozen=True)
class AlertEvent:
    """An incident that fired or resolved: what a channel receives.

    ``state``: ``"fired"`` or ``"resolved"``; ``group``: the group's values (``{}`` without ``by``);
    ``value``: the metric over the window; ``baseline``: the baseline window's value (change rules);
    ``threshold``: the rule's limit; ``at``: the evaluation's time (UTC).
    """

    rule: str
    state: str
    group: dict[str, Any]
    value: float | None
    baseline: float | None
    threshold: float
    message: str
    incident_id: str
    at: dt.datetime
    severity: str
    metric: str = ""

    def _repr_html_(self) -> str:
        return notice_html(self)


def evaluate_rules(rules: AlertRule | Iterable[AlertRule], *, channels: Any = (), now: Any = None,
                   store: Any = None) -> list[AlertEvent]:
    """Evaluate ``rules`` now, open and resolve their incidents, and tell ``channels`` what changed.

    Returns the events: ``"fired"`` for a group whose incident opened now, ``"resolved"`` for one
    whose incident closed; a group still firing is quiet. ``channels``: ``"notebook"`` (a notice
    under the cell, or a log line outside IPython), ``"log"`` (the ``llmops_nb`` logger), functions
    called with each :class:`AlertEvent`, ``Webhook(url, timeout=5, headers=None)`` or an
    ``"https://..."`` URL (Slack-compatible JSON).
    A failing channel never stops the others: its failure is in ``alerts().deliveries``. ``now``:
    the evaluation's time (default: now), for backfills and tests.

    >>> from llmops_nb.monitor import AlertRule, evaluate_rules
    >>> rule = AlertRule("errors", "error_rate", above=0.05, window="15m", by="model")
    >>> evaluate_rules([rule], channels=["notebook", "https://hooks.slack.com/services/..."])  # doctest: +SKIP
    """
    checked = _rules(rules)
    targets = channels_of(channels)
    moment = _moment(now)
    findings = [finding for rule in checked for finding in measure(rule, moment, store)]
    if not any(finding.breached is not None for finding in findings):
        return []  # no group had data: nothing to open or resolve
    changes = settle([rule.name for rule in checked], findings, _naive(moment), store)
    events = [AlertEvent(f.rule.name, state, dict(f.group), f.value, f.baseline, f.rule.threshold, f.message,
                         incident_id, moment, f.rule.severity, f.rule.metric) for f, state, incident_id in changes]
    if events and targets:
        records = deliver(events, targets)
        try:
            keep_deliveries(records, store)
        except Exception as exc:  # noqa: BLE001 - the events went out; losing their record must not hide them
            log_once("monitor.alert_deliveries", exc)
    return events


def check_channels(channels: Any) -> list[Any]:
    """``channels`` checked once, as the channel objects ``evaluate_rules(channels=...)`` also takes:
    ``"notebook"``, ``"log"``, a function ``fn(event)``, ``Webhook(url)`` or an ``"https://..."`` URL."""
    return channels_of(channels)


def alerts(state: str | None = None, rule: str | None = None, since: Any = None, store: Any = None) -> Any:
    """Alert incidents as a DataFrame, newest first: incident_id, rule, state (FIRING/RESOLVED), group (a
    dict), opened_at, resolved_at (UTC), value, baseline, threshold, message, deliveries (a list of
    ``{channel, event, ok, error, at}``), updated_at.

    ``since``: incidents open at any moment since then (still firing, or resolved after it): a time,
    or a duration like ``"24h"`` meaning that long ago.

    >>> from llmops_nb.monitor import alerts
    >>> alerts(state="FIRING")  # doctest: +SKIP
    """
    import pandas as pd

    where: list[str] = ["TRUE"]
    params: list[Any] = []
    if state is not None:
        upper = str(state).upper()
        if upper not in _STATES:
            raise ValueError(f"state is FIRING or RESOLVED; got {state!r}.")
        where.append("state = ?")
        params.append(upper)
    if rule is not None:
        where.append("rule = ?")
        params.append(rule)
    if since is not None:
        where.append("(state = 'FIRING' OR resolved_at >= ?)")
        params.append(_naive(_moment(instant_ns(since, "since"))))
    with _store(store).connect() as con:
        frame = con.execute(
            "SELECT incident_id, rule, state, group_key AS \"group\", opened_at, resolved_at, value, baseline, "
            f"threshold, message, deliveries, updated_at FROM monitor_incidents WHERE {' AND '.join(where)} "
            "ORDER BY opened_at DESC, incident_id", params).df()
    for column in ("group", "deliveries"):
        frame[column] = pd.Series([json.loads(v) if isinstance(v, str) else [] if column == "deliveries" else {}
                                   for v in frame[column]], index=frame.index, dtype=object)
    return frame


def _rules(rules: Any) -> list[AlertRule]:
    listed = [rules] if isinstance(rules, AlertRule) else list(rules) if isinstance(rules, Iterable) else None
    if listed is None or not all(isinstance(rule, AlertRule) for rule in listed):
        raise TypeError("evaluate_rules() takes AlertRule objects, e.g. [AlertRule('errors', 'error_rate', "
                        "above=0.05)].")
    names = [rule.name for rule in listed]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise ValueError(f"Alert rule names key their incidents, so each must be unique; given twice: {twice}.")
    return listed


def _moment(now: Any) -> dt.datetime:
    ns = instant_ns(dt.datetime.now(dt.timezone.utc) if now is None else now, "now")
    return _EPOCH + dt.timedelta(microseconds=ns // 1000)


def _naive(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.timezone.utc).replace(tzinfo=None)
