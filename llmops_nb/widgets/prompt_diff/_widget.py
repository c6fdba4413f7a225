"""``PromptDiffWidget``: a prompt's version history and the diff of any two versions, under the cell.

The view (``js/prompt_diff/``, bundled to ``llmops_nb/static/prompt_diff.js``) draws what
the kernel computes; it asks through ``_rpc``::

    history {name}       -> {name, history: [{version, aliases, commit_message, author, created_at, prompt_type}]}
    diff    {name, a, b} -> {name, a, b, diff: {a_label, b_label, kind, sections, variables, metadata, stats},
                             unified}

Both are answered from the store by :class:`llmops_nb.prompts.PromptDiff` (difflib, in
``llmops_nb/_diff.py``); ``a`` and ``b`` are version numbers, aliases or ``"latest"``.
Traitlets hold the view state only (``name``, ``a``, ``b``, ``mode``): picking versions in
the history list sets ``a``/``b``, so Python reads what the user picked.

After ``%load_ext llmops_nb`` a ``PromptDiff`` displays as this widget, with its script-free
HTML snapshot and unified diff in the same mimebundle (:func:`prompt_diff_bundle`).

>>> from llmops_nb.widgets import PromptDiffWidget
>>> PromptDiffWidget("qa", a="production", b="latest", mode="inline")  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Annotated, Any

import traitlets

from ...prompts._prompt_diff import PromptDiff
from .._base import View, bundle_available, check_options, esm_path, in_kernel
from .._rpc import Methods

__all__ = ["MODES", "PromptDiffWidget", "prompt_diff_bundle", "prompt_diff_methods"]

MODES = ("side", "inline")

Name = Annotated[str, "a prompt name"]
Ref = Annotated[int | str | None, "a version number, an alias or 'latest'"]

BUNDLE = "prompt_diff"  # llmops_nb/static/prompt_diff.js and .css, built from js/prompt_diff/


def _history(*, name: Name) -> dict[str, Any]:
    view = PromptDiff(name)
    return {"name": view.name, "history": view.history}


def _diff(*, name: Name, a: Ref = None, b: Ref = None) -> dict[str, Any]:
    view = PromptDiff(name, a, b)
    diff = view.diff.to_dict()
    # the view draws rows; the whole texts would only double what crosses the wire
    diff["sections"] = [{k: v for k, v in s.items() if k not in ("a_text", "b_text")} for s in diff["sections"]]
    return {"name": view.name, "a": view.a.version, "b": view.b.version, "diff": diff, "unified": view.unified}


prompt_diff_methods = Methods({"history": _history, "diff": _diff})


class PromptDiffWidget(View, bundle=BUNDLE):
    """The interactive diff of two versions of prompt ``name`` (default: the latest and the one before).

    >>> from llmops_nb.widgets import PromptDiffWidget
    >>> w = PromptDiffWidget("qa", 1, "production")  # doctest: +SKIP
    >>> w.a, w.b, w.mode                             # doctest: +SKIP
    (1, 3, 'side')
    """

    name = traitlets.Unicode().tag(sync=True)
    a = traitlets.Int(1, min=1).tag(sync=True)
    b = traitlets.Int(1, min=1).tag(sync=True)
    mode = traitlets.Enum(MODES, "side").tag(sync=True)

    def __init__(self, name: str, a: int | str | None = None, b: int | str | None = None, *, mode: str = "side",
                 **kwargs: Any) -> None:
        check_options("PromptDiffWidget", kwargs, set(), "name, a, b, mode")
        if mode not in MODES:
            raise ValueError(f"mode must be 'side' (side by side) or 'inline'; got {mode!r}.")
        view = PromptDiff(name, a, b)  # resolves aliases; an unknown name or version raises here, not in the view
        super().__init__(name=view.name, a=view.a.version, b=view.b.version, mode=mode)

    def methods(self) -> Methods:
        return prompt_diff_methods

    @traitlets.observe("name")
    def _new_prompt(self, change: dict[str, Any]) -> None:
        # another prompt's versions: start again from its latest and the one before. Not while
        # __init__ sets the first name: traitlets reports it after a and b are already set.
        if not change["old"]:
            return
        view = PromptDiff(change["new"])
        with self.hold_sync():
            self.a, self.b = view.a.version, view.b.version

    def select(self, a: int | str | None = None, b: int | str | None = None) -> PromptDiff:
        """Show versions ``a`` and ``b`` (numbers, aliases or ``"latest"``); returns their ``PromptDiff``."""
        view = PromptDiff(self.name, a, b)
        with self.hold_sync():
            self.a, self.b = view.a.version, view.b.version
        return view

    @property
    def prompt_diff(self) -> PromptDiff:
        """The data of what is shown now (the versions picked in the view included)."""
        return PromptDiff(self.name, self.a, self.b)

    def snapshot(self) -> dict[str, str]:
        return self.prompt_diff.snapshot_bundle()

    def __repr__(self) -> str:
        return f"PromptDiffWidget({self.name!r}, a={self.a}, b={self.b}, mode={self.mode!r})"


def prompt_diff_bundle(view: PromptDiff) -> dict[str, Any]:
    """The mimebundle of a ``PromptDiff``: the widget's view, its script-free ``text/html`` snapshot and
    the unified diff as ``text/plain``. Without the JS bundle, or when the widget cannot be made, the
    snapshot alone (the problem is logged once): a display never fails the cell. Outside a kernel the
    snapshot alone too (a terminal has no use for a widget)."""
    from ..._safety import log_once

    if not in_kernel():
        return view.snapshot_bundle()
    if not bundle_available(BUNDLE):
        log_once("widgets.prompt_diff_bundle", message="llmops_nb: the prompt diff's JS bundle is missing "
                 f"({esm_path(BUNDLE)}); showing a static diff. Build it: cd js && npm ci && "
                 "npm run build")
        return view.snapshot_bundle()
    try:
        shown = PromptDiffWidget(view.name, view.a.version, view.b.version)._repr_mimebundle_()
    except Exception as exc:  # noqa: BLE001 - no comm, a store problem: the snapshot still shows
        log_once("widgets.prompt_diff", exc)
        shown = None
    return dict(shown[0]) if shown is not None else view.snapshot_bundle()
