"""A view's request params bound to a handler's keyword-only signature, checked against its annotations.

A handler says what it takes in its signature, once::

    def page(*, filters: dict[str, Any] | None = None, offset: int = 0,
             as_of: Annotated[str | None, "the as_of string a previous page returned"] = None) -> dict: ...

and :func:`bind` turns it into the ``params -> data`` function the RPC server calls. Before the
handler runs, the params are checked: an unknown name, a missing required one, or a value of the
wrong JSON type (a bool where an integer belongs, a string for an object) raises ``ValueError``
naming the parameter, what it must be and what came, so the view's promise settles with a clear
message. ``Annotated[T, "description"]`` replaces the generic description ("an integer") with the
handler's own words. Checks of meaning (a range, a known column) stay in the handler.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable, Sequence
from typing import Any

from .._errors import did_you_mean

Bound = Callable[[dict[str, Any]], Any]

_PLAIN = {bool: "true or false", int: "an integer", float: "a number", str: "text", dict: "an object",
          list: "a list", type(None): "null"}


def check_range(value: Any, label: str, low: int, high: int | None = None) -> int:
    """``value`` if it is an integer from ``low`` to ``high``; else a ``ValueError`` that names the bounds."""
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ValueError(f"{label} must be an integer {bound}; got {value!r}.")
    return value


def check_filter_keys(filters: Any, known: Sequence[str]) -> dict[str, Any]:
    """``filters`` (None: none) as a dict of known keys; else a ``ValueError`` with the likely spelling."""
    if filters is None:
        return {}
    if not isinstance(filters, dict):
        raise ValueError(f"filters must be an object of {', '.join(known)}; got {type(filters).__name__}.")
    unknown = [str(key) for key in filters if key not in known]
    if unknown:
        hint = did_you_mean(unknown[0], known) or " Check the spelling."
        raise ValueError(f"unknown filter {unknown[0]!r}.{hint} "
                         f"Filters: {', '.join(known)}.")
    return filters


def bind(method: str, fn: Callable[..., Any]) -> Bound:
    """``fn(*, ...)`` as a function of one params dict, with the params checked first."""
    signature = inspect.signature(fn)
    for parameter in signature.parameters.values():
        if parameter.kind is not inspect.Parameter.KEYWORD_ONLY:
            raise TypeError(f"Handler of {method!r} ({getattr(fn, '__qualname__', fn)!r}) takes {parameter.name!r} "
                            "by position: request handlers take keyword-only parameters, def handler(*, ...).")
    hints = typing.get_type_hints(fn, include_extras=True)
    specs = {name: _Spec(name, hints.get(name, Any), p.default is inspect.Parameter.empty)
             for name, p in signature.parameters.items()}
    takes = ", ".join(specs) or "nothing"

    def bound(params: dict[str, Any]) -> Any:
        unknown = sorted(set(params) - set(specs))
        if unknown:
            hint = did_you_mean(unknown[0], specs)
            raise ValueError(f"unknown {method} parameter(s) {', '.join(map(repr, unknown))}.{hint} "
                             f"{method} takes {takes}.")
        for spec in specs.values():
            if spec.name in params:
                spec.check(params[spec.name])
            elif spec.required:
                raise ValueError(f"{method} needs {spec.name} ({spec.describe()}).")
        return fn(**params)

    bound.__name__ = getattr(fn, "__name__", method)
    return bound


class _Spec:
    """One parameter: its name, its annotation, whether it must be given."""

    def __init__(self, name: str, annotation: Any, required: bool) -> None:
        self.name, self.annotation, self.required = name, annotation, required

    def check(self, value: Any) -> None:
        if not _accepts(self.annotation, value):
            raise ValueError(f"{self.name} must be {self.describe()}; got {_brief(value)}.")

    def describe(self) -> str:
        return _describe(self.annotation)


def _accepts(annotation: Any, value: Any) -> bool:
    if annotation is Any:
        return True
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return _accepts(args[0], value)
    if origin in (typing.Union, types.UnionType):
        return any(_accepts(a, value) for a in args)
    if origin is typing.Literal:
        return any(value == a and type(value) is type(a) for a in args)
    if annotation is None or annotation is type(None):
        return value is None
    kind = origin or annotation
    if kind is bool:
        return isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is str:
        return isinstance(value, str)
    if kind is dict:
        return isinstance(value, dict)
    if kind is list:
        return isinstance(value, list) and (not args or all(_accepts(args[0], v) for v in value))
    return True  # an annotation JSON cannot express: the handler checks


def _describe(annotation: Any) -> str:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return str(args[1])
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in args)
    if origin is typing.Literal:
        return "one of " + ", ".join(map(repr, args))
    if origin is list and args:
        return f"a list ({_describe(args[0])} each)"
    if annotation is None:
        return "null"
    return _PLAIN.get(origin or annotation, "a value")


def _brief(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:79] + "…"
