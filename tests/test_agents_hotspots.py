"""``agents.hotspots()``: time, tokens and cost by span, repeated calls, the critical path, prompt growth."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import openai
import pytest

import llmops_nb
from llmops_nb import agents
from llmops_nb.agents._hotspots_sql import FRAME_COLUMNS, GROWTH_COLUMNS, PATH_COLUMNS, REPEATED_COLUMNS
from llmops_nb.store._connection import get_store
from tests.fakes import FakeLLMServer, Reply, Usage

XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture
def server():
    with FakeLLMServer() as fake:
        yield fake


@pytest.fixture
def client(server):
    llmops_nb.autolog()
    try:
        with openai.OpenAI(api_key="sk-test", base_url=server.openai_base_url, max_retries=0) as sdk:
            yield sdk
    finally:
        llmops_nb.autolog(disable=True)


@llmops_nb.trace(kind="TOOL")
def weather(city):
    return {"city": city, "temp_c": 21}


def run_agent(client, server, session: str = "trip", tokens: tuple[int, ...] = (50, 50)) -> str:
    """An agent turn: the model asked twice the same thing, a tool called 3x with the same input."""
    server.enqueue(*(Reply(text="Sunny.", usage=Usage(input_tokens=n, output_tokens=5)) for n in tokens))
    ids = []

    @llmops_nb.trace(name="agent", kind="AGENT", session=session)
    def agent(question):
        ids.append(llmops_nb.get_current_span().trace_id)
        for _ in tokens:
            client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": question}])
        for city in ("Paris", "Paris", "Rome", "Paris"):
            weather(city)
        return "Sunny in Paris."

    agent("Weather in Paris?")
    return ids[0]


def reference_self_ms(spans) -> dict[str, float]:
    """Self time per span by the definition: duration minus the union of children clipped to the span."""
    out = {}
    for span in spans.itertuples():
        children = sorted((max(c.start_ns, span.start_ns), min(c.end_ns, span.end_ns))
                          for c in spans.itertuples() if c.parent_span_id == span.span_id)
        covered, reach = 0, None
        for a, b in children:
            if b <= a:
                continue
            start = a if reach is None else max(a, reach)
            covered += max(0, b - start)
            reach = b if reach is None else max(reach, b)
        out[span.span_id] = (span.end_ns - span.start_ns - covered) / 1e6
    return out


def test_the_frame_by_span_name_and_kind(client, server):
    trace_id = run_agent(client, server)
    spots = agents.hotspots(trace_id)
    frame = spots.frame
    assert list(frame.columns) == list(FRAME_COLUMNS) and spots.traces == 1
    rows = frame.set_index("name")
    assert rows.loc["weather", "calls"] == 4 and rows.loc["weather", "kind"] == "TOOL"
    llm = frame[frame.kind.isin(["LLM", "CHAT_MODEL"])].iloc[0]
    assert llm.calls == 2 and llm.input_tokens == 100 and llm.output_tokens == 10 and llm.cost_usd > 0
    assert frame.self_ms.is_monotonic_decreasing
    spans = llmops_nb.spans(trace_id)
    expected = spans.assign(self_ms=spans.span_id.map(reference_self_ms(spans))).groupby("name").self_ms.sum()
    assert rows.self_ms.to_dict() == pytest.approx(expected.to_dict(), abs=1e-6)
    assert rows.total_ms.to_dict() == pytest.approx(spans.groupby("name").duration_ms.sum().to_dict(), abs=1e-6)
    assert frame.share_of_wall.sum() == pytest.approx(1.0)  # nested self times add up to the wall
    assert spots.wall_ms == pytest.approx(int(spans.end_ns.max() - spans.start_ns.min()) / 1e6)


def test_repeated_calls_are_cache_candidates(client, server):
    trace_id = run_agent(client, server)
    repeated = agents.hotspots(trace_id).repeated
    assert list(repeated.columns) == list(REPEATED_COLUMNS)
    tool = repeated[repeated.kind == "TOOL"].iloc[0]
    assert (tool.trace_id, tool["name"], tool.calls, tool.wasted_calls) == (trace_id, "weather", 3, 2)
    assert '"Paris"' in tool.inputs_preview and tool.wasted_ms >= 0 and tool.wasted_input_tokens == 0
    model = repeated[repeated.kind != "TOOL"].iloc[0]
    one_call = llmops_nb.spans(trace_id).query("kind == @model.kind").cost_usd.iloc[0]
    assert (model.calls, model.wasted_input_tokens, model.wasted_output_tokens) == (2, 50, 5)
    assert model.wasted_cost_usd == pytest.approx(one_call)
    assert repeated.name.tolist().count("weather") == 1  # Rome was asked once: not repeated


def test_the_critical_path_follows_the_child_that_ends_last_through_threads():
    @llmops_nb.trace(name="quick", kind="TOOL")
    def quick():
        return 1

    @llmops_nb.trace(name="first step", kind="TOOL")
    def first_step():
        time.sleep(0.002)

    @llmops_nb.trace(name="last step", kind="TOOL")
    def last_step():
        time.sleep(0.002)

    @llmops_nb.trace(name="slow branch", kind="CHAIN")
    def slow_branch(other):
        first_step()
        other.result()  # ends after the quick branch has ended, whatever the scheduling
        last_step()

    @llmops_nb.trace(name="fan out", kind="AGENT")
    def fan_out():
        with ThreadPoolExecutor(2) as pool:
            fast = pool.submit(quick)
            pool.submit(slow_branch, fast).result()

    fan_out()
    llmops_nb.flush()
    trace_id = llmops_nb.traces(limit=1).trace_id[0]
    spots = agents.hotspots(trace_id)
    path = spots.critical_path()
    assert list(path.columns) == list(PATH_COLUMNS)
    assert path.name.tolist() == ["fan out", "slow branch", "last step"] and path.depth.tolist() == [0, 1, 2]
    assert path.parent_span_id.iloc[1] == path.span_id.iloc[0]
    assert (path.end_time.diff().dropna() <= dt_zero()).all()
    assert spots.critical_path(trace_id).span_id.tolist() == path.span_id.tolist()
    spans = llmops_nb.spans(trace_id)
    expected = reference_self_ms(spans)
    root = spans[spans.parent_span_id.isna()].span_id.iloc[0]
    assert spots.frame.set_index("name").self_ms["fan out"] == pytest.approx(expected[root], abs=1e-6)


def dt_zero():
    import pandas as pd

    return pd.Timedelta(0)


@pytest.mark.file_store  # writes the file store's tables directly (on a lake, traces is a view)
def test_self_time_counts_overlapping_children_once():
    """Exact numbers: a parent of 100 ms with children 10-50 and 30-70 (overlapping) and 90-120 (outliving it)."""
    ms = 1_000_000
    t0 = 1_790_000_000 * 10**9
    trace_id = "f" * 32
    rows = [("0000000000000001", None, "parent", "CHAIN", 0, 100), ("0000000000000002", "0000000000000001", "a",
            "TOOL", 10, 50), ("0000000000000003", "0000000000000001", "b", "TOOL", 30, 70),
            ("0000000000000004", "0000000000000001", "c", "TOOL", 90, 120)]
    with get_store().connect() as con:
        con.execute("INSERT INTO traces (trace_id, name, status, start_ns, end_ns) VALUES (?, 'parent', 'OK', ?, ?)",
                    [trace_id, t0, t0 + 100 * ms])
        for span_id, parent, name, kind, start, end in rows:
            con.execute("INSERT INTO spans (trace_id, span_id, parent_span_id, name, kind, start_ns, end_ns, status) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, 'OK')", [trace_id, span_id, parent, name, kind,
                                                               t0 + start * ms, t0 + end * ms])
    spots = agents.hotspots(trace_id)
    self_ms = spots.frame.set_index("name").self_ms.to_dict()
    assert self_ms == pytest.approx({"parent": 30.0, "a": 40.0, "b": 40.0, "c": 30.0})
    assert spots.frame.name.tolist()[0] in ("a", "b")
    assert spots.critical_path().name.tolist() == ["parent", "c"]  # c ends last, though it outlives its parent


def test_prompt_growth_per_session_turn(client, server):
    for tokens in ((10,), (20,), (40,)):
        run_agent(client, server, session="growing", tokens=tokens)
    run_agent(client, server, session="", tokens=(5,))  # an empty session id is no session
    spots = agents.hotspots(name="agent")
    growth = spots.prompt_growth
    assert list(growth.columns) == list(GROWTH_COLUMNS) and spots.traces == 4
    assert growth.session.tolist() == ["growing"] * 3 and growth.turn.tolist() == [1, 2, 3]
    assert growth.input_tokens.tolist() == [10, 20, 40] and growth.max_call_input_tokens.tolist() == [10, 20, 40]
    assert growth.growth.tolist() == [1.0, 2.0, 4.0]


def test_every_way_to_name_the_traces(client, server):
    first = run_agent(client, server)
    second = run_agent(client, server)
    llmops_nb.flush()
    frame = llmops_nb.traces()
    for given in ([first, second], frame, frame.trace_id, (second, first, first), None):
        spots = agents.hotspots(given)
        assert spots.traces == 2 and spots.frame.set_index("name").calls["weather"] == 8
    assert agents.hotspots(llmops_nb.get_trace(first)).traces == 1
    assert agents.hotspots(name="ag*").traces == 2 and agents.hotspots(name="other").traces == 0
    assert agents.hotspots([first, second], since="2100-01-01").traces == 0
    assert len(agents.hotspots([first, second]).repeated) == 4
    assert agents.hotspots(store=get_store()).traces == 2
    assert "2 traces" in repr(agents.hotspots())


def test_span_names_from_traces_are_escaped_in_the_table_and_the_figure():
    @llmops_nb.trace(name="agent", kind="AGENT")
    def agent():
        with llmops_nb.span(XSS, kind="TOOL"):
            pass
        with llmops_nb.span("ok", kind="TOOL"):
            pass

    agent()
    spots = agents.hotspots(name="agent")
    html = spots._repr_html_()
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    figure = spots.figure()
    labels = list(figure.data[0].y) + list(figure.data[1].y)
    assert "&lt;img src=x onerror=alert(1)&gt; · TOOL" in labels
    assert not any("<img" in label for label in labels)
    assert "<img" not in str(figure.layout.title.text)


def test_an_empty_store_gives_empty_answers_with_the_columns():
    spots = agents.hotspots()
    assert spots.traces == 0
    assert spots.frame.empty and list(spots.frame.columns) == list(FRAME_COLUMNS)
    assert spots.repeated.empty and list(spots.repeated.columns) == list(REPEATED_COLUMNS)
    assert spots.prompt_growth.empty and list(spots.prompt_growth.columns) == list(GROWTH_COLUMNS)
    assert "No spans" in spots._repr_html_()
    assert len(spots.figure().data) == 2
    assert agents.hotspots([]).traces == 0


@pytest.mark.parametrize(("call", "error", "match"), [
    (lambda: agents.hotspots(42), TypeError, r"hotspots\(\) takes a trace id, an iterable of them"),
    (lambda: agents.hotspots("not-an-id"), ValueError, r"32 lowercase hex characters.*llmops_nb.traces\(\)"),
    (lambda: agents.hotspots(llmops_nb.traces().drop(columns="trace_id")), ValueError,
     r"DataFrame with a trace_id column, e\.g\. llmops_nb\.traces"),
    (lambda: agents.hotspots("0" * 32), LookupError, r"No trace in the store matches 0{32}: take ids from"),
    (lambda: agents.hotspots(since="last week"), ValueError, r"is not an ISO date/time"),
    (lambda: agents.hotspots(store=3.5), TypeError, r"hotspots\(store=\.\.\.\) takes a path"),
    (lambda: agents.hotspots().critical_path(), ValueError, r"needs a trace id: these hotspots cover 0 traces"),
    (lambda: agents.hotspots().critical_path("0" * 32), LookupError, r"No spans of trace 0{32}"),
    (lambda: agents.hotspots().figure(top=0), ValueError, r"top=20"),
])
def test_bad_arguments_name_the_fix(call, error, match):
    with pytest.raises(error, match=match):
        call()
