"""What scorers read from a row's trace: its spans, retrieved documents, tool calls, a compact text.

The row's spans may still be in memory when scoring starts, so the first read
flushes the recorder; scorers that never touch the trace cost nothing.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from .._trace import Trace
from ._text import render_value

_DOC_TEXT_KEYS = ("page_content", "content", "text", "document", "chunk", "body")


class RowTrace(Trace):
    """The trace an evaluation row ran under (``Trace``), read from the store on first use.

    The row's root stays open until its scoring is done (``_engine``), so while scorers run it is
    not in the store yet: ``spans`` adds it from memory (no end, ``duration_ms`` unknown) and
    ``info`` takes the trace's name from it, so a scorer sees the whole trace it judges.
    """

    def __init__(self, trace_id: str, root: Any = None) -> None:
        super().__init__(trace_id)
        self._flushed = False
        self._read_lock = threading.Lock()
        self._root = root  # the row's open root span, or None (a stored trace scored again)

    @property
    def spans(self) -> Any:
        with self._read_lock:
            if self._spans is None:
                if not self._flushed:
                    from ..tracing import flush

                    flush()
                    self._flushed = True
                from ..store._queries import spans

                self._spans = _with_open_root(spans(self.trace_id), self._root)
            return self._spans

    @property
    def info(self) -> dict[str, Any]:
        if not self._flushed:
            self.spans  # noqa: B018 - flushes first
        root = self._root
        if root is None or root.ended:
            return super().info
        if self._info is None:
            from ..store._queries import trace_row

            found = trace_row(self.trace_id) or {"trace_id": self.trace_id, "span_count": 0, "llm_calls": 0,
                                                 "input_tokens": 0, "output_tokens": 0, "cost_usd": None,
                                                 "error_count": 0, "dropped_spans": 0}
            self._info = {**found, "name": found.get("name") or root.name, "status": "IN_PROGRESS"}
        return self._info

    def spans_of_kind(self, kind: str) -> list[dict[str, Any]]:
        """This trace's spans of one kind (``"TOOL"``, ``"RETRIEVER"`` …) as dicts, in start order."""
        frame = self.spans
        return frame[frame["kind"] == kind].to_dict("records") if len(frame) else []


def _with_open_root(frame: Any, root: Any) -> Any:
    """``frame`` (a trace's stored spans) with the open root first, as the store will hold it once ended."""
    if root is None or root.ended or (len(frame) and root.span_id in set(frame["span_id"])):
        return frame
    import pandas as pd

    from ._util import from_json

    row = {"trace_id": root.trace_id, "span_id": root.span_id, "parent_span_id": None, "name": root.name,
           "kind": root.kind, "start_time": pd.Timestamp(root.start_ns // 1000, unit="us"), "duration_ms": None,
           "status": root.status, "status_message": root.status_message, "error": None,
           "inputs": from_json(root.inputs), "outputs": from_json(root.outputs), "attributes": dict(root.attributes),
           "events": None, "model": None, "input_tokens": None, "output_tokens": None, "cost_usd": None,
           "start_ns": root.start_ns, "end_ns": None}
    # records, not concat: a one-row frame of NAs would make pandas guess the columns' types
    return pd.DataFrame([row, *frame.to_dict("records")], columns=list(frame.columns) or list(row))


def retrieved_context(trace: Any) -> list[str]:
    """The documents that RETRIEVER spans returned, as texts."""
    if trace is None:
        return []
    documents: list[str] = []
    for span in trace.spans_of_kind("RETRIEVER"):
        documents.extend(_document_texts(span.get("outputs")))
    return documents


def _document_texts(outputs: Any) -> list[str]:
    if outputs is None:
        return []
    if isinstance(outputs, str):
        return [outputs]
    if isinstance(outputs, dict):
        for key in ("documents", "docs", "results", "chunks", "context"):
            if isinstance(outputs.get(key), list):
                return _document_texts(outputs[key])
        for key in _DOC_TEXT_KEYS:
            if isinstance(outputs.get(key), str):
                return [outputs[key]]
        return [json.dumps(outputs, ensure_ascii=False, default=str)]
    if isinstance(outputs, list):
        texts: list[str] = []
        for item in outputs:
            texts.extend(_document_texts(item))
        return texts
    return [str(outputs)]


def context_of(inputs: Any, outputs: Any, trace: Any) -> list[str] | None:
    """Retrieved context for groundedness: a ``context`` field in inputs/outputs, else RETRIEVER spans."""
    for source in (inputs, outputs):
        if isinstance(source, dict):
            for key in ("context", "contexts", "documents", "retrieved_context"):
                if source.get(key):
                    return _document_texts(source[key])
    found = retrieved_context(trace)
    return found or None


def tool_calls(trace: Any) -> list[dict[str, Any]]:
    """Each TOOL span as ``{name, arguments, result, status}``, in call order."""
    if trace is None:
        return []
    from ._trajectory_spans import agent_spans  # the app's spans, whatever Trace it is (a row's, a stored one)

    calls = []
    for span in (s for s in agent_spans(trace) if s.get("kind") == "TOOL"):
        call = {"name": span.get("name"), "arguments": span.get("inputs"), "result": span.get("outputs")}
        if span.get("status") == "ERROR":
            call["error"] = span.get("status_message")
        calls.append(call)
    return calls


def render_trace(trace: Any, limit: int = 20_000) -> str:
    """A compact, indented outline of the trace for a judge prompt: kind, name, inputs → outputs."""
    if trace is None:
        return "(no trace)"
    frame = trace.spans
    if not len(frame):
        return "(the trace has no spans)"
    depth: dict[str, int] = {}
    scoring: set[str] = set()
    lines = []
    for span in frame.to_dict("records"):
        if span["kind"] == "EVALUATOR" or span.get("parent_span_id") in scoring:
            scoring.add(span["span_id"])
            continue  # the judges' own spans (and their model calls) are not what is judged
        level = depth[span["span_id"]] = depth.get(span.get("parent_span_id") or "", -1) + 1
        inputs = render_value(span.get("inputs"), 1500).replace("\n", " ")
        outputs = render_value(span.get("outputs"), 1500).replace("\n", " ")
        status = "" if span.get("status") != "ERROR" else f" ERROR: {span.get('status_message')}"
        lines.append(f"{'  ' * level}- [{span['kind']}] {span['name']}: {inputs} -> {outputs}{status}")
    text = "\n".join(lines)
    return text if len(text) <= limit else text[:limit] + "\n… [trace cut]"
