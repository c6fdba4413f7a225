"""evaluate() over conversations: scripted turns and a simulated user driving a real agent (the openai SDK
against the fake server), conversation judges and per-turn scorers, traces as sessions, storage.

One fake server answers everyone, by the request's model: the agent (``agent-model``), the simulated user
(``user-sim``) and the judges (``judge``, told apart by their prompt's first line). Nothing is patched.
"""

from __future__ import annotations

import json
import re

import openai
import pytest

import llmops_nb
from llmops_nb import agents
from llmops_nb.evals import SimulatedUser, assessments, eval_results, eval_runs, evaluate, scorer, scorers
from llmops_nb.evals._simulated_user import SimulatorError, UserTurn, parse_user_turn
from llmops_nb.models import forget_models
from llmops_nb.monitor._where import TRAFFIC
from llmops_nb.store._connection import get_store
from tests.fakes import FakeLLMServer, Reply, Usage

CONVERSATION_BASE = ["inputs", "outputs", "expectations", "trace_id", "session", "record_id", "latency_ms",
                     "input_tokens", "output_tokens", "cost_usd", "error", "turns", "stop_reason", "goal", "persona",
                     "transcript"]
AGENT_USAGE = Usage(input_tokens=20, output_tokens=4)
SIM_USAGE = Usage(input_tokens=700, output_tokens=70)
JUDGE_USAGE = Usage(input_tokens=900, output_tokens=90)


class Router:
    """The fake server's answers, by model; each handler gets the request body and returns the reply text."""

    def __init__(self) -> None:
        self.agent = default_agent
        self.user = lambda body: '{"message": "hello"}'
        self.calls: dict[str, int] = {}

    def __call__(self, body: dict) -> Reply:
        model = body.get("model")
        self.calls[model] = self.calls.get(model, 0) + 1
        if model == "agent-model":
            return Reply(text=self.agent(body), usage=AGENT_USAGE)
        if model == "user-sim":
            return Reply(text=self.user(body), usage=SIM_USAGE)
        return Reply(text=judge(body), usage=JUDGE_USAGE)


def default_agent(body: dict) -> str:
    """Remembers the user's name; answers bookings; otherwise acknowledges."""
    messages = body["messages"]
    said = " ".join(m["content"] for m in messages if m["role"] == "user")
    last = messages[-1]["content"]
    if "name" in last.lower() and "?" in last:
        found = re.search(r"I'm (\w+)", said)
        return f"The booking is under {found.group(1)}." if found else "What is your name?"
    if "table" in last.lower():
        return "Booked a table for two on Friday."
    return f"Noted: {last}"


def judge(body: dict) -> str:
    prompt = body["messages"][-1]["content"]
    if prompt.startswith("Decide whether the assistant fully achieved"):
        ok = "Booked" in prompt or "Refund issued" in prompt
        return json.dumps({"rationale": "the booking was made" if ok else "not done", "result": "yes" if ok else "no"})
    if prompt.startswith("Decide whether the assistant retained"):
        ok = "under Ada" in prompt
        return json.dumps({"rationale": "remembered the name Ada" if ok else "forgot", "result": "yes" if ok else "no"})
    if prompt.startswith("Decide whether the user became frustrated"):
        return '{"rationale": "calm throughout", "result": "none"}'
    if prompt.startswith("Decide whether the response addresses"):
        ok = "Noted" not in prompt
        why = "on topic" if ok else "a mere acknowledgement"
        return json.dumps({"rationale": why, "result": "yes" if ok else "no"})
    return '{"rationale": "?", "result": "yes"}'


@pytest.fixture
def router():
    return Router()


@pytest.fixture
def server(router):
    with FakeLLMServer(responder=router) as fake:
        yield fake


@pytest.fixture
def client(server):
    with openai.OpenAI(api_key="sk-test", base_url=server.openai_base_url, max_retries=0) as sdk:
        yield sdk


@pytest.fixture(autouse=True)
def clean_models():
    yield
    forget_models()
    llmops_nb.autolog(disable=True)


def uri(server, model: str = "judge") -> str:
    return f"openai:/{model}?base_url={server.openai_base_url}&max_retries=0"


def make_agent(client):
    def booking_agent(messages):
        reply = client.chat.completions.create(model="agent-model", messages=messages)
        return reply.choices[0].message.content

    return booking_agent


def cell(df, column: str, row: int = 0):
    """A cell as a Python value (a row of mixed types would make a boolean numpy's)."""
    return df[column].tolist()[row]


def spans_of(trace_id: str):
    return llmops_nb.spans(trace_id)


SCRIPT = {"turns": ["Hi, I'm Ada", "Book me a table for two on Friday", "What name is the booking under?"],
          "expectations": {"goal": "A table for two on Friday, booked under the user's name"}}


def test_a_scripted_conversation_is_one_row_judged_whole_and_per_turn(server, client, router):
    judged = uri(server)
    df = evaluate([SCRIPT], predict_fn=make_agent(client), progress=False,
                  scorers=[scorers.goal_completion(model=judged), scorers.knowledge_retention(model=judged),
                           scorers.user_frustration(model=judged), scorers.relevance_to_query(model=judged)])
    run_id = df.attrs["run_id"]
    assert list(df.columns) == [*CONVERSATION_BASE, *(f"{name}/{part}" for name in (
        "goal_completion", "knowledge_retention", "user_frustration", "relevance_to_query")
        for part in ("value", "rationale", "error"))]
    row = df.iloc[0]
    assert row.error is None and row.turns == 3 and row.stop_reason == "script_end"
    assert row.session == f"{run_id}-0" and row.outputs["session"] == row.session
    assert [m["role"] for m in row.outputs["messages"]] == ["user", "assistant"] * 3
    assert row.outputs["messages"][-1]["content"] == "The booking is under Ada."
    assert row.transcript.startswith("user: Hi, I'm Ada | assistant: Noted: Hi, I'm Ada | user: Book me")
    assert row.goal is None and row.persona is None  # scripted: the goal is in the expectations
    # conversation-level judges saw the whole transcript (and the goal) once
    assert cell(df, "goal_completion/value") is True and cell(df, "knowledge_retention/value") is True
    assert row["knowledge_retention/rationale"] == "remembered the name Ada"
    assert row["user_frustration/value"] == "none"
    prompts = [r.body["messages"][-1]["content"] for r in server.requests if r.body["model"] == "judge"]
    goal_prompt = next(p for p in prompts if p.startswith("Decide whether the assistant fully achieved"))
    assert "booked under the user's name" in goal_prompt
    assert "[turn 1] User: Hi, I'm Ada" in goal_prompt
    assert "[turn 3] Assistant: The booking is under Ada." in goal_prompt
    # a single-turn judge ran on every turn; the row holds the share of turns that passed
    assert row["relevance_to_query/value"] == pytest.approx(2 / 3)
    assert row["relevance_to_query/rationale"].startswith("2 of 3 turns passed; failed: turn 1 (a mere acknowledgement")
    assert router.calls == {"agent-model": 3, "judge": 3 + 3}
    # the agent's tokens only: not the judges'
    assert (row.input_tokens, row.output_tokens) == (3 * 20, 3 * 4) and row.latency_ms > 0
    summary = df.attrs["summary"]
    assert summary["goal_completion"] == {"mean": 1.0, "pass_rate": 1.0, "count": 1, "errors": 0}
    assert summary["relevance_to_query"]["pass_rate"] is None  # the per-turn verdicts are the turns'
    assert df.attrs["turn_summary"] == {"relevance_to_query": {"mean": pytest.approx(2 / 3),
                                                               "pass_rate": pytest.approx(2 / 3), "count": 3,
                                                               "errors": 0}}
    assert df.attrs["kind"] == "conversations"

    # each turn is a trace of the session; the row's trace is the first turn's
    turns = agents.session(row.session)
    assert turns.trace_id.tolist() == row.outputs["trace_ids"] and turns.trace_id[0] == row.trace_id
    assert turns.user.tolist() == SCRIPT["turns"]
    assert turns.assistant.tolist()[1:] == ["Booked a table for two on Friday.", "The booking is under Ada."]
    listed = agents.sessions()
    assert listed.session.tolist() == [row.session] and listed.turns[0] == 3
    for number, trace_id in enumerate(turns.trace_id, 1):
        spans = spans_of(trace_id)
        root = spans[spans.parent_span_id.isna()].iloc[0]
        assert (root["name"], root["kind"]) == ("booking_agent", "CHAIN")
        assert root["attributes"]["llmops_nb.eval.turn"] == number
        evaluators = spans[spans.kind == "EVALUATOR"]
        expected = {"relevance_to_query"} | ({"goal_completion", "knowledge_retention", "user_frustration"}
                                             if number == 1 else set())
        assert set(evaluators.name) == expected
        assert (spans[spans.kind == "CHAT_MODEL"].parent_span_id.isin([root["span_id"], *evaluators.span_id])).all()
    # evaluation traffic: kept out of monitoring
    with get_store().connect() as con:
        assert con.execute(f"SELECT count(*) FROM traces t WHERE {TRAFFIC}").fetchone()[0] == 0

    # per-turn assessments on each turn's trace (row_index NULL), the row's on the first turn's
    stored = assessments(run_id=run_id)
    per_turn = stored[stored.row_index.isna()]
    assert sorted(per_turn.trace_id) == sorted(turns.trace_id) and set(per_turn.name) == {"relevance_to_query"}
    assert sorted(per_turn.value.tolist()) == [False, True, True]
    assert set(stored[stored.row_index.notna()].trace_id) == {row.trace_id}
    # ...and everything comes back from the store as it was returned
    back = eval_results(run_id)
    assert back.drop(columns=["latency_ms"]).equals(df.drop(columns=["latency_ms"]))
    assert back.attrs["turn_summary"] == df.attrs["turn_summary"] and back.attrs["kind"] == "conversations"
    run = eval_runs().iloc[0]
    assert run.params["conversations"] is True and run["goal_completion/pass_rate"] == 1.0


def simulated_user(body: dict) -> str:
    """Asks for a refund; confirms the order number; stops once the refund is issued."""
    prompt = body["messages"][-1]["content"]
    if "has not started" in prompt:
        return 'Sure!\n```json\n{"message": "I want a refund."}\n```'
    if "Refund issued" in prompt:
        return '{"stop": true, "reason": "the refund was confirmed"}'
    return "User: Order 1234."  # plain text works too


def refund_agent(body: dict) -> str:
    return "Refund issued for order 1234." if "1234" in body["messages"][-1]["content"] else "Which order?"


def test_a_simulated_user_stops_when_its_goal_is_met(server, client, router):
    router.user, router.agent = simulated_user, refund_agent
    data = [{"goal": "Get a refund for order 1234", "persona": "A terse customer", "max_turns": 5}]
    df = evaluate(data, predict_fn=make_agent(client), scorers=[scorers.goal_completion(model=uri(server))],
                  simulator=SimulatedUser(model=uri(server, "user-sim")), progress=False)
    row = df.iloc[0]
    assert (row.error, row.turns, row.stop_reason) == (None, 2, "goal_met")
    assert row.outputs["stop_detail"] == "the refund was confirmed"
    assert [m["content"] for m in row.outputs["messages"] if m["role"] == "user"] == ["I want a refund.",
                                                                                       "Order 1234."]
    assert (row.goal, row.persona) == ("Get a refund for order 1234", "A terse customer")
    assert row.inputs == {"goal": "Get a refund for order 1234", "persona": "A terse customer", "max_turns": 5}
    assert cell(df, "goal_completion/value") is True
    assert router.calls["user-sim"] == 3  # first message, second, stop
    system = next(r.body for r in server.requests if r.body["model"] == "user-sim")["messages"][0]["content"]
    assert "A terse customer" in system and "Get a refund for order 1234" in system
    # the simulated user's calls: its own trace, no session, not the agent's tokens
    assert (row.input_tokens, row.output_tokens) == (2 * 20, 2 * 4)
    assert agents.sessions().turns.tolist() == [2]
    simulator = spans_of(row.outputs["simulator_trace_id"])
    chat = simulator[simulator.kind == "CHAT_MODEL"]
    assert len(chat) == 3 and set(chat.model) == {"user-sim"}
    tagged = llmops_nb.traces(tag=f"llmops_nb.simulated_user={row.session}")
    assert tagged.trace_id.tolist() == [row.outputs["simulator_trace_id"]]
    with get_store().connect() as con:
        sessions = con.execute("SELECT session FROM traces WHERE trace_id = ?",
                               [row.outputs["simulator_trace_id"]]).fetchone()
    assert sessions == (None,)
    for trace_id in row.outputs["trace_ids"]:  # the agent's call, and on the first turn the judge's
        assert "user-sim" not in set(spans_of(trace_id).model.dropna())


def test_a_simulated_user_that_never_stops_ends_at_max_turns(server, client, router):
    router.user = lambda body: '{"message": "Tell me more."}'
    data = [{"goal": "Learn everything", "max_turns": 3}, {"goal": "Learn a little"}]
    df = evaluate(data, predict_fn=make_agent(client), scorers=[scorers.exact_match()],
                  simulator=SimulatedUser(model=uri(server, "user-sim"), max_turns=2), progress=False)
    assert df.turns.tolist() == [3, 2] and df.stop_reason.tolist() == ["max_turns", "max_turns"]
    assert df.inputs[1]["max_turns"] == 2  # the simulator's limit, for rows that give none
    assert router.calls["user-sim"] == 3 + 2  # never asked again after the last reply
    assert df.error.isna().all()
    # exact_match per turn, with no expectations: an error per turn, none made up
    assert df["exact_match/value"].isna().all() and "turn 1: " in df["exact_match/error"][0]


def test_the_agent_raising_in_turn_two_fails_that_conversation_only(server, client):
    calls = []
    agent = make_agent(client)

    def flaky_agent(messages):
        calls.append(len(messages))
        if len(calls) == 2:
            raise ConnectionError("booking service down")
        return agent(messages)

    data = [{"turns": ["Hi", "Book a table", "Thanks"]}, {"turns": ["Hello again"]}]
    df = evaluate(data, predict_fn=flaky_agent, scorers=[scorers.goal_completion(model=uri(server))],
                  max_concurrency=1, progress=False)
    failed = df.iloc[0]
    assert failed.error == "turn 2: ConnectionError: booking service down"
    assert (failed.turns, failed.stop_reason) == (2, "error")
    assert failed.outputs["messages"][-1] == {"role": "user", "content": "Book a table"}
    assert failed["goal_completion/error"].startswith("not scored: the prediction failed")
    assert df.error[1] is None and cell(df, "goal_completion/value", 1) is False
    assert df.attrs["status"] == "FINISHED" and eval_runs().status[0] == "FINISHED"
    turn = llmops_nb.spans(failed.outputs["trace_ids"][1])
    root = turn[turn.parent_span_id.isna()].iloc[0]
    assert root["status"] == "ERROR" and root["error"]["type"] == "ConnectionError"
    assert "booking service down" in root["error"]["traceback"]
    assert agents.session(failed.session).status.tolist() == ["OK", "ERROR"]


def test_an_unreadable_simulated_user_is_the_conversations_error(server, client, router):
    router.user = lambda body: '{"thoughts": "I should ask about the weather"}'
    df = evaluate([{"goal": "Ask about the weather"}], predict_fn=make_agent(client), progress=False,
                  simulator=SimulatedUser(model=uri(server, "user-sim")))
    row = df.iloc[0]
    assert row.error.startswith("simulated user, before turn 1: SimulatorError: could not read a message")
    assert "raw reply: '{\"thoughts\"" in row.error
    assert (row.turns, row.stop_reason, row.trace_id) == (0, "simulator_error", None)
    assert row.session == f"{df.attrs['run_id']}-0"  # no trace carries it: no turn ran


@pytest.mark.parametrize(("reply", "decision"), [
    ('{"message": "Hi"}', UserTurn("Hi")),
    ('Here goes: {"Message": "Refund, please"} ok?', UserTurn("Refund, please")),
    ('{"stop": true, "reason": "done"}', UserTurn(stop=True, reason="done")),
    ('{"done": "yes"}', UserTurn(stop=True)),
    ("GOAL_MET", UserTurn(stop=True)),
    ("[STOP]", UserTurn(stop=True)),
    ('"Where is my parcel?"', UserTurn("Where is my parcel?")),
    ("USER: My order is late.\nASSISTANT: Sorry to hear", UserTurn("My order is late.")),
    ('{"message": "Hi there", "mood": "cal', UserTurn("Hi there")),  # cut off after a whole message
    ('{\n  "stop": true,\n  "reason": "got it', UserTurn(stop=True)),
])
def test_simulated_user_replies_are_read_robustly(reply, decision):
    assert parse_user_turn(reply) == decision


@pytest.mark.parametrize("reply", ["", "   ", '{"message": "cut off', '{"message": ""}', '["a", "b"]'])
def test_unreadable_simulated_user_replies_raise_with_the_raw_reply(reply):
    with pytest.raises(SimulatorError, match=r"empty|raw reply"):
        parse_user_turn(reply)


def test_the_agent_contract_shapes_context_and_session_id(server, client, router):
    seen = {}

    def chat_completion(messages, user_id, session_id):
        seen[session_id] = user_id
        messages.append({"role": "assistant", "content": "mutated"})  # ours stays the transcript
        return client.chat.completions.create(model="agent-model", messages=messages[:-1])

    df = evaluate([{"turns": ["Hi", "More"], "context": {"user_id": "u-1"}}], predict_fn=chat_completion,
                  progress=False)
    assert df.error[0] is None and [m["content"] for m in df.outputs[0]["messages"]] == \
        ["Hi", "Noted: Hi", "More", "Noted: More"]
    assert seen == {df.session[0]: "u-1"}

    async def as_message(messages):
        return {"role": "assistant", "content": f"echo {len(messages)}"}

    assert evaluate([{"turns": ["a", "b"]}], predict_fn=as_message, progress=False).transcript[0] == \
        "user: a | assistant: echo 1 | user: b | assistant: echo 3"

    df = evaluate([{"turns": ["a"]}], predict_fn=lambda messages: 42, progress=False)
    assert df.error[0].startswith("turn 1: predict_fn returned int '42'; over conversations it must return")


def test_aevaluate_runs_conversations_too():
    import asyncio

    from llmops_nb.evals import aevaluate

    async def agent(messages):
        await asyncio.sleep(0)
        return messages[-1]["content"].upper()

    async def cell():  # like a notebook cell: a loop is running
        return await aevaluate([{"turns": ["a", "b"]}, {"turns": ["c"]}], predict_fn=agent, progress=False)

    df = asyncio.run(cell())
    assert df.turns.tolist() == [2, 1] and df.transcript[1] == "user: c | assistant: C"


def test_per_turn_expectations_and_a_conversation_scorer(client):
    @scorer
    def short(outputs):
        return len(outputs) < 20

    @scorers.conversation_scorer
    def few_turns(conversation, inputs):
        return len(conversation) // 2 <= len(inputs["turns"])

    data = [{"turns": [{"content": "Hi", "expectations": {"expected_response": "Noted: Hi"}},
                       {"content": "Book a table", "expectations": {"expected_response": "No."}}]}]
    df = evaluate(data, predict_fn=make_agent(client), scorers=[scorers.exact_match(), short, few_turns],
                  progress=False)
    assert df["exact_match/value"][0] == 0.5 and "failed: turn 2" in df["exact_match/rationale"][0]
    assert df["short/value"][0] == 0.5 and cell(df, "few_turns/value") is True
    assert {s["name"]: s.get("per_turn", False) for s in df.attrs["scorers"]} == \
        {"exact_match": True, "short": True, "few_turns": False}


@pytest.mark.parametrize(("data", "error", "match"), [
    ([{"turns": "hi"}], TypeError, "non-empty list of the user's messages"),
    ([{"turns": ["hi"], "goal": "x"}], ValueError, "both 'turns' and 'goal'"),
    ([{"goal": "x", "max_turns": 0}], ValueError, "max_turns is 0; give a positive integer"),
    ([{"turns": ["a"], "persona": "p"}], ValueError, r"scripted \('turns'\) but has \['persona'\]"),
    ([{"goal": " "}], TypeError, "goal is ' '; give what the simulated user wants"),
    ([{"turns": ["a"]}, {"inputs": {"q": 1}}], ValueError, "has 'inputs' among conversations"),
    ([{"turns": ["a"], "contxt": {}}], ValueError, "Did you mean 'context'"),
    ([{"turns": [{"role": "assistant", "content": "x"}]}], ValueError, "a scripted turn is the user's message"),
    ([{"turns": ["a"], "context": ["u-1"]}], TypeError, "give a dict of keyword arguments"),
])
def test_bad_conversation_data_names_the_fix(data, error, match):
    with pytest.raises(error, match=match):
        evaluate(data, predict_fn=lambda messages: "ok", progress=False)
    assert eval_runs().empty  # refused before any run started


def test_bad_arguments_name_the_fix():
    with pytest.raises(ValueError, match="needs predict_fn=your_agent"):
        evaluate([{"turns": ["a"]}], progress=False)
    with pytest.raises(TypeError, match=r"cannot be called as predict_fn\(messages\)"):
        evaluate([{"turns": ["a"]}], predict_fn=lambda question, history: "x", progress=False)
    with pytest.raises(TypeError, match=r"simulator must be a llmops_nb\.evals\.SimulatedUser"):
        evaluate([{"goal": "a"}], predict_fn=lambda messages: "x", simulator="openai:/gpt-4o", progress=False)
    with pytest.raises(ValueError, match="the data holds none"):
        evaluate([{"inputs": {"q": "a"}}], predict_fn=lambda q: q, simulator=SimulatedUser(), progress=False)
    with pytest.raises(ValueError, match=r"must include \{\{ goal \}\}"):
        SimulatedUser(instructions="Be a user.")
    assert eval_runs().empty


def test_conversations_from_a_dataframe_and_compared_across_runs(client):
    import pandas as pd

    frame = pd.DataFrame([{"turns": ["Hi", "Book a table"]}, {"turns": ["Hello"]}])
    first = evaluate(frame, predict_fn=make_agent(client), scorers=[scorers.exact_match()], progress=False)
    second = evaluate(frame, predict_fn=make_agent(client), scorers=[scorers.exact_match()], progress=False)
    assert first.record_id.tolist() == second.record_id.tolist() and first.session[0] != second.session[0]
    assert len(llmops_nb.compare_runs(first, second)) == 2
    assert sorted(agents.sessions().turns.tolist()) == [1, 1, 2, 2]


@pytest.mark.local_model
def test_a_simulated_user_on_the_offline_model():
    """Plumbing only (a 135M model cannot play a user well): each conversation ends — stopped, at its limit, or
    with the unreadable reply kept as its error — and the model's calls are the simulated user's trace's."""
    import pandas as pd

    from llmops_nb.models import get_model

    user = SimulatedUser(model=get_model("local:/smollm2", timeout=120), max_turns=2, max_tokens=48, json_mode=True)
    data = [{"goal": "Find out the capital of France", "persona": "A curious student"},
            {"goal": "Get a pasta recipe", "first_message": "Hi! Can you give me a pasta recipe?"}]
    df = evaluate(data, predict_fn=lambda messages: f"You said: {messages[-1]['content'][:80]}",
                  simulator=user, max_concurrency=2, progress=False)
    for row in df.itertuples():
        assert row.stop_reason in ("goal_met", "max_turns", "simulator_error")
        assert 0 <= row.turns <= 2
        if row.stop_reason == "simulator_error":
            assert "raw reply" in row.error or "empty" in row.error or "ModelCallError" in row.error
        else:
            assert pd.isna(row.error) or row.error is None
    assert df.turns[1] >= 1  # its first message is given: at least one turn ran
    simulator = llmops_nb.spans(df.outputs[1]["simulator_trace_id"]) if df.outputs[1]["simulator_trace_id"] else None
    if simulator is not None:
        chat = simulator[simulator.kind == "CHAT_MODEL"]
        assert set(chat.model) <= {"smollm2-135m-instruct"}
    for trace_id in df.outputs[1]["trace_ids"]:
        assert llmops_nb.spans(trace_id).model.dropna().empty  # the agent called no model
