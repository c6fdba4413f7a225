"""Recorded calls in the store and in portable files.

Recording happens on the user's thread (the SDK's request), so writing does not: a daemon thread
takes finished calls from a queue and appends them to ``recorded_calls`` in batches. A batch the
store refuses is retried, then counted in ``status()["record_failures"]`` and logged once —
never lost silently. ``flush()`` waits for the queue (``llmops_nb.replay.export`` and the notebook
runner call it).

The portable file (``notebook.llmops``) is one Parquet file written with pyarrow: the rows of
``recorded_calls`` plus key-value metadata (format version, the match rule, the packages that
recorded it). Parquet because any machine reads it (DuckDB, pandas, Spark) and a DuckDB file is
tied to DuckDB's storage version.
"""

from __future__ import annotations

import json
import os
import queue
import threading
import time
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

from .._errors import LlmopsError
from .._safety import log_once
from ..store import get_store
from ._recording import RecordedCall

FORMAT = "llmops_nb.recording/1"
_COLUMNS = ("recording", "started_ns", "call_key", "method", "path", "request", "status", "headers", "chunks",
            "complete", "client", "trace_id", "span_id", "provider", "model")
_RETRIES = 3
_BATCH = 256


class RecordingError(LlmopsError, ValueError):
    """A recording file that cannot be used; the message says why and what to do."""


def _schema() -> Any:
    import pyarrow as pa

    return pa.schema([("recording", pa.string()), ("started_ns", pa.int64()), ("call_key", pa.string()),
                      ("method", pa.string()), ("path", pa.string()), ("request", pa.large_string()),
                      ("status", pa.int32()), ("headers", pa.string()), ("chunks", pa.list_(pa.large_binary())),
                      ("complete", pa.bool_()), ("client", pa.string()), ("trace_id", pa.string()),
                      ("span_id", pa.string()), ("provider", pa.string()), ("model", pa.string())])


def _table(calls: Iterable[RecordedCall], metadata_: dict[str, str] | None = None) -> Any:
    import pyarrow as pa

    rows = list(calls)
    columns: dict[str, list[Any]] = {name: [] for name in _COLUMNS}
    for call in rows:
        for name in _COLUMNS:
            value = getattr(call, name)
            columns[name].append(json.dumps(value) if name == "headers" else list(value) if name == "chunks"
                                 else value)
    schema = _schema().with_metadata(metadata_ or {})
    return pa.table(columns, schema=schema)


def _call(row: tuple[Any, ...]) -> RecordedCall:
    values = dict(zip(_COLUMNS, row, strict=True))
    values["headers"] = tuple(tuple(h) for h in json.loads(values["headers"]))
    values["chunks"] = tuple(bytes(c) for c in values["chunks"])
    return RecordedCall(**values)


class Writer:
    """Appends recorded calls to the store from its own thread."""

    def __init__(self) -> None:
        self._queue: queue.Queue[RecordedCall] = queue.Queue()
        self._pending = 0
        self._idle = threading.Condition()
        self._thread: threading.Thread | None = None
        self.written = 0
        self.failures = 0
        self.last_error: str | None = None

    def put(self, call: RecordedCall) -> None:
        with self._idle:
            self._pending += 1
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="llmops_nb-replay-writer", daemon=True)
                self._thread.start()
        self._queue.put(call)

    def flush(self, timeout: float | None = 30.0) -> bool:
        """Wait until every call put so far is in the store (or counted as failed)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < _BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._write(batch)
            with self._idle:
                self._pending -= len(batch)
                self._idle.notify_all()

    def _write(self, batch: list[RecordedCall]) -> None:
        for attempt in range(_RETRIES):
            try:
                insert(batch)
            except Exception as exc:  # noqa: BLE001 - a locked or full store: retried, then counted
                self.last_error = f"{type(exc).__name__}: {exc}"
                if attempt + 1 < _RETRIES:
                    time.sleep(0.5 * 2 ** attempt)
                    continue
                self.failures += len(batch)
                log_once("replay.write", exc, f"llmops_nb: {len(batch)} recorded LLM calls could not be written "
                                              "to the store; they are counted in llmops_nb.replay.status()")
            else:
                self.written += len(batch)
            return


def insert(calls: list[RecordedCall]) -> None:
    table = _table(calls)
    with get_store().connect() as con:
        con.register("llmops_nb_incoming_calls", table)
        try:
            con.execute(f"INSERT INTO recorded_calls ({', '.join(_COLUMNS)}, recorded_at) "
                        f"SELECT {', '.join(_COLUMNS)}, current_timestamp FROM llmops_nb_incoming_calls")
        finally:
            con.unregister("llmops_nb_incoming_calls")


def read_calls(recording: str | None, db: Path | None = None) -> list[RecordedCall]:
    """The store's recorded calls (or another store file's), of one recording or of all."""
    where, params = ("WHERE recording = ?", [recording]) if recording is not None else ("", [])
    with get_store(db).connect() as con:
        rows = con.execute(f"SELECT {', '.join(_COLUMNS)} FROM recorded_calls {where} ORDER BY started_ns",
                           params).fetchall()
    return [_call(row) for row in rows]


def recordings() -> Any:
    """One row per recording in the store: calls, first and last recorded, response bytes."""
    with get_store().connect() as con:
        return con.execute(
            "WITH sizes AS (SELECT started_ns, call_key, sum(octet_length(chunk)) AS size FROM "
            "(SELECT started_ns, call_key, unnest(chunks) AS chunk FROM recorded_calls) GROUP BY ALL) "
            "SELECT recording, count(*) AS calls, count(*) FILTER (WHERE status >= 400) AS errors, "
            "min(recorded_at) AS first_recorded, max(recorded_at) AS last_recorded, "
            "coalesce(sum(size), 0) AS response_bytes "
            "FROM recorded_calls LEFT JOIN sizes USING (started_ns, call_key) GROUP BY recording "
            "ORDER BY last_recorded DESC").df()


def delete(recording: str) -> int:
    store = get_store()
    with store.exclusive("recorded_calls"), store.connect() as con:  # deletes from one table conflict on a lake
        (count,) = con.execute("SELECT count(*) FROM recorded_calls WHERE recording = ?", [recording]).fetchone()
        con.execute("DELETE FROM recorded_calls WHERE recording = ?", [recording])
    return int(count)


def write_file(path: str | os.PathLike[str], calls: list[RecordedCall], rule: dict[str, Any],
               notebook: dict[str, Any] | None = None) -> Path:
    """Write calls to a file; the notebook runner adds the run's outputs (to compare with) and author."""
    import pyarrow.parquet as pq

    target = Path(path).expanduser()
    info = {"format": FORMAT, "rule": json.dumps(rule), "packages": json.dumps(packages())}
    if notebook is not None:
        info["notebook"] = json.dumps(notebook)
    tmp = target.with_name(target.name + ".tmp")
    pq.write_table(_table(calls, info), tmp, compression="zstd")
    tmp.replace(target)  # a reader never sees half a file
    return target


def read_file(path: str | os.PathLike[str]) -> tuple[list[RecordedCall], dict[str, Any]]:
    """The calls of a recording file and its metadata; ``RecordingError`` says what is wrong with it."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    source = Path(path).expanduser()
    if not source.is_file():
        raise RecordingError(f"No recording at {source}: make one with llmops_nb.replay.export({str(source)!r}) "
                             f"or python -m llmops_nb run NOTEBOOK.ipynb --record {source}.")
    try:
        table = pq.read_table(source)
    except (pa.ArrowException, OSError) as exc:
        raise RecordingError(f"{source} is not a readable recording (truncated or corrupted: {exc}). Record it "
                             "again, or restore it from version control.") from None
    info = {k.decode(errors="replace"): v.decode(errors="replace")
            for k, v in (table.schema.metadata or {}).items()}
    if info.get("format") != FORMAT:
        found = info.get("format") or "no llmops_nb format mark"
        raise RecordingError(f"{source} is not an llmops_nb recording of this version ({found}; expected {FORMAT}). "
                             "Upgrade llmops_nb, or record it again.")
    missing = [c for c in _COLUMNS if c not in table.column_names]
    if missing:
        raise RecordingError(f"{source} lacks the columns {missing}: it was not written by llmops_nb.replay.export.")
    try:
        rows = zip(*(table.column(c).to_pylist() for c in _COLUMNS), strict=True)
        calls = [_call(tuple(row)) for row in rows]
        meta = {"rule": json.loads(info.get("rule") or "{}"), "packages": json.loads(info.get("packages") or "{}"),
                "notebook": json.loads(info["notebook"]) if "notebook" in info else None}
    except (ValueError, TypeError) as exc:
        raise RecordingError(f"{source} holds malformed rows ({exc}). Record it again.") from None
    return calls, meta


def packages() -> dict[str, str]:
    """The versions of the packages that shape a recording's bytes."""
    found = {}
    for name in ("llmops_nb", "openai", "anthropic", "httpx"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found

