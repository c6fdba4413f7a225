"""The monitor: online scorers run pass after pass over new traces, then the alert rules are checked.

>>> from llmops_nb import monitor, scorers
>>> mon = monitor.Monitor(interval="1m", concurrency=16)
>>> mon.add(scorers.safety(model="openai:/gpt-4.1-mini"), sample_rate=0.1)  # doctest: +SKIP
>>> mon.alert("errors", "error_rate", above=0.05, window="15m")  # doctest: +SKIP
>>> mon.start()  # doctest: +SKIP

A pass takes each scorer in turn: the traces that ended since its cursor (less a look-back, so
late writers are caught), sampled and filtered, scored ``concurrency`` at a time in chunks of
``batch_size`` — each chunk written before the next starts, so a killed monitor keeps what it
finished. ``start()`` runs passes every ``interval`` on a daemon thread (a cell never waits for
one); ``run_once()`` runs one now; ``python -m llmops_nb monitor --config monitor.yaml`` is the
same loop as a process. Nothing a scorer, a judge or a webhook does stops the monitor: each
failure is recorded on its trace or its pass, and shown by :meth:`status` and :meth:`errors`.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .._safety import log_once
from ..store._connection import get_store, store_argument
from ..tracing import flush
from . import _ledger
from ._durations import duration_ns
from ._ledger import Item
from ._online import OnlineScorer, online_scorer
from ._scoring import scoring_call, timed_out
from ._workers import Workers


@dataclass
class ScorerPass:
    """What one pass did for one online scorer."""

    scorer: str
    version: str
    scored: int = 0
    errors: int = 0
    skipped: int = 0
    timed_out: int = 0
    error: str | None = None  # why the pass failed for this scorer (the store, a bad filter…)


@dataclass
class PassReport:
    """One pass: per scorer what it did, the alert events it raised, and its time."""

    started_ns: int
    finished_ns: int = 0
    scorers: list[ScorerPass] = field(default_factory=list)
    alerts: list[Any] = field(default_factory=list)
    alert_error: str | None = None

    @property
    def scored(self) -> int:
        return sum(s.scored for s in self.scorers)

    def __repr__(self) -> str:
        parts = [f"{s.scorer}: {s.scored} scored, {s.errors} errors" + (f" ({s.error})" if s.error else "")
                 for s in self.scorers]
        took = (self.finished_ns - self.started_ns) / 1e9
        alerts = f"; {len(self.alerts)} alert event(s)" if self.alerts else ""
        return f"<PassReport {took:.1f}s — {'; '.join(parts) or 'no scorers'}{alerts}>"


class Monitor:
    """Online scorers and alert rules over the store's traces.

    ``interval``: time between passes in the background; ``concurrency``: scorer calls at once;
    ``timeout``: longest a call may take (then it is the trace's error); ``retries``: attempts
    after a scorer raises; ``lookback``: how late a trace may land and still be scored;
    ``batch_size``: results written per transaction.
    """

    def __init__(self, *, interval: Any = "1m", concurrency: int = 16, timeout: Any = "120s", retries: int = 2,
                 lookback: Any = "15m", batch_size: int = 256, store: Any = None) -> None:
        self.interval_s = duration_ns(interval, "interval") / 1e9
        self.timeout_s = duration_ns(timeout, "timeout") / 1e9
        self.lookback_ns = duration_ns(lookback, "lookback")
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ValueError(f"retries is how often to retry a scorer that raised, 0 or more; got {retries!r}.")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size is how many results to write at once, at least 1; got {batch_size!r}.")
        self.retries, self.batch_size = retries, batch_size
        self._workers = Workers(concurrency)  # checks concurrency
        self.concurrency = concurrency
        # None: whichever store is configured when a pass runs (configure(db=...) may come later)
        self._store = None if store is None else store_argument(store, "Monitor")
        self._scorers: list[OnlineScorer] = []
        self._rules: list[Any] = []
        self._channels: list[Any] = []
        self._subscribers: list[weakref.ref[Any] | Callable[[], Any]] = []
        self._lock = threading.Lock()  # one pass at a time
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_report: PassReport | None = None
        self.passes = 0

    # -- what to watch --------------------------------------------------------------------------
    def add(self, scorer: Any, *, name: str | None = None, sample_rate: float = 1.0, where: str | None = None,
            params: Sequence[Any] | None = None, span_kind: str | Sequence[str] | None = None,
            span_name: str | None = None, version: str | None = None, backfill: Any = False) -> OnlineScorer:
        """Score new traces with ``scorer`` (a built-in, an ``@scorer`` function or a judge).

        ``sample_rate``: share of traces (by a hash of the trace id: the same traces for every scorer);
        ``where``/``params``: a SQL predicate over ``traces t`` with ``?`` values; ``span_kind`` /
        ``span_name`` (a glob): judge each matching span instead of the trace; ``version``: yours,
        else a hash of the scorer's definition; ``backfill``: also score traces from before this
        version first ran — ``True`` for all, or ``"7d"`` / a datetime.

        >>> mon.add(scorers.relevance_to_query(), sample_rate=0.1, where="t.name = ?",
        ...         params=["support"], span_kind="LLM")  # doctest: +SKIP
        """
        online = online_scorer(scorer, name=name, sample_rate=sample_rate, where=where, params=params,
                               span_kind=span_kind, span_name=span_name, version=version, backfill=backfill)
        if any(o.name == online.name for o in self._scorers):
            raise ValueError(f"This monitor already has a scorer named {online.name!r}; give the new one "
                             "name='...' (its assessments are stored under that name).")
        self._scorers.append(online)
        return online

    @property
    def scorers(self) -> list[OnlineScorer]:
        return list(self._scorers)

    def alert(self, name: str, metric: str, **rule: Any) -> Any:
        """Check an alert rule after every pass (see :class:`llmops_nb.monitor.AlertRule` for ``rule``).

        >>> mon.alert("slow", "latency_p95_ms", above=5000, window="15m", by="model")  # doctest: +SKIP
        """
        from ._alerts import AlertRule

        made = AlertRule(name, metric, **rule)
        if any(r.name == made.name for r in self._rules):
            raise ValueError(f"This monitor already has an alert rule named {name!r}; rules need distinct names.")
        self._rules.append(made)
        return made

    def notify(self, *channels: Any) -> None:
        """Where alert events go: ``"notebook"``, a callable ``fn(event)``, a webhook URL or ``Webhook(...)``."""
        from ._alerts import check_channels

        self._channels.extend(check_channels(channels))

    def subscribe(self, callback: Callable[[PassReport], Any]) -> None:
        """Call ``callback(report)`` after every pass (on the monitor's thread). Bound methods are held
        weakly: a dashboard that is gone stops being called."""
        try:
            ref: Any = weakref.WeakMethod(callback)
        except TypeError:  # a function, or a builtin's method: held as it is
            ref = lambda: callback  # noqa: E731 - the same call shape as a weak reference
        self._subscribers.append(ref)

    def unsubscribe(self, callback: Callable[[PassReport], Any]) -> None:
        self._subscribers = [r for r in self._subscribers if r() not in (None, callback)]

    # -- running ------------------------------------------------------------------------------
    def run_once(self) -> PassReport:
        """One pass now (waits for a background pass in progress to end first)."""
        with self._lock:
            report = self._pass()
        self.last_report = report
        self.passes += 1
        self._tell(report)
        return report

    def start(self) -> Monitor:
        """Run passes every ``interval`` on a background thread until :meth:`stop`."""
        if self._thread is not None and self._thread.is_alive():
            return self
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="llmops_nb-monitor", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float | None = 30) -> None:
        """Stop after the current call of each worker; the pass writes what it finished."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._stop.is_set()

    def close(self) -> None:
        """Stop and release the worker threads."""
        self.stop()
        self._workers.close()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception as exc:  # noqa: BLE001 - a failed pass is logged; the next one tries again
                log_once("monitor-pass", exc, "llmops_nb monitor: a pass failed; the next one tries again")
            self._stop.wait(self.interval_s)

    def _pass(self) -> PassReport:
        report = PassReport(started_ns=time.time_ns())
        flush()  # this process's own recent traces are candidates too
        for online in self._scorers:
            if self._stop.is_set() and self._thread is not None:
                break
            report.scorers.append(self._score(online))
        if self._rules:
            from ._alerts import evaluate_rules

            try:
                report.alerts = evaluate_rules(self._rules, channels=self._channels, store=self._store)
            except Exception as exc:  # noqa: BLE001 - alerts failing never stops scoring
                report.alert_error = f"{type(exc).__name__}: {exc}"
                log_once("monitor-alerts", exc, "llmops_nb monitor: checking the alert rules failed; scoring goes on")
        report.finished_ns = time.time_ns()
        return report

    def _score(self, online: OnlineScorer) -> ScorerPass:
        """One scorer's pass. Pages are pipelined: the next page is queued behind the one being scored,
        and a finished page is written while the workers go on, so no worker waits on the store."""
        done = ScorerPass(online.name, online.version)
        store = self._store
        stopping = self._stop.is_set
        in_flight: list[tuple[list[Item], list[Any]]] = []
        try:
            floor, watermark = _ledger.register(online, store)
            since = max(floor, watermark - self.lookback_ns)
            pass_start = time.time_ns()
            call = scoring_call(online, self.retries, stopping)
            after: Item | None = None
            drained = False
            while True:
                if not drained and not (stopping() and self._thread is not None):
                    items = _ledger.candidates(online, since, self.batch_size, store, after=after)
                    if items:
                        in_flight.append((items, self._workers.submit(call, items, timeout=self.timeout_s)))
                        after = items[-1]
                    drained = len(items) < self.batch_size
                if not in_flight:
                    break
                if len(in_flight) > 1 or drained or stopping():
                    items, jobs = in_flight.pop(0)
                    self._save(online, items, self._workers.wait(jobs), done)
            if drained:
                _ledger.advance(online, pass_start, store)
        except Exception as exc:  # noqa: BLE001 - one scorer's failure (a bad filter, the store) is its pass's error
            done.error = f"{type(exc).__name__}: {exc}"
            log_once(f"monitor-scorer-{online.name}", exc,
                     f"llmops_nb monitor: scorer {online.name!r} failed this pass")
            for _, jobs in in_flight:  # let what was queued finish; it is scored again next pass
                self._workers.wait(jobs)
        return done

    def _save(self, online: OnlineScorer, items: list[Item], outcomes: list[Any], done: ScorerPass) -> None:
        results = []
        for item, outcome in zip(items, outcomes, strict=True):
            if outcome.timed_out:
                done.timed_out += 1
                results.append(timed_out(item, self.timeout_s))
            elif outcome.error is not None:  # a bug of ours in the job, not the scorer's failure
                raise outcome.error
            else:
                results.append(outcome.value)
        _ledger.save(online, results, self._store)
        for result in results:
            if result.score.error:
                done.errors += 1
            elif result.score.value is None:
                done.skipped += 1
            else:
                done.scored += 1

    def _tell(self, report: PassReport) -> None:
        for ref in list(self._subscribers):
            callback = ref()
            if callback is None:
                continue
            try:
                callback(report)
            except Exception as exc:  # noqa: BLE001 - a subscriber's failure is its own
                log_once("monitor-subscriber", exc, "llmops_nb monitor: a subscriber of its passes failed")
        # filtered, not rebuilt: an unsubscribe() made during the calls stays made
        self._subscribers = [r for r in self._subscribers if r() is not None]

    # -- what it did ----------------------------------------------------------------------------
    def status(self) -> Any:
        """Per scorer: version, sample rate, traces scored, errors, still to score, last pass (a DataFrame)."""
        import pandas as pd

        rows = []
        store = self._store or get_store()
        flush()
        for online in self._scorers:
            floor, watermark = _ledger.register(online, store)
            with store.connect() as con:
                counts = con.execute(
                    "SELECT count(*) FILTER (WHERE status = 'OK'), count(*) FILTER (WHERE status = 'ERROR'), "
                    "max(scored_at) FROM monitor_scored WHERE scorer = ? AND version = ?",
                    [online.name, online.version]).fetchone()
            rows.append({"scorer": online.name, "version": online.version, "sample_rate": online.sample_rate,
                         "scored": int(counts[0]), "errors": int(counts[1]),
                         "pending": _ledger.backlog(online, max(floor, watermark - self.lookback_ns), store),
                         "last_scored_at": counts[2]})
        frame = pd.DataFrame(rows, columns=["scorer", "version", "sample_rate", "scored", "errors", "pending",
                                            "last_scored_at"])
        frame.attrs["running"] = self.running
        frame.attrs["passes"] = self.passes
        frame.attrs["hung_calls"] = self._workers.abandoned
        return frame

    def errors(self, limit: int = 100) -> Any:
        """The newest error assessments of this monitor's scorers: trace, scorer, error (a DataFrame)."""
        store = self._store or get_store()
        flush()
        with store.connect() as con:
            return con.execute(
                "SELECT a.trace_id, a.name AS scorer, a.target_span_id, a.error, a.created_at FROM assessments a "
                "JOIN monitor_scored m ON m.assessment_id = a.assessment_id "
                "WHERE a.error IS NOT NULL AND m.scorer IN (SELECT unnest(?::VARCHAR[])) "
                "ORDER BY a.created_at DESC LIMIT ?", [[o.name for o in self._scorers], limit]).df()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return (f"<Monitor {state}: {len(self._scorers)} scorer(s), {len(self._rules)} alert rule(s), "
                f"every {self.interval_s:g} s, {self.passes} pass(es)>")
