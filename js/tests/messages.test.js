import { describe, expect, it } from "vitest";
import { normalizeDocuments } from "../lib/documents.js";
import { normalizeMessages, parts } from "../lib/messages.js";

const roles = (list) => list.map((m) => m.role);

describe("OpenAI Chat Completions", () => {
  const inputs = {
    model: "gpt-4o",
    messages: [
      { role: "system", content: "be brief" },
      { role: "user", content: [{ type: "text", text: "weather?" }, { type: "image_url", image_url: { url: "javascript:alert(1)" } }] },
      { role: "assistant", content: null, tool_calls: [{ id: "call_1", type: "function", function: { name: "weather", arguments: '{"city":"Paris"}' } }] },
      { role: "tool", tool_call_id: "call_1", content: '{"temp_c": 21}' },
    ],
  };
  const outputs = { choices: [{ index: 0, message: { role: "assistant", content: "21 °C\nsunny", tool_calls: null } }] };

  it("reads every role, tool calls with pretty JSON arguments, and tool results", () => {
    const c = normalizeMessages(inputs, outputs, null);
    expect(roles(c.input)).toEqual(["system", "user", "assistant", "tool"]);
    expect(c.input[1].parts).toEqual([{ type: "text", text: "weather?" }, { type: "media", text: "[image]" }]);
    expect(c.input[2].parts[0]).toMatchObject({ type: "tool_call", id: "call_1", name: "weather" });
    expect(c.input[2].parts[0].arguments).toBe('{\n  "city": "Paris"\n}');
    expect(c.input[3].parts[0]).toMatchObject({ type: "tool_result", id: "call_1", content: '{\n  "temp_c": 21\n}' });
    expect(c.output).toEqual([{ role: "assistant", name: undefined, parts: [{ type: "text", text: "21 °C\nsunny" }] }]);
  });

  it("labels several choices", () => {
    const c = normalizeMessages(inputs, { choices: [{ index: 0, message: { content: "a" } }, { index: 1, message: { content: "b" } }] });
    expect(c.output.map((m) => m.name)).toEqual(["choice 0", "choice 1"]);
  });
});

describe("Anthropic Messages", () => {
  it("reads system, tool_use and tool_result blocks; a user turn of only results is a tool turn", () => {
    const inputs = {
      system: [{ type: "text", text: "you are terse" }],
      messages: [
        { role: "user", content: "weather?" },
        { role: "assistant", content: [{ type: "text", text: "checking" }, { type: "tool_use", id: "tu_1", name: "weather", input: { city: "Paris" } }] },
        { role: "user", content: [{ type: "tool_result", tool_use_id: "tu_1", content: [{ type: "text", text: "21C" }], is_error: false }] },
      ],
    };
    const outputs = { role: "assistant", type: "message", content: [{ type: "thinking", thinking: "hmm" }, { type: "text", text: "21 °C" }] };
    const c = normalizeMessages(inputs, outputs, null);
    expect(roles(c.input)).toEqual(["system", "user", "assistant", "tool"]);
    expect(c.input[0].parts).toEqual([{ type: "text", text: "you are terse" }]);
    expect(c.input[2].parts[1]).toMatchObject({ type: "tool_call", id: "tu_1", name: "weather", arguments: '{\n  "city": "Paris"\n}' });
    expect(c.input[3].parts[0]).toMatchObject({ type: "tool_result", id: "tu_1", content: "21C", isError: false });
    expect(c.output[0].parts).toEqual([{ type: "thinking", text: "hmm" }, { type: "text", text: "21 °C" }]);
  });

  it("takes a plain-string system prompt", () => {
    const c = normalizeMessages({ system: "sys", messages: [{ role: "user", content: "hi" }] }, null);
    expect(c.input.map((m) => m.parts[0].text)).toEqual(["sys", "hi"]);
    expect(c.output).toEqual([]);
  });
});

describe("OpenAI Responses", () => {
  it("reads instructions, a string input and output items", () => {
    const c = normalizeMessages({ model: "gpt-4o", input: "hello", instructions: "sys" }, {
      output: [
        { type: "reasoning", summary: [{ type: "summary_text", text: "think" }] },
        { type: "function_call", call_id: "c1", name: "lookup", arguments: '{"q":1}' },
        { type: "message", role: "assistant", content: [{ type: "output_text", text: "Hi" }, { type: "refusal", refusal: "no" }] },
      ],
    });
    expect(roles(c.input)).toEqual(["system", "user"]);
    expect(c.output[0].parts[0]).toEqual({ type: "thinking", text: "think" });
    expect(c.output[1].parts[0]).toMatchObject({ type: "tool_call", id: "c1", name: "lookup" });
    expect(c.output[2].parts).toEqual([{ type: "text", text: "Hi" }, { type: "refusal", text: "no" }]);
  });

  it("reads input item lists with function call outputs", () => {
    const c = normalizeMessages({
      input: [
        { role: "user", content: [{ type: "input_text", text: "q" }] },
        { type: "function_call", call_id: "c1", name: "f", arguments: "{}" },
        { type: "function_call_output", call_id: "c1", output: "42" },
      ],
    }, null);
    expect(roles(c.input)).toEqual(["user", "assistant", "tool"]);
    expect(c.input[2].parts[0]).toMatchObject({ type: "tool_result", id: "c1", content: "42" });
  });
});

describe("other shapes", () => {
  it("reads OpenTelemetry gen_ai message attributes", () => {
    const attrs = {
      "gen_ai.system_instructions": JSON.stringify([{ type: "text", content: "sys" }]),
      "gen_ai.input.messages": [{ role: "user", parts: [{ type: "text", content: "hi" }] }],
      "gen_ai.output.messages": JSON.stringify([{ role: "assistant", parts: [{ type: "tool_call", id: "t", name: "f", arguments: { a: 1 } }] }]),
    };
    const c = normalizeMessages(null, null, attrs);
    expect(roles(c.input)).toEqual(["system", "user"]);
    expect(c.input[1].parts[0].text).toBe("hi");
    expect(c.output[0].parts[0]).toMatchObject({ type: "tool_call", name: "f" });
  });

  it("finds no conversation in a plain tool call", () => {
    expect(normalizeMessages({ city: "Paris" }, { temp_c: 21 }, { "gen_ai.tool.name": "weather" })).toBeNull();
    expect(normalizeMessages(null, "text", null)).toBeNull();
  });

  it("keeps unknown blocks as JSON text", () => {
    expect(parts([{ type: "mystery", x: 1 }])).toEqual([{ type: "other", text: '{\n  "type": "mystery",\n  "x": 1\n}' }]);
  });
});

describe("normalizeDocuments", () => {
  it("reads MLflow-style documents with scores and metadata", () => {
    const docs = normalizeDocuments([
      { id: "d1", page_content: "Paris is the capital", score: 0.91, metadata: { source: "wiki" } },
      { text: "second", relevance_score: "0.5" },
      "plain string doc",
    ]);
    expect(docs).toEqual([
      { id: "d1", text: "Paris is the capital", score: 0.91, metadata: { source: "wiki" } },
      { id: null, text: "second", score: 0.5, metadata: null },
      { id: null, text: "plain string doc", score: null, metadata: null },
    ]);
  });

  it("unwraps {documents: [...]} and rejects lists that are not documents", () => {
    expect(normalizeDocuments({ documents: [{ content: "x", score: 1 }] })).toHaveLength(1);
    expect(normalizeDocuments([1, 2, 3])).toBeNull();
    expect(normalizeDocuments([{ a: 1 }])).toBeNull();
    expect(normalizeDocuments({})).toBeNull();
  });
});
