"""``PromptVersion``: one immutable version of a prompt, as loaded from the store."""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from .._html import escape
from . import _template
from ._refs import uri as _uri
from ._template import Template


@dataclass(frozen=True, eq=True)
class PromptVersion:
    """One registered version. Get one from ``prompts.register`` or ``prompts.load``.

    >>> from llmops_nb import prompts
    >>> p = prompts.register("qa", "Answer briefly: {{question}}")  # doctest: +SKIP
    >>> p.format(question="What is DuckDB?")  # doctest: +SKIP
    'Answer briefly: What is DuckDB?'

    ``aliases`` are those pointing at this version when it was loaded.
    """

    name: str
    version: int
    _template: Template = field(repr=False)
    commit_message: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    model_config: dict[str, Any] = field(default_factory=dict)
    author: str | None = None
    created_at: dt.datetime | None = None
    aliases: tuple[str, ...] = ()

    def __hash__(self) -> int:
        return hash((self.name, self.version))

    @property
    def template(self) -> Template:
        """The text, or a fresh copy of the chat messages (the stored version never changes)."""
        return copy.deepcopy(self._template) if isinstance(self._template, list) else self._template

    @property
    def uri(self) -> str:
        return _uri(self.name, self.version)

    @property
    def prompt_type(self) -> str:
        return _template.prompt_type(self._template)

    @property
    def is_text_prompt(self) -> bool:
        return isinstance(self._template, str)

    @property
    def variables(self) -> list[str]:
        return _template.variables(self._template)

    def format(self, **values: Any) -> Any:
        """Fill the ``{{variables}}``: a string for a text prompt, a list of messages for a chat prompt.

        Missing and unexpected variables raise ``PromptFormatError`` naming both. Inside a
        trace, the current span records which prompt version was used.
        """
        from ._link import link_current_span

        link_current_span(self)
        return _template.format_template(self._template, values, f"{self.name} v{self.version}")

    def __repr__(self) -> str:
        aliases = f" aliases={','.join(self.aliases)}" if self.aliases else ""
        return (f"<PromptVersion {self.uri} {self.prompt_type}{aliases} "
                f"variables={self.variables}>")

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"text/plain": self._text(), "text/html": self._html()}

    def _header(self) -> str:
        parts = [f"{self.name} v{self.version}"]
        if self.aliases:
            parts.append("@" + " @".join(self.aliases))
        if self.author:
            parts.append(f"by {self.author}")
        if self.created_at is not None:
            parts.append(self.created_at.strftime("%Y-%m-%d %H:%M UTC"))
        return " · ".join(parts)

    def _text(self) -> str:
        lines = [self._header()]
        if self.commit_message:
            lines.append(f"  {self.commit_message}")
        lines.append(_template.render_text(self._template))
        for label, values in (("model_config", self.model_config), ("tags", self.tags)):
            if values:
                lines.append(f"{label}: {values}")
        return "\n".join(lines)

    def _html(self) -> str:
        if isinstance(self._template, str):
            body = _pre(self._template)
        else:
            body = "".join(f'<div style="margin:2px 0"><b style="opacity:.7">{escape(m["role"])}</b>'
                           f"{_pre(m['content'])}</div>" for m in self._template)
        meta = "".join(f'<div style="opacity:.8">{escape(label)}: {escape(repr(values))}</div>'
                       for label, values in (("model_config", self.model_config), ("tags", self.tags)) if values)
        message = f'<div style="font-style:italic">{escape(self.commit_message)}</div>' if self.commit_message else ""
        return ('<div class="llmops-nb-prompt" style="font-family:var(--jp-code-font-family,monospace);'
                'font-size:12px;border-left:3px solid #8250df;padding:2px 8px">'
                f"<b>{escape(self._header())}</b>{message}{body}{meta}</div>")


def _pre(text: str) -> str:
    """Escaped text with ``{{variables}}`` highlighted."""
    pieces: list[str] = []
    last = 0
    for match in _template.VARIABLE.finditer(text):
        pieces.append(escape(text[last:match.start()]))
        pieces.append(f'<span style="background:#fbefff;color:#8250df">{escape(match.group(0))}</span>')
        last = match.end()
    pieces.append(escape(text[last:]))
    return f'<pre style="margin:2px 0;white-space:pre-wrap">{"".join(pieces)}</pre>'
