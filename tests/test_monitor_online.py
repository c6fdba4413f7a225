"""Online scorers: new traces scored once per scorer version, sampled by trace id, filtered, per span,
through a judge on a local server; failures, hangs and garbage recorded per trace; in the background."""

from __future__ import annotations

import json
import threading
import time

import openai
import pytest
from support import make_trace

import llmops_nb
from llmops_nb.evals import make_judge
from llmops_nb.models import forget_models
from llmops_nb.monitor._monitor import Monitor
from llmops_nb.monitor._online import sampled
from llmops_nb.monitor._where import FilterError
from tests.fakes import FakeLLMServer, Reply


def judge_reply(body):
    """A judge on the fake server: 'no' when the judged text says 'rude', 'yes' otherwise."""
    prompt = body["messages"][-1]["content"]
    verdict = "no" if "rude" in prompt else "yes"
    return json.dumps({"rationale": f"judged {len(prompt)} chars", "result": verdict})


@pytest.fixture
def judge_server():
    with FakeLLMServer(responder=judge_reply) as server:
        yield server
    forget_models()


def polite_judge(server, **options):
    return make_judge("polite", "Is this reply polite? {{ outputs }}",
                      model=f"openai:/judge-model?base_url={server.openai_base_url}&max_retries=0", **options)


@pytest.fixture
def monitor():
    made = []

    def make(**options):
        mon = Monitor(**{"interval": "1s", "concurrency": 4, **options})
        made.append(mon)
        return mon

    yield make
    for mon in made:
        mon.close()


@llmops_nb.scorer
def short(outputs):
    return len(str(outputs)) < 30


def app_traces(count, *, name="support", prefix="answer", **options):
    @llmops_nb.trace(name=name)
    def app(question):
        return f"{prefix} to {question}"

    for i in range(count):
        app(f"q{i}")
    llmops_nb.flush()
    return llmops_nb.sql("SELECT trace_id FROM traces WHERE name = ? ORDER BY start_ns", [name]).trace_id.tolist()


def scores(name):
    return llmops_nb.sql("SELECT trace_id, target_span_id, value, passed, error, span_id FROM assessments "
                         "WHERE name = ? ORDER BY trace_id", [name])


def test_each_trace_scored_once_and_new_ones_on_the_next_pass(monitor):
    ids = app_traces(6)
    mon = monitor()
    mon.add(short, backfill=True)
    first = mon.run_once()
    assert first.scorers[0].scored == 6
    assert mon.run_once().scored == 0  # nothing new: nothing scored twice
    ids += app_traces(3, name="support2")
    assert mon.run_once().scored == 3
    found = scores("short")
    assert sorted(found.trace_id) == sorted(ids)
    assert found.value.tolist() == ["true"] * 9 and found.passed.all()
    # each result points at the EVALUATOR trace that made it, tagged so no monitor ever scores it
    evaluators = llmops_nb.sql("SELECT t.tags, s.kind FROM spans s JOIN traces t USING (trace_id) "
                               "WHERE s.span_id IN (SELECT unnest(?::VARCHAR[]))", [found.span_id.tolist()])
    assert set(evaluators.kind) == {"EVALUATOR"}
    assert all(json.loads(tags) == {"llmops_nb.monitor": "short"} for tags in evaluators.tags)
    # ...and no metric counts the monitor's own traces as traffic
    assert llmops_nb.metrics(every=None, since="1h").requests.sum() == 9


def test_a_restarted_monitor_does_not_score_again_and_a_new_version_does(monitor):
    app_traces(4)
    mon = monitor()
    mon.add(short, backfill=True)
    mon.run_once()
    again = monitor()
    again.add(short, backfill=True)  # same definition: same version, its work is done
    assert again.run_once().scored == 0

    @llmops_nb.scorer(name="short")
    def stricter(outputs):
        return len(str(outputs)) < 5

    changed = monitor()
    online = changed.add(stricter, backfill=True)
    assert online.version != mon.scorers[0].version
    assert changed.run_once().scorers[0].errors == 0
    assert len(scores("short")) == 8  # both versions' results stay
    assert len(llmops_nb.sql("SELECT * FROM monitor_scored WHERE version = ?", [online.version])) == 4


def test_without_backfill_only_traces_after_registration(monitor):
    app_traces(3, name="old")
    mon = monitor()
    mon.add(short)
    assert mon.run_once().scored == 0
    time.sleep(0.01)
    app_traces(2, name="new")
    assert mon.run_once().scored == 2
    assert set(llmops_nb.sql("SELECT t.name FROM assessments a JOIN traces t USING (trace_id) "
                             "WHERE a.name = 'short'").name) == {"new"}


def test_sampling_is_a_hash_of_the_trace_id_shared_by_scorers(monitor):
    ids = app_traces(60)
    mon = monitor()
    mon.add(short, sample_rate=0.3, backfill=True)

    @llmops_nb.scorer
    def long(outputs):
        return len(str(outputs)) > 30

    mon.add(long, sample_rate=0.3, backfill=True)
    mon.run_once()
    expected = sorted(t for t in ids if sampled(t, 0.3))
    assert 5 < len(expected) < 40
    assert sorted(scores("short").trace_id) == expected
    assert sorted(scores("long").trace_id) == expected


def test_where_filter_with_params_and_injection_refused(monitor):
    app_traces(3, name="support")
    app_traces(2, name="billing")
    mon = monitor()
    mon.add(short, where="t.name = ?", params=["billing"], backfill=True)
    assert mon.run_once().scored == 2
    for bad in ["1=1); DROP TABLE spans; --", "t.name = 'x') UNION SELECT 'y' FROM spans WHERE (TRUE",
                "t.name = ", "t.name = $who"]:
        with pytest.raises(FilterError):
            mon.add(short, name="other", where=bad, backfill=True)
    with pytest.raises(FilterError, match="1 \\? placeholder"):
        mon.add(short, name="other", where="t.name = ?", backfill=True)
    assert llmops_nb.sql("SELECT count(*) AS n FROM spans").n[0] > 0


def test_span_targeting_scores_each_llm_call(monitor, judge_server):
    client = openai.OpenAI(api_key="sk-test", base_url=judge_server.openai_base_url)
    llmops_nb.autolog()
    try:
        judge_server.enqueue(Reply(text="Hello there"), Reply(text="go away, rude"), Reply(text="Fine"))

        @llmops_nb.trace(name="agent")
        def agent():
            return [client.chat.completions.create(model="app-model", messages=[{"role": "user", "content": q}])
                    .choices[0].message.content for q in ("a", "b")]

        agent()
        agent()
    finally:
        llmops_nb.autolog(disable=True)
    mon = monitor()
    mon.add(polite_judge(judge_server), span_kind="LLM", backfill=True)
    report = mon.run_once()
    assert report.scorers[0].scored == 4, report
    found = scores("polite")
    calls = llmops_nb.sql("SELECT span_id FROM spans WHERE kind IN ('LLM', 'CHAT_MODEL') AND name NOT LIKE 'monitor%' "
                          "AND trace_id IN (SELECT trace_id FROM traces WHERE name = 'agent')")
    assert sorted(found.target_span_id) == sorted(calls.span_id)
    assert found.value.tolist().count("false") == 1  # the rude reply, judged on its own span


def test_judge_garbage_raises_and_hangs_are_recorded_per_trace_and_the_monitor_goes_on(monitor, judge_server):
    ids = app_traces(4)
    judge_server.enqueue("I refuse to answer in any format", *["{\"result\": \"yes\"}"] * 3)

    @llmops_nb.scorer
    def explodes(outputs):
        raise RuntimeError("scorer bug")

    release = threading.Event()

    @llmops_nb.scorer
    def hangs(outputs):
        release.wait(30)
        return True

    mon = monitor(timeout="2s", retries=1, concurrency=4)
    mon.add(polite_judge(judge_server), backfill=True)
    mon.add(explodes, backfill=True)
    mon.add(hangs, backfill=True)
    try:
        report = mon.run_once()
    finally:
        release.set()
    by_name = {s.scorer: s for s in report.scorers}
    assert by_name["polite"].scored == 3 and by_name["polite"].errors == 1
    assert by_name["explodes"].errors == 4 and by_name["hangs"].timed_out == 4
    errors = mon.errors()
    assert set(errors.scorer) == {"polite", "explodes", "hangs"}
    assert errors[errors.scorer == "explodes"].error.str.contains("RuntimeError: scorer bug").all()
    assert errors[errors.scorer == "hangs"].error.str.contains("did not answer within 2 s").all()
    assert "I refuse" in errors[errors.scorer == "polite"].error.iloc[0]
    assert sorted(scores("explodes").trace_id) == sorted(ids)
    assert mon.run_once().scored == 0  # errors count as done: exactly once, errors included
    status = mon.status().set_index("scorer")
    assert status.loc["explodes", "errors"] == 4 and status.loc["polite", "scored"] == 3


def test_background_monitor_scores_traffic_as_it_arrives(monitor):
    mon = monitor(interval="0.2s")
    mon.add(short)
    passes = []
    mon.subscribe(passes.append)
    mon.start()
    assert mon.running
    time.sleep(0.05)
    ids = app_traces(5)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(scores("short")) < 5:
        time.sleep(0.1)
    mon.stop()
    assert not mon.running
    assert sorted(scores("short").trace_id) == sorted(ids)
    assert passes and all(p.finished_ns >= p.started_ns for p in passes)


def test_evaluation_and_monitor_traces_are_not_production_traffic(monitor):
    app_traces(2)
    llmops_nb.evaluate([{"inputs": {"q": "x"}, "outputs": "y"}], scorers=[short])
    mon = monitor()
    mon.add(short, name="short_online", backfill=True)
    assert mon.run_once().scored == 2
    other = monitor()
    other.add(short, name="short_again", backfill=True)
    assert other.run_once().scored == 2  # not the 2 EVALUATOR traces the first monitor wrote


def test_add_checks_its_arguments(monitor):
    mon = monitor()
    with pytest.raises(ValueError, match="sample_rate"):
        mon.add(short, sample_rate=0)
    with pytest.raises(TypeError, match="not a scorer"):
        mon.add("correctness")
    mon.add(short)
    with pytest.raises(ValueError, match="already has a scorer named 'short'"):
        mon.add(short)
    with pytest.raises(ValueError, match="duration"):
        Monitor(interval="soon")
    with pytest.raises(ValueError, match="concurrency"):
        Monitor(concurrency=0)


def test_a_trace_still_running_waits_for_its_end(monitor):
    mon = monitor()
    mon.add(short, backfill=True)
    with llmops_nb.span("long-running"):
        llmops_nb.flush()
        assert mon.run_once().scored == 0
    assert mon.run_once().scored == 1
    assert make_trace  # the support helper stays importable for other monitor tests


def test_results_are_an_evaluation_shaped_frame_the_eval_table_shows(monitor):
    from llmops_nb.widgets.eval_table._sides import is_eval_frame, side_of

    ids = app_traces(3)

    @llmops_nb.scorer
    def boom(outputs):
        raise ValueError("no")

    mon = monitor(retries=0)
    mon.add(short, backfill=True)
    mon.add(boom, backfill=True)
    mon.run_once()
    frame = llmops_nb.monitor.results(since="1h")
    assert sorted(frame.trace_id) == sorted(ids)
    assert list(frame.columns[:4]) == ["trace_id", "span_id", "inputs", "outputs"]
    assert frame["short/value"].tolist() == [True] * 3
    assert frame["boom/error"].str.contains("ValueError: no").all()
    assert frame.inputs.iloc[0]["question"].startswith("q")
    assert is_eval_frame(frame) and side_of(frame).scorers  # what llmops_nb.show(frame) opens
    assert list(llmops_nb.monitor.results("short", since="1h").columns[4:7]) == [
        "short/value", "short/rationale", "short/error"]


def test_trajectory_scorers_score_production_agents_online(monitor):
    from llmops_nb.evals import scorers

    @llmops_nb.trace(name="search", kind="TOOL")
    def search(query):
        return f"results for {query}"

    @llmops_nb.trace(name="agent", kind="AGENT")
    def agent(question, searches):
        for _ in range(searches):
            search(question)  # the same call again: redundant from the second on
        return "done"

    agent("a", 1)
    agent("b", 3)
    llmops_nb.flush()
    mon = monitor()
    mon.add(scorers.tool_sequence(["search"], mode="exact"), backfill=True)
    mon.add(scorers.redundant_calls(), backfill=True)
    mon.add(scorers.step_budget(2), backfill=True)
    assert mon.run_once().scored == 6
    first, second = llmops_nb.sql("SELECT trace_id FROM traces WHERE name = 'agent' ORDER BY start_ns").trace_id
    question = {first: "a", second: "b"}
    verdicts = {(name, question[trace_id]): (value, passed)
                for name in ("tool_sequence", "redundant_calls", "step_budget")
                for trace_id, _, value, passed, _, _ in scores(name).itertuples(index=False)}
    assert verdicts == {
        ("tool_sequence", "a"): ("true", True), ("tool_sequence", "b"): ("false", False),
        ("redundant_calls", "a"): ("0", True), ("redundant_calls", "b"): ("2", False),
        ("step_budget", "a"): ("1", True), ("step_budget", "b"): ("3", False)}
