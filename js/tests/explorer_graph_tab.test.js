// The explorer's graph tab (explorer/graph_tab.js): "tree | graph" tabs kept in `view` when the model
// has it; the trace's graph asked of the kernel only when the tab is first opened (`trace_graph`); a
// click on a node or an edge asks for its spans (`trace_graph_spans`) and picks them in the tree —
// highlighted, their collapsed ancestors opened, the first selected, "N spans of <name> — clear".
import { afterEach, describe, expect, it } from "vitest";
import { graphFacts, openAncestors, pickedGroups, pickName } from "../explorer/graph_tab.js";
import { ExplorerView } from "../explorer/widget.js";
import { edge, node, XSS } from "./graph_payload.js";
import { FakeModel, flush, hex, skeletonOf } from "./helpers.js";

const TRACE = "a".repeat(32);
const OTHER = "b".repeat(32);

// planner calls llm, search, llm, search, a helper (collapsed below) calling search, and an XSS-named tool
const SPANS = [
  { id: "r", name: "planner", kind: "AGENT", start: 0, duration: 100 },
  { id: "l1", parent: "r", name: "llm", kind: "LLM", start: 1, duration: 10 },
  { id: "s1", parent: "r", name: "search", kind: "TOOL", start: 12, duration: 5 },
  { id: "l2", parent: "r", name: "llm", kind: "LLM", start: 20, duration: 10 },
  { id: "s2", parent: "r", name: "search", kind: "TOOL", start: 31, duration: 5 },
  { id: "h", parent: "r", name: "helper", kind: "CHAIN", start: 40, duration: 20 },
  { id: "s3", parent: "h", name: "search", kind: "TOOL", start: 41, duration: 5 },
  { id: "x", parent: "r", name: XSS, kind: "TOOL", start: 70, duration: 5 },
];
const P = "AGENT:planner";
const L = "LLM:llm";
const S = "TOOL:search";
const H = "CHAIN:helper";
const X = `TOOL:${XSS}`;
const NEXT_LS = `next:${L}->${S}`;

function tracePayload(extra = {}) {
  return {
    trace_count: 1,
    span_count: SPANS.length,
    truncated: false,
    trace_ids: [TRACE],
    nodes: [
      node("AGENT", "planner"),
      node("LLM", "llm", { calls: 2, in_cycle: true }),
      node("TOOL", "search", { calls: 3, in_cycle: true }),
      node("CHAIN", "helper"),
      node("TOOL", XSS),
    ],
    edges: [
      edge("call", P, L, 2),
      edge("call", P, S, 2),
      edge("next", L, S, 2, { in_cycle: true }),
      edge("next", S, L, 1, { in_cycle: true }),
      edge("call", P, H),
      edge("call", H, S),
      edge("call", P, X),
    ],
    cycles: [{ id: "cycle-1", nodes: [L, S], repeats: 1, traces: 1, label: "llm → search ×1" }],
    paths: [],
    ...extra,
  };
}

const PICKS = { [S]: ["s1", "s2", "s3"], [NEXT_LS]: ["s1", "s2"], [X]: ["x"], [L]: ["l1", "l2"] };

function kernelFor(spans = SPANS, { payload = tracePayload(), picks = PICKS, fail = null } = {}) {
  const calls = [];
  const kernel = (method, params) => {
    calls.push([method, params]);
    if (fail?.(method)) throw new Error(`${method} broke`);
    if (method === "skeleton") return skeletonOf(spans, { trace_id: params.trace_id });
    if (method === "span") {
      const s = spans.find((x) => x.id === params.span_id);
      return { span_id: s.id, name: s.name, kind: s.kind ?? "UNKNOWN", status: "OK", duration_ms: s.duration };
    }
    if (method === "search") return { text: params.text, span_ids: [] };
    if (method === "trace_graph") return payload;
    if (method === "trace_graph_spans") {
      if (!(params.selector in picks)) throw new Error(`No node or edge '${params.selector}' in this graph`);
      return { span_ids: picks[params.selector] };
    }
    throw new Error(`unknown method ${method}`);
  };
  kernel.calls = calls;
  kernel.asked = (name) => calls.filter(([m]) => m === name).map(([, p]) => p);
  return kernel;
}

const views = [];
afterEach(() => {
  for (const v of views.splice(0)) v.destroy();
  document.body.replaceChildren();
  delete window.__xss;
});

const settle = async (rounds = 6) => {
  for (let i = 0; i < rounds; i++) await flush();
};

async function open(state = {}, kernel = kernelFor()) {
  const model = new FakeModel({ collapsed_span_ids: ["h"], ...state }, kernel);
  const el = document.createElement("div");
  document.body.append(el);
  const view = new ExplorerView(model, el);
  views.push(view);
  await settle();
  return { view, model, el, kernel };
}

const tab = (el, value) => el.querySelector(`.lnb-tab-${value}`);
const shown = (el) => [...el.querySelectorAll(".lnb-row:not([hidden])")];
const nameOf = (row) => row.querySelector(".lnb-name").textContent;
const picked = (el) =>
  shown(el)
    .filter((r) => r.classList.contains("lnb-picked"))
    .map(nameOf);
const selected = (el) =>
  shown(el)
    .filter((r) => r.classList.contains("lnb-selected"))
    .map((r) => r.dataset.node);
// by its label: a long name is cut in its box
const box = (el, name) =>
  [...el.querySelectorAll(".lnb-gr-node")].find((g) => g.getAttribute("aria-label").endsWith(` ${name}`));
const click = (target) => target.dispatchEvent(new MouseEvent("click", { bubbles: true }));
const bar = (el) => el.querySelector(".lnb-picked-bar");
const edgeLabel = (el, id) =>
  [...el.querySelectorAll(".lnb-gr-elabel")].find((g) =>
    g.getAttribute("aria-label").startsWith(id === NEXT_LS ? "llm then search" : id),
  );

async function openGraph(state = {}, kernel = kernelFor()) {
  const opened = await open(state, kernel);
  tab(opened.el, "graph").click();
  await settle();
  return opened;
}

describe("graph tab: pure parts", () => {
  it("names a node by its name and an edge as a sentence; counts nodes, edges, cycles and spans", () => {
    const p = tracePayload();
    expect(pickName(p, S)).toBe("search");
    expect(pickName(p, NEXT_LS)).toBe("llm then search");
    expect(pickName(p, X)).toBe(XSS);
    expect(pickName(p, "TOOL:gone")).toBe("TOOL:gone");
    expect(graphFacts(p)).toBe("5 nodes · 7 edges · 1 cycle · 8 spans");
    expect(graphFacts({ ...p, cycles: [], span_count: 1 })).toBe("5 nodes · 7 edges · 1 span");
  });

  it("opens the collapsed ancestors of picked spans, walking a shared ancestor once", () => {
    // a chain 0 <- 1 <- 2 <- 3, and 4 under 1; 1 and 2 collapsed
    const tree = { n: 5, treeParent: Int32Array.from([-1, 0, 1, 2, 1]) };
    const collapsed = Uint8Array.from([0, 1, 1, 0, 0]);
    expect(openAncestors(tree, collapsed, [3, 4])).toBe(true);
    expect([...collapsed]).toEqual([0, 0, 0, 0, 0]);
    expect(openAncestors(tree, collapsed, [3])).toBe(false);
  });

  it("flags the groups holding a picked span", () => {
    const groups = { list: [{}, {}], of: Int32Array.from([-1, 0, 0, 1, -1]) };
    expect([...pickedGroups(groups, [2, 4])]).toEqual([1, 0]);
  });
});

describe("ExplorerView: the graph tab", () => {
  it("leads the toolbar with tree | graph tabs and asks for the graph only when the tab is opened", async () => {
    const { el, kernel, view } = await open();
    const tools = el.querySelector(".lnb-tools");
    expect(tools.firstElementChild.getAttribute("role")).toBe("tablist");
    expect([...tools.querySelectorAll("[role=tab]")].map((t) => t.textContent)).toEqual(["tree", "graph"]);
    expect(tab(el, "tree").getAttribute("aria-selected")).toBe("true");
    expect(kernel.asked("trace_graph")).toEqual([]); // lazily: not asked with the trace
    expect(el.querySelector(".lnb-xg").hidden).toBe(true);

    tab(el, "graph").click();
    await settle();
    expect(kernel.asked("trace_graph")).toEqual([{ trace_id: TRACE }]);
    expect(tab(el, "graph").getAttribute("aria-selected")).toBe("true");
    expect(el.querySelector(".lnb-xg").hidden).toBe(false);
    expect(view.treeView.el.hidden).toBe(true);
    expect(el.querySelector(".lnb-detail").hidden).toBe(true);
    // the tree's own tools have nothing to act on while the graph shows
    for (const cls of [".lnb-cp-toggle", ".lnb-collapse-all", ".lnb-expand-all"]) {
      expect(el.querySelector(cls).hidden).toBe(true);
    }
    expect(el.querySelectorAll(".lnb-xg .lnb-gr-node")).toHaveLength(5);
    expect(el.querySelector(".lnb-xg-facts").textContent).toBe("5 nodes · 7 edges · 1 cycle · 8 spans");
    expect(el.querySelector(".lnb-xg-message").textContent).toBe(
      "click a node or an edge to highlight its spans in the tree",
    );

    tab(el, "tree").click();
    expect(view.treeView.el.hidden).toBe(false);
    expect(el.querySelector(".lnb-cp-toggle").hidden).toBe(false);
    tab(el, "graph").click();
    await settle();
    expect(kernel.asked("trace_graph")).toHaveLength(1); // drawn once, kept
  });

  it("keeps the tab in `view` when the model has it: saved, followed, and opened as it was left", async () => {
    const { el, model } = await open({ view: "tree" });
    tab(el, "graph").click();
    expect(model.get("view")).toBe("graph");
    expect(model.saves).toBe(1);
    model.set("view", "tree"); // from Python, or another view of the same widget
    expect(tab(el, "tree").getAttribute("aria-selected")).toBe("true");
    expect(el.querySelector(".lnb-xg").hidden).toBe(true);
    expect(model.saves).toBe(1); // a change from the model is not sent back

    const again = await open({ view: "graph" });
    expect(again.kernel.asked("trace_graph")).toEqual([{ trace_id: TRACE }]); // once, not again for the skeleton
    expect(again.el.querySelectorAll(".lnb-gr-node")).toHaveLength(5);
    expect(again.view.treeView.el.hidden).toBe(true);
  });

  it("in a host whose model has no `view` (the trace list), the tab is the view's own", async () => {
    const { el, model } = await open({});
    tab(el, "graph").click();
    await settle();
    expect(el.querySelectorAll(".lnb-gr-node")).toHaveLength(5);
    expect("view" in model.state).toBe(false);
    expect(model.saves).toBe(0);
  });

  it("a click on a node picks its spans: the tree again, all highlighted, ancestors opened, the first selected", async () => {
    const { el, model, kernel, view } = await openGraph({ view: "graph" });
    expect(shown(el).map(nameOf)).toEqual(["planner", "llm", "search", "llm", "search", "helper", XSS]);
    click(box(el, "search"));
    await settle();
    expect(kernel.asked("trace_graph_spans")).toEqual([{ trace_id: TRACE, selector: S }]);
    expect(model.get("view")).toBe("tree");
    expect(view.treeView.el.hidden).toBe(false);
    // the collapsed helper opened to show its search
    expect(shown(el).map(nameOf)).toEqual(["planner", "llm", "search", "llm", "search", "helper", "search", XSS]);
    expect(model.get("collapsed_span_ids")).toEqual(["h"]); // saved a moment later
    await new Promise((r) => setTimeout(r, 320));
    expect(model.get("collapsed_span_ids")).toEqual([]);
    expect(picked(el)).toEqual(["search", "search", "search"]);
    // distinct from the one selected span: the first is both
    expect(model.get("selected_span_id")).toBe("s1");
    expect(selected(el)).toEqual(["2"]);
    expect(kernel.asked("span").at(-1)).toEqual({ trace_id: TRACE, span_id: "s1" });
    expect(el.querySelector(".lnb-detail").hidden).toBe(false);
    expect(bar(el).hidden).toBe(false);
    expect(bar(el).querySelector(".lnb-picked-count").textContent).toBe("3 spans of search");
    expect(bar(el).textContent).toMatch(/^3 spans of search — clear/);
    expect(bar(el).querySelector(".lnb-picked-at").textContent).toBe("1/3");

    // ▼ ▲ walk the picked spans top to bottom
    bar(el).querySelector(".lnb-picked-next").click();
    expect(model.get("selected_span_id")).toBe("s2");
    bar(el).querySelector(".lnb-picked-next").click();
    expect(model.get("selected_span_id")).toBe("s3");
    expect(bar(el).querySelector(".lnb-picked-at").textContent).toBe("3/3");
    bar(el).querySelector(".lnb-picked-prev").click();
    expect(model.get("selected_span_id")).toBe("s2");

    // clear: no highlight, no bar, nothing marked in the graph; the selection stays
    bar(el).querySelector(".lnb-picked-clear").click();
    expect(picked(el)).toEqual([]);
    expect(bar(el).hidden).toBe(true);
    expect(el.querySelector(".lnb-gr-selected")).toBeNull();
    expect(model.get("selected_span_id")).toBe("s2");
  });

  it("the graph keeps its mark; the same node clicked again picks its spans again", async () => {
    const { el, model, kernel } = await openGraph({ view: "tree" });
    click(box(el, "search"));
    await settle();
    tab(el, "graph").click();
    expect(box(el, "search").classList.contains("lnb-gr-selected")).toBe(true);
    click(box(el, "search"));
    await settle();
    expect(kernel.asked("trace_graph_spans")).toHaveLength(2);
    expect(model.get("view")).toBe("tree");
    expect(picked(el)).toEqual(["search", "search", "search"]);
  });

  it("a click on an edge picks its target spans; another node replaces the pick; Escape clears it", async () => {
    const { el, model } = await openGraph({ view: "tree" });
    click(edgeLabel(el, NEXT_LS));
    await settle();
    expect(bar(el).querySelector(".lnb-picked-count").textContent).toBe("2 spans of llm then search");
    expect(picked(el)).toEqual(["search", "search"]);
    tab(el, "graph").click();
    click(box(el, "llm"));
    await settle();
    expect(picked(el)).toEqual(["llm", "llm"]);
    expect(model.get("selected_span_id")).toBe("l1");
    tab(el, "graph").click();
    const svg = el.querySelector(".lnb-gr-svg");
    box(el, "llm").dispatchEvent(new KeyboardEvent("keydown", { key: "Escape", bubbles: true }));
    expect(svg).not.toBeNull();
    expect(picked(el)).toEqual([]);
    expect(bar(el).hidden).toBe(true);
  });

  it("shows an XSS-named node and its pick as text", async () => {
    const { el } = await openGraph();
    expect(box(el, XSS)).toBeDefined();
    click(box(el, XSS));
    await settle();
    expect(bar(el).querySelector(".lnb-picked-name").textContent).toBe(XSS);
    expect(picked(el)).toEqual([XSS]);
    expect(el.querySelector("img")).toBeNull();
    expect(window.__xss).toBeUndefined();
  });

  it("says why when the graph or the spans cannot be read, and retries", async () => {
    let broken = true;
    const kernel = kernelFor(SPANS, { fail: (m) => broken && (m === "trace_graph" || m === "trace_graph_spans") });
    const { el } = await openGraph({}, kernel);
    const message = el.querySelector(".lnb-xg-message");
    expect(message.textContent).toBe("Could not load the graph: trace_graph broke retry");
    expect(message.classList.contains("lnb-error-msg")).toBe(true);
    broken = false;
    message.querySelector("button").click();
    await settle();
    expect(el.querySelectorAll(".lnb-gr-node")).toHaveLength(5);
    expect(message.classList.contains("lnb-error-msg")).toBe(false);
    broken = true;
    click(box(el, "search"));
    await settle();
    expect(message.textContent).toBe("Could not find the spans: trace_graph_spans broke retry");
    expect(el.querySelector(".lnb-xg").hidden).toBe(false); // still on the graph
    broken = false;
    message.querySelector("button").click();
    await settle();
    expect(picked(el)).toEqual(["search", "search", "search"]);
  });

  it("another trace: the graph and the pick go; the open tab asks for the new trace's graph", async () => {
    const { el, model, kernel } = await openGraph({ view: "graph" });
    click(box(el, "search"));
    await settle();
    expect(picked(el)).toHaveLength(3);
    model.set("trace_id", OTHER);
    await settle();
    expect(picked(el)).toEqual([]);
    expect(bar(el).hidden).toBe(true);
    expect(kernel.asked("trace_graph")).toEqual([{ trace_id: TRACE }]); // the tree shows: not asked yet
    tab(el, "graph").click();
    await settle();
    expect(kernel.asked("trace_graph")).toEqual([{ trace_id: TRACE }, { trace_id: OTHER }]);
    click(box(el, "search"));
    await settle();
    expect(kernel.asked("trace_graph_spans").at(-1)).toEqual({ trace_id: OTHER, selector: S });
  });

  it("a search match chosen while the graph shows brings the tree back", async () => {
    const { el, model } = await openGraph({ view: "graph" });
    const search = el.querySelector(".lnb-search");
    search.value = "helper";
    search.dispatchEvent(new Event("input"));
    await new Promise((r) => setTimeout(r, 250));
    await settle();
    expect(model.get("view")).toBe("graph");
    search.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter" }));
    expect(model.get("view")).toBe("tree");
    expect(model.get("selected_span_id")).toBe("h");
  });

  it("tints a closed group holding picked spans", async () => {
    const steps = [0, 1, 2, 3].map((k) => ({ id: `f${k}`, parent: "r", name: "fetch", kind: "TOOL", start: k + 1 }));
    const spans = [{ id: "r", name: "loop", kind: "AGENT", start: 0, duration: 10 }, ...steps];
    const kernel = kernelFor(spans, {
      payload: tracePayload({
        nodes: [node("AGENT", "loop"), node("TOOL", "fetch", { calls: 4 })],
        edges: [],
        cycles: [],
      }),
      picks: { "TOOL:fetch": ["f2"] },
    });
    const { el } = await openGraph({ collapsed_span_ids: [] }, kernel);
    click(box(el, "fetch"));
    await settle();
    // the first (and only) picked span is selected, so its group opens; close it: the group row keeps the tint
    const group = shown(el).find((r) => nameOf(r) === "fetch ×4");
    expect(group.classList.contains("lnb-picked")).toBe(true);
    group.querySelector(".lnb-twist").click();
    expect(picked(el)).toEqual(["fetch ×4"]);
  });

  it("a 10,000-span trace: the tab costs one small request, a big pick touches only the rows on screen", async () => {
    const n = 10_000;
    const spans = [{ id: hex(0), name: "agent", kind: "AGENT", start: 0, duration: n }];
    for (let i = 1; i < n; i++) {
      spans.push({
        id: hex(i),
        parent: hex(0),
        name: i % 2 ? "llm" : "search",
        kind: i % 2 ? "LLM" : "TOOL",
        start: i,
      });
    }
    const searches = spans.filter((s) => s.name === "search").map((s) => s.id);
    const kernel = kernelFor(spans, {
      payload: tracePayload({
        span_count: n,
        nodes: [node("AGENT", "agent"), node("LLM", "llm"), node("TOOL", "search")],
        edges: [edge("call", "AGENT:agent", L, 5000), edge("next", L, S, 4999), edge("next", S, L, 4998)],
      }),
      picks: { [S]: searches },
    });
    const { el, view } = await open({ collapsed_span_ids: [] }, kernel);
    const pool = el.querySelectorAll(".lnb-row").length;
    expect(pool).toBeLessThan(60);
    tab(el, "graph").click();
    await settle();
    expect(kernel.asked("trace_graph")).toEqual([{ trace_id: TRACE }]); // the trace id, nothing per span
    expect(el.querySelectorAll(".lnb-gr-node")).toHaveLength(3);
    click(box(el, "search"));
    await settle();
    expect(bar(el).querySelector(".lnb-picked-count").textContent).toBe("4,999 spans of search");
    expect(el.querySelectorAll(".lnb-row").length).toBe(pool); // the same rows, redrawn: none added
    const rows = shown(el);
    expect(rows.filter((r) => r.classList.contains("lnb-picked")).map(nameOf)).toEqual(
      rows.filter((r) => nameOf(r) === "search").map(nameOf),
    );
    view.treeView.viewport.scrollTop = 120_000;
    view.treeView.draw();
    const later = shown(el);
    expect(later.filter((r) => r.classList.contains("lnb-picked")).length).toBe(
      later.filter((r) => nameOf(r) === "search").length,
    );
    expect(el.querySelectorAll(".lnb-row").length).toBeLessThan(60); // a screenful, wherever it is scrolled
  });
});
