"""Templates: validation, ``{{variable}}`` discovery and formatting, content hashing.

A template is either a string or a list of chat messages ``{"role": ..., "content": ...}``
whose contents hold ``{{variable}}`` placeholders, as MLflow writes them (spaces inside
the braces are allowed: ``{{ question }}``). Imports nothing heavy.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from ._errors import PromptFormatError

VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_MESSAGE_KEYS = ("role", "content")

Template = str | list[dict[str, str]]


def check_template(template: Any) -> Template:
    """A validated copy of ``template``: a non-empty string, or a list of {role, content} strings."""
    if isinstance(template, str):
        if not template.strip():
            raise ValueError("The template is empty; write the prompt text, e.g. 'Answer briefly: {{question}}'.")
        return template
    if isinstance(template, (list, tuple)):
        if not template:
            raise ValueError("The chat template has no messages; write e.g. "
                             "[{'role': 'system', 'content': 'Be brief.'}, {'role': 'user', 'content': '{{q}}'}].")
        return [_check_message(i, message) for i, message in enumerate(template)]
    raise TypeError(f"A template must be a string or a list of {{role, content}} messages, got "
                    f"{type(template).__name__}: {_short(template)}.")


def _check_message(index: int, message: Any) -> dict[str, str]:
    if not isinstance(message, dict):
        raise TypeError(f"Chat message {index} must be a dict like {{'role': 'user', 'content': '...'}}, got "
                        f"{type(message).__name__}: {_short(message)}.")
    extra = sorted(str(key) for key in message if key not in _MESSAGE_KEYS)
    missing = [key for key in _MESSAGE_KEYS if key not in message]
    if missing or extra:
        detail = "; ".join([f"missing {', '.join(missing)}"] * bool(missing)
                           + [f"unexpected {', '.join(extra)}"] * bool(extra))
        raise ValueError(f"Chat message {index} must have exactly the keys 'role' and 'content' ({detail}).")
    for key in _MESSAGE_KEYS:
        value = message[key]
        if not isinstance(value, str):
            raise TypeError(f"Chat message {index}: {key!r} must be a string, got {type(value).__name__}: "
                            f"{_short(value)}. Put text in the template and values in format(...).")
    if not message["role"].strip():
        raise ValueError(f"Chat message {index} has an empty role; use 'system', 'user' or 'assistant'.")
    return {"role": message["role"], "content": message["content"]}


def check_tags(tags: Any) -> dict[str, str]:
    if tags is None:
        return {}
    if not isinstance(tags, dict):
        raise TypeError(f"tags must be a dict of strings, e.g. {{'task': 'qa'}}, got {type(tags).__name__}.")
    checked = {}
    for key, value in tags.items():
        if not isinstance(key, str) or not key:
            raise TypeError(f"Tag names must be non-empty strings, got {key!r}.")
        if isinstance(value, (dict, list, tuple, set)) or value is None:
            raise TypeError(f"Tag {key!r} must be a string (or a number/bool, stored as text), got {_short(value)}.")
        checked[key] = value if isinstance(value, str) else str(value)
    return checked


def check_model_config(config: Any) -> dict[str, Any]:
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise TypeError("model_config must be a dict, e.g. {'model': 'gpt-4.1-mini', 'temperature': 0.2}, "
                        f"got {type(config).__name__}.")
    try:
        return json.loads(json.dumps(config, sort_keys=True))
    except (TypeError, ValueError) as exc:
        raise TypeError(f"model_config must hold JSON values (strings, numbers, lists, dicts): {exc}.") from None


def prompt_type(template: Template) -> str:
    return "text" if isinstance(template, str) else "chat"


def variables(template: Template) -> list[str]:
    """The ``{{variable}}`` names in order of first appearance."""
    texts = [template] if isinstance(template, str) else [m["content"] for m in template]
    seen: dict[str, None] = {}
    for text in texts:
        for name in VARIABLE.findall(text):
            seen.setdefault(name, None)
    return [*seen]


def format_template(template: Template, values: dict[str, Any], label: str) -> Template:
    """Fill every placeholder; name the missing and the unexpected variables together."""
    expected = variables(template)
    missing = [name for name in expected if name not in values]
    unexpected = sorted(name for name in values if name not in expected)
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing)}")
        if unexpected:
            parts.append(f"unexpected {', '.join(unexpected)}")
        wanted = ", ".join(f"{name}=..." for name in expected) or "no arguments"
        raise PromptFormatError(f"{label}.format(): {'; '.join(parts)}. This version takes "
                                f"{', '.join(expected) or 'no variables'}: call format({wanted}).")

    def fill(text: str) -> str:
        return VARIABLE.sub(lambda match: str(values[match.group(1)]), text)

    if isinstance(template, str):
        return fill(template)
    return [{"role": m["role"], "content": fill(m["content"])} for m in template]


def content_sha256(template: Template, tags: dict[str, str], model_config: dict[str, Any]) -> str:
    canonical = json.dumps({"template": template, "tags": tags, "model_config": model_config},
                           sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def render_text(template: Template) -> str:
    """A template as plain text: chat messages as ``role: content`` blocks (the %%llm_prompt syntax)."""
    if isinstance(template, str):
        return template
    return "\n".join(f"{m['role']}: {m['content']}" for m in template)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
