"""LLM judges: a prompt template, a model, and a robustly parsed verdict.

The template is plain text with ``{{ inputs }}``, ``{{ outputs }}``,
``{{ expectations }}`` and ``{{ trace }}`` (built-in judges add
``{{ context }}``, ``{{ tool_calls }}``, ``{{ guidelines }}``). It is on
``judge.instructions`` to read, and every factory takes ``instructions=`` to
replace it. The model is asked for JSON, but whatever it answers goes through
:func:`~._parse.parse_reply`; an unreadable reply gives a missing value with
the raw reply in ``<judge>/error`` — never a crash, never a made-up score.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import Any

from .._errors import LlmopsError
from ._parse import JudgeParseError, ValueType, parse_reply
from ._scorer import ARGUMENTS, Score, Scorer
from ._text import render_value
from ._trace_view import render_trace

DEFAULT_MODEL_ENV = "LLMOPS_NB_JUDGE_MODEL"
_FALLBACK_MODEL = "openai:/gpt-4.1-mini"
_VARIABLE = re.compile(r"\{\{\s*(\w+)\s*\}\}")

SYSTEM_PROMPT = """You evaluate the output of an AI application, impartially and strictly by the criteria you are given.
Think about the criteria, then answer with a JSON object and nothing else:
{"rationale": "<one or two sentences explaining your verdict>", "result": {result}}
where "result" is {describe}."""


class MissingInputError(LlmopsError, ValueError):
    """The row lacks something the judge's prompt needs (expectations, retrieved context, tool calls …)."""


#: extra template variable -> (arguments it reads, function of those arguments returning prompt text)
Extra = tuple[frozenset[str], Callable[[dict[str, Any]], str]]


def default_model() -> str:
    """The judge model when none is given: ``$LLMOPS_NB_JUDGE_MODEL``, else ``openai:/gpt-4.1-mini``."""
    return os.environ.get(DEFAULT_MODEL_ENV) or _FALLBACK_MODEL


class ModelChoice:
    """The model a judge or a simulated user calls: given as a URI or a ``Model`` (None: the default,
    :func:`default_model`), resolved on first use, so that making a judge costs no client."""

    def __init__(self, model: Any) -> None:
        self._given = model
        self._model: Any = None
        self.uri: str = model if isinstance(model, str) else getattr(model, "uri", None) or default_model()

    def get(self) -> Any:
        if self._model is None:
            from ..models import get_model

            self._model = get_model(self._given if self._given is not None else str(self.uri))
        return self._model


def value_type_of(value_type: Any = bool, scale: tuple[float, float] | None = None,
                  choices: Any = None) -> ValueType:
    if isinstance(value_type, ValueType):
        return value_type
    if choices:
        return ValueType("choice", choices=tuple(str(c) for c in choices))
    kinds = {bool: "bool", int: "int", float: "float", "bool": "bool", "int": "int", "float": "float"}
    if value_type in (str, "str"):
        raise ValueError("A judge with value_type=str needs choices=[...] (the labels it may answer).")
    if value_type not in kinds:
        raise ValueError(f"value_type must be bool, int, float, or str with choices; got {value_type!r}.")
    return ValueType(kinds[value_type], tuple(scale) if scale else None)  # type: ignore[arg-type]


class Judge(Scorer):
    """A scorer that asks a model. Make one with :func:`make_judge` or a built-in (``scorers.correctness()``).

    >>> import llmops_nb
    >>> judge = llmops_nb.make_judge("polite", "Is this reply polite? {{ outputs }}", model="local:/smollm2")
    >>> sorted(judge.needs)
    ['outputs']
    """

    source = "LLM_JUDGE"

    def __init__(self, name: str, instructions: str, model: Any = None, *, value_type: Any = bool,
                 scale: tuple[float, float] | None = None, choices: Any = None, threshold: float | None = None,
                 system_prompt: str | None = None, temperature: float | None = 0.0, max_tokens: int = 512,
                 json_mode: bool = False, extras: dict[str, Extra] | None = None) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError("A judge needs a name (its columns are <name>/value, <name>/rationale, <name>/error).")
        if not isinstance(instructions, str) or not instructions.strip():
            raise ValueError(f"Judge {name!r} needs instructions: a prompt using {{{{ outputs }}}} and friends.")
        self.name, self.instructions = name, instructions
        self.value_type = value_type_of(value_type, scale, choices)
        if threshold is None and self.value_type.kind in ("int", "float") and self.value_type.scale:
            low, high = self.value_type.scale
            threshold = low + 0.75 * (high - low)  # 4 on a 1-5 scale
        self.threshold = threshold
        self.system_prompt = system_prompt if system_prompt is not None else SYSTEM_PROMPT
        self.temperature, self.max_tokens, self.json_mode = temperature, max_tokens, json_mode
        self.extras = dict(extras or {})
        used = set(_VARIABLE.findall(instructions))
        unknown = sorted(used - set(ARGUMENTS) - set(self.extras))
        if unknown:
            known = ", ".join("{{ " + v + " }}" for v in (*ARGUMENTS, *self.extras))
            raise ValueError(f"Judge {name!r} uses unknown template variables {unknown}; available: {known}.")
        if not used:
            raise ValueError(f"Judge {name!r}'s instructions use no template variable: include at least "
                             "{{ outputs }} (or {{ inputs }}, {{ expectations }}, {{ trace }}).")
        needs = {v for v in used if v in ARGUMENTS}
        for variable in used & set(self.extras):
            needs |= self.extras[variable][0]
        self.needs = frozenset(needs)
        self._used = used
        self._model = ModelChoice(model)
        self.model_uri = self._model.uri

    @property
    def model(self) -> Any:
        """The :class:`~llmops_nb.models.Model` this judge calls (resolved on first use)."""
        return self._model.get()

    def render(self, **arguments: Any) -> list[dict[str, str]]:
        """The messages sent to the model for one row (raises MissingInputError when the row lacks something)."""
        values: dict[str, str] = {}
        for variable in self._used:
            if variable in self.extras:
                values[variable] = self.extras[variable][1](arguments)
            elif variable == "trace":
                values[variable] = render_trace(arguments.get("trace"))
            else:
                value = arguments.get(variable)
                if value is None and variable != "outputs":
                    raise MissingInputError(f"judge {self.name!r} uses {{{{ {variable} }}}}, but this row has no "
                                       f"{variable}.")
                values[variable] = render_value(value)
        prompt = _VARIABLE.sub(lambda m: values.get(m.group(1), m.group(0)), self.instructions)
        describe = self.value_type.describe()
        system = self.system_prompt.replace("{result}", _example(self.value_type)).replace("{describe}", describe)
        return [{"role": "system", "content": system}, {"role": "user", "content": prompt}]

    def score(self, **arguments: Any) -> Score:
        try:
            messages = self.render(**arguments)
        except MissingInputError as exc:
            return Score(None, error=str(exc))
        params: dict[str, Any] = {"max_tokens": self.max_tokens}
        if self.temperature is not None:
            params["temperature"] = self.temperature
        if self.json_mode and self.model.spec.sdk == "openai":
            params["response_format"] = {"type": "json_object"}
        reply = self.model.chat(messages, **params)
        return self.parse(reply.text)

    def parse(self, reply: str) -> Score:
        """A Score from the model's reply text (missing value plus the raw reply when unreadable)."""
        try:
            value, rationale = parse_reply(reply, self.value_type)
        except JudgeParseError as exc:
            return Score(None, error=str(exc))
        return Score(value, rationale)

    def __repr__(self) -> str:
        return f"<Judge {self.name!r} model={self.model_uri!r} verdict={self.value_type.describe()}>"


def _example(value_type: ValueType) -> str:
    if value_type.kind == "bool":
        return '"yes" | "no"'
    if value_type.kind == "choice":
        return " | ".join(f'"{c}"' for c in value_type.choices)
    return "<number>"


def make_judge(name: str, instructions: str, model: Any = None, *, value_type: Any = bool,
               scale: tuple[float, float] | None = None, choices: Any = None, threshold: float | None = None,
               **options: Any) -> Judge:
    """An LLM judge from natural-language instructions using ``{{ inputs }}``, ``{{ outputs }}`` …

    Template variables: ``{{ inputs }}``, ``{{ outputs }}``, ``{{ expectations }}``, ``{{ trace }}``.

    ``value_type``: ``bool`` (yes/no, the default), ``int``/``float`` with
    ``scale=(1, 5)`` (passes at ``threshold``, by default ¾ up the scale), or
    ``str`` with ``choices=[...]``. ``model``: a model URI or ``Model``
    (default ``$LLMOPS_NB_JUDGE_MODEL`` or ``openai:/gpt-4.1-mini``).
    ``options``: ``system_prompt``, ``temperature``, ``max_tokens``, ``json_mode``.

    >>> import llmops_nb
    >>> concise = llmops_nb.make_judge(
    ...     "concise", "Is the answer to {{ inputs }} free of filler? Answer: {{ outputs }}",
    ...     model="openai:/gpt-4.1-mini")
    >>> concise.name
    'concise'
    """
    allowed = {"system_prompt", "temperature", "max_tokens", "json_mode"}
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise TypeError(f"make_judge() got unknown options {unknown}; it accepts {sorted(allowed)} besides "
                        "name, instructions, model, value_type, scale, choices and threshold.")
    return Judge(name, instructions, model, value_type=value_type, scale=scale, choices=choices,
                 threshold=threshold, **options)
