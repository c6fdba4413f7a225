"""Where the snapshot draws each node and edge: igraph's Sugiyama layering, turned into pixels.

``Graph.layout_sugiyama`` puts every node on a layer, top to bottom (cycles broken by reversing a
small feedback arc set), orders each layer to cut crossings, and gives an edge that spans several
layers the points where its dummy vertices sit (``Layout.edge_routing``), so it bends around the
boxes in between. Its coordinates are in abstract units (x in node gaps, y the layer index); here
they become box centres, and each edge a polyline clipped to the borders of its two boxes. The live
view (``js/graph/layout.js``) lays the same graph out with dagre; the two agree on the shape
(layered, top to bottom), not on the pixel.

An edge going up (a loop back), or one that shares its two nodes with another edge, is a curve
bowed to its right, so that ``llm → search`` and ``search → llm`` are two lines, not one.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any

NODE_W, NODE_H = 196, 50  # px: a node's box
X_STEP = NODE_W + 44  # between the centres of neighbours in a layer
Y_STEP = NODE_H + 70  # between layers: room for the edges' labels
MARGIN = 24
LOOP = 34  # how far a self-loop reaches out of its box's right side
BOW = 26  # how far a curved edge bows from the straight line
MAXITER = 100  # crossing-reduction sweeps: plenty for the ~100 nodes a readable graph has

Point = tuple[float, float]


@dataclass
class Route:
    """One edge's line: ``points`` from the source's border to the target's (two or more), or a
    quadratic curve through ``control``, or (a self-loop) a loop on its box's right side."""

    points: list[Point]
    control: Point | None = None
    loop: int = -1  # a self-loop's place among its node's loops (0 the innermost); -1 not a loop
    label: Point = (0.0, 0.0)


@dataclass
class Placement:
    """Box centres by node id, routes by edge id, and the drawing's size."""

    nodes: dict[str, Point] = field(default_factory=dict)
    routes: dict[str, Route] = field(default_factory=dict)
    width: float = 0.0
    height: float = 0.0


def place(nodes: list[dict[str, Any]], edges: list[dict[str, Any]]) -> Placement:
    """Lay out the payload's ``nodes`` and ``edges`` (records as ``AgentGraph.payload()`` gives them)."""
    import igraph

    if not nodes:
        return Placement()
    index = {n["id"]: i for i, n in enumerate(nodes)}
    drawn = [e for e in edges if e["source"] in index and e["target"] in index]
    between = [e for e in drawn if e["source"] != e["target"]]
    graph = igraph.Graph(n=len(nodes), edges=[(index[e["source"]], index[e["target"]]) for e in between],
                         directed=True)
    layout = graph.layout_sugiyama(hgap=1, vgap=1, maxiter=MAXITER)
    coords = [(x * X_STEP, y * Y_STEP) for x, y in layout.coords[: len(nodes)]]
    bends = {e["id"]: [(x * X_STEP, y * Y_STEP) for x, y in points]
             for e, points in zip(between, layout.edge_routing or [[] for _ in between], strict=True)}
    centres = {n["id"]: coords[i] for i, n in enumerate(nodes)}
    placement = Placement(nodes=centres)
    pairs: dict[tuple[str, str], int] = {}
    for e in drawn:
        source, target = e["source"], e["target"]
        rank = pairs.get((source, target), 0)
        pairs[(source, target)] = rank + 1
        if source == target:
            placement.routes[e["id"]] = _loop(centres[source], rank)
            continue
        reverse = any(o["source"] == target and o["target"] == source for o in between)
        placement.routes[e["id"]] = _route(centres[source], centres[target], bends[e["id"]], rank, reverse)
    _frame(placement)
    return placement


def _route(start: Point, end: Point, bends: list[Point], rank: int, reverse: bool) -> Route:
    if bends:
        points = [_border(start, bends[0]), *bends, _border(end, bends[-1])]
        return Route(points, label=_middle(points))
    upward = end[1] < start[1] - 1
    bow = BOW * (rank + (1 if reverse or upward else 0))
    if not bow:
        points = [_border(start, end), _border(end, start)]
        return Route(points, label=_middle(points))
    dx, dy = end[0] - start[0], end[1] - start[1]
    length = math.hypot(dx, dy) or 1.0
    # the perpendicular on the line's right (y grows downwards): opposite edges bow apart
    control = ((start[0] + end[0]) / 2 - dy / length * bow * 2, (start[1] + end[1]) / 2 + dx / length * bow * 2)
    a, b = _border(start, control), _border(end, control)
    label = (0.25 * a[0] + 0.5 * control[0] + 0.25 * b[0], 0.25 * a[1] + 0.5 * control[1] + 0.25 * b[1])
    return Route([a, b], control=control, label=label)


def _loop(centre: Point, rank: int) -> Route:
    x, y = centre[0] + NODE_W / 2, centre[1]
    reach = LOOP + 14 * rank
    return Route([(x, y - 10), (x, y + 10)], loop=rank, label=(x + reach + 4, y))


def _border(centre: Point, toward: Point) -> Point:
    """Where the line from a box's centre toward ``toward`` leaves the box."""
    dx, dy = toward[0] - centre[0], toward[1] - centre[1]
    if dx == 0 and dy == 0:
        return centre
    scale = min((NODE_W / 2) / abs(dx) if dx else math.inf, (NODE_H / 2) / abs(dy) if dy else math.inf)
    return (centre[0] + dx * scale, centre[1] + dy * scale)


def _middle(points: list[Point]) -> Point:
    """The point halfway along a polyline."""
    lengths = [math.dist(a, b) for a, b in itertools.pairwise(points)]
    half = sum(lengths) / 2
    for (a, b), length in zip(itertools.pairwise(points), lengths, strict=True):
        if half <= length and length:
            t = half / length
            return (a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t)
        half -= length
    return points[-1]


def _frame(placement: Placement) -> None:
    """Shift everything so that the drawing starts at the margin; measure it."""
    xs, ys = [], []
    for x, y in placement.nodes.values():
        xs += [x - NODE_W / 2, x + NODE_W / 2 + 60]  # room for a cycle's badge or a loop on the right
        ys += [y - NODE_H / 2 - 14, y + NODE_H / 2]
    for route in placement.routes.values():
        for x, y in [*route.points, *([route.control] if route.control else [])]:
            xs.append(x)
            ys.append(y)
        if route.loop >= 0:
            xs.append(route.label[0] + 40)
    dx, dy = MARGIN - min(xs), MARGIN - min(ys)

    def move(p: Point) -> Point:
        return (p[0] + dx, p[1] + dy)

    placement.nodes = {k: move(p) for k, p in placement.nodes.items()}
    for route in placement.routes.values():
        route.points = [move(p) for p in route.points]
        route.control = move(route.control) if route.control else None
        route.label = move(route.label)
    placement.width = max(xs) - min(xs) + 2 * MARGIN
    placement.height = max(ys) - min(ys) + 2 * MARGIN
