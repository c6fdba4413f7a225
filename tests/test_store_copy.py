"""``copy_store()`` and ``python -m llmops_nb store copy`` between real DuckDB files and export folders.

The lake's side (file → lake → file, an export folder into a lake) is in test_lake_copy.py, which
reuses ``fill`` and ``logical`` from here.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from support import make_trace

import llmops_nb
from llmops_nb import prompts
from llmops_nb.__main__ import main
from llmops_nb.evals import evaluate, log_feedback, scorers
from llmops_nb.store import _copy, _copy_tables, _writer, copy_store
from llmops_nb.store._connection import get_store
from llmops_nb.store._copy_tables import CopyRefusedError
from llmops_nb.store._parquet_export import SKIPPED, TABLES

#: every table the copy moves, as ``SELECT *`` reads it
COPIED = [t.name for t in TABLES] + ["recorded_calls", "monitor_scored", "monitor_cursors"]


def fill(tag: str = "a") -> dict[str, str]:
    """Into the configured store: traces (one with dropped spans), an evaluation with feedback, prompts
    with aliases moved twice, a dataset, a recorded call, an online scorer's pass (its 2 EVALUATOR
    traces make 7 traces in all) and an alert incident."""
    first = make_trace(f"{tag}-alpha", tags={"env": "dev"}, session="s1", tokens=(3, 4), cost=0.25)
    make_trace(f"{tag}-beta", fail=True, tokens=(10, 1), cost=0.125)
    assert llmops_nb.flush()
    _writer.write_drops({int(first, 16): 3}, {"memory bound": 3})
    run = evaluate([{"inputs": {"q": i}, "outputs": "x" * (i + 1)} for i in range(3)], scorers=[scorers.length()],
                   progress=False, name=f"{tag}-run")
    log_feedback(first, value=False, comment="wrong tool", author="ana")
    prompts.register("qa", "Answer: {{question}}", commit_message="v1", author="ana")
    prompts.register("qa", "Answer briefly: {{question}}", commit_message="v2", author="ben")
    prompts.set_alias("qa", "production", 1, author="ana")
    prompts.set_alias("qa", "production", 2, author="ben")
    prompts.set_alias("qa", "staging", 1, author="ben")
    llmops_nb.datasets.create("capitals", [{"inputs": {"q": "France"}, "expectations": {"answer": "Paris"}},
                                           {"inputs": {"q": "Peru"}, "expectations": {"answer": "Lima"}}])
    with get_store().connect() as con:
        con.execute("INSERT INTO recorded_calls VALUES (?, 1, 'k1', 'POST', '/v1/chat', '{}', 200, '[]', "
                    "[from_hex('00ff'), 'data: x'::BLOB], true, 'OpenAI/Python 1.0', NULL, NULL, 'openai', 'm-1', "
                    "TIMESTAMP '2026-12-01 10:00:00')", [f"{tag}-nb"])
    assert llmops_nb.flush()
    from llmops_nb.monitor import Monitor  # an online scorer's results, keys and cursor; an alert incident

    mon = Monitor(retries=0)
    mon.add(scorers.length(max=1000), name=f"{tag}-short", backfill=True)
    mon.alert(f"{tag}-errors", "error_rate", above=0.1, window="1h")
    mon.run_once()
    mon.close()
    assert llmops_nb.flush()
    return {"first": first, "run": run.attrs["run_id"]}


def logical(db: str, data_path: str | None = None) -> dict[str, pd.DataFrame]:
    """What a store reads back: traces() and spans() as users see them, and every copied table whole."""
    from llmops_nb._config import settings

    previous = settings.db, settings.data_path
    llmops_nb.configure(db=db, data_path=data_path)
    try:
        traces = llmops_nb.traces(limit=None).sort_values("trace_id").reset_index(drop=True)
        found = {"traces()": traces, "spans()": pd.concat([llmops_nb.spans(t) for t in traces.trace_id] or [
            pd.DataFrame()], ignore_index=True)}
        for table in COPIED:
            found[table] = llmops_nb.sql(f"SELECT * FROM {table} ORDER BY ALL")
        if len(found["prompt_aliases"]):  # the registry's own reading of what was copied
            production = prompts.load("qa", alias="production")
            found["prompts"] = pd.DataFrame([{"version": production.version, "template": production.template,
                                              "aliases": production.aliases}])
    finally:
        llmops_nb.configure(db=previous[0], data_path=previous[1])
    return found


def assert_same(a: dict[str, pd.DataFrame], b: dict[str, pd.DataFrame], skip: tuple[str, ...] = ()) -> None:
    assert set(a) == set(b)
    for name, frame in a.items():
        if name not in skip:
            pd.testing.assert_frame_equal(frame, b[name], check_exact=False, rtol=1e-12, obj=name)


def counts(report: _copy_tables.CopyReport) -> dict[str, tuple[int, int, int]]:
    return {name: (done.copied, done.skipped, done.updated) for name, done in report.tables.items()}


def test_file_to_a_new_file_copies_everything_and_a_rerun_adds_nothing(store_path: Path, tmp_path: Path):
    fill()
    dst = tmp_path / "copy.duckdb"
    report = copy_store(store_path, dst)
    assert_same(logical(str(store_path)), logical(str(dst)))
    done = counts(report)
    assert list(done) == ["prompt_versions", "prompt_aliases", "prompt_alias_history", "eval_datasets",
                          "eval_dataset_rows", "traces", "spans", "dropped_spans", "eval_runs", "eval_results",
                          "assessments", "recorded_calls", "daily_usage", "monitor_scored", "monitor_cursors",
                          "monitor_incidents"]
    assert done["traces"] == (7, 0, 0) and done["spans"][0] >= 7 and done["prompt_alias_history"] == (3, 0, 0)
    assert all(skipped == 0 for _, skipped, _ in done.values())
    rerun = copy_store(store_path, dst)
    again = counts(rerun)
    assert {name: copied for name, (copied, _, _) in again.items()} == dict.fromkeys(done, 0)
    assert {name: skipped for name, (_, skipped, _) in again.items()} == {n: c for n, (c, _, _) in done.items()}
    assert_same(logical(str(store_path)), logical(str(dst)))  # nothing twice
    lines = rerun.lines()
    assert lines[0] == "prompt_versions: 0 copied, 2 skipped (already in DST)"
    assert lines[-1].startswith(f"Copied {store_path} to {dst} in ")


def test_into_a_store_with_other_data_keeps_it_and_adds_ours(store_path: Path, tmp_path: Path):
    dst = tmp_path / "team.duckdb"
    llmops_nb.configure(db=str(dst))
    theirs = make_trace("theirs")
    prompts.register("other", "Hi {{name}}")
    assert llmops_nb.flush()
    llmops_nb.configure(db=str(store_path))
    ours = fill()
    report = copy_store(store_path, dst)
    assert counts(report)["traces"] == (7, 0, 0)
    both = logical(str(dst))
    assert {theirs, ours["first"]} <= set(both["traces()"].trace_id)
    assert set(both["prompt_versions"].name) == {"other", "qa"}
    mine = logical(str(store_path))
    assert_same({k: v for k, v in mine.items() if k in ("eval_runs", "eval_results", "assessments")},
                {k: v for k, v in both.items() if k in ("eval_runs", "eval_results", "assessments")})


def test_an_export_folder_copies_into_a_file(store_path: Path, tmp_path: Path):
    fill()
    llmops_nb.export_parquet(tmp_path / "out")
    dst = tmp_path / "from-export.duckdb"
    report = copy_store(tmp_path / "out", dst)
    # the export leaves the monitor's bookkeeping out (llmops_nb.store._parquet_export.SKIPPED)
    assert report.absent == ["recorded_calls", "monitor_scored", "monitor_cursors"]
    assert "recorded_calls: not in SRC" in report.lines()
    assert_same(logical(str(store_path)), logical(str(dst)), skip=("recorded_calls", "monitor_scored",
                                                                   "monitor_cursors"))
    assert counts(copy_store(tmp_path / "out", dst))["spans"][0] == 0
    llmops_nb.export_parquet(tmp_path / "recent", since="2026-01-01T00:00Z")
    assert copy_store(tmp_path / "recent", dst).notes == [
        "SRC is an export of rows from 2026-01-01T00:00:00+00:00 to its end only"]


def test_a_trace_that_grew_after_a_copy_is_merged_to_the_same_totals(store_path: Path, tmp_path: Path):
    dst = tmp_path / "copy.duckdb"
    root = llmops_nb.tracing.start_span("long", kind="AGENT", parent=None)
    root.trace_meta = {"tags": {"k": "v"}, "session": "s", "cell": None}
    with llmops_nb.tracing.use_span(root), llmops_nb.span("step1", kind="LLM") as step:
        step.set_attributes({"gen_ai.usage.input_tokens": 5, "llmops_nb.cost_usd": 0.25})
    assert llmops_nb.flush()
    copy_store(store_path, dst)  # taken while the trace runs: its root is still open
    assert logical(str(dst))["traces()"].status.tolist() == ["IN_PROGRESS"]
    with llmops_nb.tracing.use_span(root), llmops_nb.span("step2", kind="LLM") as step:
        step.set_attributes({"gen_ai.usage.input_tokens": 7, "llmops_nb.cost_usd": 0.125})
        step.record_exception(ValueError("late"))
    root.end()
    assert llmops_nb.flush()
    _writer.write_drops({int(root.trace_id, 16): 2}, {"memory bound": 2})
    report = copy_store(store_path, dst)
    assert counts(report)["traces"] == (0, 0, 1) and counts(report)["spans"] == (2, 1, 0)
    assert report.lines()[5].startswith("traces: 0 copied, 0 skipped (already in DST), 1 merged")
    src, copied = logical(str(store_path)), logical(str(dst))
    assert_same(src, copied)
    row = copied["traces()"].iloc[0]
    assert (row.status, row.span_count, row.input_tokens, row.dropped_spans, row.cost_usd) == ("OK", 3, 12, 2, 0.375)
    assert counts(copy_store(store_path, dst))["traces"] == (0, 1, 0)


def test_a_run_copied_while_running_is_finished_by_the_next_copy(store_path: Path, tmp_path: Path):
    ids = fill()
    dst = tmp_path / "copy.duckdb"
    copy_store(store_path, dst)
    with get_store(dst).connect() as con:  # as a copy taken after its first row would have it
        con.execute("UPDATE eval_runs SET status = 'RUNNING', rows_done = 1, ended_at = NULL, summary = NULL "
                    "WHERE run_id = ?", [ids["run"]])
        con.execute("DELETE FROM eval_results WHERE run_id = ? AND row_index > 0", [ids["run"]])
    get_store(dst).close()
    report = copy_store(store_path, dst)
    assert counts(report)["eval_runs"] == (0, 0, 1) and counts(report)["eval_results"] == (3, 0, 0)
    assert_same(logical(str(store_path)), logical(str(dst)))


def test_conflicting_prompt_versions_are_refused_before_anything_is_written(store_path: Path, tmp_path: Path):
    dst = tmp_path / "team.duckdb"
    llmops_nb.configure(db=str(dst))
    prompts.register("qa", "Something else entirely: {{question}}")
    llmops_nb.datasets.create("capitals", [{"inputs": {"q": "Chile"}}])
    llmops_nb.configure(db=str(store_path))
    fill()
    before = logical(str(dst))
    with pytest.raises(CopyRefusedError, match=r"Nothing was copied.*prompts qa v1; and datasets capitals v1.*"
                                               r"Rename them in SRC"):
        copy_store(store_path, dst)
    assert_same(before, logical(str(dst)))
    assert main(["store", "copy", str(store_path), str(dst)]) == 1


def test_a_dst_alias_pointing_elsewhere_is_kept_and_reported(store_path: Path, tmp_path: Path):
    fill()
    dst = tmp_path / "copy.duckdb"
    copy_store(store_path, dst)
    llmops_nb.configure(db=str(dst))
    prompts.set_alias("qa", "production", 1, author="dst")  # DST moved it back
    history = llmops_nb.sql("SELECT * FROM prompt_alias_history ORDER BY seq")
    llmops_nb.configure(db=str(store_path))
    prompts.set_alias("qa", "staging", 2, author="src")  # and SRC moved another one
    prompts.delete_alias("qa", "staging", author="src")
    prompts.set_alias("qa", "canary", 2, author="src")
    report = copy_store(store_path, dst)
    assert report.notes == [
        "prompt alias qa@production: DST points at v1, SRC at v2; DST's was left as is "
        "(prompts.set_alias('qa', 'production', 2) on DST to follow SRC)",
        "prompt alias qa@staging: deleted in SRC, kept in DST at v1 (prompts.delete_alias('qa', 'staging') on DST "
        "to follow SRC)"]
    llmops_nb.configure(db=str(dst))
    assert prompts.load("qa", alias="production").version == 1 and prompts.load("qa", alias="canary").version == 2
    added = llmops_nb.sql("SELECT * FROM prompt_alias_history ORDER BY seq")
    assert added.iloc[:len(history)].equals(history)
    assert added.iloc[len(history):][["seq", "alias", "action", "to_version"]].values.tolist() == [
        [len(history) + 1, "canary", "set", 2]]  # SRC's moves of the disputed aliases stay out of DST's history
    assert prompts.rollback("qa", "production").version == 2  # DST's own last move, undone


def test_a_copy_stopped_halfway_is_finished_by_running_it_again(store_path: Path, tmp_path: Path, monkeypatch):
    for i in range(12):
        make_trace(f"t{i}", tokens=(i, 1))
    assert llmops_nb.flush()
    monkeypatch.setattr(_copy_tables, "CHUNK_ROWS", 4)  # spans come 4 at a time: a chunk is ~2 traces
    real, calls = _copy_tables._add_traces, []

    def interrupted(con, **kwargs):
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt  # Ctrl-C in the middle of the traces
        return real(con, **kwargs)

    monkeypatch.setattr(_copy_tables, "_add_traces", interrupted)
    dst = tmp_path / "copy.duckdb"
    with pytest.raises(KeyboardInterrupt):
        copy_store(store_path, dst)
    partial = logical(str(dst))["traces()"]
    assert 0 < len(partial) < 12
    with get_store(dst).connect() as con:  # only whole chunks: every trace DST has, has all its spans
        have = con.execute("SELECT t.span_count, count(s.span_id) FROM traces t LEFT JOIN spans s "
                           "USING (trace_id) GROUP BY t.trace_id, t.span_count").fetchall()
    get_store(dst).close()
    assert len(have) == len(partial) and all(total == found == 2 for total, found in have), have
    monkeypatch.setattr(_copy_tables, "_add_traces", real)
    report = copy_store(store_path, dst)
    assert counts(report)["traces"] == (12 - len(partial), len(partial), 0)
    assert_same(logical(str(store_path)), logical(str(dst)))


def test_mistaken_ends_are_refused_and_create_nothing(store_path: Path, tmp_path: Path):
    make_trace("x")
    assert llmops_nb.flush()
    missing = tmp_path / "typo.duckdb"
    with pytest.raises(CopyRefusedError, match=r"does not exist.*never created"):
        copy_store(missing, tmp_path / "dst.duckdb")
    assert not missing.exists() and not (tmp_path / "dst.duckdb").exists()
    with pytest.raises(CopyRefusedError, match="same store"):
        copy_store(store_path, tmp_path / "." / store_path.name)
    with pytest.raises(CopyRefusedError, match="is a folder: store copy writes"):
        copy_store(store_path, tmp_path)
    (tmp_path / "notexport").mkdir()
    with pytest.raises(CopyRefusedError, match="no llmops_nb export"):
        copy_store(tmp_path / "notexport", tmp_path / "dst.duckdb")
    assert not (tmp_path / "dst.duckdb").exists()


def test_cli_copies_prints_a_line_per_table_and_reports_mistakes(store_path: Path, tmp_path: Path, capsys):
    fill()
    dst = tmp_path / "cli.duckdb"
    assert main(["store", "copy", str(store_path), str(dst)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "prompt_versions: 2 copied, 0 skipped (already in DST)"
    assert "traces: 7 copied, 0 skipped (already in DST)" in out and out[-1].startswith("Copied ")
    assert main(["store", "copy", str(tmp_path / "nope.duckdb"), str(dst)]) == 1
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:
        main(["store", "copy", str(store_path)])
    assert usage.value.code == 2


def test_every_table_of_the_store_has_a_copy_rule():
    planned = [table for tables, _ in _copy.PLAN for table in tables]
    assert sorted(planned) == sorted(({t.name for t in TABLES} | set(SKIPPED)) - set(_copy.NOT_COPIED))
    assert len(planned) == len(set(planned))
