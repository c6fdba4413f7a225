// Chat messages out of a span's inputs/outputs, whatever the provider's shape: OpenAI Chat
// Completions (messages, choices[].message, tool_calls), Anthropic Messages (system + messages,
// content blocks text/tool_use/tool_result), OpenAI Responses (instructions + input items,
// output items) and the OpenTelemetry gen_ai.*.messages attributes. The result is data
// ({role, name?, parts}) that the detail pane renders as text; image URLs are never loaded.

import { prettyJson } from "./format.js";

const isObj = (v) => v != null && typeof v === "object" && !Array.isArray(v);
const str = (v) => (v == null ? "" : typeof v === "string" ? v : prettyJson(v));

function toolCall(id, name, args) {
  return { type: "tool_call", id: id ?? null, name: name ?? "(unnamed tool)", arguments: prettyJson(args ?? "") };
}

function toolResult(id, content, isError = false) {
  const text = Array.isArray(content) ? parts(content).map(partText).join("\n") : str(content);
  return { type: "tool_result", id: id ?? null, content: prettyJson(text), isError: Boolean(isError) };
}

const partText = (p) => p.text ?? p.content ?? p.arguments ?? "";

/** Content (a string, one block, or a list of blocks) as parts. */
export function parts(content) {
  if (content == null) return [];
  if (typeof content === "string") return content ? [{ type: "text", text: content }] : [];
  if (!Array.isArray(content)) content = [content];
  const out = [];
  for (const block of content) {
    if (typeof block === "string") {
      out.push({ type: "text", text: block });
      continue;
    }
    if (!isObj(block)) continue;
    switch (block.type) {
      case "text":
      case "input_text":
      case "output_text":
        out.push({ type: "text", text: str(block.text ?? block.content) });
        break;
      case "refusal":
        out.push({ type: "refusal", text: str(block.refusal ?? block.text) });
        break;
      case "tool_use":
      case "server_tool_use":
        out.push(toolCall(block.id, block.name, block.input));
        break;
      case "tool_call": // OpenTelemetry gen_ai part
      case "function_call":
        out.push(toolCall(block.id ?? block.call_id, block.name, block.arguments));
        break;
      case "tool_result":
        out.push(toolResult(block.tool_use_id, block.content, block.is_error));
        break;
      case "tool_call_response":
      case "function_call_output":
        out.push(toolResult(block.id ?? block.call_id, block.response ?? block.output));
        break;
      case "thinking":
      case "reasoning":
        out.push({ type: "thinking", text: str(block.thinking ?? block.content ?? summaryText(block.summary)) });
        break;
      case "redacted_thinking":
        out.push({ type: "thinking", text: "[redacted thinking]" });
        break;
      case "image":
      case "image_url":
      case "input_image":
        out.push({ type: "media", text: "[image]" });
        break;
      case "input_audio":
      case "audio":
      case "input_file":
      case "file":
      case "document":
        out.push({ type: "media", text: `[${block.type.replace("input_", "")}]` });
        break;
      default:
        if (block.type == null && typeof block.text === "string") out.push({ type: "text", text: block.text });
        else out.push({ type: "other", text: prettyJson(block) });
    }
  }
  return out;
}

function summaryText(summary) {
  if (!Array.isArray(summary)) return str(summary);
  return summary.map((s) => (isObj(s) ? str(s.text) : str(s))).join("\n");
}

/** One Chat Completions or Anthropic message. */
function chatMessage(m) {
  if (!isObj(m)) return { role: "user", parts: parts(str(m)) };
  const role = String(m.role ?? "user");
  if (role === "tool" || role === "function") {
    return { role: "tool", name: m.name, parts: [toolResult(m.tool_call_id ?? m.name, m.content)] };
  }
  const out = parts(m.content);
  if (m.refusal) out.push({ type: "refusal", text: str(m.refusal) });
  for (const tc of Array.isArray(m.tool_calls) ? m.tool_calls : []) {
    if (isObj(tc)) out.push(toolCall(tc.id, tc.function?.name ?? tc.name, tc.function?.arguments ?? tc.arguments));
  }
  if (isObj(m.function_call)) out.push(toolCall(null, m.function_call.name, m.function_call.arguments));
  // Anthropic sends tool results back as a user message made only of tool_result blocks
  const onlyResults = out.length > 0 && out.every((p) => p.type === "tool_result");
  return { role: onlyResults ? "tool" : role, name: m.name, parts: out };
}

/** One OpenAI Responses input/output item. */
function responsesItem(item) {
  if (typeof item === "string") return { role: "user", parts: parts(item) };
  if (!isObj(item)) return null;
  if (item.role != null) return { role: String(item.role), parts: parts(item.content) };
  switch (item.type) {
    case "function_call":
    case "custom_tool_call":
      return { role: "assistant", parts: [toolCall(item.call_id ?? item.id, item.name, item.arguments ?? item.input)] };
    case "function_call_output":
    case "custom_tool_call_output":
      return { role: "tool", parts: [toolResult(item.call_id, item.output)] };
    case "reasoning":
      return { role: "assistant", parts: [{ type: "thinking", text: summaryText(item.summary) || "[reasoning]" }] };
    default:
      return { role: "assistant", parts: [{ type: "other", text: prettyJson(item) }] };
  }
}

function otelMessages(value) {
  if (typeof value === "string") {
    try {
      value = JSON.parse(value);
    } catch {
      return [];
    }
  }
  if (!Array.isArray(value)) return [];
  return value.filter(isObj).map((m) => ({ role: String(m.role ?? "user"), parts: parts(m.parts ?? m.content) }));
}

function inputMessages(inputs, attributes) {
  const out = [];
  if (isObj(inputs)) {
    if (inputs.system != null) out.push({ role: "system", parts: parts(inputs.system) });
    if (inputs.instructions != null) out.push({ role: "system", parts: parts(inputs.instructions) });
    if (Array.isArray(inputs.messages)) out.push(...inputs.messages.map(chatMessage));
    if (typeof inputs.input === "string") out.push({ role: "user", parts: parts(inputs.input) });
    else if (Array.isArray(inputs.input)) out.push(...inputs.input.map(responsesItem).filter(Boolean));
    if (!out.length && typeof inputs.prompt === "string") out.push({ role: "user", parts: parts(inputs.prompt) });
  }
  if (!out.length && isObj(attributes)) {
    const system = attributes["gen_ai.system_instructions"];
    if (system != null) out.push({ role: "system", parts: otelParts(system) });
    out.push(...otelMessages(attributes["gen_ai.input.messages"]));
  }
  return out;
}

function otelParts(value) {
  if (typeof value === "string") {
    try {
      return parts(JSON.parse(value));
    } catch {
      return parts(value);
    }
  }
  return parts(value);
}

function outputMessages(outputs, attributes) {
  const out = [];
  if (isObj(outputs)) {
    if (Array.isArray(outputs.choices)) {
      outputs.choices.forEach((c, i) => {
        if (!isObj(c)) return;
        const msg = isObj(c.message) ? chatMessage({ role: "assistant", ...c.message }) : null;
        const m = msg ?? { role: "assistant", parts: parts(c.text ?? (isObj(c.delta) ? c.delta.content : null)) };
        if (outputs.choices.length > 1) m.name = `choice ${c.index ?? i}`;
        out.push(m);
      });
    } else if (Array.isArray(outputs.content) && (outputs.role != null || outputs.type === "message")) {
      out.push({ role: String(outputs.role ?? "assistant"), parts: parts(outputs.content) });
    } else if (Array.isArray(outputs.output)) {
      out.push(...outputs.output.map(responsesItem).filter(Boolean));
    }
  } else if (typeof outputs === "string" && outputs) {
    out.push({ role: "assistant", parts: parts(outputs) });
  }
  if (!out.length && isObj(attributes)) out.push(...otelMessages(attributes["gen_ai.output.messages"]));
  return out;
}

/**
 * @returns {{input: object[], output: object[]} | null} null when the span holds no conversation
 */
export function normalizeMessages(inputs, outputs, attributes) {
  const input = inputMessages(inputs, attributes);
  const output = input.length || isObj(outputs) ? outputMessages(outputs, attributes) : [];
  if (!input.length && !output.length) return null;
  return { input, output };
}
