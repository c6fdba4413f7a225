"""Agents: conversations across traces (``sessions()``, ``session()``) and where an agent's tokens, cost
and time go (``hotspots()``). Data only — DataFrames and a small HTML table; the views come later.

>>> from llmops_nb import agents
>>> agents.sessions(since="2026-12-01")          # doctest: +SKIP
>>> spots = agents.hotspots(llmops_nb.traces(name="agent", limit=500))  # doctest: +SKIP
>>> spots.frame.head(), spots.repeated, spots.critical_path(trace_id)  # doctest: +SKIP
"""

from ._hotspots import Hotspots, hotspots
from ._sessions import session, sessions

__all__ = ["Hotspots", "hotspots", "session", "sessions"]
