"""Guardrails on calls: block, redact and warn on inputs and outputs, as GUARDRAIL spans in the real store."""

from __future__ import annotations

import asyncio
import json
import logging
import traceback

import pytest

import llmops_nb
from llmops_nb.guardrails import (
    Finding,
    GuardrailError,
    Validator,
    banned,
    check,
    guardrail,
    json_schema,
    max_length,
    pii,
)

EMAIL = "ann.lee@example.com"
CARD = "4111 1111 1111 1111"


def stored(trace_id: str):
    llmops_nb.flush()
    return llmops_nb.spans(trace_id)


def last_trace(name: str):
    llmops_nb.flush()
    return stored(llmops_nb.traces(name=name, limit=1).trace_id[0])


def everything_stored(frame) -> str:
    return frame.to_json(default_handler=str, date_format="iso")


def test_blocked_input_raises_before_the_function_runs_and_stores_no_raw_value():
    ran = []

    @guardrail(input=[pii()], action="block")
    def answer(question):
        ran.append(question)
        return "ok"

    with pytest.raises(GuardrailError) as info:
        answer(f"My card is {CARD}, mail {EMAIL}")
    error = info.value
    assert ran == []
    assert (error.guardrail, error.side) == ("pii", "input")
    assert [f.kind for f in error.findings] == ["CREDIT_CARD", "EMAIL"]
    assert EMAIL not in str(error) and CARD not in str(error) and "action='redact'" in str(error)
    assert isinstance(error, llmops_nb.LlmopsError)
    # raised as by the call itself: the user's line, none of ours (the guardrail's span keeps the full traceback)
    assert [f.name for f in traceback.extract_tb(error.__traceback__)] == [
        "test_blocked_input_raises_before_the_function_runs_and_stores_no_raw_value"]

    spans = last_trace("answer")
    call = spans[spans.name == "answer"].iloc[0]
    check_span = spans[spans.kind == "GUARDRAIL"].iloc[0]
    assert call["status"] == "ERROR" and check_span["parent_span_id"] == call["span_id"]
    attributes = check_span["attributes"]
    assert attributes["llmops_nb.guardrail.name"] == "pii"
    assert attributes["llmops_nb.guardrail.side"] == "input"
    assert attributes["llmops_nb.guardrail.passed"] is False
    assert attributes["llmops_nb.guardrail.action"] == "block"
    assert attributes["llmops_nb.guardrail.findings"] == 2
    assert attributes["llmops_nb.guardrail.kinds"] == ["CREDIT_CARD", "EMAIL"]
    text = everything_stored(spans)
    assert EMAIL not in text and "4111" not in text
    # one exception passing through two spans is one error of the trace
    llmops_nb.flush()
    row = llmops_nb.traces(name="answer", limit=1).iloc[0]
    assert row["status"] == "ERROR"


def test_redacted_input_reaches_the_function_and_the_span_masked():
    seen = []

    @guardrail(input=[pii(["EMAIL"])], action="redact")
    def answer(question, history):
        seen.append((question, history))
        return "noted"

    history = [{"role": "user", "content": f"I am {EMAIL}"}]
    assert answer(f"write to {EMAIL} please", history=history) == "noted"
    assert seen == [("write to [EMAIL_1] please", [{"role": "user", "content": "I am [EMAIL_1]"}])]
    assert history == [{"role": "user", "content": f"I am {EMAIL}"}]  # the caller's list is not changed
    spans = last_trace("answer")
    call = spans[spans.name == "answer"].iloc[0]
    assert call["inputs"] == {"question": "write to [EMAIL_1] please",
                              "history": [{"role": "user", "content": "I am [EMAIL_1]"}]}
    guard = spans[spans.kind == "GUARDRAIL"].iloc[0]
    assert guard["attributes"]["llmops_nb.guardrail.action"] == "redact"
    assert guard["outputs"] == [{"guardrail": "pii", "kind": "EMAIL", "message": "EMAIL at 9..28", "index": 0,
                                 "start": 9, "end": 28},
                                {"guardrail": "pii", "kind": "EMAIL", "message": "EMAIL at 5..24", "index": 1,
                                 "start": 5, "end": 24}]
    assert EMAIL not in everything_stored(spans)


def test_redacted_output_is_what_the_caller_gets_and_what_is_stored():
    @guardrail(output=[banned(["project falcon"], patterns=[r"(?i)ticket-\d+"])], action="redact")
    def reply():
        return {"text": "About PROJECT  Falcon: see TICKET-42.", "n": 3}

    assert reply() == {"text": "About [BANNED]: see [BANNED].", "n": 3}
    spans = last_trace("reply")
    assert spans[spans.name == "reply"].iloc[0]["outputs"] == {"text": "About [BANNED]: see [BANNED].", "n": 3}
    kinds = spans[spans.kind == "GUARDRAIL"].iloc[0]["attributes"]["llmops_nb.guardrail.kinds"]
    assert kinds == ["pattern", "term"]


def test_warn_records_and_changes_nothing(caplog):
    result = {"answer": f"mail {EMAIL}"}

    @guardrail(output=[pii()], action="warn")
    def reply():
        return result

    with caplog.at_level(logging.WARNING, logger="llmops_nb.guardrails"):
        assert reply() is result
    assert "guardrail 'pii' on the output: EMAIL at 5..24" in caplog.text and EMAIL not in caplog.text
    guard = last_trace("reply").query("kind == 'GUARDRAIL'").iloc[0]
    assert guard["status"] == "OK"
    assert (guard["attributes"]["llmops_nb.guardrail.passed"], guard["attributes"]["llmops_nb.guardrail.action"]) \
        == (False, "warn")


def test_a_passing_call_returns_the_same_object_and_keeps_the_users_traceback():
    payload = {"city": "Paris"}

    @guardrail(input=[pii()], output=[json_schema({"type": "object", "required": ["city"]})])
    def lookup(city):
        return payload

    def failing(city):
        raise KeyError(city)

    guarded_failing = guardrail(input=[pii()])(failing)
    assert lookup("Paris") is payload
    with pytest.raises(KeyError) as untraced:
        failing("Lyon")
    with pytest.raises(KeyError) as guarded:
        guarded_failing("Lyon")
    frames = [f.name for f in traceback.extract_tb(guarded.value.__traceback__)]
    assert frames == [f.name for f in traceback.extract_tb(untraced.value.__traceback__)]
    assert not any("llmops_nb" in f.filename for f in traceback.extract_tb(guarded.value.__traceback__))
    spans = last_trace("lookup")
    guards = spans[spans.kind == "GUARDRAIL"]
    assert guards.name.tolist() == ["pii", "json_schema"]
    assert [a["llmops_nb.guardrail.side"] for a in guards.attributes] == ["input", "output"]
    assert all(a["llmops_nb.guardrail.passed"] is True for a in guards.attributes)


def test_schema_violations_block_and_cannot_be_redacted():
    schema = {"type": "object", "required": ["city"], "properties": {"temp_c": {"type": "number"}}}

    @guardrail(output=[json_schema(schema)], action="redact")
    def weather(raw):
        return raw

    assert weather('{"city": "Oslo", "temp_c": 3}') == '{"city": "Oslo", "temp_c": 3}'
    with pytest.raises(GuardrailError) as info:
        weather('{"temp_c": "4111-1111"}')
    assert [f.message for f in info.value.findings] == ['(root): fails required=["city"]',
                                                        '/temp_c: fails type="number"']
    assert "4111" not in str(info.value)
    with pytest.raises(GuardrailError, match="not JSON: Expecting value at line 1 column 1"):
        weather("Sure! Here it is")
    with pytest.raises(ValueError, match="the schema is not valid"):
        json_schema({"type": "objekt"})


def test_input_schema_checks_the_arguments_by_name():
    @guardrail(input=[json_schema({"properties": {"n": {"type": "integer", "maximum": 10}}})])
    def repeat(n, text="x"):
        return text * n

    assert repeat(3) == "xxx"
    with pytest.raises(GuardrailError, match="/n: fails maximum=10"):
        repeat(n=11)


def test_banned_terms_are_whole_words_in_any_case_and_patterns_run_on_re2():
    guard = banned(["secret project", "c++"], patterns=[r"(a+)+$"])
    assert [f.message for f in check("the SECRET\nproject and C++!", [guard], action="warn").findings] == [
        "terms[0] at 4..18", "terms[1] at 23..26"]
    assert check("topsecret projects", [guard]).passed
    # (a+)+$ backtracks exponentially in Python's re on this text; RE2 answers in linear time
    assert check("a" * 50_000 + "!", [guard]).passed
    with pytest.raises(ValueError, match=r"patterns\[0\] .* not RE2 syntax .* allow_backtracking=True"):
        banned(patterns=[r"(\w+) \1"])
    doubled = banned(patterns=[r"\b(\w+) \1\b"], allow_backtracking=True)
    assert check("it is is here", [doubled], action="redact").value == "it [BANNED] here"
    with pytest.raises(ValueError, match="needs terms"):
        banned()


def test_max_length_counts_all_strings_and_truncates_on_redact():
    messages = [{"role": "system", "content": "a" * 6}, {"role": "user", "content": "b" * 6}]
    verdict = check(messages, [max_length(chars=10)], action="redact")
    assert verdict.value == [{"role": "system", "content": "a" * 6}, {"role": "user", "content": "b" * 4}]
    assert [f.message for f in verdict.findings] == ["12 characters, limit 10"]
    assert check("word " * 5, [max_length(tokens=5)]).passed
    over = check("word " * 6, [max_length(tokens=5)], action="redact")
    assert over.findings[0].message == "6 tokens (estimated), limit 5" and over.value == "word " * 5
    exact = max_length(tokens=3, tokenizer=str.split)  # a tokenizer returning a list: its length counts
    assert check("one two three four", [exact], action="redact").value == "one two three "
    with pytest.raises(ValueError, match="needs chars=N"):
        max_length()


def test_per_validator_actions_and_the_first_block_ends_the_pass():
    calls = []

    class Counting(Validator):
        def inspect(self, subject):
            calls.append(subject.texts)
            return []

    verdict = check(f"code name falcon, mail {EMAIL}",
                    [pii(action="redact"), banned(["falcon"]), Counting(name="after")], action="block")
    assert verdict.blocked and verdict.blocked_by == "banned" and calls == []
    assert [f.guardrail for f in verdict.findings] == ["pii", "banned"]
    assert verdict.value == "code name falcon, mail [EMAIL_1]"  # pii redacted before banned blocked
    with pytest.raises(GuardrailError) as info:
        verdict.raise_for_block()
    assert info.value.guardrail == "banned" and [f.kind for f in info.value.findings] == ["term"]
    fine = check("hello", [pii(), Counting(name="after")])
    assert fine.raise_for_block() is fine and calls == [["hello"]]


class Broken(Validator):
    def inspect(self, subject):
        raise RuntimeError("detector crashed")


def test_a_validator_that_cannot_run_blocks_or_allows_as_its_on_error_says():
    @guardrail(input=[Broken(name="broken")])
    def closed(text):
        return text

    @guardrail(input=[Broken(name="broken", on_error="allow")])
    def opened(text):
        return text

    with pytest.raises(GuardrailError, match=r"could not run \(RuntimeError: detector crashed\).*on_error='allow'") \
            as info:
        closed("hi")
    assert isinstance(info.value.__cause__, RuntimeError)
    assert opened("hi") == "hi"
    guard = last_trace("opened").query("kind == 'GUARDRAIL'").iloc[0]
    assert guard["status"] == "ERROR" and guard["error"]["type"] == "RuntimeError"
    assert guard["attributes"]["llmops_nb.guardrail.error"] == "RuntimeError: detector crashed"
    assert guard["attributes"]["llmops_nb.guardrail.on_error"] == "allow"
    verdict = check("hi", [Broken(name="broken", on_error="allow")])
    assert not verdict.passed and not verdict.blocked and verdict.errors == ("broken: RuntimeError: detector crashed",)
    # on_error="block" under warn: the failed check is recorded, the value goes on
    assert check("hi", [Broken(name="broken")], action="warn").action == "warn"


def test_check_reads_message_contents_not_roles_and_groups_its_spans():
    messages = [{"role": "user", "content": [{"type": "text", "text": f"I am {EMAIL}"}]}]
    verdict = check(messages, [pii(), banned(["user", "text"])], action="redact")
    assert verdict.value == [{"role": "user", "content": [{"type": "text", "text": "I am [EMAIL_1]"}]}]
    assert [f.kind for f in verdict.findings] == ["EMAIL"] and verdict.action == "redact"
    spans = last_trace("guardrails")
    parent = spans[spans.parent_span_id.isna()].iloc[0]
    assert (parent["name"], parent["kind"]) == ("guardrails", "GUARDRAIL")
    assert spans[spans.parent_span_id == parent["span_id"]].name.tolist() == ["pii", "banned"]
    with pytest.raises(ValueError, match="Did you mean 'redact'"):
        check("x", [pii()], action="redakt")
    with pytest.raises(TypeError, match="takes validators"):
        check("x", ["pii"])


def test_methods_skip_self_and_async_functions_are_guarded():
    class Bot:
        @guardrail(input=[pii()], output=[max_length(chars=5)], action="redact")
        async def ask(self, question):
            return f"re: {question}"

    assert asyncio.run(Bot().ask(f"{EMAIL}")) == "re: ["
    spans = last_trace("Bot.ask")
    call = spans[spans.parent_span_id.isna()].iloc[0]
    assert call["inputs"] == {"question": "[EMAIL_1]"} and call["outputs"] == "re: ["

    @guardrail(input=[banned(["drop table"])])
    async def query(sql):
        return sql

    with pytest.raises(GuardrailError, match="terms\\[0\\]"):
        asyncio.run(query("DROP TABLE users"))


def test_generators_check_the_joined_stream_at_the_end():
    @guardrail(output=[banned(["falcon"])])
    def stream(parts):
        yield from parts

    assert list(stream(["all ", "clear"])) == ["all ", "clear"]
    received = []
    with pytest.raises(GuardrailError, match="output blocked") as info:
        for chunk in stream(["fal", "con ready"]):  # the term spans two chunks
            received.append(chunk)
    assert received == ["fal", "con ready"]
    assert not any("llmops_nb" in f.filename for f in traceback.extract_tb(info.value.__traceback__))
    spans = last_trace("stream")
    call = spans[spans.name == "stream"].iloc[0]
    guard = spans[spans.kind == "GUARDRAIL"].iloc[0]
    assert guard["parent_span_id"] == call["span_id"] and call["status"] == "ERROR"
    assert guard["attributes"]["llmops_nb.guardrail.side"] == "output"
    with pytest.raises(ValueError, match="a stream's items are delivered"):
        guardrail(output=[pii()], action="redact")(stream.__wrapped__)
    guardrail(input=[pii()], action="redact")(stream.__wrapped__)  # redacting inputs is fine

    @guardrail(input=[pii()], output=[json_schema({"type": "array"}, action="block")], action="redact")
    async def events(text):
        yield text
        yield '"]'

    async def consume():
        return [item async for item in events(f'["{EMAIL}')]

    assert asyncio.run(consume()) == ['["[EMAIL_1]', '"]']


def test_findings_never_carry_the_text():
    finding = check(f"call {CARD}", [pii()]).findings[0]
    assert finding == Finding("pii", "CREDIT_CARD", "CREDIT_CARD at 5..24", 0, 5, 24)
    assert CARD not in json.dumps(finding.to_dict())


def test_a_validator_of_your_own_and_a_redaction_that_fails():
    import pickle
    import re

    class NoUrls(Validator):
        name = "no_urls"
        pattern = re.compile(r"https?://\S+")

        def inspect(self, subject):
            return [Finding(self.name, "url", f"URL at {m.start()}..{m.end()}", i, m.start(), m.end(), "[URL]")
                    for i, text in enumerate(subject.texts) for m in self.pattern.finditer(text)]

    class CannotMask(NoUrls):
        name = "cannot_mask"

        def redact(self, subject, findings):
            raise OSError("mask store unavailable")

    assert check("see https://x.example/a now", [NoUrls()], action="redact").value == "see [URL] now"
    verdict = check("see https://x.example/a", [CannotMask()], action="redact")
    assert verdict.blocked and verdict.errors == ("cannot_mask: redaction failed: OSError: mask store unavailable",)
    assert "could not run (redaction failed: OSError: mask store unavailable)" in str(verdict.block_error)
    error = pickle.loads(pickle.dumps(verdict.block_error))
    assert (error.guardrail, error.side, error.findings) == ("cannot_mask", "input", verdict.findings)
    schema_error = check("{}", [json_schema({"required": ["a"]})], side="output").block_error
    assert "The value was withheld" in str(schema_error) and "redact" not in str(schema_error)


def test_static_and_class_methods_and_the_call_spans_name_and_kind():
    class Tools:
        @guardrail(input=[banned(["rm -rf"])], name="shell", kind="TOOL")
        @staticmethod
        def run(command):
            return f"ran {command}"

        @guardrail(output=[max_length(chars=3)], action="redact")
        @classmethod
        def label(cls, text):
            return f"{cls.__name__}:{text}"

    assert Tools.run("ls") == "ran ls" and Tools().run("pwd") == "ran pwd"
    with pytest.raises(GuardrailError):
        Tools.run("RM -RF /")
    assert Tools.label("x") == "Too"
    spans = last_trace("shell")
    call = spans[spans.parent_span_id.isna()].iloc[0]
    assert (call["kind"], call["inputs"]) == ("TOOL", None)  # blocked: the arguments are not stored
    assert last_trace("Tools.label").query("parent_span_id.isna()").iloc[0]["inputs"] == {"text": "x"}
