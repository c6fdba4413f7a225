"""``dashboard()``: production metrics over time as interactive charts under the cell, kept up to date.

A :class:`Dashboard` asks ``metrics()`` for its window (``since``/``until``, buckets of ``every``, groups
``by``), decides what to draw once (``_dashboard_charts``), and shows it three ways from one
``_repr_mimebundle_``: the live plotly chart (``_dashboard_figure``, ``llmops_nb.widgets.dashboard``), a script-free
``text/html`` snapshot with the same charts as SVG (``_dashboard_snapshot``) for GitHub, nbviewer, exports
and a notebook reopened without its kernel, and a ``text/plain`` summary. llmops_nb's notebook extension
shows the snapshot instead of "model not found" when the widget is gone, as for every view.

``refresh()`` asks again — a window like ``since="24h"`` is recomputed from now each time — and updates
the shown chart in place; it may run on any thread (a monitor's), one refresh at a time. With
``monitor=`` the dashboard refreshes after each of the monitor's passes, for as long as the dashboard
exists: the monitor holds it only through a weak reference.
"""

from __future__ import annotations

import datetime as dt
import threading
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._dashboard_charts import Layout, chart_names, families, layout

_TAKES = "by, every, since, until, where, params, charts, monitor, store"


@dataclass(frozen=True)
class _Query:
    by: tuple[str, ...]
    every: Any
    since: Any
    until: Any
    where: Any
    params: Any
    families: tuple[str, ...]
    store: Any = field(repr=False)

    def run(self) -> Any:
        from ._metrics import metrics

        return metrics(by=self.by, every=self.every, since=self.since, until=self.until, where=self.where,
                       params=self.params, families=list(self.families), store=self.store)

    def heading(self) -> str:
        """``Monitoring · last 24h · every 1h · by model``: the window as the user wrote it."""
        since, until = self.since, self.until
        if until is None and (isinstance(since, (str, dt.timedelta)) and not _looks_like_date(since)):
            window = f"last {since}"
        else:
            window = f"{_moment(since)} to {'now' if until is None else _moment(until)}"
        parts = ["Monitoring", window, f"every {self.every}"]
        if self.by:
            parts.append("by " + ", ".join(self.by))
        if self.where:
            parts.append(f"where {self.where}")
        return " · ".join(parts)


def _looks_like_date(value: Any) -> bool:
    return isinstance(value, str) and value[:1].isdigit() and ("-" in value or "T" in value)


def _moment(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return f"{value:%Y-%m-%d %H:%M}"
    return str(value)


def dashboard(*, by: str | Sequence[str] = (), every: Any = "1h", since: Any = "24h", until: Any = None,
              where: str | None = None, params: Any = None, charts: str | Iterable[str] | None = None,
              monitor: Any = None, store: Any = None) -> Dashboard:
    """Interactive charts of production traffic over time: requests, error rate, latency p50/p95/p99, time to
    first token, tokens, cost, each judge's scores and guardrail events, one line per group with ``by``.

    ``by``, ``every``, ``since``, ``until``, ``where``, ``params`` and ``store`` are ``metrics()``'s; ``charts``
    picks and orders the charts (``"requests"``, ``"errors"``, ``"latency"``, ``"ttft"``, ``"tokens"``,
    ``"cost"``, ``"scores"`` — one per judge —, ``"score:<name>"``, ``"guardrails"``); ``monitor`` refreshes
    the dashboard after each of its passes. A bad argument or ``where`` raises here, with ``metrics()``'s error.

    >>> from llmops_nb.monitor import dashboard
    >>> dashboard(by="model", since="7d", every="6h", charts=["requests", "latency", "scores"])  # doctest: +SKIP
    """
    by_ = (by,) if isinstance(by, str) else tuple(by)
    if not all(isinstance(b, str) and b for b in by_):
        raise TypeError(f"dashboard(by=...) takes a column name or a list of them (e.g. 'model', 'tag:env'); "
                        f"got {by!r}.")
    if every is None:
        raise ValueError("dashboard() draws metrics over time: every= is a bucket size such as '5m', '1h' or '1d' "
                         "(metrics(every=None) gives one row per group, a table rather than a chart).")
    names = chart_names(charts)
    query = _Query(by_, every, since, until, where, params, tuple(families(names)), store)
    board = Dashboard(query, names)
    if monitor is not None:
        board._follow(monitor)
    return board


class Dashboard:
    """Charts of ``metrics()`` over a rolling window; displayed, the live chart and its snapshot.

    Made by :func:`dashboard`. ``data`` is the last ``metrics()`` frame; ``figure`` the live plotly
    ``FigureWidget``; ``refresh()`` asks again and updates what is shown; ``snapshot()`` is the script-free
    ``text/html`` and ``text/plain``; ``close()`` stops following the monitor and closes the widgets.
    """

    def __init__(self, query: _Query, names: tuple[str, ...]) -> None:
        self._query = query
        self._names = names
        self._lock = threading.RLock()  # one refresh at a time; a display reads a consistent state
        self._view: Any = None
        self._chart: Any = None
        self._status: Any = None
        self._cached: tuple[int, dict[str, str]] | None = None
        self._version = 0
        self._unfollow: weakref.finalize[Any, Any] | None = None
        self._frame, self._updated, self._layout = self._ask()  # a metrics error raises here, at dashboard()

    # -- what it shows ----------------------------------------------------------------------------
    @property
    def data(self) -> Any:
        """The ``metrics()`` frame the charts show (one row per time bucket and group)."""
        return self._frame

    @property
    def charts(self) -> tuple[str, ...]:
        """The charts drawn, in order: ``"scores"`` as one ``"score:<name>"`` per judge."""
        return tuple(chart.key for chart in self._layout.charts)

    @property
    def updated_at(self) -> dt.datetime:
        """When ``metrics()`` was last asked (UTC)."""
        return self._updated

    @property
    def figure(self) -> Any:
        """The live chart, a plotly ``go.FigureWidget`` (made on first use)."""
        self._live()
        return self._chart

    def _ask(self) -> tuple[Any, dt.datetime, Layout]:
        frame = self._query.run()
        updated = dt.datetime.now(dt.timezone.utc)
        return frame, updated, layout(frame, self._query.by, self._names)

    def _figure(self) -> dict[str, Any]:
        from ._dashboard_figure import build

        attrs = getattr(self._frame, "attrs", {})
        window = (attrs["since"], attrs["until"]) if "since" in attrs and "until" in attrs else None
        heading = self._query.heading()
        drawn, hidden = len(self._layout.groups), self._layout.hidden_groups
        if hidden:
            heading += f" · the {drawn} busiest of {drawn + hidden} groups"
        return build(self._layout, f"{heading} · updated {self._updated:%H:%M:%S} UTC", window)

    def _status_text(self) -> str:
        from ._dashboard_snapshot import totals

        follow = " · refreshes after each monitor pass" if self._unfollow is not None and self._unfollow.alive else ""
        return f"{totals(self._layout)} · updated {self._updated:%Y-%m-%d %H:%M:%S} UTC{follow}"

    # -- refreshing -------------------------------------------------------------------------------
    def refresh(self) -> Dashboard:
        """Ask ``metrics()`` again (the window moves with the clock) and update the shown chart in place, and
        the snapshot a saved notebook keeps. Thread-safe; returns the dashboard."""
        with self._lock:
            self._frame, self._updated, self._layout = self._ask()
            self._version += 1
            if self._chart is not None:
                import plotly.graph_objects as go

                from ._dashboard_figure import apply

                apply(self._chart, go.Figure(self._figure(), _validate=False))
                self._status.status = self._status_text()
                self._status.snapshot = self.snapshot()
        return self

    def _follow(self, monitor: Any) -> None:
        if not (callable(getattr(monitor, "subscribe", None)) and callable(getattr(monitor, "unsubscribe", None))):
            raise TypeError(f"dashboard(monitor=...) takes a Monitor (it has subscribe() and unsubscribe()); got "
                            f"{type(monitor).__name__}.")
        me = weakref.ref(self)

        def after_pass(_report: Any) -> None:
            board = me()
            if board is None:
                return
            try:
                board.refresh()
            except Exception as exc:  # noqa: BLE001 - the monitor goes on; the next pass tries again
                from .._safety import log_once

                log_once("monitor.dashboard.refresh", exc, f"llmops_nb: a dashboard could not refresh: {exc!r}")

        monitor.subscribe(after_pass)
        # the monitor holds only this function, which holds the dashboard weakly; once the dashboard is
        # collected (or closed) it unsubscribes
        self._unfollow = weakref.finalize(self, monitor.unsubscribe, after_pass)

    def close(self) -> None:
        """Stop following the monitor and close the live view's widgets."""
        with self._lock:
            if self._unfollow is not None:
                self._unfollow()
            for widget in (self._view, self._chart, self._status):
                if widget is not None:
                    widget.close()
            self._view = self._chart = self._status = None

    # -- display ----------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, str]:
        """The script-free ``text/html`` (charts as inline SVG, or a table without matplotlib) and the
        ``text/plain`` of what the dashboard shows now."""
        with self._lock:
            if self._cached is None or self._cached[0] != self._version:
                from ._dashboard_snapshot import snapshot

                self._cached = (self._version, snapshot(self._layout, heading=self._query.heading(),
                                                        updated=self._updated))
            return dict(self._cached[1])

    def _live(self) -> Any:
        with self._lock:
            if self._view is None:
                from ..widgets.dashboard import live_view

                self._view, self._chart, self._status = live_view(self._figure(), self._status_text())
            return self._view

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None, **kwargs: Any) -> dict[str, Any]:
        # the live view where widgets run; beside it the snapshot (GitHub, nbviewer, exports, an untrusted or
        # reopened notebook) and our extension's type, which shows either (llmops_nb.widgets._base)
        from ..widgets._base import SAVED_VIEW_MIME, WIDGET_MIME

        def wanted(mime: str) -> bool:
            return (include is None or mime in include) and (exclude is None or mime not in exclude)

        with self._lock:  # the snapshot and the view of the same refresh
            bundle: dict[str, Any] = self.snapshot()
            if not wanted(WIDGET_MIME):
                return bundle
            try:
                shown = self._live()._repr_mimebundle_()
            except Exception as exc:  # noqa: BLE001 - no ipywidgets/anywidget, no comm: the snapshot alone
                from .._safety import log_once

                log_once("monitor.dashboard.widget", exc)
                return bundle
        if shown and WIDGET_MIME in shown:
            bundle.update({WIDGET_MIME: shown[WIDGET_MIME], SAVED_VIEW_MIME: {"view": "monitor_dashboard"}})
        return bundle

    def __repr__(self) -> str:
        from ._dashboard_snapshot import text

        with self._lock:
            return text(self._layout, heading=self._query.heading(), updated=self._updated)
