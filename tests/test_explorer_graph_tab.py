"""The explorer's graph tab, kernel side (``llmops_nb/widgets/explorer/_graph.py``): ``trace_graph`` answers a
trace's agent graph, ``trace_graph_spans`` the span ids behind a node or an edge, through the explorer's
methods that every view embedding an explorer answers too; ``view`` is TraceExplorer's tab, and the
script-free snapshot does not depend on it — over real traces in each test's own DuckDB file."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

import llmops_nb
from llmops_nb import agents
from llmops_nb.widgets._rpc import Methods, RpcServer
from llmops_nb.widgets.explorer import _graph
from llmops_nb.widgets.explorer._widget import TraceExplorer, explorer_methods
from llmops_nb.widgets.graph import AgentGraphView
from llmops_nb.widgets.sessions._widget import sessions_methods
from llmops_nb.widgets.trace_list._widget import trace_list_methods

XSS = '<img src=x onerror="window.__xss=1">'


def ask(methods: Methods, method: str, params: dict[str, Any]) -> dict[str, Any]:
    """A request as the view sends it, through the RPC server: the response message."""
    sent: list[dict[str, Any]] = []
    with ThreadPoolExecutor(1) as pool:
        server = RpcServer(methods, sent.append, pool)
        future = server.handle({"type": "request", "id": 1, "method": method, "params": params})
        assert future is not None
        future.exception()  # wait: the reply is sent from the future's callback
    assert len(sent) == 1
    return sent[0]


@pytest.fixture
def trace_id() -> str:
    """An agent: llm, search, llm, search, a helper chain calling search, and a tool named like markup."""
    with llmops_nb.span("planner", kind="AGENT") as root:
        for step in ("llm", "search", "llm", "search"):
            with llmops_nb.span(step, kind="LLM" if step == "llm" else "TOOL"):
                pass
        with llmops_nb.span("helper", kind="CHAIN"), llmops_nb.span("search", kind="TOOL"):
            pass
        with llmops_nb.span(XSS, kind="TOOL"):
            pass
    llmops_nb.flush()
    return root.trace_id


@pytest.fixture(autouse=True)
def _forget_graphs():
    yield
    _graph._kept.clear()


def spans_named(trace_id: str, name: str) -> list[str]:
    frame = llmops_nb.spans(trace_id).sort_values(["start_time", "span_id"])
    return frame[frame.name == name].span_id.tolist()


def test_every_view_embedding_an_explorer_answers_the_tab(trace_id):
    for methods in (explorer_methods, trace_list_methods, sessions_methods, AgentGraphView(trace_id).methods()):
        assert {"trace_graph", "trace_graph_spans"} <= set(methods.names())
    # the graph view's own `graph` (its payload of many traces) is still its own
    assert ask(AgentGraphView(trace_id).methods(), "graph", {})["data"]["trace_count"] == 1


def test_trace_graph_answers_the_payload_drawn_without_paths(trace_id):
    reply = ask(explorer_methods, "trace_graph", {"trace_id": trace_id})
    assert reply["ok"] is True, reply
    payload = reply["data"]
    expected = agents.agent_graph(trace_id).payload(max_paths=0)
    assert payload == expected
    assert payload["trace_ids"] == [trace_id] and payload["span_count"] == 8 and payload["paths"] == []
    ids = {node["id"] for node in payload["nodes"]}
    assert {"AGENT:planner", "LLM:llm", "TOOL:search", "CHAIN:helper", f"TOOL:{XSS}"} == ids
    assert any(cycle["nodes"] == ["LLM:llm", "TOOL:search"] for cycle in payload["cycles"])


def test_trace_graph_spans_picks_a_node_or_an_edge(trace_id):
    ask(explorer_methods, "trace_graph", {"trace_id": trace_id})
    node = ask(explorer_methods, "trace_graph_spans", {"trace_id": trace_id, "selector": "TOOL:search"})
    assert node["ok"] is True, node
    assert node["data"] == {"span_ids": spans_named(trace_id, "search")}  # all three, in start order
    assert len(node["data"]["span_ids"]) == 3
    # an edge: its target spans that took part in it (the searches right after an llm)
    edge = ask(explorer_methods, "trace_graph_spans", {"trace_id": trace_id, "selector": "next:LLM:llm->TOOL:search"})
    assert edge["data"]["span_ids"] == spans_named(trace_id, "search")[:2]
    xss = ask(explorer_methods, "trace_graph_spans", {"trace_id": trace_id, "selector": f"TOOL:{XSS}"})
    assert xss["data"]["span_ids"] == spans_named(trace_id, XSS)


def test_a_click_reads_the_graph_it_was_made_from(trace_id, monkeypatch):
    made: list[str] = []
    real = agents.agent_graph

    def counting(*args: Any, **kwargs: Any) -> Any:
        made.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(agents, "agent_graph", counting)
    # a click without the graph read first (another kernel process, a graph forgotten): it is read
    ask(explorer_methods, "trace_graph_spans", {"trace_id": trace_id, "selector": "LLM:llm"})
    assert made == [trace_id]
    ask(explorer_methods, "trace_graph", {"trace_id": trace_id})  # opening the tab reads it afresh
    assert made == [trace_id, trace_id]
    for selector in ("LLM:llm", "TOOL:search", "CHAIN:helper"):  # clicks read only the spans
        assert ask(explorer_methods, "trace_graph_spans", {"trace_id": trace_id, "selector": selector})["ok"]
    assert made == [trace_id, trace_id]


def test_only_a_few_graphs_are_kept(monkeypatch):
    monkeypatch.setattr(_graph, "KEPT", 2)
    ids = []
    for k in range(3):
        with llmops_nb.span(f"agent {k}", kind="AGENT") as root:
            pass
        ids.append(root.trace_id)
    llmops_nb.flush()
    for trace_id in ids:
        assert ask(explorer_methods, "trace_graph", {"trace_id": trace_id})["ok"]
    assert [trace_id for _store, trace_id in _graph._kept] == ids[1:]


@pytest.mark.parametrize(("params", "match"), [
    ({"trace_id": "nope", "selector": "TOOL:search"}, "32 lowercase hex"),
    ({"selector": "TOOL:search"}, "trace_id"),
    ({"trace_id": "0" * 32}, "selector"),
])
def test_bad_requests_are_answered_with_the_reason(params, match):
    reply = ask(explorer_methods, "trace_graph_spans", params)
    assert reply["ok"] is False and match in reply["error"]


def test_an_unknown_node_is_named(trace_id):
    ask(explorer_methods, "trace_graph", {"trace_id": trace_id})
    reply = ask(explorer_methods, "trace_graph_spans", {"trace_id": trace_id, "selector": "TOOL:serach"})
    assert reply["ok"] is False and "'TOOL:serach'" in reply["error"]


def test_a_trace_not_in_the_store_has_an_empty_graph():
    reply = ask(explorer_methods, "trace_graph", {"trace_id": "0" * 32})
    assert reply["ok"] is True and reply["data"]["nodes"] == [] and reply["data"]["trace_count"] == 0


def test_view_is_the_tab_and_does_not_change_the_snapshot(trace_id):
    tree = TraceExplorer(trace_id)
    graph = TraceExplorer(trace_id, view="graph")
    assert (tree.view, graph.view) == ("tree", "graph")
    assert graph.get_state()["view"] == "graph"
    assert tree.snapshot() == graph.snapshot()  # the graph's snapshot is llmops_nb.graph()'s
    with pytest.raises(ValueError, match=r"'tree'.*or 'graph'.*'grpah'"):
        TraceExplorer(trace_id, view="grpah")
