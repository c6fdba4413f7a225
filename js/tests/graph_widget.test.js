import { afterEach, describe, expect, it } from "vitest";
import { EMPTY_TEXT } from "../graph/render.js";
import { spanCells } from "../graph/spans.js";
import widget, { factsText, GraphView } from "../graph/widget.js";
import { agentPayload, XSS } from "./graph_payload.js";
import { FakeExplorer, FakeModel, flush } from "./helpers.js";

const tid = (i) => i.toString(16).padStart(32, "0");

function spanRow(i, selector) {
  return {
    trace_id: tid(1000 + i),
    span_id: i.toString(16).padStart(16, "0"),
    name: selector === "TOOL:search" ? "search" : XSS,
    kind: "TOOL",
    start_time: "2026-11-20T12:00:00.000000Z",
    duration_ms: 12.5,
    status: i % 10 === 0 ? "ERROR" : "OK",
  };
}

/** A fake kernel: `graph` answers the payload, `spans` pages of `total` rows; every call recorded. */
function graphKernel({ payload = agentPayload(), total = 120, fail = null } = {}) {
  const calls = [];
  const kernel = (method, params) => {
    calls.push([method, params]);
    if (fail?.(method)) throw new Error(`${method} broke`);
    if (method === "graph") return payload;
    if (method === "spans") {
      const rows = [];
      for (let i = params.offset; i < Math.min(total, params.offset + params.limit); i++)
        rows.push(spanRow(i, params.selector));
      return { rows, total, offset: params.offset, limit: params.limit };
    }
    throw new Error(`unknown method ${method}`);
  };
  kernel.calls = calls;
  kernel.spans = () => calls.filter(([m]) => m === "spans").map(([, p]) => p);
  return kernel;
}

const views = [];
afterEach(() => {
  for (const v of views.splice(0)) v.destroy();
  document.body.replaceChildren();
  FakeExplorer.made = [];
  delete window.__xss;
});

async function settle(rounds = 8) {
  for (let i = 0; i < rounds; i++) await flush();
}

async function mount(kernel, state = {}) {
  const model = new FakeModel(
    { trace_id: null, selected: null, selected_span_id: null, height: 520, ...state },
    kernel,
  );
  const el = document.createElement("div");
  document.body.append(el);
  const view = new GraphView(model, el, { explorer: FakeExplorer });
  views.push(view);
  await settle();
  return { view, model, el };
}

const box = (el, name) =>
  [...el.querySelectorAll(".lnb-gr-node")].find((g) => g.querySelector(".lnb-gr-name").textContent === name);
const rows = (el) => [...el.querySelectorAll(".lnb-gr-sp-row:not([hidden]):not(.lnb-gr-sp-placeholder)")];

describe("GraphView", () => {
  it("asks for the graph once and draws it, with its totals and the cycles and paths beside it", async () => {
    const kernel = graphKernel();
    const { el } = await mount(kernel);
    expect(kernel.calls.map(([m]) => m)).toEqual(["graph"]);
    expect(el.querySelector(".lnb-gr-facts-line").textContent).toBe(
      "3 traces · 30 spans · 5 nodes · 8 edges · 2 cycles",
    );
    expect(el.querySelectorAll(".lnb-gr-node")).toHaveLength(5);
    expect([...el.querySelectorAll(".lnb-gr-cycle-row")].map((r) => r.textContent)).toEqual([
      "↻ ×5llm → search ×53 tr.",
      "↻ ×2search ×21 tr.",
    ]);
    const paths = [...el.querySelectorAll(".lnb-gr-path-text")].map((p) => p.textContent);
    expect(paths).toEqual(["planner → llm → search ×2 → llm → writer", `planner → writer → ${XSS}`]);
    expect(el.querySelector(".lnb-gr-selection").hidden).toBe(true);
    expect(el.querySelector("img")).toBeNull();
    expect(window.__xss).toBeUndefined();
  });

  it("marks when the first layout is drawn (data-open-ms, from render start), once", async () => {
    let answer;
    const kernel = graphKernel();
    const slow = (method, params) =>
      method === "graph" ? new Promise((resolve) => (answer = resolve)) : kernel(method, params);
    const { view, el } = await mount(slow);
    const root = el.querySelector(".lnb-graph");
    expect(root.dataset.openMs).toBeUndefined(); // the graph is not drawn yet
    answer(agentPayload());
    await settle();
    expect(root.querySelectorAll(".lnb-gr-node")).toHaveLength(5);
    const first = root.dataset.openMs;
    expect(first).toMatch(/^\d+\.\d$/);
    expect(Number(first)).toBeGreaterThanOrEqual(Number(root.dataset.layoutMs));
    view.draw(agentPayload()); // drawn again: the first render's time stays
    expect(root.dataset.openMs).toBe(first);
  });

  it("a click on a node selects it (the traitlet) and lists its spans, 50 at a time", async () => {
    const kernel = graphKernel();
    const { el, model } = await mount(kernel);
    box(el, "search").dispatchEvent(new MouseEvent("click", { bubbles: true }));
    await settle();
    expect(model.get("selected")).toBe("TOOL:search");
    expect(model.saves).toBeGreaterThan(0);
    // the first page, then the next one ahead of the scroll
    expect(kernel.spans()).toEqual([
      { selector: "TOOL:search", offset: 0, limit: 50 },
      { selector: "TOOL:search", offset: 50, limit: 50 },
    ]);
    expect(el.querySelector(".lnb-gr-overview").hidden).toBe(true);
    expect(el.querySelector(".lnb-gr-sel-title").textContent).toBe("search");
    expect(el.querySelector(".lnb-gr-sel-facts").textContent).toContain("8 calls");
    expect(el.querySelector(".lnb-gr-sp-count").textContent).toBe("120 spans");
    const first = rows(el)[0];
    expect(first.querySelector(".lnb-gr-sp-c-trace").textContent).toBe(tid(1000).slice(0, 8));
    expect(first.querySelector(".lnb-gr-sp-c-name").textContent).toBe("search");
    expect(first.querySelector(".lnb-gr-sp-c-status").textContent).toBe("ERROR");
    // scrolled down to the second page: the third is asked for
    const viewport = el.querySelector(".lnb-gr-sp-viewport");
    viewport.scrollTop = 24 * 60;
    viewport.dispatchEvent(new Event("scroll"));
    await new Promise((r) => setTimeout(r, 40));
    await settle();
    expect(kernel.spans().map((p) => p.offset)).toEqual([0, 50, 100]);
    // an edge: its own spans; the clear button: back to the overview
    const label = [...el.querySelectorAll(".lnb-gr-elabel")].find(
      (g) => g.querySelector("text").textContent === "handoff ×3 · 100%",
    );
    label.dispatchEvent(new MouseEvent("click", { bubbles: true }));
    await settle();
    expect(model.get("selected")).toBe("handoff:AGENT:planner->AGENT:writer");
    const handoff = "handoff:AGENT:planner->AGENT:writer";
    expect(kernel.spans().find((p) => p.selector === handoff)).toEqual({ selector: handoff, offset: 0, limit: 50 });
    expect(el.querySelector(".lnb-gr-sel-title").textContent).toBe("planner hands off to writer");
    el.querySelector(".lnb-gr-clear").click();
    expect(model.get("selected")).toBeNull();
    expect(el.querySelector(".lnb-gr-overview").hidden).toBe(false);
    expect(el.querySelectorAll(".lnb-gr-selected")).toHaveLength(0);
  });

  it("a span row opens its trace in the explorer on that span; back returns to the graph as it was", async () => {
    const kernel = graphKernel();
    const { el, model } = await mount(kernel, { selected: "TOOL:search" });
    expect(box(el, "search").classList.contains("lnb-gr-selected")).toBe(true); // the traitlet, after a re-render
    expect(rows(el).length).toBeGreaterThan(3);
    rows(el)[2].click();
    expect(model.get("trace_id")).toBe(tid(1002));
    expect(model.get("selected_span_id")).toBe((2).toString(16).padStart(16, "0"));
    const [explorer] = FakeExplorer.made;
    expect(explorer.seen).toEqual({ trace_id: tid(1002), span: "0000000000000002", height: 490 });
    expect(el.querySelector(".lnb-gr-main").hidden).toBe(true);
    expect(el.querySelector(".lnb-gr-open-title").textContent).toBe("search · trace 00000000");
    el.querySelector(".lnb-gr-back").click();
    expect(explorer.destroyed).toBe(true);
    expect(model.get("trace_id")).toBeNull();
    expect(el.querySelector(".lnb-gr-main").hidden).toBe(false);
    expect(model.get("selected")).toBe("TOOL:search");
  });

  it("a view made while a trace is open shows the explorer; Escape goes back", async () => {
    const { el, model } = await mount(graphKernel(), { trace_id: tid(7), selected_span_id: "00000000000000aa" });
    expect(FakeExplorer.made).toHaveLength(1);
    expect(el.querySelector(".lnb-gr-detail").hidden).toBe(false);
    el.querySelector(".lnb-gr-detail").dispatchEvent(new KeyboardEvent("keydown", { key: "Escape", bubbles: true }));
    expect(model.get("trace_id")).toBeNull();
  });

  it("follows the selection set from the kernel", async () => {
    const kernel = graphKernel();
    const { el, model } = await mount(kernel);
    model.set("selected", "LLM:llm");
    await settle();
    expect(box(el, "llm").classList.contains("lnb-gr-selected")).toBe(true);
    expect(kernel.spans().at(-1).selector).toBe("LLM:llm");
  });

  it("an empty graph says so; a failed request says why, with a retry", async () => {
    const empty = { ...agentPayload(), trace_count: 2, span_count: 0, nodes: [], edges: [], cycles: [], paths: [] };
    const { el } = await mount(graphKernel({ payload: empty }));
    expect(el.querySelector(".lnb-gr-empty").textContent).toBe(EMPTY_TEXT);
    expect(el.querySelector(".lnb-gr-section").textContent).toBe("No cycles");

    let broken = true;
    const kernel = graphKernel({ fail: () => broken });
    const second = await mount(kernel);
    const message = second.el.querySelector(".lnb-gr-message");
    expect(message.textContent).toContain("the graph could not be loaded: graph broke");
    broken = false;
    message.querySelector("button").click();
    await settle();
    expect(second.el.querySelectorAll(".lnb-gr-node")).toHaveLength(5);
    expect(message.textContent).toBe("");
  });

  it("a spans request that fails shows in the list", async () => {
    const kernel = graphKernel({ fail: (method) => method === "spans" });
    const { el } = await mount(kernel, { selected: "TOOL:search" });
    expect(el.querySelector(".lnb-gr-sp-message").textContent).toBe("spans broke");
  });

  it("says when the limit cut the traces, and names a single trace", async () => {
    expect(factsText({ ...agentPayload(), trace_count: 1, trace_ids: [tid(5)] })).toBe(
      "trace 00000000 · 30 spans · 5 nodes · 8 edges · 2 cycles",
    );
    const { el } = await mount(graphKernel({ payload: { ...agentPayload(), truncated: true, trace_count: 10_000 } }));
    expect(el.querySelector(".lnb-gr-note").textContent).toBe("only the newest 10,000 traces (the limit)");
  });

  it("span rows' texts, and anywidget's render", async () => {
    const cells = spanCells(spanRow(3, "x"));
    expect(cells.name.text).toBe(XSS);
    expect(cells.duration.text).toBe("13 ms");
    expect(cells.start.title).toContain("2026-11-20T12:00:00.000000Z (UTC)");
    const model = new FakeModel({ trace_id: null, selected: null, height: 520 }, graphKernel());
    const el = document.createElement("div");
    document.body.append(el);
    const cleanup = widget.render({ model, el });
    await settle();
    expect(el.querySelectorAll(".lnb-gr-node")).toHaveLength(5);
    cleanup();
    expect(el.querySelector(".lnb-graph")).toBeNull();
  });
});
