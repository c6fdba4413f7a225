"""``llmops_nb.export_otlp()``: stored traces out to any OTLP/HTTP backend (MLflow, Phoenix, a collector).

>>> import llmops_nb
>>> llmops_nb.export_otlp(llmops_nb.traces(limit=10), endpoint="http://127.0.0.1:5000/v1/traces",
...                       headers={"x-mlflow-experiment-id": "0"})   # doctest: +SKIP
{'endpoint': 'http://127.0.0.1:5000/v1/traces', 'traces': 10, 'spans': 42, 'requests': 1}

Spans are read from the store (already redacted) and redacted once more on the way out, encoded
with MLflow, OpenInference and GenAI keys (``_otlp_encode.py``), sent in batches of
``batch_size`` spans with gzip, and retried on 429/5xx and connection errors (``_http.py``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from .._redact import redact_strings
from ._http import ExportError, post, resolve_endpoint, resolve_headers
from ._otlp_encode import encode

_COLUMNS = ("trace_id, span_id, parent_span_id, name, kind, start_ns, end_ns, status, status_message, error, "
            "inputs, outputs, attributes, events, model, input_tokens, output_tokens")
_TEXT = (3, 8, 9, 10, 11, 12, 13, 14)  # name … model: the text fields redaction looks at
_TRACES_PER_QUERY = 500


def trace_ids(traces: Any) -> list[str]:
    """Trace ids from what users hold: an id, a ``Trace``, a ``traces()`` DataFrame, or a list of them."""
    if traces is None:
        from ..store._queries import sql

        return list(sql("SELECT trace_id FROM traces ORDER BY start_ns")["trace_id"])
    if isinstance(traces, str):
        return [traces]
    if hasattr(traces, "columns") and "trace_id" in getattr(traces, "columns", ()):
        return [str(t) for t in traces["trace_id"].dropna().unique()]
    if hasattr(traces, "trace_id"):
        return [str(traces.trace_id)]
    if isinstance(traces, Iterable):
        out: list[str] = []
        for item in traces:
            out += trace_ids(item)
        return list(dict.fromkeys(out))
    raise TypeError(f"traces= takes a trace id, a Trace, a llmops_nb.traces() DataFrame or a list of them; "
                    f"got {type(traces).__name__}.")


def stored_spans(ids: list[str]) -> Iterable[list[tuple[Any, ...]]]:
    """The stored spans of ``ids``, a list per query, as encoder tuples (ids as ints, text redacted)."""
    from ..store._queries import sql

    for start in range(0, len(ids), _TRACES_PER_QUERY):
        part = ids[start:start + _TRACES_PER_QUERY]
        frame = sql(f"SELECT {_COLUMNS} FROM spans WHERE list_contains(?, trace_id) ORDER BY trace_id, start_ns",
                    [part])
        rows = []
        for row in frame.itertuples(index=False, name=None):
            values = [None if _missing(v) else v for v in row]
            values[0] = int(str(values[0]), 16)
            values[1] = int(str(values[1]), 16)
            values[2] = int(str(values[2]), 16) if values[2] else 0
            texts = redact_strings([values[i] for i in _TEXT])
            for i, text in zip(_TEXT, texts, strict=True):
                values[i] = text
            rows.append(tuple(values))
        yield rows


def _missing(value: Any) -> bool:
    import pandas as pd

    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))  # NULLs in pandas


def export_otlp(traces: Any = None, *, endpoint: str | None = None, headers: dict[str, str] | str | None = None,
                batch_size: int = 512, timeout: float = 10.0, retries: int = 5) -> dict[str, Any]:
    """Send stored traces to an OTLP/HTTP endpoint; returns what was sent.

    ``traces``: a trace id, a ``Trace``, a ``llmops_nb.traces()`` DataFrame or a list; None sends
    every stored trace. ``endpoint`` defaults to ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``, ``headers``
    to ``OTEL_EXPORTER_OTLP_TRACES_HEADERS`` (MLflow needs ``{"x-mlflow-experiment-id": "<id>"}``).
    Raises :class:`ExportError` naming the backend's answer when it refuses or stays unreachable.
    """
    url = resolve_endpoint(endpoint)
    sent_headers = resolve_headers(headers)
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive number of spans, got {batch_size!r}.")
    ids = trace_ids(traces)
    spans = requests = 0
    for rows in stored_spans(ids):
        for start in range(0, len(rows), batch_size):
            batch = rows[start:start + batch_size]
            post(url, encode(batch), sent_headers, timeout=timeout, retries=retries)
            spans += len(batch)
            requests += 1
    from .._redact import redact_text
    from ..store._audit import record_quietly

    # the endpoint without credentials in its URL; the headers (keys, tokens) are never recorded
    record_quietly("export.otlp", redact_text(url), {"traces": len(ids), "spans": spans, "requests": requests})
    return {"endpoint": url, "traces": len(ids), "spans": spans, "requests": requests}


__all__ = ["ExportError", "export_otlp", "stored_spans", "trace_ids"]
