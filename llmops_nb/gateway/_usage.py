"""The gateway's usage report: who spent what, on which model, how fast — from the traces it wrote.

Every request the gateway answers (or refuses) leaves one span named ``gateway <route>`` carrying
the ``gateway.*`` attributes of the shared design (``notes/gateway-design.md``, "Span/attribute
names"). ``usage()`` groups those spans in one SQL query on the store, so the report is whatever
the store holds — this kernel's requests, a server's, a colleague's on a team store — and needs no
second bookkeeping that could disagree with the traces. ``usage_figure()`` draws that frame (and,
given the budget ledger's snapshot, how close each budget is to its cap) with plotly.

>>> from llmops_nb.gateway._usage import usage, usage_figure
>>> frame = usage(since="7d")                         # doctest: +SKIP
>>> usage_figure(frame).show()                        # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from typing import Any

from .._errors import did_you_mean
from .._html import escape

__all__ = ["GROUPS", "usage", "usage_figure"]


def _attr(name: str) -> str:
    # quoted path: the attribute names hold dots, which a bare JSON path would read as nesting
    return f"json_extract_string(attributes, '$.\"{name}\"')"


def _number(name: str, sql_type: str) -> str:
    # TRY_CAST: one malformed span (a string where a number belongs) must not fail the whole report
    return f"TRY_CAST({_attr(name)} AS {sql_type})"


_TIME = "make_timestamp(start_ns // 1000)"  # a naive TIMESTAMP holding UTC, as traces() shows times
#: what ``by`` may name → the SQL computing it per span (fixed text: no user input reaches the query's text)
GROUPS: dict[str, str] = {
    "day": f"CAST({_TIME} AS DATE)",
    "hour": f"date_trunc('hour', {_TIME})",
    # the in-kernel client and the server's master key carry no virtual key: they are the owner
    "key": f"COALESCE(NULLIF({_attr('gateway.key_name')}, ''), NULLIF({_attr('gateway.key_id')}, ''), 'owner')",
    "model": _attr("gateway.model_group"),
    "deployment": _attr("gateway.deployment"),
    "user": _attr("user.id"),
    "team": _attr("gateway.team"),
    "project": _attr("gateway.project"),
    "status": _attr("gateway.status"),
}
_FALLBACK = "json_extract(attributes, '$.\"gateway.fallback_from\"')"
_MEASURES = f"""
    {_attr('gateway.status')} AS m_status,
    (end_ns - start_ns) / 1e6 AS m_ms,
    {_number('gateway.cost_usd', 'DOUBLE')} AS m_cost,
    {_number('gateway.input_tokens', 'BIGINT')} AS m_in,
    {_number('gateway.output_tokens', 'BIGINT')} AS m_out,
    {_number('gateway.attempts', 'BIGINT')} AS m_attempts,
    CASE json_type({_FALLBACK}) WHEN 'ARRAY' THEN json_array_length({_FALLBACK}) > 0
         WHEN 'VARCHAR' THEN {_attr('gateway.fallback_from')} <> '' ELSE false END AS m_fallback"""
# Latency leaves out rejected requests: a refusal (budget, rate limit, auth) never reached an upstream
# and answers in microseconds, which would drag a group's p50/p95 far below what callers waited.
_AGGREGATES = """
    count(*) AS requests,
    CAST(count_if(m_status = 'ok') AS BIGINT) AS ok,
    CAST(count_if(m_status = 'rejected') AS BIGINT) AS rejected,
    CAST(count_if(m_status = 'failed') AS BIGINT) AS failed,
    CAST(COALESCE(sum(m_in), 0) AS BIGINT) AS input_tokens,
    CAST(COALESCE(sum(m_out), 0) AS BIGINT) AS output_tokens,
    COALESCE(sum(m_cost), 0.0) AS cost_usd,
    quantile_cont(m_ms, 0.5) FILTER (WHERE m_status IS DISTINCT FROM 'rejected') AS p50_ms,
    quantile_cont(m_ms, 0.95) FILTER (WHERE m_status IS DISTINCT FROM 'rejected') AS p95_ms,
    CAST(count_if(m_fallback) AS BIGINT) AS fallbacks,
    CAST(COALESCE(sum(greatest(m_attempts - 1, 0)), 0) AS BIGINT) AS retries"""
# The gateway's own request spans: in the kernel one is a child of the user's span, so root-ness
# cannot pick them; the name, the kind and the gateway.route attribute together can.
_WHERE = f"name LIKE 'gateway %' AND kind = 'CHAIN' AND {_attr('gateway.route')} IS NOT NULL"
_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def usage(since: Any = None, until: Any = None, *, by: str | Sequence[str] = ("day", "key", "model"),
          store: Any = None) -> Any:
    """The gateway's requests per group as a pandas DataFrame, sorted by the group columns.

    ``by`` names the groups: ``day`` and ``hour`` (UTC), ``key`` (the virtual key's name, else its
    id, else ``"owner"``), ``model`` (the model group asked for), ``deployment`` (the one that
    answered), ``user``, ``team``, ``project``, ``status`` (ok, rejected, failed); ``by=()`` gives
    one row of totals. Each row has ``requests``, ``ok``, ``rejected``, ``failed``,
    ``input_tokens``, ``output_tokens``, ``cost_usd``, ``p50_ms`` and ``p95_ms`` (latency of the
    requests that were not rejected), ``fallbacks`` (requests answered after falling back from
    another group) and ``retries`` (attempts beyond the first).

    ``since``/``until``: a datetime, an ISO string, a ``timedelta`` or a duration like ``"7d"``,
    ``"24h"``, ``"30m"`` meaning that long ago; ``until`` is exclusive. ``store``: the configured
    store by default, or a path to another DuckDB file.

    >>> from llmops_nb.gateway._usage import usage
    >>> usage(since="7d", by=("day", "model"))  # doctest: +SKIP
    """
    groups = _groups(by)
    where, params = [_WHERE], []
    for value, label, op in ((since, "since", ">="), (until, "until", "<")):
        if value is not None:
            where.append(f"start_ns {op} ?")
            params.append(_epoch_ns(value, label))
    select = "".join(f'{GROUPS[g]} AS "{g}", ' for g in groups)
    query = f"SELECT {select}{_MEASURES}\nFROM spans WHERE {' AND '.join(where)}"
    columns = [f'"{g}"' for g in groups]
    query = f"SELECT {''.join(c + ', ' for c in columns)}{_AGGREGATES}\nFROM ({query})"
    if groups:
        query += f"\nGROUP BY {', '.join(columns)} ORDER BY {', '.join(c + ' NULLS LAST' for c in columns)}"
    with _store(store).connect() as con:
        frame = con.execute(query, params).df()
    return frame


def _groups(by: Any) -> list[str]:
    names = [by] if isinstance(by, str) else list(by) if isinstance(by, Iterable) else None
    if names is None or not all(isinstance(name, str) for name in names):
        raise TypeError(f"usage(by=...) takes group names, e.g. by=('day', 'model'); got {by!r}.")
    for name in names:
        if name not in GROUPS:
            raise ValueError(f"usage() cannot group by {name!r}.{did_you_mean(name, GROUPS)} "
                             f"Group by any of: {', '.join(GROUPS)}.")
    return list(dict.fromkeys(names))  # a name given twice is one column


def _epoch_ns(value: Any, label: str) -> int:
    """A bound as epoch ns by the readers' one rule (``store/_time.py``), plus durations like ``"7d"``."""
    from ..store._time import epoch_ns

    if isinstance(value, str):
        match = _DURATION.fullmatch(value)
        if match:  # the store's rule knows a timedelta ("this long ago"), not its short spelling
            seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2).lower()]
            value = dt.timedelta(seconds=seconds)
    try:
        return epoch_ns(value, label)
    except ValueError as exc:
        raise ValueError(f"{exc} A duration like '7d', '24h' or '30m' means that long ago.") from None


def _store(store: Any) -> Any:
    from ..store._connection import store_argument
    from ..tracing import flush

    flush()  # requests this process answered before the call are in the report
    return store_argument(store, "usage")


# ---------------------------------------------------------------------------------------------- figure

_TIME_COLUMNS = ("hour", "day")  # the finer one wins when both are grouped on
_TIME_HOVER = {"hour": "%{x|%Y-%m-%d %H:00} UTC", "day": "%{x|%Y-%m-%d}"}


def _text(value: Any) -> str:
    """A value from the data as plotly text. Plotly reads trace names, tick labels and hover text as
    a small HTML dialect (``<b>``, ``<a href>``, ``<br>``), so a key named ``<b>x`` would render as
    markup; escaped, it shows as typed. Quotes stay: plotly decodes ``&lt; &gt; &amp;`` but would show
    ``&quot;`` literally, and outside a tag a quote means nothing to it."""
    import pandas as pd

    missing = value is None or (pd.api.types.is_scalar(value) and bool(pd.isna(value)))
    return str(escape("—" if missing else str(value), quote=False))


def usage_figure(frame: Any, budgets: Iterable[dict[str, Any]] | None = None) -> Any:
    """An interactive plotly figure of a ``usage()`` frame: spend per day stacked by key, requests per
    day by model and — given ``budgets`` (the budget ledger's snapshot: dicts with ``scope``,
    ``scope_id``, ``window``, ``spent``, ``reserved``, ``max_budget``, ``resets_at``) — each budget's
    spent and reserved share of its cap against a 100% line.

    Without a ``key`` (or ``model``) column the bars are split by the frame's other group column;
    without ``day``/``hour`` each panel has one bar.

    >>> from llmops_nb.gateway._usage import usage, usage_figure
    >>> usage_figure(usage(since="30d"), budgets=[{"scope": "key", "scope_id": "alice", "window": "daily",
    ...     "spent": 3.2, "reserved": 0.4, "max_budget": 5.0, "resets_at": "2026-12-08T00:00:00Z"}])  # doctest: +SKIP
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    missing = {"requests", "cost_usd"} - set(getattr(frame, "columns", ()))
    if missing:
        raise ValueError(f"usage_figure() draws a frame from usage(); this one lacks {', '.join(sorted(missing))}. "
                         "Pass usage()'s result, e.g. usage_figure(gw.usage(since='7d')).")
    rows = _budget_rows(budgets)
    time = next((c for c in _TIME_COLUMNS if c in frame.columns), None)
    others = [c for c in frame.columns if c in GROUPS and c not in _TIME_COLUMNS]
    spend_by = "key" if "key" in others else (others[0] if others else None)
    count_by = "model" if "model" in others else (next((c for c in others if c != spend_by), spend_by))
    titles = [f"Spend per {time or 'period'}{f' by {spend_by}' if spend_by else ''} ($)",
              f"Requests per {time or 'period'}{f' by {count_by}' if count_by else ''}"]
    if rows:
        titles.append("Budget burn: spent + reserved, share of max_budget")
    figure = make_subplots(rows=len(titles), cols=1, subplot_titles=titles, vertical_spacing=0.12,
                           row_heights=[0.38, 0.32, 0.30][: len(titles)] if rows else None)
    x_hover = _TIME_HOVER[time] if time else "%{x}"
    for row, measure, split, value_hover in ((1, "cost_usd", spend_by, "$%{y:,.4f}"),
                                             (2, "requests", count_by, "%{y:,} requests")):
        # one legend, a titled group per panel: a key and a model of the same name stay apart
        title = f"{'spend' if row == 1 else 'requests'} by {split or 'all'}"
        group = {"legendgroup": f"panel{row}", "legendgrouptitle_text": title}
        for name, x, y in _series(frame, time, split, measure):
            figure.add_trace(go.Bar(x=x, y=y, name=name, **group, hovertemplate=f"%{{fullData.name}}<br>{x_hover}"
                                    f"<br>{value_hover}<extra></extra>"), row=row, col=1)
    if rows:
        _add_budgets(figure, go, rows, row=3)
    figure.update_layout(title="Gateway usage", barmode="stack", hovermode="closest", height=300 * len(titles) + 100,
                         legend={"groupclick": "toggleitem", "tracegroupgap": 24})
    figure.update_yaxes(title_text="Spend ($)", tickprefix="$", row=1, col=1)
    figure.update_yaxes(title_text="Requests", row=2, col=1)
    for row in (1, 2):
        figure.update_xaxes(title_text=f"{time} (UTC)" if time else "", row=row, col=1)
    if frame.empty:
        figure.add_annotation(text="No gateway requests in this period", showarrow=False, xref="paper",
                              yref="paper", x=0.5, y=0.8)
    return figure


def _series(frame: Any, time: str | None, split: str | None, measure: str) -> list[tuple[str, list[Any], list[Any]]]:
    """``measure`` summed per (time, split): one (escaped name, xs, ys) per split value, largest total first."""
    if frame.empty:
        return []
    data = frame.assign(_x=frame[time] if time else "all", _s=frame[split].map(_text) if split else "all")
    summed = data.groupby(["_s", "_x"], sort=True, dropna=False)[measure].sum().reset_index()
    order = summed.groupby("_s")[measure].sum().sort_values(ascending=False, kind="stable").index
    return [(str(name), list(part["_x"]), [v.item() if hasattr(v, "item") else v for v in part[measure]])
            for name in order for part in [summed[summed["_s"] == name]]]


def _budget_rows(budgets: Iterable[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """The budgets that have a cap to burn against, with their label and shares; checked for shape."""
    if budgets is None:
        return []
    rows = []
    for budget in budgets:
        if not isinstance(budget, dict):
            raise TypeError("usage_figure(budgets=...) takes the budget ledger's snapshot, a list of dicts with "
                            f"scope, scope_id, window, spent, reserved, max_budget; got an item {budget!r}.")
        cap = float(budget.get("max_budget") or 0)
        if cap <= 0:  # no cap (or a zero one): no share to draw
            continue
        spent, reserved = float(budget.get("spent") or 0), float(budget.get("reserved") or 0)
        label = f"{_text(budget.get('scope'))} {_text(budget.get('scope_id'))} ({_text(budget.get('window'))})"
        detail = (f"{label}<br>spent ${spent:,.4f} + reserved ${reserved:,.4f} of ${cap:,.2f}"
                  f"<br>resets {_text(budget.get('resets_at'))}")
        rows.append({"label": label, "spent": spent / cap, "reserved": reserved / cap, "detail": detail})
    return rows


def _add_budgets(figure: Any, go: Any, rows: list[dict[str, Any]], *, row: int) -> None:
    labels = [r["label"] for r in rows]
    details = [[r["detail"]] for r in rows]
    for part, color in (("spent", "#d62728"), ("reserved", "#ff9896")):
        figure.add_trace(go.Bar(x=[r[part] for r in rows], y=labels, orientation="h", name=part, marker_color=color,
                                customdata=details, legendgroup="budgets", legendgrouptitle_text="budgets",
                                hovertemplate=f"%{{customdata[0]}}<br>{part}: %{{x:.1%}}<extra></extra>"),
                         row=row, col=1)
    # the cap: a bar past this line would mean the budget rule was broken
    figure.add_vline(x=1.0, line_dash="dash", line_color="black", row=row, col=1,
                     annotation_text="100%", annotation_position="top")
    figure.update_xaxes(title_text="share of max_budget (%)", tickformat=".0%", row=row, col=1,
                        range=[0, max(1.1, max(r["spent"] + r["reserved"] for r in rows) * 1.05)])
    figure.update_yaxes(autorange="reversed", row=row, col=1)  # the first budget on top, as listed
