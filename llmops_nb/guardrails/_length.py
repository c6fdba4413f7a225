"""``max_length()``: a limit on characters and/or tokens, over all the strings of the value together.

Tokens are estimated unless a ``tokenizer`` is given, because the exact count depends on the
model and the one exact counter at hand, tiktoken, downloads its tables on first use (a guarded
call in an offline kernel would hang on it). The estimate, :func:`approx_tokens`, counts a run
of ASCII letters as one token per 4 letters (rounded up), a run of digits as one per 3, and
every other visible character (punctuation, accented and CJK letters, emoji) as one; white
space is free. It is a rough, model-independent estimate meant to be simple to predict, not
a tokenizer. For an exact count::

    import tiktoken
    max_length(tokens=4000, tokenizer=tiktoken.get_encoding("o200k_base").encode)
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from ._validator import Subject, Validator
from ._verdict import Finding

__all__ = ["LengthValidator", "approx_tokens", "max_length"]

_PIECE = re.compile(r"[A-Za-z]+|\d+|\S")


def _piece_tokens(piece: str) -> int:
    if piece[0].isascii() and piece[0].isalpha():
        return math.ceil(len(piece) / 4)
    if piece[0].isascii() and piece[0].isdigit():
        return math.ceil(len(piece) / 3)
    return 1


def approx_tokens(text: str) -> int:
    """The estimated token count of ``text`` (see the module docstring for the rule).

    >>> approx_tokens("Hello, world! 2026")  # Hel|lo , wor|ld ! 202|6
    8
    """
    return sum(_piece_tokens(m.group()) for m in _PIECE.finditer(text))


class LengthValidator(Validator):
    """Fails over a character or token limit (see :func:`max_length`); redaction truncates."""

    def __init__(self, chars: int | None = None, tokens: int | None = None, *,
                 tokenizer: Callable[[str], Any] | None = None, name: str = "max_length", action: str | None = None,
                 on_error: str = "block") -> None:
        super().__init__(name=name, action=action, on_error=on_error)
        if chars is None and tokens is None:
            raise ValueError("max_length() needs chars=N and/or tokens=N.")
        for what, limit in (("chars", chars), ("tokens", tokens)):
            if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
                raise ValueError(f"max_length({what}={limit!r}): give a whole number ≥ 0.")
        if tokenizer is not None and not callable(tokenizer):
            raise TypeError(f"max_length(tokenizer=...) takes a function of a string returning a count or a list "
                            f"of tokens (e.g. tiktoken's encoding.encode), got {tokenizer!r}.")
        self.chars, self.tokens, self.tokenizer = chars, tokens, tokenizer

    def count_tokens(self, text: str) -> int:
        if self.tokenizer is None:
            return approx_tokens(text)
        counted = self.tokenizer(text)
        return counted if isinstance(counted, int) else len(counted)

    def inspect(self, subject: Subject) -> list[Finding]:
        findings = []
        if self.chars is not None:
            total = sum(len(text) for text in subject.texts)
            if total > self.chars:
                findings.append(Finding(self.name, "too_long", f"{total} characters, limit {self.chars}"))
        if self.tokens is not None:
            total = sum(self.count_tokens(text) for text in subject.texts)
            if total > self.tokens:
                estimate = "" if self.tokenizer is not None else " (estimated)"
                findings.append(Finding(self.name, "too_many_tokens", f"{total} tokens{estimate}, limit {self.tokens}"))
        return findings

    def redact(self, subject: Subject, findings: list[Finding]) -> list[str] | None:
        """Truncation: the strings in order, cut where the limits are reached (later ones emptied)."""
        chars_left = self.chars
        tokens_left = self.tokens
        out = []
        for text in subject.texts:
            keep = len(text) if chars_left is None else min(len(text), chars_left)
            if tokens_left is not None:
                keep = self._token_cut(text[:keep], tokens_left)
                tokens_left -= self.count_tokens(text[:keep])
            if chars_left is not None:
                chars_left -= keep
            out.append(text[:keep])
        return out

    def _token_cut(self, text: str, budget: int) -> int:
        """The longest prefix of ``text`` within ``budget`` tokens, as a length."""
        if self.count_tokens(text) <= budget:
            return len(text)
        if self.tokenizer is None:
            used = 0
            for match in _PIECE.finditer(text):
                used += _piece_tokens(match.group())
                if used > budget:
                    return match.start()
            return len(text)
        low, high = 0, len(text)  # a prefix's count grows with its length: binary search
        while low < high:
            middle = (low + high + 1) // 2
            if self.count_tokens(text[:middle]) <= budget:
                low = middle
            else:
                high = middle - 1
        return low


def max_length(chars: int | None = None, tokens: int | None = None, *, tokenizer: Callable[[str], Any] | None = None,
               name: str = "max_length", action: str | None = None, on_error: str = "block") -> LengthValidator:
    """Fails when the value's strings together exceed ``chars`` characters or ``tokens`` tokens.

    Tokens are estimated (see :func:`approx_tokens`) unless ``tokenizer`` counts them.
    ``action="redact"`` truncates to the limits.

    >>> from llmops_nb.guardrails import check, max_length
    >>> check("a" * 30, [max_length(chars=10)], action="redact").value
    'aaaaaaaaaa'
    """
    return LengthValidator(chars, tokens, tokenizer=tokenizer, name=name, action=action, on_error=on_error)
