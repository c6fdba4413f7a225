"""``llmops_nb.import_traces()``: traces made elsewhere — MLflow, OTLP-JSON files — into the store.

>>> import llmops_nb
>>> llmops_nb.import_traces("http://127.0.0.1:5000", experiment_ids=["0"])   # doctest: +SKIP
{'traces': 12, 'spans': 57, 'skipped_existing': 0, 'rejected': {}}
>>> llmops_nb.import_traces("phoenix_export.jsonl")                          # doctest: +SKIP

Sources: an MLflow tracking URI (read with ``MlflowClient.search_traces``), a
``mlflow.search_traces()`` DataFrame (its ``trace`` column) or a list of MLflow ``Trace`` objects,
and OTLP-JSON files (one request per file, or JSON Lines of requests as collectors' file exporters
write). Every span goes through the same mapping as the bridge and the receiver, then the store's
writer (redaction included). A span already in the store (same trace and span id) is skipped, so
importing twice stores nothing twice.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .._config import settings
from ..tracing import _sink
from ._convert import BadSpanError, OtelSpan, plain_value, to_record
from ._llm_count import count_once_in
from ._otlp_decode import MalformedError, decode_json

_MLFLOW_STATUS = {"OK": 1, "ERROR": 2}


def import_traces(source: Any, *, experiment_ids: list[str] | None = None, max_results: int = 1000,
                  filter_string: str | None = None) -> dict[str, Any]:
    """Import traces into the store; returns counts (``traces``, ``spans``, ``skipped_existing``, ``rejected``)."""
    spans = list(_spans_of(source, experiment_ids, max_results, filter_string))
    existing = _stored_keys({span.trace_id for span in spans})
    cap = settings.max_payload_chars
    taken, skipped = 0, 0
    traces: set[int] = set()
    rejected: dict[str, int] = {}
    seen: set[tuple[int, int]] = set()
    converted: list[tuple[tuple[Any, ...], int, int]] = []
    for span in spans:
        key = (span.trace_id, span.span_id)
        if key in existing or key in seen:
            skipped += 1
            continue
        seen.add(key)
        try:
            converted.append((to_record(span, cap), span.span_id, span.parent_id))
        except BadSpanError as exc:
            rejected[str(exc)] = rejected.get(str(exc), 0) + 1
            continue
        traces.add(span.trace_id)
    for record in count_once_in(converted):  # an LLM span around another LLM span counts once
        _sink.emit(record)
        taken += 1
    _sink.flush(60.0)
    return {"traces": len(traces), "spans": taken, "skipped_existing": skipped, "rejected": rejected}


def _spans_of(source: Any, experiment_ids: list[str] | None, max_results: int,
              filter_string: str | None) -> Iterable[OtelSpan]:
    if isinstance(source, (str, os.PathLike)) and str(source).startswith(("http://", "https://", "databricks",
                                                                          "sqlite:", "file:")):
        from mlflow import MlflowClient

        client = MlflowClient(tracking_uri=str(source))
        if experiment_ids is None:
            experiment_ids = [e.experiment_id for e in client.search_experiments()]
        token, left = None, max_results
        while left > 0:  # MLflow serves at most 500 traces a page
            page = client.search_traces(locations=list(experiment_ids), max_results=min(500, left),
                                        filter_string=filter_string, page_token=token)
            for trace in page:
                yield from _mlflow_spans(trace)
            left -= len(page)
            token = page.token
            if not token or not page:
                break
    elif isinstance(source, (str, os.PathLike)):
        yield from _file_spans(Path(source))
    elif hasattr(source, "columns"):  # a mlflow.search_traces() DataFrame
        if "trace" not in source.columns:
            raise ValueError("A DataFrame to import needs the 'trace' column of mlflow.search_traces() "
                             f"(it has {list(source.columns)}).")
        for trace in source["trace"]:
            yield from _mlflow_spans(trace)
    elif hasattr(source, "data") and hasattr(source, "info"):  # one MLflow Trace
        yield from _mlflow_spans(source)
    elif isinstance(source, Iterable):
        for item in source:
            yield from _spans_of(item, experiment_ids, max_results, filter_string)
    else:
        raise TypeError(f"import_traces() takes an MLflow tracking URI, a mlflow.search_traces() DataFrame, "
                        f"MLflow Trace objects or OTLP-JSON file paths; got {type(source).__name__}.")


def _file_spans(path: Path) -> Iterable[OtelSpan]:
    if not path.exists():
        raise FileNotFoundError(f"No such file: {path}. import_traces() reads OTLP-JSON (.json) or JSON Lines "
                                "(.jsonl) files.")
    text = path.read_bytes().decode("utf-8", "replace")
    try:
        yield from decode_json(text)
        return
    except MalformedError:
        if "\n" not in text.strip():
            raise
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                yield from decode_json(line)
            except MalformedError as exc:
                raise MalformedError(f"{path}, line {number}: {exc}") from None


def _mlflow_spans(trace: Any) -> Iterable[OtelSpan]:
    if isinstance(trace, str):
        from mlflow.entities import Trace

        trace = Trace.from_json(trace)
    for span in trace.data.spans:
        attributes = {key: plain_value(value) for key, value in (span.attributes or {}).items()
                      if key not in ("mlflow.spanInputs", "mlflow.spanOutputs", "mlflow.traceRequestId")}
        attributes["mlflow.spanType"] = str(span.span_type or "UNKNOWN")
        if span.inputs is not None:
            attributes["mlflow.spanInputs"] = json.dumps(plain_value(span.inputs), ensure_ascii=False, default=str)
        if span.outputs is not None:
            attributes["mlflow.spanOutputs"] = json.dumps(plain_value(span.outputs), ensure_ascii=False, default=str)
        status = span.status
        code = getattr(status.status_code, "value", status.status_code) if status is not None else "OK"
        yield OtelSpan(
            _trace_int(span.trace_id), _hex(span.span_id), _hex(span.parent_id) if span.parent_id else 0, span.name,
            start_ns=int(span.start_time_ns or 0), end_ns=int(span.end_time_ns or 0),
            status_code=_MLFLOW_STATUS.get(str(code), 0),
            status_message=getattr(status, "description", None) or None, attributes=attributes,
            events=[(event.name, int(event.timestamp or 0), {k: plain_value(v) for k, v in
                                                             (event.attributes or {}).items()})
                    for event in span.events or []],
            scope="mlflow")


def _trace_int(trace_id: str) -> int:
    """MLflow's ``tr-<32 hex>`` as the OTel trace id; any other form hashed to 128 bits (stable)."""
    digits = trace_id[3:] if trace_id.startswith("tr-") else trace_id
    if len(digits) == 32:
        try:
            return int(digits, 16)
        except ValueError:
            pass
    return int.from_bytes(hashlib.sha256(trace_id.encode()).digest()[:16], "big") or 1


def _hex(value: Any) -> int:
    try:
        return int(str(value), 16)
    except ValueError:
        return int.from_bytes(hashlib.sha256(str(value).encode()).digest()[:8], "big") or 1


def _stored_keys(trace_ids: set[int]) -> set[tuple[int, int]]:
    if not trace_ids:
        return set()
    from ..store._queries import sql

    hexes = [f"{t:032x}" for t in trace_ids if isinstance(t, int) and 0 < t < 2**128]
    if not hexes or (settings.lake_url() is None and not settings.db_path().exists()):
        return set()
    frame = sql("SELECT trace_id, span_id FROM spans WHERE list_contains(?, trace_id)", [hexes])
    return {(int(t, 16), int(s, 16)) for t, s in zip(frame["trace_id"], frame["span_id"], strict=True)}


__all__ = ["import_traces"]
