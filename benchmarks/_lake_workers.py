"""What runs inside the lake benchmark's worker processes; ``lake_bench.py`` drives them.

Each class is built by ``benchmarks._worker`` in a process of its own, in one of two environments:
the file store's (the main venv: duckdb 2.x) or the lake's (the overlay first on PYTHONPATH:
duckdb 1.5.5 with the DuckLake and PostgreSQL extension packages, and psycopg). Nothing here
imports DuckDB or llmops_nb at module level, so the module loads in both.

- ``Postgres`` owns the throwaway PostgreSQL cluster (``tests/postgres.py``): it is stopped and
  removed when this process ends — normally, on the driver's EOF, on Ctrl-C or on SIGTERM.
- ``Writer`` traces through the public API (``@llmops_nb.trace``, then ``flush()``) into the
  store it is pointed at; the recorder's writer thread does the batching, as in a kernel.
- ``QueryStore`` is ``query.py``'s: the same generated 1M-span store built with llmops_nb's own
  ``write_records``, here in many small commits, on a file or a lake.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import random
import signal
import sys
import time
from pathlib import Path
from typing import Any

from .persist import QUESTION, typical_app
from .query import QueryStore as _QueryStore

SPANS_PER_TRACE = 11  # a CHAIN root calling 5 TOOL and 5 LLM children (persist.py's "typical" trace)
_SPANS_PER_QUERY_TRACE = 50  # query.py's generated traces


class Postgres:
    def __init__(self, workdir: Path) -> None:
        from tests.postgres import local_cluster

        self._stack = contextlib.ExitStack()
        atexit.register(self._stack.close)  # runs after an unhandled KeyboardInterrupt too
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # SystemExit: atexit runs
        self.cluster = self._stack.enter_context(local_cluster())

    def database(self) -> dict[str, Any]:
        name = self.cluster.create_database()
        return {"name": name, "url": f"ducklake:postgres:{self.cluster.conninfo(name)}"}

    def info(self, name: str | None = None) -> dict[str, Any]:
        import psycopg

        with psycopg.connect(self.cluster.conninfo(name or "postgres"), autocommit=True) as con:
            version = con.execute("SHOW server_version").fetchone()[0]
            size = con.execute("SELECT pg_database_size(current_database())").fetchone()[0]
        version = version.decode() if isinstance(version, bytes) else str(version)  # SHOW's text arrives as bytes
        return {"server_version": version, "catalog_bytes": int(size), "psycopg": psycopg.__version__}

    def close(self) -> None:
        self._stack.close()


def versions() -> dict[str, str]:
    """The DuckDB this process runs, and the lake's extension packages when present."""
    from importlib import metadata

    import duckdb

    found = {"duckdb": duckdb.__version__}
    for dist in ("duckdb-extension-ducklake", "duckdb-extension-postgres"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            found[dist] = metadata.version(dist)
    return found


def _counting_writes(stats: dict[str, float]) -> None:
    """Count the recorder's chunk writes and the time they take (instrumentation; behavior unchanged)."""
    from llmops_nb.store import _writer

    real = _writer.write_records

    def write_records(records: list[Any], **options: Any) -> None:
        started = time.perf_counter()
        try:
            real(records, **options)
        finally:
            stats["chunks"] += 1
            stats["records"] += len(records)
            stats["write_s"] += time.perf_counter() - started

    _writer.write_records = write_records  # the recorder looks it up on the module at each call


class Writer:
    """One kernel tracing flat out: a 11-span trace per call, written by the recorder's own thread."""

    def __init__(self, workdir: Path) -> None:
        import llmops_nb

        self.llmops_nb = llmops_nb
        self.workdir = workdir
        self.chunks = {"chunks": 0.0, "records": 0.0, "write_s": 0.0}
        _counting_writes(self.chunks)
        self.answer = typical_app(llmops_nb)

    def prepare(self, db: str, data_path: str | None = None) -> dict[str, Any]:
        """Point at ``db``, attach (a new lake: migrate) and write one trace: a kernel after its first cell."""
        self.llmops_nb.configure(db=db, data_path=data_path)
        started = time.perf_counter()
        self.llmops_nb.sql("SELECT 1")
        attached = time.perf_counter() - started
        self.answer(QUESTION)
        return {"attach_s": attached, "warm_ok": self.llmops_nb.flush(timeout=120), **versions()}

    def _counters(self) -> dict[str, float]:
        from llmops_nb.store import _lake_writer
        from llmops_nb.store._connection import get_store
        from llmops_nb.store._recorder import recorder

        store = get_store()
        return {"written": recorder.written_total, "failures": recorder.write_failures,
                "lock_waits": store.lock_waits, "opens": store.opens,
                "conflicts": _lake_writer.retried["conflicts"], **self.chunks}

    def write(self, spans: int, start_at: float) -> dict[str, Any]:
        """Trace ``spans`` spans from the wall-clock instant ``start_at`` on, then ``flush()``."""
        from llmops_nb.store._connection import get_store

        traces = spans // SPANS_PER_TRACE
        before = self._counters()
        time.sleep(max(0.0, start_at - time.time()))
        began_wall, began = time.time(), time.perf_counter()
        for _ in range(traces):
            self.answer(QUESTION)
        produced = time.perf_counter()
        ok = self.llmops_nb.flush(timeout=900)
        done = time.perf_counter()
        after = self._counters()
        status = self.llmops_nb.status()
        return {"spans": traces * SPANS_PER_TRACE, "ok": ok, "began_wall": began_wall, "ended_wall": time.time(),
                "produce_s": produced - began, "total_s": done - began, "drain_s": done - produced,
                **{key: after[key] - before[key] for key in after},
                "longest_hold_s": get_store().longest_hold_s, "dropped": status["dropped_spans"],
                "last_error": status["last_write_error"], "maintenance": status.get("maintenance")}

    def count(self) -> dict[str, Any]:
        """What the store holds: spans, distinct spans, traces and their totals; on a lake its commits and files."""
        sql = self.llmops_nb.sql
        spans = sql("SELECT count(*) AS n, count(DISTINCT (trace_id, span_id)) AS d FROM spans")
        traces = sql("SELECT count(*) AS n, sum(span_count) AS s, sum(dropped_spans) AS dropped FROM traces")
        out = {"spans": int(spans.n[0]), "distinct": int(spans.d[0]), "traces": int(traces.n[0]),
               "span_count_total": int(traces.s[0] or 0), "dropped": int(traces.dropped[0] or 0)}
        from llmops_nb._config import settings

        if settings.lake_url() is not None:
            from llmops_nb.store._connection import get_store
            from llmops_nb.store._maintain import live_files

            with get_store().connect() as con:
                out["files"] = live_files(con)
                out["commits"] = int(con.execute("SELECT count(DISTINCT batch_id) FROM trace_parts").fetchone()[0])
        return out

    def commit_costs(self, db: str, data_path: str | None, sizes: list[int], commits: int) -> dict[str, float]:
        """Seconds per ``write_records`` call of each size (one transaction; on a lake one commit), on ``db``:
        ``commits`` calls of query.py's generated spans per size, the recorder left out."""
        helper = QueryStore(self.workdir)
        helper.setup(db, data_path)
        out = {}
        for size in sizes:
            per_commit = max(1, size // _SPANS_PER_QUERY_TRACE)
            out[str(size)] = helper.build(per_commit * commits, per_commit)["write_s"] / commits
        return out

    def release(self) -> dict[str, Any]:
        """Let go of the round's store (a lake stays attached until the configured store changes)."""
        self.llmops_nb.configure(db=str(self.workdir / "idle.duckdb"), data_path=None)  # never opened
        return {}


class QueryStore(_QueryStore):
    """``query.py``'s generated store and public-API queries, on the file or lake ``setup()`` names."""

    def __init__(self, workdir: Path) -> None:
        import llmops_nb

        self.llmops_nb = llmops_nb
        self.workdir = workdir
        self.trace_ids: list[str] = []
        self.lake: str | None = None
        self.data_path: str | None = None
        self.path = workdir / "query.duckdb"

    def setup(self, db: str, data_path: str | None = None) -> dict[str, Any]:
        self.llmops_nb.configure(db=db, data_path=data_path)
        if db.startswith("ducklake:"):
            self.lake, self.data_path = db, data_path
            # query.py's build() reports the size of self.path: here an empty stand-in; the lake's
            # Parquet files are measured in build() below
            self.path = self.workdir / "lake-stand-in"
            self.path.touch()
        else:
            self.path = Path(db)
        self.llmops_nb.sql("SELECT 1")
        return versions()

    def build(self, traces: int, traces_per_batch: int) -> dict[str, Any]:
        built = super().build(traces, traces_per_batch)
        built["commits"] = -(-traces // traces_per_batch)
        if self.data_path is not None:
            built["file_mb"] = _parquet_bytes(self.data_path) / 1e6
            built.update(self._files())
        return built

    def _files(self) -> dict[str, int]:
        from llmops_nb.store._connection import get_store
        from llmops_nb.store._maintain import live_files

        with get_store().connect() as con:
            files = live_files(con)
        return {"files": files, "parquet_on_disk": sum(1 for _ in Path(str(self.data_path)).rglob("*.parquet"))}

    def _cold(self) -> None:
        if self.lake is None:
            super()._cold()
        # a lake stays attached for the life of a kernel's process (_lake.py): it is never "cold" between queries

    def queries(self, seed: int) -> dict[str, Any]:
        """``traces()`` first page and ``spans(trace_id)`` of a random trace: on a file cold (the file reopened,
        as after 0.2 s idle in a kernel) then warm; on a lake attached, twice each."""
        rng = random.Random(seed)
        traces, spans = self.llmops_nb.traces, self.llmops_nb.spans
        out: dict[str, Any] = {}
        calls = {"traces": lambda: traces(limit=50), "spans": lambda: spans(rng.choice(self.trace_ids))}
        for name, call in calls.items():
            for state in ("first", "again"):
                if state == "first":
                    self._cold()
                started = time.perf_counter()
                frame = call()
                out[f"{name}_{state}"] = time.perf_counter() - started
                out[f"{name}_rows"] = len(frame)
        out.update(self._profile(rng) if self.lake else {})
        return out

    def _profile(self, rng: random.Random) -> dict[str, float]:
        """Where a lake query's time goes: a query that reads no data file (the catalog round trips every
        query makes), and the two queries' SQL without the DataFrame and JSON work of the public API."""
        from llmops_nb.store import _queries
        from llmops_nb.store._connection import get_store
        from llmops_nb.store._queries import trace_spans_filter

        trace_id = rng.choice(self.trace_ids)
        timed: dict[str, float] = {}
        with get_store().connect() as con:
            where, params = trace_spans_filter(con, trace_id)
            for name, run in (
                ("catalog_only", lambda: con.execute("SELECT count(*) FROM trace_parts WHERE false").fetchall()),
                ("traces_sql", lambda: con.execute(_queries._TRACE_SELECT + " ORDER BY start_ns DESC, trace_id "
                                                   "LIMIT 50").fetchall()),
                ("spans_sql", lambda: con.execute(f"{_queries._SPAN_SELECT} WHERE {where} ORDER BY start_ns, span_id",
                                                  params).fetchall()),
                ("trace_range_sql", lambda: con.execute("SELECT start_ns, end_ns FROM traces WHERE trace_id = ?",
                                                        [trace_id]).fetchall()),
            ):
                started = time.perf_counter()
                run()
                timed[name] = time.perf_counter() - started
        return timed

    def maintain(self) -> dict[str, Any]:
        """``llmops_nb.store.maintain()``, timed, with the time of each SQL statement it runs."""
        from llmops_nb.store import maintain
        from llmops_nb.store._connection import get_store

        store = get_store()
        with store.connect():
            pass
        log: list[tuple[float, str]] = []
        real = store._con
        store._con = TimedConnection(real, log)
        try:
            started = time.perf_counter()
            done = maintain()
            finished = time.perf_counter()
        finally:
            store._con = real
        steps: dict[str, float] = {}
        marks = [*log, (finished, "")]
        for (at, sql), (after, _) in itertools.pairwise(marks):
            key = _step_name(sql)
            steps[key] = steps.get(key, 0.0) + after - at
        return {"seconds": finished - started, "result": done, "steps": steps,
                "parquet_on_disk_after": sum(1 for _ in Path(str(self.data_path)).rglob("*.parquet")),
                "file_mb_after": _parquet_bytes(str(self.data_path)) / 1e6, "spans_row_groups": self._row_groups()}

    def _row_groups(self) -> dict[str, int]:
        """The spans table's Parquet files now: how many, their row groups and the largest one's rows."""
        from llmops_nb.store._connection import get_store

        files = [str(path) for path in Path(str(self.data_path)).rglob("*.parquet") if path.parent.name == "spans"]
        if not files:
            return {"files": 0, "row_groups": 0, "max_rows": 0}
        with get_store().connect() as con:
            groups, rows = con.execute("SELECT count(DISTINCT (file_name, row_group_id)), max(row_group_num_rows) "
                                       "FROM parquet_metadata(?)", [files]).fetchone()
        return {"files": len(files), "row_groups": int(groups), "max_rows": int(rows)}


class TimedConnection:
    """A DuckDB connection that notes when each statement starts (a statement lasts until the next one)."""

    def __init__(self, con: Any, log: list[tuple[float, str]]) -> None:
        self._con, self._log = con, log

    def execute(self, query: str, *args: Any) -> Any:
        self._log.append((time.perf_counter(), query))
        return self._con.execute(query, *args)

    def cursor(self) -> TimedConnection:
        return TimedConnection(self._con.cursor(), self._log)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


def _step_name(sql: str) -> str:
    for name in ("ducklake_flush_inlined_data", "ducklake_merge_adjacent_files", "ducklake_expire_snapshots",
                 "ducklake_cleanup_old_files", "ducklake_data_file"):
        if name in sql:
            return "count live files" if name == "ducklake_data_file" else name
    return "other"


def _parquet_bytes(data_path: str) -> int:
    return sum(path.stat().st_size for path in Path(data_path).rglob("*.parquet"))


CONTENDERS: dict[str, Any] = {"postgres": Postgres, "file_query": QueryStore, "lake_query": QueryStore,
                              "lake_query_maintained": QueryStore,
                              **{f"{kind}_writer{i}": Writer for kind in ("file", "lake") for i in range(4)}}
__all__ = ["CONTENDERS", "SPANS_PER_TRACE", "TimedConnection", "versions"]
