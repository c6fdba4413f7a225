"""What a guardrail found and decided: :class:`Finding`, :class:`Verdict` and :class:`GuardrailError`.

A finding names where and what (``EMAIL at 10..26``, ``terms[0] at 4..18``), never the text it
found: findings go into span attributes, exception messages and logs, where the raw value must
not. ``Verdict`` is what :func:`~llmops_nb.guardrails.check` returns (a gateway turns a blocked
one into an HTTP error with :meth:`Verdict.raise_for_block`); the decorator raises
:class:`GuardrailError` itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .._errors import LlmopsError, did_you_mean

__all__ = ["ACTIONS", "ON_ERROR", "SIDES", "Finding", "GuardrailError", "Verdict", "check_choice"]

ACTIONS = ("block", "redact", "warn")
ON_ERROR = ("block", "allow")
SIDES = ("input", "output")
#: strength of what was done, to report the strongest one of a pass
_RANK = {"none": 0, "warn": 1, "redact": 2, "block": 3}


def check_choice(value: Any, choices: tuple[str, ...], what: str) -> str:
    """``value`` when it is one of ``choices``; a ValueError naming them otherwise."""
    if value not in choices:
        raise ValueError(f"{what}={value!r} is not one of {', '.join(map(repr, choices))}."
                         f"{did_you_mean(value, choices)}")
    return str(value)


@dataclass(frozen=True)
class Finding:
    """One problem a validator found: ``kind`` (``EMAIL``, ``term``, ``schema`` …) and a message without raw text.

    ``index`` is the position of the string it was found in among the checked value's strings
    (see :mod:`._texts`), ``start``/``end`` its offsets there; all three are None for a finding
    about the whole value (a schema violation, a judge's verdict), which cannot be redacted.
    """

    guardrail: str
    kind: str
    message: str
    index: int | None = None
    start: int | None = None
    end: int | None = None
    #: what redaction writes over ``start:end`` (None: nothing to write in place)
    replacement: str | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The finding as stored on its span (no replacement text, no raw text)."""
        return {"guardrail": self.guardrail, "kind": self.kind, "message": self.message, "index": self.index,
                "start": self.start, "end": self.end}


class GuardrailError(LlmopsError):
    """A guardrail blocked a call's input or output; ``findings`` say why, without the offending text.

    >>> from llmops_nb.guardrails import GuardrailError, Finding
    >>> error = GuardrailError("pii", "input", [Finding("pii", "EMAIL", "EMAIL at 6..22", 0, 6, 22)])
    >>> error.guardrail, error.side, [f.kind for f in error.findings]
    ('pii', 'input', ['EMAIL'])
    """

    __module__ = "llmops_nb.guardrails"  # where users import it from, as tracebacks name it

    def __init__(self, guardrail: str, side: str, findings: list[Finding] | tuple[Finding, ...],
                 errors: tuple[str, ...] = ()) -> None:
        self.guardrail, self.side, self.findings, self.errors = guardrail, side, tuple(findings), tuple(errors)
        super().__init__(self._message())

    def _message(self) -> str:
        if self.errors:
            return (f"{self.side} blocked: guardrail {self.guardrail!r} could not run ({self.errors[0]}). Fix the "
                    "cause, or give the validator on_error='allow' to let values through when it cannot run.")
        shown = "; ".join(f.message for f in self.findings[:5])
        more = f" (+{len(self.findings) - 5} more)" if len(self.findings) > 5 else ""
        fix = "Remove it from the input" if self.side == "input" else "The value was withheld: change what produces it"
        maskable = all(f.start is not None for f in self.findings)
        alternatives = "action='redact' to mask it, or action='warn'" if maskable else "action='warn'"
        return (f"{self.side} blocked by guardrail {self.guardrail!r}: {shown}{more}. {fix}, or guard with "
                f"{alternatives} to only record it.")

    def __reduce__(self) -> Any:  # picklable across processes despite the custom __init__
        return (type(self), (self.guardrail, self.side, self.findings, self.errors))


@dataclass(frozen=True)
class Verdict:
    """The result of checking one value: what was found and done, and the value to use from here on.

    ``passed``: every check ran and found nothing. ``action``: the strongest action taken —
    ``"none"``, ``"warn"`` (recorded, value unchanged), ``"redact"`` (``value`` is the redacted
    value) or ``"block"`` (``value`` must not be used). ``errors``: checks that could not run
    (their ``on_error`` decided whether that blocks).
    """

    side: str
    passed: bool
    action: str
    findings: tuple[Finding, ...]
    value: Any = field(repr=False)
    blocked_by: str | None = None
    errors: tuple[str, ...] = ()
    #: what :meth:`raise_for_block` raises (the decorator raises the same)
    block_error: GuardrailError | None = field(default=None, repr=False, compare=False)

    @property
    def blocked(self) -> bool:
        return self.action == "block"

    def raise_for_block(self) -> Verdict:
        """Raise :class:`GuardrailError` when the verdict blocks; return the verdict otherwise.

        >>> from llmops_nb.guardrails import Verdict
        >>> Verdict("input", True, "none", (), "hello").raise_for_block().value
        'hello'
        """
        if self.block_error is not None:
            raise self.block_error
        return self


def stronger(a: str, b: str) -> str:
    """The stronger of two actions taken (``none`` < ``warn`` < ``redact`` < ``block``)."""
    return a if _RANK[a] >= _RANK[b] else b
