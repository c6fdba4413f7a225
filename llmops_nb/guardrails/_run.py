"""Running validators over one value: one GUARDRAIL span each, actions applied, a :class:`Verdict` out.

Validators run in order, each on the value as the ones before it left it (a redacting
validator's masks are what the next one reads). The first that blocks ends the pass. A
validator that raises could not check: with ``on_error="allow"`` the value goes on and the span
records the exception; with ``on_error="block"`` the error counts as a failed check, so
``action="block"`` and ``"redact"`` (nothing to redact) block, and ``"warn"`` warns.

When the pass raises (the decorator), :class:`GuardrailError` is raised inside the validator's
span: the span and the guarded call's span both record that one exception, and the trace counts
it once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator, Sequence
from typing import Any

from ..tracing import Span, SpanKind, get_current_span, span
from ._validator import Subject, Validator
from ._verdict import ACTIONS, SIDES, Finding, GuardrailError, Verdict, check_choice, stronger

__all__ = ["arun_checks", "check", "check_validators", "run_checks"]

logger = logging.getLogger("llmops_nb.guardrails")
_PREFIX = "llmops_nb.guardrail."


def check_validators(validators: Any, where: str) -> tuple[Validator, ...]:
    """``validators`` as a tuple of validators (one alone, a list, or None for none)."""
    if validators is None:
        return ()
    items = [validators] if isinstance(validators, Validator) else list(validators)
    for item in items:
        if not isinstance(item, Validator):
            raise TypeError(f"{where} takes validators from llmops_nb.guardrails — pii(), banned([...]), "
                            f"json_schema(schema), max_length(...), judge(...) — got {item!r}.")
    return tuple(items)


class _Pass:
    """The state of one pass: the subject as redacted so far, findings, errors, the strongest action."""

    def __init__(self, value: Any, side: str, action: str, *, raising: bool, traced: bool, inputs: Any) -> None:
        self.subject = Subject(value, side, inputs)
        self.action, self.raising, self.traced = action, raising, traced
        self.findings: list[Finding] = []
        self.errors: list[str] = []
        self.taken = "none"
        self.blocked_by: str | None = None
        self.error: GuardrailError | None = None

    @contextlib.contextmanager
    def span_for(self, validator: Validator) -> Iterator[Span | None]:
        if not self.traced:
            yield None
            return
        attributes = {_PREFIX + "name": validator.name, _PREFIX + "side": self.subject.side}
        with span(validator.name, kind=SpanKind.GUARDRAIL, attributes=attributes) as opened:
            yield opened

    def settle(self, validator: Validator, result: list[Finding] | Exception, opened: Span | None) -> None:
        """Apply what ``validator`` found; raises GuardrailError (in its span) when blocking and raising."""
        action = validator.action or self.action
        cause: Exception | None = None
        failure: str | None = None  # why the check or its redaction could not run
        if isinstance(result, Exception):
            cause = result
            failure = message = f"{type(cause).__name__}: {cause}"
            self.errors.append(f"{validator.name}: {message}")
            if opened is not None:
                opened.set_attributes({_PREFIX + "error": message, _PREFIX + "on_error": validator.on_error})
            if validator.on_error == "allow":
                if opened is not None:
                    opened.set_attributes({_PREFIX + "passed": False, _PREFIX + "action": "none"})
                    opened.record_exception(cause)
                return
            findings = [Finding(validator.name, "error", f"check failed: {message}")]
        else:
            findings = list(result)
        if not findings:
            if opened is not None:
                opened.set_attributes({_PREFIX + "passed": True, _PREFIX + "action": "none"})
            return
        taken = action
        if action == "redact" and cause is None:
            redacted, failure = self._redact(validator, findings, opened)
            if not redacted:
                taken = "block"  # redaction was asked for and is not possible: letting the value through is not it
        elif action == "redact":
            taken = "block"
        self.findings += findings
        self.taken = stronger(self.taken, taken)
        if opened is not None:
            opened.set_attributes({_PREFIX + "passed": False, _PREFIX + "action": taken,
                                   _PREFIX + "findings": len(findings),
                                   _PREFIX + "kinds": sorted({f.kind for f in findings})})
            opened.set_outputs([f.to_dict() for f in findings])
        if taken == "warn" and self.traced:
            logger.warning("guardrail %r on the %s: %s", validator.name, self.subject.side,
                           "; ".join(f.message for f in findings[:5]))
        if taken == "block":
            self.blocked_by = validator.name
            self.error = GuardrailError(validator.name, self.subject.side, findings,
                                        (failure,) if failure is not None else ())
            self.error.__cause__ = cause
            if self.raising:
                raise self.error
            if opened is not None:
                opened.set_status("ERROR", str(self.error))

    def _redact(self, validator: Validator, findings: list[Finding], opened: Span | None) -> tuple[bool, str | None]:
        """(whether the subject was redacted, why redaction failed if it raised)."""
        try:
            texts = validator.redact(self.subject, findings)
            if texts is not None:
                self.subject.update(texts)
        except Exception as exc:  # noqa: BLE001 - could not redact: the value is blocked, not let through
            message = f"redaction failed: {type(exc).__name__}: {exc}"
            self.errors.append(f"{validator.name}: {message}")
            if opened is not None:
                opened.set_attribute(_PREFIX + "error", message)
            return False, message
        return texts is not None, None

    def verdict(self) -> Verdict:
        return Verdict(self.subject.side, not self.findings and not self.errors, self.taken, tuple(self.findings),
                       self.subject.value, self.blocked_by, tuple(self.errors), self.error)


def run_checks(validators: Sequence[Validator], value: Any, side: str, action: str, *, raising: bool,
               traced: bool = True, inputs: Any = None) -> Verdict:
    """One pass of ``validators`` over ``value`` (see the module docstring)."""
    state = _Pass(value, side, action, raising=raising, traced=traced, inputs=inputs)
    for validator in validators:
        with state.span_for(validator) as opened:
            try:
                result: list[Finding] | Exception = validator.inspect(state.subject)
            except Exception as exc:  # noqa: BLE001 - a check that cannot run: its on_error decides
                result = exc
            state.settle(validator, result, opened)
        if state.blocked_by is not None:
            break
    return state.verdict()


async def arun_checks(validators: Sequence[Validator], value: Any, side: str, action: str, *, raising: bool,
                      inputs: Any = None) -> Verdict:
    """:func:`run_checks` for async callers: validators that call a model run in a worker thread."""
    state = _Pass(value, side, action, raising=raising, traced=True, inputs=inputs)
    for validator in validators:
        with state.span_for(validator) as opened:
            try:
                if validator.blocking:
                    result: list[Finding] | Exception = await asyncio.to_thread(validator.inspect, state.subject)
                else:
                    result = validator.inspect(state.subject)
            except Exception as exc:  # noqa: BLE001 - as in run_checks
                result = exc
            state.settle(validator, result, opened)
        if state.blocked_by is not None:
            break
    return state.verdict()


def check(value: Any, validators: Any, *, action: str = "block", side: str = "input", inputs: Any = None) -> Verdict:
    """Check a text, chat messages or any value now; never raises for what it finds.

    ``action``: what a failing validator does, unless it has its own — ``"block"`` (the verdict
    blocks: ``verdict.raise_for_block()`` raises :class:`GuardrailError`), ``"redact"``
    (``verdict.value`` is the masked value) or ``"warn"`` (recorded only). ``side``: ``"input"``
    or ``"output"``, as recorded on the spans; ``inputs``: on the output side, the request the
    value answers (a judge's ``{{ inputs }}``). Each validator runs as a GUARDRAIL span under the
    current span, or under one ``guardrails`` span when none is current.

    >>> from llmops_nb.guardrails import banned, check, pii
    >>> verdict = check([{"role": "user", "content": "I am ann@example.com"}], [pii(), banned(["password"])])
    >>> verdict.blocked, [f.message for f in verdict.findings]
    (True, ['EMAIL at 5..20'])
    """
    checked = check_validators(validators, "check(value, validators)")
    action = check_choice(action, ACTIONS, "check(action)")
    side = check_choice(side, SIDES, "check(side)")
    if get_current_span() is not None:
        return run_checks(checked, value, side, action, raising=False, inputs=inputs)
    with span("guardrails", kind=SpanKind.GUARDRAIL, attributes={_PREFIX + "side": side}) as parent:
        verdict = run_checks(checked, value, side, action, raising=False, inputs=inputs)
        # the blocking validator's span is the one marked ERROR: the trace counts the block once
        parent.set_attributes({_PREFIX + "passed": verdict.passed, _PREFIX + "action": verdict.action})
    return verdict
