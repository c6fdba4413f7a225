"""EvalTable over a run over conversations, on a real store written by ``evaluate()`` (a plain Python agent,
a per-turn scorer and a conversation-level one; no model): the list's ``session`` and ``turns`` (sortable),
a row's detail naming its session, the ``turns`` request answering that session's turns (what the view's
transcript asks), a comparison of two such runs, a DataFrame that is not a stored run, the ``session``
traitlet, and the snapshot with every row's session escaped. An ordinary run's answers are unchanged."""

from __future__ import annotations

import html

import pytest

from llmops_nb.evals import evaluate, scorers
from llmops_nb.widgets.eval_table._snapshot import EvalTableSnapshot
from llmops_nb.widgets.eval_table._widget import EvalTable
from tests.test_widget_eval_table import Kernel, _Tags

XSS = '<img src=x onerror="alert(1)">'
CONVERSATIONS = [{"turns": [XSS, "What is 2 + 2?"]}, {"turns": ["Hi"]}, {"turns": ["a", "b", "c"]}]


def echo(messages):
    return f"echo: {messages[-1]['content']}"


@scorers.conversation_scorer
def short_enough(conversation):
    return len(conversation) <= 4


def run(data=CONVERSATIONS, agent=echo, name="echo"):
    return evaluate(data, predict_fn=agent, scorers=[scorers.contains("echo"), short_enough], name=name,
                    progress=False)


@pytest.fixture
def df():
    return run()


def test_the_list_has_each_conversations_session_and_turns_sortable(df):
    k = Kernel(EvalTable(df))
    info = k.data("info")
    assert info["run"]["conversations"] is True and info["columns"] == ["session", "turns"]
    assert "turns" in info["sorts"]
    assert [(s["name"], s.get("per_turn", False)) for s in info["scorers"]] == [("contains", True),
                                                                                  ("short_enough", False)]
    page = k.data("page", {"sort": {"column": "turns", "descending": True}})
    assert [(r["row"], r["session"], r["turns"]) for r in page["rows"]] == [
        (2, df.session[2], 3), (0, df.session[0], 2), (1, df.session[1], 1)]
    assert page["rows"][0]["trace_id"] == df.trace_id[2]  # the row's trace: its first turn's


def test_a_rows_detail_names_its_session_and_the_turns_request_answers_its_turns(df):
    k = Kernel(EvalTable(df))
    d = k.data("row", {"row": 0})
    assert d["session"] == df.session[0] and d["turns"] == 2 and d["trace_id"] == df.trace_id[0]
    scores = {s["name"]: s for s in d["scores"]}
    assert scores["contains"]["per_turn"] is True and scores["contains"]["rationale"] == "2 of 2 turns passed"
    assert scores["short_enough"]["per_turn"] is False and scores["short_enough"]["value"] is True
    turns = k.data("turns", {"session": d["session"]})
    assert turns["total"] == 2 and turns["session"] == df.session[0]
    assert [(t["turn"], t["user"], t["assistant"]) for t in turns["rows"]] == [
        (1, XSS, f"echo: {XSS}"), (2, "What is 2 + 2?", "echo: What is 2 + 2?")]
    assert [t["trace_id"] for t in turns["rows"]] == df.outputs[0]["trace_ids"]
    # paged as the transcript asks: the token of the first page reads the rest from memory
    second = k.data("turns", {"session": d["session"], "offset": 1, "limit": 1, "as_of": turns["as_of"]})
    assert [t["turn"] for t in second["rows"]] == [2]
    # a turn's trace opens in the explorer through the same RPC
    assert k.data("skeleton", {"trace_id": turns["rows"][1]["trace_id"]})["trace"]["trace_id"] == \
        turns["rows"][1]["trace_id"]
    assert "no session" in k.error("turns", {"session": "not-a-session"}).lower()


def test_an_ordinary_run_has_no_conversation_columns():
    plain = evaluate([{"inputs": {"q": "x"}, "expectations": {"expected_response": "x"}}], predict_fn=lambda q: q,
                     scorers=[scorers.exact_match()], progress=False)
    k = Kernel(EvalTable(plain))
    info = k.data("info")
    assert info["run"]["conversations"] is False and info["columns"] == [] and "turns" not in info["sorts"]
    assert "per_turn" not in info["scorers"][0]
    row = k.data("page")["rows"][0]
    assert "session" not in row and "turns" not in row
    detail = k.data("row", {"row": 0})
    assert "session" not in detail and "per_turn" not in detail["scores"][0]
    assert "cannot sort by 'turns'" in k.error("page", {"sort": {"column": "turns", "descending": False}})
    snap = EvalTable(plain).snapshot()["text/html"]
    assert "<th>session</th>" not in snap and "<th>turns</th>" not in snap


def test_two_conversation_runs_compared_give_both_sessions(df):
    other = run(agent=lambda messages: messages[-1]["content"].upper(), name="shout")
    table = EvalTable(other, compare_to=df)
    k = Kernel(table)
    compare = table.compare_to
    rows = {r["row"]: r for r in k.data("page", {"compare": compare})["rows"]}
    assert rows[0]["session"] == other.session[0] and rows[0]["base_session"] == df.session[0]
    d = k.data("row", {"compare": compare, "row": 1})
    assert (d["session"], d["base_session"], d["turns"]) == (other.session[1], df.session[1], 1)
    assert "baseline outputs" in table.snapshot()["text/html"]


def test_a_dataframe_not_in_the_store_keeps_its_sessions():
    frame = run().copy()
    frame.attrs = {"kind": "conversations", "scorers": frame.attrs["scorers"]}  # no run id: read from the frame
    frame["session"] = ["conv-1", XSS, "conv-3"]
    k = Kernel(EvalTable(frame))
    info = k.data("info")
    assert info["run"]["stored"] is False and info["columns"] == ["session", "turns"]
    assert [(r["session"], r["turns"]) for r in k.data("page")["rows"]] == [("conv-1", 2), (XSS, 1), ("conv-3", 3)]
    # a frame of a user's own with a session column alone is not a run over conversations
    own = frame.drop(columns=["turns"])
    own.attrs = {}
    assert Kernel(EvalTable(own)).data("info")["columns"] == []


def test_the_snapshot_lists_every_rows_session_escaped():
    frame = run().copy()
    frame.attrs = {"kind": "conversations", "scorers": frame.attrs["scorers"]}
    frame["session"] = ["conv-1", XSS, "conv-3"]
    for shown in (EvalTable(frame).snapshot(), EvalTableSnapshot(frame)._repr_mimebundle_()):
        page = shown["text/html"]
        parsed = _Tags()
        parsed.feed(page)
        assert "img" not in parsed.tags and not parsed.attributes & {"src", "onerror"}
        assert "<th>session</th>" in page and "<th>turns</th>" in page
        assert f"<td style=\"text-align:left;vertical-align:top\">{html.escape(XSS, quote=True)}</td>" in page
        assert "conv-1" in page and "conv-3" in page
        assert "conv-1" in shown["text/plain"]


def test_stored_run_snapshot_names_the_sessions(df):
    page = EvalTable(df).snapshot()["text/html"]
    assert all(s in page for s in df.session) and "<th>turns</th>" in page


def test_the_open_conversation_is_view_state():
    df = run([{"turns": ["Hi"]}])
    table = EvalTable(df, open_row=0, session=df.session[0])
    assert (table.open_row, table.session, table.trace_id) == (0, df.session[0], None)
    with pytest.raises(TypeError, match=r"'sesion'; check the spelling\. It takes: .*session"):
        EvalTable(df, sesion="x")
