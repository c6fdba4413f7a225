"""Trajectory scorers on real agent loops: the openai SDK against the fake server, tools as TOOL spans."""

from __future__ import annotations

import json

import anthropic
import openai
import pytest

import llmops_nb
from llmops_nb._trace import Trace
from llmops_nb.evals import evaluate, scorers
from llmops_nb.models import forget_models
from tests.fakes import FakeLLMServer, Reply, ToolCall

TOOLS = [{"type": "function", "function": {"name": name, "parameters": {"type": "object"}}}
         for name in ("search", "book", "cancel")]
BOOK_SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}, "nights": {"type": "integer"}},
               "required": ["city"], "additionalProperties": False}


@llmops_nb.trace(kind="TOOL")
def search(q):
    return {"hits": [f"result for {q}"]}


@llmops_nb.trace(kind="TOOL")
def book(city, nights=1):
    return {"booked": city, "nights": nights}


@llmops_nb.trace(kind="TOOL")
def cancel(booking_id):
    raise RuntimeError(f"no booking {booking_id}")


TRACED = {"search": search, "book": book, "cancel": cancel}
PLAIN = {"search": search.__wrapped__, "book": book.__wrapped__, "cancel": cancel.__wrapped__}


@pytest.fixture
def server():
    with FakeLLMServer() as fake:
        yield fake


@pytest.fixture
def client(server):
    llmops_nb.autolog()
    with openai.OpenAI(api_key="sk-test", base_url=server.openai_base_url, max_retries=0) as sdk:
        yield sdk
    forget_models()
    llmops_nb.autolog(disable=True)


def make_agent(client, tools=TRACED):
    """The usual loop: ask the model, run the tools it asks for, until it answers with text."""
    @llmops_nb.trace(name="agent", kind="AGENT")
    def agent(question):
        messages = [{"role": "user", "content": question}]
        for _ in range(10):
            message = client.chat.completions.create(model="agent-model", messages=messages,
                                                     tools=TOOLS).choices[0].message
            if not message.tool_calls:
                return message.content
            messages.append(message.model_dump(exclude_none=True))
            for call in message.tool_calls:
                try:
                    result = tools[call.function.name](**json.loads(call.function.arguments))
                except Exception as exc:  # the model is told, as agents do
                    result = {"error": str(exc)}
                messages.append({"role": "tool", "tool_call_id": call.id, "content": json.dumps(result)})
        raise RuntimeError("the agent did not finish in 10 turns")
    return agent


def turns(*calls: list[ToolCall], answer: str = "Done.") -> list[Reply]:
    """One model reply per turn of tool calls, then the final text."""
    return [*(Reply(text=None, tool_calls=batch) for batch in calls), Reply(text=answer)]


def tools_trace(*calls: tuple[str, dict]) -> str:
    """A stored trace whose agent (no model) makes these tool calls; some may fail."""
    @llmops_nb.trace(name="scripted", kind="AGENT")
    def agent():
        for name, arguments in calls:
            try:
                TRACED[name](**arguments)
            except RuntimeError:
                pass
    agent()
    llmops_nb.flush()
    return str(llmops_nb.traces().trace_id[0])


def passed(trace_id: str) -> dict[str, bool]:
    """Each scorer's stored verdict on a trace (``assessments.passed``)."""
    rows = llmops_nb.sql("SELECT name, passed FROM assessments WHERE trace_id = ?", [trace_id])
    return {name: bool(value) for name, value in zip(rows.name, rows.passed, strict=True)}


def score(scorer, trace_id, expectations=None):
    return scorer.score(trace=Trace(trace_id), inputs=None, outputs=None, expectations=expectations)


# ------------------------------------------------------------------------------------------ in evaluate()

def test_a_real_agent_loop_scored_in_evaluate(server, client):
    server.enqueue(*turns([ToolCall("search", {"q": "hotels in Paris"})],
                          [ToolCall("book", {"city": "Paris", "nights": 2})], answer="Booked 2 nights in Paris."))
    expected = ["search", {"name": "book", "arguments": {"city": "Paris", "nights": 2}}]
    row = {"inputs": {"question": "Book me a hotel in Paris"}, "expectations": {"expected_tools": expected}}
    df = evaluate([row], predict_fn=make_agent(client), progress=False, max_concurrency=1, scorers=[
        scorers.tool_sequence(mode="exact"), scorers.tool_sequence(["book"], mode="subset", name="only_booking"),
        scorers.tool_arguments(), scorers.tool_arguments(schemas={"book": BOOK_SCHEMA}, name="book_schema"),
        scorers.tool_errors(), scorers.redundant_calls(), scorers.step_budget(4)])
    assert df["outputs"][0] == "Booked 2 nights in Paris."
    assert df["tool_sequence/value"][0]
    assert df["tool_sequence/rationale"][0] == "called search, book: matches search then book (exact)"
    assert not df["only_booking/value"][0]
    assert df["only_booking/rationale"][0] == "expected only book; got search, book: search is not among them"
    assert df["tool_arguments/value"][0] == 1.0
    assert df["tool_arguments/rationale"][0] == "1 of 1 calls have the right arguments"
    assert df["book_schema/value"][0] == 1.0
    assert df["tool_errors/value"][0] == 0 and df["tool_errors/rationale"][0] == "none of 2 tool calls failed"
    assert df["redundant_calls/value"][0] == 0
    assert df["redundant_calls/rationale"][0] == "no call repeated with the same inputs (5 calls)"
    # two tools and three model calls; the agent itself is not a step
    assert df["step_budget/value"][0] == 5
    assert df["step_budget/rationale"][0] == "5 steps (3 CHAT_MODEL, 2 TOOL), over the budget of 4"
    assert all(df[f"{name}/error"].isna().all() for name in ("tool_sequence", "tool_arguments", "step_budget"))
    assert passed(df.trace_id[0]) == {"tool_sequence": True, "only_booking": False, "tool_arguments": True,
                                      "book_schema": True, "tool_errors": True, "redundant_calls": True,
                                      "step_budget": False}


def test_searching_four_times_for_the_same_thing_is_redundant_and_over_budget(server, client):
    weather = ToolCall("search", {"q": "weather"})
    server.enqueue(*turns([weather], [weather], [weather, weather], answer="Sunny."))
    df = evaluate([{"inputs": {"question": "Weather?"}}], predict_fn=make_agent(client), progress=False,
                  scorers=[scorers.redundant_calls(), scorers.step_budget(6),
                           scorers.redundant_calls(kinds=("CHAT_MODEL",), name="same_prompt"),
                           scorers.tool_sequence(["search"], mode="exact")])
    assert df["redundant_calls/value"][0] == 3
    assert df["redundant_calls/rationale"][0] == ("3 redundant of 8 calls; most repeated: search({'q': 'weather'}) "
                                                  "x4")
    assert df["same_prompt/value"][0] == 0  # each model call saw a longer conversation
    assert df["step_budget/value"][0] == 8
    assert df["step_budget/rationale"][0] == "8 steps (4 CHAT_MODEL, 4 TOOL), over the budget of 6"
    assert df["tool_sequence/rationale"][0] == ("expected search; got search, search, search, search: search is "
                                                "one call too many")


def test_a_failing_tool_is_counted_and_named(server, client):
    server.enqueue(*turns([ToolCall("cancel", {"booking_id": "B-7"})], [ToolCall("search", {"q": "bookings"})]))
    df = evaluate([{"inputs": {"question": "Cancel B-7"}}], predict_fn=make_agent(client), progress=False,
                  scorers=[scorers.tool_errors(), scorers.redundant_calls()])
    assert df["tool_errors/value"][0] == 1
    assert df["tool_errors/rationale"][0] == "1 of 2 tool calls failed: cancel({'booking_id': 'B-7'}): no booking B-7"
    assert passed(df.trace_id[0]) == {"tool_errors": False, "redundant_calls": True}


def test_untraced_tools_fall_back_to_the_calls_the_model_requested(server, client):
    server.enqueue(*turns([ToolCall("search", {"q": "Paris"}), ToolCall("book", '{"city": Par')]))
    df = evaluate([{"inputs": {"question": "Paris"}}], predict_fn=make_agent(client, tools=PLAIN), progress=False,
                  scorers=[scorers.tool_sequence(["search", "book"]),
                           scorers.tool_arguments(schemas={"book": BOOK_SCHEMA}), scorers.tool_errors()])
    note = " (the tool calls the model requested: the trace has no TOOL spans)"
    assert df["tool_sequence/value"][0]
    assert df["tool_sequence/rationale"][0] == f"called search, book: matches search then book (in_order){note}"
    assert df["tool_arguments/value"][0] == 0.0
    assert df["tool_arguments/rationale"][0] == ("0 of 1 calls have the right arguments: book('{\"city\": Par'): "
                                                 f"the arguments are not a JSON object{note}")
    assert df["tool_errors/value"][0] == 0 and "no TOOL spans" in df["tool_errors/rationale"][0]


def test_tool_arguments_judged_by_a_model(server, client):
    server.enqueue(*turns([ToolCall("book", {"city": "Paris"})]),
                   Reply(text='{"rationale": "the city is the one asked for", "result": "yes"}'))
    judge_uri = f"openai:/judge-model?base_url={server.openai_base_url}&max_retries=0"
    judged = scorers.tool_arguments([{"name": "book", "arguments": {"city": "Paris"}}], judge=judge_uri)
    assert judged.source == "LLM_JUDGE" and judged.needs == frozenset({"inputs", "trace"})
    df = evaluate([{"inputs": {"question": "A room in Paris"}}], predict_fn=make_agent(client), progress=False,
                  max_concurrency=1, scorers=[judged])
    assert df["tool_arguments/value"][0] and df["tool_arguments/rationale"][0] == "the city is the one asked for"
    prompt = server.requests[-1].body["messages"][1]["content"]
    calls, expected = prompt.split("Tool calls the agent made")[1].split("Expected tool calls")
    assert '"name": "book"' in calls and '"city": "Paris"' in calls and '"city": "Paris"' in expected


def test_requested_calls_read_from_responses_anthropic_and_streams(server, client):
    names = ("search", "book", "cancel")
    server.enqueue(*(Reply(text=None, tool_calls=[ToolCall(tool, {"q": tool})]) for tool in names))
    with llmops_nb.span("agent", kind="AGENT"):
        for _ in client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}], stream=True):
            pass
        client.responses.create(model="m", input="hi")
        with anthropic.Anthropic(api_key="sk-test", base_url=server.anthropic_base_url, max_retries=0) as claude:
            claude.messages.create(model="c", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    llmops_nb.flush()
    trace_id = str(llmops_nb.traces().trace_id[0])
    exact = score(scorers.tool_sequence(["search", "book", "cancel"], mode="exact"), trace_id)
    assert exact.value is True and exact.rationale.startswith("called search, book, cancel")
    assert score(scorers.tool_arguments([{"name": "book", "arguments": {"q": "book"}}]), trace_id).value == 1.0


# ------------------------------------------------------------------------------------------ modes and arguments

GOT = [("search", {"q": "a"}), ("search", {"q": "b"}), ("cancel", {"booking_id": "B-1"})]


@pytest.mark.parametrize(("mode", "expected", "value", "rationale"), [
    ("exact", ["search", "book"], False, "expected search then book; got search, search, cancel: call 2 is search, "
                                         "not book"),
    ("exact", ["search", "search", "cancel"], True, "called search, search, cancel: matches search then search "
                                                    "then cancel (exact)"),
    ("exact", ["search", "search"], False, "cancel is one call too many"),
    ("exact", ["search", "search", "cancel", "book"], False, "book was never called"),
    ("in_order", ["search", "cancel"], True, "matches search then cancel (in_order)"),
    ("in_order", ["cancel", "search"], False, "expected cancel then search; got search, search, cancel: "
                                              "search was not called after cancel"),
    ("in_order", ["search", "book"], False, "book was not called"),
    ("any_order", ["cancel", "search"], True, "matches cancel, search in any order (any_order)"),
    ("any_order", ["search", "search", "search"], False, "expected search x3 in any order; got search, search, "
                                                       "cancel: search was called 2 of 3 times"),
    ("any_order", ["book", "search"], False, "book was not called"),
    ("subset", ["search", "cancel", "book"], True, "matches only book, cancel, search (subset)"),
    ("subset", ["search"], False, "expected only search; got search, search, cancel: cancel is not among them"),
])
def test_sequence_modes(mode, expected, value, rationale):
    trace_id = tools_trace(*GOT)
    result = score(scorers.tool_sequence(expected, mode=mode), trace_id)
    assert result.value is value and result.error is None
    assert rationale in result.rationale


def test_expected_tools_per_row_and_json_schema_failures():
    trace_id = tools_trace(("book", {"city": "Paris"}), ("book", {"city": "Rome", "nights": 0}),
                           ("search", {"q": "x"}))
    expectations = {"expected_tools": [{"name": "book", "arguments": {"city": "Paris"}}, "search"]}
    assert score(scorers.tool_sequence(mode="any_order"), trace_id, expectations).value is True
    by_value = score(scorers.tool_arguments(), trace_id, expectations)
    assert by_value.value == 0.5
    assert by_value.rationale == ("1 of 2 calls have the right arguments: book({'city': 'Rome', 'nights': 0}): "
                                  "expected {'city': 'Paris'}")
    schema = dict(BOOK_SCHEMA, properties={"city": {"type": "string"}, "nights": {"type": "integer", "minimum": 1}})
    by_schema = score(scorers.tool_arguments(schemas={"book": schema, "search": {"required": ["q", "limit"]}}),
                      trace_id)
    assert by_schema.value == pytest.approx(1 / 3)
    assert by_schema.rationale == ("1 of 3 calls have the right arguments: book({'city': 'Rome', 'nights': 0}): "
                                   "at nights: 0 is less than the minimum of 1; search({'q': 'x'}): at (root): "
                                   "'limit' is a required property")
    assert not scorers.tool_arguments(schemas={"book": schema}).passes(by_schema.value)
    both = score(scorers.tool_arguments(schemas={"book": schema}), trace_id, expectations)
    assert both.value == 0.5  # the row's expected arguments are checked beside the schemas


def test_malformed_span_inputs_and_a_trace_without_tool_calls():
    with llmops_nb.span("agent", kind="AGENT"), llmops_nb.span("book", kind="TOOL") as span:
        span.set_inputs('{"city": Par')
    llmops_nb.flush()
    broken = str(llmops_nb.traces().trace_id[0])
    result = score(scorers.tool_arguments(schemas={"book": BOOK_SCHEMA}), broken)
    assert result.value == 0.0 and "book('{\"city\": Par'): the arguments are not a JSON object" in result.rationale
    assert score(scorers.redundant_calls(), broken).value == 0

    with llmops_nb.span("agent", kind="AGENT"):
        pass
    llmops_nb.flush()
    empty = str(llmops_nb.traces().trace_id[0])
    sequence = score(scorers.tool_sequence(["search"]), empty)
    assert sequence.value is False and sequence.rationale == ("expected search; got no tool calls: search was not "
                                                              "called")
    assert score(scorers.tool_sequence([], mode="exact"), empty).value is True
    no_calls = score(scorers.tool_arguments(schemas={"book": BOOK_SCHEMA}), empty)
    assert no_calls.value is None and "no tool calls to check" in no_calls.error
    assert score(scorers.tool_errors(), empty).rationale == "no tool calls"
    assert score(scorers.step_budget(0), empty).value == 0


# ------------------------------------------------------------------------------------------ stored traces

def test_stored_traces_scored_by_id_and_again_without_counting_the_scoring(server, client):
    server.enqueue(*turns([ToolCall("search", {"q": "a"})], [ToolCall("search", {"q": "a"})]))
    make_agent(client)("Find a")
    llmops_nb.flush()
    trace_id = str(llmops_nb.traces().trace_id[0])
    checks = [scorers.step_budget(3), scorers.redundant_calls(), scorers.tool_sequence(["search"], mode="exact")]
    server.enqueue('{"rationale": "fine", "result": "yes"}')
    judge = scorers.tool_call_correctness(model=f"openai:/judge?base_url={server.openai_base_url}&max_retries=0")
    first = evaluate(llmops_nb.traces(), scorers=[*checks, judge], progress=False)
    again = evaluate([{"trace_id": trace_id}], scorers=checks, progress=False)
    for df in (first, again):  # the first run's EVALUATOR spans and the judge's model call are not steps
        assert df.trace_id[0] == trace_id
        assert df["step_budget/value"][0] == 5 and df["redundant_calls/value"][0] == 1
        assert df["tool_sequence/rationale"][0].endswith("search is one call too many")
    assert len(llmops_nb.spans(trace_id).query("kind == 'EVALUATOR'")) == 7


def test_monitoring_style_calls_without_expectations():
    trace_id = tools_trace(("search", {"q": "a"}))
    root = llmops_nb.spans(trace_id).iloc[0]
    arguments = {"trace": Trace(trace_id), "inputs": root["inputs"], "outputs": root["outputs"], "expectations": None}
    missing = scorers.tool_sequence().score(**arguments)
    assert missing.value is None and "expectations['expected_tools']" in missing.error
    assert "tool_sequence(['search', 'book'])" in missing.error
    assert scorers.tool_arguments().score(**arguments).error.startswith("tool_arguments needs the expected tool calls")
    assert scorers.tool_sequence(["search"]).score(**arguments).value is True
    assert scorers.step_budget(1).score(**arguments).value == 1
    assert scorers.tool_errors().score(trace=None).error.startswith("tool_errors reads the agent's spans")
    wrong = scorers.tool_sequence().score(trace=Trace(trace_id), expectations={"expected_tools": "search"})
    assert wrong.value is None and "expectations['expected_tools'] is a str; give a list" in wrong.error


# ------------------------------------------------------------------------------------------ bad arguments

@pytest.mark.parametrize(("make", "error", "match"), [
    (lambda: scorers.tool_sequence("search"), TypeError, r"is a str; give a list of tool names"),
    (lambda: scorers.tool_sequence([{"tool": "search"}]), ValueError, r"keys \['tool'\].*'name' and optionally"),
    (lambda: scorers.tool_sequence([{"name": "book", "arguments": "Paris"}]), TypeError, r"as a dict"),
    (lambda: scorers.tool_sequence([3]), TypeError, r"\[0\] is 3"),
    (lambda: scorers.tool_sequence(["a"], mode="in-order"), ValueError, r"Did you mean 'in_order'\?"),
    (lambda: scorers.tool_arguments(["book"]), ValueError, r"no arguments to compare with"),
    (lambda: scorers.tool_arguments(schemas=["book"]), TypeError, r"maps tool names to JSON schemas"),
    (lambda: scorers.tool_arguments(schemas={"book": {"type": "nope"}}), ValueError, r"not a valid JSON schema"),
    (lambda: scorers.tool_arguments(judge="openai:/x", schemas={"book": {}}), ValueError, r"pass one"),
    (lambda: scorers.step_budget(True), TypeError, r"whole number of steps"),
    (lambda: scorers.step_budget(-1), ValueError, r"negative"),
    (lambda: scorers.redundant_calls(kinds="TOOL"), TypeError, r"kinds=\('TOOL',\)"),
    (lambda: scorers.redundant_calls(kinds=("TOOLS",)), ValueError, r"Did you mean 'TOOL'\?"),
    (lambda: scorers.step_budget(3, kinds=()), ValueError, r"counts nothing"),
    (lambda: scorers.tool_errors(name=""), TypeError, r"non-empty string"),
])
def test_bad_arguments_name_the_fix(make, error, match):
    with pytest.raises(error, match=match):
        make()
