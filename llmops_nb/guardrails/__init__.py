"""Guardrails: validators on a call's inputs and outputs that block, redact or warn, each traced as a GUARDRAIL span.

>>> from llmops_nb.guardrails import banned, guardrail, json_schema, pii
>>> @guardrail(input=[pii(), banned(["secret project"])], output=[json_schema({"type": "object"})])
... def extract(text):
...     return {"summary": text[:20]}
>>> extract("Plans for the Secret Project")  # doctest: +ELLIPSIS
Traceback (most recent call last):
llmops_nb.guardrails.GuardrailError: input blocked by guardrail 'banned': terms[0] at 14..28. Remove it from ...

Three ways to use the same validators:

- ``@guardrail(input=[...], output=[...], action=...)`` on a function (sync, async, generator);
- ``check(value, [...])`` returning a :class:`Verdict` (for a gateway: ``verdict.raise_for_block()``);
- ``as_scorer(validator)`` in ``llmops_nb.evaluate(..., scorers=[...])``.

Validators: :func:`pii`, :func:`banned`, :func:`json_schema`, :func:`max_length`, :func:`judge`;
subclass :class:`Validator` for your own. Each takes ``action=`` (overriding the guardrail's) and
``on_error=`` (``"block"``: a check that cannot run stops the call; ``"allow"``: it lets it
through, the error recorded on the span) — ``"block"`` by default, ``"allow"`` for ``judge``.
Findings, spans, logs and errors name what was found and where (``EMAIL at 10..26``), never
the text itself.
"""

from ._banned import banned
from ._decorator import guardrail
from ._judge import judge
from ._length import approx_tokens, max_length
from ._pii import pii
from ._run import check
from ._schema import json_schema
from ._scorer import as_scorer
from ._validator import Subject, Validator
from ._verdict import Finding, GuardrailError, Verdict

__all__ = [
    "Finding",
    "GuardrailError",
    "Subject",
    "Validator",
    "Verdict",
    "approx_tokens",
    "as_scorer",
    "banned",
    "check",
    "guardrail",
    "json_schema",
    "judge",
    "max_length",
    "pii",
]
