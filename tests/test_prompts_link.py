"""Prompt versions linked to traces, the traces(prompt=...) filter, and compare()."""

from __future__ import annotations

import json
import math

import pytest

import llmops_nb
from llmops_nb import prompts
from llmops_nb.evals import scorers
from llmops_nb.models import forget_models
from llmops_nb.prompts._filter import trace_filter
from llmops_nb.tracing._context import set_cell_root
from tests.fakes import FakeLLMServer


@pytest.fixture
def judge_server():
    with FakeLLMServer() as fake:
        yield fake
    forget_models()
    llmops_nb.autolog(disable=True)


def _attributes(trace_id):
    frame = llmops_nb.spans(trace_id)
    return {row.name: row.attributes or {} for row in frame.itertuples()}


def _traces_using(prompt):
    clause, params = trace_filter(prompt)
    return set(llmops_nb.sql(f"SELECT trace_id FROM traces WHERE {clause}", params).trace_id)


def test_load_and_format_inside_a_span_record_the_version():
    prompts.register("qa", "Q: {{q}}")
    prompts.register("sys", "Be brief.")
    with llmops_nb.span("app", kind="CHAIN") as root:
        with llmops_nb.span("llm", kind="CHAT_MODEL"):
            prompts.load("qa").format(q="why")
            prompts.load("sys")
        with llmops_nb.span("formatting-only"):
            prompts.load("prompts:/qa/1")
    assert llmops_nb.flush()
    attrs = _attributes(root.trace_id)
    assert attrs["llm"]["llmops_nb.prompt.uris"] == ["prompts:/qa/1", "prompts:/sys/1"]
    assert attrs["llm"]["llmops_nb.prompt.name"] == "sys" and attrs["llm"]["llmops_nb.prompt.version"] == 1
    assert attrs["formatting-only"]["llmops_nb.prompt.uri"] == "prompts:/qa/1"
    assert "llmops_nb.prompt.name" not in attrs["app"]


def test_format_alone_links_and_outside_a_span_nothing_happens():
    version = prompts.register("fmt", "Q: {{q}}")
    version.format(q="no span here")  # no trace: nothing to record, no error
    with llmops_nb.span("call") as span:
        version.format(q="x")
    assert llmops_nb.flush()
    assert _attributes(span.trace_id)["call"]["llmops_nb.prompt.uri"] == "prompts:/fmt/1"


def test_the_traced_cells_root_records_the_prompt_too():
    prompts.register("cell", "hello")
    root = llmops_nb.tracing.start_span("cell-root", kind="CHAIN", parent=None)
    set_cell_root(root)
    try:
        with llmops_nb.tracing.use_span(root), llmops_nb.span("inner"):
            prompts.load("cell")
    finally:
        set_cell_root(None)
        root.end()
    assert llmops_nb.flush()
    attrs = _attributes(root.trace_id)
    assert attrs["cell-root"]["llmops_nb.prompt.uris"] == ["prompts:/cell/1"]
    assert attrs["inner"]["llmops_nb.prompt.uri"] == "prompts:/cell/1"


def test_trace_filter_by_name_version_and_alias():
    prompts.register("qa", "v1 {{q}}")
    prompts.register("qa", "v2 {{q}}")
    prompts.register("qa-long", "other {{q}}")
    prompts.set_alias("qa", "production", 2)
    ids = {}
    for ref in ("qa/1", "qa/2", "qa-long/1"):
        with llmops_nb.span(ref) as span:
            prompts.load(ref)
        ids[ref] = span.trace_id
    with llmops_nb.span("none") as span:
        pass
    assert llmops_nb.flush()
    assert _traces_using("qa") == {ids["qa/1"], ids["qa/2"]}  # not qa-long
    assert _traces_using("qa@1") == {ids["qa/1"]}
    assert _traces_using("prompts:/qa/2") == {ids["qa/2"]}
    assert _traces_using("qa@production") == {ids["qa/2"]}
    assert _traces_using(prompts.load("qa-long")) == {ids["qa-long/1"]}
    assert _traces_using("qa.x") == set()  # '.' is not a wildcard
    with pytest.raises(ValueError, match="Malformed"):
        trace_filter("prompts:/qa")


def _predict(prompt, question):
    return prompt.format(question=question).upper() if prompt.version == 2 else prompt.format(question=question)


def _shouts(outputs):
    return outputs.isupper()


def _has_answer(outputs, expectations):
    return {"value": expectations["answer"].lower() in outputs.lower(), "rationale": "substring check"}


def _broken(outputs):
    raise RuntimeError("scorer bug")


CAPITALS = [{"inputs": {"question": "paris?"}, "expectations": {"answer": "paris"}},
            {"inputs": {"question": "rome?"}, "expectations": {"answer": "rome"}}]


def test_compare_runs_evaluate_once_per_version_and_diffs_the_runs():
    prompts.register("cmp", "answer: {{question}}")
    prompts.register("cmp", "ANSWER: {{question}}")
    prompts.set_alias("cmp", "production", 1)
    length = scorers.length(unit="words")
    result = prompts.compare("cmp", "production", 2, CAPITALS, [_shouts, _has_answer, _broken, length], _predict)
    assert (result.a.version, result.b.version) == (1, 2)
    # each version is one stored evaluation run, named after the version it evaluated
    runs = llmops_nb.eval_runs()
    assert set(runs.name) == {"prompts:/cmp/1", "prompts:/cmp/2"}
    run_b = runs.set_index("name").loc["prompts:/cmp/2"]
    assert run_b.run_id == result.run_id_b == result.results_b.attrs["run_id"] and run_b.status == "FINISHED"
    assert run_b.predict_fn.endswith("_predict") and run_b["_shouts/mean"] == 1.0
    assert list(llmops_nb.eval_runs(name="prompts:/cmp/1").run_id) == [result.run_id_a]
    # the evaluate() frames, with their columns
    assert result.results_a["_broken/error"][0] == "RuntimeError: scorer bug"
    assert result.results_a["_has_answer/rationale"][0] == "substring check"
    assert list(result.results_b.outputs) == ["ANSWER: PARIS?", "ANSWER: ROME?"]
    # the comparison is compare_runs()' frame, plus whether the outputs changed
    table = result.table
    assert (table.attrs["baseline"], table.attrs["candidate"]) == (result.run_id_a, result.run_id_b)
    assert list(table["outputs/candidate"]) == ["ANSWER: PARIS?", "ANSWER: ROME?"] and all(table.outputs_changed)
    assert list(table["_shouts/delta"]) == [1.0, 1.0] and list(table["_shouts/outcome"]) == ["win", "win"]
    assert list(table["_has_answer/outcome"]) == ["tie", "tie"] and list(table["length/delta"]) == [0.0, 0.0]
    assert table["_broken/outcome"].isna().all()
    summary = result.summary
    assert list(summary.columns) == ["mean_v1", "mean_v2", "delta", "win", "loss", "tie"]
    assert summary.loc["_shouts"].delta == 1.0 and summary.loc["_shouts"].win == 2
    assert summary.loc["_has_answer"].tie == 2 and math.isnan(summary.loc["_broken"].delta)
    # per-row output diffs (by position or record_id) and the view
    assert next(op["words"] for op in result.output_diff(0).ops if op["type"] == "line")[0][0] == "replace"
    assert result.output_diff(table.index[1]).unified == result.output_diff(1).unified
    bundle = result._repr_mimebundle_()
    assert "_shouts" in bundle["text/plain"] and "prompts:/cmp/1 (baseline) vs prompts:/cmp/2" in bundle["text/plain"]
    assert result.run_id_b not in bundle["text/plain"] and result.run_id_b not in bundle["text/html"]
    assert "<script" not in bundle["text/html"] and "(win)" in bundle["text/html"]
    assert llmops_nb.flush()
    # each row ran as its own trace, linked to the version it used, with the scores stored on it
    assert _traces_using("cmp@1") == set(result.results_a.trace_id)
    assert _traces_using("cmp/2") == set(result.results_b.trace_id)
    stored = llmops_nb.evals.assessments(result.results_b.trace_id[0])
    assert {"_shouts", "_has_answer", "length"} <= set(stored.name)


def test_compare_links_the_version_even_when_predict_fn_does_not_format_it():
    prompts.register("raw", "{{question}}?")
    prompts.register("raw", "{{question}}!")

    async def predict(prompt, question):  # an async app reading the template itself
        return prompt.template.replace("{{question}}", question)

    result = prompts.compare("raw", 1, "latest", [{"inputs": {"question": "hi"}}], [_shouts], predict)
    assert list(result.table["outputs/baseline"]) == ["hi?"] and list(result.table["outputs/candidate"]) == ["hi!"]
    assert llmops_nb.flush()
    assert _traces_using("raw/1") == set(result.results_a.trace_id)
    assert _traces_using("raw/2") == set(result.results_b.trace_id)


def test_compare_with_an_llm_judge(judge_server):
    prompts.register("polite", "{{question}}")
    prompts.register("polite", "Please: {{question}}")
    judge = scorers.make_judge("polite", "Is this polite? {{ outputs }}",
                               model=f"openai:/judge?base_url={judge_server.openai_base_url}&max_retries=0")
    # version 1's rows are judged first (runs are sequential), then version 2's
    judge_server.enqueue(*['{"rationale": "curt", "result": "no"}'] * 2,
                         *['{"rationale": "says please", "result": "yes"}'] * 2)
    result = prompts.compare("polite", 1, 2, CAPITALS, [judge], lambda prompt, question: prompt.format(
        question=question))
    assert judge_server.pending == 0 and len(judge_server.requests) == 4
    assert list(result.table["polite/outcome"]) == ["win", "win"]
    assert result.summary.loc["polite"].to_dict() == {"mean_v1": 0.0, "mean_v2": 1.0, "delta": 1.0, "win": 2,
                                                      "loss": 0, "tie": 0}
    assert list(result.results_b["polite/rationale"]) == ["says please", "says please"]
    asked = [json.dumps(r.body) for r in judge_server.requests[2:]]
    assert all("Please: " in body for body in asked)


def test_compare_records_failing_rows_and_rejects_bad_arguments():
    prompts.register("cmp2", "{{question}}")
    prompts.register("cmp2", "again {{question}}")

    def flaky(prompt, question):
        if question == "boom":
            raise ValueError("model down")
        return question

    data = [{"inputs": {"question": "ok"}}, {"inputs": {"question": "boom"}}]
    result = prompts.compare("cmp2", 1, 2, data, [_shouts], flaky)
    assert result.results_a.error.tolist() == [None, "ValueError: model down"]
    assert result.results_a["_shouts/error"][1].startswith("not scored: the prediction failed")
    assert result.table["error/candidate"].tolist() == [None, "ValueError: model down"]
    assert not result.table.outputs_changed.any() and result.table["_shouts/outcome"].tolist() == ["tie", None]
    shown = result._repr_mimebundle_()
    assert "error: ValueError: model down" in shown["text/html"]
    assert "1 failed prediction with prompts:/cmp2/1 · 1 failed prediction with prompts:/cmp2/2" in shown["text/plain"]
    runs_before = len(llmops_nb.eval_runs())
    with pytest.raises(TypeError, match="predict_fn"):
        prompts.compare("cmp2", 1, 2, data, [_shouts], "not callable")
    with pytest.raises(ValueError, match="no rows"):
        prompts.compare("cmp2", 1, 2, [], [_shouts], flaky)
    with pytest.raises(ValueError, match="no 'inputs'"):
        prompts.compare("cmp2", 1, 2, [{"question": "x"}], [_shouts], flaky)
    with pytest.raises(TypeError, match="not a scorer"):
        prompts.compare("cmp2", 1, 2, data, ["exact"], flaky)
    with pytest.raises(TypeError, match="cannot take the rows' inputs"):
        prompts.compare("cmp2", 1, 2, data, [_shouts], lambda prompt, query: query)
    with pytest.raises(prompts.PromptNotFoundError, match="no version 3"):
        prompts.compare("cmp2", 1, 3, data, [_shouts], flaky)
    assert len(llmops_nb.eval_runs()) == runs_before  # bad arguments fail before any run starts


def test_compare_shows_itself_not_a_table_per_run():
    from llmops_nb import _display

    seen = []
    _display.register(_display.EVALUATION, seen.append)
    try:
        prompts.register("quiet", "{{question}}")
        result = prompts.compare("quiet", 1, 1, CAPITALS[:1], [_shouts], _predict)
        assert seen == []
        llmops_nb.evaluate(CAPITALS[:1], predict_fn=lambda question: question, progress=False)
        assert len(seen) == 1  # a plain evaluate() afterwards is shown again
    finally:
        _display.register(_display.EVALUATION, None)
    assert list(result.summary.columns[:2]) == ["mean_v1_a", "mean_v1_b"]
