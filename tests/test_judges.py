"""LLM judges: robust reply parsing, prompts, trace-reading judges, and failures as error cells."""

from __future__ import annotations

import json

import pytest

import llmops_nb
from llmops_nb.evals import evaluate, make_judge, scorers
from llmops_nb.evals._parse import JudgeParseError, ValueType, parse_reply
from llmops_nb.models import forget_models
from tests.fakes import FakeLLMServer, Reply

YES_NO = ValueType()
SCALE = ValueType("int", (1, 5))
LABELS = ValueType("choice", choices=("good", "bad", "neutral"))


@pytest.fixture
def server():
    with FakeLLMServer() as fake:
        yield fake


@pytest.fixture(autouse=True)
def clean_models():
    yield
    forget_models()
    llmops_nb.autolog(disable=True)


def uri(server) -> str:
    return f"openai:/judge-model?base_url={server.openai_base_url}&max_retries=0"


@pytest.mark.parametrize(("reply", "kind", "value", "rationale"), [
    ('{"rationale": "ok", "result": "yes"}', YES_NO, True, "ok"),
    ('Sure!\n```json\n{"rationale": "matches", "result": "No"}\n```\nHope this helps.', YES_NO, False, "matches"),
    ('Here you go: {"result": "pass", "reason": "fine"} -- done', YES_NO, True, "fine"),
    ('{"rationale": "cut off by max_tokens", "result": "yes"', YES_NO, True, "cut off by max_tokens"),
    ('{"relevance": "yes", "explanation": "on topic"}', YES_NO, True, "on topic"),
    ("Score: 4\nMostly right.", SCALE, 4, "Mostly right."),
    ("**Rating**: 5/5", SCALE, 5, None),
    ("3 out of 5. Decent.", SCALE, 3, "Decent."),
    ('{"score": "2"}', SCALE, 2, None),
    ("Yes.", YES_NO, True, None),
    ("No, it contradicts the context.", YES_NO, False, "it contradicts the context."),
    ("PASS", YES_NO, True, None),
    ("The reply is polite.\n\nVerdict: FAIL", YES_NO, False, "The reply is polite."),
    ("Let me think.\nThe response names Paris.\nYes", YES_NO, True, "Let me think.\nThe response names Paris."),
    ("I believe the answer is yes.", YES_NO, True, "I believe the answer is yes."),
    ("- Result: no\n- Rationale: misses the date", YES_NO, False, "misses the date"),
    ("Bad.", LABELS, "bad", None),
    ('{"label": "Neutral"}', LABELS, "neutral", None),
])
def test_parse_reply_forms(reply, kind, value, rationale):
    assert parse_reply(reply, kind) == (value, rationale)


@pytest.mark.parametrize(("reply", "kind", "detail"), [
    ("", YES_NO, "empty"),
    ("The answer is correct because it mentions Paris.", YES_NO, "raw reply: 'The answer is correct"),
    ("No problem! Here is my analysis of the answer.", YES_NO, "raw reply"),
    ("Rating: 8/10", SCALE, "outside the scale 1..5"),
    ('{"rationale": "I am not sure", "result": "maybe"}', YES_NO, "'maybe' is not yes/no"),
    ("In 2024, the capital was", SCALE, "raw reply"),
    ("great", LABELS, "raw reply: 'great'"),
])
def test_unparseable_replies_raise_with_the_raw_reply(reply, kind, detail):
    with pytest.raises(JudgeParseError, match=r"could not read|empty") as info:
        parse_reply(reply, kind)
    assert detail in str(info.value)


def test_make_judge_validates_its_template():
    judge = make_judge("tone", "Is this polite? {{ outputs }} (asked: {{inputs}})", model="openai:/x")
    assert judge.needs == frozenset({"outputs", "inputs"}) and judge.source == "LLM_JUDGE"
    with pytest.raises(ValueError, match=r"unknown template variables \['output'\]"):
        make_judge("t", "Is {{ output }} ok?")
    with pytest.raises(ValueError, match="use no template variable"):
        make_judge("t", "Is it ok?")
    with pytest.raises(ValueError, match="needs choices"):
        make_judge("t", "{{ outputs }}", value_type=str)
    with pytest.raises(TypeError, match="unknown options"):
        make_judge("t", "{{ outputs }}", temprature=0)
    scale = make_judge("s", "{{ outputs }}", value_type=int, scale=(1, 5))
    assert scale.threshold == 4 and scale.passes(4) and not scale.passes(3)


def test_prompts_are_readable_and_replaceable():
    judge = scorers.correctness(model="openai:/x")
    assert "{{ expectations }}" in judge.instructions
    messages = judge.render(inputs={"q": "capital of France"}, outputs="Paris", expectations="Paris", trace=None)
    assert messages[0]["role"] == "system" and '"result": "yes" | "no"' in messages[0]["content"]
    assert "capital of France" in messages[1]["content"] and "{{" not in messages[1]["content"]
    custom = scorers.correctness(model="openai:/x", instructions="Same meaning? {{ outputs }} vs {{ expectations }}")
    assert custom.render(outputs="a", expectations="b", inputs=None, trace=None)[1]["content"] == \
        "Same meaning? a vs b"


def test_judge_replies_end_up_in_value_rationale_and_error_columns(server):
    judge = make_judge("polite", "Is this polite? {{ outputs }}", model=uri(server))
    server.enqueue('{"rationale": "kind words", "result": "yes"}', "Score: maybe... I cannot decide.",
                   Reply.error(400, "bad request"))
    data = [{"inputs": {"q": str(i)}, "outputs": f"answer {i}"} for i in range(3)]
    df = evaluate(data, scorers=[judge], max_concurrency=1, progress=False)
    assert df["polite/value"].tolist()[0] is True
    assert df["polite/rationale"][0] == "kind words"
    assert df["polite/value"].isna().tolist() == [False, True, True]
    assert "raw reply: 'Score: maybe... I cannot decide.'" in df["polite/error"][1]
    assert df["polite/error"][2].startswith("ModelCallError: openai:/judge-model")
    assert "HTTP 400 (bad request) after 1 attempt" in df["polite/error"][2]
    summary = df.attrs["summary"]["polite"]
    assert summary == {"mean": 1.0, "pass_rate": 1.0, "count": 1, "errors": 2}


def test_judge_call_is_an_evaluator_span_in_the_rows_trace(server):
    judge = scorers.relevance_to_query(model=uri(server))
    server.enqueue('{"rationale": "answers it", "result": "yes"}')
    df = evaluate([{"inputs": {"question": "Capital of France?"}, "outputs": "Paris"}], scorers=[judge],
                  name="relevance-run", progress=False)
    llmops_nb.flush()
    spans = llmops_nb.spans(df.trace_id[0])
    root = spans[spans.parent_span_id.isna()].iloc[0]
    assert (root["name"], root["kind"]) == ("relevance-run", "CHAIN")
    evaluator = spans[spans.kind == "EVALUATOR"].iloc[0]
    assert evaluator["name"] == "relevance_to_query" and evaluator["parent_span_id"] == root["span_id"]
    assert evaluator["attributes"]["gen_ai.evaluation.score.value"] is True
    assert evaluator["attributes"]["llmops_nb.eval.judge_model"] == uri(server)
    chat = spans[spans.kind == "CHAT_MODEL"].iloc[0]
    assert chat["parent_span_id"] == evaluator["span_id"]
    assert "Capital of France?" in json.dumps(chat["inputs"])
    stored = llmops_nb.evals.assessments(df.trace_id[0])
    assert stored[["name", "source_type", "source_id", "value"]].values.tolist() == [
        ["relevance_to_query", "LLM_JUDGE", uri(server), True]]
    assert stored.span_id[0] == evaluator["span_id"]


def test_missing_inputs_are_errors_not_calls(server):
    judges = [scorers.correctness(model=uri(server)), scorers.guidelines(model=uri(server)),
              scorers.groundedness(model=uri(server)), scorers.tool_call_correctness(model=uri(server))]
    df = evaluate([{"inputs": {"q": "x"}, "outputs": "y"}], scorers=judges, progress=False)
    assert "has no expectations" in df["correctness/error"][0]
    assert "no guidelines" in df["guidelines/error"][0]
    assert "no retrieved context" in df["groundedness/error"][0]
    assert "no TOOL spans" in df["tool_call_correctness/error"][0]
    assert server.requests == []  # nothing was sent


def test_groundedness_reads_retriever_spans_and_tool_judge_reads_tool_spans(server):
    @llmops_nb.trace(kind="RETRIEVER")
    def retrieve(question):
        return [{"page_content": "Paris is the capital of France.", "id": 1}]

    @llmops_nb.trace(kind="TOOL")
    def get_weather(city):
        return {"city": city, "temp_c": 21}

    def app(question):
        docs = retrieve(question)
        weather = get_weather("Paris")
        return f"{docs[0]['page_content']} It is {weather['temp_c']} C."

    server.enqueue('{"rationale": "supported", "result": "yes"}', '{"rationale": "right tool", "result": "yes"}')
    df = evaluate([{"inputs": {"question": "Capital of France and weather?"},
                    "expectations": {"expected_tool_calls": [{"name": "get_weather"}]}}], predict_fn=app,
                  scorers=[scorers.groundedness(model=uri(server)), scorers.tool_call_correctness(model=uri(server))],
                  max_concurrency=1, progress=False)
    assert df["groundedness/value"][0] and df["tool_call_correctness/value"][0]
    grounded_prompt = server.requests[0].body["messages"][1]["content"]
    assert "[1] Paris is the capital of France." in grounded_prompt
    tool_prompt = server.requests[1].body["messages"][1]["content"]
    assert '"name": "get_weather"' in tool_prompt and '"temp_c": 21' in tool_prompt
    assert '"name": "get_weather"' in tool_prompt.split("Expected tool calls")[1]


def test_context_field_and_trace_variable(server):
    server.enqueue("Yes. Supported.", "yes")
    trace_judge = make_judge("steps", "Did the agent act sensibly? {{ trace }}", model=uri(server))
    df = evaluate([{"inputs": {"question": "q", "context": ["Doc about q."]}, "outputs": "a"}],
                  scorers=[scorers.groundedness(model=uri(server)), trace_judge], max_concurrency=1, progress=False)
    assert df["groundedness/value"][0] and df["groundedness/rationale"][0] == "Supported."
    assert "[1] Doc about q." in server.requests[0].body["messages"][1]["content"]
    assert "- [CHAIN]" in server.requests[1].body["messages"][1]["content"]


def test_a_429_storm_with_retry_after_still_scores_every_row(server):
    judge = make_judge("ok", "Fine? {{ outputs }}", model=f"openai:/judge?base_url={server.openai_base_url}")
    storm = [Reply.error(429, retry_after=0.05)] * 6
    server.enqueue(*storm, *['{"result": "yes"}'] * 6)
    df = evaluate([{"inputs": {"i": i}, "outputs": str(i)} for i in range(6)], scorers=[judge],
                  max_concurrency=3, progress=False)
    assert df["ok/value"].tolist() == [True] * 6 and df["ok/error"].isna().all()
    assert len(server.requests) == 12


def test_timeouts_become_error_cells(server):
    judge = make_judge("ok", "Fine? {{ outputs }}", model=f"{uri(server)}&timeout=0.2")
    server.enqueue(Reply(text='{"result": "yes"}', delay=1.0))
    df = evaluate([{"inputs": {"i": 1}, "outputs": "1"}], scorers=[judge], progress=False)
    assert df["ok/value"].isna().all() and "timed out" in df["ok/error"][0]
