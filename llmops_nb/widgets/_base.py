"""What every view shares: its JS bundle, the check that it is built, the RPC it answers, and a
mimebundle that carries the script-free snapshot beside the widget.

A view is ``class TraceList(View, bundle="trace_list")``: the bundle is
``llmops_nb/static/<bundle>.js`` and ``.css``, built from ``js/<bundle>/`` (``js/build.mjs``).
anywidget reads those files when the class is defined, so they are only pointed at when they exist;
making a view without them raises an error that says how to build them. A subclass implements
``methods()`` (what its JS asks, see ``_rpc``) and ``snapshot()`` (``text/html`` without scripts
and ``text/plain``, for GitHub, nbviewer, exports and a notebook reopened without its kernel).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import anywidget

from ._rpc import Methods, RpcServer, attach

STATIC = Path(__file__).resolve().parent.parent / "static"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
#: Ranked first by llmops_nb's JupyterLab / Notebook 7 extension (js/labextension/), whose renderer shows
#: the widget when its model exists and the snapshot beside it when not (a notebook reopened after its
#: kernel restarted): never ipywidgets' "model not found". Elsewhere the type is unknown and ignored.
SAVED_VIEW_MIME = "application/vnd.llmops-nb.saved-view+json"


def esm_path(bundle: str) -> Path:
    return STATIC / f"{bundle}.js"


def css_path(bundle: str) -> Path:
    return STATIC / f"{bundle}.css"


def bundle_available(bundle: str) -> bool:
    """Whether the built JS/CSS are there (``pip install`` builds them; a bare checkout may not have)."""
    return esm_path(bundle).is_file() and css_path(bundle).is_file()


def missing_bundle(bundle: str) -> str:
    """What to do when a view's bundle is not built."""
    return (f"llmops_nb's widget bundle is missing ({esm_path(bundle)}). It is built when the package is installed "
            "(pip install needs npm for a source checkout); or build it by hand: cd js && npm ci && npm run build.")


def in_kernel() -> bool:
    """Whether this runs inside a Jupyter kernel (a terminal IPython has no use for a widget)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def check_options(owner: str, given: dict[str, Any], allowed: set[str], takes: str) -> None:
    """Unknown keyword arguments are a ``TypeError`` that names them (lonboard's "check the spelling")."""
    unknown = sorted(set(given) - allowed)
    if unknown:
        raise TypeError(f"{owner}() got unexpected keyword argument(s) {', '.join(map(repr, unknown))}; "
                        f"check the spelling. It takes: {takes}.")


def check_height(height: Any, low: int) -> int:
    if isinstance(height, bool) or not isinstance(height, (int, float)) or not low <= int(height) <= 4000:
        raise ValueError(f"height is in pixels, between {low} and 4000; got {height!r}.")
    return int(height)


class View(anywidget.AnyWidget):
    """Base of llmops_nb's widgets: bundle, availability, RPC and the snapshot in the mimebundle."""

    bundle: ClassVar[str] = ""

    def __init_subclass__(cls, bundle: str | None = None, **kwargs: Any) -> None:
        if bundle is not None:
            cls.bundle = bundle
            if bundle_available(bundle):  # before anywidget's hook, which reads the files
                cls._esm = esm_path(bundle)
                cls._css = css_path(bundle)
        super().__init_subclass__(**kwargs)

    def __init__(self, **traits: Any) -> None:
        if not bundle_available(self.bundle):
            raise RuntimeError(missing_bundle(self.bundle))
        super().__init__(**traits)
        self._rpc: RpcServer = attach(self, self.methods())

    def methods(self) -> Methods:
        """The requests this view's JS sends (``_rpc``)."""
        return Methods()

    def snapshot(self) -> dict[str, str]:
        """The script-free ``text/html`` and the ``text/plain`` of what the view shows now."""
        raise NotImplementedError

    def _repr_mimebundle_(self, **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]] | None:
        # the widget where widgets run; elsewhere (GitHub, nbviewer, exports, an untrusted notebook)
        # the snapshot beside it; our extension's type, which shows either (SAVED_VIEW_MIME)
        shown = super()._repr_mimebundle_(**kwargs)
        if shown is None:
            return None
        data, metadata = shown
        return {**data, **self.snapshot(), SAVED_VIEW_MIME: {"view": self.bundle}}, metadata
