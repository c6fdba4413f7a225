// Every string from a trace must render as text: hostile names and payloads in every place the
// view shows trace data, then assert no element or attribute came out of them.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { renderDetail } from "../explorer/detail.js";
import { ExplorerView } from "../explorer/widget.js";
import { FakeModel, flush, skeletonOf } from "./helpers.js";

const IMG = '<img src=x onerror="window.__xss=1">';
const SCRIPT = "<script>window.__xss=2</script>";
const LINK = "javascript:window.__xss=3";
const ALL = [IMG, SCRIPT, LINK];
const evil = ALL.join(" ");

afterEach(() => {
  document.body.replaceChildren();
  delete window.__xss;
});

function assertInert(root) {
  const bad = root.querySelectorAll(
    "img, script, iframe, a, svg, object, embed, link, style, form, video, audio, source",
  );
  expect([...bad].map((e) => e.outerHTML)).toEqual([]);
  for (const node of root.querySelectorAll("*")) {
    for (const attr of node.getAttributeNames()) {
      expect(attr.startsWith("on"), `${node.tagName} has ${attr}`).toBe(false);
      expect(["href", "src", "srcdoc", "xlink:href", "action", "formaction"]).not.toContain(attr);
    }
  }
  expect(window.__xss).toBeUndefined();
}

function expandAll(root) {
  for (let round = 0; round < 6; round++) {
    for (const d of root.querySelectorAll("details")) d.open = true;
    for (const head of root.querySelectorAll(".lnb-j-head")) {
      const body = head.nextSibling;
      if (body?.hidden) head.click();
    }
  }
}

const hostileSpan = (kind, inputs, outputs, extra = {}) => ({
  span_id: "0123456789abcdef",
  parent_span_id: "fedcba9876543210",
  name: evil,
  kind,
  status: "ERROR",
  status_message: evil,
  model: IMG,
  input_tokens: 1,
  output_tokens: 2,
  cost_usd: 0.001,
  start_time: SCRIPT,
  duration_ms: 1,
  inputs,
  outputs,
  attributes: { [IMG]: evil, nested: { [SCRIPT]: [LINK, { deeper: IMG }] } },
  events: [{ name: SCRIPT, time_ns: 1, attributes: { "exception.message": IMG } }],
  error: { type: IMG, message: SCRIPT, traceback: `Traceback\n  ${evil}` },
  truncated: {},
  ...extra,
});

// The kernel reads a span's conversation (llmops_nb/widgets/explorer/_messages.py) and sends it in
// this form; every part type, with hostile strings everywhere the pane shows them.
const hostileMessages = {
  input: [
    { role: "system", name: null, parts: [{ type: "text", text: evil }] },
    {
      role: IMG,
      name: SCRIPT,
      parts: [
        { type: "media", text: evil },
        { type: "refusal", text: evil },
        { type: "thinking", text: evil },
        { type: "other", text: evil },
      ],
    },
    { role: "assistant", name: null, parts: [{ type: "tool_call", id: IMG, name: SCRIPT, arguments: evil }] },
    { role: "tool", name: null, parts: [{ type: "tool_result", id: IMG, content: evil, is_error: true }] },
  ],
  output: [{ role: "assistant", name: LINK, parts: [{ type: "text", text: evil }] }],
};

describe("trace strings render as text, never as HTML", () => {
  const shapes = {
    "OpenAI chat": hostileSpan(
      "CHAT_MODEL",
      {
        messages: [
          { role: "system", content: evil },
          {
            role: "user",
            content: [
              { type: "text", text: evil },
              { type: "image_url", image_url: { url: LINK } },
            ],
          },
          {
            role: "assistant",
            content: null,
            tool_calls: [{ id: IMG, function: { name: SCRIPT, arguments: JSON.stringify({ q: evil }) } }],
          },
          { role: "tool", tool_call_id: IMG, content: evil },
          { role: IMG, content: evil },
        ],
      },
      { choices: [{ message: { role: "assistant", content: evil, refusal: SCRIPT } }] },
      { messages: hostileMessages },
    ),
    Anthropic: hostileSpan(
      "LLM",
      {
        system: evil,
        messages: [
          {
            role: "user",
            content: [
              { type: "tool_result", tool_use_id: IMG, content: [{ type: "text", text: evil }], is_error: true },
            ],
          },
        ],
      },
      {
        role: "assistant",
        content: [
          { type: "tool_use", id: SCRIPT, name: IMG, input: { url: LINK } },
          { type: "text", text: evil },
          { type: "image", source: { url: LINK } },
        ],
      },
      { messages: hostileMessages },
    ),
    "OpenAI Responses": hostileSpan(
      "CHAT_MODEL",
      { instructions: evil, input: [{ type: "function_call_output", call_id: IMG, output: evil }] },
      {
        output: [
          { type: "message", role: "assistant", content: [{ type: "output_text", text: evil }] },
          { type: IMG, weird: SCRIPT },
        ],
      },
      { messages: hostileMessages },
    ),
    retriever: hostileSpan("RETRIEVER", { query: evil }, [
      { id: IMG, page_content: evil, score: 0.5, metadata: { source: LINK } },
    ]),
    tool: hostileSpan("TOOL", { url: LINK, html: SCRIPT }, evil),
    truncated: hostileSpan("CHAIN", `{"a": "${IMG}`, null, {
      truncated: { inputs: { original_chars: 5, cap_chars: 2 } },
    }),
  };

  for (const [shape, span] of Object.entries(shapes)) {
    it(`in the detail pane: ${shape}`, () => {
      const root = document.createElement("div");
      document.body.append(root);
      // an LLM span's label (`model · operation`, the model from the trace) heads the pane
      const call = { label: `${IMG} · ${SCRIPT}`, markers: ["stream", "async"], ttft: 1 };
      root.append(renderDetail(span, { offset: 0, call }));
      expandAll(root);
      assertInert(root);
      for (const s of [IMG, SCRIPT]) expect(root.textContent).toContain(s);
      // a conversation is drawn message by message, every part as text
      expect(root.querySelectorAll(".lnb-msg").length).toBe(span.messages ? 5 : 0);
    });
  }

  it("in the tree rows, header, search highlights and the detail pane of a live view", async () => {
    const spans = [
      { id: "r", name: SCRIPT, model: IMG },
      { id: "a", parent: "r", name: IMG, kind: "TOOL" },
      {
        id: "b",
        parent: "r",
        name: LINK,
        kind: "LLM",
        status: "ERROR",
        label: `${IMG} · ${LINK}`,
        stream: true,
        ttft: 1,
      },
    ];
    const model = new FakeModel({}, (method, _params) => {
      if (method === "skeleton") return skeletonOf(spans, { name: IMG, error_message: SCRIPT });
      if (method === "span") return shapes["OpenAI chat"];
      return { span_ids: ["a", "b"] };
    });
    const el = document.createElement("div");
    document.body.append(el);
    const view = new ExplorerView(model, el);
    for (let i = 0; i < 5; i++) await flush();
    await view.runSearch("<");
    view.goMatch(1);
    for (let i = 0; i < 5; i++) await flush();
    expandAll(el);
    assertInert(el);
    const rows = [...el.querySelectorAll(".lnb-row .lnb-name")].map((n) => n.textContent);
    expect(rows).toEqual([SCRIPT, IMG, `${IMG} · ${LINK}`]);
    expect(el.querySelector(".lnb-trace-name").textContent).toBe(IMG);
    expect(el.querySelectorAll("mark").length).toBeGreaterThan(0);
    view.destroy();
  });
});

describe("the sources never build HTML from strings", () => {
  const files = [];
  const walk = (dir) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (name === "node_modules" || name === "tests") continue;
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith(".js") || name.endsWith(".mjs")) files.push(path);
    }
  };
  walk(join(import.meta.dirname, ".."));
  const bundle = join(import.meta.dirname, "../../llmops_nb/static/explorer.js");
  try {
    statSync(bundle);
    files.push(bundle);
  } catch {
    // not built yet: the sources are checked all the same
  }

  it.each(files)("%s", (file) => {
    const source = readFileSync(file, "utf8");
    for (const sink of [
      "innerHTML",
      "outerHTML",
      "insertAdjacentHTML",
      "document.write",
      "srcdoc",
      "createContextualFragment",
      "DOMParser",
      ".href",
      "eval(",
    ]) {
      expect(source.includes(sink), `${file} uses ${sink}`).toBe(false);
    }
  });
});
