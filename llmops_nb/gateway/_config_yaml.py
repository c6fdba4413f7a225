"""Reading the gateway's YAML with the line of every entry, and the value checks whose errors name that line.

A config error is only useful if it says where: ``gateway.yaml line 12:
model_list[1].litellm_params.rpm must be a positive integer, got 'fast'``. PyYAML's nodes know their
lines and its plain dicts do not, so the file is composed once, every entry's line recorded under its
path (``model_list[1].litellm_params.rpm``), and the same nodes constructed into plain data. A config
given as a dict has no lines, and its errors name the path alone.

Nothing here echoes a value that might be a key: values shown in errors pass the secret redaction.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .._errors import did_you_mean
from .._redact import redact_text
from ._errors import GatewayConfigError

__all__ = ["Where", "describe", "join", "read_yaml"]

_MERGE_TAG = "tag:yaml.org,2002:merge"
_LAST_PART = re.compile(r"(\.[^.\[]*|\[\d+\])$")


def join(path: str, key: object) -> str:
    """``model_list[1]`` + ``litellm_params`` → ``model_list[1].litellm_params``; an int key → ``[i]``."""
    if isinstance(key, int) and not isinstance(key, bool):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def describe(value: object) -> str:
    """How an error shows a bad value: short, and redacted in case it is a secret in the wrong place."""
    if value is None:
        return "nothing (an empty value)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return redact_text(text)


class Where:
    """Where the config came from: makes errors that start ``gateway.yaml line 12: <path>``."""

    def __init__(self, label: str | None = None, lines: Mapping[str, int] | None = None, *,
                 error_type: type[Exception] = GatewayConfigError) -> None:
        self.label = label
        self.lines = dict(lines or {})
        self.error_type = error_type  # the monitor's config reads the same way and raises its own error

    def line(self, path: str) -> int | None:
        """The line of ``path``, or of the nearest entry holding it (a value merged in with ``<<:``)."""
        while path:
            if path in self.lines:
                return self.lines[path]
            shorter = _LAST_PART.sub("", path)
            if shorter == path:
                break
            path = shorter
        return None

    def prefix(self, path: str) -> str:
        line = self.line(path) if self.label else None
        if self.label and line is not None:
            return f"{self.label} line {line}: "
        return f"{self.label}: " if self.label else ""

    def error(self, path: str, message: str) -> Exception:
        """``<file> line N: <path> <message>`` (the caller raises it)."""
        return self.error_type(f"{self.prefix(path)}{path} {message}")

    # -- the value checks; each returns the value it accepted ------------------------------------------
    def mapping(self, path: str, value: object, *, optional: bool = True) -> dict[str, Any]:
        if value is None and optional:
            return {}
        if not isinstance(value, Mapping):
            raise self.error(path, f"must be a mapping (indented 'name: value' lines), got {describe(value)}")
        return dict(value)

    def sequence(self, path: str, value: object, *, example: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.error(path, f"must be a list ('- ' items, e.g. {example}), got {describe(value)}")
        return value

    def text(self, path: str, value: object, *, what: str = "a non-empty string") -> str:
        # An id like 42 is a fine name; YAML just read it as a number.
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        if not isinstance(value, str) or not value.strip():
            raise self.error(path, f"must be {what}, got {describe(value)}")
        return value.strip()

    def integer(self, path: str, value: object, *, minimum: int = 1) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            what = "a positive integer" if minimum == 1 else f"an integer ≥ {minimum}"
            raise self.error(path, f"must be {what}, got {describe(value)}")
        return value

    def number(self, path: str, value: object, *, minimum: float = 0.0, strict: bool = False) -> float:
        if (isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)
                or value < minimum or (strict and value == minimum)):
            what = f"a number > {minimum:g}" if strict else f"a number ≥ {minimum:g}"
            raise self.error(path, f"must be {what}, got {describe(value)}")
        return float(value)

    def choice(self, path: str, value: object, choices: Iterable[str]) -> str:
        options = list(choices)
        if not isinstance(value, str) or value not in options:
            hint = did_you_mean(value, options) if isinstance(value, str) else ""
            raise self.error(path, f"must be one of {', '.join(options)}, got {describe(value)}"
                                   f"{'.' + hint if hint else ''}")
        return value

    def keys(self, path: str, mapping: Mapping[Any, Any], allowed: Iterable[str],
             unsupported: Mapping[str, str] | None = None, *, required: Iterable[str] = (),
             renamed: Mapping[str, str] | None = None) -> None:
        """Refuse keys not in ``allowed`` (with "did you mean"); LiteLLM's own keys we do not serve are
        named as such, with ``unsupported[key]`` as the hint; a likely other name for a known key is
        pointed at it (``renamed``); ``required`` keys must be there."""
        known = list(allowed)
        unsupported = unsupported or {}
        renamed = renamed or {}
        for key in mapping:
            if not isinstance(key, str):
                raise self.error(path or "the config", f"has a key that is not a setting name: {describe(key)}; "
                                                       f"names are words like {known[0]}")
            if key in known:
                continue
            where = join(path, key)
            if key in renamed:
                raise self.error(where, f"is called {renamed[key]} here; write {renamed[key]}: instead")
            if key in unsupported:
                hint = f"; {unsupported[key]}" if unsupported[key] else ""
                raise self.error(where, f"is a LiteLLM setting not supported by llmops_nb's gateway{hint}")
            raise self.error(where, f"is not a known setting (known here: {', '.join(known)})."
                                    f"{did_you_mean(key, known)}")
        for key in required:
            if mapping.get(key) is None:
                raise self.error(path or key, f"needs {key!r}" if path else "is required")


def read_yaml(path: Path, label: str, *, what: str = "the gateway config",
              error_type: type[Exception] = GatewayConfigError) -> tuple[Any, dict[str, int]]:
    """The data in a YAML file and the line of each entry by path (``model_list[0].model_name`` → 3)."""
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise error_type(f"{label}: not UTF-8 text; save the config as UTF-8 YAML") from None
    except OSError as exc:
        raise error_type(f"cannot read {what} {label} ({exc.strerror}); check the path and its permissions") from None
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        # Only the problem and its line: PyYAML's full message quotes the text around it, which may be a key.
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        if "alias" in str(getattr(exc, "context", "")):
            fix = 'a bare * starts a YAML alias: quote it, as in id: "*"'
        else:
            fix = "check the indentation and quoting there"
        raise error_type(f"{label}{where}: not valid YAML: {problem}; {fix}") from None
    finally:
        loader.dispose()
    lines: dict[str, int] = {}
    if node is not None:
        _record_lines(node, "", lines, label, error_type)
    return data, lines


def _record_lines(node: Any, path: str, lines: dict[str, int], label: str,
                  error_type: type[Exception] = GatewayConfigError) -> None:
    import yaml

    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                # Entries merged from an anchor keep the anchor's lines, unless this mapping has its own.
                merged: dict[str, int] = {}
                sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
                for source in sources:  # `<<: *base` or `<<: [*a, *b]`
                    _record_lines(source, path, merged, label, error_type)
                for merged_path, line in merged.items():
                    lines.setdefault(merged_path, line)
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                continue  # a list or mapping as a key; the checks refuse it by name
            line = key_node.start_mark.line + 1
            if key_node.value in seen:
                # PyYAML keeps the last of two equal keys without a word; the first one would be ignored.
                raise error_type(f"{label} line {line}: {join(path, key_node.value)} is given twice "
                                         f"(first on line {seen[key_node.value]}); keep one")
            seen[key_node.value] = line
            child = join(path, key_node.value)
            lines[child] = line
            _record_lines(value_node, child, lines, label, error_type)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            child = join(path, index)
            lines[child] = item.start_mark.line + 1
            _record_lines(item, child, lines, label, error_type)
