"""Notebook views of the store, as anywidgets whose JavaScript is bundled into ``llmops_nb/static``.

One package per view, each mirrored by a folder of ``js/`` (``explorer``, ``trace_list``,
``eval_table``, ``prompt_diff``, ``graph``, ``sessions``); ``_base`` (bundle, availability, snapshot in the mimebundle),
``_rpc`` and ``_params`` (requests from the JS, bound to typed handlers) are shared.

``install_display()`` (called by ``%load_ext llmops_nb``) registers the views with
``llmops_nb._display``: every trace display — ``%%llm_trace`` output, a ``Trace`` as a cell's value,
``show()`` — becomes the interactive explorer, each ``evaluate()`` result the EvalTable, each
``PromptDiff`` the diff widget, each with a script-free HTML snapshot beside it for places that
cannot run widgets. Without anywidget, outside a kernel, or without the built bundle, a view shows
as that snapshot: a display never fails a cell.

>>> import llmops_nb
>>> from llmops_nb.widgets import show
>>> show(llmops_nb.traces().trace_id[0])  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import Any

from . import eval_table, graph, trace_list
from ._show import install_display, show, uninstall_display

# The functions trace_list(), eval_table() and graph() share their names with the view packages. Importing
# a subpackage sets the parent's attribute to it, once, when the subpackage is first imported; so the
# packages are imported here (their __init__ imports nothing) and the names handed to __getattr__,
# which answers with the functions from then on.
del eval_table, graph, trace_list

__all__ = ["AgentGraphView", "EvalTable", "PromptDiffWidget", "SessionsView", "TraceExplorer", "TraceList",
           "display_eval", "eval_table", "explorer_bundle", "graph", "install_display", "sessions_view", "show",
           "snapshot_bundle", "trace_list", "uninstall_display"]

# anywidget and ipywidgets take ~150 ms to import: a view's module is imported when it is first asked for
_LAZY = {
    "TraceExplorer": "explorer._widget", "explorer_bundle": "explorer._bundle", "snapshot_bundle": "explorer._bundle",
    "TraceList": "trace_list._widget", "trace_list": "trace_list._widget",
    "EvalTable": "eval_table._widget", "eval_table": "eval_table._widget", "display_eval": "eval_table._widget",
    "PromptDiffWidget": "prompt_diff._widget",
    "AgentGraphView": "graph._widget", "graph": "graph._widget",
    "SessionsView": "sessions._widget", "sessions_view": "sessions._widget",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'llmops_nb.widgets' has no attribute {name!r}")
