"""Prompt versions linked to traces, the traces(prompt=...) filter, and compare()."""

from __future__ import annotations

import math

import pytest

import llmops_nb
from llmops_nb import prompts
from llmops_nb.prompts._link import trace_filter
from llmops_nb.tracing._context import set_cell_root


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


def test_compare_two_versions_score_deltas_and_output_diffs():
    prompts.register("cmp", "answer: {{question}}")
    prompts.register("cmp", "ANSWER: {{question}}")
    prompts.set_alias("cmp", "production", 1)
    data = [{"inputs": {"question": "paris?"}, "expectations": {"answer": "paris"}},
            {"inputs": {"question": "rome?"}, "expectations": {"answer": "rome"}}]
    result = prompts.compare("cmp", "production", 2, data, [_shouts, _has_answer, _broken], _predict)
    assert (result.a.version, result.b.version) == (1, 2)
    table = result.table
    assert list(table.output_b) == ["ANSWER: PARIS?", "ANSWER: ROME?"] and all(table.outputs_changed)
    assert list(table["_shouts/delta"]) == [1.0, 1.0] and list(table["_has_answer/delta"]) == [0.0, 0.0]
    summary = result.summary
    assert summary.loc["_shouts"].delta == 1.0 and summary.loc["_shouts"].improved == 2
    assert summary.loc["_has_answer"].unchanged == 2 and math.isnan(summary.loc["_broken"].delta)
    assert result.results_a["_broken/error_message"][0] == "RuntimeError: scorer bug"
    assert result.results_a["_has_answer/rationale"][0] == "substring check"
    assert next(op["words"] for op in result.output_diff(0).ops if op["type"] == "line")[0][0] == "replace"
    bundle = result._repr_mimebundle_()
    assert "_shouts" in bundle["text/plain"] and "<script" not in bundle["text/html"]
    assert llmops_nb.flush()
    # each row ran as its own trace, linked to the version it used, with the scores as events
    assert _traces_using("cmp@1") == set(result.results_a.trace_id)
    assert _traces_using("cmp/2") == set(result.results_b.trace_id)
    events = llmops_nb.spans(result.results_b.trace_id[0]).events[0]
    assert {e["attributes"]["gen_ai.evaluation.name"] for e in events} == {"_shouts", "_has_answer"}


def test_compare_records_failing_rows_and_rejects_bad_arguments():
    prompts.register("cmp2", "{{question}}")
    prompts.register("cmp2", "again {{question}}")

    def flaky(prompt, question):
        if question == "boom":
            raise ValueError("model down")
        return question

    result = prompts.compare("cmp2", 1, 2, [{"question": "ok"}, {"question": "boom"}], [_shouts], flaky)
    assert result.results_a.error.tolist() == [None, "ValueError: model down"]
    assert result.results_a["_shouts/error_message"][1] == "predict_fn failed on this row"
    with pytest.raises(TypeError, match="predict_fn"):
        prompts.compare("cmp2", 1, 2, [{"question": "x"}], [_shouts], "not callable")
    with pytest.raises(ValueError, match="data is empty"):
        prompts.compare("cmp2", 1, 2, [], [_shouts], flaky)
    with pytest.raises(TypeError, match="callable"):
        prompts.compare("cmp2", 1, 2, [{"question": "x"}], ["exact"], flaky)
    with pytest.raises(prompts.PromptNotFoundError, match="no version 3"):
        prompts.compare("cmp2", 1, 3, [{"question": "x"}], [_shouts], flaky)
