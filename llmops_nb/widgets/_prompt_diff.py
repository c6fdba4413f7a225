"""``PromptDiffWidget``: a prompt's version history and the diff of any two versions, under the cell.

The view (``js/prompt_diff.js``, bundled to ``llmops_nb/static/prompt_diff.js``) draws what
the kernel computes; it asks through ``_rpc``::

    history {name}       -> {name, history: [{version, aliases, commit_message, author, created_at, prompt_type}]}
    diff    {name, a, b} -> {name, a, b, diff: {a_label, b_label, kind, sections, variables, metadata, stats},
                             unified}

Both are answered from the store by :class:`llmops_nb.prompts.PromptDiff` (difflib, in
``llmops_nb/_diff.py``); ``a`` and ``b`` are version numbers, aliases or ``"latest"``.
Traitlets hold the view state only (``name``, ``a``, ``b``, ``mode``): picking versions in
the history list sets ``a``/``b``, so Python reads what the user picked.

A ``PromptDiff`` shown in a Jupyter kernel displays as this widget, with its script-free
HTML snapshot and unified diff in the same mimebundle (:func:`prompt_diff_bundle`).

>>> from llmops_nb.widgets._prompt_diff import PromptDiffWidget
>>> PromptDiffWidget("qa", a="production", b="latest", mode="inline")  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anywidget
import traitlets

from ..prompts._prompt_diff import PromptDiff
from ._rpc import Methods, RpcError, RpcServer, attach

__all__ = ["MODES", "PromptDiffWidget", "prompt_diff_bundle", "prompt_diff_methods"]

STATIC = Path(__file__).resolve().parent.parent / "static"
ESM = STATIC / "prompt_diff.js"
CSS = STATIC / "prompt_diff.css"
MODES = ("side", "inline")


def bundle_available() -> bool:
    """Whether the built JS/CSS are there (``pip install`` builds them; a bare checkout may not have)."""
    return ESM.is_file() and CSS.is_file()


def _name(params: dict[str, Any]) -> str:
    name = params.get("name")
    if not isinstance(name, str) or not name:
        raise RpcError(f"name must be a prompt name, got {name!r}")
    return name


def _ref(params: dict[str, Any], key: str) -> int | str | None:
    ref = params.get(key)
    if ref is None or (isinstance(ref, int) and not isinstance(ref, bool)) or (isinstance(ref, str) and ref):
        return ref
    raise RpcError(f"{key} must be a version number, an alias or 'latest'; got {ref!r}")


def _history(params: dict[str, Any]) -> dict[str, Any]:
    view = PromptDiff(_name(params))
    return {"name": view.name, "history": view.history}


def _diff(params: dict[str, Any]) -> dict[str, Any]:
    view = PromptDiff(_name(params), _ref(params, "a"), _ref(params, "b"))
    diff = view.diff.to_dict()
    # the view draws rows; the whole texts would only double what crosses the wire
    diff["sections"] = [{k: v for k, v in s.items() if k not in ("a_text", "b_text")} for s in diff["sections"]]
    return {"name": view.name, "a": view.a.version, "b": view.b.version, "diff": diff, "unified": view.unified}


prompt_diff_methods = Methods({"history": _history, "diff": _diff})


class PromptDiffWidget(anywidget.AnyWidget):
    """The interactive diff of two versions of prompt ``name`` (default: the latest and the one before).

    >>> from llmops_nb.widgets._prompt_diff import PromptDiffWidget
    >>> w = PromptDiffWidget("qa", 1, "production")  # doctest: +SKIP
    >>> w.a, w.b, w.mode                             # doctest: +SKIP
    (1, 3, 'side')
    """

    # anywidget reads these files when the class is defined: only point at them when they exist
    if bundle_available():
        _esm = ESM
        _css = CSS

    name = traitlets.Unicode().tag(sync=True)
    a = traitlets.Int(1, min=1).tag(sync=True)
    b = traitlets.Int(1, min=1).tag(sync=True)
    mode = traitlets.Enum(MODES, "side").tag(sync=True)

    def __init__(self, name: str, a: int | str | None = None, b: int | str | None = None, *, mode: str = "side",
                 **kwargs: Any) -> None:
        if not bundle_available():
            raise RuntimeError(
                f"llmops_nb's widget bundle is missing ({ESM}). It is built when the package is installed "
                "(pip install needs npm for a source checkout); or build it by hand: cd js && npm ci && "
                "npm run build."
            )
        if kwargs:
            raise TypeError(f"PromptDiffWidget() got unexpected keyword argument(s) {', '.join(map(repr, kwargs))}; "
                            "check the spelling. It takes: name, a, b, mode.")
        if mode not in MODES:
            raise ValueError(f"mode must be 'side' (side by side) or 'inline'; got {mode!r}.")
        view = PromptDiff(name, a, b)  # resolves aliases; an unknown name or version raises here, not in the view
        super().__init__(name=view.name, a=view.a.version, b=view.b.version, mode=mode)
        self._rpc: RpcServer = attach(self, prompt_diff_methods)

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

    def _repr_mimebundle_(self, **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]] | None:
        shown = super()._repr_mimebundle_(**kwargs)
        if shown is None:
            return None
        data, metadata = shown
        return {**data, **self.prompt_diff.snapshot_bundle()}, metadata

    def __repr__(self) -> str:
        return f"PromptDiffWidget({self.name!r}, a={self.a}, b={self.b}, mode={self.mode!r})"


def prompt_diff_bundle(view: PromptDiff) -> dict[str, Any]:
    """The mimebundle of a ``PromptDiff``: the widget's view, its script-free ``text/html`` snapshot and
    the unified diff as ``text/plain``. Without the JS bundle, or when the widget cannot be made, the
    snapshot alone (the problem is logged once): a display never fails the cell."""
    from .._safety import log_once

    snapshot = view.snapshot_bundle()
    if not bundle_available():
        log_once("widgets.prompt_diff_bundle", message=f"llmops_nb: the prompt diff's JS bundle is missing ({ESM}); "
                 "showing a static diff. Build it: cd js && npm ci && npm run build")
        return snapshot
    try:
        widget = PromptDiffWidget(view.name, view.a.version, view.b.version)
        shown = anywidget.AnyWidget._repr_mimebundle_(widget)
    except Exception as exc:  # noqa: BLE001 - no comm, a store problem: the snapshot still shows
        log_once("widgets.prompt_diff", exc)
        return snapshot
    if shown is None:
        return snapshot
    return {**shown[0], **snapshot}
