"""What an online scorer has done, in the store: its cursor, the traces still to score, the results.

Exactly once per trace and scorer version rests on one key, ``monitor_scored(scorer, version,
trace_id, target_span_id)``: a result is written together with its key in one transaction, and a
key already there means the result is dropped. So a pass killed anywhere — mid-judge, mid-write —
loses at most the calls it was making (they run again next time) and never writes a second
assessment. The check and the write run in one block under ``store.exclusive("monitor")``
(a PostgreSQL advisory lock on the lake; on a file DuckDB's lock admits one process at a time,
and a process lock orders this process's threads).

The cursor is only a speed-up: traces that ended at or after ``watermark - look-back`` are looked
at (late writers from other processes land inside the look-back), never those before the
version's ``floor`` (its registration, or the backfill start).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any

from ..evals._run_store import as_number
from ..evals._scorer import Score
from ..evals._util import insert_rows, new_id, to_json, utc_now
from ..store._connection import get_store
from ._online import OnlineScorer, sample_bound
from ._where import TRAFFIC

_writes = threading.Lock()
_ASSESSMENT_TYPES = {"value_number": "float", "passed": "bool", "created_at": "time"}
_SCORED_TYPES = {"scored_at": "time"}


@dataclass
class Item:
    """One thing to score: a trace, or one span of it."""

    trace_id: str
    target_span_id: str  # '' for the whole trace
    inputs: str | None
    outputs: str | None
    end_ns: int


@dataclass
class Result:
    item: Item
    score: Score
    span_id: str | None  # the EVALUATOR span that scored it


def register(online: OnlineScorer, store: Any = None) -> tuple[int, int]:
    """The version's ``(floor_ns, watermark_ns)``, registering it on first sight."""
    store = store or get_store()
    with _writes, store.exclusive("monitor"), store.connect() as con:
        found = con.execute("SELECT floor_ns, watermark_ns FROM monitor_cursors WHERE scorer = ? AND version = ?",
                            [online.name, online.version]).fetchone()
        if found is not None:
            return int(found[0]), int(found[1])
        floor = online.start_ns
        con.execute("INSERT INTO monitor_cursors (scorer, version, floor_ns, watermark_ns, registered_at, definition) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    [online.name, online.version, floor, floor, utc_now(), json.dumps(online.definition, default=str)])
        return floor, floor


def advance(online: OnlineScorer, watermark_ns: int, store: Any = None) -> None:
    """Move the cursor (after a pass that left nothing behind)."""
    store = store or get_store()
    with _writes, store.exclusive("monitor"), store.connect() as con:
        con.execute("UPDATE monitor_cursors SET watermark_ns = greatest(watermark_ns, ?), last_pass_at = ? "
                    "WHERE scorer = ? AND version = ?", [watermark_ns, utc_now(), online.name, online.version])


def _pending(online: OnlineScorer, since_ns: int) -> tuple[str, str, list[Any]]:
    """``(target, FROM … WHERE …, params)`` of the traces (or spans) this version has still to score."""
    params: list[Any] = [since_ns, sample_bound(online.sample_rate), *online.params]
    if online.targets_spans:
        source = "JOIN spans s ON s.trace_id = t.trace_id"
        target, span_conditions = "s.span_id", []
        if online.span_kinds:
            span_conditions.append("s.kind IN (SELECT unnest(?::VARCHAR[]))")
            params.append(list(online.span_kinds))
        if online.span_name:
            span_conditions.append("s.name GLOB ?")
            params.append(online.span_name)
        span_filter = " AND " + " AND ".join(span_conditions)
    else:
        source = "LEFT JOIN spans s ON s.trace_id = t.trace_id AND s.parent_span_id IS NULL"
        target, span_filter = "''", ""
    params += [online.name, online.version]
    body = f"""
        FROM traces t {source}
        WHERE t.end_ns IS NOT NULL AND t.status IS NOT NULL AND t.end_ns >= ?
          AND ('0x' || substr(md5(t.trace_id), 1, 8))::UBIGINT < ?
          AND {TRAFFIC} AND {online.where}{span_filter}
          AND NOT EXISTS (SELECT 1 FROM monitor_scored m WHERE m.scorer = ? AND m.version = ?
                          AND m.trace_id = t.trace_id AND m.target_span_id = {target})"""
    return target, body, params


def candidates(online: OnlineScorer, since_ns: int, limit: int, store: Any = None,
               after: Item | None = None) -> list[Item]:
    """Up to ``limit`` finished, sampled, filtered traces (or their matching spans) this version has not done,
    oldest end first; ``after``: only those that sort after this one (the next page while the previous
    page is still being scored, so nothing in flight is handed out twice)."""
    target, body, params = _pending(online, since_ns)
    if after is not None:
        body += (f" AND (t.end_ns > ? OR (t.end_ns = ? AND (t.trace_id > ? OR (t.trace_id = ? AND {target} > ?))))")
        params += [after.end_ns, after.end_ns, after.trace_id, after.trace_id, after.target_span_id]
    query = (f"SELECT t.trace_id, {target} AS target, s.inputs, s.outputs, t.end_ns {body} "
             "ORDER BY t.end_ns, t.trace_id, target LIMIT ?")
    with (store or get_store()).connect() as con:
        rows = con.execute(query, [*params, limit]).fetchall()
    return [Item(r[0], r[1], r[2], r[3], int(r[4])) for r in rows]


def backlog(online: OnlineScorer, since_ns: int, store: Any = None) -> int:
    """How many sampled, filtered traces (or spans) this version has still to score."""
    _, body, params = _pending(online, since_ns)
    with (store or get_store()).connect() as con:
        return int(con.execute(f"SELECT count(*) {body}", params).fetchone()[0])


def save(online: OnlineScorer, results: list[Result], store: Any = None) -> int:
    """Write results whose key is new, with their keys, in one transaction; returns how many were new."""
    if not results:
        return 0
    store = store or get_store()
    now = utc_now()
    with _writes, store.exclusive("monitor"), store.connect() as con:
        done = {(r[0], r[1]) for r in con.execute(
            "SELECT trace_id, target_span_id FROM monitor_scored WHERE scorer = ? AND version = ? "
            "AND trace_id IN (SELECT unnest(?::VARCHAR[]))",
            [online.name, online.version, sorted({r.item.trace_id for r in results})]).fetchall()}
        fresh, seen = [], set(done)
        for result in results:
            key = (result.item.trace_id, result.item.target_span_id)
            if key not in seen:
                seen.add(key)
                fresh.append(result)
        scored: dict[str, list[Any]] = {k: [] for k in ("scorer", "version", "trace_id", "target_span_id",
                                                        "assessment_id", "status", "scored_at")}
        rows: dict[str, list[Any]] = {k: [] for k in (
            "assessment_id", "trace_id", "name", "source_type", "source_id", "value", "value_number", "passed",
            "rationale", "error", "span_id", "target_span_id", "created_at")}
        scorer = online.scorer
        cell: Any
        for result in fresh:
            score, item = result.score, result.item
            status = "ERROR" if score.error else "SKIPPED" if score.value is None else "OK"
            assessment_id = None if status == "SKIPPED" else new_id()
            for column, cell in (("scorer", online.name), ("version", online.version), ("trace_id", item.trace_id),
                                 ("target_span_id", item.target_span_id), ("assessment_id", assessment_id),
                                 ("status", status), ("scored_at", now)):
                scored[column].append(cell)
            if assessment_id is None:
                continue
            for column, cell in (("assessment_id", assessment_id), ("trace_id", item.trace_id),
                                 ("name", online.name), ("source_type", scorer.source),
                                 ("source_id", scorer.model_uri or scorer.name), ("value", to_json(score.value)),
                                 ("value_number", as_number(score.value)), ("passed", scorer.passes(score.value)),
                                 ("rationale", score.rationale), ("error", score.error),
                                 ("span_id", result.span_id), ("target_span_id", item.target_span_id or None),
                                 ("created_at", now)):
                rows[column].append(cell)
        con.execute("BEGIN TRANSACTION")
        try:
            insert_rows(con, "monitor_scored", scored, _SCORED_TYPES)
            insert_rows(con, "assessments", rows, _ASSESSMENT_TYPES)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return len(fresh)


