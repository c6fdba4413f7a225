"""Write a chunk of span records: one columnar insert of spans, one upsert of trace totals.

Runs on the recorder's thread. Everything it touches is already text or numbers (records are
built on the caller's thread, see ``tracing/_record.py``), so nothing here can run user code.
Per chunk: the records become columns with one ``zip``, every text column is redacted in one
RE2 pass (``_redact.redact_strings``), and one Arrow table goes to DuckDB. DuckDB then does the
rest in C++ (the SQL is in ``_batch_sql.py``): hex ids (``printf``), the spans insert, and each
trace's totals with a ``GROUP BY`` upserted into ``traces`` (``INSERT … ON CONFLICT DO UPDATE``),
so a trace whose spans arrive over many chunks — or whose root is still open — always has correct
running totals. Row-by-row inserts are ~700x slower in DuckDB.
"""

from __future__ import annotations

import os
from typing import Any

from .._redact import redact_strings
from ..pii._records import scrub_columns
from ..tracing import _record as rec
from ._batch_sql import INSERT_SPANS, TRACE_COLUMNS, TRACE_ID, TRACE_TOTALS
from ._connection import Store, get_store

_M64 = (1 << 64) - 1
_TEXT_FIELDS = (rec.NAME, rec.STATUS_MESSAGE, rec.ERROR, rec.INPUTS, rec.OUTPUTS, rec.ATTRIBUTES, rec.EVENTS,
                rec.MODEL, rec.TAGS, rec.SESSION, rec.CELL)
# (column in the Arrow batch, record field or None for derived, arrow type name)
_BATCH_COLUMNS: tuple[tuple[str, int | None, str], ...] = (
    ("trace_hi", None, "uint64"), ("trace_lo", None, "uint64"), ("span_id", rec.SPAN_ID, "uint64"),
    ("parent_id", rec.PARENT_ID, "uint64"), ("name", rec.NAME, "string"), ("kind", rec.KIND, "string"),
    ("start_ns", rec.START, "int64"), ("end_ns", rec.END, "int64"), ("status", rec.STATUS, "string"),
    ("status_message", rec.STATUS_MESSAGE, "string"), ("error", rec.ERROR, "string"), ("inputs", rec.INPUTS, "string"),
    ("outputs", rec.OUTPUTS, "string"), ("attributes", rec.ATTRIBUTES, "string"), ("events", rec.EVENTS, "string"),
    ("model", rec.MODEL, "string"), ("input_tokens", rec.INPUT_TOKENS, "int64"),
    ("output_tokens", rec.OUTPUT_TOKENS, "int64"), ("cost_usd", rec.COST, "float64"), ("is_root", rec.IS_ROOT, "bool"),
    ("tags", rec.TAGS, "string"), ("session", rec.SESSION, "string"), ("cell", rec.CELL, "string"),
)
_UPSERT_TRACES = f"""
INSERT INTO traces ({TRACE_COLUMNS})
{TRACE_TOTALS}
ON CONFLICT (trace_id) DO UPDATE SET
    name = COALESCE(EXCLUDED.name, traces.name),
    status = COALESCE(EXCLUDED.status, traces.status),
    start_ns = LEAST(EXCLUDED.start_ns, traces.start_ns),
    end_ns = COALESCE(EXCLUDED.end_ns, traces.end_ns),
    span_count = traces.span_count + EXCLUDED.span_count,
    llm_calls = traces.llm_calls + EXCLUDED.llm_calls,
    error_count = traces.error_count + EXCLUDED.error_count,
    input_tokens = traces.input_tokens + EXCLUDED.input_tokens,
    output_tokens = traces.output_tokens + EXCLUDED.output_tokens,
    cost_usd = CASE WHEN EXCLUDED.cost_usd IS NULL THEN traces.cost_usd
                    ELSE COALESCE(traces.cost_usd, 0) + EXCLUDED.cost_usd END,
    tags = COALESCE(EXCLUDED.tags, traces.tags),
    session = COALESCE(EXCLUDED.session, traces.session),
    cell = COALESCE(EXCLUDED.cell, traces.cell),
    request_preview = COALESCE(EXCLUDED.request_preview, traces.request_preview),
    response_preview = COALESCE(EXCLUDED.response_preview, traces.response_preview),
    error_message = COALESCE(EXCLUDED.error_message, traces.error_message)
"""

_UPSERT_DROPS = f"""
INSERT INTO traces (trace_id, dropped_spans) SELECT {TRACE_ID}, count FROM _drops
ON CONFLICT (trace_id) DO UPDATE SET dropped_spans = traces.dropped_spans + EXCLUDED.dropped_spans
"""
#: per-trace drop counts go to ``traces`` in transactions of at most this many traces, each its own
#: use of the file, so a flood of dropped single-span traces never holds it for long: an upsert into
#: ``traces`` costs up to ~25 µs a trace here (measured at 1M traces), ~0.25 s a transaction
DROP_CHUNK = 10_000
DROP_SECONDS_PER_TRACE = 25e-6


def write_records(records: list[tuple[Any, ...]], *, lock_wait: float | None = None, expected_s: float = 0.0) -> None:
    """Persist span records in one short transaction (spans rows plus trace totals)."""
    if not records:
        return
    table = _batch_table(records)
    store = get_store()
    if not isinstance(store, Store):  # a DuckLake store: appends only
        from ._lake_writer import append_batch

        append_batch(store, table)
        return
    with store.connect(timeout=lock_wait, expected_s=expected_s) as con:
        in_transaction(con, [("_batch", table)], [INSERT_SPANS, _UPSERT_TRACES])


def write_drops(drops: dict[int, int], reasons: dict[str, int], *, lock_wait: float | None = None) -> None:
    """Add dropped-span counts to their traces, and one row per reason to the ``dropped_spans`` log.

    Counts that reached the store are removed from ``drops`` as each part commits, so after a
    failure ``drops`` holds exactly what is left to write (retrying it never counts twice).
    """
    import pyarrow as pa

    items = list(drops.items())
    only = f"{items[0][0]:032x}" if len(items) == 1 else None
    traces = len(items)
    pid = os.getpid()
    store = get_store()
    if not isinstance(store, Store):
        from ._lake_writer import append_drops

        append_drops(store, drops, [(only, count, pid, traces, reason) for reason, count in reasons.items()])
        return
    for start in range(0, len(items), DROP_CHUNK):
        part = items[start:start + DROP_CHUNK]
        table = pa.table({
            "trace_hi": pa.array([key >> 64 for key, _ in part], pa.uint64()),
            "trace_lo": pa.array([key & _M64 for key, _ in part], pa.uint64()),
            "count": pa.array([count for _, count in part], pa.int64()),
        })
        with store.connect(timeout=lock_wait, expected_s=len(part) * DROP_SECONDS_PER_TRACE) as con:
            in_transaction(con, [("_drops", table)], [_UPSERT_DROPS])
        for key, _ in part:
            del drops[key]
    rows = [[only, count, pid, traces, reason] for reason, count in reasons.items()]
    if rows:
        with store.connect(timeout=lock_wait) as con:
            con.execute("BEGIN TRANSACTION")
            try:
                con.executemany("INSERT INTO dropped_spans (trace_id, count, process_id, traces, reason) "
                                "VALUES (?, ?, ?, ?, ?)", rows)
                con.execute("COMMIT")
            except BaseException:
                rollback(con)
                raise


def in_transaction(con: Any, tables: list[tuple[str, Any]], statements: list[str]) -> None:
    con.execute("BEGIN TRANSACTION")
    try:
        for name, table in tables:
            con.register(name, table)
        for statement in statements:
            con.execute(statement)
        con.execute("COMMIT")
    except BaseException:
        rollback(con)
        raise
    finally:
        for name, _ in tables:
            try:
                con.unregister(name)
            except Exception:  # noqa: BLE001 - already gone with a broken connection
                pass


def rollback(con: Any) -> None:
    # A failed COMMIT (disk full) may already have ended the transaction; ROLLBACK then raises
    # "no transaction is active", which must not replace the real error being raised.
    try:
        con.execute("ROLLBACK")
    except Exception:  # noqa: BLE001
        pass


def _batch_table(records: list[tuple[Any, ...]]) -> Any:
    import pyarrow as pa

    full, pad = rec.FIELDS, rec.PAD
    fields: list[Any] = list(zip(*[r if len(r) == full else r + pad for r in records], strict=True))
    count = len(records)
    for index in _TEXT_FIELDS:
        fields[index] = redact_strings(list(fields[index]))
    scrub_columns(fields)  # the PII policy, if one is configured
    trace_ids = fields[rec.TRACE_ID]
    columns: dict[str, Any] = {}
    for name, field, kind in _BATCH_COLUMNS:
        arrow_type = pa.bool_() if kind == "bool" else getattr(pa, kind)()
        if field is not None:
            values: Any = fields[field]
            if kind == "string" and not any(values):  # tags, session, cell, events: mostly none at all
                columns[name] = pa.nulls(count, arrow_type)
                continue
        elif name == "trace_hi":
            values = [tid >> 64 for tid in trace_ids]
        else:
            values = [tid & _M64 for tid in trace_ids]
        columns[name] = pa.array(values, arrow_type)
    return pa.table(columns)


def placeholder(record: tuple[Any, ...], why: str) -> tuple[Any, ...]:
    """A record that keeps a bad span's place (ids, times, kind, status) and says why its data is gone.

    Every field is rebuilt from scratch or checked, so the placeholder itself cannot be refused
    for its values: if it is, the fault is not in the data (see the recorder).
    """
    from .._redact import redact_text
    from ..tracing._serialize import to_json

    fields = list(rec.full(record))
    note = redact_text(str(why))[:500]
    name = fields[rec.NAME] if isinstance(fields[rec.NAME], str) else "<span>"
    kind, status = fields[rec.KIND], fields[rec.STATUS]
    return (
        _int_in(fields[rec.TRACE_ID], 128), _int_in(fields[rec.SPAN_ID], 64), _int_in(fields[rec.PARENT_ID], 64),
        name.encode("utf-8", "replace").decode("utf-8")[:200],
        kind if isinstance(kind, str) else "UNKNOWN",
        _int_in(fields[rec.START], 63), _int_in(fields[rec.END], 63),
        status if status in ("OK", "ERROR", "UNSET") else "ERROR",
        None, to_json(f"<not stored: {note}>", 1000)[0], None, fields[rec.IS_ROOT] is True, 0,
        None, to_json({"llmops_nb.unwritable": note}, 1000)[0], None, None, None, None, None, None, None, None,
    )


def _int_in(value: Any, bits: int) -> int:
    return value if type(value) is int and 0 <= value < (1 << bits) else 0


def is_data_error(exc: BaseException) -> bool:
    """True when ``exc`` says a record's values were rejected (not that the store is unavailable)."""
    if isinstance(exc, (UnicodeError, OverflowError, ValueError, TypeError)):
        return True
    module = type(exc).__module__ or ""
    if module.startswith("pyarrow"):
        return True
    name = type(exc).__name__
    return module.startswith("duckdb") and name in (
        "ConversionException", "ConstraintException", "OutOfRangeException", "InvalidInputException",
        "InvalidTypeException", "MismatchTypeException", "TypeMismatchException", "SerializationException")
