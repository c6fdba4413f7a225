"""The DuckDB store: migrations, queries, crash safety, drop accounting — on real files."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from support import make_trace, subprocess_env

import llmops_nb
from llmops_nb.store import _migrations
from llmops_nb.store._connection import get_store


def test_migrations_from_empty_record_every_step(tmp_path):
    con = duckdb.connect(str(tmp_path / "empty.duckdb"))
    applied = _migrations.migrate(con)
    assert applied == [name for name, _ in _migrations.MIGRATIONS]
    assert _migrations.migrate(con) == []
    tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    assert {"spans", "traces", "dropped_spans", "_llmops_migrations"} <= tables
    con.close()


@pytest.mark.parametrize("step", range(1, len(_migrations.MIGRATIONS)))
def test_migrations_from_every_earlier_schema_keep_data(tmp_path, step):
    path = tmp_path / f"v{step}.duckdb"
    con = duckdb.connect(str(path))
    _migrations.migrate(con, upto=step)
    con.execute("INSERT INTO spans (trace_id, span_id, name, kind, start_ns, end_ns, status) "
                "VALUES ('a' || repeat('0', 31), '1' || repeat('0', 15), 'old', 'LLM', 1, 2, 'OK')")
    con.close()
    llmops_nb.configure(db=str(path))
    with llmops_nb.span("new"):
        pass
    assert llmops_nb.flush()
    names = set(llmops_nb.sql("SELECT name FROM spans").name)
    assert names == {"old", "new"}
    done = llmops_nb.sql("SELECT name FROM _llmops_migrations").name.tolist()
    assert sorted(done) == sorted(name for name, _ in _migrations.MIGRATIONS)


def test_traces_columns_totals_and_filters():
    ok = make_trace("rag", tags={"env": "dev", "team": "x"}, session="s1", tokens=(10, 5), text="Paris weather")
    time.sleep(0.01)
    bad = make_trace("agent", tags={"env": "prod"}, fail=True, tokens=(1, 2))
    assert llmops_nb.flush()
    frame = llmops_nb.traces()
    for column in ("trace_id", "name", "start_time", "duration_ms", "status", "span_count", "llm_calls",
                   "input_tokens", "output_tokens", "cost_usd", "tags", "session", "cell"):
        assert column in frame.columns, column
    assert list(frame.trace_id) == [bad, ok]  # newest first
    row = frame.set_index("trace_id").loc[ok]
    assert (row.span_count, row.llm_calls, row.input_tokens, row.output_tokens) == (2, 1, 10, 5)
    assert row.cost_usd == pytest.approx(0.5) and row.tags == {"env": "dev", "team": "x"} and row.session == "s1"
    assert row.cell == {"execution_count": 1}
    assert isinstance(row.start_time, (dt.datetime,)) or hasattr(row.start_time, "year")
    assert list(llmops_nb.traces(name="rag").trace_id) == [ok]
    assert list(llmops_nb.traces(name="ag*").trace_id) == [bad]
    assert list(llmops_nb.traces(tag="env=dev").trace_id) == [ok]
    assert list(llmops_nb.traces(tag={"env": "prod"}).trace_id) == [bad]
    assert list(llmops_nb.traces(tag=["env=dev", "team=x"]).trace_id) == [ok]
    assert list(llmops_nb.traces(status="error").trace_id) == [bad]
    assert list(llmops_nb.traces(text="paris").trace_id) == [ok]
    assert list(llmops_nb.traces(text="100%").trace_id) == []
    assert list(llmops_nb.traces(session="s1").trace_id) == [ok]
    assert len(llmops_nb.traces(since=dt.timedelta(minutes=5))) == 2
    assert len(llmops_nb.traces(until="2000-01-01")) == 0
    assert len(llmops_nb.traces(since=dt.datetime.now() + dt.timedelta(hours=1))) == 0
    assert len(llmops_nb.traces(limit=1)) == 1 and list(llmops_nb.traces(limit=1, offset=1).trace_id) == [ok]
    err = llmops_nb.traces(status="ERROR").iloc[0]
    assert err.error_message == "bad things" and err.error_count == 1


def test_filter_mistakes_are_clear():
    with pytest.raises(ValueError, match="KEY=VALUE"):
        llmops_nb.traces(tag="nokey")
    with pytest.raises(ValueError, match="OK, ERROR, IN_PROGRESS"):
        llmops_nb.traces(status="failed")
    with pytest.raises(ValueError, match="ISO"):
        llmops_nb.traces(since="yesterday")
    with pytest.raises(ValueError, match="32 lowercase hex"):
        llmops_nb.spans("abc")
    with pytest.raises(LookupError, match="not in the store"):
        llmops_nb.get_trace("0" * 32)


def test_sql_is_parameterized():
    trace_id = make_trace("x")
    assert llmops_nb.flush()
    frame = llmops_nb.sql("SELECT count(*) AS n FROM spans WHERE trace_id = ?", [trace_id])
    assert frame.n[0] == 2
    hostile = "x' OR 1=1 --"
    assert llmops_nb.sql("SELECT count(*) AS n FROM spans WHERE name = $name", {"name": hostile}).n[0] == 0
    assert len(llmops_nb.traces(name=hostile)) == 0 and len(llmops_nb.traces(text=hostile)) == 0


def test_get_trace_object():
    trace_id = make_trace("obj", tokens=(3, 4))
    assert llmops_nb.flush()
    trace = llmops_nb.get_trace(trace_id)
    assert trace.status == "OK" and trace.span_count == 2 and len(trace.spans) == 2
    text = repr(trace)
    assert "2 spans" in text and "1 LLM call" in text and "7 tokens" in text and trace_id in text
    bundle = trace._repr_mimebundle_()
    assert "text/html" in bundle and "text/plain" in bundle


def test_in_progress_trace_is_visible_then_completes():
    root = llmops_nb.tracing.start_span("long", kind="AGENT", parent=None)
    with llmops_nb.tracing.use_span(root), llmops_nb.span("step"):
        pass
    assert llmops_nb.flush()
    row = llmops_nb.traces().iloc[0]
    assert row.status == "IN_PROGRESS" and row.span_count == 1 and row.duration_ms != row.duration_ms
    root.end()
    assert llmops_nb.flush()
    row = llmops_nb.traces().iloc[0]
    assert row.status == "OK" and row.span_count == 2 and row["name"] == "long" and row.duration_ms > 0


def test_memory_bound_drops_are_counted_recorded_and_shown():
    from llmops_nb.store._recorder import recorder

    before = recorder.dropped_total
    llmops_nb.configure(max_buffered_spans=5, flush_interval=1.0)
    try:
        root = llmops_nb.tracing.start_span("burst", parent=None)
        with llmops_nb.tracing.use_span(root):
            for i in range(20):
                with llmops_nb.span(f"s{i}"):
                    pass
        root.end()
    finally:
        llmops_nb.configure(max_buffered_spans=1_000_000, flush_interval=0.5)
    assert llmops_nb.flush()
    dropped = recorder.dropped_total - before
    assert dropped >= 15
    rows = llmops_nb.sql("SELECT sum(count) AS n FROM dropped_spans")
    assert rows.n[0] == dropped
    trace = llmops_nb.get_trace(root.trace_id)
    written = llmops_nb.sql("SELECT count(*) AS n FROM spans").n[0]
    assert trace.dropped_spans + written == 21
    assert "DROPPED" in repr(trace)
    assert llmops_nb.status()["dropped_spans"] >= dropped


@pytest.mark.file_store
def test_writes_wait_for_another_process_holding_the_file(store_path):
    with llmops_nb.span("first"):
        pass
    assert llmops_nb.flush()
    get_store().close()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time\n"
         f"c = duckdb.connect({str(store_path)!r}); print('held', flush=True); time.sleep(1.5); c.close()"],
        stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    with llmops_nb.span("second"):
        pass
    started = time.monotonic()
    assert llmops_nb.flush(timeout=30)
    assert time.monotonic() - started > 0.5  # it really waited for the lock
    holder.wait(10)
    holder.stdout.close()
    assert set(llmops_nb.sql("SELECT name FROM spans").name) == {"first", "second"}
    assert get_store().lock_waits > 0


@pytest.mark.file_store  # another process holds the DuckDB file's lock
def test_flush_gives_up_at_its_timeout_and_keeps_spans(store_path):
    with llmops_nb.span("a"):
        pass
    assert llmops_nb.flush()
    get_store().close()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, time\n"
         f"c = duckdb.connect({str(store_path)!r}); print('held', flush=True); time.sleep(3); c.close()"],
        stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    llmops_nb.configure(lock_timeout=0.3)
    try:
        with llmops_nb.span("kept"):
            pass
        assert llmops_nb.flush(timeout=0.5) is False
        assert llmops_nb.status()["spans_waiting"] >= 1
    finally:
        llmops_nb.configure(lock_timeout=60.0)
    holder.wait(10)
    holder.stdout.close()
    assert llmops_nb.flush(timeout=30)
    assert set(llmops_nb.sql("SELECT name FROM spans").name) == {"a", "kept"}


KILL_CHILD = """
import sys, time, llmops_nb
llmops_nb.configure(flush_interval=0.05)
n = 0
while True:
    with llmops_nb.span(f"trace-{n}", kind="AGENT"):
        for j in range(5):
            with llmops_nb.span(f"step-{j}", kind="TOOL") as s:
                s.set_inputs({"payload": "x" * 2000})
    n += 1
    if n % 10 == 0:
        assert llmops_nb.flush()
        print(n, flush=True)
"""


@pytest.mark.file_store
def test_sigkill_leaves_a_file_that_opens_with_every_flushed_trace(store_path):
    child = subprocess.Popen([sys.executable, "-c", KILL_CHILD], stdout=subprocess.PIPE, text=True,
                             env=subprocess_env(store_path))
    flushed = 0
    deadline = time.monotonic() + 60
    while flushed < 200 and time.monotonic() < deadline:
        line = child.stdout.readline()
        if not line:
            break
        flushed = int(line)
    os.kill(child.pid, signal.SIGKILL)
    child.wait(10)
    child.stdout.close()
    assert flushed >= 200, "child did not make progress"
    con = duckdb.connect(str(store_path))
    traces = con.execute("SELECT count(*) FROM traces WHERE status = 'OK'").fetchone()[0]
    incomplete = con.execute(
        "SELECT count(*) FROM traces t WHERE status = 'OK' AND span_count != "
        "(SELECT count(*) FROM spans s WHERE s.trace_id = t.trace_id)").fetchone()[0]
    con.close()
    assert traces >= flushed
    assert incomplete == 0


def test_schema_doc_is_generated_from_the_migrations():
    from pathlib import Path

    from llmops_nb.store import schema_doc

    committed = (Path(__file__).resolve().parent.parent / "docs" / "schema.md").read_text()
    assert committed == schema_doc.render(), "run: python -m llmops_nb.store.schema_doc > docs/schema.md"


def test_name_filter_matches_literal_wildcard_characters():
    for name in ("a*b", "a?b", "a[1]b", "axb"):
        with llmops_nb.span(name):
            pass
    assert llmops_nb.flush()

    def found(pattern):
        return sorted(llmops_nb.traces(name=pattern).name)

    assert found("a*b") == ["a*b", "a?b", "a[1]b", "axb"]  # a glob
    assert found("a[*]b") == ["a*b"] and found("a\\*b") == ["a*b"]  # literal *
    assert found("a[?]b") == ["a?b"]
    assert found("a[1]b") == ["a[1]b"]  # no wildcard: an exact name, brackets and all
    assert found("a[[]1]*") == ["a[1]b"]  # in a glob, [[] is a literal [
    with pytest.raises(ValueError, match=r"write \[\[\] for a literal"):
        llmops_nb.traces(name="a[1*")


@pytest.mark.file_store
def test_maintain_checkpoints_a_file_store(store_path):
    from llmops_nb.store import maintain

    trace_id = make_trace("kept")
    assert llmops_nb.flush()
    done = maintain()
    assert done["store"] == "file" and done["checkpointed"] is True
    assert llmops_nb.traces().trace_id.tolist() == [trace_id]
    assert not Path(f"{store_path}.wal").exists() or Path(f"{store_path}.wal").stat().st_size == 0


def test_a_trace_that_just_ended_is_read_at_once():
    llmops_nb.configure(flush_interval=1.0)  # the writer's own pace would show it up to a second later
    with llmops_nb.span("just-now") as root:
        pass
    assert llmops_nb.traces().trace_id.tolist() == [root.trace_id]
    assert llmops_nb.spans(root.trace_id).name.tolist() == ["just-now"]
    with llmops_nb.span("and-again"):
        pass
    assert llmops_nb.sql("SELECT count(*) AS n FROM traces").n[0] == 2
