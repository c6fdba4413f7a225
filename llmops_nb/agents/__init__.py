"""Agents: conversations across traces (``sessions()``, ``session()``), where an agent's tokens, cost
and time go (``hotspots()``) and the graph of its calls, steps and loops (``agent_graph()``). Data
only — DataFrames, a small HTML table and the graph's payload; the views live in ``llmops_nb.widgets``.

>>> from llmops_nb import agents
>>> agents.sessions(since="2026-12-01")          # doctest: +SKIP
>>> spots = agents.hotspots(llmops_nb.traces(name="agent", limit=500))  # doctest: +SKIP
>>> spots.frame.head(), spots.repeated, spots.critical_path(trace_id)  # doctest: +SKIP
>>> agents.agent_graph(trace_id, skip_kinds=("CHAIN",)).cycles  # doctest: +SKIP
"""

from ._graph import AgentGraph, agent_graph
from ._hotspots import Hotspots, hotspots
from ._sessions import session, sessions

__all__ = ["AgentGraph", "Hotspots", "agent_graph", "hotspots", "session", "sessions"]
