"""``export_parquet()``: the store's tables as Hive-partitioned Parquet for Spark, Ray Data, Trino and DuckDB.

One folder per table, partitioned by the UTC date (or year/month/day/hour) of the table's own time
column: ``DIR/spans/date=2026-12-06/part-00003-0.parquet``. DuckDB writes the files
(``COPY … TO … (FORMAT parquet, PARTITION_BY …)``); the layout and every column are described in
docs/parquet-export.md, generated from this module (``python -m llmops_nb.store.parquet_doc``).

Other kernels write to the store while it is exported, and the file has one lock with no queue
(``_connection.py``). So a table is not copied in one ``COPY`` (one per table held the file for
0.73 s on a store of 200k spans, and another kernel waited as long) but in steps over ranges of
its time column, each step one short ``connect()`` that reads a range and writes its Parquet
files. The ranges are cut at the column's approximate quantiles (one streaming query, ~15 ms for
a million spans); any cuts will do, since ranges that meet never overlap: each row is in exactly
one step, whatever is written meanwhile. A step's size adapts to the measured speed so that it
holds the file for about ``STEP_S``, and the file is closed between steps (``_stepwise``), so a
waiting kernel gets it within about one step (measured on 200k spans: holds of 0.13-0.17 s, the
export no slower). Staging a copy in memory first would shorten the holds further but needs
memory for the whole table; steps need memory for one step.

Files go to a hidden folder inside DIR first and each table's folder is renamed into place when
complete, so a failed export leaves DIR as it was and readers never see a half-written table.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._errors import did_you_mean
from ._time import instant

__all__ = ["PARTITION_KEYS", "SKIPPED", "TABLES", "ExportTable", "export_parquet", "export_tables"]

#: how long one step should hold the store's file (seconds); MAX_HOLD_S is the store's hard limit
STEP_S = 0.15
#: rows per range of the time column; a step takes one or more consecutive ranges
SLICE_ROWS = 10_000
MANIFEST = "_llmops_export.json"
_STAGING_PREFIX = ".llmops-export-"

Connect = Callable[..., contextlib.AbstractContextManager[Any]]


@dataclass(frozen=True)
class ExportTable:
    """A logical table as exported: its rows (``t.*`` over ``source``) and the time that places them."""

    name: str
    time: str | None  # SQL for the row's time over ``source``; None: no time, written unpartitioned
    time_unit: str = "ns"  # "ns": epoch nanoseconds (BIGINT); "timestamp": a UTC TIMESTAMP
    source: str = ""  # FROM clause, the table aliased t (default: the table itself)
    note: str = ""  # what a reader should know, for the document

    @property
    def sql_from(self) -> str:
        return self.source or f"{self.name} t"

    @property
    def timestamp(self) -> str | None:
        """The row's time as a UTC TIMESTAMP, from which the partition keys are derived."""
        if self.time is None:
            return None
        return f"make_timestamp(({self.time}) // 1000)" if self.time_unit == "ns" else self.time


TABLES: tuple[ExportTable, ...] = (
    ExportTable("traces", "t.start_ns", note="Placed by the root span's start (`start_ns`)."),
    ExportTable("spans", "t.start_ns", note="Placed by each span's own start, so a trace that crosses "
                "midnight UTC has spans in two date folders; join on `trace_id` across folders."),
    ExportTable("dropped_spans", "t.recorded_at", "timestamp", note="Placed by `recorded_at`."),
    ExportTable("eval_runs", "t.started_at", "timestamp", note="Placed by `started_at`."),
    ExportTable("eval_results", "r.started_at", "timestamp",
                "eval_results t LEFT JOIN eval_runs r ON r.run_id = t.run_id",
                note="No time of its own: placed by its run's `started_at`, beside the run."),
    ExportTable("assessments", "t.created_at", "timestamp", note="Scores and human feedback (`source_type` "
                "HUMAN), placed by `created_at`: feedback on an old trace lands on the day it was given."),
    ExportTable("eval_datasets", "t.created_at", "timestamp", note="Placed by `created_at`."),
    ExportTable("eval_dataset_rows", "d.created_at", "timestamp",
                "eval_dataset_rows t LEFT JOIN eval_datasets d ON d.name = t.name AND d.version = t.version",
                note="No time of its own: placed by its dataset version's `created_at`."),
    ExportTable("prompt_versions", "t.created_ns", note="Placed by `created_ns`."),
    ExportTable("prompt_aliases", None, note="The aliases as they point now: always written whole and "
                "unpartitioned, whatever `since`/`until` say (their moves are in `prompt_alias_history`)."),
    ExportTable("prompt_alias_history", "t.changed_ns", note="Placed by `changed_ns`."),
    ExportTable("daily_usage", "t.day", "timestamp", note="Totals per UTC day and model of "
                "traces that retention deleted, placed by `day`; sum the rows of a day and model."),
    ExportTable("monitor_incidents", "t.opened_at", "timestamp", note="Alert incidents of `llmops_nb.monitor`, "
                "placed by `opened_at`; a resolved one carries its `resolved_at`."),
)

#: tables of the store that are not exported, and why
SKIPPED = {
    "_llmops_migrations": "the store's own bookkeeping (which migrations ran); the export's schema is this document",
    "audit_log": "the governance trail: read it with `llmops_nb.audit()` and prove it unbroken with "
                 "`llmops_nb.verify_audit()` in the store that wrote it",
    "gateway_keys": "the AI gateway's virtual keys (their sha256, scopes and limits): credentials, not "
                    "observations; list them with the gateway's `keys.list()`",
    "monitor_scored": "online scorers' exactly-once keys (which traces each scorer version has done); their "
                      "results are the exported `assessments`",
    "monitor_cursors": "online scorers' progress through the traces: the monitor's own bookkeeping",
    "recorded_calls": "record & replay's cassettes of raw HTTP responses (binary chunks) for re-running "
                      "notebooks offline, not observations; the calls themselves are in `spans`",
}

#: partition columns: each derived from a table's time, in UTC
PARTITION_KEYS = {
    "date": "CAST({ts} AS DATE)",  # 2026-12-06
    "year": "year({ts})",
    "month": "month({ts})",  # 1-12
    "day": "day({ts})",  # 1-31
    "hour": "hour({ts})",  # 0-23
}


def export_parquet(dir: str | os.PathLike[str], partition_by: Sequence[str] | str = ("date",),
                   since: Any = None, until: Any = None, *, overwrite: bool = False) -> dict[str, int]:
    """Write the store's traces, spans, evaluations, feedback, prompts and datasets as Parquet under ``dir``.

    One folder per table, Hive-partitioned by the UTC ``date`` of each row's time
    (``dir/spans/date=2026-12-06/….parquet``); ``partition_by`` may also name ``year``, ``month``,
    ``day``, ``hour``, or be ``()`` for no partitioning. ``since`` (inclusive) and ``until``
    (exclusive) keep rows whose time is in that range: a datetime, a date, an ISO string (without
    an offset it is local time, as ``traces()`` reads it; ``Z`` for UTC) or a ``timedelta`` meaning "this long ago".
    ``dir`` must be new or empty unless ``overwrite=True``, which replaces the tables' folders in it.
    Returns the rows written per table. Layout and columns: docs/parquet-export.md.

    >>> import llmops_nb
    >>> llmops_nb.export_parquet("/data/llmops", since="2026-12-01")  # doctest: +SKIP
    {'traces': 1204, 'spans': 25311, ...}
    """
    from ..tracing import flush
    from ._connection import get_store

    keys = partition_columns(partition_by)
    low, high = utc_bound(since, "since"), utc_bound(until, "until")
    if low is not None and high is not None and low >= high:
        raise ValueError(f"since={since!r} is not before until={until!r}: no row could be exported.")
    target = Path(os.fspath(dir)).expanduser().absolute()
    _check_target(target, overwrite)
    created = not target.exists()
    target.mkdir(parents=True, exist_ok=True)
    staging = target / f"{_STAGING_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}"
    flush()  # what this process traced before the call is part of the export
    try:
        counts = export_tables(_stepwise(get_store()), staging, keys, low=low, high=high)
        manifest = {"exported_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                    "since": _iso(low), "until": _iso(high), "partition_by": list(keys), "rows": counts,
                    "skipped": sorted(SKIPPED), "layout": "docs/parquet-export.md in llmops_nb"}
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        _publish(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if created:
            with contextlib.suppress(OSError):
                target.rmdir()
        raise
    from ._audit import record_quietly

    record_quietly("export.parquet", os.fspath(target), {"rows": counts, "since": _iso(low), "until": _iso(high),
                                                         "partition_by": list(keys)})
    return counts


def _stepwise(store: Any) -> Connect:
    """``store.connect``, closing the file once the export has held it for STEP_S: a kernel waiting to write
    gets it within about one step, where a lingering connection would keep it waiting up to MAX_HOLD_S.
    Short steps (planning a table, a small table) share one hold: each reopen costs ~40 ms.
    A lake is shared by many processes at once and closing it would reattach it (~0.3 s) at every
    step: its connection stays."""
    from ._connection import Store

    if not isinstance(store, Store):
        return store.connect  # type: ignore[no-any-return]
    held = 0.0

    @contextlib.contextmanager
    def connect(expected_s: float = 0.0) -> Iterator[Any]:
        nonlocal held
        if held and held + expected_s > STEP_S:
            store.close()
            held = 0.0
        started = time.monotonic()
        with store.connect(expected_s=expected_s) as con:
            yield con
        held += time.monotonic() - started
        if held >= STEP_S:
            store.close()
            held = 0.0

    return connect


def export_tables(connect: Connect, out: Path, keys: tuple[str, ...], *, low: dt.datetime | None = None,
                  high: dt.datetime | None = None, tables: Sequence[ExportTable] = TABLES) -> dict[str, int]:
    """Write each table under ``out/<table>/``; ``connect(expected_s=…)`` gives a connection to the store."""
    counts = {}
    for table in tables:
        folder = out / table.name
        folder.mkdir(parents=True)
        counts[table.name] = _export_table(connect, table, folder, keys, low=low, high=high)
    return counts


def _export_table(connect: Connect, table: ExportTable, folder: Path, keys: tuple[str, ...], *,
                  low: dt.datetime | None, high: dt.datetime | None) -> int:
    if table.time is None:
        low = high = None
        keys = ()
    lo, hi = _native(low, table.time_unit), _native(high, table.time_unit)
    with connect() as con:
        ranges = _ranges(con, table, lo, hi)
    written, step, taken, per_slice_s = 0, 0, 0, 0.0
    while taken < len(ranges):
        # the first step is one slice, to measure; later ones take as many as fit STEP_S
        size = 1 if per_slice_s == 0 else max(1, int(STEP_S / per_slice_s))
        batch = ranges[taken:taken + size]
        started = time.monotonic()
        with connect(expected_s=per_slice_s * len(batch)) as con:
            written += _copy(con, table, folder, keys, batch, step=step)
        per_slice_s = max((time.monotonic() - started) / len(batch), 1e-4)
        taken += len(batch)
        step += 1
    if written == 0 and not any(folder.iterdir()):
        # an empty folder has no schema: Spark refuses it ("Unable to infer schema"), so write zero rows
        with connect() as con:
            _copy(con, table, folder, (), [], step=0)
    return written


Range = tuple[Any, Any, bool]  # from <= time < to (None: open), and whether rows without a time are in it


def _ranges(con: Any, table: ExportTable, lo: Any, hi: Any) -> list[Range]:
    """Consecutive ranges of the table's time, ~SLICE_ROWS rows each, covering [lo, hi) and no row twice."""
    if table.time is None:
        return [(None, None, False)]
    where, params = _between(table.time, lo, hi)
    (rows,) = con.execute(f"SELECT count(*) FROM {table.sql_from} WHERE {where}", params).fetchone()
    cuts: list[Any] = []
    if rows > SLICE_ROWS:
        slices = math.ceil(rows / SLICE_ROWS)
        fractions = ", ".join(f"{k / slices:.6f}" for k in range(1, slices))  # our numbers: DuckDB wants constants
        (found,) = con.execute(f"SELECT approx_quantile({table.time}, [{fractions}]) FROM {table.sql_from} "
                               f"WHERE {where} AND {table.time} IS NOT NULL", params).fetchone()
        cuts = sorted({cut for cut in found or [] if cut is not None and (lo is None or cut > lo)})
    edges = [lo, *cuts, hi]
    ranges: list[Range] = [(edges[k], edges[k + 1], False) for k in range(len(edges) - 1)]
    if lo is None and hi is None:  # rows whose time is unknown (a trace known only by its drops) go last
        ranges[-1] = (ranges[-1][0], None, True)
    return ranges


def _between(column: str, lo: Any, hi: Any) -> tuple[str, list[Any]]:
    where, params = ["TRUE"], []
    if lo is not None:
        where.append(f"{column} >= ?")
        params.append(lo)
    if hi is not None:
        where.append(f"{column} < ?")
        params.append(hi)
    return " AND ".join(where), params


def _copy(con: Any, table: ExportTable, folder: Path, keys: tuple[str, ...], batch: list[Range], *,
          step: int) -> int:
    """One ``COPY`` of the rows in ``batch`` (consecutive ranges) into ``folder``; returns the rows written."""
    params: list[Any] = []
    where = "FALSE"  # no ranges: an empty table's file, its columns only
    if batch and table.time is not None:
        lo, hi, unknown = batch[0][0], batch[-1][1], batch[-1][2]  # consecutive ranges make one
        where, params = _between(table.time, lo, hi)
        if unknown:
            where = f"({where}) OR {table.time} IS NULL"
    elif batch:
        where = "TRUE"
    columns = ", ".join(["t.*", *(f"{PARTITION_KEYS[key].format(ts=table.timestamp)} AS {key}" for key in keys)])
    query = f"SELECT {columns} FROM {table.sql_from} WHERE {where}"
    if keys:
        target = f"'{_sql_string(os.fspath(folder))}' (FORMAT parquet, PARTITION_BY ({', '.join(keys)}), " \
                 f"FILENAME_PATTERN 'part-{step:05d}-{{i}}', OVERWRITE_OR_IGNORE true)"
    else:
        target = f"'{_sql_string(os.fspath(folder / f'part-{step:05d}.parquet'))}' (FORMAT parquet)"
    row = con.execute(f"COPY ({query}) TO {target}", params).fetchone()
    written = int(row[0]) if row else 0
    if not keys and not written and batch:  # no empty files beside full ones (an empty table gets one at the end)
        (folder / f"part-{step:05d}.parquet").unlink(missing_ok=True)
    return written


def partition_columns(partition_by: Sequence[str] | str | None) -> tuple[str, ...]:
    """``partition_by`` checked: known keys, each once (a lone string is one key; None or ``()``: none)."""
    if partition_by is None:
        return ()
    keys = (partition_by,) if isinstance(partition_by, str) else tuple(partition_by)
    for key in keys:
        if key not in PARTITION_KEYS:
            raise ValueError(f"partition_by: {key!r} is not a partition column; use {', '.join(PARTITION_KEYS)} "
                             "(each derived from a table's time, in UTC) or () for none."
                             + did_you_mean(key, PARTITION_KEYS))
    if len(set(keys)) != len(keys):
        raise ValueError(f"partition_by names a column twice: {keys!r}.")
    return keys


def utc_bound(value: Any, label: str) -> dt.datetime | None:
    """``since``/``until`` as an aware UTC datetime, by the readers' one rule (``_time.instant``)."""
    return None if value is None else instant(value, label)


def _native(value: dt.datetime | None, unit: str) -> Any:
    """A UTC bound as the time column holds it: epoch nanoseconds, or a naive UTC datetime."""
    if value is None:
        return None
    if unit == "ns":
        return (value - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)) // dt.timedelta(microseconds=1) * 1000
    return value.replace(tzinfo=None)


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _sql_string(text: str) -> str:
    return text.replace("'", "''")


def _check_target(target: Path, overwrite: bool) -> None:
    if target.exists() and not target.is_dir():
        raise FileExistsError(f"export_parquet: {target} is a file, not a folder; name a new or empty folder.")
    if target.is_dir() and not overwrite:
        entries = sorted(entry.name for entry in target.iterdir())
        if entries:
            raise FileExistsError(
                f"export_parquet: {target} is not empty ({len(entries)} entries, e.g. {entries[0]!r}); name a new "
                "or empty folder, or pass overwrite=True (--overwrite) to replace the exported tables' folders "
                "in it (other files are left alone).")


def _publish(staging: Path, target: Path) -> None:
    """Move each finished table folder (and the manifest) from ``staging`` into ``target``, replacing old ones."""
    for entry in sorted(staging.iterdir()):
        final = target / entry.name
        old = staging / f".old-{entry.name}"
        if final.is_dir() and not final.is_symlink():
            final.rename(old)
        elif final.exists() or final.is_symlink():
            final.unlink()
        entry.rename(final)
    shutil.rmtree(staging)
