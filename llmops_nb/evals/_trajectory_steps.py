"""Trajectory scorers that need no expectations: failed tool calls, repeated calls, steps over budget.

Each counts something in the agent's spans (EVALUATOR subtrees left out, see
:mod:`._trajectory_spans`); the count is the value, lower is better, and the threshold says how
many are allowed. They run the same in ``evaluate()``, on stored traces and in monitors.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from typing import Any

from ..tracing._span import check_kind
from ._scorer import Score, Scorer
from ._trajectory_spans import ToolCall, TrajectoryScorer, agent_spans, tool_calls

REDUNDANT_KINDS = ("TOOL", "LLM", "CHAT_MODEL")
STEP_KINDS = ("TOOL", "LLM", "CHAT_MODEL", "AGENT")


def _kinds(kinds: Any, scorer: str) -> frozenset[str]:
    if isinstance(kinds, str) or not isinstance(kinds, Iterable):
        raise TypeError(f"{scorer}(kinds={kinds!r}): give a tuple of span kinds, e.g. kinds=('TOOL',).")
    checked = frozenset(check_kind(kind) for kind in kinds)
    if not checked:
        raise ValueError(f"{scorer}(kinds=()) counts nothing: name at least one span kind, e.g. kinds=('TOOL',).")
    return checked


def tool_errors(name: str | None = None) -> Scorer:
    """How many tool calls failed: TOOL spans with status ERROR (lower is better, passes at 0).

    The rationale lists the failed calls with their error messages.

    >>> import llmops_nb
    >>> failures = llmops_nb.scorers.tool_errors()
    >>> failures.threshold, failures.lower_is_better
    (0, True)
    """
    def check(trace: Any, expectations: Any) -> Score:
        made = tool_calls(trace)
        if made.note():  # calls the model only asked for: no TOOL span, no outcome to count
            return Score(0, f"no TOOL spans, so no failed tool calls ({len(made.calls)} requested by the model)")
        failed = [call for call in made.calls if call.status == "ERROR"]
        if not failed:
            return Score(0, f"none of {len(made.calls)} tool calls failed" if made.calls else "no tool calls")
        listed = "; ".join(f"{call.show()}: {call.error or 'failed'}" for call in failed[:5])
        more = f" … ({len(failed) - 5} more)" if len(failed) > 5 else ""
        return Score(len(failed), f"{len(failed)} of {len(made.calls)} tool calls failed: {listed}{more}")

    return TrajectoryScorer("tool_errors" if name is None else name, check, threshold=0, lower_is_better=True)


def redundant_calls(*, kinds: Iterable[str] = REDUNDANT_KINDS, name: str | None = None) -> Scorer:
    """How many calls repeated an earlier one exactly: same span name, same inputs (lower is better, passes at 0).

    A repeat of a call that failed is a retry, not waste, and is not counted. The rationale names
    the most repeated call: ``search({'q': 'weather'}) x4``. ``kinds``: the span kinds compared
    (tools and model calls by default).

    >>> import llmops_nb
    >>> llmops_nb.scorers.redundant_calls(kinds=("TOOL",)).name
    'redundant_calls'
    """
    counted = _kinds(kinds, "redundant_calls")

    def check(trace: Any, expectations: Any) -> Score:
        seen: Counter[tuple[str, str]] = Counter()
        succeeded: set[tuple[str, str]] = set()
        shown: dict[tuple[str, str], str] = {}
        redundant = 0
        spans = [span for span in agent_spans(trace) if span.get("kind") in counted]
        for span in spans:
            key = (str(span.get("name")), _canonical(span.get("inputs")))
            if key in succeeded:
                redundant += 1
            seen[key] += 1
            shown.setdefault(key, ToolCall(key[0], span.get("inputs") or {}).show())
            if span.get("status") != "ERROR":
                succeeded.add(key)
        if not redundant:
            return Score(0, f"no call repeated with the same inputs ({len(spans)} calls)")
        top, times = seen.most_common(1)[0]
        return Score(redundant, f"{redundant} redundant of {len(spans)} calls; most repeated: {shown[top]} x{times}")

    return TrajectoryScorer("redundant_calls" if name is None else name, check, threshold=0, lower_is_better=True)


def _canonical(inputs: Any) -> str:
    """Inputs as comparable text: JSON with sorted keys; unreadable inputs compare as they are."""
    if isinstance(inputs, str):
        return inputs
    return json.dumps(inputs, sort_keys=True, ensure_ascii=False, default=str)


def step_budget(max_steps: int, *, kinds: Iterable[str] = STEP_KINDS, name: str | None = None) -> Scorer:
    """How many steps the agent took: spans of ``kinds`` (lower is better, passes at ``max_steps`` or fewer).

    An AGENT span with no AGENT above it is the agent itself, not one of its steps: it is not
    counted, so a trace counts the same whether the agent is its root (a stored or monitored
    trace) or runs under ``evaluate()``'s row span. Sub-agents it calls are steps.

    >>> import llmops_nb
    >>> budget = llmops_nb.scorers.step_budget(10)
    >>> budget.threshold, budget.lower_is_better
    (10, True)
    """
    if isinstance(max_steps, bool) or not isinstance(max_steps, int):
        raise TypeError(f"step_budget(max_steps={max_steps!r}) takes a whole number of steps, e.g. step_budget(10).")
    if max_steps < 0:
        raise ValueError(f"step_budget(max_steps={max_steps}) is negative: allow 0 steps or more.")
    counted = _kinds(kinds, "step_budget")

    def check(trace: Any, expectations: Any) -> Score:
        spans = agent_spans(trace)
        kind_of = {span["span_id"]: span.get("kind") for span in spans}
        parent_of = {span["span_id"]: span.get("parent_span_id") for span in spans}

        def under_agent(span_id: str) -> bool:
            parent = parent_of.get(span_id)
            while isinstance(parent, str) and parent in kind_of:
                if kind_of[parent] == "AGENT":
                    return True
                parent = parent_of.get(parent)
            return False

        steps = [span for span in spans if span.get("kind") in counted
                 and (span.get("kind") != "AGENT" or under_agent(span["span_id"]))]
        by_kind = Counter(str(span.get("kind")) for span in steps)
        detail = f" ({', '.join(f'{n} {kind}' for kind, n in by_kind.most_common())})" if steps else ""
        within = "within" if len(steps) <= max_steps else "over"
        return Score(len(steps), f"{len(steps)} steps{detail}, {within} the budget of {max_steps}")

    return TrajectoryScorer("step_budget" if name is None else name, check, threshold=max_steps, lower_is_better=True)

