"""What trajectory scorers read from a trace: the agent's own spans, and the tool calls among them.

A trace holds more than the agent's work. Scoring adds EVALUATOR spans to it (and a judge's model
calls under them), during ``evaluate()`` while other scorers of the same row are still reading, and
for good when stored traces are scored again. So every reader here drops EVALUATOR subtrees: a
value must not depend on which scorer happened to run first, or on how often a trace was scored.

Tool calls are the TOOL spans, in start order: what really ran, with its result and status. A trace
without any (an agent whose tool functions are not traced) falls back to the calls its model asked
for in LLM/CHAT_MODEL outputs — OpenAI chat and Responses, Anthropic messages — so such an agent can
still be scored; :attr:`ToolCalls.source` says which it was and rationales repeat it.

Readers take ``trace.spans`` only (a DataFrame), so both a :class:`~llmops_nb._trace.Trace` read from
the store (monitoring, ``get_trace``) and an evaluation row's ``RowTrace`` work.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ._scorer import Score, Scorer
from ._util import is_missing

LLM_KINDS = ("LLM", "CHAT_MODEL")
TOOL_SPANS = "TOOL spans"
MODEL_REQUESTS = "model requests"
_SHOWN = 80  # characters of a call's arguments in a rationale


@dataclass(frozen=True)
class ToolCall:
    """One tool call: its name, its arguments (a dict when they read as a JSON object), how it ended."""

    name: str
    arguments: Any
    #: the arguments are a JSON object; False when the span's inputs or the model's JSON text were malformed
    readable: bool = True
    #: "OK" / "ERROR" for a TOOL span; "REQUESTED" for a call the model asked for (no outcome known)
    status: str = "OK"
    error: str | None = None

    def show(self) -> str:
        """``search({'q': 'weather'})``, cut to a readable length."""
        shown = repr(self.arguments) if self.arguments != {} else ""
        if len(shown) > _SHOWN:
            shown = shown[:_SHOWN - 1] + "…"
        return f"{self.name}({shown})"


@dataclass
class ToolCalls:
    """A trace's tool calls and where they were read from (``TOOL_SPANS`` or ``MODEL_REQUESTS``)."""

    calls: list[ToolCall] = field(default_factory=list)
    source: str = TOOL_SPANS

    def names(self) -> list[str]:
        return [call.name for call in self.calls]

    def note(self) -> str:
        """A rationale's suffix when the calls are the model's requests, not spans that ran."""
        if self.source == MODEL_REQUESTS and self.calls:
            return " (the tool calls the model requested: the trace has no TOOL spans)"
        return ""


def agent_spans(trace: Any) -> list[dict[str, Any]]:
    """The trace's spans as dicts in start order, without EVALUATOR spans and everything under them."""
    frame = trace.spans
    if frame is None or not len(frame):
        return []
    spans: list[dict[str, Any]] = frame.to_dict("records")
    children: dict[str, list[str]] = {}
    for span in spans:
        parent = span.get("parent_span_id")
        if isinstance(parent, str):
            children.setdefault(parent, []).append(span["span_id"])
    # a walk over parent links, not one pass in start order: a child may tie with its parent's start_ns
    dropped: set[str] = set()
    pending = [span["span_id"] for span in spans if span.get("kind") == "EVALUATOR"]
    while pending:
        span_id = pending.pop()
        if span_id not in dropped:
            dropped.add(span_id)
            pending.extend(children.get(span_id, ()))
    return [span for span in spans if span["span_id"] not in dropped]


def tool_calls(trace: Any) -> ToolCalls:
    """The TOOL spans as calls, in start order; with none, the tool calls the model requested."""
    spans = agent_spans(trace)
    tools = [span for span in spans if span.get("kind") == "TOOL"]
    if tools:
        return ToolCalls([_from_span(span) for span in tools], TOOL_SPANS)
    requested = [call for span in spans if span.get("kind") in LLM_KINDS for call in _requested(span.get("outputs"))]
    return ToolCalls(requested, MODEL_REQUESTS)


def span_error(span: dict[str, Any]) -> str | None:
    """A failed span's message: its status message, else the recorded exception's."""
    message = span.get("status_message")
    if isinstance(message, str) and message:
        return message
    error = span.get("error")
    if isinstance(error, dict) and error.get("message"):
        return str(error["message"])
    return None


def _from_span(span: dict[str, Any]) -> ToolCall:
    arguments, readable = _arguments(span.get("inputs"))
    failed = span.get("status") == "ERROR"
    return ToolCall(str(span.get("name")), arguments, readable, "ERROR" if failed else "OK",
                    span_error(span) if failed else None)


def _arguments(value: Any) -> tuple[Any, bool]:
    """Arguments as a dict, and whether they read as one: JSON text is parsed, no inputs are ``{}``."""
    if value is None or is_missing(value):
        return {}, True  # a tool function called without arguments records no inputs
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return value, False
    return value, isinstance(value, dict)


def _requested(outputs: Any) -> list[ToolCall]:
    """The tool calls a model response asks for, in the shapes autolog records them."""
    if isinstance(outputs, str) and outputs[:1] == "{":
        outputs, _ = _arguments(outputs)
    if not isinstance(outputs, dict):
        return []
    found: list[tuple[Any, Any]] = []
    for choice in _dicts(outputs.get("choices")):  # OpenAI chat completions
        found.extend(_message_calls(choice.get("message")))
    for item in _dicts(outputs.get("output")):  # OpenAI Responses
        if item.get("type") == "function_call":
            found.append((item.get("name"), item.get("arguments")))
    for block in _dicts(outputs.get("content")):  # Anthropic messages
        if block.get("type") == "tool_use":
            found.append((block.get("name"), block.get("input")))
    if "choices" not in outputs:  # an assistant message on its own
        found.extend(_message_calls(outputs))
    calls = []
    for name, raw in found:
        arguments, readable = _arguments(raw)
        calls.append(ToolCall(str(name), arguments, readable, "REQUESTED"))
    return calls


def _message_calls(message: Any) -> list[tuple[Any, Any]]:
    if not isinstance(message, dict):
        return []
    found = []
    for call in _dicts(message.get("tool_calls")):
        nested = call.get("function")
        function: dict[str, Any] = nested if isinstance(nested, dict) else call
        found.append((function.get("name"), function.get("arguments")))
    legacy = message.get("function_call")  # OpenAI's functions API, before tools
    if isinstance(legacy, dict) and legacy.get("name"):
        found.append((legacy.get("name"), legacy.get("arguments")))
    return found


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


class TrajectoryScorer(Scorer):
    """A code scorer of the agent's spans: a function of ``(trace, expectations)`` returning a Score."""

    def __init__(self, name: str, check: Callable[[Any, Any], Score], *, expectations: bool = False,
                 threshold: float | None = None, lower_is_better: bool = False) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"name={name!r}: a scorer's name is a non-empty string; its columns are "
                            "<name>/value, <name>/rationale, <name>/error.")
        self.name, self._check = name, check
        self.needs = frozenset({"trace", "expectations"} if expectations else {"trace"})
        self.threshold, self.lower_is_better = threshold, lower_is_better

    def score(self, **arguments: Any) -> Score:
        trace = arguments.get("trace")
        if trace is None:
            return Score(None, error=f"{self.name} reads the agent's spans, but it was given no trace: run it in "
                                     "llmops_nb.evaluate(...), or call it with trace=llmops_nb.get_trace(trace_id).")
        return self._check(trace, arguments.get("expectations"))
