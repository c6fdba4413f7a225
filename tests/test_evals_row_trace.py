"""An evaluated row's trace covers its prediction and its scoring: the root ends after the last
scorer, so no span runs past it (the explorer's waterfall is drawn on the root's duration)."""

from __future__ import annotations

import time

import llmops_nb
from llmops_nb.evals import evaluate, scorers
from llmops_nb.evals._trace_view import render_trace
from llmops_nb.store._connection import get_store


@scorers.scorer
def slow_check(outputs):
    time.sleep(0.02)  # a judge's call, in short: scoring takes longer than the prediction
    return bool(outputs)


def spans_of(trace_id):
    with get_store().connect() as con:
        return con.execute("SELECT name, kind, parent_span_id, start_ns, end_ns FROM spans WHERE trace_id = ?",
                           [trace_id]).fetchall()


def check_covered(trace_id):
    spans = spans_of(trace_id)
    roots = [s for s in spans if s[2] is None]
    assert len(roots) == 1
    root = roots[0]
    evaluators = [s for s in spans if s[1] == "EVALUATOR"]
    assert evaluators, "the scorers ran under the row's trace"
    for _, _, _, start, end in spans:
        assert root[3] <= start and end <= root[4]
    assert root[4] - root[3] >= max(e[4] - e[3] for e in evaluators)
    return root, evaluators


def test_the_root_of_an_evaluated_row_ends_after_its_scorers():
    df = evaluate([{"inputs": {"q": "a"}}, {"inputs": {"q": "b"}}], predict_fn=lambda q: q.upper(),
                  scorers=[scorers.length(), slow_check], max_concurrency=2, progress=False)
    llmops_nb.flush()
    for trace_id in df.trace_id:
        _, evaluators = check_covered(trace_id)
        assert {e[0] for e in evaluators} == {"length", "slow_check"}
        assert all(e[2] is not None for e in evaluators)
    # the latency column is the prediction's own time, not the scoring's
    assert (df.latency_ms.astype(float) * 1e6 < [check_covered(t)[0][4] - check_covered(t)[0][3]
                                                  for t in df.trace_id]).all()


def test_rows_given_outputs_and_failed_predictions_are_covered_too():
    def app(q):
        if q == "boom":
            raise RuntimeError("no")
        return q

    given = evaluate([{"inputs": {"q": "a"}, "outputs": "A"}], scorers=[slow_check], progress=False)
    failed = evaluate([{"inputs": {"q": "boom"}}, {"inputs": {"q": "ok"}}], predict_fn=app, scorers=[slow_check],
                      progress=False)
    llmops_nb.flush()
    check_covered(given.trace_id[0])
    assert given.latency_ms.isna().all()  # no prediction ran: the root's time is the scoring's
    check_covered(failed.trace_id[1])
    spans = spans_of(failed.trace_id[0])
    assert len(spans) == 1 and spans[0][2] is None  # the failed row is not scored, and its root ended


def test_scorers_see_the_open_root_and_not_the_other_scorers_calls():
    seen = {}

    @scorers.scorer
    def reads_trace(trace):
        frame = trace.spans
        root = frame[frame.parent_span_id.isna()].iloc[0]
        seen.update(name=trace.info["name"], status=trace.info["status"], root=(root["name"], root["outputs"]),
                    kinds=sorted(frame.kind), outline=render_trace(trace))
        return True

    @llmops_nb.trace(kind="TOOL")
    def lookup(q):
        return f"found {q}"

    def app(q):
        return lookup(q).upper()

    @llmops_nb.trace(kind="LLM")
    def grade(text):
        return "fine"

    @scorers.scorer
    def graded(outputs):
        return grade(outputs) == "fine"

    # one worker: `graded` (and its model call) runs before `reads_trace` reads the trace
    evaluate([{"inputs": {"q": "a"}}], predict_fn=app, scorers=[graded, reads_trace], max_concurrency=1,
             progress=False)
    assert seen["name"] == "app" and seen["status"] == "IN_PROGRESS"  # the root is still open while scoring
    assert seen["root"] == ("app", "FOUND A")
    assert "CHAIN" in seen["kinds"] and "TOOL" in seen["kinds"]
    assert seen["outline"].startswith("- [CHAIN] app:") and "  - [TOOL] lookup:" in seen["outline"]
    assert "LLM" in seen["kinds"]  # the other scorer's call is in the trace,
    assert "EVALUATOR" not in seen["outline"] and "grade" not in seen["outline"]  # but not in what is judged
