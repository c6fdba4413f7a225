"""evaluate(): the DataFrame, tracing, storage, concurrency, event loops and interrupts."""

from __future__ import annotations

import _thread
import asyncio
import threading
import time

import openai
import pytest

import llmops_nb
from llmops_nb.evals import (
    EvaluationInterrupted,
    _progress,
    aevaluate,
    eval_results,
    eval_runs,
    evaluate,
    make_judge,
    scorer,
    scorers,
)
from llmops_nb.models import forget_models
from tests.fakes import Reply, Usage
from tests.test_models import CountingServer

BASE = ["inputs", "outputs", "expectations", "trace_id", "record_id", "latency_ms", "input_tokens",
        "output_tokens", "cost_usd", "error"]


@pytest.fixture
def server():
    with CountingServer() as fake:
        yield fake


@pytest.fixture(autouse=True)
def clean_models():
    yield
    forget_models()
    llmops_nb.autolog(disable=True)


def qa(n: int) -> list[dict]:
    return [{"inputs": {"question": f"q{i}"}, "expectations": {"expected_response": f"echo: q{i}"}} for i in range(n)]


@pytest.fixture
def app_for():
    clients = []

    def make(server):
        client = openai.OpenAI(base_url=server.openai_base_url, api_key="sk-test", max_retries=0)
        clients.append(client)
        return app_with(client)

    yield make
    for client in clients:
        client.close()


def app_with(client):

    def app(question):
        reply = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": question}])
        return reply.choices[0].message.content

    return app


def test_result_frame_columns_attrs_and_storage(server, app_for):
    judge = make_judge("on_topic", "On topic? {{ inputs }} {{ outputs }}",
                       model=f"openai:/judge?base_url={server.openai_base_url}")
    server.enqueue(*[Reply(text=f"echo: q{i // 2}", usage=Usage(100, 10)) if i % 2 == 0 else
                     Reply(text='{"result": "yes", "rationale": "fine"}', usage=Usage(999, 99)) for i in range(8)])
    df = evaluate(qa(4), predict_fn=app_for(server), scorers=[scorers.exact_match(), judge], name="qa-run",
                  max_concurrency=1, progress=False)
    assert type(df).__name__ == "DataFrame" and list(df.index) == [0, 1, 2, 3]
    assert list(df.columns) == [*BASE, "exact_match/value", "exact_match/rationale", "exact_match/error",
                                "on_topic/value", "on_topic/rationale", "on_topic/error"]
    assert df.outputs.tolist() == [f"echo: q{i}" for i in range(4)]
    assert df["exact_match/value"].tolist() == [True] * 4 and df["on_topic/rationale"][0] == "fine"
    # the app's tokens and cost, not the judge's
    assert df.input_tokens.tolist() == [100] * 4 and df.output_tokens.tolist() == [10] * 4
    assert (df.cost_usd > 0).all() and (df.latency_ms > 0).all()
    attrs = df.attrs
    assert attrs["name"] == "qa-run" and attrs["status"] == "FINISHED" and len(attrs["run_id"]) == 32
    assert attrs["summary"]["exact_match"] == {"mean": 1.0, "pass_rate": 1.0, "count": 4, "errors": 0}

    runs = eval_runs()
    assert runs.run_id[0] == attrs["run_id"] and runs.status[0] == "FINISHED" and runs.rows_done[0] == 4
    assert runs["on_topic/pass_rate"][0] == 1.0 and runs.predict_fn[0].endswith("app")
    stored = eval_results(attrs["run_id"])
    assert stored.drop(columns=["latency_ms"]).equals(df.drop(columns=["latency_ms"]))
    assert stored.attrs["summary"] == attrs["summary"]

    kinds = llmops_nb.evals.assessments(run_id=attrs["run_id"]).groupby("source_type").size().to_dict()
    assert kinds == {"CODE": 4, "LLM_JUDGE": 4}
    tagged = llmops_nb.traces(tag=f"llmops_nb.eval_run={attrs['run_id']}")
    assert sorted(tagged.trace_id) == sorted(df.trace_id)


def test_each_row_has_its_own_chain_trace_with_the_app_inside(server, app_for):
    df = evaluate(qa(3), predict_fn=app_for(server), scorers=[scorers.exact_match()], progress=False)
    assert df.trace_id.nunique() == 3
    llmops_nb.flush()
    spans = llmops_nb.spans(df.trace_id[1])
    root = spans[spans.parent_span_id.isna()].iloc[0]
    assert (root["name"], root["kind"], root["inputs"], root["outputs"]) == ("app", "CHAIN", {"question": "q1"},
                                                                             "echo: q1")
    assert root["attributes"]["llmops_nb.eval.row_index"] == 1
    assert set(spans.kind) == {"CHAIN", "CHAT_MODEL", "EVALUATOR"}
    assert (spans[spans.kind != "CHAIN"].parent_span_id == root["span_id"]).all()


def test_async_predict_and_scorers_in_a_running_event_loop():
    loops = set()

    async def app(question):
        loops.add(id(asyncio.get_running_loop()))
        await asyncio.sleep(0.01)
        return question.upper()

    @scorer
    async def shouted(outputs):
        await asyncio.sleep(0)
        return outputs.isupper()

    async def notebook_cell():
        # Like a Jupyter cell: a loop is running in this thread; evaluate() must not try to run one here.
        return evaluate([{"inputs": {"question": f"q{i}"}} for i in range(5)], predict_fn=app, scorers=[shouted],
                        progress=False), id(asyncio.get_running_loop())

    df, cell_loop = asyncio.run(notebook_cell())
    assert df.outputs.tolist() == [f"Q{i}" for i in range(5)] and df["shouted/value"].all()
    assert cell_loop not in loops  # ran on llmops_nb's own loop, leaving the kernel's alone

    async def awaited():
        frame = await aevaluate([{"inputs": {"question": "a"}}], predict_fn=app, scorers=[shouted], progress=False)
        return frame, id(asyncio.get_running_loop())

    loops.clear()
    frame, caller = asyncio.run(awaited())
    assert frame.outputs[0] == "A" and loops == {caller}  # aevaluate runs async code on the caller's loop


def test_failures_are_cells_and_the_run_goes_on():
    def app(n):
        if n == 2:
            raise ValueError("no answer for 2")
        return n * 10

    @scorer
    def big(outputs):
        if outputs == 30:
            raise RuntimeError("scorer bug")
        return outputs >= 20

    df = evaluate([{"inputs": {"n": n}} for n in range(4)], predict_fn=app, scorers=[big], progress=False)
    assert df.error[2] == "ValueError: no answer for 2" and df.error.isna().sum() == 3
    assert df["big/error"][2].startswith("not scored: the prediction failed")
    assert df["big/error"][3] == "RuntimeError: scorer bug"
    assert df["big/value"].tolist()[:2] == [False, False]
    assert df.attrs["summary"]["big"] == {"mean": 0.0, "pass_rate": 0.0, "count": 2, "errors": 2}
    llmops_nb.flush()
    assert llmops_nb.get_trace(df.trace_id[2]).status == "ERROR"


def test_predict_fn_calling_conventions():
    df = evaluate([{"inputs": "plain text"}], predict_fn=lambda text: text[::-1], progress=False)
    assert df.outputs[0] == "txet nialp" and df.attrs["name"] == "evaluation"
    df = evaluate([{"inputs": {"a": 1, "b": 2}}], predict_fn=lambda **kw: sum(kw.values()), progress=False)
    assert df.outputs[0] == 3
    with pytest.raises(TypeError, match=r"predict_fn\(question\) cannot take the rows' inputs \['prompt'\]"):
        evaluate([{"inputs": {"prompt": "x"}}], predict_fn=lambda question: question)
    assert len(eval_runs()) == 2  # the bad call stored nothing


def test_data_errors_name_the_fix():
    with pytest.raises(ValueError, match="no 'outputs' and no predict_fn"):
        evaluate([{"inputs": {"q": 1}}], scorers=[scorers.length()])
    with pytest.raises(ValueError, match="max_concurrency must be a positive integer"):
        evaluate([{"inputs": {"q": 1}, "outputs": 1}], max_concurrency=0)
    with pytest.raises(ValueError, match="has no 'inputs'"):
        evaluate([{"question": "q"}], predict_fn=str)


def test_max_concurrency_is_honoured_at_the_server(server, app_for):
    judge = make_judge("ok", "Fine? {{ outputs }}", model=f"openai:/judge?base_url={server.openai_base_url}")
    app = app_for(server)
    server.enqueue(*[Reply(text='{"result": "yes"}', delay=0.03)] * 80)
    df = evaluate([{"inputs": {"question": f"q{i}"}} for i in range(40)], predict_fn=app,
                  scorers=[judge, scorers.length()], max_concurrency=5, progress=False)
    assert len(df) == 40 and df["ok/value"].all()
    assert server.peak == 5  # reached, never exceeded


def test_interrupt_keeps_finished_rows():
    def slow(i):
        time.sleep(0.05)
        return i

    timer = threading.Timer(0.4, _thread.interrupt_main)
    timer.start()
    with pytest.raises(EvaluationInterrupted) as info:
        evaluate([{"inputs": {"i": i}} for i in range(200)], predict_fn=slow, scorers=[scorers.length()],
                 name="slow", max_concurrency=2, progress=False)
    timer.join()
    interrupted = info.value
    assert isinstance(interrupted, KeyboardInterrupt)
    partial = interrupted.results
    assert 0 < len(partial) < 200 and partial.attrs["status"] == "INTERRUPTED"
    assert partial.outputs.tolist() == list(partial.index)  # finished rows, complete
    assert f"llmops_nb.eval_results('{interrupted.run_id}')" in str(interrupted)
    run = eval_runs().iloc[0]
    assert (run.status, run.rows_done) == ("INTERRUPTED", len(partial))
    assert eval_results(interrupted.run_id).index.tolist() == partial.index.tolist()


def test_progress_line_in_a_terminal(monkeypatch, capsys):
    monkeypatch.setattr(_progress, "_mode", lambda: "text")
    evaluate([{"inputs": {"q": i}, "outputs": "x"} for i in range(3)], scorers=[scorers.length()], name="bar")
    assert "bar: 3/3 rows" in capsys.readouterr().err


def test_a_finished_evaluation_is_announced_to_its_display_renderer():
    from llmops_nb import _display

    seen = []
    _display.register(_display.EVALUATION, seen.append)
    try:
        df = evaluate([{"inputs": {"q": 1}, "outputs": "x"}], scorers=[scorers.length()], progress=False)
        with _display.muted(_display.EVALUATION):
            evaluate([{"inputs": {"q": 2}, "outputs": "y"}], scorers=[scorers.length()], progress=False)
    finally:
        _display.register(_display.EVALUATION, None)
    assert seen == [df]


def test_scoring_stored_traces_attaches_to_them():
    @llmops_nb.trace
    def answer(question):
        return f"A: {question}"

    answer("x")
    answer("yy")
    llmops_nb.flush()
    stored = llmops_nb.traces(name="answer")
    df = evaluate(stored, scorers=[scorers.length()], progress=False)
    assert sorted(df.trace_id) == sorted(stored.trace_id)  # no new traces: the stored ones are scored
    assert sorted(zip(df.inputs.map(lambda i: i["question"]), df["length/value"])) == [("x", 4), ("yy", 5)]
    assert df.latency_ms.notna().all()  # the stored trace's duration
    spans = llmops_nb.spans(df.trace_id[0])
    evaluator = spans[spans.kind == "EVALUATOR"].iloc[0]
    assert evaluator.parent_span_id == spans[spans.parent_span_id.isna()].span_id.iloc[0]
    assert set(llmops_nb.evals.assessments(run_id=df.attrs["run_id"]).trace_id) == set(stored.trace_id)


def test_compare_two_runs_row_by_row():
    data = [{"inputs": {"q": q}, "expectations": {"expected_response": a}}
            for q, a in (("1+1", "2"), ("2+2", "4"), ("3+3", "6"))]
    checks = [scorers.exact_match(), scorers.edit_distance()]
    old = evaluate(data, predict_fn=lambda q: {"1+1": "2", "2+2": "5", "3+3": "7"}[q], scorers=checks,
                   progress=False)
    new = evaluate(data, predict_fn=lambda q: {"1+1": "3", "2+2": "4", "3+3": "7"}[q], scorers=checks,
                   progress=False)
    diff = llmops_nb.evals.compare_runs(old, new.attrs["run_id"])
    assert diff["exact_match/outcome"].tolist() == ["loss", "win", "tie"]
    assert diff["edit_distance/outcome"].tolist() == ["loss", "win", "tie"]  # lower distance wins
    assert diff["exact_match/delta"].tolist() == [-1.0, 1.0, 0.0]
    assert diff.attrs["summary"]["exact_match"] == {"win": 1, "loss": 1, "tie": 1, "mean_baseline": 1 / 3,
                                                    "mean_candidate": 1 / 3}
    assert diff["outputs/candidate"].tolist() == ["3", "4", "7"]
    rescored = evaluate(new, scorers=[scorers.length()], progress=False)  # a result frame, scored again
    assert rescored.trace_id.tolist() == new.trace_id.tolist() and rescored["length/value"].tolist() == [1, 1, 1]


def test_callables_returning_awaitables_are_awaited():
    class Agent:
        async def __call__(self, question):
            await asyncio.sleep(0)
            return question * 2

    df = evaluate([{"inputs": {"question": "ab"}}], predict_fn=Agent(), scorers=[scorers.length()], progress=False)
    assert df.outputs[0] == "abab" and df["length/value"][0] == 4
