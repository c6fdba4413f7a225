"""``agent_graph()``: who called whom in some traces, which steps followed which, and the loops.

A node is a (kind, name) pair; edges are ``call`` (parent → child), ``next`` (a sibling → the next one
in start order) and ``handoff`` (a ``next`` from an agent to an agent). The SQL (``_graph_sql.py``)
aggregates spans into nodes and edges in DuckDB; igraph finds the cycles in those few rows
(``_graph_cycles.py``); the traces are read as ``_graph_select.py`` says. ``AgentGraph.payload()`` is
what the graph view draws (``llmops_nb/widgets/graph/``); ``spans()`` what it lists for a click.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from . import _graph_sql as q
from ._graph_cycles import find_cycles
from ._graph_select import Selection, check_limit, select
from ._select import check_page, reading, resolve_store, trace_ids

__all__ = ["AgentGraph", "agent_graph"]

_EDGE_ORDER = {"call": 0, "next": 1, "handoff": 2}
_INTS = ("calls", "traces", "errors", "input_tokens", "output_tokens")


def agent_graph(traces: Any = None, *, since: Any = None, until: Any = None, name: str | None = None,
                store: Any = None, limit: int | None = 10_000, skip_kinds: Iterable[str] | str = ()) -> AgentGraph:
    """The graph of the agents, tools and model calls in some traces: an :class:`AgentGraph`.

    ``traces``: a trace id, an iterable of them, a ``Trace``, a DataFrame with a ``trace_id`` column
    (``llmops_nb.traces(...)``), or None for the traces passing the filters (``name`` exact or a glob,
    ``since``/``until`` on the trace's start, as in ``traces()``), which narrow either. The newest
    ``limit`` are used (``truncated`` says when there were more). ``skip_kinds``: span kinds to see
    through, e.g. ``("CHAIN",)``: their children hang from the nearest shown ancestor. ``store``: the
    configured store, a path to a DuckDB file, or a store.

    >>> from llmops_nb import agents
    >>> graph = agents.agent_graph(llmops_nb.traces(name="agent", since="1d"), skip_kinds=("CHAIN",))  # doctest: +SKIP
    >>> graph.nodes[["id", "calls", "duration_ms"]], graph.cycles, graph.paths.head()  # doctest: +SKIP
    """
    ids = trace_ids(traces, "agent_graph")
    limit = check_limit(limit, "agent_graph")
    skip = _skip_kinds(skip_kinds)
    resolved = resolve_store(store, "agent_graph")
    with reading(resolved) as con:
        selection = select(con, ids, since=since, until=until, name=name, limit=limit)
        rows = paths = None
        if selection.ids:  # both read in one hold of the store: a trace still running changes between reads
            values = {"ids": selection.ids, "skip": skip}
            sql = q.graph(selection.bound, bool(skip))
            rows = con.execute(sql, q.bind(sql, values)).df()
            sql = q.PATHS.format(bound=selection.bound)
            paths = con.execute(sql, q.bind(sql, values)).df()
    return AgentGraph(resolved, selection, skip, rows, paths)


class AgentGraph:
    """Agents, tools and model calls as a graph; made by :func:`agent_graph`.

    - ``nodes``: one row per (kind, name), first started first — ``id`` (``"KIND:name"``), ``calls``,
      ``traces``, ``errors``, ``duration_ms`` (sum) and ``duration_ms_p50``, tokens, ``cost_usd``,
      ``in_cycle``, ``first_ns``.
    - ``edges``: ``id`` (``"type:source->target"``), ``type`` (call, next, handoff), ``count``,
      ``traces``, ``share`` (of the traces), and the target spans' time, tokens, cost and errors.
    - ``cycles``: loops — ``nodes`` (entry first), ``repeats``, ``traces``, ``label``.
    - ``paths``: each trace's agents, tools, retrievals and model calls in start order, grouped.
    - ``spans(id)``: the spans behind a node or an edge; ``payload()``: all of it for the view.

    >>> graph = llmops_nb.agents.agent_graph(trace_id)  # doctest: +SKIP
    >>> graph.cycles.label.tolist()  # doctest: +SKIP
    ['chat gpt-4o → search ×2']
    """

    def __init__(self, store: Any, selection: Selection, skip: list[str], rows: Any, paths: Any) -> None:
        self._store = store
        self._skip = skip
        self._bound = selection.bound
        #: the traces covered, newest first
        self.trace_ids: list[str] = selection.ids
        self.trace_count = len(selection.ids)
        #: more traces matched than ``limit``: the newest were kept
        self.truncated = selection.truncated
        self.span_count = 0
        self.nodes, self.edges = _frames(rows, self.trace_count)
        if rows is not None:
            self.span_count = int(rows.loc[rows.what == "spans", "count"].iloc[0])
        #: node id -> (kind, name); edge id -> (type, source node id, target node id)
        self._node_keys = {row.id: (row.kind, row.name) for row in self.nodes[["id", "kind", "name"]].itertuples()}
        self._edge_keys = {row.id: (row.type, row.source, row.target)
                           for row in self.edges[["id", "type", "source", "target"]].itertuples()}
        self.cycles = self._cycles()
        #: each trace's path — its AGENT, TOOL, LLM, CHAT_MODEL and RETRIEVER spans' names in start order, a
        #: name repeated back to back written once as ``"name ×N"``, joined by ``" → "`` — grouped: ``path``,
        #: ``traces``, ``share`` (of the traces); most frequent first. Traces without such spans have none.
        self.paths = _paths(paths, self.trace_count)

    def _cycles(self) -> Any:
        import pandas as pd

        found = find_cycles(self.nodes, self.edges)
        self.nodes["in_cycle"] = self.nodes["id"].isin(found.nodes)
        self.edges["in_cycle"] = pd.Series(found.edges, index=self.edges.index, dtype=bool)
        traces = [self._single_traces(cycle.back) for cycle in found.cycles]
        several = {i: cycle for i, cycle in enumerate(found.cycles) if traces[i] is None}
        if several:  # which traces hold any of a cycle's back edges: asked of the spans, for all such cycles at once
            traces_by_cycle = self._cycle_traces(several)
            traces = [traces_by_cycle.get(i, 0) if t is None else t for i, t in enumerate(traces)]
        return pd.DataFrame({"id": [f"cycle-{i + 1}" for i in range(len(found.cycles))],
                             "nodes": [cycle.nodes for cycle in found.cycles],
                             "repeats": [cycle.repeats for cycle in found.cycles],
                             "traces": traces, "label": [cycle.label for cycle in found.cycles]},
                            columns=list(q.CYCLE_COLUMNS))

    def _single_traces(self, back: list[int]) -> int | None:
        """A cycle's trace count when no query is needed: one trace, or one back edge (its ``traces``)."""
        if self.trace_count == 1:
            return 1
        return int(self.edges["traces"].iloc[back[0]]) if len(back) == 1 else None

    def _cycle_traces(self, cycles: dict[int, Any]) -> dict[int, int]:
        back = [(i, *self._edge_keys[self.edges["id"].iloc[e]]) for i, cycle in cycles.items() for e in cycle.back]
        params: dict[str, list[Any]] = {"cycle": [i for i, _, _, _ in back], "type": [t for _, t, _, _ in back],
                                        "src_kind": [], "src_name": [], "dst_kind": [], "dst_name": []}
        for _, _, source, target in back:
            for end, node in (("src", source), ("dst", target)):
                params[f"{end}_kind"].append(self._node_keys[node][0])
                params[f"{end}_name"].append(self._node_keys[node][1])
        frame = self._query(q.cycle_traces(self._bound, bool(self._skip)), params)
        return {int(i): int(n) for i, n in zip(frame["cycle"], frame["traces"], strict=True)}

    def _query(self, sql: str, params: dict[str, Any]) -> Any:
        with reading(self._store) as con:
            return con.execute(sql, q.bind(sql, {"ids": self.trace_ids, "skip": self._skip, **params})).df()

    def payload(self, max_paths: int = 10) -> dict[str, Any]:
        """Everything the graph view draws, JSON-safe (NaN as None): counts, ``trace_ids`` (the one
        trace's id when there is one trace, else empty), ``nodes``, ``edges``, ``cycles``, the first
        ``max_paths`` ``paths``."""
        return {"trace_count": self.trace_count, "span_count": self.span_count, "truncated": self.truncated,
                "trace_ids": list(self.trace_ids) if self.trace_count == 1 else [],
                "nodes": _records(self.nodes.drop(columns="first_ns")), "edges": _records(self.edges),
                "cycles": _records(self.cycles), "paths": _records(self.paths.head(max_paths))}

    def spans(self, selector: str, *, offset: int = 0, limit: int | None = 50) -> dict[str, Any]:
        """The spans behind a node id or an edge id (an edge's: its target spans), newest trace first,
        then in start order: ``{"rows": [...], "total", "offset", "limit"}``.

        >>> graph.spans("TOOL:search", limit=20)["rows"][0]["span_id"]  # doctest: +SKIP
        """
        limit, offset = check_page(limit, offset, "spans")
        sql, params = self._selected(selector, paged=True)
        frame = self._query(sql, {**params, "limit": limit, "offset": offset})
        total = int(frame["total"].iloc[0])
        rows = _records(frame[frame["span_id"].notna()][list(q.SPAN_COLUMNS)])
        return {"rows": rows, "total": total, "offset": offset, "limit": limit}

    def span_ids(self, selector: str) -> list[str]:
        """Every span id behind a node or an edge of a one-trace graph, in start order."""
        if self.trace_count != 1:
            raise ValueError(f"span_ids() needs a graph of one trace; this one covers {self.trace_count}. "
                             f"Use spans({selector!r}) for pages of spans with their trace ids.")
        sql, params = self._selected(selector, paged=False)
        return [str(span_id) for span_id in self._query(sql, params)["span_id"]]

    def _selected(self, selector: Any, paged: bool) -> tuple[str, dict[str, Any]]:
        if isinstance(selector, str) and selector in self._node_keys:
            kind, name = self._node_keys[selector]
            return (q.selected_spans(self._bound, bool(self._skip), edge=False, paged=paged),
                    {"dst_kind": kind, "dst_name": name})
        if isinstance(selector, str) and selector in self._edge_keys:
            edge_type, source, target = self._edge_keys[selector]
            (src_kind, src_name), (dst_kind, dst_name) = self._node_keys[source], self._node_keys[target]
            return (q.selected_spans(self._bound, bool(self._skip), edge=True, paged=paged),
                    {"type": edge_type, "src_kind": src_kind, "src_name": src_name, "dst_kind": dst_kind,
                     "dst_name": dst_name})
        raise ValueError(f"No node or edge {selector!r} in this graph: take an id from graph.nodes.id or "
                         "graph.edges.id, e.g. 'TOOL:search' or 'next:LLM:chat->TOOL:search'.")

    def __repr__(self) -> str:
        def count(n: int, what: str) -> str:
            return f"{n} {what}{'' if n == 1 else 's'}"

        return (f"<AgentGraph of {count(self.trace_count, 'trace')}: {count(len(self.nodes), 'node')}, "
                f"{count(len(self.edges), 'edge')}, {count(len(self.cycles), 'cycle')}; .nodes, .edges, .cycles, "
                ".paths, .spans(id), .payload()>")


def _skip_kinds(skip_kinds: Any) -> list[str]:
    kinds = [skip_kinds] if isinstance(skip_kinds, str) else skip_kinds
    kinds = list(kinds) if isinstance(kinds, Iterable) and not isinstance(kinds, bytes) else None
    if kinds is None or not all(isinstance(kind, str) for kind in kinds):
        raise TypeError(f"agent_graph(skip_kinds=...) takes span kinds as in spans.kind, e.g. skip_kinds=('CHAIN',); "
                        f"got {skip_kinds!r}.")
    return list(dict.fromkeys(kinds))


def _frames(rows: Any, trace_count: int) -> tuple[Any, Any]:
    """The nodes and edges DataFrames from the graph query's rows (None: no traces)."""
    import pandas as pd

    if rows is None:
        return pd.DataFrame(columns=list(q.NODE_COLUMNS)), pd.DataFrame(columns=list(q.EDGE_COLUMNS))
    nodes = rows[rows.what == "node"].rename(columns={"count": "calls"})
    nodes = nodes.assign(id=nodes["kind"] + ":" + nodes["name"], in_cycle=False)
    nodes = nodes.sort_values(["first_ns", "id"], kind="stable").reset_index(drop=True)
    key_to_id = dict(zip(nodes["target"].tolist(), nodes["id"], strict=True))
    position = {node: i for i, node in enumerate(nodes["id"])}
    edges = rows[rows.what == "edge"]
    edges = edges.assign(source=[key_to_id[k] for k in edges["source"].tolist()],
                         target=[key_to_id[k] for k in edges["target"].tolist()], in_cycle=False,
                         share=edges["traces"] / trace_count)
    edges = edges.assign(id=edges["type"] + ":" + edges["source"] + "->" + edges["target"])
    order = [(position[s], position[t], _EDGE_ORDER[kind]) for s, t, kind in
             zip(edges["source"], edges["target"], edges["type"], strict=True)]
    edges = edges.iloc[sorted(range(len(edges)), key=order.__getitem__)].reset_index(drop=True)
    nodes = nodes.astype({column: "int64" for column in (*_INTS, "first_ns")})
    edges = edges.astype({column: "int64" for column in (*_INTS[1:], "count")})
    return nodes[list(q.NODE_COLUMNS)], edges[list(q.EDGE_COLUMNS)]


def _paths(sequences: Any, trace_count: int) -> Any:
    """The paths frame from ``PATHS``' rows — each distinct sequence of names and its trace count —
    with back-to-back repeats compressed; most traces first, then by path."""
    import pandas as pd

    traces: dict[str, int] = {}
    for names, count in ([] if sequences is None else sequences.itertuples(index=False, name=None)):
        path = fold(list(names))
        traces[path] = traces.get(path, 0) + int(count)
    frame = pd.DataFrame({"path": list(traces), "traces": list(traces.values())}, columns=["path", "traces"])
    frame = frame.sort_values(["traces", "path"], ascending=[False, True], kind="stable").reset_index(drop=True)
    return frame.assign(share=frame["traces"] / max(trace_count, 1))


MAX_LOOP = 32  # the longest block of steps that a path folds when the block repeats back to back


def fold(names: list[str]) -> str:
    """A path as text, its loops folded: a step repeated back to back once (``search ×12``), a block of
    up to :data:`MAX_LOOP` steps repeated back to back once too (``(llm → search) ×5``), the block's
    own repeats folded inside it. At each step the block that folds the most steps wins (the shorter
    one on a tie), so an agent's 10,000-step loop is one short line, not 10,000 names.

    >>> fold(["agent", "llm", "search", "llm", "search", "llm", "fetch", "fetch", "fetch", "answer"])
    'agent → (llm → search) ×2 → llm → fetch ×3 → answer'
    """
    out: list[str] = []
    i = 0
    while i < len(names):
        best_len, best_times = 1, 1
        for length in range(1, MAX_LOOP + 1):
            block = names[i:i + length]
            if len(block) < length:
                break
            times = 1
            while names[i + times * length:i + (times + 1) * length] == block:
                times += 1
            if times > 1 and times * length > best_times * best_len:
                best_len, best_times = length, times
        if best_times == 1:
            out.append(names[i])
        else:
            step = names[i] if best_len == 1 else f"({fold(names[i:i + best_len])})"
            out.append(f"{step}{q.REPEAT}{best_times}")
        i += best_len * best_times
    return q.ARROW.join(out)


def _plain(value: Any) -> Any:
    """A JSON-safe Python value: numpy scalars unwrapped, NaN and NA as None, lists element by element."""
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    import pandas as pd

    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if value is None or pd.isna(value) or (isinstance(value, float) and not math.isfinite(value)):
        return None
    return value


def _records(frame: Any) -> list[dict[str, Any]]:
    return [{column: _plain(value) for column, value in zip(frame.columns, row, strict=True)}
            for row in frame.itertuples(index=False, name=None)]
