"""``metrics()``: what production did, per time bucket and group, as one pandas DataFrame — from the store.

The dashboards, the alert rules and the comparisons all read this one frame, so that a number on a
chart, the value an alert fired on and a comparison's delta are computed once, the same way. Each row
is the traces that *started* in one bucket (and belong to one group) and have *finished*; every
metric is about those traces. Families of columns, each computed by one SQL statement over the whole
window (``_metrics_sql.py``) and laid on one grid of buckets (``_metrics_frame.py``):

- ``volume``: ``requests``.
- ``errors``: ``errors`` (traces whose root span failed), ``error_rate`` (errors / requests), and one
  ``errors/<type>`` column per error type seen: the root span's exception type (``ValueError``,
  ``openai.RateLimitError``…), ``Error`` when it failed without an exception.
- ``latency``: ``latency_p50_ms``, ``latency_p95_ms``, ``latency_p99_ms`` (a trace's wall time, root
  start to root end), ``ttft_p50_ms``, ``ttft_p95_ms`` (time to first token of its streamed LLM calls).
- ``usage``: ``input_tokens``, ``output_tokens``, ``cost_usd`` (the traces' totals).
- ``scores``: per assessment name (online scorers, evaluation judges, human feedback), over the
  newest assessment of each trace, name and target span: ``<name>/mean`` with ``/mean_low`` and
  ``/mean_high`` (a 95% interval, NaN below 2 values), ``/count`` (values), ``/pass_rate`` with
  ``/pass_rate_low`` and ``/pass_rate_high`` (Wilson's 95% interval, over verdicts), ``/errors``
  (assessments that could not be made).
- ``guardrails``: ``guardrail_events`` (validator runs) and ``guardrail_failures`` (runs that did not pass).

>>> import llmops_nb
>>> from llmops_nb.monitor._metrics import metrics
>>> with llmops_nb.span("answer", kind="CHAIN", attributes={"gen_ai.usage.input_tokens": 12}):
...     pass
>>> frame = metrics(since="1h", every="5m", families=["volume", "usage"])  # doctest: +SKIP
>>> frame[["time", "requests", "input_tokens"]].tail(2)  # doctest: +SKIP
                  time  requests  input_tokens
10 2026-12-06 22:20:00         0             0
11 2026-12-06 22:25:00         1            12
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ._metrics_args import FAMILIES, KEYS, parse_by, parse_every, parse_families, parse_window
from ._metrics_frame import assemble
from ._metrics_sql import Plan, family_sql
from ._where import check_where

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["FAMILIES", "KEYS", "metrics"]


def metrics(*, by: str | Sequence[str] = (), every: str | dt.timedelta | None = "1h", since: Any = "24h",
            until: Any = None, where: str | None = None, params: Sequence[Any] | None = None,
            families: str | Sequence[str] | None = None, store: Any = None) -> pd.DataFrame:
    """Production metrics per time bucket and group, as a pandas DataFrame (see the module doc for the columns).

    Rows: one per bucket of ``every`` between ``since`` and ``until`` (buckets aligned to the epoch, in
    UTC, even those without traffic: counts 0, rates and percentiles NaN) and per group that had
    traffic in the window, sorted by time then groups. Columns: ``time`` (the bucket's start, UTC
    without a zone; absent with ``every=None``, which gives one row per group over the whole window),
    then one per ``by`` key as given, then the metrics of the chosen ``families``.

    - ``every``: ``"1m"``, ``"5m"``, ``"1h"``, ``"1d"``, ``"7d"`` (units s, m, h, d, w; weeks start on
      Thursdays, as the epoch did), a pandas Timedelta or ``datetime.timedelta``, or None.
    - ``since`` / ``until``: a duration back from now (``"24h"``, ``"7d"``), a datetime or Timestamp,
      an ISO string (no zone means UTC) or epoch nanoseconds; ``until`` defaults to now. A ``since``
      counted back from now starts at the next bucket boundary: ``since="30d", every="1h"`` is 720
      whole hours, the last one the current (partial) hour.
    - ``by``: ``"model"`` (the model of the trace's first LLM or CHAT_MODEL span), ``"name"``,
      ``"status"``, ``"session"``, ``"user"`` (the trace's tag ``user.id``, else its tag ``user_id``, else
      the span attribute ``user.id`` — OpenTelemetry's, OpenInference's and the gateway's — or
      ``enduser.id``, the root span's first, else the earliest span's: whom ``erase(user_id=...)``
      finds), ``"prompt"`` (``name@version`` of the first prompt version the trace loaded or
      formatted), ``"error_type"`` (as the ``errors/<type>`` columns; None for traces that did not
      fail), and ``"tag:<name>"`` (a trace tag). A trace without the key is in the group None.
    - ``where``: a SQL condition on the traces table ``t`` with ``?`` for values, given in ``params``:
      ``where="t.name = ? AND t.session IS NOT NULL", params=["chat"]``. Anything but one condition
      (a second statement, a UNION, a table function) is refused with the parser's reason.
    - ``families``: some of ``"volume"``, ``"errors"``, ``"latency"``, ``"usage"``, ``"scores"``,
      ``"guardrails"`` (default: all). Each is one SQL statement; ask only for what you show.
    - ``store``: the configured store by default; a path to a DuckDB file, or a store object.

    ``frame.attrs`` holds the window as used: ``since``, ``until`` (Timestamps, UTC) and ``every``.

    >>> from llmops_nb.monitor._metrics import metrics
    >>> hourly = metrics(by="model", every="1h", since="7d", families=["volume", "errors", "latency"])  # doctest: +SKIP
    >>> hourly.pivot(index="time", columns="model", values="error_rate").plot()  # doctest: +SKIP
    """
    keys = parse_by(by)
    chosen = parse_families(families)
    window = parse_window(since, until, parse_every(every))
    target = _store(store)
    with target.connect() as con:
        where_params = check_where(where, params, what="metrics(where=...)", con=con)[1]
    plan = Plan(window, tuple(keys), where, tuple(where_params))
    results = {}
    for family in chosen:  # a use of the store each: another process may write between two
        query = family_sql(family, plan)
        with target.connect() as con:
            results[family] = con.execute(query.sql(), query.params).df()
    import pandas as pd

    frame: pd.DataFrame = assemble(results, window, keys)
    frame.attrs.update(since=pd.Timestamp(window.since_ns), until=pd.Timestamp(window.until_ns),
                       every=None if window.every_ns is None else pd.Timedelta(window.every_ns, unit="ns"))
    return frame


def _store(store: Any) -> Any:
    """The store to read, after this process's spans are written to it (so they count)."""
    from ..store._connection import store_argument
    from ..tracing import flush

    flush()
    return store_argument(store, "metrics")
