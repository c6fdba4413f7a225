"""Keeping a store fast: ``llmops_nb.store.maintain()`` and ``python -m llmops_nb store maintain``.

On DuckLake every commit writes its own small Parquet file (and writes of a few rows are inlined
into the catalog), so a team store that takes a flush every half second from many kernels collects
thousands of files, and queries slow down with them (interop facts: 1,000 commits made one-trace
queries 30–48 ms, 8–16 ms again after compaction). ``maintain()`` runs DuckLake's own maintenance,
in this order:

1. ``ducklake_flush_inlined_data``: rows inlined in the catalog become Parquet;
2. ``ducklake_merge_adjacent_files``: small files of a table become few large ones;
3. ``ducklake_expire_snapshots`` older than ``keep``: the history time travel can reach back to;
4. ``ducklake_cleanup_old_files``: files that no kept snapshot needs are deleted.

One process at a time runs it (``store.exclusive("maintain")``); writers go on meanwhile (DuckLake
retries a writer's commit that meets a compaction). On a DuckDB file it is a ``CHECKPOINT``: the
file store needs no compaction.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from ._connection import Store, get_store

#: snapshots (time travel) kept by default
KEEP = dt.timedelta(days=7)
_CATALOG = "llmops"  # the alias the lake is attached as (_lake.py)
ROW_GROUP_ROWS = 8192


def maintain(keep: dt.timedelta = KEEP) -> dict[str, Any]:
    """Compact the store: on a lake flush inlined rows, merge small files, expire snapshots older than
    ``keep`` and delete the files nobody needs; on a DuckDB file, checkpoint. Returns what it did.

    >>> llmops_nb.store.maintain()  # doctest: +SKIP
    {'store': 'lake', 'files_before': 1412, 'files_after': 14, 'inlined_rows_flushed': 37, ...}
    """
    if not isinstance(keep, dt.timedelta) or keep < dt.timedelta(0):
        raise ValueError(f"keep is how much history to keep, a non-negative timedelta; got {keep!r}.")
    store = get_store()
    started = time.monotonic()
    if isinstance(store, Store):  # a DuckDB file
        with store.connect() as con:
            con.execute("CHECKPOINT")
        return {"store": "file", "checkpointed": True, "seconds": round(time.monotonic() - started, 3)}
    # beside the writer: this process's traces keep being written meanwhile
    with store.exclusive("maintain"), store.side_connection() as con:
        # Checked first, not left to fail: a flush of inlined rows by a role that may not drop the
        # catalog's inlined-data tables fails at its commit's last step, and DuckLake 1.5.5 then
        # deletes the Parquet files whose rows the catalog has already taken — the lake loses them.
        if not store.owns_catalog():
            raise store.not_owner()
        done = compact(con, keep)
    return {**done, "seconds": round(time.monotonic() - started, 3)}


def compact(con: Any, keep: dt.timedelta = KEEP) -> dict[str, Any]:
    """DuckLake's four maintenance steps on ``con`` (the lake attached, ``USE``d); the caller holds the lock."""
    before = live_files(con)
    # Merged files in row groups of 8,192 rows, not DuckDB's 122,880: a trace's spans are found by
    # skipping row groups on start_ns, and big groups leave little to skip (measured at 1M spans:
    # spans() 70 ms with big groups after a merge, 30 ms with these). Kept in the catalog.
    con.execute(f"CALL {_CATALOG}.set_option('parquet_row_group_size', {ROW_GROUP_ROWS})")
    # every row of each function is read: counted by an aggregate instead, a merge left every file in place
    flushed = con.execute(f"CALL ducklake_flush_inlined_data('{_CATALOG}')").fetchall()
    merged = con.execute(f"CALL ducklake_merge_adjacent_files('{_CATALOG}')").fetchall()
    cutoff = dt.datetime.now(dt.timezone.utc) - keep
    # only the id: fetching its TIMESTAMPTZ column would need pytz
    expired = con.execute(f"SELECT snapshot_id FROM ducklake_expire_snapshots('{_CATALOG}', older_than => ?)",
                          [cutoff]).fetchall()
    deleted = con.execute(f"CALL ducklake_cleanup_old_files('{_CATALOG}', cleanup_all => true)").fetchall()
    return {"store": "lake", "files_before": before, "files_after": live_files(con),
            "inlined_rows_flushed": sum(int(row[2] or 0) for row in flushed), "tables_merged": len(merged),
            "snapshots_expired": len(expired), "files_deleted": len(deleted)}


def live_files(con: Any) -> int:
    """The lake's Parquet data files that the current snapshot reads."""
    return int(con.execute(f"SELECT count(*) FROM __ducklake_metadata_{_CATALOG}.ducklake_data_file "
                           "WHERE end_snapshot IS NULL").fetchone()[0])
