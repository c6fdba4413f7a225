"""``PromptDiff``: two versions of one prompt diffed, plus the version history to pick them from.

This is the data API behind the PromptDiff view: ``history`` lists every version with its
aliases, ``select(a, b)`` picks any two, ``to_dict()`` is the JSON a view renders. After
``%load_ext llmops_nb`` it displays as the PromptDiff widget (``llmops_nb.widgets.prompt_diff``); its
mimebundle also holds a script-free HTML snapshot (history list + side-by-side/inline diff) and
a unified diff in plain text.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from .._diff import Diff
from .._html import escape
from ._refs import check_name


def diff(name: str, a: int | str | None = None, b: int | str | None = None) -> PromptDiff:
    """Diff two versions of prompt ``name`` (default: the latest against the one before).

    For any two strings, outputs or versions of different prompts, use ``llmops_nb.diff(a, b)``.

    >>> from llmops_nb import prompts
    >>> prompts.diff("qa", 1, "production")  # doctest: +SKIP
    """
    return PromptDiff(name, a, b)


class PromptDiff:
    """What changed between two versions of ``name`` (default: the latest and the one before).

    >>> from llmops_nb import prompts
    >>> view = prompts.diff("qa")               # doctest: +SKIP
    >>> view.select(1, "production").unified    # doctest: +SKIP

    ``a`` and ``b`` are version numbers, aliases, or ``"latest"``.
    """

    def __init__(self, name: str, a: int | str | None = None, b: int | str | None = None) -> None:
        self.name = check_name(name)
        self.refresh()
        self.select(a, b)

    def refresh(self) -> list[dict[str, Any]]:
        """Re-read the version history (new versions, moved aliases) from the store."""
        self.history = _history(self.name)
        return self.history

    def select(self, a: int | str | None = None, b: int | str | None = None) -> Diff:
        """Diff versions ``a`` and ``b`` (``b`` defaults to the latest, ``a`` to the version before ``b``)."""
        from ._registry import get

        self.b = get(self.name, **_ref(b))
        self.a = get(self.name, **_ref(a)) if a is not None else get(self.name, version=max(self.b.version - 1, 1))
        self.diff = Diff(self.a, self.b)
        return self.diff

    @property
    def unified(self) -> str:
        return self.diff.unified

    def to_dict(self) -> dict[str, Any]:
        """JSON for a view: the prompt, the selected versions, the history, and the full diff."""
        return {"name": self.name, "a": self.a.version, "b": self.b.version, "history": self.history,
                "diff": self.diff.to_dict()}

    def __repr__(self) -> str:
        return f"<PromptDiff {self.name} v{self.a.version} -> v{self.b.version} of {len(self.history)} versions>"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        # The renderer registered for prompt diffs (after %load_ext: the widget, with this snapshot beside
        # it for wherever scripts do not run); without one, the snapshot alone.
        from .. import _display

        return _display.mimebundle(self, _display.PROMPT_DIFF, default=PromptDiff.snapshot_bundle)

    def snapshot_bundle(self) -> dict[str, str]:
        """Script-free ``text/html`` (history + diff) and ``text/plain`` (history + unified diff)."""
        lines = [f"{self.name}: {len(self.history)} versions"]
        for item in self.history:
            mark = "A" if item["version"] == self.a.version else "B" if item["version"] == self.b.version else " "
            aliases = " @" + " @".join(item["aliases"]) if item["aliases"] else ""
            lines.append(f" {mark} v{item['version']}{aliases}  {item['commit_message'] or ''}")
        text = "\n".join(lines) + "\n\n" + (self.diff.unified or "no differences")
        return {"text/plain": text, "text/html": self._html()}

    def _html(self) -> str:
        rows = []
        for item in self.history:
            version = item["version"]
            mark = "A" if version == self.a.version else "B" if version == self.b.version else ""
            style = "background:#ddf4ff" if mark else ""
            aliases = " ".join(f'<span style="background:#fbefff;color:#8250df;padding:0 4px">{escape(alias)}</span>'
                               for alias in item["aliases"])
            rows.append(f'<tr style="{style}"><td><b>{mark}</b></td><td>v{version}</td><td>{aliases}</td>'
                        f"<td>{escape(item['commit_message'] or '')}</td><td>{escape(item['author'] or '')}</td>"
                        f"<td>{escape(item['created_at'][:16].replace('T', ' '))}</td></tr>")
        return ('<div class="llmops-nb-prompt-diff" style="font-size:12px">'
                f"<details><summary><b>{escape(self.name)}</b> · {len(self.history)} versions</summary>"
                f'<table style="margin:4px 0">{"".join(rows)}</table></details>{self.diff.html()}</div>')


def _ref(ref: int | str | None) -> dict[str, Any]:
    if ref is None:
        return {}
    if isinstance(ref, str) and not ref.isdigit():
        return {"alias": ref}
    return {"version": ref}


def _history(name: str) -> list[dict[str, Any]]:
    from ..store._connection import get_store
    from ._registry import resolve_version

    resolve_version(name)  # unknown prompt → did-you-mean
    with get_store().connect() as con:
        rows = con.execute("""
            SELECT v.version, v.commit_message, v.author, v.created_ns, v.prompt_type,
                   (SELECT list(a.alias ORDER BY a.alias) FROM prompt_aliases a
                    WHERE a.name = v.name AND a.version = v.version) AS aliases
            FROM prompt_versions v WHERE v.name = ? ORDER BY v.version DESC""", [name]).fetchall()
    return [{"version": version, "commit_message": message, "author": author, "prompt_type": kind,
             "created_at": dt.datetime.fromtimestamp(ns / 1e9, tz=dt.timezone.utc).isoformat(),
             "aliases": list(aliases or [])} for version, message, author, ns, kind, aliases in rows]
