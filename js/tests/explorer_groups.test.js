// Repeated siblings grouped (explorer/groups.js), the keyboard (explorer/keys.js: the detail follows
// the selection), collapse/expand all, and sizing to the trace (StandaloneExplorerView).
import { afterEach, describe, expect, it } from "vitest";
import {
  findGroups,
  groupedRows,
  groupIndex,
  groupItem,
  isGroup,
  parentItem,
  revealGroups,
  shownItem,
} from "../explorer/groups.js";
import { fitHeight, keyAction, MIN_FIT_PX } from "../explorer/keys.js";
import { decodeSkeleton } from "../explorer/skeleton.js";
import { buildTree } from "../explorer/tree.js";
import { ExplorerView, StandaloneExplorerView } from "../explorer/widget.js";
import { FakeModel, flush, skeletonOf } from "./helpers.js";

/** root > setup, step ×n (each with a `call` child), finish. */
function loopTrace(n = 100) {
  const spans = [
    { id: "r", name: "agent", kind: "AGENT", start: 0, duration: 10 * n + 20 },
    { id: "s", parent: "r", name: "setup", kind: "TOOL", start: 0, duration: 5 },
  ];
  for (let k = 0; k < n; k++) {
    spans.push({
      id: `step${k}`,
      parent: "r",
      name: "step",
      kind: "CHAIN",
      start: 10 + 10 * k,
      duration: 8,
      inTok: 2,
      outTok: 1,
    });
    spans.push({
      id: `call${k}`,
      parent: `step${k}`,
      name: `call ${k}`,
      kind: "TOOL",
      start: 11 + 10 * k,
      duration: 2,
    });
  }
  spans.push({ id: "f", parent: "r", name: "finish", kind: "TOOL", start: 10 * n + 10, duration: 5 });
  return spans;
}

function treeOf(spans) {
  const skel = decodeSkeleton(skeletonOf(spans));
  const tree = buildTree(skel.parent, skel);
  return { skel, tree, groups: findGroups(tree, skel) };
}

describe("groups", () => {
  it("groups three or more consecutive siblings of one name and kind, with their total time", () => {
    const { skel, tree, groups } = treeOf(loopTrace(100));
    expect(groups.list).toHaveLength(1);
    const [g] = groups.list;
    expect(g).toMatchObject({ name: "step", kind: "CHAIN", count: 100, totalMs: 800, start: 10, end: 1008 });
    expect(g.inTok).toBe(200);
    expect(skel.spanId[g.first]).toBe("step0");
    expect(skel.spanId[g.last]).toBe("step99");
    // closed: root, setup, the group, finish
    const collapsed = new Uint8Array(tree.n);
    const expanded = new Uint8Array(1);
    const rows = [...groupedRows(tree, collapsed, groups, expanded)];
    expect(rows.map((r) => (isGroup(r) ? `group ${groupIndex(r)}` : skel.name[r]))).toEqual([
      "agent",
      "setup",
      "group 0",
      "finish",
    ]);
    // open: the group's row, then every step with its child
    expanded[0] = 1;
    const open = [...groupedRows(tree, collapsed, groups, expanded)];
    expect(open).toHaveLength(4 + 200);
    expect(open[2]).toBe(groupItem(0));
    expect(skel.name[open[3]]).toBe("step");
    expect(skel.name[open[4]]).toBe("call 0");
  });

  it("leaves runs shorter than three, and siblings of another kind, apart", () => {
    const { groups } = treeOf([
      { id: "r" },
      { id: "a", parent: "r", name: "x", kind: "TOOL" },
      { id: "b", parent: "r", name: "x", kind: "TOOL" },
      { id: "c", parent: "r", name: "x", kind: "CHAIN" },
      { id: "d", parent: "r", name: "x", kind: "CHAIN" },
      { id: "e", parent: "r", name: "x", kind: "CHAIN" },
    ]);
    expect(groups.list.map((g) => [g.kind, g.count])).toEqual([["CHAIN", 3]]);
  });

  it("reveals a span inside a closed group and knows the row above a member", () => {
    const { skel, tree, groups } = treeOf(loopTrace(5));
    const expanded = new Uint8Array(1);
    const call3 = skel.spanId.indexOf("call3");
    const step3 = skel.spanId.indexOf("step3");
    expect(parentItem(tree, groups, expanded, step3)).toBe(skel.spanId.indexOf("r"));
    expect(revealGroups(tree, groups, expanded, call3)).toBe(true);
    expect(expanded[0]).toBe(1);
    expect(revealGroups(tree, groups, expanded, call3)).toBe(false);
    expect(parentItem(tree, groups, expanded, step3)).toBe(groupItem(0));
    expect(parentItem(tree, groups, expanded, groupItem(0))).toBe(skel.spanId.indexOf("r"));
    // hidden in a closed group: the group's row stands for it
    expanded[0] = 0;
    const rows = new Set(groupedRows(tree, new Uint8Array(tree.n), groups, expanded));
    expect(shownItem(tree, groups, (i) => rows.has(i), call3)).toBe(groupItem(0));
  });
});

describe("keys", () => {
  const span = { node: 3, isGroup: false, hasChildren: true, open: true };
  it("moves with Up/Down, opens and closes with Right/Left, toggles a group with Enter", () => {
    expect(keyAction("ArrowDown", span)).toEqual({ type: "move", delta: 1 });
    expect(keyAction("ArrowUp", span)).toEqual({ type: "move", delta: -1 });
    expect(keyAction("ArrowRight", span)).toEqual({ type: "child" });
    expect(keyAction("ArrowRight", { ...span, open: false })).toEqual({ type: "toggle" });
    expect(keyAction("ArrowLeft", span)).toEqual({ type: "toggle" });
    expect(keyAction("ArrowLeft", { ...span, open: false })).toEqual({ type: "parent" });
    expect(keyAction("ArrowLeft", { ...span, hasChildren: false })).toEqual({ type: "parent" });
    expect(keyAction("ArrowRight", { ...span, hasChildren: false })).toEqual({ type: "none" });
    expect(keyAction("Enter", span)).toEqual({ type: "select" });
    expect(keyAction("Enter", { ...span, node: -2, isGroup: true })).toEqual({ type: "toggle" });
    expect(keyAction("Escape", span)).toBeNull();
    expect(keyAction("a", span)).toBeNull();
  });

  it("sizes to the content between a floor and the limit", () => {
    expect(fitHeight(3, 460, 34)).toBe(MIN_FIT_PX);
    expect(fitHeight(12, 460, 34)).toBe(34 + 22 + 12 * 24 + 12);
    expect(fitHeight(10_000, 460, 34)).toBe(460);
    expect(fitHeight(3, 180, 34)).toBe(180); // a limit below the floor wins
  });
});

// -- the view -------------------------------------------------------------------------------
const views = [];
afterEach(() => {
  for (const v of views.splice(0)) v.destroy();
  document.body.replaceChildren();
});

function kernelFor(spans, { searchHits = () => [] } = {}) {
  const calls = [];
  const kernel = (method, params) => {
    calls.push([method, params]);
    if (method === "skeleton") return skeletonOf(spans);
    if (method === "span") {
      const s = spans.find((x) => x.id === params.span_id);
      return { span_id: s.id, name: s.name, kind: s.kind ?? "UNKNOWN", status: "OK", duration_ms: 1 };
    }
    if (method === "search") return { text: params.text, span_ids: searchHits(params.text) };
    throw new Error(`unknown method ${method}`);
  };
  kernel.calls = calls;
  return kernel;
}

async function open(spans, { state = {}, View = ExplorerView, ...options } = {}) {
  const kernel = kernelFor(spans, options);
  const model = new FakeModel(state, kernel);
  const el = document.createElement("div");
  document.body.append(el);
  const view = new View(model, el);
  views.push(view);
  for (let i = 0; i < 5; i++) await flush();
  return { view, model, el, kernel };
}

const rowNames = (el) => [...el.querySelectorAll(".lnb-row:not([hidden]) .lnb-name")].map((n) => n.textContent);
const activeName = (el) => el.querySelector(".lnb-row.lnb-active .lnb-name")?.textContent;
const detailName = (el) => el.querySelector(".lnb-detail-name")?.textContent;
const press = (target, key) => {
  const event = new KeyboardEvent("keydown", { key, bubbles: true, cancelable: true });
  target.dispatchEvent(event);
  return event;
};
const wait = (ms) => new Promise((r) => setTimeout(r, ms));

describe("ExplorerView: groups, keyboard, collapse/expand all", () => {
  it("shows a loop of 100 steps as one row `step ×100` that opens with a click on ▸", async () => {
    const { el } = await open(loopTrace(100));
    expect(rowNames(el)).toEqual(["agent", "setup", "step ×100", "finish"]);
    const group = el.querySelector(".lnb-row.lnb-group");
    expect(group.getAttribute("aria-expanded")).toBe("false");
    expect(group.querySelector(".lnb-dur").textContent).toBe("Σ 800 ms");
    expect(group.querySelector(".lnb-tok").textContent).toBe("Σ 300 tok");
    group.querySelector(".lnb-twist").click();
    expect(rowNames(el).slice(0, 6)).toEqual(["agent", "setup", "step ×100", "step", "call 0", "step"]);
    expect(el.querySelector(".lnb-row.lnb-group").getAttribute("aria-expanded")).toBe("true");
    // the members sit one level under the group's row
    const cells = [...el.querySelectorAll(".lnb-row:not([hidden])")].map((r) => r.getAttribute("aria-level"));
    expect(cells.slice(0, 5)).toEqual(["1", "2", "2", "3", "4"]);
    expect(el.querySelector(".lnb-spacer").style.height).toBe(`${(4 + 200) * 24}px`);
  });

  it("shows the group in the detail when selected; search and a selection from Python open it", async () => {
    const { el, view, model } = await open(loopTrace(20), { searchHits: (t) => (t === "deep" ? ["call7"] : []) });
    el.querySelector(".lnb-row.lnb-group .lnb-name").click();
    expect(detailName(el)).toBe("step ×20");
    expect(el.querySelector(".lnb-group-detail .lnb-facts").textContent).toContain("160 ms");
    // the search finds a span inside the closed group: the group opens
    view.search.value = "deep";
    await view.runSearch("deep");
    expect(view.expanded[0]).toBe(1);
    expect([...el.querySelectorAll(".lnb-row.lnb-match .lnb-name")].map((n) => n.textContent)).toEqual(["call 7"]);
    view.setAll(true);
    expect(rowNames(el)).toEqual(["agent"]);
    // Python selects a span deep inside: its ancestors and its group open
    model.set("selected_span_id", "call3");
    await flush();
    await flush();
    expect(activeName(el)).toBe("call 3");
    expect(rowNames(el)).toContain("step ×20");
    expect(detailName(el)).toBe("call 3");
  });

  it("selects and shows with the arrows: the detail follows", async () => {
    const { el, view, model } = await open(loopTrace(3));
    const vp = view.treeView.viewport;
    expect(rowNames(el)).toEqual(["agent", "setup", "step ×3", "finish"]);
    press(vp, "ArrowDown");
    expect(activeName(el)).toBe("setup");
    expect(el.querySelector(".lnb-row.lnb-selected .lnb-name").textContent).toBe("setup");
    await wait(200); // the kernel is asked once the selection rests
    await flush();
    expect(model.get("selected_span_id")).toBe("s");
    expect(detailName(el)).toBe("setup");
    press(vp, "ArrowDown"); // onto the group: its summary at once, no request
    expect(detailName(el)).toBe("step ×3");
    press(vp, "ArrowRight"); // opens it
    expect(rowNames(el)).toEqual([
      "agent",
      "setup",
      "step ×3",
      "step",
      "call 0",
      "step",
      "call 1",
      "step",
      "call 2",
      "finish",
    ]);
    press(vp, "ArrowRight"); // to its first member
    press(vp, "ArrowRight"); // open already: to its child
    await wait(200);
    await flush();
    expect(activeName(el)).toBe("call 0");
    expect(detailName(el)).toBe("call 0");
    press(vp, "ArrowLeft"); // leaf: to its parent
    press(vp, "ArrowLeft"); // collapse step0
    press(vp, "ArrowLeft"); // closed: up to the group
    expect(activeName(el)).toBe("step ×3");
    press(vp, "ArrowLeft"); // close the group
    expect(rowNames(el)).toEqual(["agent", "setup", "step ×3", "finish"]);
    // arrows held down: one span request, for the row the keyboard rests on
    const before = view.rpc.pending;
    press(vp, "ArrowDown");
    press(vp, "ArrowUp");
    press(vp, "ArrowUp");
    expect(view.rpc.pending).toBe(before);
  });

  it("keeps the keys working after a click in the detail pane", async () => {
    const { el, view } = await open(loopTrace(3));
    expect(view.root.tabIndex).toBe(-1); // a click on the detail's text focuses the view, not the page
    el.querySelector(".lnb-row .lnb-name").click();
    view.root.focus();
    const event = press(view.root, "ArrowDown");
    expect(event.defaultPrevented).toBe(true);
    expect(activeName(el)).toBe("setup");
  });

  it("collapses and expands everything from the header", async () => {
    const { el } = await open(loopTrace(3));
    el.querySelector(".lnb-collapse-all").click();
    expect(rowNames(el)).toEqual(["agent"]);
    el.querySelector(".lnb-expand-all").click();
    expect(rowNames(el)).toHaveLength(1 + 1 + 1 + 6 + 1);
    el.querySelector(".lnb-collapse-all").click();
    expect(el.querySelector(".lnb-row.lnb-active .lnb-name").textContent).toBe("agent");
  });
});

describe("StandaloneExplorerView: sized to its trace, resizable", () => {
  it("is as tall as its rows, up to `height`, and keeps a height the user dragged to", async () => {
    const small = await open(loopTrace(3), { View: StandaloneExplorerView });
    expect(small.view.root.classList.contains("lnb-resizable")).toBe(true);
    expect(small.view.root.style.height).toBe(`${MIN_FIT_PX}px`);
    const big = await open(loopTrace(3), { View: StandaloneExplorerView });
    big.el.querySelector(".lnb-expand-all").click(); // grows with the rows it shows
    expect(big.view.root.style.height).toBe(`${34 + 22 + 10 * 24 + 12}px`);
    big.el.querySelector(".lnb-collapse-all").click(); // and does not jump back when they close
    expect(big.view.root.style.height).toBe(`${34 + 22 + 10 * 24 + 12}px`);
    const capped = await open(loopTrace(3), { View: StandaloneExplorerView, state: { height: 200 } });
    expect(capped.view.root.style.height).toBe("200px");
    // the user dragged the corner: the view keeps that height
    big.view.userSized = true;
    big.view.root.style.height = "700px";
    big.view.applyHeight();
    expect(big.view.root.style.height).toBe("700px");
    // embedded (the eval table, the trace list), the explorer keeps the height it is given
    const embedded = await open(loopTrace(3));
    expect(embedded.view.root.style.height).toBe("460px");
    expect(embedded.view.root.classList.contains("lnb-resizable")).toBe(false);
  });
});
