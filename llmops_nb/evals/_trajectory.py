"""Trajectory scorers: did the agent call the expected tools, in the expected order, with right arguments?

The expected calls are given to the scorer (``tool_sequence(["search", "book"])``) or per row in
``expectations["expected_tools"]`` (``"expected_tool_calls"``, which ``tool_call_correctness`` reads,
works too): a list of tool names, or of ``{"name": ..., "arguments": {...}}``. The calls made are
read by :mod:`._trajectory_spans` — TOOL spans, else the calls the model requested.

A row without expected calls (a monitored trace has no expectations) gets a missing value with an
error naming what to pass, never a pass or a fail.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .._errors import did_you_mean
from ._judge import Extra, Judge, MissingInputError
from ._scorer import Score, Scorer
from ._text import render_value
from ._trajectory_spans import ToolCall, ToolCalls, TrajectoryScorer, tool_calls

MODES = ("exact", "in_order", "any_order", "subset")
EXPECTED_KEYS = ("expected_tools", "expected_tool_calls")
_LISTED = 20  # names shown in a rationale before "… (N more)"

TOOL_ARGUMENTS_PROMPT = """Decide whether every tool call the agent made has the right arguments for the request.

Request:
{{ inputs }}

Tool calls the agent made, in order (name, arguments, error if it failed):
{{ tool_calls }}

Expected tool calls, if known:
{{ expected_tool_calls }}

Right means: each call's arguments carry the values the request asks for (the right entities, ids, dates,
quantities and units; nothing invented, nothing the request gives left out), and agree with the expected
calls' arguments when those are given. Judge only the arguments, not which tools were chosen."""


@dataclass(frozen=True)
class Expected:
    """One expected call: a tool name and, optionally, the exact arguments it should get."""

    name: str
    arguments: dict[str, Any] | None = None


def parse_expected(value: Any, where: str) -> list[Expected]:
    """Expected calls from a list of names or ``{"name", "arguments"}`` dicts (TypeError/ValueError naming the fix).

    >>> parse_expected(["search", {"name": "book", "arguments": {"city": "Paris"}}], "expected")
    [Expected(name='search', arguments=None), Expected(name='book', arguments={'city': 'Paris'})]
    """
    example = "['search', 'book'] or [{'name': 'book', 'arguments': {'city': 'Paris'}}]"
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, (list, tuple)):
        raise TypeError(f"{where} is a {type(value).__name__}; give a list of tool names or calls: {example}.")
    expected = []
    for position, entry in enumerate(value):
        if isinstance(entry, str) and entry:
            expected.append(Expected(entry))
            continue
        if not isinstance(entry, Mapping):
            raise TypeError(f"{where}[{position}] is {entry!r}; each entry is a tool name or a dict: {example}.")
        unknown = sorted(set(entry) - {"name", "arguments"})
        if unknown:
            raise ValueError(f"{where}[{position}] has keys {unknown}; an expected call has 'name' and optionally "
                             f"'arguments'.{did_you_mean(unknown[0], ('name', 'arguments'))}")
        name, arguments = entry.get("name"), entry.get("arguments")
        if not isinstance(name, str) or not name:
            raise ValueError(f"{where}[{position}] has no 'name' (a tool name string): {example}.")
        if arguments is not None and not isinstance(arguments, Mapping):
            raise TypeError(f"{where}[{position}]['arguments'] is a {type(arguments).__name__}; give the "
                            "arguments as a dict, e.g. {'city': 'Paris'}.")
        expected.append(Expected(name, dict(arguments) if arguments is not None else None))
    return expected


def row_expected(fixed: list[Expected] | None, expectations: Any, scorer: str, example: str) -> list[Expected] | Score:
    """The expected calls for one row: the scorer's own, else the row's; a Score with the error when neither."""
    if fixed is not None:
        return fixed
    key = next((k for k in EXPECTED_KEYS if isinstance(expectations, dict) and k in expectations), None)
    if key is None:
        return Score(None, error=f"{scorer} needs the expected tool calls, and this row has no "
                                 f"expectations['expected_tools']: pass {example}, or give the rows "
                                 "expectations={'expected_tools': ['search', 'book']}.")
    try:
        return parse_expected(expectations[key], f"expectations[{key!r}]")
    except (TypeError, ValueError) as exc:
        return Score(None, error=f"{scorer}: {exc}")


def _listed(names: list[str], joiner: str = ", ") -> str:
    if not names:
        return "no tool calls"
    shown = joiner.join(names[:_LISTED])
    return shown + (f" … ({len(names) - _LISTED} more)" if len(names) > _LISTED else "")


def _compare(mode: str, want: list[str], got: list[str]) -> tuple[str, str | None]:
    """What ``mode`` expects, in words, and the first mismatch (None when the calls match)."""
    if mode == "exact":
        expects = _listed(want, " then ")
        for position, (wanted, called) in enumerate(zip(want, got, strict=False), 1):
            if wanted != called:
                return expects, f"call {position} is {called}, not {wanted}"
        if len(got) < len(want):
            return expects, f"{want[len(got)]} was never called"
        if len(got) > len(want):
            return expects, f"{got[len(want)]} is one call too many"
        return expects, None
    if mode == "in_order":
        expects = _listed(want, " then ")
        position = 0
        for index, wanted in enumerate(want):
            while position < len(got) and got[position] != wanted:
                position += 1
            if position == len(got):
                after = f" after {want[index - 1]}" if index and wanted in got else ""
                return expects, f"{wanted} was not called{after}"
            position += 1
        return expects, None
    if mode == "any_order":
        expects = f"{_listed([f'{t} x{n}' if n > 1 else t for t, n in sorted(Counter(want).items())])} in any order"
        missing = Counter(want) - Counter(got)
        if missing:
            tool, short = next(iter(missing.items()))
            times = Counter(want)[tool]
            return expects, (f"{tool} was not called" if short == times
                             else f"{tool} was called {times - short} of {times} times")
        return expects, None
    allowed = set(want)
    expects = f"only {_listed(sorted(allowed))}" if allowed else "no tool calls"
    extra = next((called for called in got if called not in allowed), None)
    return expects, f"{extra} is not among them" if extra else None


def tool_sequence(expected: list[Any] | None = None, *, mode: str = "in_order", name: str | None = None) -> Scorer:
    """Did the agent call the expected tools? Compares tool names, in start order, with ``expected``.

    ``mode``: ``"exact"`` (the same calls, same order, nothing else), ``"in_order"`` (the expected
    calls appear in this order; other calls in between are fine), ``"any_order"`` (each expected
    call is made, as many times as listed, in any order), ``"subset"`` (every call made is one of
    the expected tools). ``expected``: tool names or ``{"name": ..., "arguments": ...}`` dicts
    (arguments are :func:`tool_arguments`' business); without it, each row's
    ``expectations["expected_tools"]``. The calls are the TOOL spans, else (an agent whose tools are
    not traced) the tool calls its model requested; the rationale says which.

    >>> import llmops_nb
    >>> booking = llmops_nb.scorers.tool_sequence(["search", "book"], mode="exact")
    >>> booking.name, sorted(booking.needs)
    ('tool_sequence', ['trace'])
    """
    if mode not in MODES:
        raise ValueError(f"tool_sequence(mode={mode!r}) is not a mode.{did_you_mean(mode, MODES)} Use one of: "
                         f"{', '.join(MODES)}.")
    fixed = parse_expected(expected, "tool_sequence(expected=...)") if expected is not None else None
    label = "tool_sequence" if name is None else name

    def check(trace: Any, expectations: Any) -> Score:
        found = row_expected(fixed, expectations, label, "tool_sequence(['search', 'book'])")
        if isinstance(found, Score):
            return found
        made = tool_calls(trace)
        want, got = [e.name for e in found], made.names()
        expects, mismatch = _compare(mode, want, got)
        if mismatch is None:
            return Score(True, f"called {_listed(got)}: matches {expects} ({mode}){made.note()}")
        return Score(False, f"expected {expects}; got {_listed(got)}: {mismatch}{made.note()}")

    return TrajectoryScorer(label, check, expectations=fixed is None)


def _validators(schemas: Any) -> dict[str, Any]:
    """A jsonschema validator per tool name, checked now so a typo in a schema fails here, not per row."""
    if schemas is None:
        return {}
    if not isinstance(schemas, Mapping) or not all(isinstance(k, str) and isinstance(v, Mapping)
                                                   for k, v in schemas.items()):
        raise TypeError("tool_arguments(schemas=...) maps tool names to JSON schemas, e.g. schemas={'book': "
                        "{'type': 'object', 'required': ['city']}}.")
    import jsonschema

    validators = {}
    for tool, schema in schemas.items():
        validator_class = jsonschema.validators.validator_for(schema)
        try:
            validator_class.check_schema(schema)
        except jsonschema.exceptions.SchemaError as exc:
            raise ValueError(f"tool_arguments(schemas={{{tool!r}: ...}}) is not a valid JSON schema: "
                             f"{exc.message}.") from None
        validators[tool] = validator_class(schema)
    return validators


def _problem(call: ToolCall, wanted: list[dict[str, Any]], validator: Any) -> str | None:
    """Why a call's arguments are wrong, or None when they are right."""
    if not call.readable:
        return f"{call.show()}: the arguments are not a JSON object"
    if validator is not None:
        import jsonschema

        error = jsonschema.exceptions.best_match(validator.iter_errors(call.arguments))
        if error is not None:
            where = "/".join(str(p) for p in error.absolute_path) or "(root)"
            return f"{call.show()}: at {where}: {error.message}"
    if wanted and call.arguments not in wanted:
        return f"{call.show()}: expected {' or '.join(repr(w) for w in wanted)}"
    return None


def tool_arguments(expected: list[Any] | None = None, *, schemas: Mapping[str, Any] | None = None,
                   judge: Any = None, name: str | None = None) -> Scorer:
    """Were the tools called with the right arguments? The share of checked calls that were (0..1, passes at 1.0).

    A call is checked when its tool has expected arguments — it must equal one of them exactly (any
    order of calls; whether each expected call was made is :func:`tool_sequence`'s question) — or a
    JSON schema in ``schemas={"book": {...}}`` (it must be valid), or both. ``expected`` as in
    :func:`tool_sequence`, else each row's ``expectations["expected_tools"]`` (optional when
    ``schemas`` are given). With ``judge="openai:/gpt-4.1-mini"`` (a model URI or ``Model``) an LLM
    judges the arguments instead: a yes/no judge seeing the request, the calls and the expected calls.

    >>> import llmops_nb
    >>> booking = llmops_nb.scorers.tool_arguments(schemas={"book": {"required": ["city"]}})
    >>> booking.threshold
    1.0
    """
    label = "tool_arguments" if name is None else name
    fixed = parse_expected(expected, "tool_arguments(expected=...)") if expected is not None else None
    if judge is not None:
        if schemas is not None:
            raise ValueError("tool_arguments(judge=..., schemas=...): pass one; the judge reads the expected calls, "
                             "the schemas are checked in code.")
        return _arguments_judge(label, judge, fixed)
    validators = _validators(schemas)
    if fixed is not None and not validators and all(e.arguments is None for e in fixed):
        raise ValueError("tool_arguments(expected=...) has no arguments to compare with: give entries like "
                         "{'name': 'book', 'arguments': {'city': 'Paris'}}, or schemas={'book': {...}}.")
    example = "tool_arguments([{'name': 'book', 'arguments': {...}}]) or schemas={'book': {...}}"

    def check(trace: Any, expectations: Any) -> Score:
        entries: list[Expected] = []
        row_has = isinstance(expectations, dict) and any(k in expectations for k in EXPECTED_KEYS)
        if fixed is not None or not validators or row_has:  # with schemas, the row's expected calls are optional
            found = row_expected(fixed, expectations, label, example)
            if isinstance(found, Score):
                return found
            entries = found
        wanted: dict[str, list[dict[str, Any]]] = {}
        for entry in entries:
            if entry.arguments is not None:
                wanted.setdefault(entry.name, []).append(entry.arguments)
        made = tool_calls(trace)
        checked = [c for c in made.calls if c.name in wanted or c.name in validators]
        if not checked:
            what = (f"none of the calls ({_listed(sorted(set(made.names())))}) is of a tool with expected arguments "
                    f"or a schema ({_listed(sorted(set(wanted) | set(validators)))})" if made.calls
                    else "the trace has no TOOL spans and its model requested no tools")
            return Score(None, error=f"{label}: no tool calls to check: {what}.")
        problems = [p for c in checked if (p := _problem(c, wanted.get(c.name, []), validators.get(c.name)))]
        right = len(checked) - len(problems)
        summary = f"{right} of {len(checked)} calls have the right arguments"
        detail = f": {'; '.join(problems[:3])}" + (f" … ({len(problems) - 3} more)" if len(problems) > 3 else "")
        return Score(right / len(checked), summary + (detail if problems else "") + made.note())

    return TrajectoryScorer(label, check, expectations=fixed is None, threshold=1.0)


def _arguments_judge(name: str, model: Any, fixed: list[Expected] | None) -> Judge:
    """A yes/no judge of the arguments, over the calls :func:`tool_calls` reads (monitored traces too)."""
    def render_calls(arguments: dict[str, Any]) -> str:
        made: ToolCalls = tool_calls(arguments.get("trace")) if arguments.get("trace") is not None else ToolCalls()
        if not made.calls:
            raise MissingInputError("no tool calls to judge: the trace has no TOOL spans and its model requested "
                                    "no tools.")
        rows = [{"name": c.name, "arguments": c.arguments, **({"error": c.error} if c.error else {})}
                for c in made.calls]
        return render_value(rows) + made.note()

    def render_expected(arguments: dict[str, Any]) -> str:
        found = row_expected(fixed, arguments.get("expectations"), name, "")
        if isinstance(found, Score):
            return "(not given)"
        return render_value([{"name": e.name, **({"arguments": e.arguments} if e.arguments is not None else {})}
                             for e in found])

    extras: dict[str, Extra] = {
        "tool_calls": (frozenset({"trace"}), render_calls),
        "expected_tool_calls": (frozenset() if fixed is not None else frozenset({"expectations"}), render_expected)}
    return Judge(name, TOOL_ARGUMENTS_PROMPT, model, extras=extras)
