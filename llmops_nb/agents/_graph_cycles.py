"""An agent graph's cycles: loops the agent went round, found by igraph from the aggregated edges.

Two kinds, each a strongly connected component of 2+ nodes in its own layer of edges:

- **loops of steps**, over the ``next`` and ``handoff`` edges (llm → search → llm …, A ⇄ B handoffs);
- **recursion by name**, over the ``call`` edges (agent → subagent → agent).

The layers are kept apart: mixed, a sub-agent that calls the same model as its parent would close a
"loop" (parent's llm → next → writer → call → llm) that no span went round. Plus each node's self-loop
(the same step back to back, or a span calling one of its own name). A cycle's *entry* is its node
whose first span starts earliest; its *back edges* are its layer's edges into the entry; ``repeats``
is their summed count — how many times the loop went round again. Only the small node and edge lists
are read; how many traces show a cycle is counted by the caller (``traces_of``'s back edges).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ._graph_sql import ARROW, REPEAT


@dataclass
class Cycle:
    nodes: list[str]  # node ids, the entry first, then by first start
    names: list[str]
    repeats: int
    back: list[int] = field(default_factory=list)  # positions of its back edges in the edge list

    @property
    def label(self) -> str:
        return ARROW.join(self.names) + f"{REPEAT}{self.repeats}"


@dataclass
class Cycles:
    cycles: list[Cycle]  # most repeats first
    nodes: set[str]  # node ids inside some cycle
    edges: list[bool]  # per edge (in the given order): inside a cycle


FLOW = ("next", "handoff")  # the edges whose loops are steps taken again; "call" edges are the other layer


def find_cycles(nodes: Any, edges: Any) -> Cycles:
    """The cycles of a graph: ``nodes`` with ``id``, ``name``, ``first_ns``; ``edges`` with ``type``,
    ``source``, ``target``, ``count`` (DataFrames, or anything with those columns)."""
    import igraph

    ids = list(nodes["id"])
    index = {node: i for i, node in enumerate(ids)}
    order = {node: (first, node) for node, first in zip(ids, nodes["first_ns"], strict=True)}
    name = dict(zip(ids, nodes["name"], strict=True))
    sources = [index[node] for node in edges["source"]]
    targets = [index[node] for node in edges["target"]]
    counts = [int(count) for count in edges["count"]]
    layers = [kind in FLOW for kind in edges["type"]]

    found: list[Cycle] = []
    in_cycle = [a == b for a, b in zip(sources, targets, strict=True)]
    for layer in (True, False):
        mine = [e for e, flow in enumerate(layers) if flow is layer]
        graph = igraph.Graph(n=len(ids), edges=[(sources[e], targets[e]) for e in mine], directed=True)
        membership = graph.connected_components(mode="strong").membership
        members: dict[int, list[str]] = {}
        for i, component in enumerate(membership):
            members.setdefault(component, []).append(ids[i])
        for component, group in members.items():
            if len(group) < 2:
                continue
            group.sort(key=order.__getitem__)
            entry = index[group[0]]
            back = [e for e in mine if targets[e] == entry and membership[sources[e]] == component]
            found.append(Cycle(group, [name[n] for n in group], sum(counts[e] for e in back), back))
        for e in mine:  # an edge between two nodes of one component of its layer: inside a cycle
            in_cycle[e] = in_cycle[e] or membership[sources[e]] == membership[targets[e]]

    loops: dict[int, list[int]] = {}  # a node's self-loops (a call and a next edge may both loop)
    for e, (a, b) in enumerate(zip(sources, targets, strict=True)):
        if a == b:
            loops.setdefault(a, []).append(e)
    for node, back in loops.items():
        found.append(Cycle([ids[node]], [name[ids[node]]], sum(counts[e] for e in back), back))

    found.sort(key=lambda cycle: (-cycle.repeats, order[cycle.nodes[0]], len(cycle.nodes)))
    inside = {node for cycle in found for node in cycle.nodes}
    return Cycles(found, inside, in_cycle)
