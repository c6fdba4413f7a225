"""Spans abandoned at exit are not lost silently: a note beside the store, recorded by the next writer.

When a process must exit with spans it could not write (the store stayed locked, the disk was
full), it cannot record that in the store either. So it appends a JSON line to
``<db>.lost.jsonl`` beside it: when, which process, why, and how many spans of which traces
(up to ``MAX_TRACES_NOTED`` traces; the total is always exact). The next process that writes to
the store claims the note (an atomic rename, so two processes never count it twice), adds the
counts to ``traces.dropped_spans`` and one row per note to the ``dropped_spans`` log with
``reason = 'abandoned at exit: …'``, then deletes it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
from pathlib import Path

from .._config import settings
from .._redact import redact_text
from .._safety import log_once

MAX_TRACES_NOTED = 10_000


def note_path(db: Path) -> Path:
    return Path(f"{db}.lost.jsonl")


def note(db: Path, traces: dict[int, int], reason: str) -> bool:
    """Append a note of abandoned spans (trace id → count); False if even that cannot be written."""
    entry = {
        "at": dt.datetime.now(dt.timezone.utc).isoformat(),
        "process_id": os.getpid(),
        "reason": redact_text(reason)[:1000],
        "spans": sum(traces.values()),
        "traces": len(traces),
        "by_trace": {f"{key:032x}": count for key, count in list(traces.items())[:MAX_TRACES_NOTED]},
    }
    try:
        with open(note_path(db), "a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry) + "\n")
    except OSError:
        return False
    return True


def ingest_pending(db: Path) -> None:
    """Record earlier processes' notes in the store, once (cheap when there is none: one stat)."""
    path = note_path(db)
    if not path.exists():
        return
    claimed = Path(f"{path}.{os.getpid()}.claimed")
    try:
        os.replace(path, claimed)
    except OSError:
        return  # another process claimed it first
    try:
        entries = [json.loads(line) for line in claimed.read_text(encoding="utf-8").splitlines() if line.strip()]
        _record(db, entries)
    except Exception as exc:  # noqa: BLE001 - put it back for the next try, say so once
        with contextlib.suppress(OSError):
            os.replace(claimed, path)
        log_once("store.lost_note", exc)
        return
    claimed.unlink(missing_ok=True)


def _record(db: Path, entries: list[dict[str, object]]) -> None:
    import pyarrow as pa

    from ._connection import Store, get_store

    counts: dict[str, int] = {}
    for entry in entries:
        for trace_id, count in dict(entry.get("by_trace") or {}).items():  # type: ignore[call-overload]
            counts[str(trace_id)] = counts.get(str(trace_id), 0) + int(count)
    table = pa.table({"trace_id": pa.array(list(counts), pa.string()),
                      "count": pa.array(list(counts.values()), pa.int64())})
    log = [[dt.datetime.fromisoformat(str(e["at"])).replace(tzinfo=None),
            _only_trace(e), int(e["spans"]), int(e["process_id"]), int(e["traces"]),  # type: ignore[call-overload]
            f"abandoned at exit: {e['reason']}"] for e in entries]
    store = get_store(db) if db != settings.db_path() else get_store()
    if not isinstance(store, Store):  # a DuckLake store: appended parts, no upsert (see _lake_writer.py)
        from ._lake_writer import append_lost

        append_lost(store, counts, log)
        return
    with store.connect() as con:
        con.execute("BEGIN TRANSACTION")
        try:
            con.register("_lost", table)
            con.execute("INSERT INTO traces (trace_id, dropped_spans) SELECT trace_id, count FROM _lost "
                        "ON CONFLICT (trace_id) DO UPDATE SET dropped_spans = traces.dropped_spans + "
                        "EXCLUDED.dropped_spans")
            con.unregister("_lost")
            con.executemany("INSERT INTO dropped_spans (recorded_at, trace_id, count, process_id, traces, reason) "
                            "VALUES (?, ?, ?, ?, ?, ?)", log)
            con.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(Exception):
                con.execute("ROLLBACK")
            raise


def _only_trace(entry: dict[str, object]) -> str | None:
    by_trace = entry.get("by_trace")
    return next(iter(by_trace)) if isinstance(by_trace, dict) and len(by_trace) == 1 else None
