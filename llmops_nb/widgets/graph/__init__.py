"""The agent graph (``llmops_nb.graph()``), mirrored by ``js/graph/``: the widget (``_widget``), its
script-free snapshot (``_snapshot``: an SVG drawn by ``_svg`` where igraph's layered layout in
``_layout`` puts the boxes, and the tables of cycles and paths). The graph's data is
``llmops_nb.agents._graph``.

``graph`` and ``AgentGraphView`` are imported when first asked for: anywidget is slow to import.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["AgentGraphView", "graph"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("._widget", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
