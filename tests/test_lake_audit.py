"""The audit trail on a lake: many processes append at once and the chain never forks; a row changed or
deleted through SQL is found; an erasure runs while another process writes traces."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from postgres import Lake
from support import ROOT, make_trace

import llmops_nb
from llmops_nb import prompts
from llmops_nb.store._audit import audit, verify_audit
from llmops_nb.store._erase import erase

WRITER = textwrap.dedent("""
    import pathlib, sys, time
    import llmops_nb
    from llmops_nb import prompts
    from llmops_nb.store._audit import record
    tag, count, barrier = sys.argv[1], int(sys.argv[2]), pathlib.Path(sys.argv[3])
    llmops_nb.sql("SELECT 1")  # attached before the race starts
    (barrier / tag).touch()
    while len(list(barrier.iterdir())) < 3:
        time.sleep(0.005)
    for i in range(count):
        record("export.parquet", f"{tag}-{i}", {"i": i}, actor=tag)
        prompts.register(f"p-{tag}", f"{tag} {i} {{{{q}}}}", author=tag)
    print("done", tag, flush=True)
""")


def _env(lake: Lake) -> dict[str, str]:
    return dict(os.environ, LLMOPS_NB_DB=lake.url, LLMOPS_NB_DATA_PATH=lake.data_path,
                PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))


@pytest.mark.slow
def test_three_processes_append_at_once_and_the_chain_never_forks(lake: Lake, tmp_path: Path):
    count, barrier = 8, tmp_path / "barrier"
    barrier.mkdir()
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, tag, str(count), str(barrier)], env=_env(lake),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for tag in "ABC"]
    for proc in procs:
        out, err = proc.communicate(timeout=280)
        assert proc.returncode == 0, err[-3000:]
        assert out.startswith("done"), out
    trail = audit(limit=None)
    assert sorted(trail.seq) == list(range(1, 2 * 3 * count + 1))  # one row per seq: no fork, no gap
    assert sorted(trail[trail.action == "export.parquet"].subject) == sorted(
        f"{t}-{i}" for t in "ABC" for i in range(count))
    assert (trail.action == "prompt.version_created").sum() == 3 * count
    check = verify_audit()
    assert check.ok, str(check)
    assert check.rows == 2 * 3 * count


def test_a_row_changed_or_deleted_on_the_lake_is_found(lake: Lake):
    prompts.register("qa", "one {{q}}", author="ana")
    prompts.register("qa", "two {{q}}", author="ana")
    prompts.set_alias("qa", "production", 2, author="ana")
    assert verify_audit().ok
    llmops_nb.sql("UPDATE audit_log SET details = '{}' WHERE seq = 2")
    check = verify_audit()
    assert check.seq == 2 and "do not match its hash" in check.reason
    llmops_nb.sql("DELETE FROM audit_log WHERE seq = 2")
    check = verify_audit()
    assert check.seq == 2 and "missing (deleted)" in check.reason


TRACER = textwrap.dedent("""
    import sys
    import llmops_nb
    for i in range(int(sys.argv[1])):
        with llmops_nb.span(f"other-{i}"):
            pass
        llmops_nb.flush()
    print("done", flush=True)
""")


@pytest.mark.slow
def test_an_erasure_while_another_process_writes_traces(lake: Lake):
    mine = [make_trace(f"mine-{i}", session="erase-me") for i in range(3)]
    assert llmops_nb.flush()
    count = 20
    child = subprocess.Popen([sys.executable, "-c", TRACER, str(count)], env=_env(lake), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    done = erase(session="erase-me")
    _, err = child.communicate(timeout=280)
    assert child.returncode == 0, err[-3000:]
    assert done["traces"] == 3 and done["spans"] == 6 and "history" in done
    names = set(llmops_nb.traces(limit=None).name)
    assert names == {f"other-{i}" for i in range(count)}  # theirs all there, ours gone
    assert set(mine).isdisjoint(llmops_nb.sql("SELECT DISTINCT trace_id FROM spans").trace_id)
    assert verify_audit().ok
