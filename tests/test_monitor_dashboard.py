"""``dashboard()`` (``llmops_nb/monitor/_dashboard*.py``) on a real store: traffic through the tracing API,
judge scores as the monitor writes them, then the live plotly figure, the SVG snapshot, refreshing (from
the monitor's thread too), the rolling window, the empty state, errors, and the snapshot without matplotlib."""

from __future__ import annotations

import datetime as dt
import gc
import json
import re
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import plotly.graph_objects as go
import pytest

import llmops_nb
from llmops_nb.monitor._dashboard import Dashboard, dashboard
from llmops_nb.monitor._dashboard_charts import CHARTS, MAX_GROUPS, layout
from llmops_nb.monitor._dashboard_svg import BUCKETS, _decimated
from llmops_nb.store import get_store
from llmops_nb.tracing import start_span
from llmops_nb.widgets._base import SAVED_VIEW_MIME, WIDGET_MIME

UTC = dt.timezone.utc
EVIL = "<img src=x onerror=alert(1)>"
ESCAPED = "&lt;img src=x onerror=alert(1)&gt;"


def call(model: str, *, ms: float = 120.0, tokens: tuple[int, int] = (100, 20), cost: float = 0.001,
         at: dt.datetime | None = None, fail: bool = False) -> str:
    """One request: an LLM span of ``model``, now (through ``llmops_nb.span``) or at ``at`` (history)."""
    attributes = {"gen_ai.request.model": model, "gen_ai.usage.input_tokens": tokens[0],
                  "gen_ai.usage.output_tokens": tokens[1], "llmops_nb.cost_usd": cost}
    if at is None:
        try:
            with llmops_nb.span("chat", kind="LLM", attributes=attributes) as span:
                if fail:
                    raise TimeoutError("upstream timed out")
        except TimeoutError:
            pass
        return span.trace_id
    span = start_span("chat", kind="LLM", attributes=attributes, parent=False)
    span.start_ns = int(at.timestamp() * 1e9)
    span.end(end_ns=span.start_ns + int(ms * 1e6))
    return span.trace_id


def score(trace_id: str, name: str, value: float | bool, at: dt.datetime | None = None,
          passed: bool | None = None) -> None:
    """A judge's assessment of a trace, as an online scorer writes it (a number may carry a verdict too)."""
    passed = value if isinstance(value, bool) else passed
    with get_store().connect() as con:
        con.execute("INSERT INTO assessments (assessment_id, trace_id, name, source_type, source_id, value, "
                    "value_number, passed, created_at) VALUES (?, ?, ?, 'LLM_JUDGE', 'judge', ?, ?, ?, ?)",
                    [f"{abs(hash((trace_id, name))):032x}"[:32], trace_id, name, json.dumps(value), float(value),
                     passed, (at or dt.datetime.now(UTC)).replace(tzinfo=None)])


@pytest.fixture
def traffic() -> dict[str, list[str]]:
    """Three calls of alpha (one failed), two of a model named like markup; a judge passed 2 of alpha's."""
    ids = {"alpha": [call("alpha"), call("alpha", ms=300), call("alpha", fail=True)],
           EVIL: [call(EVIL, tokens=(50, 10)), call(EVIL, tokens=(50, 10))]}
    assert llmops_nb.flush(timeout=30)
    for trace_id, verdict in zip(ids["alpha"], (True, True, False)):
        score(trace_id, "relevance", verdict)
    return ids


def panel(figure, chart: str):
    """The lines of one chart, its bands left out."""
    return [t for t in figure.data if t.meta["chart"] == chart and not t.meta["series"].endswith("band")]


def total(traces, name: str) -> float:
    return sum(v for t in traces if t.name == name for v in t.y if v == v)


class Parts(HTMLParser):
    """The snapshot's tags (by name) and its visible text, from the HTML a browser would parse."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []
        self.captions: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self._in_caption = False

    def handle_starttag(self, tag, attrs) -> None:
        self.tags.append(tag)
        self.attrs += attrs
        self._in_caption = self._in_caption or tag == "figcaption"
        if tag == "figcaption":
            self.captions.append("")

    def handle_endtag(self, tag) -> None:
        if tag == "figcaption":
            self._in_caption = False

    def handle_data(self, data) -> None:
        self.text.append(data)
        if self._in_caption:
            self.captions[-1] += data


def parts(html: str) -> Parts:
    parsed = Parts()
    parsed.feed(html)
    return parsed


# -- the live figure ----------------------------------------------------------------------------

def test_a_chart_per_metric_and_a_line_per_group(traffic) -> None:
    board = dashboard(by="model")
    assert board.charts == ("requests", "errors", "latency", "ttft", "tokens", "cost", "score:relevance",
                            "guardrails")
    go.Figure(board._figure())  # every property valid (the live widget takes the dicts unvalidated)
    figure = board.figure
    titles = [a.text for a in figure.layout.annotations]
    assert len(titles) == len(board.charts)
    requests = panel(figure, "requests")
    # one line per group, the busiest first; a name from a trace escaped (plotly reads names as HTML)
    assert [t.name for t in requests] == ["alpha", ESCAPED]
    assert total(requests, "alpha") == 3 and total(requests, ESCAPED) == 2
    assert requests[0].hovertemplate == "%{fullData.name}: %{y:,.0f} requests<extra></extra>"
    errors = panel(figure, "errors")
    assert max(v for v in errors[0].y if v == v) == pytest.approx(1 / 3)  # alpha's failed call, in its bucket
    assert "%{customdata[0]:,.0f} of %{customdata[1]:,.0f} requests" in errors[0].hovertemplate
    latency = panel(figure, "latency")
    assert [(t.name, t.line.dash) for t in latency[:3]] == [("alpha", "solid"), ("alpha", "dash"), ("alpha", "dot")]
    assert latency[1].hovertemplate.startswith("%{fullData.name} p95: %{y:,.0f} ms")
    tokens = panel(figure, "tokens")
    assert total(tokens, ESCAPED) == 2 * 50 + 2 * 10  # input then output line of the group
    # a legend entry per group (once, not per chart); times on a UTC date axis
    assert sorted(t.name for t in figure.data if t.showlegend) == sorted(["alpha", ESCAPED])
    assert figure.layout.showlegend is True
    assert all(figure.layout[k].type == "date" for k in figure.layout if k.startswith("xaxis"))
    assert "UTC" in figure.layout.xaxis.hoverformat and figure.layout.hovermode == "x unified"
    text = json.dumps(json.loads(figure.to_json()))  # decoded: plotly's JSON writes "<" as \u003c
    assert "<img" not in text and ESCAPED in text


def test_a_judge_chart_draws_its_pass_rate_and_band_on_zero_to_one(traffic) -> None:
    board = dashboard(charts=["score:relevance", "requests"])
    assert board.charts == ("score:relevance", "requests")
    figure = board.figure
    notes = [a.text for a in figure.layout.annotations]
    assert notes[0].startswith("<b>Score: relevance</b>")
    rate = [t for t in figure.data if t.name == "pass rate"]
    assert len(rate) == 1 and max(v for v in rate[0].y if v == v) == pytest.approx(2 / 3)
    band = [t for t in figure.data if t.hoverinfo == "skip"]
    assert [t.fill for t in band] == [None, "tonexty"]  # low, then high filled down to it
    assert band[0].y is not None and all(lo <= hi for lo, hi in zip(band[0].y, band[1].y) if lo == lo)
    assert list(figure.layout.yaxis.range) == [0, 1] and figure.layout.yaxis.tickformat == ".0%"
    assert "95% CI %{customdata[0]:.1%}–%{customdata[1]:.1%}" in rate[0].hovertemplate
    assert not any(t.name == "mean" for t in figure.data)  # a pass/fail judge's mean is its pass rate


def test_a_numeric_judge_gets_its_mean_and_band_and_scorers_are_escaped() -> None:
    now = dt.datetime.now(UTC)
    for i, value in enumerate((4.0, 2.0, 5.0)):
        trace_id = call("beta", at=now - dt.timedelta(minutes=30 + i))
        llmops_nb.flush(timeout=30)
        score(trace_id, EVIL, value, at=now - dt.timedelta(minutes=30 + i))
    board = dashboard(charts="scores")
    assert board.charts == (f"score:{EVIL}",)
    figure = board.figure
    assert figure.layout.annotations[0].text.startswith(f"<b>Score: {ESCAPED}</b>")
    assert "shaded: mean's 95% interval" in figure.layout.annotations[0].text
    mean = [t for t in figure.data if t.name == "mean"]
    assert len(mean) == 1 and max(v for v in mean[0].y if v == v) == pytest.approx(11 / 3)
    assert [t.fill for t in figure.data if t.hoverinfo == "skip"] == [None, "tonexty"]
    assert figure.layout.yaxis.range is None  # a 1-5 scale is not forced onto [0, 1]


def test_a_judge_with_verdicts_on_a_1_to_5_scale_puts_its_mean_on_a_second_axis() -> None:
    now = dt.datetime.now(UTC)
    for i, (value, passed) in enumerate(((4.0, True), (2.0, False), (5.0, True))):
        trace_id = call("beta", at=now - dt.timedelta(minutes=30 + i))
        llmops_nb.flush(timeout=30)
        score(trace_id, "stars", value, at=now - dt.timedelta(minutes=30 + i), passed=passed)
    board = dashboard(charts=["requests", "score:stars"])
    go.Figure(board._figure())  # the second axis is valid plotly
    figure = board.figure
    rate, mean = (next(t for t in figure.data if t.name == name) for name in ("pass rate", "mean"))
    assert max(v for v in rate.y if v == v) == pytest.approx(2 / 3) and rate.yaxis == "y2"
    assert mean.yaxis == "y3" and figure.layout.yaxis3.overlaying == "y2" and figure.layout.yaxis3.side == "right"
    assert list(figure.layout.yaxis2.range) == [0, 1]
    svg = board.snapshot()["text/html"]
    assert svg.count("<svg") == 2


def test_the_mimebundle_has_the_widget_the_snapshot_and_a_summary(traffic) -> None:
    board = dashboard(by="model", charts=["requests", "errors", "cost"])
    bundle = board._repr_mimebundle_()
    assert {WIDGET_MIME, "text/html", "text/plain", SAVED_VIEW_MIME} <= set(bundle)
    assert bundle[WIDGET_MIME]["model_id"] == board._view.model_id
    plain = bundle["text/plain"]
    assert plain.startswith("Monitoring · last 24h · every 1h · by model: 5 requests in 2 groups, updated ")
    assert "alpha: last traffic (UTC) " in plain and "requests 3 · errors 1 (33.3%) · cost $0.0030" in plain
    assert f"{EVIL}: " in plain  # text/plain is text: shown as typed
    assert repr(board) == plain


# -- the snapshot -------------------------------------------------------------------------------

def test_the_snapshot_carries_every_chart_as_svg_and_strings_as_text(traffic) -> None:
    board = dashboard(by="model")
    html = board.snapshot()["text/html"]
    parsed = parts(html)
    svgs = re.findall(r"<svg\b.*?</svg>", html, flags=re.S)
    assert len(svgs) == parsed.tags.count("svg") == len(board.charts) == 8
    for svg in svgs:
        ET.fromstring(svg)  # well-formed: each chart stands alone as an SVG document
        assert "<style" not in svg and "<metadata" not in svg  # no page-wide CSS, no RDF with URLs
    assert [c.split(" · ")[0] for c in parsed.captions] == [
        "Requests", "Error rate", "Latency (ms)", "Time to first token (ms)", "Tokens", "Cost (USD)",
        "Score: relevance", "Guardrail events"]
    assert parsed.captions[2] == "Latency (ms) · p50 solid · p95 dashed · p99 dotted"
    # nothing runs, loads or links; the hostile model name is text (legend, table), never a tag
    assert "script" not in parsed.tags and "img" not in parsed.tags and "a" not in parsed.tags
    assert "<script" not in html and "<img" not in html and "<style" not in html
    links = [(k, v) for k, v in parsed.attrs if k.endswith(("href", "src")) or k.startswith("on")]
    assert {k for k, _ in links} <= {"xlink:href"} and all(v.startswith("#") for _, v in links)  # SVG's own refs
    assert "url(http" not in html
    assert set(re.findall(r"https?://[^\s\"'<>]+", html)) <= {"http://www.w3.org/2000/svg",
                                                              "http://www.w3.org/1999/xlink"}
    assert html.count(ESCAPED) == 2 and EVIL in "".join(parsed.text)
    assert "5 requests" in html and "<table" in html


def test_the_snapshot_without_matplotlib_is_a_table_with_a_note(traffic, monkeypatch) -> None:
    for name in [n for n in sys.modules if n == "matplotlib" or n.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    board = dashboard(by="model")
    html = board.snapshot()["text/html"]
    assert "<svg" not in html and "<table" in html
    assert "pip install &#x27;llmops_nb[monitor]&#x27;" in html
    table = parts(html)
    assert "alpha" in table.text and EVIL in table.text and "img" not in table.tags
    assert "62%" not in html and "67% pass (CI" in html  # the judge's last bucket: 2 of 3 passed


# -- refreshing ---------------------------------------------------------------------------------

def test_refresh_picks_up_new_traces_in_place_and_renews_the_snapshot(traffic) -> None:
    board = dashboard(by="model", charts=["requests", "latency"])
    figure = board.figure
    first = figure.data[0]
    html_before = board.snapshot()["text/html"]
    for _ in range(4):
        call("alpha")
    assert llmops_nb.flush(timeout=30)
    assert board.refresh() is board
    assert figure is board.figure and figure.data[0] is first  # the same lines, new values
    assert total(panel(figure, "requests"), "alpha") == 7
    assert "updated" in figure.layout.title.text
    after = board.snapshot()
    assert after["text/html"] != html_before and "9 requests" in after["text/plain"]
    assert board._status.snapshot == after and "9 requests in 2 groups" in board._status.status
    # a new group changes the lines: the figure is rebuilt, still one widget
    call("gamma")
    assert llmops_nb.flush(timeout=30)
    board.refresh()
    assert figure is board.figure and [t.name for t in panel(figure, "requests")] == ["alpha", ESCAPED, "gamma"]


def test_a_chart_that_goes_away_takes_its_axes_with_it(traffic) -> None:
    from llmops_nb.monitor._dashboard_figure import apply

    three, two = dashboard(charts=["requests", "errors", "cost"]), dashboard(charts=["requests", "errors"])
    figure = three.figure
    assert "xaxis3" in figure.layout and "yaxis3" in figure.layout
    apply(figure, go.Figure(two._figure()))
    axes = {k for k in figure.layout if k.startswith(("xaxis", "yaxis"))}
    assert axes == {"xaxis", "yaxis", "xaxis2", "yaxis2"} and len(figure.layout.annotations) == 2
    assert {t.meta["chart"] for t in figure.data} == {"requests", "errors"}


def test_the_window_rolls_with_the_clock() -> None:
    call("alpha")
    assert llmops_nb.flush(timeout=30)
    board = dashboard(since="3s", every="1s", charts=["requests"])
    assert board.data["requests"].sum() == 1
    first_until = board.data.attrs["until"]
    deadline = time.monotonic() + 30
    while board.data["requests"].sum():  # the call leaves the last 3 s as time passes; no new traffic
        assert time.monotonic() < deadline, "the window did not move"
        time.sleep(0.5)
        board.refresh()
    assert board.data.attrs["until"] > first_until
    assert "No traces in this window" in repr(board)
    assert any("No traces in this window" in (a.text or "") for a in board.figure.layout.annotations)


def test_a_monitor_refreshes_it_on_its_thread_until_it_is_gone(traffic) -> None:
    class StandIn:  # the Monitor's subscribe/unsubscribe, holding callbacks strongly (the harder case)
        def __init__(self) -> None:
            self.callbacks: list = []

        def subscribe(self, callback) -> None:
            self.callbacks.append(callback)

        def unsubscribe(self, callback) -> None:
            self.callbacks.remove(callback)

        def run_pass(self) -> None:
            for callback in list(self.callbacks):
                callback({"scored": 0})

    monitor = StandIn()
    board = dashboard(by="model", charts=["requests"], monitor=monitor)
    figure = board.figure
    assert len(monitor.callbacks) == 1 and "refreshes after each monitor pass" in board._status.status
    call("alpha")
    assert llmops_nb.flush(timeout=30)
    passes = [threading.Thread(target=monitor.run_pass) for _ in range(3)]  # overlapping passes, one at a time
    for thread in passes:
        thread.start()
    board.refresh()
    for thread in passes:
        thread.join(60)
    assert total(panel(figure, "requests"), "alpha") == 4
    del board, figure
    gc.collect()
    assert monitor.callbacks == []  # collected: unsubscribed, no more refreshes


def test_close_stops_following_and_closes_the_widgets(traffic) -> None:
    monitor = type("M", (), {"subscribe": lambda self, c: setattr(self, "c", c),
                             "unsubscribe": lambda self, c: setattr(self, "gone", c)})()
    board = dashboard(monitor=monitor, charts=["requests"])
    view = board._live()
    board.close()
    assert monitor.gone is monitor.c and view.comm is None
    with pytest.raises(TypeError, match=r"takes a Monitor \(it has subscribe\(\) and unsubscribe\(\)\)"):
        dashboard(monitor="every minute")


# -- empty, wrong ---------------------------------------------------------------------------------

def test_no_traffic_shows_the_empty_state() -> None:
    board = dashboard(by="model")
    assert board.data.empty or board.data["requests"].sum() == 0
    bundle = board._repr_mimebundle_()
    assert "No traces in this window: nothing to chart yet." in bundle["text/plain"]
    assert "No traces in this window" in bundle["text/html"] and "<svg" not in bundle["text/html"]
    assert any("No traces in this window" in (a.text or "") for a in board.figure.layout.annotations)


def test_bad_arguments_raise_at_the_call() -> None:
    with pytest.raises(ValueError, match="Did you mean 'latency'"):
        dashboard(charts=["latncy"])
    with pytest.raises(ValueError, match="is empty"):
        dashboard(charts=[])
    with pytest.raises(ValueError, match=r"cannot group by 'modle'.*Did you mean 'model'"):
        dashboard(by="modle")
    with pytest.raises(ValueError, match="every='1 hour'"):
        dashboard(every="1 hour")
    with pytest.raises(Exception, match="no_such_column"):
        dashboard(where="no_such_column = 1")


def test_many_groups_are_capped_and_a_long_line_keeps_its_extremes() -> None:
    import numpy as np
    import pandas as pd

    now = pd.Timestamp.now("UTC").tz_localize(None).floor("h")
    frame = pd.DataFrame({"time": [now] * (MAX_GROUPS + 3), "model": [f"m{i}" for i in range(MAX_GROUPS + 3)],
                          "requests": range(MAX_GROUPS + 3)})
    drawn = layout(frame, ["model"], CHARTS)
    assert len(drawn.groups) == MAX_GROUPS and drawn.hidden_groups == 3
    assert drawn.groups[0].label == f"m{MAX_GROUPS + 2}"  # the busiest first
    y = np.sin(np.arange(2000) / 30.0)
    y[777], y[1500:1600] = 9.0, np.nan
    keep = _decimated(y)
    assert len(keep) <= 2 * BUCKETS and 777 in keep and np.all(np.diff(keep) > 0)
    assert np.isnan(y[keep]).any()  # a gap stays a gap


def test_importing_the_dashboard_loads_no_heavy_module() -> None:
    code = ("import sys, llmops_nb, llmops_nb.monitor._dashboard; "
            "print(sorted(m for m in ('plotly', 'pandas', 'matplotlib', 'anywidget', 'duckdb') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_it_is_a_dashboard(traffic) -> None:
    assert isinstance(dashboard(), Dashboard)
