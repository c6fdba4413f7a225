"""Small helpers shared by the evaluation modules: JSON columns, ids, UTC time, Arrow inserts."""

from __future__ import annotations

import datetime as dt
import json
import math
import os
from typing import Any

_MAX_JSON_CHARS = 10_000_000  # dataset rows and results are kept whole, unlike span payloads


def to_json(value: Any) -> str | None:
    """JSON text for a stored payload (None stays NULL); any Python value is accepted."""
    if value is None or is_missing(value):
        return None
    from ..tracing._serialize import to_json as serialize

    return serialize(value, _MAX_JSON_CHARS)[0]


def from_json(text: Any) -> Any:
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return None
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return text


def is_missing(value: Any) -> bool:
    """None or a pandas/numpy missing scalar (NaN, NaT, pd.NA)."""
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    return type(value).__name__ in ("NAType", "NaTType")


def new_id() -> str:
    return os.urandom(16).hex()


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def insert_rows(con: Any, table: str, columns: dict[str, list[Any]], types: dict[str, str] | None = None) -> None:
    """Insert column lists in one statement through Arrow (DuckDB is ~700x slower row by row)."""
    import pyarrow as pa

    if not columns or not len(next(iter(columns.values()))):
        return
    from .._redact import redact_strings
    from ..pii._records import scrub_texts

    kinds = {"int": pa.int64(), "float": pa.float64(), "bool": pa.bool_(), "time": pa.timestamp("us")}
    schema = pa.schema([(name, kinds.get((types or {}).get(name, ""), pa.string())) for name in columns])
    # Evaluation data is copied from traces and datasets: it gets the store's secret redaction too.
    # And the PII policy, if one is set: a dataset of customer tickets is as sensitive as the traces.
    columns = {name: scrub_texts(redact_strings(values)) if schema.field(name).type == pa.string() else values
               for name, values in columns.items()}
    view = f"_llmops_insert_{table}"
    con.register(view, pa.table(columns, schema=schema))
    try:
        con.execute(f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(columns)} FROM {view}")
    finally:
        con.unregister(view)


def object_series(values: list[Any], index: Any = None) -> Any:
    """An object-dtype Series, so dicts, None and 3 stay themselves (not NaN or 3.0)."""
    import pandas as pd

    return pd.Series(values, index=index, dtype=object)
