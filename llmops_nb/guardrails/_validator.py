"""The validator protocol: what a check reads (:class:`Subject`), what it returns, how it redacts.

A validator's ``inspect(subject)`` returns findings (an empty list: the check passed) or raises
(the check could not run: its ``on_error`` decides, see :mod:`._run`). ``redact`` returns the
subject's strings with the findings replaced, or None when they cannot be replaced in place —
the call is then blocked, since redact was asked for and letting the text through is not that.

Subclass :class:`Validator` for a check of your own::

    class NoUrls(Validator):
        name = "no_urls"
        def inspect(self, subject):
            return [Finding(self.name, "url", f"URL at {m.start()}..{m.end()}", i, m.start(), m.end(), "[URL]")
                    for i, text in enumerate(subject.texts) for m in URL.finditer(text)]
"""

from __future__ import annotations

from typing import Any

from ._texts import Path, replaced, strings
from ._verdict import ACTIONS, ON_ERROR, SIDES, Finding, check_choice

__all__ = ["Subject", "Validator"]


class Subject:
    """The value being checked on one ``side``: the value itself and the strings in it.

    ``inputs`` is, on the output side of a guarded call, the call's (checked) arguments, for
    validators that judge an answer against its question.
    """

    def __init__(self, value: Any, side: str, inputs: Any = None) -> None:
        self.value, self.side, self.inputs = value, check_choice(side, SIDES, "side"), inputs
        found = strings(value)
        self._paths: list[Path] = [path for path, _ in found]
        self.texts: list[str] = [text for _, text in found]

    def update(self, texts: list[str]) -> None:
        """Take redacted strings (same count, same order) and rebuild the value around them."""
        changes = {path: new for path, new, old in zip(self._paths, texts, self.texts, strict=True) if new != old}
        if changes:
            self.value = replaced(self.value, changes)
            self.texts = list(texts)


class Validator:
    """Base of every guardrail validator; see the module docstring for the protocol."""

    name: str = "validator"
    #: overrides the guardrail's action for this validator (None: the guardrail's)
    action: str | None = None
    #: "block": a check that cannot run fails the value; "allow": lets it through (the span records the error)
    on_error: str = "block"
    #: calls a model or another service: async guarded functions run it in a worker thread
    blocking: bool = False
    #: how evaluation records it when used as a scorer (``LLM_JUDGE`` for judges)
    source: str = "CODE"
    #: the model a judge calls, stored with an evaluation run
    model_uri: str | None = None

    def __init__(self, *, name: str | None = None, action: str | None = None, on_error: str = "block") -> None:
        name = type(self).name if name is None else name
        if not isinstance(name, str) or not name:
            raise ValueError(f"A validator needs a non-empty name (its span is named after it), got {name!r}.")
        self.name = name
        self.action = None if action is None else check_choice(action, ACTIONS, f"{name}(action)")
        self.on_error = check_choice(on_error, ON_ERROR, f"{name}(on_error)")

    def inspect(self, subject: Subject) -> list[Finding]:
        raise NotImplementedError(f"{type(self).__name__} must implement inspect(subject) -> list[Finding].")

    def redact(self, subject: Subject, findings: list[Finding]) -> list[str] | None:
        """The subject's strings with each finding's ``start:end`` replaced; None if one has no place."""
        by_text: dict[int, list[Finding]] = {}
        for finding in findings:
            if finding.index is None or finding.start is None or finding.end is None or finding.replacement is None:
                return None
            by_text.setdefault(finding.index, []).append(finding)
        texts = list(subject.texts)
        for index, found in by_text.items():
            text, pieces, position = texts[index], [], 0
            for finding in sorted(found, key=lambda f: (f.start, -(f.end or 0))):
                assert finding.start is not None and finding.end is not None
                if finding.end <= position:  # inside a span replaced already
                    continue
                pieces += [text[position:max(position, finding.start)], finding.replacement or ""]
                position = finding.end
            pieces.append(text[position:])
            texts[index] = "".join(pieces)
        return texts

    def __repr__(self) -> str:
        action = f" action={self.action!r}" if self.action else ""
        return f"<{type(self).__name__} {self.name!r}{action} on_error={self.on_error!r}>"
