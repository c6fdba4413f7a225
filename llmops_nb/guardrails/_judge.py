"""``judge()``: a model decides whether the text may pass — an LLM judge (``make_judge``) as a check.

The instructions use ``{{ text }}`` (the checked value: a string as it is, anything else as
JSON), and may use ``{{ inputs }}`` and ``{{ outputs }}``: on a guarded function's output,
its arguments and its return value, so a judge can weigh an answer against its question. The
judge answers yes (pass) or no (fail), or a number on a scale passing at its threshold, as
``make_judge`` judges do. Phrase the question so that "yes" means the text may pass.

A judge depends on a model server, so by default it fails *open* (``on_error="allow"``): if
the model is unreachable or its reply unreadable, the call goes on and the guardrail's span
records the error. Pass ``on_error="block"`` where an unchecked text must not get through.
The judge's rationale is the model's own words and is kept on the finding; a model may quote
the text it judged there.
"""

from __future__ import annotations

from typing import Any

from .._errors import LlmopsError
from ._validator import Subject, Validator
from ._verdict import Finding

__all__ = ["JudgeFailedError", "JudgeValidator", "judge"]


class JudgeFailedError(LlmopsError, RuntimeError):
    """The judge gave no verdict (its reply unreadable, or a row lacked what its prompt needs)."""


class JudgeValidator(Validator):
    """Asks a model whether the text passes (see :func:`judge`)."""

    blocking = True
    source = "LLM_JUDGE"

    def __init__(self, instructions: Any, model: Any = None, *, name: str | None = None, action: str | None = None,
                 on_error: str = "allow", **options: Any) -> None:
        from ..evals import Judge
        from ..evals._judge import Extra
        from ..evals._text import render_value

        if isinstance(instructions, Judge):  # a judge made already (make_judge, scorers.safety() …)
            if model is not None or options:
                raise TypeError("judge(<a Judge>) takes the judge as it is: give model and options to the judge's "
                                "own factory instead.")
            self.judge = instructions
        else:
            extras: dict[str, Extra] = {"text": (frozenset(), lambda arguments: render_value(arguments.get("text")))}
            self.judge = Judge(name or "judge", instructions, model, extras=extras, **options)
        super().__init__(name=name or self.judge.name, action=action, on_error=on_error)
        self.model_uri = self.judge.model_uri

    def inspect(self, subject: Subject) -> list[Finding]:
        if subject.side == "input":
            arguments = {"text": subject.value, "inputs": subject.value, "outputs": None}
        else:
            arguments = {"text": subject.value, "inputs": subject.inputs, "outputs": subject.value}
        score = self.judge.score(**arguments)
        if score.error is not None:
            raise JudgeFailedError(score.error)
        passed = self.judge.passes(score.value)
        if passed is None:
            raise JudgeFailedError(f"judge {self.name!r} answered {score.value!r}, which is neither a pass nor a "
                                   "fail: give it a threshold, or ask a yes/no question.")
        if passed:
            return []
        because = f": {score.rationale[:500]}" if score.rationale else ""
        return [Finding(self.name, "judge", f"judge {self.name!r} said {score.value!r}{because}")]


def judge(instructions: Any, model: Any = None, *, name: str | None = None, action: str | None = None,
          on_error: str = "allow", **options: Any) -> JudgeValidator:
    """Fails when a model judges the text not fit to pass: ``instructions`` use ``{{ text }}``.

    ``model``: a model URI as for ``get_model`` — ``local:/smollm2`` (offline),
    ``openai:/gpt-4.1-mini``, any OpenAI-compatible server as
    ``openai:/NAME?base_url=http://HOST:PORT/v1`` (default ``$LLMOPS_NB_JUDGE_MODEL``).
    ``options`` as for ``make_judge`` (``value_type``, ``scale``, ``threshold``, ``temperature`` …).
    ``instructions`` may also be a judge made already, e.g. ``scorers.safety(model=...)``.
    A verdict cannot be redacted: under ``action="redact"`` a failing judge blocks.
    ``on_error="allow"`` (default): an unreachable model lets the call through; see the module docs.

    >>> from llmops_nb.guardrails import judge
    >>> on_topic = judge("Is this message about cooking? {{ text }}", model="local:/smollm2", name="on_topic")
    >>> on_topic.name, on_topic.on_error
    ('on_topic', 'allow')
    """
    return JudgeValidator(instructions, model, name=name, action=action, on_error=on_error, **options)
