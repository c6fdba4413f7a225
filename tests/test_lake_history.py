"""A team store's history and upkeep: ``traces(as_of=...)`` reads a past snapshot, and the lake
compacts itself in the background once commits pile up (``store/_auto_maintain.py``)."""

from __future__ import annotations

import datetime as dt
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from postgres import Lake
from support import make_trace

import llmops_nb
from llmops_nb.store import _auto_maintain
from llmops_nb.store._connection import get_store
from llmops_nb.store._errors import StoreError
from llmops_nb.store._lake import _lock_key
from llmops_nb.store._maintain import live_files


def _commit_traces(count: int, prefix: str) -> list[str]:
    """``count`` traces of 12 spans, a flush (a commit, a Parquet file) each."""
    ids = []
    for i in range(count):
        with llmops_nb.span(f"{prefix}{i}", kind="AGENT") as root:
            for j in range(11):
                with llmops_nb.span(f"step{j}", kind="TOOL"):
                    pass
        ids.append(root.trace_id)
        assert llmops_nb.flush()
    return ids


def test_traces_as_of_reads_the_lake_as_it_was(lake: Lake):
    first = make_trace("before", text="early")
    assert llmops_nb.flush()
    time.sleep(0.05)
    moment = dt.datetime.now(dt.timezone.utc)
    time.sleep(0.05)
    second = make_trace("after")
    assert llmops_nb.flush()
    # a span added later to the first trace: as of then, the trace had its first two spans only
    with llmops_nb.tracing.use_span(llmops_nb.tracing.start_span("late", kind="TOOL", parent=None)):
        pass

    then = llmops_nb.traces(as_of=moment)
    assert then.trace_id.tolist() == [first]
    now = llmops_nb.traces()
    assert set(now.trace_id) == {first, second}
    pd.testing.assert_frame_equal(then, now[now.trace_id == first].reset_index(drop=True))
    assert llmops_nb.spans(first, as_of=moment).span_id.tolist() == llmops_nb.spans(first).span_id.tolist()
    assert llmops_nb.spans(second, as_of=moment).empty
    # every filter works on the past too, and the local-time rule of since/until applies
    assert llmops_nb.traces(as_of=moment, text="early").trace_id.tolist() == [first]
    assert llmops_nb.traces(as_of=moment.astimezone().replace(tzinfo=None)).trace_id.tolist() == [first]
    assert llmops_nb.traces(as_of=dt.timedelta(0)).shape[0] == 2
    # the lake is writable again afterwards: the past was attached beside it, read-only
    make_trace("later")
    assert llmops_nb.flush()
    assert "later" in set(llmops_nb.traces().name)
    with pytest.raises(StoreError, match=r"no snapshot at .*maintain\(keep="):
        llmops_nb.traces(as_of="1999-12-31T23:00Z")
    with pytest.raises(ValueError, match="not an ISO date"):
        llmops_nb.traces(as_of="yesterday-ish")


@pytest.mark.file_store
def test_as_of_on_a_file_says_it_needs_a_lake():
    with pytest.raises(ValueError, match="as_of needs a team store on DuckLake"):
        llmops_nb.traces(as_of=dt.timedelta(hours=1))
    with pytest.raises(ValueError, match="as_of needs a team store on DuckLake"):
        llmops_nb.spans("0" * 32, as_of=dt.timedelta(hours=1))


@pytest.fixture
def eager_checks(monkeypatch: pytest.MonkeyPatch):
    """Check after every commit (not every 30 s), from a clean slate."""
    monkeypatch.setattr(_auto_maintain, "CHECK_EVERY_S", 0.0)
    monkeypatch.setattr(_auto_maintain, "_state", {"last_check": 0.0, "thread": None, "last_run": None, "runs": 0,
                                                   "not_owner": False, "compacted_to": {}, "stopped": False})
    yield
    _auto_maintain.wait()
    llmops_nb.configure(auto_maintain=None)


def test_the_lake_compacts_itself_once_commits_pile_up(lake: Lake, eager_checks):
    llmops_nb.store.maintain()  # a new lake's migrations were commits too: start from none
    failures_before = dict(llmops_nb.status()["internal_failures"])
    llmops_nb.configure(auto_maintain=15)
    ids = _commit_traces(12, "quiet")
    _auto_maintain.wait()
    assert llmops_nb.status()["maintenance"]["runs"] == 0  # under the threshold: nothing done
    with get_store().connect() as con:
        assert live_files(con) >= 12

    # another thread keeps tracing while the maintenance runs: nothing of it is lost
    stop = threading.Event()
    written: list[str] = []

    def keep_tracing() -> None:
        while not stop.is_set():
            with llmops_nb.span("busy", kind="AGENT") as root:
                with llmops_nb.span("step", kind="TOOL"):
                    pass
            written.append(root.trace_id)
            llmops_nb.flush()

    worker = threading.Thread(target=keep_tracing)
    worker.start()
    try:
        ids += _commit_traces(8, "loud")
        _auto_maintain.wait()
    finally:
        stop.set()
        worker.join()
    assert llmops_nb.flush()
    _auto_maintain.wait()
    state = llmops_nb.status()["maintenance"]
    assert state["runs"] >= 1 and state["auto_maintain_commits"] == 15, state
    run = state["last_run"]
    assert run["commits_before"] >= 15 and run["files_after"] < run["files_before"], run
    with get_store().connect() as con:
        assert _auto_maintain.commits_since_compaction(con) < 15
    found = llmops_nb.sql("SELECT trace_id, count(*) AS n FROM spans GROUP BY trace_id")
    counts = dict(zip(found.trace_id, found.n))
    assert all(counts.get(trace_id) == 12 for trace_id in ids)
    assert all(counts.get(trace_id) == 2 for trace_id in written)
    assert llmops_nb.traces(limit=None).shape[0] == len(ids) + len(written)
    assert llmops_nb.status()["internal_failures"] == failures_before


def test_a_process_maintaining_already_is_left_to_it(lake: Lake, eager_checks):
    import psycopg

    llmops_nb.store.maintain()
    llmops_nb.configure(auto_maintain=5)
    store = get_store()
    with psycopg.connect(store._parsed().conninfo, autocommit=True) as other:  # another process's lock
        other.execute("SELECT pg_advisory_lock(%s)", [_lock_key("maintain")])
        _commit_traces(7, "t")
        _auto_maintain.wait()
        assert llmops_nb.status()["maintenance"]["runs"] == 0
        other.execute("SELECT pg_advisory_unlock(%s)", [_lock_key("maintain")])
    _commit_traces(1, "u")
    _auto_maintain.wait()
    assert llmops_nb.status()["maintenance"]["runs"] == 1


def test_auto_maintain_off_and_bad_values(lake: Lake, eager_checks, monkeypatch: pytest.MonkeyPatch):
    llmops_nb.configure(auto_maintain=0)
    _commit_traces(4, "t")
    _auto_maintain.wait()
    assert llmops_nb.status()["maintenance"] == {"auto_maintain_commits": 0, "runs": 0, "running": False,
                                                 "last_run": None}
    llmops_nb.configure(auto_maintain=None)
    monkeypatch.setenv("LLMOPS_NB_AUTO_MAINTAIN", "42")
    assert llmops_nb.status()["maintenance"]["auto_maintain_commits"] == 42
    monkeypatch.delenv("LLMOPS_NB_AUTO_MAINTAIN")
    assert llmops_nb.status()["maintenance"]["auto_maintain_commits"] == _auto_maintain.AUTO_MAINTAIN_COMMITS
    for bad in (-1, 2.5, True, "many"):
        with pytest.raises(ValueError, match="auto_maintain is a number of commits"):
            llmops_nb.configure(auto_maintain=bad)


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="reads the process's memory map (Linux)")
def test_attaching_again_reuses_the_extensions_already_loaded(lake: Lake, store_path: Path):
    """Each attachment is a new DuckDB instance that LOADs both extensions: from the same paths, the
    loader hands back the libraries in memory. (From a new folder each time, every attachment mapped
    another ~75 MB copy, and DuckDB crashed in LOAD after some hundred of them in one process.)"""

    def copies() -> int:
        return len({" ".join(line.split()[5:]) for line in Path("/proc/self/maps").read_text().splitlines()
                    if ".duckdb_extension" in line})

    mapped = {Path(" ".join(line.split()[5:])).name for line in Path("/proc/self/maps").read_text().splitlines()
              if ".duckdb_extension" in line}
    loaded = copies()
    # ducklake and postgres once each (httpfs too when the encrypted store's tests ran in this process)
    assert loaded == len(mapped) and {name.split(".")[0].split("_")[0] for name in mapped} >= {"ducklake", "postgres"}
    for _ in range(3):
        llmops_nb.configure(db=str(store_path), data_path=None)  # the lake is detached...
        llmops_nb.sql("SELECT 1")
        llmops_nb.configure(db=lake.url, data_path=lake.data_path)  # ...and attached again, a new instance
        assert llmops_nb.sql("SELECT count(*) AS n FROM spans").n[0] == 0
    assert copies() == loaded
