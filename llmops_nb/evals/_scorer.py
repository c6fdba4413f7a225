"""Scorers: the ``Scorer`` base, ``Score`` results and the ``@scorer`` decorator.

A scorer takes any of ``inputs``, ``outputs``, ``expectations`` and ``trace``
(by parameter name) and returns a value — ``True``/``False``, a number, a
string — or a :class:`Score` with a rationale, or a ``{"value", "rationale"}``
dict. Returning ``None`` skips the row (missing value, no error). An exception
becomes the row's ``<scorer>/error``; it never stops the evaluation.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

ARGUMENTS = ("inputs", "outputs", "expectations", "trace")
SOURCES = ("CODE", "LLM_JUDGE", "HUMAN")
PASS_WORDS = frozenset({"yes", "pass", "passed", "true", "correct", "safe", "relevant", "grounded"})
FAIL_WORDS = frozenset({"no", "fail", "failed", "false", "incorrect", "unsafe", "irrelevant", "ungrounded"})


def verdict(value: Any, threshold: float | None = None, lower_is_better: bool = False) -> bool | None:
    """Pass, fail or neither (None) for a scorer's value: the one rule, applied when an assessment is
    stored (``assessments.passed``) and read from there by every view.

    Booleans pass by themselves; numbers against ``threshold`` (``>=``, or ``<=`` with
    ``lower_is_better``; no threshold, no verdict); the words in ``PASS_WORDS``/``FAIL_WORDS``.

    >>> verdict(0.7, threshold=0.5), verdict("Yes"), verdict(3)
    (True, True, None)
    """
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        if threshold is None or (isinstance(value, float) and math.isnan(value)):
            return None
        return value <= threshold if lower_is_better else value >= threshold
    if isinstance(value, str):
        word = value.strip().lower()
        return True if word in PASS_WORDS else False if word in FAIL_WORDS else None
    return None


@dataclass
class Score:
    """What a scorer says about one row: a value, why, or why there is no value.

    >>> Score(True, rationale="mentions Paris")
    Score(value=True, rationale='mentions Paris', error=None)
    """

    value: Any = None
    rationale: str | None = None
    error: str | None = None


class Scorer:
    """Base class: subclasses set ``name`` and implement ``score(**arguments)`` (or ``ascore``).

    ``threshold`` makes numeric values pass or fail (``value >= threshold``, or
    ``<=`` with ``lower_is_better``); booleans and yes/no words pass by themselves.
    """

    name: str = "scorer"
    source: str = "CODE"
    #: the arguments score() takes, out of ARGUMENTS
    needs: frozenset[str] = frozenset(ARGUMENTS)
    threshold: float | None = None
    lower_is_better: bool = False
    #: cheap and pure: run on the scheduler's thread instead of a worker
    inline: bool = False
    #: score() is a coroutine function
    is_async: bool = False
    #: model URI (judges), stored with the run
    model_uri: str | None = None

    def score(self, **arguments: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement score(...).")

    def passes(self, value: Any) -> bool | None:
        """Whether ``value`` counts as a pass (None: no pass/fail notion for it); see :func:`verdict`."""
        return verdict(value, self.threshold, self.lower_is_better)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "source": self.source, "model": self.model_uri, "threshold": self.threshold,
                "lower_is_better": self.lower_is_better}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


def parameters_filled(fn: Callable[..., Any], allowed: tuple[str, ...], what: str, example: str) -> frozenset[str]:
    """Which of ``allowed`` argument names ``fn`` takes (all of them with ``**kwargs``); a parameter
    without a default that evaluate() cannot fill is a ``TypeError`` naming ``what`` and an ``example``."""
    try:
        params: Mapping[str, inspect.Parameter] = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        params = {}
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return frozenset(allowed)
    unknown = [n for n, p in params.items() if n not in allowed and p.default is p.empty]
    if unknown:
        raise TypeError(f"{what} has parameters {unknown} that evaluate() cannot fill: it takes any of "
                        f"{', '.join(allowed)} by name (e.g. {example}).")
    return frozenset(n for n in params if n in allowed)


class FunctionScorer(Scorer):
    """A Python function as a scorer (made by ``@scorer``)."""

    def __init__(self, fn: Callable[..., Any], name: str | None = None, threshold: float | None = None,
                 lower_is_better: bool = False) -> None:
        self.fn = fn
        self.name = name or getattr(fn, "__name__", None) or type(fn).__name__
        self.threshold, self.lower_is_better = threshold, lower_is_better
        self.is_async = inspect.iscoroutinefunction(fn)
        self.needs = parameters_filled(fn, ARGUMENTS, f"Scorer {self.name!r}",
                                       f"def {self.name}(outputs, expectations): ...")
        self.__doc__ = getattr(fn, "__doc__", None)

    def score(self, **arguments: Any) -> Any:
        return self.fn(**{k: v for k, v in arguments.items() if k in self.needs})

    def __call__(self, **arguments: Any) -> Any:
        """Call the function directly, e.g. to test it: ``my_scorer(outputs="x")``."""
        return self.fn(**arguments)


def scorer(fn: Callable[..., Any] | None = None, *, name: str | None = None, threshold: float | None = None,
           lower_is_better: bool = False) -> Any:
    """Turn a function of ``inputs``/``outputs``/``expectations``/``trace`` into a scorer.

    >>> import llmops_nb
    >>> @llmops_nb.scorer
    ... def short(outputs):
    ...     return len(str(outputs)) < 200
    >>> short.name
    'short'
    """
    if fn is not None:
        if not callable(fn):
            raise TypeError(f"@scorer decorates a function, got {type(fn).__name__}.")
        return FunctionScorer(fn, name, threshold, lower_is_better)
    return lambda f: FunctionScorer(f, name, threshold, lower_is_better)


def to_score(result: Any, scorer_name: str) -> Score:
    """Normalize what a scorer returned."""
    if isinstance(result, Score):
        return result
    if result is None or isinstance(result, (bool, int, float, str)):
        return Score(result)
    if isinstance(result, dict) and "value" in result:
        extra = set(result) - {"value", "rationale", "error"}
        if not extra:
            return Score(result.get("value"), result.get("rationale"), result.get("error"))
    if hasattr(result, "item") and callable(result.item):  # numpy scalars
        try:
            return Score(result.item())
        except (TypeError, ValueError):
            pass
    return Score(None, error=f"scorer {scorer_name!r} returned {type(result).__name__} {str(result)[:200]!r}; "
                             "return a bool, a number, a string, a Score or {'value': ..., 'rationale': ...}.")


def check_scorers(scorers: Any) -> list[Scorer]:
    """Validate the ``scorers`` argument of evaluate(): Scorer objects with distinct names."""
    if scorers is None:
        return []
    if isinstance(scorers, Scorer) or (callable(scorers) and not isinstance(scorers, (list, tuple))):
        scorers = [scorers]
    checked: list[Scorer] = []
    for item in scorers:
        if isinstance(item, Scorer):
            checked.append(item)
        elif callable(item):
            checked.append(FunctionScorer(item))
        else:
            raise TypeError(f"{item!r} is not a scorer: pass objects from llmops_nb.scorers, functions decorated "
                            "with @llmops_nb.scorer, or judges from llmops_nb.make_judge().")
    names = [s.name for s in checked]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"Two scorers are named {duplicates[0]!r}: their columns would collide. Give one another "
                         f"name, e.g. scorers.contains('Paris', name='mentions_paris').")
    for name in names:
        if "/" in name:
            raise ValueError(f"Scorer name {name!r} contains '/', which separates a scorer from its column "
                             "(<scorer>/value); rename it.")
    return checked
