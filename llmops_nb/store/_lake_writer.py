"""Writing spans and dropped-span counts to a DuckLake store: appends only, each batch applied once.

The file store upserts each trace's totals into ``traces``; the lake appends them instead, one
``trace_parts`` row per trace per batch (the same SELECT, ``_batch_sql.TRACE_TOTALS``), and the
``traces`` view sums them (``_lake_schema.py``). Spans and parts go in one transaction, tagged
with the batch's id.

Retries: DuckLake itself retries a commit that only overlaps another process's appends
(``ducklake_max_retry_count``). What it gives up on — a table altered by a migration meanwhile
("altered"), a conflict it cannot resolve — is retried here with jittered backoff, the whole
transaction again. A COMMIT that fails any other way (the catalog's connection dropped) may or may
not have been applied: the batch id is then remembered, and before the batch is sent again —
here, or by the recorder's later retry of the same chunk — the lake is asked whether a part
with that id exists, so a batch is never applied twice. A spans batch's id is a digest of its
span ids (spans are unique), so the recorder's resend of the same chunk carries the same id.
"""

from __future__ import annotations

import hashlib
import random
import time
import uuid
from collections.abc import Callable
from typing import Any

from ._auto_maintain import after_commit
from ._batch_sql import INSERT_SPANS, TRACE_COLUMNS, TRACE_ID, TRACE_TOTALS
from ._lake import LakeStore, is_conflict

CONFLICT_ATTEMPTS = 12
FIRST_DELAY_S = 0.02
MAX_DELAY_S = 1.0
_PART_INSERT = f"INSERT INTO trace_parts (batch_id, written_ns, {TRACE_COLUMNS}) SELECT ?, ?, * FROM ({TRACE_TOTALS})"
_DROPS_INSERT = ("INSERT INTO trace_parts (batch_id, written_ns, trace_id, dropped_spans) "
                 "SELECT ?, ?, {trace_id}, count FROM {table}")
_LOG_INSERT = "INSERT INTO dropped_spans ({columns}) VALUES ({marks})"
#: batches whose commit ended with an unknown outcome: looked up before they are sent again
_uncertain: set[str] = set()
#: transactions of this process retried after a conflict (for tests and diagnosis)
retried = {"conflicts": 0, "unknown_outcomes": 0}

Step = Callable[[Any], None]


def append_batch(store: LakeStore, table: Any) -> None:
    """Append a batch of span rows (``_writer._batch_table``) and its per-trace parts."""
    batch_id = spans_batch_id(table)
    now = time.time_ns()
    apply_once(store, batch_id, [("_batch", table)], [
        lambda con: con.execute(INSERT_SPANS),
        lambda con: con.execute(_PART_INSERT, [batch_id, now]),
    ])
    after_commit(store)  # maybe compact in the background (_auto_maintain.py)


def append_drops(store: LakeStore, drops: dict[int, int], log: list[tuple[Any, ...]]) -> None:
    """Add dropped-span counts to their traces, and the drop log's rows; ``drops`` is emptied once written."""
    import pyarrow as pa

    m64 = (1 << 64) - 1
    table = pa.table({"trace_hi": pa.array([key >> 64 for key in drops], pa.uint64()),
                      "trace_lo": pa.array([key & m64 for key in drops], pa.uint64()),
                      "count": pa.array(list(drops.values()), pa.int64())})
    batch_id = f"drops-{uuid.uuid4().hex}"
    now = time.time_ns()
    steps: list[Step] = []
    if drops:
        steps.append(lambda con: con.execute(_DROPS_INSERT.format(trace_id=TRACE_ID, table="_drops"), [batch_id, now]))
    if log:
        steps.append(lambda con: con.executemany(
            _LOG_INSERT.format(columns="trace_id, count, process_id, traces, reason", marks="?, ?, ?, ?, ?"), log))
    if steps:
        apply_once(store, batch_id, [("_drops", table)], steps, marker=bool(drops))
    drops.clear()


def append_lost(store: LakeStore, counts: dict[str, int], log: list[list[Any]]) -> None:
    """Record notes of spans abandoned at exit (``_lost.py``): counts per trace and one log row per note."""
    import pyarrow as pa

    table = pa.table({"trace_id": pa.array(list(counts), pa.string()),
                      "count": pa.array(list(counts.values()), pa.int64())})
    batch_id = f"lost-{uuid.uuid4().hex}"
    now = time.time_ns()
    steps: list[Step] = [lambda con: con.execute(_DROPS_INSERT.format(trace_id="trace_id", table="_lost"),
                                                 [batch_id, now])]
    if log:
        steps.append(lambda con: con.executemany(_LOG_INSERT.format(
            columns="recorded_at, trace_id, count, process_id, traces, reason", marks="?, ?, ?, ?, ?, ?"), log))
    apply_once(store, batch_id, [("_lost", table)], steps, marker=bool(counts))


def spans_batch_id(table: Any) -> str:
    """A digest of the batch's (trace, span) ids: the same chunk sent again has the same id."""
    digest = hashlib.sha256()
    for column in ("trace_hi", "trace_lo", "span_id"):
        for chunk in table.column(column).chunks:
            for buffer in chunk.buffers():
                if buffer is not None:
                    digest.update(memoryview(buffer))
    return f"spans-{digest.hexdigest()[:32]}"


def apply_once(store: LakeStore, batch_id: str, tables: list[tuple[str, Any]], steps: list[Step], *,
               marker: bool = True) -> None:
    """Run ``steps`` in one transaction, retrying conflicts; never apply ``batch_id`` twice.

    ``marker``: the steps write ``trace_parts`` rows carrying ``batch_id`` (what the look-up finds).
    """
    delay = FIRST_DELAY_S
    for attempt in range(CONFLICT_ATTEMPTS):
        last = attempt == CONFLICT_ATTEMPTS - 1
        reattach = False
        with store.connect() as con:
            if marker and batch_id in _uncertain and con.execute(
                    "SELECT count(*) FROM trace_parts WHERE batch_id = ?", [batch_id]).fetchone()[0]:
                _uncertain.discard(batch_id)
                return  # the earlier commit did land
            for name, table in tables:
                con.register(name, table)
            try:
                try:
                    con.execute("BEGIN TRANSACTION")
                    for step in steps:
                        step(con)
                except Exception as exc:
                    rollback(con)
                    if last or not is_conflict(exc):
                        raise
                    retried["conflicts"] += 1
                else:
                    try:
                        con.execute("COMMIT")
                    except Exception as exc:
                        rollback(con)
                        if is_conflict(exc):
                            retried["conflicts"] += 1
                        elif not marker:
                            raise  # outcome unknown and nothing to look it up by: not sent again blindly
                        else:
                            _uncertain.add(batch_id)  # outcome unknown: look before sending it again
                            retried["unknown_outcomes"] += 1
                            reattach = True
                        if last:
                            raise
                    else:
                        _uncertain.discard(batch_id)
                        return
            finally:
                for name, _ in tables:
                    try:
                        con.unregister(name)
                    except Exception:  # noqa: BLE001 - gone with a broken connection
                        pass
        if reattach:
            store.close()  # the catalog's connection may be what failed: the look-up goes through a new one
        time.sleep(delay * (0.5 + random.random()))
        delay = min(delay * 2, MAX_DELAY_S)


def rollback(con: Any) -> None:
    # a failed COMMIT may already have ended the transaction: ROLLBACK then raises, hiding nothing
    try:
        con.execute("ROLLBACK")
    except Exception:  # noqa: BLE001
        pass
