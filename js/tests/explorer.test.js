import { afterEach, describe, expect, it } from "vitest";
import { kindBadge } from "../explorer/kinds.js";
import widget, { ExplorerView } from "../explorer/widget.js";
import { agentTrace, FakeModel, flush, skeletonOf } from "./helpers.js";

const views = [];
afterEach(() => {
  for (const v of views.splice(0)) v.destroy();
  document.body.replaceChildren();
});

function kernelFor(spans, { details = {}, searchHits = () => [] } = {}) {
  const calls = [];
  const kernel = (method, params) => {
    calls.push([method, params]);
    if (method === "skeleton") return skeletonOf(spans);
    if (method === "span") {
      const s = spans.find((x) => x.id === params.span_id);
      return {
        span_id: s.id,
        name: s.name,
        kind: s.kind ?? "UNKNOWN",
        status: s.status ?? "OK",
        duration_ms: 1,
        ...details[s.id],
      };
    }
    if (method === "search") return { text: params.text, span_ids: searchHits(params.text) };
    throw new Error(`unknown method ${method}`);
  };
  kernel.calls = calls;
  return kernel;
}

async function open(spans, state = {}, options = { searchHits: () => [] }) {
  const kernel = kernelFor(spans, options);
  const model = new FakeModel(state, kernel);
  const el = document.createElement("div");
  document.body.append(el);
  const view = new ExplorerView(model, el);
  views.push(view);
  for (let i = 0; i < 5; i++) await flush();
  return { view, model, el, kernel };
}

const rowNames = (el) => [...el.querySelectorAll(".lnb-row:not([hidden]) .lnb-name")].map((n) => n.textContent);

describe("ExplorerView", () => {
  it("opens a 10,000-span trace rendering only a screenful of rows", async () => {
    const spans = agentTrace(10_000);
    const kernel = kernelFor(spans);
    const model = new FakeModel({}, kernel);
    const el = document.createElement("div");
    document.body.append(el);
    const started = performance.now();
    const view = new ExplorerView(model, el);
    views.push(view);
    for (let i = 0; i < 5; i++) await flush();
    const ms = performance.now() - started;
    console.log(
      `10k-span open in happy-dom (incl. fake kernel + decode + tree + first rows): ${ms.toFixed(0)} ms; view says ${view.root.dataset.openMs} ms`,
    );
    expect(view.root.dataset.spans).toBe("10000");
    const rows = el.querySelectorAll(".lnb-row");
    expect(rows.length).toBeGreaterThan(5);
    expect(rows.length).toBeLessThan(60);
    expect(el.querySelector(".lnb-spacer").style.height).toBe(`${10_000 * 24}px`);
    expect(rowNames(el)[0]).toBe("agent");
    // rolled-up badges on the root: 1,112 LLM calls × 120 tokens
    expect(el.querySelector(".lnb-row .lnb-tok").textContent).toBe("Σ 133k tok");
  });

  it("keeps the DOM size constant while scrolling", async () => {
    const { view, el } = await open(agentTrace(10_000));
    const counts = new Set();
    for (const top of [5000, 100_000, 150_000, 230_000]) {
      view.treeView.viewport.scrollTop = top;
      view.treeView.draw();
      counts.add(el.querySelectorAll(".lnb-row").length);
      const first = el.querySelector(".lnb-row:not([hidden])");
      expect(first).not.toBeNull();
    }
    expect(counts.size).toBe(1); // rows are recycled, not added
    expect([...counts][0]).toBeLessThan(40);
  });

  it("collapses and expands with the twist and saves collapsed ids to the model", async () => {
    const spans = [
      { id: "r", name: "root" },
      { id: "a", parent: "r", name: "a" },
      { id: "a1", parent: "a", name: "a1" },
      { id: "b", parent: "r", name: "b" },
    ];
    const { el, model } = await open(spans);
    expect(rowNames(el)).toEqual(["root", "a", "a1", "b"]);
    const twistOfA = [...el.querySelectorAll(".lnb-row")]
      .find((r) => r.querySelector(".lnb-name").textContent === "a")
      .querySelector(".lnb-twist");
    twistOfA.click();
    expect(rowNames(el)).toEqual(["root", "a", "b"]);
    await new Promise((r) => setTimeout(r, 350));
    expect(model.get("collapsed_span_ids")).toEqual(["a"]);
  });

  it("restores view state (collapsed, selected, search) from the model", async () => {
    const spans = [
      { id: "r", name: "root" },
      { id: "a", parent: "r", name: "alpha" },
      { id: "a1", parent: "a", name: "inner" },
    ];
    const { el, kernel } = await open(spans, { collapsed_span_ids: ["a"], selected_span_id: "a", search_text: "alp" });
    expect(rowNames(el)).toEqual(["root", "alpha"]);
    expect(el.querySelector(".lnb-row.lnb-selected .lnb-name").textContent).toBe("alpha");
    expect(el.querySelector(".lnb-search").value).toBe("alp");
    expect(el.querySelector(".lnb-row.lnb-match mark").textContent).toBe("alp");
    expect(kernel.calls.map((c) => c[0])).toEqual(["skeleton", "span", "search"]);
  });

  it("moves with the arrow keys, collapses with left, expands with right, selects with Enter", async () => {
    const spans = [
      { id: "r", name: "root" },
      { id: "a", parent: "r", name: "a" },
      { id: "a1", parent: "a", name: "a1" },
    ];
    const { view, el, model } = await open(spans);
    const vp = view.treeView.viewport;
    const key = (k) => vp.dispatchEvent(new KeyboardEvent("keydown", { key: k, bubbles: true }));
    const active = () => el.querySelector(".lnb-row.lnb-active .lnb-name").textContent;
    expect(active()).toBe("root");
    key("ArrowDown");
    expect(active()).toBe("a");
    key("ArrowLeft"); // collapse a
    expect(rowNames(el)).toEqual(["root", "a"]);
    key("ArrowRight"); // expand a
    expect(rowNames(el)).toEqual(["root", "a", "a1"]);
    key("ArrowRight"); // to first child
    expect(active()).toBe("a1");
    key("ArrowLeft"); // leaf: to parent
    expect(active()).toBe("a");
    key("Enter");
    await flush();
    expect(model.get("selected_span_id")).toBe("a");
    expect(el.querySelector(".lnb-detail-name").textContent).toBe("a");
  });

  it("does not let the notebook see the keys it handles", async () => {
    const { view } = await open([{ id: "r" }, { id: "a", parent: "r" }]);
    let seen = 0;
    document.body.addEventListener("keydown", () => seen++);
    view.treeView.viewport.dispatchEvent(new KeyboardEvent("keydown", { key: "ArrowDown", bubbles: true }));
    view.search.dispatchEvent(new KeyboardEvent("keydown", { key: "a", bubbles: true }));
    expect(seen).toBe(0);
  });

  it("searches names locally and payloads in the kernel, then walks matches with next/prev", async () => {
    const spans = [
      { id: "r", name: "root" },
      { id: "a", parent: "r", name: "fetch weather" },
      { id: "b", parent: "r", name: "llm" },
      { id: "c", parent: "b", name: "other" },
    ];
    // the fake kernel finds "paris" in the payload of span c
    const searchHits = (text) => (text.toLowerCase() === "paris" ? ["c"] : []);
    const { view, el, model, kernel } = await open(spans, { collapsed_span_ids: ["b"] }, { searchHits });
    await view.runSearch("WEATHER");
    expect(kernel.calls.at(-1)).toEqual(["search", { trace_id: "a".repeat(32), text: "WEATHER" }]);
    expect(view.matches.map((i) => view.skel.name[i])).toEqual(["fetch weather"]);
    expect(el.querySelector(".lnb-row.lnb-match mark").textContent).toBe("weather");
    await view.runSearch("paris");
    expect(model.get("search_text")).toBe("paris");
    expect(view.matches.map((i) => view.skel.name[i])).toEqual(["other"]);
    await view.runSearch("ther"); // by name: "fetch weather" and "other"
    expect(view.matches.map((i) => view.skel.name[i])).toEqual(["fetch weather", "other"]);
    view.goMatch(1);
    view.goMatch(1); // "other" sits inside collapsed "b": going there expands it
    expect(rowNames(el)).toContain("other");
    expect(el.querySelector(".lnb-count").textContent).toBe("2/2");
    view.goMatch(1);
    expect(el.querySelector(".lnb-count").textContent).toBe("1/2");
  });

  it("shows a failed load with a retry button instead of hanging", async () => {
    let fail = true;
    const model = new FakeModel({}, (_method) => {
      if (fail) throw new Error("Trace aaaa is not in the store (yet)");
      return skeletonOf([{ id: "r", name: "root" }]);
    });
    const el = document.createElement("div");
    const view = new ExplorerView(model, el);
    views.push(view);
    for (let i = 0; i < 5; i++) await flush();
    expect(el.querySelector(".lnb-error-msg").textContent).toContain("not in the store");
    fail = false;
    el.querySelector(".lnb-facts-line button").click();
    for (let i = 0; i < 5; i++) await flush();
    expect(rowNames(el)).toEqual(["root"]);
  });

  it("anywidget's render returns a cleanup that closes the rpc and removes the view", async () => {
    const model = new FakeModel({}, kernelFor([{ id: "r" }]));
    const el = document.createElement("div");
    const cleanup = widget.render({ model, el });
    await flush();
    expect(el.querySelector(".lnb-explorer")).not.toBeNull();
    cleanup();
    expect(el.querySelector(".lnb-explorer")).toBeNull();
    expect(model.listeners.get("msg:custom").size).toBe(0);
  });

  it("names LLM rows `model · operation` with their markers, keeping the span's name in the tooltip", async () => {
    const spans = [
      { id: "r", name: "agent", kind: "AGENT", start: 0, duration: 1000, cost: 0.000017 },
      ...[1, 2, 3].map((k) => ({
        id: `c${k}`,
        parent: "r",
        name: "openai.chat.completions.create",
        kind: "CHAT_MODEL",
        model: k === 3 ? "gpt-4o-mini" : "gpt-4o",
        label: k === 3 ? "gpt-4o-mini · chat" : "gpt-4o · chat", // three alike in a row would be grouped
        stream: k === 2,
        ttft: k === 2 ? 182.4 : null,
        isAsync: k === 3,
        start: k * 200,
        duration: 400,
      })),
      { id: "t", parent: "r", name: "lookup", kind: "TOOL", start: 900, duration: 50 },
    ];
    const { el } = await open(spans);
    expect(rowNames(el)).toEqual(["agent", "gpt-4o · chat", "gpt-4o · chat", "gpt-4o-mini · chat", "lookup"]);
    const rows = [...el.querySelectorAll(".lnb-row:not([hidden])")];
    const shownFlags = (row) => [...row.querySelectorAll(".lnb-flag:not([hidden])")].map((f) => f.textContent);
    expect(rows.map(shownFlags)).toEqual([[], [], ["stream"], ["async"], []]);
    expect(rows[2].querySelector(".lnb-name").title).toBe(
      "openai.chat.completions.create\nCHAT_MODEL · depth 1 · stream · TTFT 182 ms",
    );
    expect(rows[2].querySelector(".lnb-flag-stream").title).toBe("streamed: first token after 182 ms");
    // the first token on the streamed call's bar: 400 + 182.4 ms of a 1,000 ms trace
    const tick = rows[2].querySelector(".lnb-ttft");
    expect(tick.hidden).toBe(false);
    expect(Number.parseFloat(tick.style.left)).toBeCloseTo(58.24, 2);
    expect(tick.title).toBe("first token at +182 ms");
    expect(rows[1].querySelector(".lnb-ttft").hidden).toBe(true);
    // a small cost keeps its significant digits
    expect(rows[0].querySelector(".lnb-cost").textContent).toBe("$0.000017");
  });

  it("colours each waterfall bar by its span kind, a failed span's by its status", async () => {
    const spans = [
      { id: "r", name: "agent", kind: "AGENT" },
      { id: "l", parent: "r", name: "llm", kind: "CHAT_MODEL" },
      { id: "t", parent: "r", name: "tool", kind: "TOOL", status: "ERROR" },
      { id: "x", parent: "r", name: "mystery", kind: "SOMETHING_NEW", status: "UNSET" },
    ];
    const { el } = await open(spans);
    const bars = [...el.querySelectorAll(".lnb-row:not([hidden]) .lnb-bar")];
    const colours = bars.map((b) => b.style.getPropertyValue("--lnb-bar-color"));
    expect(colours).toEqual([
      kindBadge("AGENT").color,
      kindBadge("CHAT_MODEL").color,
      kindBadge("TOOL").color,
      kindBadge("UNKNOWN").color,
    ]);
    expect(new Set(colours.slice(0, 3)).size).toBe(3);
    expect(bars.map((b) => b.className)).toEqual([
      "lnb-bar lnb-bar-ok",
      "lnb-bar lnb-bar-ok",
      "lnb-bar lnb-bar-error",
      "lnb-bar lnb-bar-unset",
    ]);
  });

  it("shows an LLM span's label, markers, TTFT and events after its start in the detail", async () => {
    const spans = [
      { id: "r", name: "agent", kind: "AGENT" },
      {
        id: "s",
        parent: "r",
        name: "openai.chat.completions.create",
        kind: "CHAT_MODEL",
        label: "gpt-4o-mini · chat",
        stream: true,
        ttft: 182.4,
        cost: 0.0000093,
      },
    ];
    const details = {
      s: {
        model: "gpt-4o-mini",
        cost_usd: 0.0000093,
        events: [
          { name: "gen_ai.first_token", time_ns: 1796546231519210200, offset_ms: 182.4, attributes: null },
          { name: "retry", time_ns: 1796546231619210200, offset_ms: 1282.4, attributes: { attempt: 2 } },
        ],
      },
    };
    const { view, el } = await open(spans, {}, { searchHits: () => [], details });
    view.select(1);
    for (let i = 0; i < 3; i++) await flush();
    const detail = el.querySelector(".lnb-detail");
    expect(detail.querySelector(".lnb-detail-name").textContent).toBe("gpt-4o-mini · chat");
    expect(detail.querySelector(".lnb-detail-span").textContent).toBe("openai.chat.completions.create");
    expect([...detail.querySelectorAll(".lnb-detail-head .lnb-flag")].map((f) => f.textContent)).toEqual(["stream"]);
    const facts = Object.fromEntries(
      [...detail.querySelectorAll(".lnb-facts dt")].map((dt) => [dt.textContent, dt.nextElementSibling.textContent]),
    );
    expect(facts.TTFT).toBe("182 ms");
    expect(facts.cost).toBe("$0.0000093");
    const events = [...detail.querySelectorAll(".lnb-event")];
    expect(events.map((e) => e.querySelector(".lnb-event-time").textContent)).toEqual(["+182 ms", "+1.28 s"]);
    expect(events.map((e) => e.querySelector(".lnb-event-name").textContent)).toEqual(["gen_ai.first_token", "retry"]);
    expect(detail.textContent).not.toContain("1796546231519210200"); // never the epoch in ns
    expect(events[1].querySelector(".lnb-json").textContent).toContain("attributes");
  });

  it("finds an LLM row by its label as well as by its span name", async () => {
    const spans = [
      { id: "r", name: "agent", kind: "AGENT" },
      { id: "a", parent: "r", name: "openai.chat.completions.create", kind: "CHAT_MODEL", label: "gpt-4o · chat" },
      {
        id: "b",
        parent: "r",
        name: "anthropic.messages.create",
        kind: "CHAT_MODEL",
        label: "claude-sonnet-4-5 · messages",
      },
    ];
    const { view, el } = await open(spans);
    await view.runSearch("gpt-4o");
    expect(view.matches).toEqual([1]);
    expect(el.querySelector(".lnb-row.lnb-match mark").textContent).toBe("gpt-4o");
    await view.runSearch("anthropic");
    expect(view.matches).toEqual([2]);
  });

  it("follows selected_span_id set from Python", async () => {
    const { model, el } = await open([
      { id: "r", name: "root" },
      { id: "a", parent: "r", name: "a" },
    ]);
    model.set("selected_span_id", "a");
    await flush();
    await flush();
    expect(el.querySelector(".lnb-detail-name").textContent).toBe("a");
  });
});
