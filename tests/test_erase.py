"""``erase()`` removes a user's, a session's or some traces' payloads everywhere the store keeps them;
``apply_retention()`` deletes old traces and keeps their daily totals; both are audited. Runs on the file
store and, in scripts/test_lake.sh, on a lake."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from support import make_trace

import llmops_nb
from llmops_nb.evals import evaluate, log_feedback, scorers
from llmops_nb.store._audit import audit, verify_audit
from llmops_nb.store._connection import get_store
from llmops_nb.store._erase import erase
from llmops_nb.store._retention import apply_retention

SECRET = "my-medical-question-7731"  # a payload that must be gone everywhere after the erasure


def user_trace(user: str, text: str = "hello") -> str:
    with llmops_nb.span(f"chat-{user}", kind="CHAIN") as root:
        root.set_inputs({"question": text})
        with llmops_nb.span("llm", kind="CHAT_MODEL") as llm:
            llm.set_attributes({"user.id": user, "gen_ai.request.model": "m-1"})
            llm.set_outputs({"answer": f"about {text}"})
    return root.trace_id


def store_text() -> str:
    """Every row of every table that holds payloads, as one string."""
    tables = ["spans", "traces", "assessments", "eval_dataset_rows", "eval_results", "recorded_calls"]
    return json.dumps({t: llmops_nb.sql(f"SELECT * FROM {t}").astype(str).values.tolist() for t in tables})


def record_call(trace_id: str) -> None:
    with get_store().connect() as con:
        con.execute("INSERT INTO recorded_calls VALUES ('nb', 1, 'k1', 'POST', '/v1/chat', ?, 200, '[]', "
                    "['data: x'::BLOB], true, NULL, ?, NULL, 'openai', 'm-1', TIMESTAMP '2026-12-01 10:00:00')",
                    [json.dumps({"q": SECRET}), trace_id])


def test_erase_a_user_removes_every_payload_and_keeps_others():
    mine = [user_trace("u-1", SECRET), user_trace("u-1", SECRET + " again")]
    tagged = make_trace("tagged", tags={"user_id": "u-1"}, text=SECRET)
    theirs = user_trace("u-2", "weather")
    assert llmops_nb.flush()
    log_feedback(mine[0], value=False, comment=f"wrong about {SECRET}", author="ana")
    log_feedback(theirs, value=True, author="ana")
    llmops_nb.datasets.create("from-traces", llmops_nb.traces(limit=None))
    record_call(mine[1])
    assert SECRET in store_text()

    done = erase(user_id="u-1")
    assert {k: done[k] for k in ("traces", "spans", "assessments", "dataset_rows", "recorded_calls")} == {
        "traces": 3, "spans": 6, "assessments": 1, "dataset_rows": 3, "recorded_calls": 1}
    assert SECRET not in store_text()
    assert llmops_nb.traces(limit=None).trace_id.tolist() == [theirs]
    assert len(llmops_nb.feedback()) == 1
    assert llmops_nb.datasets.load("from-traces").to_df().source_trace_id.tolist() == [theirs]
    assert tagged not in set(llmops_nb.sql("SELECT trace_id FROM spans").trace_id)

    row = audit(action="data.erased").iloc[0]
    assert row.subject == "user_id" and row.details["traces"] == 3 and row.details["by"] == "user_id"
    assert "u-1" not in json.dumps(row.details)  # a digest of the selector, not the id itself
    assert verify_audit().ok
    assert erase(user_id="u-1")["traces"] == 0  # nothing left; still recorded
    assert len(audit(action="data.erased")) == 2


def test_erase_a_session_or_trace_ids():
    a = make_trace("a", session="s-1", text=SECRET)
    b = make_trace("b", session="s-1", text=SECRET)
    c = make_trace("c", session="s-2")
    d = make_trace("d")
    assert llmops_nb.flush()
    assert erase(session="s-1")["traces"] == 2
    assert set(llmops_nb.traces(limit=None).trace_id) == {c, d}
    assert erase(trace_ids=llmops_nb.traces(name="c"))["spans"] == 2
    assert erase(trace_ids=d)["traces"] == 1
    assert llmops_nb.traces(limit=None).empty and SECRET not in store_text()
    assert {a, b}.isdisjoint(llmops_nb.sql("SELECT trace_id FROM spans").trace_id)
    assert [r["by"] for r in audit().sort_values("seq").details] == ["session", "trace_ids", "trace_ids"]


def test_erasing_an_evaluated_trace_blanks_its_result_but_keeps_the_score():
    df = evaluate([{"inputs": {"q": SECRET}, "outputs": SECRET}], scorers=[scorers.length()], progress=False,
                  name="run")
    done = erase(trace_ids=df.trace_id.tolist())
    assert done["eval_results"] == 1
    results = llmops_nb.sql("SELECT inputs, outputs, expectations FROM eval_results")
    assert results.isna().all(axis=None) and SECRET not in store_text()
    assert llmops_nb.sql("SELECT status, rows_done FROM eval_runs").values.tolist() == [["FINISHED", 1]]


def test_erase_says_what_it_needs():
    with pytest.raises(ValueError, match="exactly one of user_id=, session= or trace_ids="):
        erase()
    with pytest.raises(ValueError, match="exactly one"):
        erase(user_id="u", session="s")
    with pytest.raises(ValueError, match="32 lowercase hex"):
        erase(trace_ids=["nope"])
    with pytest.raises(ValueError, match="user_id"):
        erase(user_id=" ")
    assert audit().empty  # nothing was erased, nothing recorded


def age(trace_id: str, days: float) -> None:
    """Move a stored trace ``days`` back in time (as if it had been recorded then)."""
    shift = int(dt.timedelta(days=days).total_seconds() * 1e9)
    lake = not get_store().supports_upsert
    with get_store().connect() as con:
        con.execute("UPDATE spans SET start_ns = start_ns - ?, end_ns = end_ns - ? WHERE trace_id = ?",
                    [shift, shift, trace_id])
        con.execute(f"UPDATE {'trace_parts' if lake else 'traces'} SET start_ns = start_ns - ?, "
                    "end_ns = end_ns - ? WHERE trace_id = ?", [shift, shift, trace_id])


def test_retention_deletes_old_traces_and_keeps_daily_totals():
    old = [make_trace("old-1", tokens=(3, 4), cost=0.25), make_trace("old-2", tokens=(10, 1), cost=0.5, fail=True)]
    recent = make_trace("recent", tokens=(1, 1))
    assert llmops_nb.flush()
    for trace_id in old:
        age(trace_id, 40)
    log_feedback(old[0], value=True, author="ana")

    done = apply_retention(days=30)
    assert done["traces"] == 2 and done["spans"] == 4 and done["daily_usage_rows"] == 2
    assert llmops_nb.traces(limit=None).trace_id.tolist() == [recent]
    totals = llmops_nb.sql("SELECT model, sum(traces) AS traces, sum(spans) AS spans, sum(llm_calls) AS llm_calls, "
                           "sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens, "
                           "sum(cost_usd) AS cost_usd, sum(errors) AS errors FROM daily_usage "
                           "GROUP BY model ORDER BY model NULLS FIRST")
    # the roots (no model; one failed) and the priced calls of model m-1
    assert totals.astype(object).where(totals.notna(), None).values.tolist() == [
        [None, 2, 2, 0, 0, 0, None, 1], ["m-1", 2, 2, 2, 13, 5, 0.75, 0]]
    day = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=40)).date()
    days = {d.date() for d in llmops_nb.sql("SELECT DISTINCT CAST(day AS TIMESTAMP) AS day FROM daily_usage").day}
    assert days <= {day - dt.timedelta(days=1), day}  # the traces' UTC start date (a day earlier just after midnight)
    assert len(llmops_nb.feedback()) == 1  # feedback is kept: retention deletes traces, not judgements

    row = audit(action="retention.applied").iloc[0]
    assert row.details["traces"] == 2 and row.details["days"] == 30
    assert apply_retention(days=30)["traces"] == 0
    assert verify_audit().ok and verify_audit().rows == 2
    with pytest.raises(ValueError, match="positive number"):
        apply_retention(days=0)


def test_the_daily_totals_are_exported_with_the_rest(tmp_path):
    old = make_trace("old", tokens=(3, 4))
    assert llmops_nb.flush()
    age(old, 40)
    apply_retention(days=30)
    counts = llmops_nb.export_parquet(tmp_path / "out")
    assert counts["daily_usage"] == 2 and counts["traces"] == 0
    assert len(list((tmp_path / "out" / "daily_usage").rglob("*.parquet"))) == 1  # one day: one folder
    assert audit().action.tolist() == ["export.parquet", "retention.applied"]


@pytest.mark.file_store
def test_retention_as_a_command_for_cron(store_path):
    import subprocess
    import sys

    from support import subprocess_env

    old, recent = make_trace("old"), make_trace("recent")
    assert llmops_nb.flush()
    age(old, 10)
    get_store().close()  # the command's process opens the file
    command = [sys.executable, "-m", "llmops_nb", "store", "retention", "--days", "7", "--db", str(store_path)]
    done = subprocess.run(command, env=subprocess_env(store_path), capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert "traces 1, spans 2" in done.stdout  # make_trace: a root and one child
    assert llmops_nb.traces(limit=None).trace_id.tolist() == [recent]
    assert audit(action="retention.applied").iloc[0].details["days"] == 7
    bad = subprocess.run([*command[:-4], "--days", "0"], env=subprocess_env(store_path), capture_output=True,
                         text=True, timeout=120, check=False)
    assert bad.returncode == 2 and "more than 0" in bad.stderr
