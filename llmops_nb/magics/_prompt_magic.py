"""``%%llm_prompt``: register the cell as a new prompt version and show what changed; ``%llm_prompt``: show one.

Cell body syntax — a text template, or a chat template in either of two forms::

    %%llm_prompt qa -m "ask for one sentence" --alias staging
    system: You answer in one sentence.
    user: {{question}}

A line starting with ``system:``, ``user:``, ``assistant:``, ``developer:`` or ``tool:``
(lowercase, at the start of the line) begins a message; the lines after it, up to the
next such line, continue it. A body that is a JSON list of ``{"role", "content"}``
objects is a chat template too. Anything else — or any body with ``--text`` — is a text
template, kept as written (leading and trailing blank lines dropped).
"""

from __future__ import annotations

import json
import re
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class, no_var_expand

from ._args import MagicParser, parse_tags

_ROLE_LINE = re.compile(r"^(system|user|assistant|developer|tool):(?: ?)(.*)$")
_CELL_EXAMPLE = "%%llm_prompt qa -m 'one sentence answers' --alias staging"
_LINE_EXAMPLE = "%llm_prompt qa@production  (or qa/3, or just qa for the latest)"


def parse_body(body: str, *, text: bool = False) -> Any:
    """The template a cell body means: a string, or a list of {role, content} messages."""
    lines = body.splitlines()
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise UsageError(f"%%llm_prompt: the cell is empty; write the prompt below the magic line, e.g.\n"
                         f"{_CELL_EXAMPLE}\nAnswer in one sentence: {{{{question}}}}")
    source = "\n".join(lines).rstrip()
    if text:
        return source
    if source.startswith("[") and source.endswith("]"):
        try:
            parsed = json.loads(source)
        except ValueError as exc:
            raise UsageError(f"%%llm_prompt: the cell looks like a JSON list of messages but is not valid JSON "
                             f"({exc}). Fix the JSON, write 'role: content' lines instead, or add --text to "
                             "register it as plain text.") from None
        if isinstance(parsed, list):
            return parsed
    if not _ROLE_LINE.match(lines[0]):
        return source
    messages: list[dict[str, str]] = []
    for line in lines:
        match = _ROLE_LINE.match(line)
        if match:
            messages.append({"role": match.group(1), "content": match.group(2)})
        else:
            messages[-1]["content"] += "\n" + line
    for message in messages:
        message["content"] = message["content"].strip("\n").rstrip()
    return messages


@magics_class
class PromptMagics(Magics):
    """``%%llm_prompt NAME [-m MESSAGE] [--alias ALIAS] [--tag K=V] [--model-config JSON] [--text]`` and
    ``%llm_prompt [NAME[@ALIAS|/VERSION] [--diff OTHER]]``."""

    def __init__(self, shell: Any = None) -> None:
        super().__init__(shell)
        self._cell_parser = MagicParser("%%llm_prompt", _CELL_EXAMPLE)
        self._cell_parser.add_argument("name", nargs="?")
        self._cell_parser.add_argument("-m", "--message", default=None)
        self._cell_parser.add_argument("--alias", default=None)
        self._cell_parser.add_argument("--tag", action="append", default=None)
        self._cell_parser.add_argument("--model-config", default=None)
        self._cell_parser.add_argument("--text", action="store_true")
        self._line_parser = MagicParser("%llm_prompt", _LINE_EXAMPLE)
        self._line_parser.add_argument("ref", nargs="?")
        self._line_parser.add_argument("--diff", default=None)

    @no_var_expand
    @line_cell_magic
    def llm_prompt(self, line: str, cell: str | None = None) -> Any:
        """Register the cell as a new version of a prompt (cell magic), or show a version (line magic).

        %%llm_prompt NAME [-m MESSAGE] [--alias ALIAS] [--tag K=V] [--model-config JSON] [--text]
        %llm_prompt NAME[@ALIAS|/VERSION] [--diff OTHER]      %llm_prompt  (lists every prompt)
        """
        if cell is None:
            return self._show(line)
        return self._register(line, cell)

    def _register(self, line: str, cell: str) -> None:
        opts = self._cell_parser.parse_line(line)
        if not opts.name:
            raise UsageError(f"%%llm_prompt: name the prompt, e.g. {_CELL_EXAMPLE}")
        if "@" in opts.name or "/" in opts.name:
            raise UsageError(f"%%llm_prompt: {opts.name!r} names a version; the cell form registers a new version "
                             "of a prompt NAME. Write just the name, and --alias ALIAS to point an alias at it.")
        tags = parse_tags(opts.tag, "%%llm_prompt") or None
        config = None
        if opts.model_config is not None:
            try:
                config = json.loads(opts.model_config)
            except ValueError:
                raise UsageError("%%llm_prompt: --model-config takes a JSON object; quote it, e.g. "
                                 "--model-config '{\"temperature\": 0.2}'.") from None
        template = parse_body(cell, text=opts.text)
        from ..prompts._registry import register_version, set_alias

        try:
            previous = _latest(opts.name)
            prompt, created = register_version(opts.name, template, opts.message, tags, config)
            if opts.alias:
                prompt = set_alias(opts.name, opts.alias, prompt.version)
        except (ValueError, TypeError, LookupError) as exc:
            raise UsageError(f"%%llm_prompt: {exc}") from None
        from IPython.display import display

        moved = f" · @{opts.alias} → v{prompt.version}" if opts.alias else ""
        if not created:
            print(f"Unchanged: identical to {prompt.uri}, no new version{moved}.")
            return
        if previous is None:
            print(f"Registered {prompt.uri} (new prompt){moved}.")
            display(prompt)
            return
        print(f"Registered {prompt.uri} (previous: v{previous}){moved}.")
        from ..prompts._prompt_diff import PromptDiff

        display(PromptDiff(opts.name, previous, prompt.version))  # the diff widget, with its history

    def _show(self, line: str) -> Any:
        opts = self._line_parser.parse_line(line)
        from ..prompts import _frames
        from ..prompts._registry import get

        try:
            if opts.ref is None:
                if opts.diff is not None:
                    raise UsageError("%llm_prompt: --diff needs a prompt to compare with, e.g. "
                                     "%llm_prompt qa/3 --diff 2")
                return _frames.list_prompts()
            prompt = get(opts.ref)
            if opts.diff is None:
                return prompt
            other = opts.diff if any(ch in opts.diff for ch in "@/") else f"{prompt.name}@{opts.diff}"
            from .._diff import Diff

            return Diff(get(other), prompt)
        except (ValueError, TypeError, LookupError) as exc:
            raise UsageError(f"%llm_prompt: {exc}\nUsage: {_LINE_EXAMPLE}") from None


def _latest(name: str) -> int | None:
    from ..prompts._errors import PromptNotFoundError
    from ..prompts._registry import resolve_version

    try:
        return resolve_version(name)
    except PromptNotFoundError:
        return None
