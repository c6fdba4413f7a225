"""Reading the text of an output and the expected value out of ``expectations``."""

from __future__ import annotations

import json
from typing import Any

from .._errors import LlmopsError

#: keys that hold "the answer" in a dict output, tried in order
ANSWER_KEYS = ("response", "output", "answer", "text", "content", "result", "completion")


class MissingExpectationError(LlmopsError, ValueError):
    """The row has no expected value for a scorer that compares against one."""


def output_text(outputs: Any) -> str:
    """The answer as text: a string as is; a dict's answer field; an OpenAI/Anthropic reply's text.

    >>> output_text({"answer": "Paris", "sources": [1]})
    'Paris'
    """
    if outputs is None:
        return ""
    if isinstance(outputs, str):
        return outputs
    if hasattr(outputs, "model_dump"):  # an SDK response object
        outputs = outputs.model_dump(mode="json", warnings=False)
    if isinstance(outputs, dict):
        choices = outputs.get("choices")
        if isinstance(choices, list) and choices and isinstance(choices[0], dict):
            message = choices[0].get("message") or {}
            return str(message.get("content") or choices[0].get("text") or "")
        content = outputs.get("content")
        if isinstance(content, list):  # Anthropic message
            return "".join(str(b.get("text", "")) for b in content if isinstance(b, dict))
        for key in ANSWER_KEYS:
            if key in outputs and outputs[key] is not None:
                return output_text(outputs[key])
    if isinstance(outputs, list) and outputs and all(isinstance(m, dict) and "role" in m for m in outputs):
        return output_text(outputs[-1].get("content"))
    if isinstance(outputs, (int, float, bool)):
        return str(outputs)
    return json.dumps(outputs, ensure_ascii=False, default=str)


def expected_value(expectations: Any, key: str | None, scorer_name: str) -> Any:
    """The value to compare with: ``expectations[key]``, ``expected_response``, the only key, or a scalar.

    >>> expected_value({"expected_response": "Paris"}, None, "exact_match")
    'Paris'
    """
    if expectations is None:
        raise MissingExpectationError(f"{scorer_name} compares with an expected value, but this row has no "
                                 "'expectations' (e.g. {'expected_response': 'Paris'}).")
    if not isinstance(expectations, dict):
        if key is not None:
            raise MissingExpectationError(f"{scorer_name} reads expectations[{key!r}], but this row's expectations "
                                     f"are {type(expectations).__name__}, not a dict.")
        return expectations
    if key is not None:
        if key not in expectations:
            raise MissingExpectationError(f"{scorer_name} reads expectations[{key!r}]; this row's expectations have "
                                     f"{sorted(expectations)}.")
        return expectations[key]
    if "expected_response" in expectations:
        return expectations["expected_response"]
    if len(expectations) == 1:
        return next(iter(expectations.values()))
    raise MissingExpectationError(f"{scorer_name} does not know which expectation to compare with among "
                             f"{sorted(expectations)}: pass key='...' or use 'expected_response'.")


def render_value(value: Any, limit: int = 20_000) -> str:
    """A value as prompt text: strings as is, anything else as indented JSON; long text cut with a note."""
    if value is None:
        return "(none)"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, indent=2, default=str)
    if len(text) > limit:
        text = text[:limit] + f"\n… [{len(text) - limit} more characters cut]"
    return text
