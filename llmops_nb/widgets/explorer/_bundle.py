"""What a trace displays as: the explorer widget beside its script-free snapshot, never an error.

``%load_ext llmops_nb`` registers :func:`explorer_bundle` as the renderer of traces
(``llmops_nb._display``): every ``%%llm_trace`` output and every ``Trace`` shown in a cell.
Without anywidget, outside a kernel, or without the built bundle a trace shows as the snapshot.
"""

from __future__ import annotations

from typing import Any

from .._base import bundle_available, in_kernel
from ._snapshot_bundle import snapshot_bundle


def explorer_bundle(trace: Any, *, widget: bool | None = None) -> dict[str, Any]:
    """The mimebundle of a trace: the explorer widget's view, a script-free ``text/html``
    snapshot and a ``text/plain`` summary.

    ``widget=None`` adds the widget only inside a Jupyter kernel (a terminal has no use for it);
    ``True`` always tries, ``False`` never. Any failure leaves the snapshot alone in the bundle.
    """
    from ..._safety import log_once

    want = in_kernel() if widget is None else widget
    if want:
        try:
            if bundle_available("explorer"):
                from ._widget import TraceExplorer

                shown = TraceExplorer(trace)._repr_mimebundle_()
                if shown is not None:
                    return dict(shown[0])
            else:
                log_once("widgets.bundle_missing", message="llmops_nb: the explorer's JS bundle is missing "
                         "(llmops_nb/static/explorer.js); traces show as static summaries. Reinstall llmops_nb, "
                         "or build it: cd js && npm ci && npm run build")
        except Exception as exc:  # noqa: BLE001 - anywidget missing, no comm, bad id: show the snapshot
            log_once("widgets.explorer", exc)
    return snapshot_bundle(trace)
