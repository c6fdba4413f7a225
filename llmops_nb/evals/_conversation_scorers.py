"""Scorers over conversations: which scorer judges the whole conversation and which each turn, and how a
conversation's per-turn scores add up.

As in MLflow's multi-turn evaluation, the kind of the scorer decides: a *conversation-level* scorer
(``conversation_level = True``: the judges of ``_conversation_judges``, :func:`make_conversation_judge`,
functions decorated with :func:`conversation_scorer`) gets the whole conversation once; any other
scorer — ``exact_match``, ``relevance_to_query``, your ``@scorer`` — runs on *every turn*, with
``inputs`` = the user's message, ``outputs`` = the assistant's reply (text), ``expectations`` = the
turn's own (a scripted turn's ``{"content", "expectations"}``), ``trace`` = the turn's trace.

A per-turn scorer's score is stored on each turn's trace (an assessment of the run, its
``row_index`` NULL: it belongs to a turn, not a row). The conversation's row gets the mean over its
turns — for yes/no scorers the share of turns that passed — with a rationale naming the turns that
failed, and no pass/fail of its own (the verdicts are the turns'): so ``sessions()``' per-session
mean and pass rate stay those of the turns.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from ._scorer import ARGUMENTS, Score, Scorer, parameters_filled

CONVERSATION_ARGUMENTS = ("conversation", *ARGUMENTS)
_SHOWN = 3  # failing turns named in a rationale


def is_conversation_level(scorer: Scorer) -> bool:
    return bool(getattr(scorer, "conversation_level", False))


class TurnScorer(Scorer):
    """A single-turn scorer run on each turn; its own ``score`` is never called (the engine runs ``inner``)."""

    def __init__(self, inner: Scorer) -> None:
        self.inner = inner
        self.name, self.source, self.model_uri = inner.name, inner.source, inner.model_uri
        self.threshold, self.lower_is_better = inner.threshold, inner.lower_is_better

    def passes(self, value: Any) -> bool | None:
        return None  # a share or a mean of the turns: the verdicts are on the turns

    def describe(self) -> dict[str, Any]:
        return {**self.inner.describe(), "per_turn": True}

    def aggregate(self, scores: list[tuple[int, Score]]) -> Score:
        """The conversation's score from ``(turn number, score)`` of every turn."""
        numbers: list[float] = []
        failed: list[str] = []
        errors = [f"turn {n}: {s.error}" for n, s in scores if s.error]
        verdicts = 0
        for number, score in scores:
            if score.value is None:
                continue
            passed = self.inner.passes(score.value)
            verdicts += passed is not None
            if passed is False:
                why = f" ({score.rationale[:200]})" if score.rationale else ""
                failed.append(f"turn {number}{why}")
            as_number = _number(score.value, passed)
            if as_number is not None:
                numbers.append(as_number)
        if not numbers:
            return Score(None, error="; ".join(errors) or "no turn had a value")
        value = sum(numbers) / len(numbers)
        counted = f"{len(numbers)} of {len(scores)} turns" if len(numbers) < len(scores) else f"{len(scores)} turns"
        if verdicts:
            rationale = f"{verdicts - len(failed)} of {verdicts} turn{'s' if verdicts > 1 else ''} passed"
            if failed:
                more = f", and {len(failed) - _SHOWN} more" if len(failed) > _SHOWN else ""
                rationale += "; failed: " + "; ".join(failed[:_SHOWN]) + more
        else:
            rationale = f"mean over {counted}"
        return Score(value, rationale, "; ".join(errors) or None)

    def __repr__(self) -> str:
        return f"<per turn {self.inner!r}>"


def _number(value: Any, passed: bool | None) -> float | None:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float)):
        return float(value)
    return None if passed is None else float(passed)  # a pass/fail word or label


class ConversationScorer(Scorer):
    """A Python function over a whole conversation (made by :func:`conversation_scorer`)."""

    conversation_level = True

    def __init__(self, fn: Callable[..., Any], name: str | None = None, threshold: float | None = None,
                 lower_is_better: bool = False) -> None:
        self.fn = fn
        self.name = name or getattr(fn, "__name__", None) or type(fn).__name__
        self.threshold, self.lower_is_better = threshold, lower_is_better
        self.is_async = inspect.iscoroutinefunction(fn)
        self.wants = parameters_filled(fn, CONVERSATION_ARGUMENTS, f"Conversation scorer {self.name!r}",
                                       f"def {self.name}(conversation): ...")
        self.needs = frozenset(self.wants & set(ARGUMENTS)) | {"outputs"}

    def score(self, **arguments: Any) -> Any:
        given = {**arguments, "conversation": conversation_of(arguments.get("outputs"))}
        return self.fn(**{k: v for k, v in given.items() if k in self.wants})


def conversation_scorer(fn: Callable[..., Any] | None = None, *, name: str | None = None,
                        threshold: float | None = None, lower_is_better: bool = False) -> Any:
    """Turn a function of a whole conversation into a scorer that runs once per conversation.

    It takes any of ``conversation`` (the messages, ``[{"role", "content"}, ...]``), ``inputs`` (the
    row's spec: ``turns``, or ``goal``/``persona``/``max_turns``), ``outputs`` (the result: ``messages``,
    ``session``, ``turns``, ``stop_reason``), ``expectations`` and ``trace`` (the first turn's).

    >>> import llmops_nb
    >>> @llmops_nb.scorers.conversation_scorer
    ... def short(conversation):
    ...     return len(conversation) <= 6
    >>> short.conversation_level
    True
    """
    if fn is not None:
        if not callable(fn):
            raise TypeError(f"@conversation_scorer decorates a function, got {type(fn).__name__}.")
        return ConversationScorer(fn, name, threshold, lower_is_better)
    return lambda f: ConversationScorer(f, name, threshold, lower_is_better)


def conversation_of(outputs: Any) -> list[dict[str, Any]] | None:
    """The messages of a conversation's outputs (None for a row that is not a conversation)."""
    if isinstance(outputs, dict) and isinstance(outputs.get("messages"), list):
        return list(outputs["messages"])
    return None


def turn_summary(entries: dict[str, list[tuple[Any, bool | None, Any]]]) -> dict[str, dict[str, Any]]:
    """Per per-turn scorer, over every turn of the run: mean, pass_rate, count, errors (as ``summary``),
    from ``(value, passed, error)`` of each turn — the same whether live or read back from the store."""
    summary = {}
    for name, found in entries.items():
        present = [(v, p) for v, p, _ in found if v is not None]
        numbers = [_number(v, p) for v, p in present]
        numbers_present = [n for n in numbers if n is not None]
        verdicts = [p for _, p in present if p is not None]
        summary[name] = {"mean": sum(numbers_present) / len(numbers_present) if numbers_present else None,
                         "pass_rate": sum(verdicts) / len(verdicts) if verdicts else None,
                         "count": len(present), "errors": sum(1 for _, _, e in found if e)}
    return summary
