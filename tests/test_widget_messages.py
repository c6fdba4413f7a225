"""Provider messages read once in Python (``widgets/explorer/_messages``), for the explorer and the snapshot."""

from __future__ import annotations

import json

from llmops_nb.widgets.explorer._messages import normalize_messages, parts


def roles(messages):
    return [m["role"] for m in messages]


CHAT_INPUTS = {"model": "gpt-4o", "messages": [
    {"role": "system", "content": "be brief"},
    {"role": "user", "content": [{"type": "text", "text": "weather?"},
                                 {"type": "image_url", "image_url": {"url": "javascript:alert(1)"}}]},
    {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": '{"city":"Paris"}'}}]},
    {"role": "tool", "tool_call_id": "call_1", "content": '{"temp_c": 21}'},
]}


def test_openai_chat_roles_tool_calls_and_results():
    c = normalize_messages(CHAT_INPUTS, {"choices": [{"index": 0, "message": {"role": "assistant",
                                                                               "content": "21 °C\nsunny"}}]}, None)
    assert roles(c["input"]) == ["system", "user", "assistant", "tool"]
    assert c["input"][1]["parts"] == [{"type": "text", "text": "weather?"}, {"type": "media", "text": "[image]"}]
    call = c["input"][2]["parts"][0]
    assert call == {"type": "tool_call", "id": "call_1", "name": "weather", "arguments": '{\n  "city": "Paris"\n}'}
    assert c["input"][3]["parts"][0] == {"type": "tool_result", "id": "call_1", "content": '{\n  "temp_c": 21\n}',
                                         "is_error": False}
    assert c["output"] == [{"role": "assistant", "name": None, "parts": [{"type": "text", "text": "21 °C\nsunny"}]}]
    assert "javascript" not in json.dumps(c)  # an image is named, never linked


def test_several_choices_are_labelled():
    c = normalize_messages(CHAT_INPUTS, {"choices": [{"index": 0, "message": {"content": "a"}},
                                                     {"index": 1, "message": {"content": "b"}}]}, None)
    assert [m["name"] for m in c["output"]] == ["choice 0", "choice 1"]


def test_anthropic_system_tool_use_and_a_user_turn_of_tool_results():
    inputs = {"system": [{"type": "text", "text": "you are terse"}], "messages": [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": [{"type": "text", "text": "checking"},
                                          {"type": "tool_use", "id": "tu_1", "name": "weather",
                                           "input": {"city": "Paris"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "tu_1",
                                      "content": [{"type": "text", "text": "21C"}], "is_error": True}]}]}
    outputs = {"role": "assistant", "type": "message",
               "content": [{"type": "thinking", "thinking": "hmm"}, {"type": "text", "text": "21 °C"}]}
    c = normalize_messages(inputs, outputs, None)
    assert roles(c["input"]) == ["system", "user", "assistant", "tool"]
    assert c["input"][2]["parts"][1]["arguments"] == '{\n  "city": "Paris"\n}'
    assert c["input"][3]["parts"][0] == {"type": "tool_result", "id": "tu_1", "content": "21C", "is_error": True}
    assert c["output"][0]["parts"] == [{"type": "thinking", "text": "hmm"}, {"type": "text", "text": "21 °C"}]


def test_openai_responses_instructions_items_and_outputs():
    c = normalize_messages({"input": [{"role": "user", "content": [{"type": "input_text", "text": "q"}]},
                                      {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
                                      {"type": "function_call_output", "call_id": "c1", "output": "42"}],
                            "instructions": "sys"},
                           {"output": [{"type": "reasoning", "summary": [{"type": "summary_text", "text": "think"}]},
                                       {"type": "message", "role": "assistant",
                                        "content": [{"type": "output_text", "text": "Hi"},
                                                    {"type": "refusal", "refusal": "no"}]}]}, None)
    assert roles(c["input"]) == ["system", "user", "assistant", "tool"]
    assert c["input"][3]["parts"][0]["content"] == "42"
    assert c["output"][0]["parts"] == [{"type": "thinking", "text": "think"}]
    assert c["output"][1]["parts"] == [{"type": "text", "text": "Hi"}, {"type": "refusal", "text": "no"}]


def test_opentelemetry_message_attributes():
    attrs = {"gen_ai.system_instructions": json.dumps([{"type": "text", "content": "sys"}]),
             "gen_ai.input.messages": [{"role": "user", "parts": [{"type": "text", "content": "hi"}]}],
             "gen_ai.output.messages": json.dumps([{"role": "assistant", "parts": [
                 {"type": "tool_call", "id": "t", "name": "f", "arguments": {"a": 1}}]}])}
    c = normalize_messages(None, None, attrs)
    assert roles(c["input"]) == ["system", "user"] and c["input"][1]["parts"][0]["text"] == "hi"
    assert c["output"][0]["parts"][0]["name"] == "f"


def test_no_conversation_in_a_tool_call_or_a_cut_payload():
    assert normalize_messages({"city": "Paris"}, {"temp_c": 21}, {"gen_ai.tool.name": "weather"}) is None
    assert normalize_messages(None, "text", None) is None
    cut = '{"messages": [{"role": "user"… [truncated at 200000 chars]'
    assert normalize_messages({"prompt": "p"}, cut, None)["output"] == []  # the store's cut JSON is not a reply


def test_unknown_blocks_stay_readable_as_json_text():
    assert parts([{"type": "mystery", "x": 1}]) == [{"type": "other", "text": '{\n  "type": "mystery",\n  "x": 1\n}'}]
