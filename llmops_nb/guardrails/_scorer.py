"""``as_scorer()``: a guardrail validator as an evaluation scorer — pass when it finds nothing.

The same check that guards calls then measures a dataset: ``evaluate(data, scorers=[as_scorer(pii())])``
gives ``pii/value`` True or False per row, the findings as ``pii/rationale``, and a check that
could not run (a judge's server down) as ``pii/error``, never as a pass or a fail.
"""

from __future__ import annotations

from typing import Any

from ..evals import Score, Scorer
from ._run import run_checks
from ._validator import Validator
from ._verdict import SIDES, check_choice

__all__ = ["GuardrailScorer", "as_scorer"]


class GuardrailScorer(Scorer):
    """A validator scoring a row's ``outputs`` (or ``inputs``); made by :func:`as_scorer`."""

    def __init__(self, validator: Validator, *, side: str = "output", name: str | None = None) -> None:
        if not isinstance(validator, Validator):
            raise TypeError(f"as_scorer() takes one validator from llmops_nb.guardrails, got {validator!r}.")
        self.validator, self.side = validator, check_choice(side, SIDES, "as_scorer(side)")
        self.name = name or validator.name
        self.source, self.model_uri = validator.source, validator.model_uri
        self.inline = not validator.blocking  # the cheap local checks run on the scheduler's thread
        self.needs = frozenset({"inputs"}) if side == "input" else frozenset({"inputs", "outputs"})

    def score(self, **arguments: Any) -> Score:
        value = arguments.get("inputs" if self.side == "input" else "outputs")
        # No GUARDRAIL span here: the row's EVALUATOR span records the score; nothing is blocked or logged.
        verdict = run_checks([self.validator], value, self.side, "warn", raising=False, traced=False,
                             inputs=arguments.get("inputs"))
        if verdict.errors:
            return Score(None, error=verdict.errors[0])
        if verdict.passed:
            return Score(True)
        return Score(False, "; ".join(f.message for f in verdict.findings))


def as_scorer(validator: Validator, *, side: str = "output", name: str | None = None) -> GuardrailScorer:
    """A scorer passing the rows where ``validator`` finds nothing in the ``outputs`` (``side="input"``: ``inputs``).

    >>> from llmops_nb.guardrails import as_scorer, json_schema
    >>> valid = as_scorer(json_schema({"type": "object", "required": ["city"]}))
    >>> valid.score(outputs='{"city": "Paris"}'), valid.score(outputs='{}').value
    (Score(value=True, rationale=None, error=None), False)
    """
    return GuardrailScorer(validator, side=side, name=name)
