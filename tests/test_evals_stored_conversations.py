"""evaluate() over conversations already in the store: sessions recorded with real traces (``span(session=)``
and an OpenInference ``session.id`` root attribute), scored without running the agent again — conversation
judges on the fake server (a responder reading the judge's prompt), a per-turn deterministic scorer on each
turn's own trace — stored as a run that eval_results() and the EvalTable read back; unfinished turns; errors.
Nothing is patched.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading

import pandas as pd
import pytest

import llmops_nb
from llmops_nb import agents
from llmops_nb.evals import aevaluate, assessments, compare_runs, eval_results, eval_runs, evaluate, scorer, scorers
from llmops_nb.evals._conversation_stored_read import UnknownSessionError
from llmops_nb.models import forget_models
from llmops_nb.widgets.eval_table._widget import EvalTable
from tests.fakes import FakeLLMServer, Reply, Usage
from tests.test_widget_eval_table import Kernel

CONVERSATION_BASE = ["inputs", "outputs", "expectations", "trace_id", "session", "record_id", "latency_ms",
                     "input_tokens", "output_tokens", "cost_usd", "error", "turns", "stop_reason", "goal", "persona",
                     "transcript"]
ADA = [("Hi, I'm Ada", "Hello Ada, how can I help?"), ("Refund order 1234, please", "Refund issued for order 1234."),
       ("What name is the refund under?", "It is under Ada.")]
BOB = [("My parcel is late", "Sorry! Which order?"), ("Order 99", "Noted.")]


def judge(body: dict) -> Reply:
    """Conversation judges told apart by their prompt's first line; each verdict read off the transcript."""
    prompt = body["messages"][-1]["content"]
    if prompt.startswith("Decide whether the assistant fully achieved"):
        ok = "Refund issued" in prompt
        verdict = {"rationale": "the refund was issued" if ok else "nothing was done", "result": "yes" if ok else "no"}
    elif prompt.startswith("Decide whether the assistant retained"):
        ok = "under Ada" in prompt or "under" not in prompt
        verdict = {"rationale": "remembered Ada" if ok else "forgot", "result": "yes" if ok else "no"}
    else:
        verdict = {"rationale": "?", "result": "yes"}
    return Reply(text=json.dumps(verdict), usage=Usage(input_tokens=900, output_tokens=90))


@pytest.fixture
def server():
    with FakeLLMServer(responder=judge) as fake:
        yield fake


@pytest.fixture(autouse=True)
def clean_models():
    yield
    forget_models()
    llmops_nb.autolog(disable=True)


def uri(server) -> str:
    return f"openai:/judge?base_url={server.openai_base_url}&max_retries=0"


def record(session: str, exchanges: list[tuple[str, str]], *, openinference: bool = False,
           fail_turn: int | None = None) -> list[str]:
    """A chat app's turns, each a trace: a CHAIN root given the conversation so far as ``messages`` and
    answering with an assistant message, a model call inside (10 tokens in, 2 out). The session is the
    root's own (``span(session=)``) or OpenInference's ``session.id`` attribute."""
    history: list[dict[str, str]] = [{"role": "system", "content": "Be brief."}]
    ids = []
    labels = {"attributes": {"session.id": session}} if openinference else {"session": session}
    for number, (user, assistant) in enumerate(exchanges, 1):
        history.append({"role": "user", "content": user})
        try:
            with llmops_nb.span("support", kind="CHAIN", **labels) as root:
                ids.append(root.trace_id)
                root.set_inputs({"messages": list(history)})
                with llmops_nb.span("chat", kind="CHAT_MODEL", attributes={
                        "gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 2}):
                    pass
                if number == fail_turn:
                    raise ConnectionError("CRM down")
                root.set_outputs({"role": "assistant", "content": assistant})
        except ConnectionError:
            continue
        history.append({"role": "assistant", "content": assistant})
    return ids


def per_turn():
    """A deterministic per-turn scorer that keeps what each call saw (the turn's words and trace)."""
    seen = []

    @scorer
    def answered(inputs, outputs, trace):
        seen.append((inputs, outputs, trace.trace_id))
        return bool(outputs)

    return answered, seen


def cell(df, column, row=0):
    return df[column].tolist()[row]


def test_stored_sessions_are_judged_whole_and_each_turn_on_its_trace(server):
    ada = record("conv-ada", ADA)
    bob = record("conv-bob", BOB, openinference=True)
    with llmops_nb.span("health_check", kind="CHAIN"):  # a trace of no session: not a conversation
        pass
    traces_before = len(llmops_nb.traces())
    answered, seen = per_turn()
    judged = uri(server)
    df = evaluate(llmops_nb.sessions(), scorers=[scorers.goal_completion(model=judged),
                                                 scorers.knowledge_retention(model=judged), answered],
                  name="support replay", progress=False)
    run_id = df.attrs["run_id"]
    assert list(df.columns) == [*CONVERSATION_BASE, *(f"{name}/{part}" for name in (
        "goal_completion", "knowledge_retention", "answered") for part in ("value", "rationale", "error"))]
    assert df.session.tolist() == ["conv-bob", "conv-ada"]  # sessions()' order: newest activity first
    row = df.iloc[1]
    assert row.inputs == {"session": "conv-ada"} and row.error is None
    assert (row.turns, row.stop_reason, row.outputs["stop_detail"]) == (3, "stored", None)
    assert row.outputs["trace_ids"] == ada and row.trace_id == ada[0]
    assert [m["content"] for m in row.outputs["messages"]] == [text for pair in ADA for text in pair]
    assert row.transcript.startswith("user: Hi, I'm Ada | assistant: Hello Ada, how can I help? | user: Refund")
    # the words are agents.session()'s, turn by turn
    for session, outputs in zip(df.session, df.outputs, strict=True):
        turns = agents.session(session)
        assert outputs["trace_ids"] == turns.trace_id.tolist()
        assert outputs["messages"] == [{"role": role, "content": text} for user, assistant in
                                       zip(turns.user, turns.assistant, strict=True)
                                       for role, text in (("user", user), ("assistant", assistant))]
    # conversation judges read the whole transcript once per session
    assert cell(df, "goal_completion/value", 1) is True and cell(df, "knowledge_retention/value", 1) is True
    assert cell(df, "goal_completion/value", 0) is False and df["goal_completion/rationale"][0] == "nothing was done"
    prompts = [r.body["messages"][-1]["content"] for r in server.requests]
    assert len(prompts) == 2 * 2  # two judges, two sessions: no agent ran, no turn was judged alone
    ada_goal = next(p for p in prompts if p.startswith("Decide whether the assistant fully") and "Ada" in p)
    assert "[turn 1] User: Hi, I'm Ada" in ada_goal and "[turn 3] Assistant: It is under Ada." in ada_goal
    # the per-turn scorer ran on each stored turn, on that turn's own trace
    assert sorted(seen) == sorted([(u, a, t) for (u, a), t in zip(ADA + BOB, ada + bob, strict=True)])
    assert cell(df, "answered/value", 1) == 1.0 and df["answered/rationale"][1] == "3 of 3 turns passed"
    assert df.attrs["turn_summary"] == {"answered": {"mean": 1.0, "pass_rate": 1.0, "count": 5, "errors": 0}}
    # the turns' own tokens (not the judges'), their time summed
    assert (row.input_tokens, row.output_tokens) == (30, 6) and (df.input_tokens[0], df.output_tokens[0]) == (20, 4)
    assert row.latency_ms == pytest.approx(agents.session("conv-ada").duration_ms.sum())

    # nothing ran: no new trace; the scorers' EVALUATOR spans joined the stored turns' traces
    assert len(llmops_nb.traces()) == traces_before
    for number, trace_id in enumerate(ada, 1):
        spans = llmops_nb.spans(trace_id)
        expected = {"answered"} | ({"goal_completion", "knowledge_retention"} if number == 1 else set())
        evaluators = spans[spans.kind == "EVALUATOR"]
        assert set(evaluators.name) == expected
        root = spans[spans.parent_span_id.isna()].iloc[0]
        assert set(evaluators.parent_span_id) == {root["span_id"]}
    # assessments as the running path stores them: per turn on each turn's trace, the row's on the first turn's
    stored = assessments(run_id=run_id)
    per_turn_rows = stored[stored.row_index.isna()]
    assert sorted(per_turn_rows.trace_id) == sorted(ada + bob) and set(per_turn_rows.name) == {"answered"}
    assert set(stored[stored.row_index.notna()].trace_id) == {ada[0], bob[0]}
    # the run reads back as it was returned, and is listed as a run over conversations
    back = eval_results(run_id)
    assert back.drop(columns=["latency_ms"]).equals(df.drop(columns=["latency_ms"]))
    assert back.attrs["kind"] == "conversations" and back.attrs["turn_summary"] == df.attrs["turn_summary"]
    run = eval_runs().iloc[0]
    assert (run["name"], run.params["conversations"], run.params["stored"]) == ("support replay", True, True)
    assert run.predict_fn is None

    # sessions() now carries the scores as <name>/mean columns: the frame is still stored conversations
    listed = llmops_nb.sessions()
    assert "answered/mean" in listed.columns
    again = evaluate(listed, scorers=[answered], progress=False)
    assert again.session.tolist() == ["conv-bob", "conv-ada"] and again.record_id.tolist() == df.record_id.tolist()


def test_the_eval_table_opens_a_stored_conversation_run_like_one_that_ran():
    record("conv-ada", ADA)
    answered, _ = per_turn()
    df = evaluate([{"session": "conv-ada"}], scorers=[answered], progress=False)
    for results in (df, df.attrs["run_id"]):
        k = Kernel(EvalTable(results))
        info = k.data("info")
        assert info["run"]["conversations"] is True and info["columns"] == ["session", "turns"]
        page = k.data("page")
        assert [(r["session"], r["turns"], r["trace_id"]) for r in page["rows"]] == [("conv-ada", 3, df.trace_id[0])]
        detail = k.data("row", {"row": 0})
        assert detail["session"] == "conv-ada" and detail["turns"] == 3


def test_aevaluate_scores_stored_conversations_too():
    record("conv-ada", ADA)
    answered, seen = per_turn()

    async def notebook_cell():  # a loop is running, as in a notebook
        return await aevaluate(llmops_nb.sessions(), scorers=[answered], progress=False)

    df = asyncio.run(notebook_cell())
    assert (df.session[0], df.turns[0], df.stop_reason[0]) == ("conv-ada", 3, "stored") and len(seen) == 3


def test_listed_sessions_with_expectations_pair_across_runs(server):
    record("conv-ada", ADA)
    record("conv-bob", BOB)
    data = [{"session": "conv-bob", "expectations": {"goal": "Get the late parcel found"}},
            {"session": "conv-ada", "record_id": "ada"}]
    first = evaluate(data, scorers=[scorers.goal_completion(model=uri(server))], progress=False)
    assert first.session.tolist() == ["conv-bob", "conv-ada"] and first.record_id[1] == "ada"
    assert first.expectations[0] == {"goal": "Get the late parcel found"}
    goal_prompts = [r.body["messages"][-1]["content"] for r in server.requests]
    assert any("The user's goal:\nGet the late parcel found" in p for p in goal_prompts)
    second = evaluate(data, scorers=[scorers.goal_completion(model=uri(server))], progress=False)
    assert second.record_id.tolist() == first.record_id.tolist()
    assert len(compare_runs(first, second)) == 2


def test_a_run_over_conversations_is_judged_again_from_its_result():
    def echo(messages):
        return f"echo: {messages[-1]['content']}"

    ran = evaluate([{"turns": ["Hi", "Refund please"]}, {"turns": ["Hello"]}], predict_fn=echo, progress=False)
    answered, seen = per_turn()
    rescored = evaluate(ran, scorers=[answered], progress=False)
    assert rescored.session.tolist() == ran.session.tolist()
    assert rescored.record_id.tolist() == ran.record_id.tolist()  # compare_runs() pairs the two
    assert rescored.stop_reason.tolist() == ["stored", "stored"] and rescored.turns.tolist() == [2, 1]
    assert rescored.transcript.tolist() == ran.transcript.tolist()
    assert rescored.outputs[0]["trace_ids"] == ran.outputs[0]["trace_ids"] and len(seen) == 3
    assert len(compare_runs(ran, rescored)) == 2


@contextlib.contextmanager
def running_turn(session: str, text: str):
    """A turn still running in another thread, as in a served app: its model call has ended (that span,
    like every span under OpenInference's ``using_session``, carries ``session.id``), its root has not."""
    started, finish = threading.Event(), threading.Event()
    ids = []

    def turn():
        with llmops_nb.span("support", kind="CHAIN", attributes={"session.id": session}) as root:
            ids.append(root.trace_id)
            root.set_inputs({"messages": [{"role": "user", "content": text}]})
            with llmops_nb.span("chat", kind="CHAT_MODEL", attributes={"session.id": session}):
                pass
            started.set()
            finish.wait(30)
            root.set_outputs("Done.")

    thread = threading.Thread(target=turn)
    thread.start()
    assert started.wait(30)
    try:
        yield ids[0]
    finally:
        finish.set()
        thread.join(30)


def test_unfinished_turns_are_left_out_and_named_and_failed_turns_kept():
    """A turn whose root is still open is not stored yet: the conversation is scored on the turns stored so
    far, and the row names the ones left out."""
    done = record("conv-live", ADA[:2], openinference=True)
    failed = record("conv-failed", BOB, fail_turn=1)
    answered, seen = per_turn()
    with running_turn("conv-live", ADA[2][0]) as live, running_turn("conv-new", "Hello?") as waiting:
        df = evaluate([{"session": "conv-live"}, {"session": "conv-new"}, {"session": "conv-failed"}],
                      scorers=[answered], progress=False)
    row = df.iloc[0]
    assert (row.turns, row.stop_reason, row.error) == (2, "stored", None) and row.outputs["trace_ids"] == done
    assert row.outputs["unfinished_trace_ids"] == [live]
    assert row.outputs["stop_detail"] == ("scored on the 2 turns stored so far: 1 more turn has not finished (still "
                                          f"running, or its process ended first: {live})")
    assert cell(df, "answered/value") == 1.0 and len([s for s in seen if s[2] in done]) == 2
    # a session whose only turn has not finished: a row with an error, not scored; the others go on
    new = df.iloc[1]
    assert new.turns == 0 and new.trace_id is None and new.outputs["unfinished_trace_ids"] == [waiting]
    assert new.error == f"no turn of session 'conv-new' has finished yet (1 not finished: {waiting}): evaluate " \
                        "it again once a turn has ended."
    assert new["answered/error"].startswith("not scored")
    # a turn whose trace ended in ERROR stays in the transcript (its reply empty), scored, and named
    bad = df.iloc[2]
    assert bad.outputs["trace_ids"] == failed and bad.turns == 2 and bad.error is None
    assert bad.outputs["messages"][1] == {"role": "assistant", "content": ""}
    assert bad.outputs["stop_detail"] == "turn 1 ended in ERROR: CRM down"
    assert agents.session("conv-failed").error[0] == "CRM down"
    assert cell(df, "answered/value", 2) == 0.5 and "failed: turn 1" in df["answered/rationale"][2]

    # once the turns have ended they are in their sessions, and the next evaluation scores them
    after = evaluate([{"session": "conv-live"}, {"session": "conv-new"}], scorers=[answered], progress=False)
    assert after.turns.tolist() == [3, 1] and after.outputs[0]["stop_detail"] is None
    assert after.outputs[0]["trace_ids"] == [*done, live] and after.error.isna().all()


def test_a_traces_frame_still_scores_each_trace_on_its_own():
    ids = record("conv-ada", ADA)
    frame = llmops_nb.traces()
    assert "session" in frame.columns and "trace_id" in frame.columns
    answered, seen = per_turn()
    df = evaluate(frame, scorers=[answered], progress=False)
    assert "session" not in df.columns and "kind" not in df.attrs
    assert sorted(df.trace_id) == sorted(ids) and df["answered/value"].tolist() == [True] * 3
    assert sorted(trace_id for _, _, trace_id in seen) == sorted(ids)  # each row on its own trace
    assert all(isinstance(inputs, dict) and "messages" in inputs for inputs, _, _ in seen)  # the root's inputs
    assert not eval_runs().params[0].get("conversations")
    # and a session's turns (agents.session() has trace_id too) are traces as well
    by_turn = evaluate(agents.session("conv-ada"), scorers=[answered], progress=False)
    assert len(by_turn) == 3 and "session" not in by_turn.columns


@pytest.mark.parametrize(("data", "options", "error", "match"), [
    ([{"session": "conv-ada"}], {"predict_fn": lambda messages: "x"}, ValueError,
     r"already in the store.*drop predict_fn.*'turns'"),
    ([{"session": "conv-ada"}], {"simulator": llmops_nb.evals.SimulatedUser()}, ValueError, "drop simulator="),
    ([{"session": "conv-nope"}], {}, UnknownSessionError, r"No session 'conv-nope'.*llmops_nb\.sessions\(\)"),
    ([{"session": "conv-ada"}, {"session": "x"}, {"session": "y"}], {}, LookupError, r"'x' \(and 1 more\)"),
    ([{"session": "conv-ada", "expectation": {}}], {}, ValueError, "Did you mean 'expectations'"),
    ([{"session": "conv-ada", "turns": ["Hi"]}], {}, ValueError, "rows with 'turns' or 'goal' run the agent"),
    ([{"session": "conv-ada"}, {"turns": ["Hi"]}], {}, ValueError,
     r"Conversation 1 has no 'session' \(it has \['turns'\]\)"),
    ([{"session": 7}], {}, TypeError, "session is 7; give a session id"),
    ([{"session": "conv-ada"}, {"session": "conv-ada"}], {}, ValueError, "named twice"),
    (pd.DataFrame({"session": ["conv-ada"], "goal": ["x"]}), {}, ValueError, r"has \['goal'\]"),
    (pd.DataFrame({"session": []}), {}, ValueError, "names no stored conversation"),
])
def test_bad_stored_conversation_data_names_the_fix(data, options, error, match):
    record("conv-ada", ADA[:1])
    with pytest.raises(error, match=match):
        evaluate(data, progress=False, **options)
    assert eval_runs().empty  # refused before any run started
