"""``llmops_nb.graph()`` / ``AgentGraphView``: the requests its view sends (``graph``, ``spans``, the explorer's),
the ``selected`` traitlet, its script-free SVG snapshot (escaped, well-formed, laid out by igraph), and the
errors bad arguments raise — over real traces recorded into each test's own DuckDB file."""

from __future__ import annotations

import itertools
import json
import re
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
from typing import Any

import pytest

import llmops_nb
from llmops_nb import agents
from llmops_nb.widgets import _base
from llmops_nb.widgets._rpc import RpcServer
from llmops_nb.widgets.graph import AgentGraphView, graph
from llmops_nb.widgets.graph._layout import NODE_W, place
from llmops_nb.widgets.graph._snapshot import EMPTY, snapshot

XSS = '<img src=x onerror="window.__xss=1">'
ARROWY = 'plan -> act: "go"\nnow'
SVG = "{http://www.w3.org/2000/svg}"


def agent_turn(steps: list[str], tool: str = "search") -> str:
    """One trace: an agent calling the model and ``tool`` in the order of ``steps``, then a researcher agent
    handing off to a writer agent that calls a tool named like markup. Its trace id."""
    with llmops_nb.span("planner", kind="AGENT"):
        trace_id = llmops_nb.get_current_span().trace_id
        for step in steps:
            with llmops_nb.span("llm" if step == "llm" else tool, kind="LLM" if step == "llm" else "TOOL"):
                pass
        with llmops_nb.span("researcher", kind="AGENT"):
            pass
        with llmops_nb.span("writer", kind="AGENT"), llmops_nb.span(XSS, kind="TOOL"):
            pass
    return trace_id


class _Tags(HTMLParser):
    """Every start tag of some HTML with its attributes."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


@pytest.fixture
def turns() -> list[str]:
    ids = [agent_turn(["llm", "search", "llm", "search", "llm"]), agent_turn(["llm", "search", "llm"])]
    llmops_nb.flush()
    return ids


def ask(view: AgentGraphView, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """A request as the view sends it, through the RPC server: the response message."""
    sent: list[dict[str, Any]] = []
    with ThreadPoolExecutor(1) as pool:
        server = RpcServer(view.methods(), sent.append, pool)
        future = server.handle({"type": "request", "id": 1, "method": method, "params": params or {}})
        assert future is not None
        future.exception()  # wait: the reply is sent from the future's callback
    pool.shutdown(wait=True)
    assert len(sent) == 1
    return sent[0]


def svg_of(html_text: str) -> ET.Element:
    match = re.search(r"<svg\b.*?</svg>", html_text, re.S)
    assert match, html_text[:500]
    return ET.fromstring(match.group(0))


# ------------------------------------------------------------------------------------------------ requests

def test_graph_answers_the_payload_computed_once(turns):
    view = graph(turns)
    assert isinstance(view, AgentGraphView) and view.bundle == "graph"
    expected = agents.agent_graph(turns).payload(max_paths=10)
    answer = ask(view, "graph")
    assert answer["ok"] and answer["data"] == expected
    json.dumps(answer["data"], allow_nan=False)  # what the comm sends: plain JSON
    assert answer["data"] is view.payload()  # cached on the widget, not computed per request
    assert expected["trace_count"] == 2 and {n["id"] for n in expected["nodes"]} >= {"AGENT:planner", "TOOL:search",
                                                                                        f"TOOL:{XSS}"}
    assert sorted(view.methods().names()) == ["graph", "search", "skeleton", "span", "spans",
                                              "trace_graph", "trace_graph_spans"]


def test_spans_are_paged_and_open_in_the_explorer(turns):
    view = graph(turns)
    first = ask(view, "spans", {"selector": "TOOL:search"})
    assert first["ok"], first
    data = first["data"]
    assert (data["total"], data["offset"], data["limit"]) == (3, 0, 50)
    assert {row["name"] for row in data["rows"]} == {"search"}
    assert {row["trace_id"] for row in data["rows"]} == set(turns)
    page = ask(view, "spans", {"selector": "TOOL:search", "offset": 1, "limit": 1})["data"]
    assert page["total"] == 3 and len(page["rows"]) == 1 and page["rows"][0] == data["rows"][1]
    edge = next(e["id"] for e in view.payload()["edges"] if e["type"] == "handoff")
    handoffs = ask(view, "spans", {"selector": edge})["data"]
    assert handoffs["total"] == 2 and {row["name"] for row in handoffs["rows"]} == {"writer"}
    # a row opens its trace: the explorer's requests are answered by the same widget
    row = data["rows"][0]
    skeleton = ask(view, "skeleton", {"trace_id": row["trace_id"]})
    assert skeleton["ok"] and row["span_id"] in skeleton["data"]["spans"]["span_id"]
    assert ask(view, "span", {"trace_id": row["trace_id"], "span_id": row["span_id"]})["ok"]


@pytest.mark.parametrize(("params", "message"), [
    ({"selector": "TOOL:nope"}, "TOOL:nope"),
    ({"selector": "TOOL:search", "limit": 0}, "limit must be an integer between 1 and 500"),
    ({"selector": "TOOL:search", "limit": 501}, "limit must be an integer between 1 and 500"),
    ({"selector": "TOOL:search", "offset": -1}, "offset must be an integer at least 0"),
    ({"selector": "TOOL:search", "limit": "10"}, "limit must be an integer"),
    ({}, "spans needs selector"),
    ({"selector": "TOOL:search", "page": 2}, "unknown spans parameter(s) 'page'"),
])
def test_bad_requests_are_answered_with_what_to_send(turns, params, message):
    answer = ask(graph(turns), "spans", params)
    assert not answer["ok"] and message in answer["error"], answer


# ----------------------------------------------------------------------------------------------- selection

def test_selected_is_synced_view_state_and_checked(turns):
    view = AgentGraphView(turns, selected="TOOL:search", height=600)
    assert view.selected == "TOOL:search" and view.height == 600
    assert view.trait_metadata("selected", "sync") is True
    state = view.get_state()
    assert state["selected"] == "TOOL:search" and state["trace_id"] is None
    # view state only: no graph data in traitlets
    assert {key for key in state if not key.startswith("_")} == {
        "selected", "height", "trace_id", "selected_span_id", "collapsed_span_ids", "search_text", "layout",
        "tabbable", "tooltip"}
    view.selected = None
    assert view.get_state()["selected"] is None
    with pytest.raises(ValueError, match=r"'TOOL:serch' is no node or edge of this graph\. Did you mean 'TOOL:search'"):
        AgentGraphView(turns, selected="TOOL:serch")
    with pytest.raises(TypeError, match="selected is a node or edge id"):
        AgentGraphView(turns, selected=3)
    # the explorer's state, as the trace list keeps it
    opened = AgentGraphView(turns, trace_id=turns[0], selected_span_id="a" * 16, search_text="x")
    assert opened.trace_id == turns[0] and opened.get_state()["selected_span_id"] == "a" * 16


def test_a_computed_graph_is_shown_as_it_is(turns):
    computed = agents.agent_graph(turns[0], skip_kinds=("AGENT",))
    view = AgentGraphView(computed)
    assert view.agent_graph is computed
    assert view.payload()["trace_ids"] == [turns[0]]
    assert not any(n["kind"] == "AGENT" for n in view.payload()["nodes"])


# ------------------------------------------------------------------------------------------------- snapshot

def test_the_snapshot_is_a_script_free_escaped_well_formed_svg(turns):
    view = graph(turns)
    shown = view.snapshot()
    html_text, text = shown["text/html"], shown["text/plain"]
    assert "<script" not in html_text.lower() and "javascript:" not in html_text.lower()
    tags = _Tags(html_text).tags
    assert not [(tag, name) for tag, attrs in tags for name, _ in attrs if name.startswith("on")]  # no handlers
    assert {tag for tag, _ in tags} <= {"div", "p", "figure", "figcaption", "svg", "g", "title", "rect", "text",
                                        "path", "polygon", "table", "caption", "thead", "tbody", "tr", "th", "td"}
    assert XSS not in html_text and "&lt;img src=x onerror=&quot;window.__xss=1&quot;&gt;" in html_text
    svg = svg_of(html_text)
    assert svg.tag == f"{SVG}svg" and float(svg.get("width")) > 0 and float(svg.get("height")) > 0
    nodes = [g for g in svg.iter(f"{SVG}g") if g.get("class") == "node"]
    assert len(nodes) == len(view.payload()["nodes"])
    titles = [g.find(f"{SVG}title").text for g in nodes]
    assert any(title.startswith(XSS) for title in titles)  # the whole name, as text
    edges = [g for g in svg.iter(f"{SVG}g") if (g.get("class") or "").startswith("edge")]
    assert len(edges) == len(view.payload()["edges"])
    assert {g.get("class") for g in edges} >= {"edge call", "edge next", "edge handoff"}
    handoff = next(g for g in edges if g.get("class") == "edge handoff")
    dashed = next(g for g in edges if g.get("class") == "edge next")
    assert float(handoff.find(f"{SVG}path").get("stroke-width")) > 2.5
    assert dashed.find(f"{SVG}path").get("stroke-dasharray")
    badges = [g for g in svg.iter(f"{SVG}g") if g.get("class") == "cycle-badge"]
    assert [b.find(f"{SVG}text").text for b in badges] == [f"↻ ×{c['repeats']}" for c in view.payload()["cycles"]]
    labels = [t.text for t in svg.iter(f"{SVG}text")]
    assert "handoff ×2 · 100%" in labels
    # the tables of cycles and paths, and a one-line summary
    assert "llm → search" in html_text
    assert "planner → (llm → search) ×2 → llm → researcher → writer" in html_text
    assert "\n" not in text and text.startswith("AgentGraph: Agent graph of 2 traces")
    assert "1 cycle" in text and repr(view).startswith("AgentGraphView: Agent graph of 2 traces")
    ET.fromstring(html_text)  # the whole snapshot is well-formed markup too


def test_the_selection_is_outlined_in_the_snapshot(turns):
    view = AgentGraphView(turns, selected="TOOL:search")
    svg = svg_of(view.snapshot()["text/html"])
    search = next(g for g in svg.iter(f"{SVG}g") if g.get("class") == "node"
                  and g.find(f"{SVG}title").text.startswith("search"))
    assert search.find(f"{SVG}rect").get("stroke-width") == "3"


def test_the_mimebundle_carries_the_snapshot_beside_the_widget(turns):
    view = graph(turns[0])
    data, _ = view._repr_mimebundle_()
    assert _base.WIDGET_MIME in data and data[_base.SAVED_VIEW_MIME] == {"view": "graph"}
    assert data["text/html"] == view.snapshot()["text/html"]
    assert "Agent graph of trace " + turns[0] in data["text/plain"]


def test_names_with_quotes_newlines_and_arrows_stay_text():
    with llmops_nb.span("agent", kind="AGENT"):
        trace_id = llmops_nb.get_current_span().trace_id
        for _ in range(3):
            with llmops_nb.span(ARROWY, kind="TOOL"):
                pass
    llmops_nb.flush()
    view = graph(trace_id)
    assert [c["repeats"] for c in view.payload()["cycles"]] == [2]
    svg = svg_of(view.snapshot()["text/html"])
    titles = [g.find(f"{SVG}title").text for g in svg.iter(f"{SVG}g") if g.get("class") == "node"]
    assert any(title.startswith(ARROWY) for title in titles)
    texts = [t.text for t in svg.iter(f"{SVG}text")]
    assert 'plan -> act: "go" now' in texts  # in the box: one line


def test_an_empty_graph_says_so(turns):
    view = graph(["f" * 32])  # an id no trace has
    assert view.payload()["nodes"] == [] and ask(view, "graph")["data"]["trace_count"] == 0
    shown = view.snapshot()
    assert EMPTY in shown["text/html"] and "<svg" not in shown["text/html"]
    assert shown["text/plain"] == "AgentGraph: Agent graph of 0 traces (0 spans): 0 nodes, 0 edges, 0 cycles."


def test_the_layout_keeps_boxes_apart_and_puts_callers_above():
    nodes = [{"id": f"TOOL:t{i}", "name": f"t{i}", "kind": "TOOL"} for i in range(8)]
    edges = [{"id": f"call:TOOL:t0->TOOL:t{i}", "source": "TOOL:t0", "target": f"TOOL:t{i}"} for i in range(1, 8)]
    edges += [{"id": "next:TOOL:t1->TOOL:t2", "source": "TOOL:t1", "target": "TOOL:t2"},
              {"id": "next:TOOL:t2->TOOL:t1", "source": "TOOL:t2", "target": "TOOL:t1"},
              {"id": "next:TOOL:t3->TOOL:t3", "source": "TOOL:t3", "target": "TOOL:t3"}]
    placed = place(nodes, edges)
    at = placed.nodes
    assert all(at["TOOL:t0"][1] < at[f"TOOL:t{i}"][1] for i in range(1, 8))
    assert all(abs(a[0] - b[0]) >= NODE_W for a, b in itertools.combinations(at.values(), 2) if a[1] == b[1])
    assert set(placed.routes) == {e["id"] for e in edges}
    assert placed.routes["next:TOOL:t3->TOOL:t3"].loop == 0
    # the two directions between t1 and t2 are two curves, bowed apart
    one, two = placed.routes["next:TOOL:t1->TOOL:t2"], placed.routes["next:TOOL:t2->TOOL:t1"]
    assert one.control and two.control and one.control != two.control
    assert all(x >= 0 and y >= 0 for x, y in at.values())
    assert placed.width > 0 and placed.height > 0


def test_snapshot_of_a_payload_without_a_view():
    payload = {"trace_count": 1, "span_count": 1, "truncated": True, "trace_ids": ["a" * 32], "cycles": [],
               "paths": [], "edges": [],
               "nodes": [{"id": "LLM:x", "name": "x", "kind": "LLM", "calls": 1, "traces": 1, "errors": 0,
                          "duration_ms": 1.0, "duration_ms_p50": 1.0, "input_tokens": 5, "output_tokens": 3,
                          "cost_usd": 0.0001, "in_cycle": False}]}
    shown = snapshot(payload)
    assert "8 tok" in shown["text/html"] and "$0.00010" in shown["text/html"] and "No cycles" in shown["text/html"]
    assert "pass limit= for more" in shown["text/plain"]


# ------------------------------------------------------------------------------------------- bad arguments

def test_bad_arguments_raise_errors_that_name_the_fix(turns):
    with pytest.raises(TypeError, match=r"graph\(\) got unexpected keyword argument\(s\) 'skip_kind'; check the "
                                        r"spelling\. It takes: traces, since, until, name, store, limit, skip_kinds"):
        graph(turns, skip_kind=("CHAIN",))
    with pytest.raises(TypeError, match="'selected'"):
        graph(turns, selected="TOOL:search")  # the function takes the graph's arguments; the class its state
    with pytest.raises(TypeError, match=r"AgentGraphView\(\) got unexpected keyword argument\(s\) 'hieght'"):
        AgentGraphView(turns, hieght=300)
    with pytest.raises(TypeError, match="agent_graph"):
        graph(42)
    with pytest.raises(ValueError, match="limit=10_000"):
        graph(turns, limit=0)
    with pytest.raises(TypeError, match="skip_kinds=\\('CHAIN',\\)"):
        graph(turns, skip_kinds=3)


@pytest.mark.parametrize("height", [239, 4001, True, "520", None])
def test_height_is_checked(turns, height):
    with pytest.raises(ValueError, match="height is in pixels, between 240 and 4000"):
        graph(turns, height=height)


def test_heights_in_range(turns):
    assert graph(turns, height=240).height == 240
    assert graph(turns, height=4000.0).height == 4000


def test_the_public_name():
    assert llmops_nb.graph is graph
    from llmops_nb import widgets

    assert widgets.graph is graph and widgets.AgentGraphView is AgentGraphView
