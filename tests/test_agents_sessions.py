"""``agents.sessions()`` and ``agents.session()``: conversations across traces, from real traces in a real store."""

from __future__ import annotations

import datetime as dt

import openai
import pytest

import llmops_nb
from llmops_nb import agents
from llmops_nb.agents._sessions import SESSION_COLUMNS, TURN_COLUMNS
from llmops_nb.agents._text import assistant_text, user_text
from llmops_nb.store._connection import get_store
from tests.fakes import FakeLLMServer, Reply, Usage


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


def chat_session(client, server, session_id: str, questions: list[str], answers: list[str]) -> list[str]:
    """A chat app: each turn one traced call sending the whole conversation so far to the model."""
    server.enqueue(*(Reply(text=a, usage=Usage(input_tokens=10 * (i + 1), output_tokens=3))
                     for i, a in enumerate(answers)))
    history: list[dict[str, str]] = [{"role": "system", "content": "Be brief."}]

    ids = []

    @llmops_nb.trace(name="chat", kind="CHAIN", session=session_id)
    def turn(messages):
        ids.append(llmops_nb.get_current_span().trace_id)
        reply = client.chat.completions.create(model="gpt-4o-mini", messages=messages)
        return reply.choices[0].message.content

    for question in questions:
        history.append({"role": "user", "content": question})
        history.append({"role": "assistant", "content": turn(list(history))})
    return ids


def test_a_three_turn_session_is_one_row_with_its_totals_and_its_words(client, server):
    ids = chat_session(client, server, "conv-1", ["Capital of France?", "And of Italy?", "Thanks!"],
                       ["Paris.", "Rome.", "You're welcome."])
    frame = agents.sessions()
    assert list(frame.columns) == list(SESSION_COLUMNS)
    row = frame.iloc[0]
    assert row.session == "conv-1" and row.turns == 3 and row.llm_calls == 3 and row.errors == 0
    assert (row.input_tokens, row.output_tokens) == (10 + 20 + 30, 9)
    assert row.first_input == "Capital of France?" and row.last_output == "You're welcome."
    assert row.first_at <= row.last_at and row.last_at.tzinfo is None
    traces = llmops_nb.traces(session="conv-1").set_index("trace_id")
    assert row.first_at == traces.start_time.min() and row.last_at == traces.start_time.max()
    assert row.duration_s >= (row.last_at - row.first_at).total_seconds()

    turns = agents.session("conv-1")
    assert list(turns.columns) == list(TURN_COLUMNS)
    assert turns.turn.tolist() == [1, 2, 3] and turns.trace_id.tolist() == ids
    assert turns.user.tolist() == ["Capital of France?", "And of Italy?", "Thanks!"]
    assert turns.assistant.tolist() == ["Paris.", "Rome.", "You're welcome."]
    assert turns.input_tokens.tolist() == [10, 20, 30] and turns.status.tolist() == ["OK"] * 3


def test_a_session_named_only_by_its_roots_attributes(server):
    for key, session_id in (("session.id", "oi-7"), ("gen_ai.conversation.id", "otel-9")):
        for question in ("first", "second"):
            with llmops_nb.span("agent", kind="AGENT") as root:
                root.set_attribute(key, session_id)
                root.set_inputs({"question": question})
                root.set_outputs(f"answer to {question}")
    with llmops_nb.span("agent", kind="AGENT", session="own") as root:  # traces.session comes first
        root.set_attribute("session.id", "ignored")
    with llmops_nb.span("loner", kind="AGENT"):  # no session at all: in no row
        pass
    frame = agents.sessions().set_index("session")
    assert sorted(frame.index) == ["oi-7", "otel-9", "own"]
    assert frame.loc["oi-7", "turns"] == 2 and frame.loc["otel-9", "turns"] == 2
    assert frame.loc["oi-7", "first_input"] == "first" and frame.loc["oi-7", "last_output"] == "answer to second"
    assert agents.session("otel-9").user.tolist() == ["first", "second"]
    with pytest.raises(LookupError, match=r"No session 'ignored'.*agents.sessions\(\)"):
        agents.session("ignored")


def test_errors_scores_and_the_newest_activity_first(server):
    @llmops_nb.trace(session="s-old")
    def old(question):
        return "ok"

    @llmops_nb.trace(session="s-new")
    def new(question):
        if question == "boom":
            raise RuntimeError("tool failed")
        return "fine"

    old("a")
    new("b")
    with pytest.raises(RuntimeError):
        new("boom")
    llmops_nb.flush()
    first, second = llmops_nb.traces(session="s-new").sort_values("start_time").trace_id
    llmops_nb.log_feedback(first, True, name="helpful")
    llmops_nb.log_feedback(second, False, name="helpful")
    llmops_nb.log_feedback(second, 4, name="stars")
    frame = agents.sessions()
    assert frame.session.tolist() == ["s-new", "s-old"]
    assert frame.errors.tolist() == [1, 0]
    assert [c for c in frame.columns if "/" in c] == ["helpful/mean", "helpful/pass_rate", "stars/mean",
                                                       "stars/pass_rate"]
    new_row = frame.iloc[0]
    assert new_row["helpful/mean"] == 0.5 and new_row["helpful/pass_rate"] == 0.5 and new_row["stars/mean"] == 4.0
    assert frame.iloc[1][["helpful/mean", "stars/mean"]].isna().all()
    turns = agents.session("s-new")
    assert turns.status.tolist() == ["OK", "ERROR"] and "tool failed" in turns.error.iloc[1]
    assert turns.user.tolist() == ["b", "boom"] and turns.assistant.tolist() == ["fine", ""]


def test_pages_filters_and_the_threshold_search(server):
    for i in range(12):
        for turn in range(2):
            with llmops_nb.span("support" if i % 2 else "sales", kind="CHAIN", session=f"s{i:02d}") as root:
                root.set_inputs({"question": f"q{i}.{turn}"})
        for _ in range(30):  # traces without a session make the first threshold too shallow
            with llmops_nb.span("noise", kind="CHAIN"):
                pass
    everything = agents.sessions(limit=None)
    assert everything.session.tolist() == [f"s{i:02d}" for i in reversed(range(12))]
    assert (everything.turns == 2).all()
    pages = [agents.sessions(limit=5, offset=o).session.tolist() for o in (0, 5, 10)]
    assert [s for page in pages for s in page] == everything.session.tolist()
    assert agents.sessions(limit=0).empty
    assert agents.sessions(name="supp*").session.tolist() == [f"s{i:02d}" for i in (11, 9, 7, 5, 3, 1)]
    assert agents.sessions(name="support", limit=2).session.tolist() == ["s11", "s09"]
    middle = llmops_nb.traces(session="s06").start_time.min()
    since = agents.sessions(since=middle.replace(tzinfo=dt.timezone.utc))
    assert since.session.tolist()[-1] == "s06" and len(since) == 6
    assert agents.sessions(until=middle.replace(tzinfo=dt.timezone.utc)).session.tolist()[0] == "s05"
    assert agents.sessions(store=get_store()).shape[0] == 12


def test_an_empty_store_gives_empty_frames_with_the_columns():
    frame = agents.sessions()
    assert frame.empty and list(frame.columns) == list(SESSION_COLUMNS)
    assert agents.sessions(name="x*", since=dt.timedelta(days=1), limit=None).empty


@pytest.mark.file_store
def test_another_store_by_path(tmp_path, server):
    with llmops_nb.span("chat", session="here"):
        pass
    llmops_nb.flush()
    other = tmp_path / "other.duckdb"
    assert agents.sessions(store=other).empty  # a new file: migrated, empty
    assert agents.sessions(store=str(llmops_nb._config.settings.db_path())).session.tolist() == ["here"]


@pytest.mark.parametrize(("call", "error", "match"), [
    (lambda: agents.sessions(limit=-1), ValueError, r"limit=\.\.\.\) is a count of rows, e\.g\. limit=100"),
    (lambda: agents.sessions(offset="10"), ValueError, r"offset=100 for the second page"),
    (lambda: agents.sessions(since="yesterday"), ValueError, r"since='yesterday' is not an ISO date/time"),
    (lambda: agents.sessions(name="ab[c*"), ValueError, r"write \[\[\] for a literal"),
    (lambda: agents.sessions(store=42), TypeError, r"store=\.\.\.\) takes a path to a DuckDB file"),
    (lambda: agents.sessions(where="t.name = ?"), TypeError, r"unexpected keyword argument 'where'"),
    (lambda: agents.session(None), TypeError, r"takes a session id \(a string\)"),
    (lambda: agents.session("nope"), LookupError, r"No session 'nope' in the store: list them"),
])
def test_bad_arguments_name_the_fix(call, error, match):
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize(("inputs", "text"), [
    ({"messages": [{"role": "user", "content": "one"}, {"role": "assistant", "content": "x"},
                   {"role": "user", "content": [{"type": "text", "text": "two"},
                                                {"type": "image_url", "image_url": {"url": "data:"}}]},
                   {"role": "tool", "content": "{}"}]}, "two"),
    ({"model": "m", "messages": [{"role": "system", "content": "s"}]}, '{"model": "m", "messages": [{"role": '
                                                                       '"system", "content": "s"}]}'),
    ({"prompt": "p", "temperature": 0}, "p"),
    ({"city": "Paris"}, "Paris"),
    ([{"role": "user", "content": "listed"}], "listed"),
    ("plain", "plain"),
    (None, ""),
])
def test_user_text_reads_the_chat_shapes(inputs, text):
    assert user_text(inputs) == text


@pytest.mark.parametrize(("outputs", "text"), [
    ({"choices": [{"message": {"role": "assistant", "content": "openai"}}]}, "openai"),
    ({"role": "assistant", "type": "message", "content": [{"type": "text", "text": "anthropic"}]}, "anthropic"),
    ({"answer": "field", "sources": []}, "field"),
    ("string", "string"),
])
def test_assistant_text_reads_the_reply_shapes(outputs, text):
    assert assistant_text(outputs) == text
