// The critical path in the explorer (explorer/critical.js): the kernel sends its span ids in the
// skeleton; the view outlines their bars and dots their rows, touching only the rows on screen, with a
// "critical path" toggle kept in `show_critical_path` when the model has it; the detail says it.
import { afterEach, describe, expect, it } from "vitest";
import { criticalFacts, shareText } from "../explorer/critical.js";
import { decodeSkeleton } from "../explorer/skeleton.js";
import { ExplorerView } from "../explorer/widget.js";
import { FakeModel, flush, hex, skeletonOf } from "./helpers.js";

const views = [];
afterEach(() => {
  for (const v of views.splice(0)) v.destroy();
  document.body.replaceChildren();
});

// root 0-100 ms: a fast branch (10-40) and a slow one (10-90) in parallel, the slow one with two steps
const PARALLEL = [
  { id: "root", name: "agent", kind: "AGENT", start: 0, duration: 100 },
  { id: "fast", parent: "root", name: "fast branch", kind: "CHAIN", start: 10, duration: 30 },
  { id: "slow", parent: "root", name: "slow branch", kind: "CHAIN", start: 10, duration: 80 },
  { id: "s1", parent: "slow", name: "first step", kind: "TOOL", start: 12, duration: 30 },
  { id: "s2", parent: "slow", name: "last step", kind: "TOOL", start: 45, duration: 40 },
];
const PATH = ["root", "slow", "s2"];

function kernelFor(spans, path) {
  const calls = [];
  const kernel = (method, params) => {
    calls.push([method, params]);
    if (method === "skeleton") return { ...skeletonOf(spans), critical_path: path };
    if (method === "span") {
      const s = spans.find((x) => x.id === params.span_id);
      return { span_id: s.id, name: s.name, kind: s.kind ?? "UNKNOWN", status: "OK", duration_ms: s.duration };
    }
    throw new Error(`unknown method ${method}`);
  };
  kernel.calls = calls;
  return kernel;
}

async function open(spans, path, state = { show_critical_path: true }) {
  const model = new FakeModel(state, kernelFor(spans, path));
  const el = document.createElement("div");
  document.body.append(el);
  const view = new ExplorerView(model, el);
  views.push(view);
  for (let i = 0; i < 5; i++) await flush();
  return { view, model, el };
}

const shown = (el) => [...el.querySelectorAll(".lnb-row:not([hidden])")];
const named = (el, name) => shown(el).find((r) => r.querySelector(".lnb-name").textContent === name);
const highlighted = (el) =>
  shown(el)
    .filter((r) => r.classList.contains("lnb-critical"))
    .map((r) => r.querySelector(".lnb-name").textContent);
const dotted = (el) =>
  shown(el)
    .filter((r) => !r.querySelector(".lnb-cp").hidden)
    .map((r) => r.querySelector(".lnb-name").textContent);
const toggle = (el) => el.querySelector(".lnb-cp-toggle");
const fact = (el, name) =>
  [...el.querySelectorAll(".lnb-detail .lnb-facts dt")].find((dt) => dt.textContent === name)?.nextSibling?.textContent;

describe("decodeSkeleton: the critical path", () => {
  it("flags the path's spans and lists their indices root first", () => {
    const skel = decodeSkeleton({ ...skeletonOf(PARALLEL), critical_path: PATH });
    expect([...skel.critical]).toEqual([1, 0, 1, 0, 1]);
    expect(skel.criticalPath).toEqual([0, 2, 4]);
  });

  it("is empty when the kernel sends none, and skips an id it does not know", () => {
    expect(decodeSkeleton(skeletonOf(PARALLEL)).criticalPath).toEqual([]);
    const skel = decodeSkeleton({ ...skeletonOf(PARALLEL), critical_path: ["root", "gone", "slow"] });
    expect(skel.criticalPath).toEqual([0, 2]);
    expect([...skel.critical]).toEqual([1, 0, 1, 0, 0]);
  });

  it("gives a span's share of the wall time, a sliver as <1%", () => {
    const skel = decodeSkeleton({ ...skeletonOf(PARALLEL), critical_path: PATH });
    expect(criticalFacts(skel, 2, 100)).toEqual({ on: true, ms: 80, wallMs: 100, share: 0.8 });
    expect(shareText(criticalFacts(skel, 1, 100))).toBe("30% (30 ms of 100 ms)");
    expect(shareText({ share: 0.001, ms: 0.1, wallMs: 100 })).toBe("<1% (100 µs of 100 ms)");
  });
});

describe("ExplorerView: the critical path", () => {
  it("outlines the path's bars and dots their rows: the slower of two parallel branches", async () => {
    const { el } = await open(PARALLEL, PATH);
    expect(highlighted(el)).toEqual(["agent", "slow branch", "last step"]);
    expect(dotted(el)).toEqual(["agent", "slow branch", "last step"]);
    const bar = named(el, "last step").querySelector(".lnb-bar");
    expect(bar.title).toBe("on the critical path: sets the trace's wall time");
    expect(named(el, "fast branch").querySelector(".lnb-bar").title).toBe("");
    expect(named(el, "agent").querySelector(".lnb-cp").title).toBe("on the critical path: sets the trace's wall time");
    expect(toggle(el).getAttribute("aria-pressed")).toBe("true");
    expect(toggle(el).textContent).toBe("critical path");
    expect(toggle(el).title).toMatch(/^critical path: outline the spans that set the trace's wall time/);
  });

  it("the toggle hides the highlight and saves it to the model; Python can turn it back on", async () => {
    const { el, model } = await open(PARALLEL, PATH);
    const saves = model.saves;
    toggle(el).click();
    expect(highlighted(el)).toEqual([]);
    expect(dotted(el)).toEqual([]);
    expect(model.get("show_critical_path")).toBe(false);
    expect(model.saves).toBe(saves + 1);
    expect(toggle(el).getAttribute("aria-pressed")).toBe("false");
    model.set("show_critical_path", true); // from Python, or another view of the same widget
    expect(highlighted(el)).toEqual(["agent", "slow branch", "last step"]);
    expect(toggle(el).getAttribute("aria-pressed")).toBe("true");
    expect(model.saves).toBe(saves + 1); // a change from the model is not sent back
  });

  it("opens as the model says: off stays off after a re-render", async () => {
    const { el } = await open(PARALLEL, PATH, { show_critical_path: false });
    expect(highlighted(el)).toEqual([]);
    expect(toggle(el).getAttribute("aria-pressed")).toBe("false");
    toggle(el).click();
    expect(highlighted(el)).toEqual(["agent", "slow branch", "last step"]);
  });

  it("in a host whose model has no such setting (the trace list), the toggle is the view's own", async () => {
    const { el, model } = await open(PARALLEL, PATH, {});
    expect(highlighted(el)).toEqual(["agent", "slow branch", "last step"]); // on by default
    toggle(el).click();
    expect(highlighted(el)).toEqual([]);
    expect("show_critical_path" in model.state).toBe(false);
    expect(model.saves).toBe(0);
  });

  it("says in the detail whether a span is on the path and its share of the wall time", async () => {
    const { el } = await open(PARALLEL, PATH);
    named(el, "slow branch").click();
    for (let i = 0; i < 5; i++) await flush();
    expect(fact(el, "critical path")).toBe("yes: it sets the trace's wall time");
    expect(fact(el, "share of wall time")).toBe("80% (80 ms of 100 ms)");
    named(el, "fast branch").click();
    for (let i = 0; i < 5; i++) await flush();
    expect(fact(el, "critical path")).toBe("no: shortening it would not end the trace sooner");
    expect(fact(el, "share of wall time")).toBe("30% (30 ms of 100 ms)");
  });

  it("marks a closed group the path runs through, and says so in its detail", async () => {
    const steps = [0, 1, 2, 3].map((k) => ({
      id: `step${k}`,
      parent: "r",
      name: "step",
      kind: "TOOL",
      start: k * 10,
      duration: 10,
    }));
    const spans = [{ id: "r", name: "loop", kind: "AGENT", start: 0, duration: 40 }, ...steps];
    const { el } = await open(spans, ["r", "step3"]);
    expect(highlighted(el)).toEqual(["loop", "step ×4"]);
    named(el, "step ×4").click();
    expect(fact(el, "critical path")).toBe("runs through one of these spans");
    named(el, "step ×4").querySelector(".lnb-twist").click();
    expect(highlighted(el)).toEqual(["loop", "step ×4", "step"]);
    expect(shown(el).at(-1).classList.contains("lnb-critical")).toBe(true); // the last step, not the others
  });

  it("touches only the rows on screen: a 10,000-span trace whose path is a long chain", async () => {
    // a chain: every span the child of the one before, each on the path
    const n = 10_000;
    const chain = Array.from({ length: n }, (_, i) => ({
      id: hex(i),
      parent: i ? hex(i - 1) : null,
      name: `level ${i}`,
      start: i,
      duration: n - i,
    }));
    const { el, view } = await open(
      chain,
      chain.map((s) => s.id),
    );
    expect(el.querySelectorAll(".lnb-row").length).toBeLessThan(60);
    expect(el.querySelectorAll(".lnb-row.lnb-critical").length).toBe(shown(el).length);
    view.treeView.viewport.scrollTop = 120_000;
    view.treeView.draw();
    expect(highlighted(el).length).toBe(shown(el).length);
    const pool = el.querySelectorAll(".lnb-row").length;
    toggle(el).click();
    expect(el.querySelectorAll(".lnb-row.lnb-critical").length).toBe(0);
    expect(el.querySelectorAll(".lnb-row").length).toBe(pool); // the same rows, redrawn: none added
  });
});
