"""Evaluation data in any accepted shape → a list of :class:`Record`.

Accepted: a ``Dataset``, a pandas DataFrame, a list of dicts, a path to a
``.jsonl``/``.json`` or ``.csv`` file. Each row has ``inputs`` (MLflow's
name) and optionally ``expectations``, ``outputs``, ``trace_id`` (a stored
trace the row came from) and ``record_id``. CSV cells holding JSON objects are
parsed. Flat columns can be grouped with ``inputs=[...]``/``expectations=[...]``.
A DataFrame of traces (``llmops_nb.traces()``) is read from the store: each
trace's root inputs and outputs.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._util import from_json, is_missing, to_json

_FIELDS = ("inputs", "expectations", "outputs", "trace_id", "record_id")


@dataclass
class Record:
    """One example: what goes in, what is expected, and optionally a stored answer."""

    inputs: Any
    expectations: Any = None
    outputs: Any = None
    has_outputs: bool = False
    record_id: str = ""
    source_trace_id: str | None = None


def load_records(data: Any, *, inputs: Any = None, expectations: Any = None, outputs: Any = None) -> list[Record]:
    """Read ``data`` into records; ``inputs``/``expectations``/``outputs`` map flat columns.

    >>> [r.inputs for r in load_records([{"inputs": {"q": "2+2"}, "expectations": {"expected_response": "4"}}])]
    [{'q': '2+2'}]
    """
    if hasattr(data, "records") and hasattr(data, "version"):  # a Dataset
        return [Record(**vars(r)) for r in data.records]
    if isinstance(data, (str, Path)):
        rows = _read_file(Path(data))
    elif hasattr(data, "to_dict") and hasattr(data, "columns"):
        rows = _frame_rows(data)
    elif isinstance(data, (list, tuple)):
        rows = list(data)
    else:
        raise TypeError(f"Evaluation data must be a Dataset, a pandas DataFrame, a list of dicts or a path to a "
                        f".jsonl/.csv file; got {type(data).__name__}.")
    if not rows:
        raise ValueError("The evaluation data has no rows.")
    for position, row in enumerate(rows):
        if not isinstance(row, dict):
            raise TypeError(f"Row {position} is a {type(row).__name__}, not a dict: write rows as "
                            "{'inputs': {...}, 'expectations': {...}}.")
    mapping = {"inputs": inputs, "expectations": expectations, "outputs": outputs}
    if any(v is not None for v in mapping.values()):
        rows = [_group(row, mapping) for row in rows]
    if all("inputs" not in row for row in rows) and all(row.get("trace_id") for row in rows):
        return _from_traces([str(row["trace_id"]) for row in rows])
    records = [_record(row, position) for position, row in enumerate(rows)]
    assign_record_ids(records)
    return records


def _record(row: dict[str, Any], position: int) -> Record:
    if "inputs" not in row or is_missing(row["inputs"]):
        extra = [k for k in row if k not in _FIELDS]
        hint = (f" To use flat columns, group them: inputs={extra[:3]!r}, expectations=[...]." if extra else "")
        raise ValueError(f"Row {position} has no 'inputs' (columns: {sorted(row)}). Each row needs "
                         f"'inputs', e.g. {{'inputs': {{'question': '...'}}, 'expectations': "
                         f"{{'expected_response': '...'}}}}.{hint}")
    unknown = [k for k in row if k not in _FIELDS]
    if unknown:
        raise ValueError(f"Row {position} has unknown columns {unknown}: a row holds {', '.join(_FIELDS)}. "
                         "Move extra fields into 'inputs' or 'expectations' (or group flat columns with "
                         "inputs=[...], expectations=[...]).")
    has_outputs = "outputs" in row and not is_missing(row["outputs"])
    trace_id = row.get("trace_id")
    return Record(
        inputs=_cell(row["inputs"]),
        expectations=None if is_missing(row.get("expectations")) else _cell(row.get("expectations")),
        outputs=_cell(row["outputs"]) if has_outputs else None,
        has_outputs=has_outputs,
        record_id=str(row["record_id"]) if not is_missing(row.get("record_id")) else "",
        source_trace_id=str(trace_id) if trace_id and not is_missing(trace_id) else None,
    )


def assign_record_ids(records: list[Record]) -> None:
    """Give rows without one a content-derived id (equal rows get ``#2``, ``#3`` suffixes)."""
    seen: dict[str, int] = {}
    for record in records:
        if not record.record_id:
            text = (to_json(record.inputs) or "") + "\x00" + (to_json(record.expectations) or "")
            record.record_id = hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:16]
        count = seen[record.record_id] = seen.get(record.record_id, 0) + 1
        if count > 1:
            record.record_id = f"{record.record_id}#{count}"


def _cell(value: Any) -> Any:
    """A JSON object/array written as text (CSV, spreadsheets) becomes the object."""
    if isinstance(value, str) and value[:1] in "{[":
        parsed = from_json(value)
        return parsed
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        return value.tolist()  # numpy values and arrays
    return value


def _group(row: dict[str, Any], mapping: dict[str, Any]) -> dict[str, Any]:
    grouped: dict[str, Any] = {k: v for k, v in row.items() if k in ("trace_id", "record_id")}
    used: set[str] = set()
    for field, columns in mapping.items():
        if columns is None:
            if field in row:
                grouped[field] = row[field]
                used.add(field)
            continue
        names = [columns] if isinstance(columns, str) else list(columns)
        missing = [c for c in names if c not in row]
        if missing:
            raise ValueError(f"{field}={names!r} names columns that are not in the data: {missing}; "
                             f"the columns are {sorted(row)}.")
        values = {c: row[c] for c in names if not is_missing(row[c])}
        # One column mapped to a field keeps its name: {"question": ...}, as predict_fn(**inputs) expects.
        grouped[field] = values if values or field == "inputs" else None
        used.update(names)
    return grouped


def _frame_rows(frame: Any) -> list[dict[str, Any]]:
    if "trace_id" in frame.columns and "inputs" not in frame.columns and "request_preview" in frame.columns:
        return [{"trace_id": t} for t in frame["trace_id"]]  # a traces() frame
    if frame.attrs.get("run_id") or any(str(c).endswith("/value") for c in frame.columns):
        # an evaluation result: score its rows again (on their traces) with other scorers
        frame = frame[[c for c in _FIELDS if c in frame.columns]]
    return frame.to_dict("records")


def _read_file(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise FileNotFoundError(f"No evaluation data file at {path}.")
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        rows = []
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except ValueError as exc:
                    raise ValueError(f"{path}:{number} is not JSON ({exc}); a .jsonl file has one JSON "
                                     "object per line.") from None
        return rows
    if suffix == ".json":
        loaded = json.loads(path.read_text(encoding="utf-8"))
        return loaded if isinstance(loaded, list) else [loaded]
    if suffix == ".csv":
        import pandas as pd

        return pd.read_csv(path, dtype=str, keep_default_na=False).replace({"": None}).to_dict("records")
    raise ValueError(f"Cannot read {path}: use a .jsonl, .json or .csv file (or load it into a DataFrame).")


def _from_traces(trace_ids: list[str]) -> list[Record]:
    """Each trace's root span inputs and outputs, in the order given."""
    from ..store._connection import get_store
    from ..tracing import flush

    flush()
    with get_store().connect() as con:
        found = con.execute(
            "SELECT trace_id, inputs, outputs FROM spans WHERE parent_span_id IS NULL "
            "AND trace_id IN (SELECT unnest(?::VARCHAR[]))", [trace_ids]).fetchall()
    by_id = {row[0]: row for row in found}
    missing = [t for t in trace_ids if t not in by_id]
    if missing:
        raise LookupError(f"{len(missing)} trace(s) are not in the store, e.g. {missing[0]!r}: take ids from "
                          "llmops_nb.traces().trace_id (a trace still running has no root span yet).")
    records = []
    for trace_id in trace_ids:
        _, inputs, outputs = by_id[trace_id]
        records.append(Record(inputs=from_json(inputs), outputs=from_json(outputs), has_outputs=True,
                              source_trace_id=trace_id))
    assign_record_ids(records)
    return records

