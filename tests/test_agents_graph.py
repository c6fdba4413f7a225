"""``agents.agent_graph()``: nodes, call/next/handoff edges, cycles, paths and the spans behind them,
over real traces recorded with ``@trace``/``span()`` into each test's own DuckDB file."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any

import pytest
from support import need

import llmops_nb
from llmops_nb import agents
from llmops_nb.agents._graph_sql import CYCLE_COLUMNS, EDGE_COLUMNS, NODE_COLUMNS, PATH_COLUMNS, SPAN_COLUMNS
from llmops_nb.store._connection import get_store

XSS = "<img src=x onerror=alert(1)>"
ARROWY = 'plan -> act: "go"\nnow'

#: a tree of spans: (name, kind, children)
Tree = tuple[str, str, list[Any]]


def leaf(name: str, kind: str = "TOOL") -> Tree:
    return (name, kind, [])


def record(tree: Tree) -> str:
    """Record ``tree`` as one trace (each span started after the one before it ended); its trace id."""
    name, kind, children = tree
    with llmops_nb.span(name, kind=kind):
        trace_id = llmops_nb.get_current_span().trace_id
        for child in children:
            record(child)
    return trace_id


def loop(*steps: str) -> Tree:
    """An agent whose children are model calls ("llm") and tools, in this order."""
    return ("agent", "AGENT", [leaf(step, "LLM" if step == "llm" else "TOOL") for step in steps])


def by_id(frame: Any) -> dict[str, dict[str, Any]]:
    return {row["id"]: row for row in frame.to_dict("records")}


def counts(graph: Any) -> dict[str, int]:
    return dict(zip(graph.edges.id, graph.edges["count"]))


def test_a_loop_of_model_calls_and_tools():
    trace_id = record(loop("llm", "search", "llm", "search", "llm"))
    graph = agents.agent_graph(trace_id)
    assert (graph.trace_count, graph.span_count, graph.truncated, graph.trace_ids) == (1, 6, False, [trace_id])
    assert list(graph.nodes.columns) == list(NODE_COLUMNS) and list(graph.edges.columns) == list(EDGE_COLUMNS)
    assert graph.nodes.id.tolist() == ["AGENT:agent", "LLM:llm", "TOOL:search"]  # first started first
    assert graph.nodes.calls.tolist() == [1, 3, 2] and graph.nodes.in_cycle.tolist() == [False, True, True]
    assert counts(graph) == {"call:AGENT:agent->LLM:llm": 3, "call:AGENT:agent->TOOL:search": 2,
                             "next:LLM:llm->TOOL:search": 2, "next:TOOL:search->LLM:llm": 2}
    edges = by_id(graph.edges)
    assert [edges[i]["in_cycle"] for i in counts(graph)] == [False, False, True, True]
    assert edges["next:LLM:llm->TOOL:search"]["source"] == "LLM:llm"
    assert edges["next:LLM:llm->TOOL:search"]["target"] == "TOOL:search"
    assert {edge["type"] for edge in edges.values()} == {"call", "next"}
    assert all(edge["traces"] == 1 and edge["share"] == 1.0 for edge in edges.values())
    assert list(graph.cycles.columns) == list(CYCLE_COLUMNS)
    assert graph.cycles.to_dict("records") == [{"id": "cycle-1", "nodes": ["LLM:llm", "TOOL:search"], "repeats": 2,
                                                "traces": 1, "label": "llm → search ×2"}]
    assert graph.paths.to_dict("records") == [{"path": "agent → (llm → search) ×2 → llm", "traces": 1,
                                               "share": 1.0}]
    spans = llmops_nb.spans(trace_id)
    search = spans[spans.name == "search"]
    node = by_id(graph.nodes)["TOOL:search"]
    assert node["duration_ms"] == pytest.approx(search.duration_ms.sum(), abs=1e-6)
    assert node["duration_ms_p50"] == pytest.approx(search.duration_ms.median(), abs=1e-6)
    assert node["first_ns"] == search.start_ns.min() and node["errors"] == 0 and node["traces"] == 1
    assert edges["next:LLM:llm->TOOL:search"]["duration_ms"] == pytest.approx(search.duration_ms.sum(), abs=1e-6)


def test_back_to_back_calls_are_a_self_loop():
    trace_id = record(loop(*["search"] * 12))
    graph = agents.agent_graph(trace_id)
    assert counts(graph) == {"call:AGENT:agent->TOOL:search": 12, "next:TOOL:search->TOOL:search": 11}
    assert graph.cycles[["nodes", "repeats", "label"]].to_dict("records") == [
        {"nodes": ["TOOL:search"], "repeats": 11, "label": "search ×11"}]
    assert graph.paths.path.tolist() == ["agent → search ×12"]
    assert graph.edges.set_index("id").in_cycle.to_dict() == {"call:AGENT:agent->TOOL:search": False,
                                                              "next:TOOL:search->TOOL:search": True}


def test_agents_handing_off_ping_pong():
    trace_id = record(("run", "CHAIN", [("A", "AGENT", [leaf("llm", "LLM")]), ("B", "AGENT", []),
                                        ("A", "AGENT", []), ("B", "AGENT", [leaf("lookup")])]))
    graph = agents.agent_graph(trace_id)
    assert counts(graph) == {"call:CHAIN:run->AGENT:A": 2, "call:CHAIN:run->AGENT:B": 2,
                             "handoff:AGENT:A->AGENT:B": 2, "handoff:AGENT:B->AGENT:A": 1,
                             "call:AGENT:A->LLM:llm": 1, "call:AGENT:B->TOOL:lookup": 1}
    assert not (graph.edges.type == "next").any()  # a handoff instead of a next, not beside it
    assert graph.cycles[["nodes", "repeats", "label"]].to_dict("records") == [
        {"nodes": ["AGENT:A", "AGENT:B"], "repeats": 1, "label": "A → B ×1"}]
    assert graph.edges.set_index("id").in_cycle["call:AGENT:A->LLM:llm"] == False  # noqa: E712 (numpy bool)
    assert graph.paths.path.tolist() == ["A → llm → B → A → B → lookup"]


def test_recursion_by_name_is_a_cycle_of_calls():
    trace_id = record(("agent", "AGENT", [("subagent", "AGENT", [("agent", "AGENT", [leaf("search")])])]))
    graph = agents.agent_graph(trace_id)
    assert counts(graph) == {"call:AGENT:agent->AGENT:subagent": 1, "call:AGENT:subagent->AGENT:agent": 1,
                             "call:AGENT:agent->TOOL:search": 1}
    assert by_id(graph.nodes)["AGENT:agent"]["calls"] == 2
    assert graph.cycles[["nodes", "repeats", "traces"]].to_dict("records") == [
        {"nodes": ["AGENT:agent", "AGENT:subagent"], "repeats": 1, "traces": 1}]
    assert graph.nodes.set_index("id").in_cycle.to_dict() == {"AGENT:agent": True, "AGENT:subagent": True,
                                                              "TOOL:search": False}


def test_a_sub_agent_calling_the_same_model_closes_no_loop():
    # planner: llm, search, llm, then a writer agent that calls the llm itself. Mixing call and next
    # edges would make llm -> (next) writer -> (call) llm a cycle no span went round.
    trace_id = record(("planner", "AGENT", [leaf("llm", "LLM"), leaf("search"), leaf("llm", "LLM"),
                                             ("writer", "AGENT", [leaf("llm", "LLM")])]))
    graph = agents.agent_graph(trace_id)
    assert graph.cycles.label.tolist() == ["llm → search ×1"]
    edges = by_id(graph.edges)
    assert edges["next:LLM:llm->AGENT:writer"]["in_cycle"] is False
    assert edges["call:AGENT:writer->LLM:llm"]["in_cycle"] is False
    assert by_id(graph.nodes)["AGENT:writer"]["in_cycle"] is False


def test_skipped_kinds_are_transparent():
    step = ("step", "CHAIN", [leaf("llm", "LLM"), ("inner", "CHAIN", [leaf("search")])])
    trace_id = record(("pipeline", "CHAIN", [("agent", "AGENT", [step, step])]))
    seen = agents.agent_graph(trace_id)
    assert counts(seen)["next:CHAIN:step->CHAIN:step"] == 1 and counts(seen)["call:CHAIN:inner->TOOL:search"] == 2
    graph = agents.agent_graph(trace_id, skip_kinds=("CHAIN",))
    assert graph.span_count == 10 and graph.nodes.id.tolist() == ["AGENT:agent", "LLM:llm", "TOOL:search"]
    # agent's children are now llm, search, llm, search; agent itself is top-level (its parent was hidden)
    assert counts(graph) == {"call:AGENT:agent->LLM:llm": 2, "call:AGENT:agent->TOOL:search": 2,
                             "next:LLM:llm->TOOL:search": 2, "next:TOOL:search->LLM:llm": 1}
    assert graph.cycles[["nodes", "repeats"]].to_dict("records") == [{"nodes": ["LLM:llm", "TOOL:search"],
                                                                       "repeats": 1}]
    assert graph.paths.path.tolist() == ["agent → (llm → search) ×2"]
    assert graph.span_ids("next:TOOL:search->LLM:llm") == [
        row.span_id for row in llmops_nb.spans(trace_id).itertuples() if row.name == "llm"][1:]
    assert agents.agent_graph(trace_id, skip_kinds="CHAIN").edges.id.tolist() == graph.edges.id.tolist()


def test_aggregated_over_traces_with_paths_and_a_cut():
    ids = [record(loop("llm", "search", "llm")) for _ in range(3)]
    ids.append(record(loop("llm", "fetch", "llm")))
    ids.append(record(loop("llm")))
    graph = agents.agent_graph(ids)
    assert graph.trace_count == 5 and graph.trace_ids == ids[::-1] and not graph.truncated  # newest first
    assert graph.span_count == 3 * 4 + 4 + 2
    assert list(graph.paths.columns) == list(PATH_COLUMNS)
    assert graph.paths.to_dict("records") == [
        {"path": "agent → llm → search → llm", "traces": 3, "share": 0.6},
        {"path": "agent → llm", "traces": 1, "share": 0.2},
        {"path": "agent → llm → fetch → llm", "traces": 1, "share": 0.2}]
    edges = by_id(graph.edges)
    assert (edges["next:LLM:llm->TOOL:search"]["count"], edges["next:LLM:llm->TOOL:search"]["traces"]) == (3, 3)
    assert edges["next:LLM:llm->TOOL:search"]["share"] == pytest.approx(0.6)
    assert edges["call:AGENT:agent->LLM:llm"]["traces"] == 5 and edges["call:AGENT:agent->LLM:llm"]["count"] == 9
    assert by_id(graph.nodes)["TOOL:fetch"]["traces"] == 1
    # one cycle, entered at llm by two back edges (search -> llm in 3 traces, fetch -> llm in 1): 4 traces
    assert graph.cycles[["nodes", "repeats", "traces"]].to_dict("records") == [
        {"nodes": ["LLM:llm", "TOOL:search", "TOOL:fetch"], "repeats": 4, "traces": 4}]
    assert agents.agent_graph(name="agent").trace_ids == ids[::-1]
    cut = agents.agent_graph(name="agent", limit=2)
    assert (cut.trace_count, cut.truncated, cut.trace_ids) == (2, True, ids[:2:-1])
    assert cut.paths.to_dict("records") == [{"path": "agent → llm", "traces": 1, "share": 0.5},
                                            {"path": "agent → llm → fetch → llm", "traces": 1, "share": 0.5}]
    assert agents.agent_graph(ids, limit=5).truncated is False
    assert cut.payload(max_paths=1)["paths"] == [{"path": "agent → llm", "traces": 1, "share": 0.5}]
    assert cut.payload()["trace_ids"] == [] and agents.agent_graph(ids[0]).payload()["trace_ids"] == [ids[0]]


def test_names_from_traces_round_trip_exactly():
    trace_id = record(("agent", "AGENT", [leaf(XSS), leaf(ARROWY), leaf(XSS)]))
    graph = agents.agent_graph(trace_id)
    edge = f"next:TOOL:{XSS}->TOOL:{ARROWY}"
    assert f"TOOL:{XSS}" in graph.nodes.id.tolist() and f"TOOL:{ARROWY}" in graph.nodes.id.tolist()
    assert counts(graph)[edge] == 1 and counts(graph)[f"next:TOOL:{ARROWY}->TOOL:{XSS}"] == 1
    payload = json.loads(json.dumps(graph.payload(), allow_nan=False))
    assert {node["name"] for node in payload["nodes"]} == {"agent", XSS, ARROWY}
    assert {(e["source"], e["target"]) for e in payload["edges"] if e["id"] == edge} == {
        (f"TOOL:{XSS}", f"TOOL:{ARROWY}")}
    assert payload["cycles"][0]["label"] == f"{XSS} → {ARROWY} ×1"
    assert payload["paths"][0]["path"] == f"agent → {XSS} → {ARROWY} → {XSS}"
    page = graph.spans(edge)
    assert page["total"] == 1 and page["rows"][0]["name"] == ARROWY
    assert [row["name"] for row in graph.spans(f"TOOL:{XSS}")["rows"]] == [XSS, XSS]


def test_the_payload_is_plain_json():
    trace_id = record(loop("llm", "search", "llm"))
    payload = agents.agent_graph(trace_id).payload()
    text = json.dumps(payload, allow_nan=False)  # raises on NaN; numpy values would not serialize
    assert json.loads(text) == payload
    assert set(payload) == {"trace_count", "span_count", "truncated", "trace_ids", "nodes", "edges", "cycles",
                            "paths"}
    assert set(payload["nodes"][0]) == set(NODE_COLUMNS) - {"first_ns"}
    assert set(payload["edges"][0]) == set(EDGE_COLUMNS)
    node = next(n for n in payload["nodes"] if n["id"] == "LLM:llm")
    assert node["cost_usd"] is None and node["calls"] == 2 and type(node["calls"]) is int
    assert type(node["in_cycle"]) is bool and type(node["duration_ms"]) is float
    assert payload["cycles"] == [{"id": "cycle-1", "nodes": ["LLM:llm", "TOOL:search"], "repeats": 1, "traces": 1,
                                  "label": "llm → search ×1"}]


def test_the_spans_behind_a_node_or_an_edge():
    first = record(loop("llm", "search", "llm", "search"))
    second = record(loop("search", "llm"))
    graph = agents.agent_graph([first, second])
    spans = llmops_nb.spans(first)
    newer = llmops_nb.spans(second)
    page = graph.spans("TOOL:search")
    assert page["total"] == 3 and (page["offset"], page["limit"]) == (0, 50)
    assert [(row["trace_id"], row["span_id"]) for row in page["rows"]] == [
        (second, newer.span_id[newer.name == "search"].iloc[0]),
        *((first, span_id) for span_id in spans.span_id[spans.name == "search"])]  # newest trace, then start order
    row = page["rows"][0]
    assert list(row) == list(SPAN_COLUMNS) and (row["name"], row["kind"], row["status"]) == ("search", "TOOL", "OK")
    start_ns = int(newer.start_ns[newer.name == "search"].iloc[0])
    utc = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(microseconds=start_ns // 1000)
    assert row["start_time"] == utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert row["duration_ms"] == pytest.approx(float(newer.duration_ms[newer.name == "search"].iloc[0]), abs=1e-6)
    second_page = graph.spans("TOOL:search", offset=1, limit=1)
    assert second_page["total"] == 3 and [r["span_id"] for r in second_page["rows"]] == [page["rows"][1]["span_id"]]
    assert graph.spans("TOOL:search", offset=10) == {"rows": [], "total": 3, "offset": 10, "limit": 50}
    back = graph.spans("next:TOOL:search->LLM:llm")
    assert back["total"] == 2 and {r["trace_id"] for r in back["rows"]} == {first, second}
    assert [r["name"] for r in back["rows"]] == ["llm", "llm"]
    one = agents.agent_graph(first)
    assert one.span_ids("LLM:llm") == spans.span_id[spans.name == "llm"].tolist()
    assert one.span_ids("next:LLM:llm->TOOL:search") == spans.span_id[spans.name == "search"].tolist()
    assert one.span_ids("call:AGENT:agent->LLM:llm") == one.span_ids("LLM:llm")
    with pytest.raises(ValueError, match=r"No node or edge 'TOOL:nope' in this graph: take an id from graph\.nodes"):
        graph.spans("TOOL:nope")
    with pytest.raises(ValueError, match=r"span_ids\(\) needs a graph of one trace; this one covers 2"):
        graph.span_ids("TOOL:search")
    with pytest.raises(ValueError, match=r"offset=100 for the second page"):
        graph.spans("TOOL:search", offset=-1)


def test_a_trace_in_progress_and_orphans_are_top_level():
    with llmops_nb.span("agent", kind="AGENT"):
        trace_id = llmops_nb.get_current_span().trace_id
        for name in ("llm", "search", "llm"):
            with llmops_nb.span(name, kind="LLM" if name == "llm" else "TOOL"):
                pass
        llmops_nb.flush()  # the children are written, the root is still open: its children are orphans
        graph = agents.agent_graph(trace_id)
    assert graph.nodes.id.tolist() == ["LLM:llm", "TOOL:search"] and graph.span_count == 3
    assert counts(graph) == {"next:LLM:llm->TOOL:search": 1, "next:TOOL:search->LLM:llm": 1}  # top-level siblings
    assert graph.paths.path.tolist() == ["llm → search → llm"]
    assert agents.agent_graph(trace_id).nodes.id.tolist() == ["AGENT:agent", "LLM:llm", "TOOL:search"]


@pytest.mark.file_store  # writes the file store's tables directly (on a lake, traces is a view)
def test_spans_whose_parent_is_missing_attach_to_nothing():
    t0 = 1_790_000_000 * 10**9
    trace_id = "e" * 32
    # the root never arrived; "act" and the second "plan" start together: the smaller span id goes first
    rows = [("0000000000000002", "00000000000000ff", "plan", "LLM", 10), ("0000000000000003", "0000000000000002",
            "search", "TOOL", 20), ("0000000000000004", "00000000000000fe", "plan", "LLM", 30),
            ("0000000000000001", "00000000000000fe", "act", "TOOL", 30)]
    with get_store().connect() as con:
        con.execute("INSERT INTO traces (trace_id, name, status, start_ns, end_ns) VALUES (?, NULL, NULL, ?, NULL)",
                    [trace_id, t0])
        for span_id, parent, name, kind, start in rows:
            con.execute("INSERT INTO spans (trace_id, span_id, parent_span_id, name, kind, start_ns, end_ns, status) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, 'OK')", [trace_id, span_id, parent, name, kind, t0 + start,
                                                               t0 + start + 5])
    graph = agents.agent_graph(trace_id)
    assert counts(graph) == {"call:LLM:plan->TOOL:search": 1, "next:LLM:plan->TOOL:act": 1,
                             "next:TOOL:act->LLM:plan": 1}
    assert graph.cycles.label.tolist() == ["plan → act ×1"] and graph.span_count == 4
    assert graph.paths.path.tolist() == ["plan → search → act → plan"]
    assert graph.span_ids("next:TOOL:act->LLM:plan") == ["0000000000000004"]
    assert graph.span_ids("LLM:plan") == ["0000000000000002", "0000000000000004"]
    assert by_id(graph.nodes)["LLM:plan"]["duration_ms"] == pytest.approx(10e-6)
    assert json.dumps(graph.payload(), allow_nan=False)


def test_an_empty_selection_is_an_empty_graph():
    for graph in (agents.agent_graph(), agents.agent_graph([]), agents.agent_graph("0" * 32)):
        assert (graph.trace_count, graph.span_count, graph.truncated, graph.trace_ids) == (0, 0, False, [])
        assert graph.nodes.empty and list(graph.nodes.columns) == list(NODE_COLUMNS)
        assert graph.edges.empty and list(graph.edges.columns) == list(EDGE_COLUMNS)
        assert graph.cycles.empty and graph.paths.empty and list(graph.paths.columns) == list(PATH_COLUMNS)
        assert graph.payload() == {"trace_count": 0, "span_count": 0, "truncated": False, "trace_ids": [],
                                   "nodes": [], "edges": [], "cycles": [], "paths": []}
        assert "0 traces: 0 nodes" in repr(graph)
    trace_id = record(loop("llm"))
    assert agents.agent_graph(trace_id, since="2100-01-01").trace_count == 0
    assert agents.agent_graph(name="other").trace_count == 0
    assert agents.agent_graph(llmops_nb.get_trace(trace_id), store=get_store()).trace_count == 1
    assert agents.agent_graph(llmops_nb.traces()).trace_ids == [trace_id]
    assert agents.agent_graph(iter([trace_id, trace_id])).trace_count == 1


@pytest.mark.parametrize(("call", "error", "match"), [
    (lambda: agents.agent_graph(42), TypeError, r"agent_graph\(\) takes a trace id, an iterable of them"),
    (lambda: agents.agent_graph({"trace_id": "x"}), TypeError, r"takes a trace id.*got dict"),
    (lambda: agents.agent_graph("not-an-id"), ValueError, r"32 lowercase hex characters.*llmops_nb.traces\(\)"),
    (lambda: agents.agent_graph(["0" * 32, 7]), ValueError, r"32 lowercase hex characters, got 7"),
    (lambda: agents.agent_graph(llmops_nb.traces().drop(columns="trace_id")), ValueError,
     r"agent_graph\(\) takes a DataFrame with a trace_id column"),
    (lambda: agents.agent_graph(limit=0), ValueError, r"limit=\.\.\.\) is how many traces at most"),
    (lambda: agents.agent_graph(limit=True), ValueError, r"limit=10_000"),
    (lambda: agents.agent_graph(skip_kinds=3), TypeError, r"skip_kinds=\('CHAIN',\)"),
    (lambda: agents.agent_graph(skip_kinds=["CHAIN", None]), TypeError, r"takes span kinds"),
    (lambda: agents.agent_graph(since="last week"), ValueError, r"is not an ISO date/time"),
    (lambda: agents.agent_graph(store=3.5), TypeError, r"agent_graph\(store=\.\.\.\) takes a path"),
])
def test_bad_arguments_name_the_fix(call, error, match):
    with pytest.raises(error, match=match):
        call()



def test_an_openai_agents_run_imported_from_opentelemetry():
    """The OpenAI Agents SDK's spans, through OpenInference and our OTel bridge (as in test_otel_frameworks)."""
    need("agents", "openai-agents")
    need("openinference.instrumentation.openai_agents", "openai-agents")
    import openai
    from agents import Agent, OpenAIResponsesModel, Runner, function_tool

    from tests.fakes import FakeLLMServer, Reply, ToolCall, Usage

    @function_tool
    def get_weather(city: str) -> str:
        """The weather in a city."""
        return f"Sunny in {city}"

    llmops_nb.autolog()
    try:
        with FakeLLMServer() as server:
            server.enqueue(Reply(text=None, tool_calls=[ToolCall("get_weather", {"city": "Paris"})],
                                 usage=Usage(input_tokens=20, output_tokens=5)),
                           Reply(text="It is sunny in Paris.", usage=Usage(input_tokens=40, output_tokens=7)))
            client = openai.AsyncOpenAI(api_key="sk-test-not-real-000000000000", base_url=server.openai_base_url)
            agent = Agent(name="Weather", instructions="Answer about the weather.", tools=[get_weather],
                          model=OpenAIResponsesModel(model="gpt-4o-mini", openai_client=client))

            async def run(question):
                try:
                    return (await Runner.run(agent, question)).final_output
                finally:
                    await client.close()

            @llmops_nb.trace(kind="AGENT")
            def ask(question):
                loop = asyncio.new_event_loop()
                try:
                    return loop.run_until_complete(run(question))
                finally:
                    loop.close()

            assert ask("Weather in Paris?") == "It is sunny in Paris."
    finally:
        llmops_nb.autolog(disable=True)
    llmops_nb.flush()
    graph = agents.agent_graph(llmops_nb.traces())
    assert {"AGENT:ask", "AGENT:Weather", "TOOL:get_weather", "CHAT_MODEL:openai.responses.create"} <= set(
        graph.nodes.id)
    assert counts(graph)["call:CHAIN:turn->TOOL:get_weather"] == 1  # the SDK's turn and response spans: CHAIN
    seen_through = agents.agent_graph(llmops_nb.traces(), skip_kinds=("CHAIN",))
    edges = counts(seen_through)
    assert edges["call:AGENT:Weather->TOOL:get_weather"] == 1
    assert edges["call:AGENT:Weather->CHAT_MODEL:openai.responses.create"] == 2
    assert edges["next:TOOL:get_weather->CHAT_MODEL:openai.responses.create"] == 1
    assert seen_through.cycles.label.tolist() == ["openai.responses.create → get_weather ×1"]
    assert seen_through.paths.path.tolist()[0].endswith(
        "Weather → openai.responses.create → get_weather → openai.responses.create")
