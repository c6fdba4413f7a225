"""Parsing magic arguments so that every mistake says what to write instead."""

from __future__ import annotations

import argparse
import shlex
from typing import Any

from IPython.core.error import UsageError

from .._errors import did_you_mean


class MagicParser(argparse.ArgumentParser):
    """argparse that raises IPython's UsageError (shown without a traceback) with a hint."""

    def __init__(self, magic: str, example: str, **kwargs: Any) -> None:
        super().__init__(prog=magic, add_help=False, allow_abbrev=False, **kwargs)
        self.example = example

    def error(self, message: str) -> Any:
        raise UsageError(f"{self.prog}: {message}.\nUsage: {self.format_usage().strip()[7:]}\n"
                         f"Example: {self.example}")

    def parse_line(self, line: str) -> argparse.Namespace:
        try:
            words = shlex.split(line)
        except ValueError as exc:
            raise UsageError(f"{self.prog}: cannot read the arguments ({exc}); close your quotes, e.g. "
                             f"{self.example}") from None
        if any(word in ("-h", "--help") for word in words):
            raise UsageError(self.format_help())
        opts, unknown = self.parse_known_args(words)
        if unknown:
            raise UsageError(self._unknown_message(unknown))
        return opts

    def _unknown_message(self, unknown: list[str]) -> str:
        flags = sorted({flag for action in self._actions for flag in action.option_strings})
        lines = []
        for word in unknown:
            if word.startswith("-"):
                hint = did_you_mean(word.split("=")[0], flags) or f" Known options: {', '.join(flags)}."
                lines.append(f"unknown option {word!r}.{hint}")
            else:
                lines.append(f"unexpected argument {word!r} (quote values with spaces, e.g. --name \"my run\").")
        return f"{self.prog}: " + " ".join(lines) + f"\nUsage: {self.format_usage().strip()[7:]}"


def parse_tags(values: list[str] | None, magic: str) -> dict[str, str]:
    tags: dict[str, str] = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"{magic}: bad tag {item!r}: write --tag KEY=VALUE, e.g. --tag env=dev "
                             "(repeat --tag for several).")
        tags[key.strip()] = value
    return tags


def check_variable(name: str | None, magic: str) -> str | None:
    if name is None:
        return None
    import keyword

    if not name.isidentifier() or keyword.iskeyword(name):
        raise UsageError(f"{magic}: {name!r} is not a valid Python variable name to receive the result; "
                         f"write e.g. {magic} result")
    return name
