"""The gateway's usage report (``llmops_nb/gateway/_usage.py``) on a real store: spans shaped as the gateway
writes them (a ``gateway <route>`` CHAIN span with ``gateway.*`` attributes, a child per upstream attempt),
placed on chosen days, then grouped, filtered and drawn."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys

import numpy as np
import pytest

import llmops_nb
from llmops_nb.gateway._usage import usage, usage_figure
from llmops_nb.tracing import start_span

UTC = dt.timezone.utc
TODAY = dt.datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
DAY1 = TODAY - dt.timedelta(days=10)  # outside since="7d"
DAY2 = TODAY - dt.timedelta(days=3)   # inside it
EVIL = "<img src=x onerror=alert(1)>"


def _ns(moment: dt.datetime) -> int:
    return int(moment.timestamp()) * 10**9


def request(at: dt.datetime, ms: float, *, model: str = "chat", key_name: str | None = "alice",
            key_id: str | None = "key_a", status: str = "ok", cost: float = 0.0, tokens: tuple[int, int] = (0, 0),
            attempts: int = 1, fallback_from: list[str] | None = None, deployment: str = "primary",
            route: str = "chat", parent=False, **extra) -> None:
    """One gateway request as the gateway traces it; its attempts carry their own cost, which must not count."""
    attributes = {"gateway.route": route, "gateway.model_group": model, "gateway.deployment": deployment,
                  "gateway.attempts": attempts, "gateway.fallback_from": fallback_from or [],
                  "gateway.cost_usd": cost, "gateway.input_tokens": tokens[0], "gateway.output_tokens": tokens[1],
                  "gateway.status": status, **extra}
    if key_name is not None:
        attributes["gateway.key_name"] = key_name
    if key_id is not None:
        attributes["gateway.key_id"] = key_id
    root = start_span(f"gateway {route}", kind="CHAIN", attributes=attributes, parent=parent)
    root.start_ns = start = _ns(at)
    for _ in range(attempts if status != "rejected" else 0):
        attempt = start_span(deployment, kind="CHAT_MODEL", parent=root,
                             attributes={"llmops_nb.cost_usd": 99.0, "gen_ai.usage.input_tokens": 1000})
        attempt.start_ns = start + 1000
        attempt.end(end_ns=start + 2000)
    root.end(end_ns=start + int(ms * 1e6))


@pytest.fixture
def traffic() -> None:
    """Day 1: alice on chat x2 (one retried), bob on embed. Day 2: alice's fallback, a rejection by the
    owner (no key), a failure on an anonymous key (id only), a request inside the user's own span."""
    at1, at2 = DAY1 + dt.timedelta(hours=9), DAY2 + dt.timedelta(hours=14)
    request(at1, 100, cost=0.01, tokens=(100, 20), **{"user.id": "u1", "gateway.team": "red"})
    request(at1 + dt.timedelta(minutes=5), 300, cost=0.02, tokens=(200, 40), attempts=3, deployment="backup",
            **{"user.id": "u1", "gateway.team": "red"})
    request(at1 + dt.timedelta(hours=2), 50, model="embed", key_name="bob", key_id="key_b", cost=0.001,
            tokens=(10, 0), route="embeddings", **{"gateway.project": "search"})
    request(at2, 400, cost=0.05, tokens=(300, 60), attempts=2, fallback_from=["chat-fast"])
    request(at2 + dt.timedelta(minutes=1), 0.5, key_name=None, key_id=None, status="rejected",
            **{"gateway.reject_reason": "budget"})
    request(at2 + dt.timedelta(minutes=2), 200, key_name=None, status="failed", attempts=2)
    with llmops_nb.span("my cell", kind="CHAIN") as cell:  # the kernel's case: a child of the user's span
        request(at2 + dt.timedelta(hours=1), 100, model="embed", key_name="bob", key_id="key_b", cost=0.004,
                tokens=(40, 0), route="embeddings", parent=cell)
    # not the gateway's: a user's span that happens to share the name, an LLM span of that name
    with llmops_nb.span("gateway notes", kind="CHAIN", attributes={"gateway.cost_usd": 5.0}):
        pass
    with llmops_nb.span("gateway chat", kind="LLM", attributes={"gateway.route": "chat", "gateway.cost_usd": 5.0}):
        pass
    assert llmops_nb.flush(timeout=30)


def test_one_row_per_day_key_and_model(traffic) -> None:
    frame = usage()
    assert list(frame.columns[:3]) == ["day", "key", "model"]
    rows = [(r.day.date(), r.key, r.model, r.requests, r.ok, r.rejected, r.failed) for r in frame.itertuples()]
    assert rows == [
        (DAY1.date(), "alice", "chat", 2, 2, 0, 0),
        (DAY1.date(), "bob", "embed", 1, 1, 0, 0),
        (DAY2.date(), "alice", "chat", 1, 1, 0, 0),
        (DAY2.date(), "bob", "embed", 1, 1, 0, 0),
        (DAY2.date(), "key_a", "chat", 1, 0, 0, 1),   # no name: the key's id
        (DAY2.date(), "owner", "chat", 1, 0, 1, 0),   # no key at all: the owner
    ]
    first = frame.iloc[0]
    assert first.cost_usd == pytest.approx(0.03)  # the root's settled cost; the attempts' 99.0 never counts
    assert (first.input_tokens, first.output_tokens, first.retries, first.fallbacks) == (300, 60, 2, 0)
    assert (first.p50_ms, first.p95_ms) == pytest.approx((200.0, 290.0))  # DuckDB's interpolation, like numpy's
    assert frame.iloc[2].fallbacks == 1


def test_totals_with_no_groups(traffic) -> None:
    (total,) = usage(by=()).to_dict("records")
    assert {k: total[k] for k in ("requests", "ok", "rejected", "failed", "input_tokens", "output_tokens",
                                  "fallbacks", "retries")} == {
        "requests": 7, "ok": 5, "rejected": 1, "failed": 1, "input_tokens": 650, "output_tokens": 120,
        "fallbacks": 1, "retries": 2 + 1 + 1}
    assert total["cost_usd"] == pytest.approx(0.085)
    waited = [100, 300, 50, 400, 200, 100]  # the rejection (0.5 ms) never reached an upstream
    assert total["p50_ms"] == pytest.approx(np.percentile(waited, 50))
    assert total["p95_ms"] == pytest.approx(np.percentile(waited, 95))


def test_every_group_name(traffic) -> None:
    by_deployment = usage(by="deployment")
    assert list(by_deployment.deployment) == ["backup", "primary"]
    assert list(by_deployment.requests) == [1, 6]
    people = usage(by=("user", "team", "project"))
    assert people[["user", "team", "project", "requests"]].fillna("-").values.tolist() == [
        ["u1", "red", "-", 2], ["-", "-", "search", 1], ["-", "-", "-", 4]]  # missing values sort last
    assert dict(zip(usage(by=["status"]).status, usage(by=["status"]).requests)) == {
        "failed": 1, "ok": 5, "rejected": 1}
    hours = usage(by=("hour", "model"))
    assert hours.hour.iloc[0].to_pydatetime() == (DAY1 + dt.timedelta(hours=9)).replace(tzinfo=None)
    assert len(hours) == 4 and hours.requests.sum() == 7
    assert list(usage(by=("model", "model")).columns[:2]) == ["model", "requests"]  # twice is once


def test_since_and_until(traffic) -> None:
    assert usage(since="7d", by=()).requests[0] == 4
    assert usage(since="168h", by=()).requests[0] == 4
    assert usage(until=dt.timedelta(days=7), by=()).requests[0] == 3
    assert usage(since=DAY2, by=()).requests[0] == 4
    assert usage(since=DAY1.isoformat(), until=DAY2.date().isoformat() + "Z", by=()).requests[0] == 3
    assert usage(since=DAY2 + dt.timedelta(hours=14, minutes=1), until=DAY2 + dt.timedelta(hours=14, minutes=2),
                 by=()).rejected[0] == 1  # until is exclusive
    assert usage(since="1d").empty


def test_bad_arguments_say_what_to_write() -> None:
    with pytest.raises(ValueError, match=r"cannot group by 'modle'\. Did you mean 'model'\?.*day, hour, key"):
        usage(by=("day", "modle"))
    with pytest.raises(TypeError, match="group names"):
        usage(by=3)
    with pytest.raises(ValueError, match=r"'7 days'.*'7d'"):
        usage(since="7 days")
    with pytest.raises(TypeError, match="path to a DuckDB file"):
        usage(store=42)


@pytest.mark.file_store
def test_another_store_by_path(traffic, store_path, tmp_path) -> None:
    assert usage(store=store_path, by=()).requests[0] == 7
    assert usage(store=str(tmp_path / "empty.duckdb")).empty  # a new file: migrated, no requests


def _json(figure) -> dict:
    return json.loads(figure.to_json())


def test_figure_draws_spend_by_key_and_requests_by_model(traffic) -> None:
    figure = usage_figure(usage())
    spend = [t for t in figure.data if t.legendgroup == "panel1"]
    counts = [t for t in figure.data if t.legendgroup == "panel2"]
    assert [t.name for t in spend] == ["alice", "bob", "key_a", "owner"]  # the biggest spender first
    assert sum(sum(t.y) for t in spend) == pytest.approx(0.085)
    assert sorted(t.name for t in counts) == ["chat", "embed"]
    assert sum(sum(t.y) for t in counts) == 7
    assert all(t.xaxis == "x" for t in spend) and all(t.xaxis == "x2" for t in counts)
    layout = _json(figure)["layout"]
    assert layout["barmode"] == "stack" and "Gateway usage" in layout["title"]["text"]
    assert layout["yaxis"]["title"]["text"] == "Spend ($)" and layout["yaxis2"]["title"]["text"] == "Requests"
    assert "xaxis3" not in layout  # no budgets, no budget panel
    assert "$%{y:,.4f}" in spend[0].hovertemplate


def test_figure_budget_panel(traffic) -> None:
    budgets = [{"scope": "key", "scope_id": "key_a", "window": "daily", "spent": 4.0, "reserved": 0.5,
                "max_budget": 5.0, "resets_at": "2026-12-07T00:00:00Z"},
               {"scope": "team", "scope_id": "red", "window": "monthly", "spent": 1.0, "reserved": 0.0,
                "max_budget": 10.0, "resets_at": "2027-01-01T00:00:00Z"},
               {"scope": "user", "scope_id": "nocap", "window": "daily", "spent": 1.0, "reserved": 0.0,
                "max_budget": None, "resets_at": None}]
    figure = usage_figure(usage(by=("day", "model")), budgets=budgets)
    bars = {t.name: t for t in figure.data if t.legendgroup == "budgets"}
    assert set(bars) == {"spent", "reserved"}
    assert list(bars["spent"].y) == ["key key_a (daily)", "team red (monthly)"]  # no cap, no bar
    assert list(bars["spent"].x) == pytest.approx([0.8, 0.1])
    assert list(bars["reserved"].x) == pytest.approx([0.1, 0.0])
    assert bars["spent"].orientation == "h" and bars["spent"].xaxis == "x3"
    assert [s.x0 for s in figure.layout.shapes] == [1.0]  # the 100% line
    spend = [t.name for t in figure.data if t.legendgroup == "panel1"]
    assert spend == ["chat", "embed"]  # without a key column: split by the other group column


def test_names_from_the_data_show_as_text(traffic) -> None:
    request(DAY2 + dt.timedelta(hours=20), 10, key_name=EVIL, model="a&b", cost=1.0)
    budgets = [{"scope": "key", "scope_id": EVIL, "window": "daily", "spent": 1, "reserved": 0, "max_budget": 2,
                "resets_at": "<b>soon</b>"}]
    figure = usage_figure(usage(), budgets=budgets)
    text = json.dumps(_json(figure))  # decoded: plotly's JSON writes "<" as \u003c, which would hide a raw one
    assert "<img" not in text and "<b>soon" not in text
    assert "&lt;img src=x onerror=alert(1)&gt;" in text and "&lt;b&gt;soon&lt;/b&gt;" in text
    assert "a&amp;b" in {t.name for t in figure.data}


def test_figure_of_nothing_and_of_something_else() -> None:
    figure = usage_figure(usage())
    assert not figure.data and "No gateway requests" in figure.layout.annotations[-1].text
    with pytest.raises(ValueError, match="lacks cost_usd, requests"):
        usage_figure(llmops_nb.sql("SELECT 1 AS x"))
    with pytest.raises(TypeError, match="list of dicts"):
        usage_figure(usage(), budgets=["key alice"])


def test_importing_the_report_loads_no_heavy_module() -> None:
    code = ("import sys, llmops_nb, llmops_nb.gateway._usage; "
            "print(sorted(m for m in ('plotly', 'pandas', 'duckdb') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
