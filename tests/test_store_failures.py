"""The store under hostile conditions: bad spans, held locks, full and read-only disks, damaged files.

Each test reproduces one finding of the adversarial run (issue "Trust the store") and checks the
promise: one bad span never blocks the rest, every wait keeps its time limit, nothing is lost
silently, and every failure names its real cause.
"""

from __future__ import annotations

import ctypes
import os
import sqlite3
import subprocess
import sys
import threading
import time

import pytest

import llmops_nb
from llmops_nb.store import _errors
from llmops_nb.store._connection import get_store
from llmops_nb.store._recorder import recorder
from llmops_nb.tracing import _record
from tests.store_faults import held, remount_read_only, small_disk
from tests.support import outputs_text, run_cells, subprocess_env


def spans(n: int, prefix: str = "s", payload: str = "") -> None:
    for i in range(n):
        with llmops_nb.span(f"{prefix}{i}") as s:
            if payload:
                s.set_inputs(payload)


def names() -> list[str]:
    return list(llmops_nb.sql("SELECT name FROM spans ORDER BY start_ns").name)


# -- one bad span never blocks the rest --------------------------------------------------------------

def test_hostile_attribute_and_status_values_are_recorded_and_block_nothing():
    class BadStr:
        def __str__(self) -> str:
            raise RuntimeError("no str for you")

        __repr__ = __str__

    failures_before = llmops_nb.status()["write_failures"]
    deep: list = []
    for _ in range(1000):
        deep = [deep]
    with llmops_nb.span("hostile") as s:
        s.set_attribute("deep", deep)  # the encoder used to hit RecursionError on the writer thread
        s.set_attribute(BadStr(), BadStr())
        s.set_status("ERROR", BadStr())
    spans(1000, "after")
    started = time.monotonic()
    assert llmops_nb.flush(timeout=10)
    assert time.monotonic() - started < 5
    assert len(names()) == 1001
    row = llmops_nb.sql("SELECT status, status_message, attributes FROM spans WHERE name = 'hostile'").iloc[0]
    assert row.status == "ERROR" and "str() raised RuntimeError" in row.status_message
    assert "nested deeper than" in row.attributes
    assert llmops_nb.status()["write_failures"] == failures_before  # nothing failed: values were plain already


def test_a_record_duckdb_refuses_is_isolated_as_a_placeholder_and_the_rest_is_written():
    spans(500, "before")
    good = _record.from_span  # build one real record, then break one field of it
    with llmops_nb.span("to-break") as s:
        s.set_attribute("k", "v")
    assert llmops_nb.flush()
    span = llmops_nb.span("bad")
    with span as live:
        pass
    bad = list(good(live, 1000))
    bad[_record.START] = "not a number"  # Arrow refuses it for an int64 column
    recorder.emit(tuple(bad))
    spans(500, "after")
    before = llmops_nb.status()["placeholder_spans"]
    assert llmops_nb.flush(timeout=20)
    written = names()
    assert sum(n.startswith("before") for n in written) == 500
    assert sum(n.startswith("after") for n in written) == 500
    placeholder = llmops_nb.sql("SELECT inputs, attributes FROM spans WHERE attributes LIKE '%unwritable%'")
    assert len(placeholder) == 1 and "not stored" in placeholder.inputs[0]
    assert llmops_nb.status()["placeholder_spans"] == before + 1
    assert llmops_nb.status()["spans_waiting"] == 0


# -- time limits -------------------------------------------------------------------------------------

def test_flush_returns_by_its_deadline_while_another_process_holds_the_file(store_path):
    spans(1)
    assert llmops_nb.flush()
    get_store().close()
    with held(store_path, 30):
        spans(1000, "waiting")
        for timeout in (0.5, 2.0):
            started = time.monotonic()
            assert llmops_nb.flush(timeout=timeout) is False
            assert time.monotonic() - started < timeout + 1.0  # polls every 50 ms; a loaded machine adds jitter
        status = llmops_nb.status()
        assert status["spans_waiting"] == 1000  # queued, in flight and kept for retry: all counted
        assert "locked" in (status["store_problem"] or "")
        assert status["writer"]["state"].startswith(("waiting: ", "retrying: "))
        assert "locked" in status["writer"]["state"]
    assert llmops_nb.flush(timeout=20)
    assert len(names()) == 1001


def test_configure_away_from_a_bad_path_switches_and_keeps_the_spans(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    llmops_nb.configure(db=str(blocker / "traces.duckdb"))
    spans(10, "kept")
    started = time.monotonic()
    assert llmops_nb.flush(timeout=2) is False
    assert time.monotonic() - started < 2.5
    assert "cannot be used" in llmops_nb.status()["store_problem"]
    good = tmp_path / "good.duckdb"
    started = time.monotonic()
    llmops_nb.configure(db=str(good))
    assert time.monotonic() - started < 7  # one bounded try for the old store, never a recursion
    assert "could not be written there" in capsys.readouterr().out
    assert llmops_nb.flush(timeout=10)
    assert sorted(names()) == sorted(f"kept{i}" for i in range(10))


@pytest.mark.slow
def test_a_traced_cell_waits_at_most_a_second_and_shows_the_trace_from_memory(tmp_path):
    db = tmp_path / "nb.duckdb"
    db_setup = run_cells(["1"], db)  # creates the store file
    assert db_setup
    with held(db, 8):
        cells = [
            "import time\nt0 = time.monotonic()",
            "%%llm_trace --name busy-store\n@llmops_nb.trace\ndef step():\n    return 1\nstep()",
            "print(f'elapsed {time.monotonic() - t0:.2f}')",
            "print(llmops_nb.flush(30), len(llmops_nb.traces(name='busy-store')))",
        ]
        executed = run_cells(cells, db, timeout=60)
    shown = outputs_text(executed[1])
    assert "kept in memory" in shown and "locked" in shown and "busy-store" in shown
    elapsed = float(outputs_text(executed[2]).split()[-1])
    assert elapsed < 3.0, elapsed
    assert outputs_text(executed[3]).strip().splitlines()[-1] == "True 1"  # (after the one logged warning)


# -- overload ----------------------------------------------------------------------------------------

def test_drops_are_logged_once_per_write_and_counted_per_trace(store_path):
    spans(1)
    assert llmops_nb.flush()
    get_store().close()
    llmops_nb.configure(max_buffered_spans=100)
    before = recorder.dropped_total
    try:
        with held(store_path, 2):
            for t in range(50):
                with llmops_nb.span(f"trace{t}"):
                    spans(99)
    finally:
        llmops_nb.configure(max_buffered_spans=1_000_000)
    assert llmops_nb.flush(timeout=20)
    dropped = recorder.dropped_total - before
    assert dropped > 4000
    log = llmops_nb.sql("SELECT count(*) AS rows, sum(count) AS n, max(traces) AS traces, any_value(reason) AS why "
                        "FROM dropped_spans").iloc[0]
    assert log.n == dropped and log.rows <= 5 and log.why == "memory bound"
    assert llmops_nb.sql("SELECT sum(dropped_spans) AS n FROM traces").n[0] == dropped


def test_a_flood_of_dropped_traces_is_written_in_parts_each_counted_once(store_path):
    # 890k single-span traces dropped in one overload held the file 4 s when their counts went
    # in one use of it; now each DROP_CHUNK traces is its own transaction and its own use.
    from llmops_nb.store import _writer

    spans(1)
    assert llmops_nb.flush()
    traces = 2 * _writer.DROP_CHUNK + 123
    drops = {key: 1 + key % 3 for key in range(1, traces + 1)}
    total = sum(drops.values())
    _writer.write_drops(drops, {"memory bound": total})
    assert drops == {}  # every part committed and was taken out: a retry would write nothing twice
    row = llmops_nb.sql("SELECT count(*) AS n, sum(dropped_spans) AS dropped FROM traces "
                        "WHERE dropped_spans > 0").iloc[0]
    assert row.n == traces and row.dropped == total
    log = llmops_nb.sql("SELECT count, traces, reason FROM dropped_spans").iloc[0]
    assert (log["count"], log["traces"], log["reason"]) == (total, traces, "memory bound")


def test_memory_bound_is_in_bytes(store_path):
    spans(1)
    assert llmops_nb.flush()
    get_store().close()
    llmops_nb.configure(max_buffer_bytes=2_000_000)
    try:
        with held(store_path, 30):
            spans(400, "big", payload="x" * 10_000)
            status = llmops_nb.status()
            assert status["bytes_waiting"] <= 2_000_000
            assert 150 <= status["spans_waiting"] <= 200  # ~10 kB each
            assert status["dropped_spans"] >= 200
    finally:
        llmops_nb.configure(max_buffer_bytes=1 << 30)


@pytest.mark.slow
def test_a_huge_backlog_is_written_in_chunks_that_never_hold_the_file_long():
    from llmops_nb._config import settings
    from llmops_nb.store._recorder import CHUNK_MAX_RECORDS

    settings.flush_interval = 1.0
    store = get_store()
    for _ in range(200):
        spans(1000)
    opens = store.opens
    assert llmops_nb.flush(timeout=120)
    assert len(llmops_nb.sql("SELECT span_id FROM spans")) == 200_000
    # The adversarial run's backlog went in one transaction that held the file for minutes. Now it
    # goes in chunks, and the file is released between them: several separate holds. (How long a
    # hold lasts is measured by benchmarks/overload.py, not asserted on a shared machine; this bound
    # only catches a return to one giant hold.)
    assert store.opens - opens >= 200_000 // CHUNK_MAX_RECORDS // 2
    assert store.longest_hold_s < 10.0, store.longest_hold_s


# -- user code only on the caller's thread; the writer watched -----------------------------------------

def test_the_writer_never_runs_user_code():
    release, entered = threading.Event(), threading.Event()
    seen_threads = []

    class Slow:
        def __repr__(self) -> str:
            seen_threads.append(threading.current_thread().name)
            entered.set()
            release.wait(30)
            return "<Slow>"

    def set_slow() -> None:
        with llmops_nb.span("slow") as s:
            s.set_attribute("obj", Slow())

    worker = threading.Thread(target=set_slow, name="user-thread")
    worker.start()
    assert entered.wait(10)
    spans(200, "meanwhile")
    assert llmops_nb.flush(timeout=10)  # the writer is free while user code blocks its own thread
    assert sum(n.startswith("meanwhile") for n in names()) == 200
    release.set()
    worker.join(10)
    assert llmops_nb.flush(timeout=10)
    assert seen_threads == ["user-thread"]


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # the SystemExit we inject
def test_a_dead_writer_is_reported_and_restarted_by_flush():
    spans(1)
    assert llmops_nb.flush()
    thread = recorder._thread
    assert thread is not None and thread.is_alive()
    # Kill the real writer thread the way an escaped BaseException would.
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), ctypes.py_object(SystemExit))
    recorder._wake.set()
    thread.join(10)
    assert not thread.is_alive()
    assert llmops_nb.status()["writer"]["state"].startswith("dead")
    restarts = recorder.writer_restarts
    spans(5, "later")
    assert llmops_nb.flush(timeout=10)
    assert recorder.writer_restarts == restarts + 1
    assert sum(n.startswith("later") for n in names()) == 5


# -- exit ----------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_exit_keeps_its_budget_and_counts_what_it_abandons(store_path):
    spans(1)
    assert llmops_nb.flush()
    get_store().close()
    child = ("import llmops_nb\n"
             "with llmops_nb.span('abandoned-root'):\n"
             "    for i in range(999):\n"
             "        with llmops_nb.span(f'c{i}'):\n"
             "            pass\n")
    with held(store_path, 40):
        started = time.monotonic()
        result = subprocess.run([sys.executable, "-c", child], env=subprocess_env(store_path), capture_output=True,
                                text=True, timeout=60, check=False)
        took = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert took < 15, took  # the 10 s exit budget, not the 60 s lock timeout
    assert "exiting with 1,000 spans of 1 traces not written" in result.stderr
    assert "next llmops_nb process records them as dropped" in result.stderr
    spans(1, "next")  # this process writes next: it records the note
    assert llmops_nb.flush(timeout=20)
    row = llmops_nb.sql("SELECT count, reason, traces FROM dropped_spans WHERE reason LIKE 'abandoned%'").iloc[0]
    assert row["count"] == 1000 and row.traces == 1 and "locked" in row.reason
    assert llmops_nb.sql("SELECT max(dropped_spans) AS n FROM traces").n[0] == 1000
    assert not (store_path.parent / f"{store_path.name}.lost.jsonl").exists()


# -- real causes ---------------------------------------------------------------------------------------

@pytest.mark.slow
def test_a_full_disk_is_named_and_spans_wait(tmp_path):
    with small_disk(tmp_path, "3m") as disk:
        llmops_nb.configure(db=str(disk / "traces.duckdb"))
        spans(1)
        assert llmops_nb.flush()
        spans(60, "big", payload="y" * 100_000)  # 6 MB of JSON on a 3 MB disk
        started = time.monotonic()
        assert llmops_nb.flush(timeout=3) is False
        assert time.monotonic() - started < 4
        problem = llmops_nb.status()["store_problem"] or ""
        assert "is full" in problem and "free some space" in problem, problem
        assert "rollback" not in problem.lower() and "locked" not in problem
        llmops_nb.configure(db=str(tmp_path / "elsewhere.duckdb"))
    assert llmops_nb.flush(timeout=20)


@pytest.mark.slow
def test_a_read_only_disk_is_named(tmp_path):
    with small_disk(tmp_path, "8m") as disk:
        llmops_nb.configure(db=str(disk / "traces.duckdb"))
        spans(1)
        assert llmops_nb.flush()
        get_store().close()
        remount_read_only(disk)
        spans(3)
        assert llmops_nb.flush(timeout=2) is False
        problem = llmops_nb.status()["store_problem"] or ""
        assert "cannot be written" in problem and "write access" in problem, problem
        llmops_nb.configure(db=str(tmp_path / "elsewhere.duckdb"))
    assert llmops_nb.flush(timeout=20)


def test_a_damaged_file_is_named_with_what_to_do(store_path):
    llmops_nb.configure(db=str(store_path.parent / "other.duckdb"))
    store_path.write_bytes(os.urandom(20_000))
    llmops_nb.configure(db=str(store_path))
    with pytest.raises(_errors.StoreCorruptError) as caught:
        llmops_nb.traces()
    message = str(caught.value)
    assert str(store_path) in message and "Move the file aside" in message


def test_a_sqlite_file_is_refused_before_duckdb_sees_it(store_path):
    llmops_nb.configure(db=str(store_path.parent / "other.duckdb"))
    sqlite = sqlite3.connect(store_path)
    sqlite.execute("CREATE TABLE t (x)")
    sqlite.commit()
    sqlite.close()
    llmops_nb.configure(db=str(store_path))
    with pytest.raises(_errors.StoreCorruptError, match="SQLite database, not a DuckDB file"):
        llmops_nb.traces()


def test_an_empty_file_becomes_a_new_store(store_path):
    llmops_nb.configure(db=str(store_path.parent / "other.duckdb"))
    store_path.write_bytes(b"")
    llmops_nb.configure(db=str(store_path))
    spans(1)
    assert llmops_nb.flush()
    assert names() == ["s0"]


@pytest.mark.parametrize(("message", "kind"), [
    ('IO Error: Trying to read a database file with version number 39, but we can only read version 64.\n'
     'The database file was created with an older version of DuckDB.', _errors.StoreVersionError),
    ('IO Error: Could not set lock on file "/x.duckdb": Conflicting lock is held in python (PID 7)',
     _errors.StoreLockedError),
    ('IO Error: Could not write file "/x.duckdb.wal": No space left on device', _errors.StoreFullError),
    ('IO Error: Cannot open file "/x.duckdb": Permission denied', _errors.StorePermissionError),
    ("Error Corrupt database file: computed checksum 1 does not match stored checksum 2 in block at location 0",
     _errors.StoreCorruptError),
])
def test_duckdb_failures_are_named(message, kind, tmp_path):
    import duckdb

    named = _errors.classify(duckdb.IOException(message), tmp_path / "x.duckdb")
    assert type(named) is kind
    assert "llmops_nb.configure(db=...)" in str(named)


def test_a_crashed_process_wal_is_copied_aside_before_duckdb_reads_it(store_path):
    spans(1)
    assert llmops_nb.flush()
    get_store().close()
    wal = store_path.with_name(store_path.name + ".wal")
    garbage = os.urandom(4096)
    wal.write_bytes(garbage)  # what a crash on a bad disk leaves: DuckDB may drop it silently
    llmops_nb.traces()
    copies = list(store_path.parent.glob(f"{store_path.name}.wal.*.bak"))
    assert len(copies) == 1 and copies[0].read_bytes() == garbage


@pytest.mark.slow
def test_a_killed_writer_leaves_a_wal_that_is_copied_and_replayed(store_path):
    get_store().close()
    child = ("import llmops_nb, time\nfrom llmops_nb.store._connection import get_store\n"
             "store = get_store()\n"
             "with store.connect() as con:\n"
             "    con.execute(\"INSERT INTO traces (trace_id, name) VALUES ('" + "a" * 32 + "', 'from-wal')\")\n"
             "    print('written', flush=True)\n"
             "    time.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-c", child], env=subprocess_env(store_path), stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "written"
    proc.kill()
    proc.wait(10)
    proc.stdout.close()
    wal = store_path.with_name(store_path.name + ".wal")
    assert wal.exists() and wal.stat().st_size > 0
    assert list(llmops_nb.traces().name) == ["from-wal"]  # DuckDB replayed it
    assert len(list(store_path.parent.glob(f"{store_path.name}.wal.*.bak"))) == 1


def test_extensions_are_never_installed_or_loaded_behind_our_back(store_path):
    with pytest.raises(Exception) as caught:
        llmops_nb.sql("SELECT * FROM sqlite_scan('x.db', 't')")
    assert "sqlite" in str(caught.value).lower()
    loaded = llmops_nb.sql("SELECT extension_name FROM duckdb_extensions() "
                           "WHERE loaded AND extension_name = 'sqlite_scanner'")
    assert loaded.empty
