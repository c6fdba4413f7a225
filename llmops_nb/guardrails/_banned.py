"""``banned()``: terms (whole words, any case) and regular expressions that must not appear.

Patterns are compiled by RE2, which matches in time linear in the text: a pattern such as
``(a+)+$`` cannot hang a guarded call on hostile input, as it can with Python's ``re``. RE2 has
no look-around and no backreferences; a pattern using them is refused when the validator is
made, unless ``allow_backtracking=True`` accepts Python's ``re`` and its worst case. Terms are
escaped literals joined into one Python ``re`` alternation, which has no such worst case.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from ._validator import Subject, Validator
from ._verdict import Finding

try:
    import re2 as _re2
except ImportError:  # pragma: no cover - google-re2 is a dependency
    _re2 = None

__all__ = ["BannedValidator", "banned"]


def _as_list(value: Any, what: str) -> list[str]:
    items = [value] if isinstance(value, str) else list(value or ())
    for item in items:
        if not isinstance(item, str) or not item.strip():
            raise TypeError(f"banned({what}=...) takes non-empty strings, got {item!r}.")
    return items


def _term_pattern(term: str) -> str:
    """A term as a case-insensitive whole-word regex; any run of white space matches its spaces."""
    body = r"\s+".join(re.escape(word) for word in term.split())
    before = r"(?<!\w)" if re.match(r"\w", term.strip()) else ""
    after = r"(?!\w)" if re.search(r"\w$", term.strip()) else ""
    return f"{before}(?:{body}){after}"


def _compile(pattern: str, index: int, allow_backtracking: bool) -> Any:
    if _re2 is None or allow_backtracking:
        return re.compile(pattern)
    options = _re2.Options()
    options.log_errors = False  # the error is ours to raise, with the fix; no line on stderr
    try:
        return _re2.compile(pattern, options)
    except _re2.error as exc:
        reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise ValueError(f"banned(patterns=...): patterns[{index}] {pattern!r} is not RE2 syntax ({reason}). RE2 "
                         "matches in linear time, so it has no look-around and no backreferences: rewrite the "
                         "pattern without them, or pass allow_backtracking=True to use Python's re (a pattern like "
                         "(a+)+$ can then take exponential time on hostile text).") from None


class BannedValidator(Validator):
    """Fails when a banned term or pattern occurs (see :func:`banned`)."""

    def __init__(self, terms: Iterable[str] | str = (), patterns: Iterable[str] | str = (), *, name: str = "banned",
                 replacement: str = "[BANNED]", allow_backtracking: bool = False, action: str | None = None,
                 on_error: str = "block") -> None:
        super().__init__(name=name, action=action, on_error=on_error)
        terms, patterns = _as_list(terms, "terms"), _as_list(patterns, "patterns")
        if not terms and not patterns:
            raise ValueError("banned() needs terms=[...] or patterns=[...] to look for.")
        self.replacement = replacement
        # one group per term: the group that matched says which term it was
        self._terms = (re.compile("|".join(f"({_term_pattern(t)})" for t in terms), re.IGNORECASE)
                       if terms else None)
        self._patterns = [_compile(p, i, allow_backtracking) for i, p in enumerate(patterns)]

    def inspect(self, subject: Subject) -> list[Finding]:
        # Findings name the term by its place in the list, not by its text: a list of banned
        # code names is itself confidential, and spans and error messages are stored.
        findings = []
        for index, text in enumerate(subject.texts):
            if self._terms is not None:
                for match in self._terms.finditer(text):
                    term = (match.lastindex or 1) - 1
                    findings.append(self._finding("term", f"terms[{term}]", index, match.start(), match.end()))
            for number, compiled in enumerate(self._patterns):
                for match in compiled.finditer(text):
                    if match.end() > match.start():  # a pattern that can match nothing matches everywhere
                        findings.append(self._finding("pattern", f"patterns[{number}]", index, match.start(),
                                                      match.end()))
        return findings

    def _finding(self, kind: str, which: str, index: int, start: int, end: int) -> Finding:
        return Finding(self.name, kind, f"{which} at {start}..{end}", index, start, end, self.replacement)


def banned(terms: Iterable[str] | str = (), patterns: Iterable[str] | str = (), *, name: str = "banned",
           replacement: str = "[BANNED]", allow_backtracking: bool = False, action: str | None = None,
           on_error: str = "block") -> BannedValidator:
    r"""Fails when one of ``terms`` (whole words, any case) or ``patterns`` (regexes, as written) occurs.

    ``action="redact"`` writes ``replacement`` over each occurrence. Patterns must be RE2 syntax
    (linear-time matching; add ``(?i)`` for any case) unless ``allow_backtracking=True``.

    >>> from llmops_nb.guardrails import banned, check
    >>> check("The Secret  Project ships", [banned(["secret project"])], action="redact").value
    'The [BANNED] ships'
    >>> check("ticket ABC-1234", [banned(patterns=[r"[A-Z]{3}-\d+"])]).findings[0].message
    'patterns[0] at 7..15'
    """
    return BannedValidator(terms, patterns, name=name, replacement=replacement,
                           allow_backtracking=allow_backtracking, action=action, on_error=on_error)
