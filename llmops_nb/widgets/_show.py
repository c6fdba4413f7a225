"""Wiring the views into the notebook: the display renderers ``%load_ext`` registers, and ``show()``."""

from __future__ import annotations

from typing import Any


def install_display() -> None:
    """Show traces with the explorer, each ``evaluate()`` result with the EvalTable and each ``PromptDiff``
    with its widget, from now on (``%load_ext llmops_nb`` calls this)."""
    from .. import _display

    _display.register(_display.TRACE, _trace_renderer)
    _display.register(_display.EVALUATION, _evaluation_renderer)
    _display.register(_display.PROMPT_DIFF, _prompt_diff_renderer)


def uninstall_display() -> None:
    """Back to the plain summaries and snapshots."""
    from .. import _display

    for kind in (_display.TRACE, _display.EVALUATION, _display.PROMPT_DIFF):
        _display.register(kind, None)


# The renderers import their view only when something is shown: %load_ext stays fast.
def _trace_renderer(trace: Any) -> dict[str, Any]:
    from .explorer._bundle import explorer_bundle

    return explorer_bundle(trace)


def _evaluation_renderer(results: Any) -> dict[str, Any] | None:
    from .eval_table._widget import evaluation_bundle

    return evaluation_bundle(results)


def _prompt_diff_renderer(view: Any) -> dict[str, Any]:
    from .prompt_diff._widget import prompt_diff_bundle

    return prompt_diff_bundle(view)


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
        from .eval_table._sides import is_eval_frame
        from .eval_table._widget import display_eval

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
    from .explorer._bundle import explorer_bundle

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
