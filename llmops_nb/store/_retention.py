"""``apply_retention(days=N)``: delete traces older than N days, keeping their daily totals.

Traces (with their spans, their ``traces`` row and their drop-log rows) whose root started more
than ``days`` ago are deleted; before they go, their totals per UTC day and model — traces,
spans, LLM calls, tokens, cost, errors — are added to ``daily_usage`` in the same transaction, so
a cost or usage chart over a year still has its early months. Feedback, evaluation runs and
datasets are kept: they were made on purpose and are small (``erase()`` is what removes those).
The run is recorded in the audit trail (``retention.applied``: the cutoff and the counts).

``daily_usage`` only grows: a later run adds rows for the traces it deletes, possibly for a day an
earlier run already summed (a trace imported late, a cutoff mid-day), so readers sum its rows per
day and model (``SELECT day, model, sum(cost_usd) … GROUP BY ALL``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ._audit import audited
from ._connection import get_store
from ._erase import DELETE_LOCKS, delete_traces

__all__ = ["apply_retention"]

_OLD_TRACES = "SELECT trace_id FROM traces WHERE start_ns < ?"
_DAILY = """
INSERT INTO daily_usage (day, model, traces, spans, llm_calls, input_tokens, output_tokens, cost_usd, errors,
                         recorded_at)
SELECT CAST(make_timestamp(t.start_ns // 1000) AS DATE) AS day, s.model,
       count(DISTINCT s.trace_id), count(*), count(*) FILTER (WHERE s.kind IN ('LLM', 'CHAT_MODEL')),
       COALESCE(sum(s.input_tokens), 0), COALESCE(sum(s.output_tokens), 0), sum(s.cost_usd),
       count(*) FILTER (WHERE s.status = 'ERROR'), ?
FROM spans s JOIN (SELECT trace_id, start_ns FROM traces WHERE trace_id IN (SELECT unnest(?::VARCHAR[]))) t
  ON t.trace_id = s.trace_id
GROUP BY ALL
"""


def apply_retention(days: float) -> dict[str, Any]:
    """Delete traces that started more than ``days`` days ago, keeping per-day, per-model totals.

    The totals go to the ``daily_usage`` table (sum its rows per day and model); the deletion is
    recorded in the audit trail. Returns the cutoff (UTC) and what was deleted and kept.

    >>> import llmops_nb
    >>> llmops_nb.apply_retention(days=90)  # doctest: +SKIP
    {'cutoff': '2026-09-07T10:00:00+00:00', 'traces': 1204, 'spans': 25311, 'daily_usage_rows': 184}
    """
    if isinstance(days, bool) or not isinstance(days, (int, float)) or not days > 0:
        raise ValueError(f"days is how many days of traces to keep, a positive number; got {days!r}. "
                         "To delete particular traces, use llmops_nb.erase(trace_ids=...).")
    from ..tracing import flush

    flush()  # what this process recorded is in the store, so it is judged by the same cutoff
    cutoff = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=days)
    cutoff_ns = int(cutoff.timestamp() * 1e6) * 1000
    lake = not get_store().supports_upsert

    def work(con: Any) -> tuple[str, str, dict[str, Any], dict[str, Any]]:
        ids = sorted(row[0] for row in con.execute(_OLD_TRACES, [cutoff_ns]).fetchall())
        kept = 0
        if ids:
            now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)  # TIMESTAMP columns hold UTC
            row = con.execute(_DAILY, [now, ids]).fetchone()
            kept = int(row[0]) if row else 0
        counts = delete_traces(con, ids, lake=lake, derived=False)
        done = {"cutoff": cutoff.isoformat(timespec="seconds"), **counts, "daily_usage_rows": kept}
        return "retention.applied", f"traces older than {days:g} days", {"days": days, **done}, done

    result: dict[str, Any] = audited(work, locks=DELETE_LOCKS)
    return result
