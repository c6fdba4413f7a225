"""Pass/fail is decided once, when an assessment is stored (``assessments.passed``), by one rule
(``evals._scorer.verdict``); the migration that added the column filled in the rows stored before it."""

from __future__ import annotations

import duckdb
import pytest

from llmops_nb.evals import evaluate, log_feedback, scorers
from llmops_nb.evals._scorer import verdict
from llmops_nb.store import _migrations
from llmops_nb.store._connection import get_store


@pytest.mark.parametrize(("value", "threshold", "lower", "expected"), [
    (True, None, False, True), (False, 0.5, False, False), (0.7, 0.5, False, True), (0.7, 0.5, True, False),
    (0.5, 0.5, True, True), (3, None, False, None), (float("nan"), 0.5, False, None), (" Yes ", None, False, True),
    ("FAILED", None, False, False), ("maybe", 0.5, False, None), (None, 0.5, False, None), ([1], None, False, None),
])
def test_verdict(value, threshold, lower, expected):
    assert verdict(value, threshold, lower) is expected


@scorers.scorer(threshold=5)
def long_enough(outputs):
    return len(outputs)


@scorers.scorer
def first_word(outputs):
    return outputs.split()[0]


def test_evaluate_and_feedback_store_the_verdict():
    df = evaluate([{"inputs": {"q": "a"}, "outputs": "yes"}, {"inputs": {"q": "b"}, "outputs": "no no no"}],
                  scorers=[long_enough, first_word], progress=False)
    log_feedback(df.trace_id[0], "no", comment="wrong")
    with get_store().connect() as con:
        stored = con.execute("SELECT name, row_index, passed FROM assessments WHERE run_id = ? "
                             "ORDER BY name, row_index", [df.attrs["run_id"]]).fetchall()
        human = con.execute("SELECT passed FROM assessments WHERE source_type = 'HUMAN'").fetchall()
    assert stored == [("first_word", 0, True), ("first_word", 1, False), ("long_enough", 0, False),
                      ("long_enough", 1, True)]
    assert human == [(False,)]


def test_the_migration_fills_in_the_verdict_of_older_rows():
    con = duckdb.connect(":memory:")
    before = [name for name, _ in _migrations.MIGRATIONS].index("e004_assessments_passed")
    _migrations.migrate(con, upto=before)
    con.execute("""INSERT INTO eval_runs (run_id, name, status, started_at, row_count, rows_done, scorers)
                   VALUES ('r1', 'old', 'FINISHED', now(), 3, 3,
                   '[{"name": "score", "threshold": 0.5, "lower_is_better": false},
                     {"name": "cost", "threshold": 2, "lower_is_better": true}, {"name": "judge"}]')""")
    rows = [("score", "0.7", 0.7), ("score", "0.2", 0.2), ("cost", "3", 3.0), ("cost", "1", 1.0),
            ("judge", '" Yes"', None), ("judge", '"unclear"', None), ("judge", "false", 0.0), ("judge", "null", None)]
    for i, (name, value, number) in enumerate(rows):
        con.execute("INSERT INTO assessments (assessment_id, trace_id, name, source_type, value, value_number, "
                    "run_id, row_index, created_at) VALUES (?, 't', ?, 'CODE', ?, ?, 'r1', ?, now())",
                    [str(i), name, value, number, i])
    con.execute("INSERT INTO assessments (assessment_id, trace_id, name, source_type, value, created_at) "
                "VALUES ('h', 't', 'human_feedback', 'HUMAN', '\"pass\"', now())")
    assert "e004_assessments_passed" in _migrations.migrate(con)
    found = con.execute("SELECT assessment_id, passed FROM assessments ORDER BY assessment_id").fetchall()
    assert found == [("0", True), ("1", False), ("2", False), ("3", True), ("4", True), ("5", None), ("6", False),
                     ("7", None), ("h", True)]
