"""The rows of ``store copy``: how a chunk of each table is read from SRC and added to DST.

The rules themselves (what is skipped, merged, refused, and why) are set out in ``_copy.py``'s
docstring; this module carries them out. Every function here reads a chunk from the source with
``read_chunk`` (one snapshot of the tables that belong together) and adds it to the destination in
one transaction with ``Target.apply``, in which the anti-join against DST's rows is evaluated: a
chunk whose transaction failed is re-read and re-applied by the next run, and rows it finds are
skipped, so reruns complete a copy and never duplicate one.

duckdb 2.x refuses ``con.sql()`` and ``register()`` while an ``execute()`` result is unfinished,
and warns when Arrow is taken from ``execute()``: so results are read with ``fetchall()`` and
Arrow only through ``con.sql(...).to_arrow_table()``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import math
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from ._batch_sql import NEW_ERROR, TRACE_COLUMNS
from ._errors import StoreError

#: rows a chunk holds (cut by a key column, so a chunk may hold more: one big trace is one chunk)
CHUNK_ROWS = 20_000
_T = TypeVar("_T")
Range = tuple[Any, Any]  # lo <= column < hi; None: open (the last range also holds NULLs)


class CopyRefusedError(StoreError):
    """``store copy`` refused before writing (same store, missing SRC, conflicting versions, DuckDB version)."""


@dataclass
class TableCopy:
    """What the copy did to one table: rows added, rows DST had (skipped), rows DST had that changed."""

    copied: int = 0
    skipped: int = 0
    updated: int = 0

    def add(self, copied: int, seen: int, updated: int = 0) -> None:
        self.copied += copied
        self.updated += updated
        self.skipped += seen - copied - updated


#: what "updated" means in a table's line
_UPDATED = {"traces": "merged (DST had the trace, SRC added spans or drops)",
            "eval_runs": "replaced (RUNNING in DST, taken further in SRC)"}


@dataclass
class CopyReport:
    """What ``copy_store`` did: per table, rows copied, skipped (DST had them) and updated; notes to act on."""

    src: str = ""
    dst: str = ""
    tables: dict[str, TableCopy] = field(default_factory=dict)
    absent: list[str] = field(default_factory=list)  # tables SRC does not have (an export has no recordings)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def table(self, name: str) -> TableCopy:
        return self.tables.setdefault(name, TableCopy())

    def lines(self) -> list[str]:
        """One line per table, then the notes, then the summary."""
        out = []
        for name, done in self.tables.items():
            updated = f", {done.updated:,} {_UPDATED.get(name, 'updated')}" if done.updated else ""
            out.append(f"{name}: {done.copied:,} copied, {done.skipped:,} skipped (already in DST){updated}")
        out += [f"{name}: not in SRC" for name in self.absent]
        out += [f"note: {note}" for note in self.notes]
        rows = sum(done.copied + done.updated for done in self.tables.values())
        out.append(f"Copied {self.src} to {self.dst} in {self.seconds:.1f} s: {rows:,} rows added or updated.")
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())


class Target:
    """The destination store: reads, and transactions retried on a lake's write conflicts."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.lake = not store.supports_upsert
        self._columns: dict[str, list[str]] = {}

    def lock(self, name: str | None) -> contextlib.AbstractContextManager[None]:
        return self.store.exclusive(name) if name else contextlib.nullcontext()

    def columns(self, table: str) -> list[str]:
        if table not in self._columns:
            with self.store.connect() as con:
                self._columns[table] = columns(con, table)
        return self._columns[table]

    def apply(self, tables: dict[str, Any], work: Callable[[Any], _T]) -> _T:
        """``work(con)`` in one transaction with ``tables`` (Arrow) registered; its result."""
        done: list[_T] = []

        def step(con: Any) -> None:
            done[:] = [work(con)]  # a retried transaction replaces what a failed attempt counted

        if self.lake:
            from ._lake_writer import apply_once

            # marker=False: a commit with an unknown outcome is not resent here; the rerun's anti-joins
            # find what it wrote
            apply_once(self.store, f"copy-{uuid.uuid4().hex}", list(tables.items()), [step], marker=False)
            return done[0]
        with self.store.connect() as con:
            con.execute("BEGIN TRANSACTION")  # also ends any unfinished result on the shared connection
            try:
                with registered(con, tables):
                    step(con)
                con.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(Exception):  # a failed COMMIT may have ended it already
                    con.execute("ROLLBACK")
                raise
        return done[0]


@contextlib.contextmanager
def registered(con: Any, tables: dict[str, Any]) -> Iterator[None]:
    for name, table in tables.items():
        con.register(name, table)
    try:
        yield
    finally:
        for name in tables:
            with contextlib.suppress(Exception):  # gone with a broken connection
                con.unregister(name)


def arrow(con: Any, query: str) -> Any:
    return con.sql(query).to_arrow_table()


def rows(con: Any, query: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    found: list[tuple[Any, ...]] = (con.execute(query, list(params)) if params else con.execute(query)).fetchall()
    return found


def columns(con: Any, table: str) -> list[str]:
    return [row[0] for row in rows(con, f"DESCRIBE {table}")]


def in_range(column: str, lo: Any, hi: Any) -> str:
    """SQL for ``lo <= column < hi`` (None: open); the last range also holds the NULLs.

    The bounds are written as literals, not parameters: duckdb 1.5.5 pushes no parameter into a
    scan, and a range read with parameters took 15 times as long (300 ms for 20k of 200k spans).
    """
    parts = ([f"{column} >= {literal(lo)}"] if lo is not None else []) + \
        ([f"{column} < {literal(hi)}"] if hi is not None else [])
    if not parts:
        return "TRUE"
    where = " AND ".join(parts)
    return f"({where} OR {column} IS NULL)" if hi is None else where


def literal(value: Any) -> str:
    """A key column's value as SQL (its own quotes doubled: DuckDB's strings have no other escape)."""
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, bool) or not isinstance(value, (int, dt.datetime)):
        raise TypeError(f"store copy cuts ranges of text, integer or timestamp keys, not {type(value).__name__}")
    return f"TIMESTAMP '{value.isoformat(sep=' ')}'" if isinstance(value, dt.datetime) else str(value)


def ranges(source: Any, table: str, column: str) -> list[Range]:
    """Consecutive ranges of ``column`` holding about CHUNK_ROWS rows of ``table`` each, covering every value."""
    with source.connect() as con:
        count = rows(con, f"SELECT count(*) FROM {table}")[0][0]
        if count <= CHUNK_ROWS:
            return [(None, None)]
        parts = math.ceil(count / CHUNK_ROWS)
        fractions = ", ".join(f"{k / parts:.6f}" for k in range(1, parts))  # ours: DuckDB wants constants
        found = rows(con, f"SELECT quantile_disc({column}, [{fractions}]) FROM {table}")[0][0] or []
    edges = [None, *sorted({cut for cut in found if cut is not None}), None]
    return list(itertools.pairwise(edges))


def read_chunk(source: Any, tables: Sequence[str], column: str, lo: Any, hi: Any) -> dict[str, Any]:
    """The rows of ``tables`` in one range of ``column``, read in one snapshot, as ``{"_copy_<table>": Arrow}``."""
    where = in_range(column, lo, hi)
    with source.connect() as con:
        con.execute("BEGIN TRANSACTION")  # one snapshot: a trace's row and its spans agree
        try:
            return {f"_copy_{t}": arrow(con, f"SELECT * FROM {t} WHERE {where}") for t in tables}
        finally:
            con.execute("ROLLBACK")  # read only: nothing to keep


def insert_missing(con: Any, target: Target, table: str, key: Sequence[str], chunk: Any, *,
                   column: str | None = None, lo: Any = None, hi: Any = None) -> int:
    """Insert the rows of ``_copy_<table>`` whose key DST lacks; DST is searched in the chunk's range only."""
    names = [c for c in target.columns(table) if c in chunk.column_names]
    where = in_range(f"d.{column}", lo, hi) if column else "TRUE"
    match = " AND ".join(f"d.{k} IS NOT DISTINCT FROM s.{k}" for k in key)
    listed, selected = ", ".join(names), ", ".join(f"s.{c}" for c in names)
    found = rows(con, f"INSERT INTO {table} ({listed}) SELECT {selected} FROM _copy_{table} s "
                      f"WHERE NOT EXISTS (SELECT 1 FROM {table} d WHERE {where} AND {match})")
    return int(found[0][0]) if found else 0


@dataclass(frozen=True)
class Keyed:
    """A table whose rows are added when DST lacks their key (``chunk``: the key column it is read in ranges of)."""

    table: str
    key: tuple[str, ...]
    chunk: str | None = None
    lock: str | None = None  # the lake's exclusive() name its writers take

    def __post_init__(self) -> None:
        # DST is searched within the chunk's range: a row with the same key outside it would be missed
        if self.chunk is not None and self.chunk not in self.key:
            raise ValueError(f"{self.table}: the chunk column {self.chunk} must be part of the key")


def copy_keyed(source: Any, target: Target, report: CopyReport, spec: Keyed) -> None:
    for lo, hi in ranges(source, spec.table, spec.chunk) if spec.chunk else [(None, None)]:
        chunk = read_chunk(source, [spec.table], spec.chunk or "TRUE", lo, hi)
        src = chunk[f"_copy_{spec.table}"]
        if not src.num_rows:
            continue
        with target.lock(spec.lock):
            copied = target.apply(chunk, partial(insert_missing, target=target, table=spec.table, key=spec.key,
                                                 chunk=src, column=spec.chunk, lo=lo, hi=hi))
        report.table(spec.table).add(copied, src.num_rows)


# --- traces and spans ---------------------------------------------------------------------------

_LATEST = ("name", "status", "end_ns", "tags", "session", "cell", "request_preview", "response_preview",
           "error_message")
_SUMMED = ("span_count", "llm_calls", "error_count", "input_tokens", "output_tokens")
# The sums of the spans DST lacks, per trace: what the writer would have added had it received them.
_ADDED = f"""
SELECT trace_id, count(*) AS span_count, count(*) FILTER (WHERE kind IN ('LLM', 'CHAT_MODEL')) AS llm_calls,
       count(*) FILTER (WHERE {NEW_ERROR}) AS error_count, COALESCE(sum(input_tokens), 0) AS input_tokens,
       COALESCE(sum(output_tokens), 0) AS output_tokens, sum(cost_usd) AS cost_usd
FROM _copy_new_spans GROUP BY trace_id"""
# One row per trace DST has and SRC adds to, in TRACE_COLUMNS' order: SRC's root facts, the added sums,
# and the drops SRC counted beyond DST's.
_MERGED = f"""
SELECT t.trace_id, t.name, t.status, t.start_ns, t.end_ns,
       {', '.join(f'COALESCE(a.{c}, 0)' for c in _SUMMED)}, a.cost_usd,
       greatest(t.dropped_spans - d.dropped_spans, 0),
       t.tags, t.session, t.cell, t.request_preview, t.response_preview, t.error_message
FROM _copy_traces t JOIN _copy_dst_traces d ON d.trace_id = t.trace_id
LEFT JOIN ({_ADDED}) a ON a.trace_id = t.trace_id
WHERE a.trace_id IS NOT NULL OR t.dropped_spans > d.dropped_spans"""
# The file store's upsert of the same (``_writer._UPSERT_TRACES``, with the drops)
_MERGE_INTO_FILE = f"INSERT INTO traces ({TRACE_COLUMNS}) {_MERGED}\nON CONFLICT (trace_id) DO UPDATE SET " + ", ".join(
    [f"{c} = COALESCE(EXCLUDED.{c}, traces.{c})" for c in _LATEST]
    + [f"{c} = traces.{c} + EXCLUDED.{c}" for c in (*_SUMMED, "dropped_spans")]
    + ["start_ns = LEAST(EXCLUDED.start_ns, traces.start_ns)",
       "cost_usd = CASE WHEN EXCLUDED.cost_usd IS NULL THEN traces.cost_usd "
       "ELSE COALESCE(traces.cost_usd, 0) + EXCLUDED.cost_usd END"])
# On a lake the same row is one more part of the trace (``_lake_schema.py``): the view adds it up alike
_MERGE_INTO_LAKE = f"INSERT INTO trace_parts (batch_id, written_ns, {TRACE_COLUMNS}) SELECT ?, ?, * FROM ({_MERGED})"


def copy_traces(source: Any, target: Target, report: CopyReport) -> None:
    """Traces with their spans, a range of trace ids at a time, each range in one transaction."""
    for lo, hi in ranges(source, "spans", "trace_id"):
        chunk = read_chunk(source, ["traces", "spans"], "trace_id", lo, hi)
        traces, spans = chunk["_copy_traces"], chunk["_copy_spans"]
        if traces.num_rows or spans.num_rows:
            copied, merged, added = target.apply(chunk, partial(_add_traces, target=target,
                                                                src_columns=traces.column_names, lo=lo, hi=hi))
            report.table("traces").add(copied, traces.num_rows, merged)
            report.table("spans").add(added, spans.num_rows)


def _add_traces(con: Any, *, target: Target, src_columns: list[str], lo: Any, hi: Any) -> tuple[int, int, int]:
    where = in_range("d.trace_id", lo, hi)
    new_spans = arrow(con, "SELECT s.* FROM _copy_spans s WHERE NOT EXISTS (SELECT 1 FROM spans d WHERE "
                           f"{where} AND d.trace_id = s.trace_id AND d.span_id = s.span_id)")
    have = arrow(con, f"SELECT trace_id, dropped_spans FROM traces d WHERE {where}")
    stamp = [f"copy-{uuid.uuid4().hex}", time.time_ns()]
    with registered(con, {"_copy_new_spans": new_spans, "_copy_dst_traces": have}):
        merge = (_MERGE_INTO_LAKE, stamp) if target.lake else (_MERGE_INTO_FILE, [])
        merged = rows(con, *merge)[0][0]
        names = [c for c in TRACE_COLUMNS.split(", ") if c in src_columns]
        into = f"trace_parts (batch_id, written_ns, {', '.join(names)}) SELECT ?, ?," if target.lake else \
            f"traces ({', '.join(names)}) SELECT"
        copied = rows(con, f"INSERT INTO {into} {', '.join(f't.{c}' for c in names)} FROM _copy_traces t WHERE NOT "
                           "EXISTS (SELECT 1 FROM _copy_dst_traces d WHERE d.trace_id = t.trace_id)",
                      stamp if target.lake else [])[0][0]
        span_names = ", ".join(c for c in target.columns("spans") if c in new_spans.column_names)
        if new_spans.num_rows:
            con.execute(f"INSERT INTO spans ({span_names}) SELECT {span_names} FROM _copy_new_spans")
    return int(copied), int(merged), new_spans.num_rows


# --- evaluation runs and datasets ---------------------------------------------------------------

_RUNS_TAKEN_FURTHER = """
SELECT d.run_id FROM eval_runs d JOIN _copy_eval_runs s ON s.run_id = d.run_id
WHERE d.status = 'RUNNING' AND (s.status <> 'RUNNING' OR s.rows_done > d.rows_done)"""


def copy_runs(source: Any, target: Target, report: CopyReport) -> None:
    """Runs with their results, by ranges of run ids; a run DST holds as RUNNING that SRC has taken
    further (ended, or more rows done) is replaced by SRC's, results included."""
    for lo, hi in ranges(source, "eval_results", "run_id"):
        chunk = read_chunk(source, ["eval_runs", "eval_results"], "run_id", lo, hi)
        runs, results = chunk["_copy_eval_runs"], chunk["_copy_eval_results"]
        if not (runs.num_rows or results.num_rows):
            continue

        def work(con: Any, runs: Any = runs, results: Any = results, lo: Any = lo, hi: Any = hi) -> tuple[int, ...]:
            stale = [row[0] for row in rows(con, _RUNS_TAKEN_FURTHER)]
            for table in ("eval_results", "eval_runs") if stale else ():
                con.execute(f"DELETE FROM {table} WHERE run_id IN (SELECT unnest(?::VARCHAR[]))", [stale])
            added = insert_missing(con, target, "eval_results", ("run_id", "row_index"), results,
                                   column="run_id", lo=lo, hi=hi)
            copied = insert_missing(con, target, "eval_runs", ("run_id",), runs, column="run_id", lo=lo, hi=hi)
            return copied - len(stale), len(stale), added  # a replaced run is inserted anew: counted as replaced

        with target.lock("eval_runs"):
            copied, replaced, added = target.apply(chunk, work)
        report.table("eval_runs").add(copied, runs.num_rows, replaced)
        report.table("eval_results").add(added, results.num_rows)


#: versioned tables: a (name, version) both stores hold must be the same version, else the copy is refused.
#: Per table: the columns that tell, and when they differ.
CONFLICTS = {
    "prompt_versions": ("name, version, content_sha256", "s.content_sha256 <> d.content_sha256"),
    "eval_datasets": ("name, version, created_at, row_count",
                      "s.created_at IS DISTINCT FROM d.created_at OR s.row_count <> d.row_count"),
}


def conflicts(con: Any, table: str) -> list[tuple[str, int]]:
    """(name, version) of ``_copy_<table>`` that DST holds with other content."""
    return [(row[0], int(row[1])) for row in rows(
        con, f"SELECT s.name, s.version FROM _copy_{table} s JOIN {table} d ON d.name = s.name AND "
             f"d.version = s.version WHERE {CONFLICTS[table][1]} ORDER BY s.name, s.version")]


def refuse_conflicts(found: dict[str, list[tuple[str, int]]]) -> None:
    if not any(found.values()):
        return
    parts = []
    for table, pairs in found.items():
        if pairs:
            what = "prompts" if table == "prompt_versions" else "datasets"
            listed = ", ".join(f"{name} v{version}" for name, version in pairs[:20]) + (" …" if len(pairs) > 20 else "")
            parts.append(f"{what} {listed}")
    raise CopyRefusedError(
        f"Nothing was copied: SRC and DST both hold {'; and '.join(parts)}, with different content. Versions are "
        "numbered per name, so these are different prompts (or datasets) that share a name. Rename them in SRC "
        "(register the versions under a new name, e.g. prompts.register('qa-from-laptop', ...) or "
        "llmops_nb.datasets.create('capitals-laptop', ...)) or choose another DST, then copy again.")


def copy_datasets(source: Any, target: Target, report: CopyReport) -> None:
    """Dataset versions with their rows, by ranges of names; the rows of a version before its header, so a
    reader never finds a version without its rows."""
    for lo, hi in ranges(source, "eval_dataset_rows", "name"):
        chunk = read_chunk(source, ["eval_datasets", "eval_dataset_rows"], "name", lo, hi)
        heads, body = chunk["_copy_eval_datasets"], chunk["_copy_eval_dataset_rows"]
        if not (heads.num_rows or body.num_rows):
            continue

        def work(con: Any, heads: Any = heads, body: Any = body, lo: Any = lo, hi: Any = hi) -> tuple[int, int]:
            refuse_conflicts({"eval_datasets": conflicts(con, "eval_datasets")})  # written meanwhile?
            added = insert_missing(con, target, "eval_dataset_rows", ("name", "version", "row_index"), body,
                                   column="name", lo=lo, hi=hi)
            return insert_missing(con, target, "eval_datasets", ("name", "version"), heads,
                                  column="name", lo=lo, hi=hi), added

        with target.lock("eval_datasets"):
            copied, added = target.apply(chunk, work)
        report.table("eval_datasets").add(copied, heads.num_rows)
        report.table("eval_dataset_rows").add(added, body.num_rows)

