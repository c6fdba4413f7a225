"""A turn's words: what the user said (a root's inputs) and what the assistant answered (its outputs).

The answer is read by the evaluators' rule (``evals/_text.py``'s ``output_text``: a string, a dict's
answer field, an OpenAI or Anthropic reply). The question is read here, where a conversation's shape
is known: a chat's ``messages`` list gives its last user message, else a prompt-like argument
(``input``, ``prompt``, ``question``, ``query``, ...), else the only argument.

>>> user_text({"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]})
'Hi'
>>> assistant_text({"choices": [{"message": {"role": "assistant", "content": "Hello!"}}]})
'Hello!'
"""

from __future__ import annotations

import json
from typing import Any

#: argument names that hold the user's words, tried in order after ``messages``
INPUT_KEYS = ("input", "prompt", "question", "query", "message", "user_input", "text", "content")
PREVIEW_CHARS = 200


def loads(text: Any) -> Any:
    """A stored JSON payload as a value; a payload the store cut (not JSON any more) as its text."""
    if text is None or not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def _last_user(messages: list[Any]) -> Any:
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return message
    return None


def user_text(inputs: Any) -> str:
    """The user's words in a turn's inputs (see the module doc); ``""`` when there are none."""
    if inputs is None:
        return ""
    if isinstance(inputs, str):
        return inputs
    if isinstance(inputs, list):
        message = _last_user(inputs)
        return output_text(message) if message is not None else _json(inputs)
    if isinstance(inputs, dict):
        messages = inputs.get("messages")
        if isinstance(messages, list) and _last_user(messages) is not None:
            return output_text(_last_user(messages))  # content as text: a string, or its text blocks joined
        for key in INPUT_KEYS:
            if inputs.get(key) is not None:
                return user_text(inputs[key])
        if len(inputs) == 1:
            return user_text(next(iter(inputs.values())))
    return _json(inputs)


def assistant_text(outputs: Any) -> str:
    """The assistant's words in a turn's outputs: ``evals``' ``output_text`` rule."""
    return output_text(outputs)


def output_text(value: Any) -> str:
    # imported when first needed: ``llmops_nb.evals`` takes ~90 ms to import, and the explorer imports
    # this package for the critical path of every trace it shows
    from ..evals._text import output_text as rule

    return rule(value)


def preview(text: str, limit: int = PREVIEW_CHARS) -> str:
    """One line of at most ``limit`` characters, cut with an ellipsis."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)
