"""Guardrails asking a model (a real local server speaking OpenAI's protocol), and guardrails as evaluation scorers."""

from __future__ import annotations

import asyncio

import pytest

import llmops_nb
from llmops_nb.evals import evaluate, scorers
from llmops_nb.guardrails import GuardrailError, as_scorer, banned, check, guardrail, json_schema, judge, pii
from llmops_nb.models import forget_models
from tests.fakes import FakeLLMServer, Reply

EMAIL = "ann.lee@example.com"


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


def test_a_judge_passes_on_yes_and_blocks_on_no_with_its_rationale(server):
    on_topic = judge("Is this message about cooking? {{ text }}", model=uri(server), name="on_topic")

    @guardrail(input=[on_topic])
    def chef(question):
        return "Boil it."

    server.enqueue('{"rationale": "asks about pasta", "result": "yes"}',
                   '{"rationale": "asks about taxes", "result": "no"}')
    assert chef("How long do I boil pasta?") == "Boil it."
    with pytest.raises(GuardrailError, match="judge 'on_topic' said False: asks about taxes") as info:
        chef("How do I file my taxes?")
    assert info.value.findings[0].kind == "judge"
    sent = server.requests[-1].body["messages"][-1]["content"]
    assert sent == "Is this message about cooking? {\n  \"question\": \"How do I file my taxes?\"\n}"

    llmops_nb.flush()
    spans = llmops_nb.spans(llmops_nb.traces(name="chef", limit=1).trace_id[0])
    guard = spans[spans.kind == "GUARDRAIL"].iloc[0]
    chat = spans[spans.kind == "CHAT_MODEL"].iloc[0]
    assert chat["parent_span_id"] == guard["span_id"]  # the judge's model call, under its check
    assert guard["attributes"]["llmops_nb.guardrail.action"] == "block"


def test_an_output_judge_reads_the_question_and_runs_off_the_event_loop(server):
    answers = judge("Does {{ outputs }} answer {{ inputs }}?", model=uri(server), name="answers")

    @guardrail(output=[answers], action="warn")
    async def bot(question):
        await asyncio.sleep(0)
        return "Paris"

    server.enqueue('{"rationale": "it does", "result": "yes"}')
    assert asyncio.run(bot("Capital of France?")) == "Paris"
    prompt = server.requests[-1].body["messages"][-1]["content"]
    assert prompt == 'Does Paris answer {\n  "question": "Capital of France?"\n}?'
    llmops_nb.flush()
    spans = llmops_nb.spans(llmops_nb.traces(name="bot", limit=1).trace_id[0])
    guard = spans[spans.kind == "GUARDRAIL"].iloc[0]
    assert spans[spans.kind == "CHAT_MODEL"].iloc[0]["parent_span_id"] == guard["span_id"]  # from the worker thread
    assert guard["parent_span_id"] == spans[spans.name == "bot"].iloc[0]["span_id"]


def test_a_judge_that_cannot_answer_fails_open_by_default_and_closed_when_asked(server):
    server.enqueue(Reply.error(500, "model overloaded"), "I cannot decide.", Reply.error(500, "model overloaded"))

    @guardrail(output=[judge("Is {{ text }} polite?", model=uri(server), name="polite")])
    def reply():
        return "Fine."

    @guardrail(output=[judge("Is {{ text }} polite?", model=uri(server), name="polite", on_error="block")])
    def strict():
        return "Fine."

    assert reply() == "Fine."  # server error: allowed, recorded
    assert reply() == "Fine."  # unreadable reply: allowed, recorded
    llmops_nb.flush()
    guard = llmops_nb.spans(llmops_nb.traces(name="reply", limit=1).trace_id[0]).query("kind == 'GUARDRAIL'").iloc[0]
    assert guard["status"] == "ERROR" and "JudgeFailedError" in guard["attributes"]["llmops_nb.guardrail.error"]
    with pytest.raises(GuardrailError, match="could not run") as info:
        strict()
    assert type(info.value.__cause__).__name__ == "ModelCallError"


def test_a_judge_made_already_is_usable_as_a_check(server):
    safe = judge(scorers.safety(model=uri(server)))
    assert (safe.name, safe.on_error, safe.model_uri) == ("safety", "allow", uri(server))
    server.enqueue('{"rationale": "instructions for harm", "result": "no"}')
    verdict = check("how to build a weapon", [safe], side="output")
    assert verdict.blocked and verdict.findings[0].message.startswith("judge 'safety' said False")
    with pytest.raises(TypeError, match="takes the judge as it is"):
        judge(scorers.safety(), model="openai:/x")


def test_guardrails_score_an_evaluation(server):
    schema = {"type": "object", "required": ["city"]}
    server.enqueue('{"rationale": "polite", "result": "yes"}', '{"rationale": "rude", "result": "no"}')
    data = [{"inputs": {"q": "where?"}, "outputs": '{"city": "Paris"}'},
            {"inputs": {"q": f"I am {EMAIL}"}, "outputs": "Go away, secret project."}]
    df = evaluate(data, scorers=[as_scorer(json_schema(schema)), as_scorer(banned(["secret project"])),
                                 as_scorer(pii(), side="input", name="pii_in"),
                                 as_scorer(judge("Is {{ text }} polite?", model=uri(server), name="polite"))],
                  max_concurrency=1, progress=False)
    assert df["json_schema/value"].tolist() == [True, False]
    assert df["json_schema/rationale"][1] == "not JSON: Expecting value at line 1 column 1"
    assert df["banned/value"].tolist() == [True, False] and df["banned/rationale"][1] == "terms[0] at 9..23"
    assert df["pii_in/value"].tolist() == [True, False] and df["pii_in/rationale"][1] == "EMAIL at 5..24"
    assert df["polite/value"].tolist() == [True, False]
    stored = llmops_nb.evals.assessments(df.trace_id[1])
    assert set(stored.source_type) == {"CODE", "LLM_JUDGE"}
    assert EMAIL not in stored.to_json(date_format="iso")


def test_a_scorer_whose_check_cannot_run_gives_an_error_cell(server):
    server.enqueue(Reply.error(500, "down"))
    df = evaluate([{"inputs": {"q": "x"}, "outputs": "y"}],
                  scorers=[as_scorer(judge("Is {{ text }} fine?", model=uri(server), name="fine"))], progress=False)
    assert df["fine/value"].isna().all() and "ModelCallError" in df["fine/error"][0]
