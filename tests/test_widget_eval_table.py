"""EvalTable: every RPC method on a real store written by ``evaluate()`` (deterministic scorers and
an LLM judge answered by the fake server), the same rules as ``compare_runs`` and ``Scorer.passes``,
feedback read back with ``feedback()``, rows turned into a dataset version, DataFrames that are not
stored runs, the script-free snapshot, and the widget shown after ``evaluate()`` in a real kernel."""

from __future__ import annotations

import html
import json
import threading
import time
from html.parser import HTMLParser

import pandas as pd
import pytest

import llmops_nb
from llmops_nb.evals import compare_runs, datasets, evaluate, feedback, log_feedback, make_judge, scorers
from llmops_nb.evals._scorer import Scorer
from llmops_nb.models import forget_models
from llmops_nb.store._connection import get_store
from llmops_nb.widgets._rpc import RpcServer
from llmops_nb.widgets.eval_table._reader import Reader
from llmops_nb.widgets.eval_table._sides import is_eval_frame, side_of
from llmops_nb.widgets.eval_table._snapshot import EvalTableSnapshot
from llmops_nb.widgets.eval_table._sql import View
from llmops_nb.widgets.eval_table._widget import EvalTable, display_eval, eval_table, evaluation_bundle
from tests.fakes import FakeLLMServer, Reply
from tests.support import errors, outputs_text, run_cells

XSS = ['<img src=x onerror="alert(1)">', "<script>alert(2)</script>"]
QUESTIONS = [
    ("What is the capital of France?", "Paris"),
    ("What is 2 + 2?", "4"),
    (XSS[0], "nothing"),
    ('Say "100%_done"', "100%_done"),
    ("Who wrote Hamlet?", "Shakespeare"),
]
ANSWERS = {"France": "Paris", "2 + 2": "5", "Say": "100%_done"}
JUDGE_REPLIES = ['{"rationale": "names Paris", "result": "yes"}', "No. It says 5.",
                 f"I cannot tell {XSS[1]}", "Yes", '{"result": "yes", "rationale": "right author"}']


def app(question):
    if "Hamlet" in question:
        raise RuntimeError("the library is closed")
    return next((v for k, v in ANSWERS.items() if k in question), XSS[1])


def better(question):
    return app(question).replace("5", "4") if "Hamlet" not in question else "William Shakespeare"


@scorers.scorer(threshold=0.5)
def overlap(outputs, expectations):
    a, b = set(str(outputs).lower().split()), set(expectations["expected_response"].lower().split())
    return {"value": len(a & b) / max(1, len(b)), "rationale": f"{len(a & b)} of {len(b)} expected words"}


class Kernel:
    """The comm's side of the RPC: answers collected, serialized as the comm would (JSON, no NaN)."""

    def __init__(self, widget):
        self.responses: dict = {}
        self.arrived = threading.Condition()
        self.server = RpcServer(widget._rpc.methods, self.send)
        self.count = 0

    def send(self, message):
        json.dumps(message, allow_nan=False)
        with self.arrived:
            self.responses[message["id"]] = message
            self.arrived.notify_all()

    def ask(self, method, params=None):
        self.count += 1
        req_id = f"r{self.count}"
        self.server.handle({"type": "request", "id": req_id, "method": method, "params": params or {}})
        with self.arrived:
            assert self.arrived.wait_for(lambda: req_id in self.responses, 20), f"no answer to {method}"
            return self.responses[req_id]

    def data(self, method, params=None):
        answer = self.ask(method, params)
        assert answer["ok"], answer
        return answer["data"]

    def error(self, method, params=None):
        answer = self.ask(method, params)
        assert not answer["ok"], answer
        return answer["error"]


@pytest.fixture
def runs():
    """Two runs of one dataset: a baseline with a judge (fake server) and failures, and a better candidate."""
    rows = [{"inputs": {"question": q}, "expectations": {"expected_response": a}} for q, a in QUESTIONS]
    ds = datasets.create("quiz", rows)
    with FakeLLMServer() as server:
        for reply in JUDGE_REPLIES:
            server.enqueue(Reply(text=reply))
        judge = make_judge("helpful", "Is {{ outputs }} a helpful answer to {{ inputs }}?",
                           model=f"openai:/judge?base_url={server.openai_base_url}&max_retries=0")
        checks = [scorers.exact_match(), overlap]
        # one worker: the judge's replies are taken in row order
        base = evaluate(ds, predict_fn=app, scorers=[*checks, judge], name="baseline", max_concurrency=1,
                        progress=False)
    cand = evaluate(ds, predict_fn=better, scorers=checks, name="candidate", progress=False)
    yield base, cand
    forget_models()
    llmops_nb.autolog(disable=True)


def table(results, **kwargs):
    return EvalTable(results, **kwargs)


def by_row(page):
    return {r["row"]: r for r in page["rows"]}


# ------------------------------------------------------------------------------------------ one run

def test_page_shows_the_dataframe(runs):
    base, _ = runs
    k = Kernel(table(base))
    info = k.data("info")
    assert info["run"]["run_id"] == base.attrs["run_id"] and info["run"]["stored"] and info["baseline"] is None
    assert [s["name"] for s in info["scorers"]] == ["exact_match", "overlap", "helpful"]
    assert info["scorers"][2]["source"] == "LLM_JUDGE" and info["run"]["dataset"] == {"name": "quiz", "version": 1}
    page = k.data("page", {"limit": 100})
    assert page["total"] == 5 and [r["row"] for r in page["rows"]] == [0, 1, 2, 3, 4]
    rows = by_row(page)
    for position, name in enumerate(["exact_match", "overlap", "helpful"]):
        for row, value in base[f"{name}/value"].items():
            shown = rows[row]["scores"][position]["v"]
            assert (shown is None) if pd.isna(value) else shown == value, (name, row)
            error = base.at[row, f"{name}/error"]
            assert rows[row]["scores"][position]["e"] == (error[:1000] if error else None), (name, row)
    assert rows[0]["inputs"] == "What is the capital of France?" and rows[0]["outputs"] == "Paris"
    assert rows[0]["trace_id"] == base.trace_id[0] and rows[0]["record_id"] == base.record_id[0]
    assert rows[0]["scores"][2] == {"v": True, "p": True, "r": "names Paris", "e": None}
    assert rows[2]["scores"][2]["v"] is None and XSS[1] in rows[2]["scores"][2]["e"]  # the raw reply is kept
    assert rows[4]["error"].startswith("RuntimeError: the library is closed") and rows[4]["outputs"] == ""
    assert rows[1]["scores"][1] == {"v": 0.0, "p": False, "r": "0 of 1 expected words", "e": None}


def test_summary_matches_evaluate(runs):
    base, _ = runs
    summary = Kernel(table(base)).data("summary")
    assert summary["total"] == 5 and summary["errors"] == 1
    for item in summary["scorers"]:
        expected = base.attrs["summary"][item["name"]]
        assert item["mean"] == pytest.approx(expected["mean"]) if expected["mean"] is not None else item["mean"] is None
        assert item["pass_rate"] == pytest.approx(expected["pass_rate"])
        assert item["count"] == expected["count"] and item["errors"] == expected["errors"]
    exact, over, helpful = summary["scorers"]
    bars = exact["histogram"]
    assert bars["kind"] == "bool" and bars["axis"] is None
    assert [(b["label"], b["count"], b["result"]) for b in bars["bins"]] == [("false", 3, "fail"), ("true", 2, "pass")]
    assert [b["x0"] < b["x1"] <= 0.5 + b["x0"] for b in bars["bins"]] == [True, True]  # labelled bars side by side
    values = over["histogram"]
    assert values["kind"] == "values" and sum(b["count"] for b in values["bins"]) == 4
    # overlap lies in [0, 1]: the axis is [0, 1] and each bar stands at its value on it
    assert values["axis"] == {"min": 0.0, "max": 1.0}
    assert [t["label"] for t in values["ticks"]] == ["0", "1"]
    left, right = values["ticks"][0]["x"], values["ticks"][1]["x"]
    for b in values["bins"]:
        assert (b["x0"] + b["x1"]) / 2 == pytest.approx(left + b["lo"] * (right - left))
    assert values["threshold_x"] == pytest.approx(left + 0.5 * (right - left))
    assert helpful["errors"] == 2 and helpful["passed"] == 2 and helpful["failed"] == 1


@pytest.mark.parametrize(("sort", "first"), [
    ({"column": "row", "descending": True}, 4),
    ({"column": "score:overlap", "descending": False}, 1),  # the lowest score first, missing last
    ({"column": "score:overlap", "descending": True}, 0),
    ({"column": "error", "descending": True}, 4),
    ({"column": "latency", "descending": False}, None),
])
def test_sort(runs, sort, first):
    base, _ = runs
    rows = Kernel(table(base)).data("page", {"sort": sort})["rows"]
    assert sorted(r["row"] for r in rows) == [0, 1, 2, 3, 4]
    if first is not None:
        assert rows[0]["row"] == first
    if sort["column"] == "latency":
        latencies = [r["latency_ms"] for r in rows]
        assert latencies == sorted(latencies)


def test_sort_by_score_puts_missing_values_last(runs):
    base, _ = runs
    rows = Kernel(table(base)).data("page", {"sort": {"column": "score:helpful", "descending": False}})["rows"]
    assert [r["scores"][2]["v"] for r in rows][:3] == [False, True, True]
    assert [r["scores"][2]["v"] for r in rows][3:] == [None, None]


@pytest.mark.parametrize(("filters", "rows"), [
    ({"text": "capital"}, [0]),
    ({"text": "CAPITAL"}, [0]),
    ({"text": '"100%_done"'}, [3]),  # a quote and LIKE's wildcards, matched literally inside JSON text
    ({"text": "names paris"}, [0]),  # in a judge's rationale
    ({"text": "onerror"}, [2]),
    ({"scorer": "exact_match", "result": "pass"}, [0, 3]),
    ({"scorer": "exact_match", "result": "fail"}, [1, 2, 4]),
    ({"scorer": "helpful", "result": "error"}, [2, 4]),
    ({"scorer": "overlap", "result": "missing"}, []),
    ({"errors": True}, [4]),
    ({"text": "Paris", "scorer": "helpful", "result": "pass"}, [0]),
])
def test_filters(runs, filters, rows):
    base, _ = runs
    k = Kernel(table(base))
    page = k.data("page", {"filters": filters})
    assert [r["row"] for r in page["rows"]] == rows and page["total"] == len(rows)
    assert k.data("row_ids", {"filters": filters})["rows"] == rows


def test_paging(runs):
    base, _ = runs
    k = Kernel(table(base))
    pages = [k.data("page", {"offset": o, "limit": 2, "sort": {"column": "row", "descending": True}})
             for o in (0, 2, 4, 6)]
    assert [[r["row"] for r in p["rows"]] for p in pages] == [[4, 3], [2, 1], [0], []]
    assert {p["total"] for p in pages} == {5} and pages[0]["as_of"]


@pytest.mark.parametrize(("method", "params", "needle"), [
    ("page", {"filters": {"scorr": "x"}}, "Did you mean 'scorer'"),
    ("page", {"filters": {"scorer": "helpfull", "result": "pass"}}, "Did you mean 'helpful'"),
    ("page", {"filters": {"scorer": "helpful"}}, "go together"),
    ("page", {"filters": {"scorer": "helpful", "result": "win"}}, "result must be one of pass, fail, error, missing"),
    ("page", {"filters": {"feedback": "meh"}}, "feedback must be one of"),
    ("page", {"sort": {"column": "score:overlapp"}}, "Did you mean 'score:overlap'"),
    ("page", {"sort": {"column": "delta:overlap"}}, "cannot sort by 'delta:overlap'"),
    ("page", {"limit": 0}, "limit must be an integer between 1 and 1000"),
    ("page", {"offset": -1}, "offset must be an integer"),
    ("page", {"bogus": 1}, "unknown page parameter(s) 'bogus'"),
    ("row", {"row": 99}, "No row 99"),
    ("row", {}, "row needs row (a row number of this table)"),
    ("row", {"row": "1"}, "row must be a row number of this table; got '1'"),
    ("info", {"compare": "nope"}, "32 hex characters"),
    ("info", {"compare": "f" * 32}, "No evaluation run"),
    ("feedback", {"row": 0}, "thumbs up or down, a label or a comment"),
    ("feedback", {"row": 0, "value": 3}, "true (thumbs up), false (thumbs down)"),
    ("feedback", {"row": 0, "label": 5}, "label must be text"),
    ("to_dataset", {"rows": []}, "Select at least one row"),
    ("to_dataset", {"rows": [0, 0]}, "twice"),
    ("to_dataset", {"rows": [42]}, "not in run"),
    ("pages", {}, "Did you mean 'page'"),
])
def test_bad_requests_settle_with_a_clear_error(runs, method, params, needle):
    base, _ = runs
    assert needle in Kernel(table(base)).error(method, params)


def test_row_detail_has_payloads_rationales_and_judge_spans(runs):
    base, _ = runs
    d = Kernel(table(base)).data("row", {"row": 0})
    assert d["inputs"] == {"value": {"question": "What is the capital of France?"}, "truncated": False}
    assert d["outputs"]["value"] == "Paris" and d["expectations"]["value"] == {
        "expected_response": "Paris"}
    helpful = d["scores"][2]
    assert helpful["value"] is True and helpful["rationale"] == "names Paris" and helpful["source"] == "LLM_JUDGE"
    spans = llmops_nb.spans(base.trace_id[0])
    judge_span = spans[spans.span_id == helpful["span_id"]]
    assert judge_span.kind.tolist() == ["EVALUATOR"] and judge_span.name.tolist() == ["helpful"]
    assert d["feedback"] == []


def test_explorer_methods_answer_for_the_open_trace(runs):
    base, _ = runs
    k = Kernel(table(base))
    skeleton = k.data("skeleton", {"trace_id": base.trace_id[0]})
    assert skeleton["spans"]["count"] == 5  # the row's root, three EVALUATOR spans, the judge's LLM call


# ------------------------------------------------------------------------------------------ feedback

def test_feedback_is_stored_and_read_back(runs):
    base, _ = runs
    widget = table(base, author="ana")
    k = Kernel(widget)
    answer = k.data("feedback", {"row": 1, "value": False, "label": "wrong", "comment": f"says 5 {XSS[0]}"})
    assert answer["feedback"]["value"] is False and answer["feedback"]["author"] == "ana"
    k.data("feedback", {"row": 1, "value": True, "author": "ben"})  # a later thumb; label and comment stay
    k.data("feedback", {"row": 3, "comment": "fine"})
    stored = feedback(run_id=base.attrs["run_id"])
    assert len(stored) == 3 and set(stored.trace_id) == {base.trace_id[1], base.trace_id[3]}
    first = stored[stored.label == "wrong"].iloc[0]
    assert first.value is False and first.comment == f"says 5 {XSS[0]}" and first.author == "ana"
    assert first.row_index == 1 and first["name"] == "human_feedback" and pd.notna(first.created_at)
    assert feedback(base.trace_id[1], latest=True, author="ben").value.tolist() == [True]

    row = by_row(k.data("page"))[1]["feedback"]
    assert row["value"] is True and row["label"] == "wrong" and row["author"] == "ben" and row["count"] == 2
    assert [r["row"] for r in k.data("page", {"filters": {"feedback": "up"}})["rows"]] == [1]
    assert [r["row"] for r in k.data("page", {"filters": {"feedback": "any"}})["rows"]] == [1, 3]
    assert [r["row"] for r in k.data("page", {"filters": {"feedback": "none"}})["rows"]] == [0, 2, 4]
    assert k.data("summary")["feedback"] == {"up": 1, "down": 0, "given": 2}
    history = k.data("row", {"row": 1})["feedback"]
    assert [h["author"] for h in history] == ["ben", "ana"]
    assert "wrong" in k.data("info")["labels"]
    assert k.data("page", {"sort": {"column": "feedback", "descending": True}})["rows"][0]["row"] == 1


def test_feedback_given_elsewhere_shows_on_the_next_page(runs):
    base, _ = runs
    k = Kernel(table(base))
    log_feedback(base.trace_id[0], value=False, label="too long", author="cli")
    assert by_row(k.data("page"))[0]["feedback"]["label"] == "too long"


# ------------------------------------------------------------------------------------------ datasets

def test_checked_rows_become_a_dataset_version(runs):
    base, _ = runs
    k = Kernel(table(base))
    made = k.data("to_dataset", {"rows": [1, 3], "append": False, "name": "hard cases",
                                 "expectations_from_outputs": True, "description": "from the table"})
    assert made == {"name": "hard cases", "version": 1, "rows": 2, "parent_version": None}
    stored = datasets.load("hard cases")
    assert [r.inputs["question"] for r in stored.records] == ["What is 2 + 2?", 'Say "100%_done"']
    assert stored.records[0].expectations == {"expected_response": "5"}
    assert stored.records[0].record_id == base.record_id[1]
    grown = k.data("to_dataset", {"rows": [0]})  # to the run's dataset, added to its latest version
    assert grown == {"name": "quiz", "version": 2, "rows": 5, "parent_version": 1}


# ------------------------------------------------------------------------------------------ compare

def test_compare_matches_compare_runs(runs):
    base, cand = runs
    k = Kernel(table(cand, compare_to=base))
    reference = compare_runs(base, cand)
    summary = k.data("summary", {"compare": base.attrs["run_id"]})
    assert [s["name"] for s in summary["scorers"]] == ["exact_match", "overlap"]  # the scorers both have
    for item in summary["scorers"]:
        expected = reference.attrs["summary"][item["name"]]
        assert {key: item[key] for key in ("win", "loss", "tie")} == {key: expected[key] for key in
                                                                        ("win", "loss", "tie")}
        assert item["mean_baseline"] == pytest.approx(expected["mean_baseline"])
        assert item["mean_candidate"] == pytest.approx(expected["mean_candidate"])
    assert summary["only_in_baseline"] == 0 and summary["only_in_candidate"] == 0
    page = k.data("page", {"compare": base.attrs["run_id"], "limit": 100})
    for row in page["rows"]:
        ref = reference.loc[row["record_id"]]
        for position, name in enumerate(["exact_match", "overlap"]):
            score = row["scores"][position]
            assert score["o"] == ref[f"{name}/outcome"]
            delta = ref[f"{name}/delta"]
            assert (score["d"] is None) if pd.isna(delta) else score["d"] == pytest.approx(delta)
        assert row["base"]["trace_id"] == ref["trace_id/baseline"] and row["trace_id"] == ref["trace_id/candidate"]
    two = by_row(page)[1]
    assert two["diff"] == [["replace", "5", "4"]] and two["base"]["outputs"] == "5"
    losses = k.data("page", {"compare": base.attrs["run_id"], "filters": {"scorer": "overlap", "result": "win"}})
    assert sorted(r["row"] for r in losses["rows"]) == [1]  # row 4's baseline has no value: not comparable
    ordered = k.data("page", {"compare": base.attrs["run_id"],
                              "sort": {"column": "delta:overlap", "descending": True}})["rows"]
    assert ordered[0]["scores"][1]["d"] == 1.0


def test_compare_row_detail_diffs_outputs_word_by_word(runs):
    base, cand = runs
    d = Kernel(table(cand, compare_to=base)).data("row", {"row": 4, "compare": base.attrs["run_id"]})
    assert d["base"]["error"].startswith("RuntimeError") and d["outputs"]["value"] == "William Shakespeare"
    assert d["diff"] == [["insert", "", "William Shakespeare"]]
    overlap_score = d["scores"][1]
    assert overlap_score["base_value"] is None and overlap_score["value"] == 1.0 and overlap_score["outcome"] is None


def test_compare_is_picked_in_the_view_and_listed(runs):
    base, cand = runs
    other = evaluate([{"inputs": {"question": "unrelated"}, "outputs": "x"}], scorers=[scorers.length()],
                     name="other", progress=False)
    k = Kernel(table(cand))
    listed = k.data("runs")["runs"]
    assert [r["name"] for r in listed][:1] == ["baseline"] and listed[0]["shared"] == 5
    assert {r["name"]: r["shared"] for r in listed}["other"] == 0
    info = k.data("info", {"compare": base.attrs["run_id"]})
    assert info["baseline"]["run_id"] == base.attrs["run_id"] and "delta:overlap" in info["sorts"]
    assert k.data("summary", {"compare": other.attrs["run_id"]})["total"] == 0  # nothing shared, nothing shown
    assert "compared with itself" in k.error("page", {"compare": cand.attrs["run_id"]})


def test_a_compare_runs_frame_shows_as_a_comparison(runs):
    base, cand = runs
    widget = table(compare_runs(base, cand))
    assert widget.run_key == cand.attrs["run_id"] and widget.compare_to == base.attrs["run_id"]


# ------------------------------------------------------------------------------------------ sources

@pytest.mark.parametrize(("threshold", "lower"), [(None, False), (0.5, False), (0.5, True)])
def test_pass_rule_is_scorer_passes(threshold, lower):
    values = [True, False, 0.2, 0.5, 0.9, 3, "yes", " No ", "PASS", "maybe", None, "0.7"]
    frame = pd.DataFrame({"outputs": ["x"] * len(values)})
    frame["s/value"] = pd.Series(values, dtype=object)
    frame.attrs["scorers"] = [{"name": "s", "threshold": threshold, "lower_is_better": lower}]
    rows = Reader(View(side_of(frame))).page({}, None, 0, 100)["rows"]
    reference = Scorer()
    reference.threshold, reference.lower_is_better = threshold, lower
    assert [r["scores"][0]["p"] for r in rows] == [reference.passes(v) for v in values]


def test_a_stored_run_shows_the_verdict_stored_with_each_assessment(runs):
    base, _ = runs
    run_id = base.attrs["run_id"]
    with get_store().connect() as con:
        stored = dict(con.execute("SELECT row_index, passed FROM assessments WHERE run_id = ? AND name = 'overlap'",
                                  [run_id]).fetchall())
    rule = Scorer()
    rule.threshold = 0.5
    values = {i: None if pd.isna(v) else v for i, v in base["overlap/value"].items()}
    assert stored == {i: rule.passes(v) for i, v in values.items() if i in stored}  # decided when stored
    assert True in stored.values() and False in stored.values()
    with get_store().connect() as con:  # the table reads the store's verdict, it does not decide again
        con.execute("UPDATE assessments SET passed = NOT passed WHERE run_id = ? AND name = 'overlap'", [run_id])
    rows = Kernel(table(base)).data("page")["rows"]
    assert [r["scores"][1]["p"] for r in rows] == [None if stored[r["row"]] is None else not stored[r["row"]]
                                                   for r in rows]


def test_a_dataframe_that_is_not_a_stored_run(runs):
    base, _ = runs
    frame = base.iloc[[4, 0, 2]].reset_index(drop=True)  # its index no longer matches the run
    frame.attrs = dict(base.attrs)
    side = side_of(frame)
    assert not side.stored and side.frame_run_id == base.attrs["run_id"]
    k = Kernel(table(frame))
    info = k.data("info")
    assert info["run"]["stored"] is False and [s["name"] for s in info["scorers"]] == ["exact_match", "overlap",
                                                                                      "helpful"]
    page = k.data("page", {"sort": {"column": "score:overlap", "descending": True}})
    assert [r["inputs"] for r in page["rows"]] == ["What is the capital of France?", XSS[0], "Who wrote Hamlet?"]
    assert k.data("summary")["scorers"][2]["errors"] == 2
    k.data("feedback", {"row": 1, "value": True})  # the trace is in the store: feedback works
    assert feedback(base.trace_id[0]).value.tolist() == [True]
    assert k.data("to_dataset", {"rows": [1], "name": "picked", "append": False})["rows"] == 1


def test_a_plain_dataframe_with_scorer_columns():
    frame = pd.DataFrame({"inputs": [{"q": "a"}, {"q": "b"}], "outputs": ["A", "b!"],
                          "expectations": [{"expected_response": "A"}, None],
                          "match/value": [True, False], "match/rationale": ["same", "differs"],
                          "match/error": [None, None]})
    k = Kernel(table(frame))
    assert k.data("info")["run"] == {"key": k.data("info")["run"]["key"], "run_id": None, "name": "evaluation",
                                     "status": None, "started_at": None, "dataset": None, "stored": False,
                                     "scorers": ["match"], "conversations": False}
    rows = k.data("page")["rows"]
    assert [r["scores"][0] for r in rows] == [{"v": True, "p": True, "r": "same", "e": None},
                                              {"v": False, "p": False, "r": "differs", "e": None}]
    assert "no trace" in k.error("feedback", {"row": 0, "value": True})
    made = k.data("to_dataset", {"rows": [0, 1], "name": "mine"})
    assert made["rows"] == 2 and datasets.load("mine").records[1].inputs == {"q": "b"}


def test_a_slice_of_a_stored_result_shows_its_rows(runs):
    base, _ = runs
    failed = base[base["exact_match/value"] == False]  # noqa: E712 - pandas needs ==
    side = side_of(failed)
    assert side.stored and side.rows == [1, 2, 4]
    assert [r["row"] for r in Kernel(table(failed)).data("page")["rows"]] == [1, 2, 4]
    shuffled = base.iloc[[3, 0]]  # rows of the run in another order: still the stored run
    assert side_of(shuffled).rows == [3, 0]


def test_a_run_id_string_and_what_is_refused(runs):
    base, _ = runs
    assert table(base.attrs["run_id"]).run_key == base.attrs["run_id"]
    with pytest.raises(LookupError, match="No evaluation run"):
        table("0" * 32)
    with pytest.raises(TypeError, match="evaluate\\(\\) DataFrame or a run id"):
        table(42)
    with pytest.raises(ValueError, match="neither an outputs column"):
        table(pd.DataFrame({"a": [1]}))
    with pytest.raises(TypeError, match="check the spelling"):
        table(base, sortby="row")
    with pytest.raises(ValueError, match="cannot sort by"):
        table(base, sort_by="nope")
    with pytest.raises(ValueError, match="same run"):
        table(base, compare_to=base)
    with pytest.raises(ValueError, match="height"):
        table(base, height=10)


# ------------------------------------------------------------------------------------------ widget

def test_traitlets_hold_view_state_only(runs):
    base, _ = runs
    widget = table(base, filters={"scorer": "helpful", "result": "fail"}, sort_by="score:overlap", author="ana")
    state = widget.get_state()
    assert state["run_key"] == base.attrs["run_id"] and state["filters"] == {"scorer": "helpful", "result": "fail"}
    assert state["author"] == "ana" and state["selected_rows"] == [] and state["open_row"] is None
    synced = {k for k in state if not k.startswith("_")} - {"layout", "tabbable", "tooltip"}
    assert synced == {"run_key", "compare_to", "filters", "sort_by", "sort_desc", "selected_rows", "open_row",
                      "author", "height", "session", "trace_id", "selected_span_id", "collapsed_span_ids",
                      "search_text"}
    assert len(json.dumps({k: v for k, v in state.items() if k not in ("_esm", "_css")})) < 2000  # no rows
    assert repr(widget) == f"EvalTable({base.attrs['run_id']!r})"


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: set[str] = set()
        self.attributes: set[str] = set()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attributes |= {name for name, _ in attrs}


def test_mimebundle_has_the_widget_and_a_script_free_escaped_snapshot(runs):
    base, cand = runs
    log_feedback(base.trace_id[1], value=False, label=XSS[1], author="ana")
    data, _ = table(base)._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in data
    page = data["text/html"]
    parsed = _Tags()
    parsed.feed(page)
    assert parsed.tags <= {"div", "p", "strong", "table", "thead", "tbody", "tr", "th", "td", "span", "small", "br",
                           "svg", "rect", "line", "text", "title"}
    assert not parsed.attributes & {"href", "src", "onerror", "onload", "onclick"}
    assert "<img" not in page and "<script" not in page and html.escape(XSS[0], quote=True) in page
    assert "mean" in page and "helpful" in page and "thumbs down" in page
    text = data["text/plain"]
    assert text.startswith("EvalTable: Evaluation 'baseline': 5 rows") and "1 failed prediction" in text
    assert "exact_match" in text and "pass 50%" in text
    compared = table(cand, compare_to=base)._repr_mimebundle_()[0]
    assert "win 1 · loss 0 · tie 4" in compared["text/plain"] and "baseline outputs" in compared["text/html"]


def test_eval_table_outside_a_kernel_is_a_snapshot(runs, capsys):
    base, _ = runs
    view = eval_table(base)
    assert isinstance(view, EvalTableSnapshot)
    assert "text/html" in view._repr_mimebundle_() and repr(view).startswith("EvalTable: Evaluation 'baseline'")
    display_eval(base)
    assert capsys.readouterr().out.startswith("EvalTable: Evaluation 'baseline'")
    assert evaluation_bundle(base) is None  # evaluate()'s renderer, not in a kernel: nothing to show


def test_is_eval_frame(runs):
    base, cand = runs
    assert is_eval_frame(base) and is_eval_frame(compare_runs(base, cand))
    assert not is_eval_frame(pd.DataFrame({"a": [1]})) and not is_eval_frame("x")
    assert not is_eval_frame(llmops_nb.traces())


def test_pages_of_a_large_run_are_quick():
    rows = [{"inputs": {"q": f"question {i}"}, "outputs": f"answer {i % 97}",
             "expectations": {"expected_response": f"answer {i % 89}"}} for i in range(5000)]
    df = evaluate(rows, scorers=[scorers.exact_match(), scorers.length(), scorers.contains("7")], progress=False)
    k = Kernel(table(df))
    timings = {}
    for name, method, params in [
        ("first page", "page", {}),
        ("sorted by a score", "page", {"sort": {"column": "score:length", "descending": True}}),
        ("deep page, filtered", "page", {"offset": 2000, "filters": {"text": "answer 1",
                                                                      "scorer": "exact_match", "result": "fail"}}),
        ("summary", "summary", {}),
    ]:
        start = time.perf_counter()
        k.data(method, params)
        timings[name] = time.perf_counter() - start
    assert max(timings.values()) < 1.0, timings


# ------------------------------------------------------------------------------------------ kernel

def test_shown_after_evaluate_in_a_kernel(store_path):
    cells = run_cells([
        "from llmops_nb.evals import evaluate, scorers\n"
        "from llmops_nb.widgets import display_eval\n"
        "df = evaluate([{'inputs': {'q': 'a'}, 'outputs': '<b>A</b>', 'expectations': {'expected_response': 'A'}}],"
        " scorers=[scorers.exact_match()], progress=False)",
        "display_eval(df)",
    ], store_path)
    for cell in cells:
        assert not errors(cell), outputs_text(cell)
        shown = [o for o in cell.outputs if o.output_type == "display_data"]
        assert len(shown) == 1, cell.outputs
        data = shown[0]["data"]
        assert "application/vnd.jupyter.widget-view+json" in data
        assert "&lt;b&gt;A&lt;/b&gt;" in data["text/html"] and data["text/plain"].startswith("EvalTable:")
