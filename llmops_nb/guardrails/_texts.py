"""The strings inside a checked value, and the value rebuilt with some of them replaced.

A guarded value is a string, chat messages, a call's arguments or a return value. Text
validators read every string in it: strings themselves, the items of lists and tuples, the
values of dicts — of a message (a dict with ``role``) only its ``content``, of a content part
(``{"type": "text", "text": ...}``) only its ``text``, so that ``"user"`` or ``"text"`` is not
taken for what the user wrote. Other objects — an SDK's response object, a dataclass — are not
looked into, on purpose: their ids and fingerprints are long random tokens that a PII check takes
for API keys. Guard a function that returns the text (or plain data), or ``check()`` the text.

Rebuilding copies only the containers on the way to a replaced string: the caller's objects
are never changed in place.
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["Path", "replaced", "strings"]

Path = tuple[Any, ...]
_MAX_DEPTH = 32
_STRUCTURE_KEYS = frozenset({"role", "type"})


def strings(value: Any) -> list[tuple[Path, str]]:
    """Every string in ``value`` with its path, in order.

    >>> strings([{"role": "user", "content": "hi"}, "there"])
    [((0, 'content'), 'hi'), ((1,), 'there')]
    """
    found: list[tuple[Path, str]] = []

    def walk(item: Any, path: Path) -> None:
        if isinstance(item, str):
            found.append((path, item))
        elif len(path) >= _MAX_DEPTH:
            return
        elif isinstance(item, dict):
            structured = "content" in item or "text" in item
            for key, child in item.items():
                if not (structured and key in _STRUCTURE_KEYS):
                    walk(child, (*path, key))
        elif isinstance(item, (list, tuple)):
            for position, child in enumerate(item):
                walk(child, (*path, position))

    walk(value, ())
    return found


def replaced(value: Any, changes: dict[Path, str]) -> Any:
    """``value`` with the string at each path of ``changes`` replaced; containers copied, not changed.

    >>> replaced({"q": ["a", "b"]}, {("q", 1): "[X]"})
    {'q': ['a', '[X]']}
    """
    if () in changes:
        return changes[()]
    grouped: dict[Any, dict[Path, str]] = {}
    for path, text in changes.items():
        grouped.setdefault(path[0], {})[path[1:]] = text
    if isinstance(value, tuple):
        items = list(value)
        for key, inner in grouped.items():
            items[key] = replaced(items[key], inner)
        return type(value)(*items) if hasattr(value, "_fields") else type(value)(items)
    copied = copy.copy(value)  # a dict or list (subclasses keep their type)
    for key, inner in grouped.items():
        copied[key] = replaced(value[key], inner)
    return copied
