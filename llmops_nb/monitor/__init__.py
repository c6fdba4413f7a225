"""Production monitoring: online judges over new traces, metrics over time, dashboards, alerts, regressions.

>>> import llmops_nb
>>> from llmops_nb import monitor, scorers
>>> mon = monitor.Monitor(interval="1m", concurrency=16)
>>> mon.add(scorers.safety(model="openai:/gpt-4.1-mini"), sample_rate=0.1)      # doctest: +SKIP
>>> mon.alert("errors", "error_rate", above=0.05, window="15m")                  # doctest: +SKIP
>>> mon.notify("notebook", monitor.Webhook(os.environ["SLACK_WEBHOOK_URL"]))     # doctest: +SKIP
>>> mon.start()                                                                  # doctest: +SKIP
>>> llmops_nb.dashboard(by="model", every="1h", since="7d", monitor=mon)         # doctest: +SKIP
>>> llmops_nb.compare_versions("support@6", "support@7", "safety")              # doctest: +SKIP

As a process (cron or a service): ``python -m llmops_nb monitor --config monitor.yaml``.
Online scorers' results are assessments, beside evaluation's (``llmops_nb.assessments()``); which
traces each scorer version has done is ``monitor_scored``, alert incidents ``monitor_incidents``.
"""

from ._alert_rules import AlertRule
from ._alerts import AlertEvent, alerts, evaluate_rules
from ._compare import compare_versions
from ._compare_result import Comparison
from ._config import MonitorConfigError, load_monitor
from ._dashboard import Dashboard, dashboard
from ._metrics import metrics
from ._monitor import Monitor, PassReport, ScorerPass
from ._online import OnlineScorer
from ._results import monitor_results as results
from ._webhook import Webhook
from ._where import FilterError

load = load_monitor  # monitor.load("monitor.yaml") -> (Monitor, store)

__all__ = [
    "AlertEvent",
    "AlertRule",
    "Comparison",
    "Dashboard",
    "FilterError",
    "Monitor",
    "MonitorConfigError",
    "OnlineScorer",
    "PassReport",
    "ScorerPass",
    "Webhook",
    "alerts",
    "compare_versions",
    "dashboard",
    "evaluate_rules",
    "load",
    "metrics",
    "results",
]
