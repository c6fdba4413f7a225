"""EvalTable's usage, histograms and snapshot on a real store: each row's tokens and cost (the app's,
and the whole row trace's with the judge), both runs' latency/tokens/cost in a comparison, histograms
placed on their value axis, the snapshot (rationales, pass/fail in coloured words, usage columns, SVG
histograms, feedback; every string escaped) and the ``snapshot`` request the view sends after feedback."""

from __future__ import annotations

import html
from html.parser import HTMLParser

import openai
import pandas as pd
import pytest

import llmops_nb
from llmops_nb.evals import evaluate, log_feedback, make_judge, scorers
from llmops_nb.models import forget_models
from llmops_nb.widgets.eval_table._widget import EvalTable
from tests.fakes import FakeLLMServer, Reply, Usage
from tests.test_widget_eval_table import Kernel

HOSTILE = '<img src=x onerror="alert(1)"><script>alert(2)</script>'
QUESTIONS = ["q0", "q1", "q2"]
PRICE_IN, PRICE_OUT = 0.15e-6, 0.6e-6  # gpt-4o-mini, llmops_nb/data/prices.json


def app_for(server, client):
    def app(question):
        reply = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": question}])
        return reply.choices[0].message.content

    return app


@pytest.fixture
def priced():
    """A baseline and a candidate of the same rows, the app priced per call, the baseline also judged
    (its judge priced, with a hostile rationale)."""
    data = [{"inputs": {"question": q}, "expectations": {"expected_response": f"echo {q}"}} for q in QUESTIONS]
    with FakeLLMServer() as server:
        client = openai.OpenAI(base_url=server.openai_base_url, api_key="sk-test", max_retries=0)
        judge = make_judge("helpful", "Helpful? {{ outputs }}",
                           model=f"openai:/gpt-4o-mini?base_url={server.openai_base_url}&max_retries=0")
        server.enqueue(*[r for q in QUESTIONS for r in (
            Reply(text=f"echo {q}", usage=Usage(100, 10)),
            Reply(text=f'{{"result": "no", "rationale": "{HOSTILE.replace(chr(34), chr(39))} for {q}"}}',
                  usage=Usage(1000, 100)))])
        base = evaluate(data, predict_fn=app_for(server, client), scorers=[scorers.exact_match(), judge],
                        name="base", max_concurrency=1, progress=False)
        server.enqueue(*[Reply(text="wrong", usage=Usage(200, 20)) for _ in QUESTIONS])
        cand = evaluate(data, predict_fn=app_for(server, client), scorers=[scorers.exact_match()], name="cand",
                        max_concurrency=1, progress=False)
        client.close()
    yield base, cand
    forget_models()
    llmops_nb.autolog(disable=True)


def test_each_row_has_the_apps_tokens_and_cost_and_its_whole_traces(priced):
    base, _ = priced
    k = Kernel(EvalTable(base))
    rows = k.data("page")["rows"]
    app_cost = 100 * PRICE_IN + 10 * PRICE_OUT
    judge_cost = 1000 * PRICE_IN + 100 * PRICE_OUT
    for row in rows:
        assert row["tokens"] == 110 and row["cost_usd"] == pytest.approx(app_cost)
        assert row["trace_tokens"] == 110 + 1100 and row["trace_cost_usd"] == pytest.approx(app_cost + judge_cost)
    assert base.input_tokens.tolist() == [100] * 3 and base.cost_usd.astype(float).tolist() == pytest.approx(
        [app_cost] * 3)
    detail = k.data("row", {"row": 0})
    assert detail["trace_cost_usd"] == pytest.approx(app_cost + judge_cost)
    usage = k.data("summary")["usage"]
    assert usage["tokens"] == 330 and usage["cost_usd"] == pytest.approx(3 * app_cost)
    assert usage["trace_cost_usd"] == pytest.approx(3 * (app_cost + judge_cost))
    assert usage["latency_ms"] == pytest.approx(base.latency_ms.astype(float).mean())
    ordered = k.data("page", {"sort": {"column": "cost", "descending": True}})["rows"]
    assert len(ordered) == 3


def test_a_comparison_carries_both_runs_latency_tokens_and_cost(priced):
    base, cand = priced
    k = Kernel(EvalTable(cand, compare_to=base))
    compare = base.attrs["run_id"]
    for row in k.data("page", {"compare": compare})["rows"]:
        i = row["row"]
        assert row["base"]["tokens"] == 110 and row["tokens"] == 220
        assert row["base"]["cost_usd"] == pytest.approx(float(base.cost_usd[i]))
        assert row["cost_usd"] == pytest.approx(float(cand.cost_usd[i]))
        assert row["base"]["latency_ms"] == pytest.approx(float(base.latency_ms[i]))
    summary = k.data("summary", {"compare": compare})
    assert summary["base_usage"]["tokens"] == 330 and summary["usage"]["tokens"] == 660
    assert summary["usage"]["cost_usd"] == pytest.approx(2 * summary["base_usage"]["cost_usd"])
    assert summary["base_usage"]["latency_ms"] == pytest.approx(base.latency_ms.astype(float).mean())


def scored_frame(values):
    return pd.DataFrame({"inputs": [{"q": i} for i in range(len(values))], "outputs": ["x"] * len(values),
                         "rouge/value": values, "rouge/rationale": [None] * len(values),
                         "rouge/error": [None] * len(values)})


@pytest.mark.parametrize(("values", "axis"), [
    ([0.3 + i * 0.02 for i in range(30)], (0.0, 1.0)),  # a ROUGE: drawn on [0, 1], not on [0.3, 0.88]
    ([10 + i for i in range(31)], (10.0, 40.0)),  # beyond [0, 1]: the values' own range
])
def test_many_values_are_binned_on_a_value_axis(values, axis):
    hist = Kernel(EvalTable(scored_frame(values))).data("summary")["scorers"][0]["histogram"]
    assert hist["kind"] == "bins" and hist["axis"] == {"min": axis[0], "max": axis[1]}
    width = (axis[1] - axis[0]) / 10
    for k, b in enumerate(hist["bins"]):
        assert (b["lo"], b["hi"]) == pytest.approx((axis[0] + k * width, axis[0] + (k + 1) * width))
        assert (b["x0"], b["x1"]) == pytest.approx((k / 10, (k + 1) / 10))
        inside = [v for v in values if b["lo"] <= v < b["hi"] or (k == 9 and v == b["hi"])]
        assert b["count"] == len(inside)
    assert [(t["x"], t["label"]) for t in hist["ticks"]] == [(0.0, f"{axis[0]:g}"), (1.0, f"{axis[1]:g}")]


def test_a_few_values_stand_at_their_place_on_the_axis():
    hist = Kernel(EvalTable(scored_frame([0.0, 0.1, 0.1, 1.0]))).data("summary")["scorers"][0]["histogram"]
    assert hist["kind"] == "values" and hist["axis"] == {"min": 0.0, "max": 1.0}
    centres = [(b["x0"] + b["x1"]) / 2 for b in hist["bins"]]
    left, right = hist["ticks"][0]["x"], hist["ticks"][1]["x"]
    assert centres == pytest.approx([left, left + 0.1 * (right - left), right])  # not three equal slots
    assert [b["count"] for b in hist["bins"]] == [1, 2, 1] and 0 <= hist["bins"][0]["x0"] < hist["bins"][-1]["x1"] <= 1


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: set[str] = set()
        self.styles: set[str] = set()
        self.rects: list[dict] = []

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        found = dict(attrs)
        if "style" in found:
            self.styles.add(found["style"])
        if tag == "rect":
            self.rects.append(found)


def test_the_snapshot_has_rationales_verdict_colours_usage_histograms_and_feedback(priced):
    base, _ = priced
    log_feedback(base.trace_id[2], value=True, label="good one", comment=HOSTILE, author="ana")
    page = EvalTable(base).snapshot()["text/html"]
    parsed = _Page()
    parsed.feed(page)
    assert "<img" not in page and "<script" not in page
    assert html.escape(HOSTILE.replace('"', "'"), quote=True) in page  # the judge's rationale, as text
    assert html.escape(HOSTILE, quote=True) in page  # the feedback's comment, as text
    assert not {"✅", "❌", "✓", "✗"} & set(page)
    assert ">pass</span>" in page and ">fail</span>" in page and ">thumbs up</span>" in page
    # colours are ours, from a fixed set
    assert parsed.styles <= {"color:#1a7f37;font-weight:600", "color:#cf222e;font-weight:600", "opacity:.7",
                             "text-align:left;vertical-align:top"}
    assert "<th>tokens</th>" in page and "<th>cost</th>" in page and "<td>110</td>" in page
    assert "$0.000021" in page and "with scoring $0.00023" in page
    assert "svg" in parsed.tags and parsed.rects  # histograms drawn, not written as text
    assert "true:" not in EvalTable(base).snapshot()["text/plain"].split("\n")[2]


def test_a_comparison_snapshot_shows_the_changes(priced):
    base, cand = priced
    shown = EvalTable(cand, compare_to=base).snapshot()
    assert "tokens 330 → 660 (+330)" in shown["text/plain"]
    assert "<td>110 → 220 <span" in shown["text/html"]


def test_the_snapshot_request_answers_the_mimebundles_snapshot_with_feedback_given_since(priced):
    base, _ = priced
    widget = EvalTable(base)
    k = Kernel(widget)
    before = k.data("snapshot")
    assert before == widget.snapshot() and set(before) == {"text/html", "text/plain"}
    assert "thumbs down" not in before["text/html"]
    k.data("feedback", {"row": 1, "value": False, "label": "off topic"})
    after = k.data("snapshot")
    assert "thumbs down" in after["text/html"] and "off topic" in after["text/html"]
    assert "feedback on 1 (0 up, 1 down)" in after["text/plain"]
    assert after == widget.snapshot()  # the same code as the mimebundle's
    narrowed = k.data("snapshot", {"filters": {"feedback": "down"}})
    assert narrowed["text/html"].count("<tr><td>") == 1
    assert "scorer" in k.data("snapshot", {"filters": {"scorer": "nope", "result": "fail"}})["text/plain"]
