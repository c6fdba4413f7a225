"""``@guardrail``: validators on a function's arguments and return value, around a traced call.

The decorated function is traced as by ``@trace`` (``name``/``kind`` as there; do not stack
``@trace`` on it too): its span is the parent of one GUARDRAIL span per input check, of the
function's own spans, then of one per output check. The call span records the arguments *after*
input checks (the redacted ones under ``redact``; none when the input was blocked) and the value
returned (redacted under ``redact``; none when blocked).

What is checked: on the input side, the arguments by parameter name (``self``/``cls`` left out) —
every string in them for text validators, the ``{name: value}`` object for ``json_schema``; on the
output side, the return value. A passing call returns exactly what the function returned, and an
exception of the function's own propagates with its own traceback.

Generators (sync and async): inputs are checked before the first item; the output checks run on
the stream once it ends — the items joined when they are strings, else their list — and a block
raises :class:`GuardrailError` after the last item. Items already yielded cannot be taken back, so
``redact`` on a generator's output is refused when the function is decorated; a stream the consumer
closes early is not checked.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from ..tracing import get_current_span, trace
from ._run import arun_checks, check_validators, run_checks
from ._validator import Validator
from ._verdict import ACTIONS, GuardrailError, check_choice

__all__ = ["guardrail"]

_THIS_FILE = __file__


def _from_the_call(exc: GuardrailError) -> None:
    """Clear a block's traceback before the bare ``raise`` that re-raises it: it then reads as raised by
    the guarded call itself, at the user's line, not from inside the checks (its span has the full one)."""
    exc.__traceback__ = None


def _drop_own_frame(exc: BaseException) -> None:
    """Unlink this module's frame heading ``exc``'s traceback, so the user's error reads as untraced
    (tracing drops its own wrapper frames the same way; Python 3.10 keeps this one, see tracing/_tracebacks.py)."""
    tb = exc.__traceback__
    if tb is not None and tb.tb_frame.f_code.co_filename == _THIS_FILE:
        exc.__traceback__ = tb.tb_next


class _Guard:
    """The checks of one decorated function, and how its arguments are read and written back."""

    def __init__(self, fn: Callable[..., Any], inputs: tuple[Validator, ...], outputs: tuple[Validator, ...],
                 action: str) -> None:
        self.inputs, self.outputs, self.action = inputs, outputs, action
        try:
            self.signature: inspect.Signature | None = inspect.signature(fn)
        except (TypeError, ValueError):
            self.signature = None
        names = list(self.signature.parameters) if self.signature is not None else []
        self.skip = names[0] if names and names[0] in ("self", "cls") else None

    def _read(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, Any]:
        """(bound arguments or None, the value checked: arguments by name)."""
        if self.signature is None:
            return None, {"args": list(args), "kwargs": dict(kwargs)}
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError:
            return None, None  # the call raises its own TypeError below, unchecked
        return bound, {k: v for k, v in bound.arguments.items() if k != self.skip}

    def _write(self, bound: Any, args: tuple[Any, ...], kwargs: dict[str, Any], before: Any,
               after: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
        if after is before:  # not redacted: the very objects the caller passed
            return args, kwargs
        if bound is None:
            return tuple(after["args"]), dict(after["kwargs"])
        for key, value in after.items():
            bound.arguments[key] = value
        return bound.args, bound.kwargs

    @staticmethod
    def _record(value: Any) -> None:
        current = get_current_span()
        if current is not None and value:
            current.set_inputs(value)

    def before(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any], Any]:
        bound, value = self._read(args, kwargs)
        if value is not None and self.inputs:
            checked = run_checks(self.inputs, value, "input", self.action, raising=True).value
            args, kwargs = self._write(bound, args, kwargs, value, checked)
            value = checked
        self._record(value)
        return args, kwargs, value

    async def abefore(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any],
                                                                                    Any]:
        bound, value = self._read(args, kwargs)
        if value is not None and self.inputs:
            checked = (await arun_checks(self.inputs, value, "input", self.action, raising=True)).value
            args, kwargs = self._write(bound, args, kwargs, value, checked)
            value = checked
        self._record(value)
        return args, kwargs, value

    def after(self, result: Any, inputs: Any) -> Any:
        if not self.outputs:
            return result
        return run_checks(self.outputs, result, "output", self.action, raising=True, inputs=inputs).value

    async def aafter(self, result: Any, inputs: Any) -> Any:
        if not self.outputs:
            return result
        return (await arun_checks(self.outputs, result, "output", self.action, raising=True, inputs=inputs)).value


def _stream_value(items: list[Any]) -> Any:
    return "".join(items) if items and all(isinstance(item, str) for item in items) else items


def _sync(fn: Any, guard: _Guard) -> Any:
    def checked(*args: Any, **kwargs: Any) -> Any:
        try:
            args, kwargs, inputs = guard.before(args, kwargs)
        except GuardrailError as blocked:
            _from_the_call(blocked)
            raise
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            _drop_own_frame(exc)
            raise
        try:
            return guard.after(result, inputs)
        except GuardrailError as blocked:
            _from_the_call(blocked)
            raise

    return checked


def _async(fn: Any, guard: _Guard) -> Any:
    async def checked(*args: Any, **kwargs: Any) -> Any:
        try:
            args, kwargs, inputs = await guard.abefore(args, kwargs)
        except GuardrailError as blocked:
            _from_the_call(blocked)
            raise
        try:
            result = await fn(*args, **kwargs)
        except BaseException as exc:
            _drop_own_frame(exc)
            raise
        try:
            return await guard.aafter(result, inputs)
        except GuardrailError as blocked:
            _from_the_call(blocked)
            raise

    return checked


def _gen(fn: Any, guard: _Guard) -> Any:
    def checked(*args: Any, **kwargs: Any) -> Any:
        try:
            args, kwargs, inputs = guard.before(args, kwargs)
        except GuardrailError as blocked:
            _from_the_call(blocked)
            raise
        gen = fn(*args, **kwargs)
        items: list[Any] = []
        step, value = gen.send, None
        while True:
            try:
                item = step(value)
            except StopIteration as stop:
                returned = stop.value
                break
            except BaseException as exc:
                _drop_own_frame(exc)
                raise
            if guard.outputs:
                items.append(item)
            try:
                value = yield item
                step = gen.send
            except GeneratorExit:
                gen.close()
                raise
            except BaseException as exc:  # noqa: BLE001 - thrown in by the consumer: pass it on
                step, value = gen.throw, exc
        try:  # after the loop, not in its StopIteration handler: a block is not chained to StopIteration
            guard.after(_stream_value(items), inputs)
        except GuardrailError as blocked:
            _from_the_call(blocked)
            raise
        return returned

    return checked


def _async_gen(fn: Any, guard: _Guard) -> Any:
    async def checked(*args: Any, **kwargs: Any) -> Any:
        try:
            args, kwargs, inputs = await guard.abefore(args, kwargs)
        except GuardrailError as blocked:
            _from_the_call(blocked)
            raise
        agen = fn(*args, **kwargs)
        items: list[Any] = []
        step, value = agen.asend, None
        while True:
            try:
                item = await step(value)
            except StopAsyncIteration:
                break
            except BaseException as exc:
                _drop_own_frame(exc)
                raise
            if guard.outputs:
                items.append(item)
            try:
                value = yield item
                step = agen.asend
            except GeneratorExit:
                await agen.aclose()
                raise
            except BaseException as exc:  # noqa: BLE001 - thrown in by the consumer: pass it on
                step, value = agen.athrow, exc
        try:
            await guard.aafter(_stream_value(items), inputs)
        except GuardrailError as blocked:
            _from_the_call(blocked)
            raise

    return checked


def guardrail(input: Any = None, output: Any = None, *, action: str = "block", name: str | None = None,
              kind: str = "UNKNOWN") -> Callable[[Any], Any]:
    """Check a function's arguments (``input``) and return value (``output``) on every call.

    ``action`` — what a failing validator does, unless it has its own ``action=``:
    ``"block"`` raises :class:`GuardrailError` (the function does not run when its input fails;
    its return value is withheld when its output fails), ``"redact"`` masks the offending text
    and goes on with the masked value, ``"warn"`` records the finding (span and log) and goes on.
    Works on functions, methods, coroutines and generators (see the module docstring).

    >>> from llmops_nb.guardrails import banned, guardrail, pii
    >>> @guardrail(input=[pii()], output=[banned(["internal only"])], action="redact")
    ... def answer(question):
    ...     return f"You asked: {question}"
    >>> answer("mail me at ann@example.com")
    'You asked: mail me at [EMAIL_1]'
    """
    inputs = check_validators(input, "guardrail(input=...)")
    outputs = check_validators(output, "guardrail(output=...)")
    action = check_choice(action, ACTIONS, "guardrail(action)")
    if not inputs and not outputs:
        raise ValueError("guardrail() needs validators: input=[...] for the arguments and/or output=[...] for the "
                         "return value, e.g. guardrail(input=[pii()], output=[max_length(chars=2000)]).")

    def decorate(fn: Any) -> Any:
        if not callable(fn) and not isinstance(fn, (staticmethod, classmethod)):
            raise TypeError(f"@guardrail decorates functions and methods, got {type(fn).__name__}.")
        target = fn.__func__ if isinstance(fn, (staticmethod, classmethod)) else fn
        streams = inspect.isgeneratorfunction(target) or inspect.isasyncgenfunction(target)
        redacting = [v.name for v in outputs if (v.action or action) == "redact"]
        if streams and redacting:
            raise ValueError(f"@guardrail on generator {getattr(target, '__name__', target)!r}: output validators "
                             f"{redacting} would redact, but a stream's items are delivered before the checks can "
                             "read it whole. Use action='block' (raises after the last item) or 'warn' for them, "
                             "or guard a function that returns the joined text.")
        guard = _Guard(target, inputs, outputs, action)
        if inspect.isasyncgenfunction(target):
            checked = _async_gen(target, guard)
        elif inspect.isgeneratorfunction(target):
            checked = _gen(target, guard)
        elif inspect.iscoroutinefunction(target):
            checked = _async(target, guard)
        else:
            checked = _sync(target, guard)
        functools.update_wrapper(checked, target)
        traced = trace(name=name, kind=kind, capture_inputs=False)(checked)
        if isinstance(fn, staticmethod):
            return staticmethod(traced)
        if isinstance(fn, classmethod):
            return classmethod(traced)
        return traced

    return decorate
