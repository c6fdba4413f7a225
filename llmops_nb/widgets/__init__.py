"""Notebook views of the store, as anywidgets whose JavaScript is bundled into ``llmops_nb/static``.

``install_display()`` (called by ``%load_ext llmops_nb``) makes every trace display
— ``%%llm_trace`` output, a ``Trace`` as a cell's value, ``show()`` — the
interactive explorer, with a script-free HTML snapshot beside it for places
that cannot run widgets. Without anywidget, outside a kernel, or without the
built bundle, a trace shows as that snapshot: a display never fails a cell.

>>> import llmops_nb
>>> from llmops_nb.widgets import show
>>> show(llmops_nb.traces().trace_id[0])  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

__all__ = ["EvalTable", "TraceExplorer", "TraceList", "display_eval", "eval_table", "explorer_bundle",
           "install_display", "show", "trace_list", "uninstall_display"]

_WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def __getattr__(name: str) -> Any:
    # anywidget and ipywidgets take ~150 ms to import: only when a view is first made
    if name == "TraceExplorer":
        from ._explorer import TraceExplorer

        return TraceExplorer
    if name in ("TraceList", "trace_list"):
        from . import _trace_list

        return getattr(_trace_list, name)
    if name in ("EvalTable", "eval_table", "display_eval"):
        from . import _eval_table

        return getattr(_eval_table, name)
    raise AttributeError(f"module 'llmops_nb.widgets' has no attribute {name!r}")


def explorer_bundle(trace: Any, *, widget: bool | None = None) -> dict[str, Any]:
    """The mimebundle of a trace: the explorer widget's view, a script-free ``text/html``
    snapshot and a ``text/plain`` summary.

    ``widget=None`` adds the widget only inside a Jupyter kernel (a terminal has no use for it);
    ``True`` always tries, ``False`` never. Any failure leaves the snapshot alone in the bundle.
    """
    from .._safety import log_once

    want = _in_kernel() if widget is None else widget
    if want:
        try:
            from ._explorer import TraceExplorer, bundle_available

            if bundle_available():
                view = TraceExplorer(trace)
                shown = view._repr_mimebundle_()
                if shown is not None:
                    return dict(shown[0])
            else:
                log_once("widgets.bundle_missing", message="llmops_nb: the explorer's JS bundle is missing "
                         "(llmops_nb/static/explorer.js); traces show as static summaries. Reinstall llmops_nb, "
                         "or build it: cd js && npm ci && npm run build")
        except Exception as exc:  # noqa: BLE001 - anywidget missing, no comm, bad id: show the snapshot
            log_once("widgets.explorer", exc)
    return snapshot_bundle(trace)


def snapshot_bundle(trace: Any) -> dict[str, str]:
    """``text/html`` (the script-free snapshot) and ``text/plain`` for a trace; never raises.

    Uses ``_snapshot`` when present, else the one-line summary of ``_display``.
    """
    from .._safety import log_once
    from .._trace import Trace

    trace_id = getattr(trace, "trace_id", trace)
    try:
        from ._snapshot import trace_snapshot_html, trace_snapshot_text

        return {"text/plain": trace_snapshot_text(trace_id), "text/html": trace_snapshot_html(trace_id)}
    except ImportError:
        pass
    except Exception as exc:  # noqa: BLE001 - a display must not fail the cell
        log_once("widgets.snapshot", exc)
    try:
        from .._display import summary_html, summary_text

        obj = trace if isinstance(trace, Trace) else Trace(str(trace_id))
        return {"text/plain": summary_text(obj), "text/html": summary_html(obj)}
    except Exception as exc:  # noqa: BLE001
        return {"text/plain": f"<Trace {trace_id}: could not be read ({type(exc).__name__}: {exc})>"}


def install_display() -> None:
    """Show traces with the explorer, and each ``evaluate()`` result with the EvalTable, from now on
    (``%load_ext llmops_nb`` calls this)."""
    from .. import _display
    from ..evals._evaluate import result_hooks

    _display.set_trace_renderer(explorer_bundle)
    if _show_evaluation not in result_hooks:
        result_hooks.append(_show_evaluation)


def uninstall_display() -> None:
    """Back to the plain summary display."""
    from .. import _display
    from ..evals._evaluate import result_hooks

    _display.set_trace_renderer(None)
    if _show_evaluation in result_hooks:
        result_hooks.remove(_show_evaluation)


def _show_evaluation(frame: Any) -> None:
    # evaluate()'s result hook: the EvalTable under the cell (anywidget is imported only now)
    from ._eval_table import display_after_evaluate

    display_after_evaluate(frame)


def show(trace: Any, **options: Any) -> None:
    """Display a trace (a ``Trace`` or its id) with the explorer, or an evaluation result (``evaluate()``'s
    or ``compare_runs()``'s DataFrame) with the EvalTable; outside a notebook, print a summary.

    ``options`` are for evaluation results: ``compare_to=`` another run's DataFrame (or run id) to compare
    with, ``author=`` for the feedback given in the table, ``height=``.

    >>> import llmops_nb
    >>> llmops_nb.show(llmops_nb.traces().trace_id[0])  # doctest: +SKIP
    >>> llmops_nb.show(df_b, compare_to=df_a)  # doctest: +SKIP
    """
    from .._trace import Trace

    if hasattr(trace, "columns") and hasattr(trace, "attrs"):
        from ._eval_table import display_eval, is_eval_frame

        if is_eval_frame(trace):
            display_eval(trace, **options)
            return
        raise TypeError("show() takes a Trace, a trace id, or a DataFrame from evaluate() or compare_runs(); "
                        "this DataFrame has no run id and no <scorer>/value columns.")
    if options:
        raise TypeError(f"show() got {', '.join(map(repr, sorted(options)))}: options are for evaluation results; "
                        "a trace takes none.")

    if not isinstance(trace, Trace):
        trace_id = getattr(trace, "trace_id", trace)
        if not isinstance(trace_id, str):
            raise TypeError(f"show() takes a Trace or a trace id string, got {type(trace).__name__}.")
        trace = Trace(trace_id)
    bundle = explorer_bundle(trace)
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        print(bundle.get("text/plain", f"<Trace {trace.trace_id}>"))
        return
    if get_ipython() is None:
        print(bundle.get("text/plain", f"<Trace {trace.trace_id}>"))
        return
    display(bundle, raw=True)


def _in_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None
