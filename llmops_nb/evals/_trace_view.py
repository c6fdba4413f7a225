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
    """The trace an evaluation row ran under (``Trace``), read from the store on first use."""

    def __init__(self, trace_id: str) -> None:
        super().__init__(trace_id)
        self._flushed = False
        self._read_lock = threading.Lock()

    @property
    def spans(self) -> Any:
        with self._read_lock:
            if self._spans is None:
                if not self._flushed:
                    from ..tracing import flush

                    flush()
                    self._flushed = True
                from ..store._queries import spans

                self._spans = spans(self.trace_id)
            return self._spans

    @property
    def info(self) -> dict[str, Any]:
        if not self._flushed:
            self.spans  # noqa: B018 - flushes first
        return super().info

    def spans_of_kind(self, kind: str) -> list[dict[str, Any]]:
        """This trace's spans of one kind (``"TOOL"``, ``"RETRIEVER"`` …) as dicts, in start order."""
        frame = self.spans
        return frame[frame["kind"] == kind].to_dict("records") if len(frame) else []


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
    calls = []
    for span in trace.spans_of_kind("TOOL"):
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
    lines = []
    for span in frame.to_dict("records"):
        if span["kind"] == "EVALUATOR":
            continue  # the judges' own spans are not what is judged
        level = depth[span["span_id"]] = depth.get(span.get("parent_span_id") or "", -1) + 1
        inputs = render_value(span.get("inputs"), 1500).replace("\n", " ")
        outputs = render_value(span.get("outputs"), 1500).replace("\n", " ")
        status = "" if span.get("status") != "ERROR" else f" ERROR: {span.get('status_message')}"
        lines.append(f"{'  ' * level}- [{span['kind']}] {span['name']}: {inputs} -> {outputs}{status}")
    text = "\n".join(lines)
    return text if len(text) <= limit else text[:limit] + "\n… [trace cut]"
