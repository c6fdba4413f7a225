"""Human feedback and assessments as DataFrames."""

from __future__ import annotations

import pytest

import llmops_nb
from llmops_nb.evals import assessments, evaluate, feedback, log_feedback, scorers


@pytest.fixture
def trace_id():
    with llmops_nb.span("answer") as root:
        root.set_outputs("Paris")
    return root.trace_id


def test_log_and_read_feedback(trace_id):
    first = log_feedback(trace_id, value=False, label="wrong", comment="not the capital", author="ana")
    log_feedback(trace_id, value=True, comment="actually fine", author="ana")
    log_feedback(trace_id, value=4, name="helpfulness", author="ben")
    frame = feedback(trace_id)
    assert list(frame.columns) == ["assessment_id", "trace_id", "name", "value", "label", "comment", "author",
                                   "created_at", "run_id", "row_index"]
    assert len(frame) == 3 and frame.assessment_id.str.len().eq(32).all() and first in set(frame.assessment_id)
    latest = feedback(trace_id, latest=True, name="human_feedback")
    assert latest[["value", "comment", "author"]].values.tolist() == [[True, "actually fine", "ana"]]
    assert feedback(author="ben").value.tolist() == [4]
    assert frame.created_at.notna().all()


def test_feedback_sits_with_scores_in_assessments():
    df = evaluate([{"inputs": {"q": 1}, "outputs": "abc"}], scorers=[scorers.length()], progress=False)
    log_feedback(df.trace_id[0], value=True, run_id=df.attrs["run_id"], row=0, author="ana")
    rows = assessments(df.trace_id[0])
    assert sorted(rows.source_type) == ["CODE", "HUMAN"]
    assert assessments(source="human").source_id.tolist() == ["ana"]
    assert feedback(run_id=df.attrs["run_id"]).row_index.tolist() == [0]


def test_feedback_errors_name_the_fix(trace_id):
    with pytest.raises(ValueError, match="needs a value"):
        log_feedback(trace_id)
    with pytest.raises(ValueError, match="32 lowercase hex"):
        log_feedback("abc", value=True)
    with pytest.raises(LookupError, match="No trace"):
        log_feedback("f" * 32, value=True)
    with pytest.raises(TypeError, match="bool, number or string"):
        log_feedback(trace_id, value={"score": 1})
    with pytest.raises(ValueError, match="HUMAN, LLM_JUDGE or CODE"):
        assessments(source="robot")


@pytest.fixture
def configured_author(monkeypatch):
    from llmops_nb._config import settings

    monkeypatch.delenv("LLMOPS_NB_AUTHOR", raising=False)
    monkeypatch.setattr(settings, "author", None)  # restored after the test, whatever configure() does
    llmops_nb.configure(author="carla")
    return "carla"


def test_configured_author_gives_the_feedback(trace_id, configured_author):
    # The bug: log_feedback() used the login name and ignored configure(author=...), which prompts honoured.
    log_feedback(trace_id, value=True)
    log_feedback(trace_id, value=False, author="dan")  # an explicit author still wins
    assert sorted(feedback(trace_id).author) == ["carla", "dan"]
    llmops_nb.datasets.create("by_carla", [{"inputs": {"q": 1}}])
    assert llmops_nb.datasets("by_carla").author.tolist() == [configured_author]
    with pytest.raises(ValueError, match="author must be a non-empty string"):
        log_feedback(trace_id, value=True, author="  ")


def test_eval_table_feedback_uses_the_configured_author(configured_author):
    from llmops_nb.widgets import EvalTable

    df = evaluate([{"inputs": {"q": 1}, "outputs": "abc"}], scorers=[scorers.length()], progress=False)
    widget = EvalTable(df)
    assert widget.author == configured_author
    widget.methods().get("feedback")({"row": 0, "value": True})
    assert feedback(run_id=df.attrs["run_id"]).author.tolist() == [configured_author]
