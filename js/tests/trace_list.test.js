import { afterEach, describe, expect, it } from "vitest";
import { listWindow, MAX_SCROLL_PX, PageCache, pagesToLoad, scrollTopFor } from "../lib/pages.js";
import { visibleWindow } from "../lib/virtual.js";
import { filtersFrom, queryKey, tagsText } from "../trace_list/filters.js";
import {
  COLUMNS,
  cellTexts,
  fillRow,
  localTime,
  makeRow,
  nextSort,
  runChip,
  sessionChip,
  statusClass,
} from "../trace_list/rows.js";
import widget, { explorerModel, TraceListView } from "../trace_list/widget.js";
import { FakeExplorer, FakeModel, flush } from "./helpers.js";

const IMG = '<img src=x onerror="window.__xss=1">';
const SCRIPT = "<script>window.__xss=2</script>";
const LINK = "javascript:window.__xss=3";

const tid = (i) => i.toString(16).padStart(32, "0");

function traceRow(i, extra = {}) {
  return {
    trace_id: tid(i),
    name: `trace ${i}`,
    status: i % 10 === 0 ? "ERROR" : "OK",
    span_count: 3,
    llm_calls: 1,
    error_count: 0,
    input_tokens: 100,
    output_tokens: 20,
    tokens: 120,
    cost_usd: 0.0012,
    tags: { env: "dev" },
    session: null,
    error_message: null,
    start_time: "2026-11-20T12:00:00.000+00:00",
    duration_ms: 1234,
    ...extra,
  };
}

/** A fake kernel answering `page` from `n` generated rows (or `rows`), recording every call. */
function listKernel(n, { rows = null, fail = null, explorer = {}, evalTotal = 0 } = {}) {
  const all = rows ?? Array.from({ length: n }, (_, i) => traceRow(i));
  const calls = [];
  const kernel = (method, params) => {
    calls.push([method, params]);
    if (method === "page") {
      if (fail) {
        const message = fail(params);
        if (message) throw new Error(message);
      }
      return {
        rows: all.slice(params.offset, params.offset + params.limit),
        total: all.length,
        offset: params.offset,
        limit: params.limit,
        as_of: "1790000000000000000",
        elapsed_ms: 3,
        eval_total: typeof evalTotal === "function" ? evalTotal(params) : evalTotal,
        evals_hidden: !params.filters?.evals && !params.filters?.eval_run,
      };
    }
    if (method in explorer) return explorer[method](params);
    throw new Error(`unknown method ${method}`);
  };
  kernel.calls = calls;
  kernel.pages = () => calls.filter(([m]) => m === "page").map(([, p]) => p);
  return kernel;
}

/** An explorer double with ExplorerView's constructor and destroy(), recording what it saw. */

const views = [];
afterEach(() => {
  for (const v of views.splice(0)) v.destroy();
  document.body.replaceChildren();
  FakeExplorer.made = [];
  delete window.__xss;
});

async function settle(rounds = 6) {
  for (let i = 0; i < rounds; i++) await flush();
}

async function mount(kernel, state = {}, options = {}) {
  const model = new FakeModel(
    { trace_id: null, filters: {}, sort_by: "start_time", sort_desc: true, height: 520, ...state },
    kernel,
  );
  const el = document.createElement("div");
  document.body.append(el);
  const view = new TraceListView(model, el, { explorer: FakeExplorer, ...options });
  views.push(view);
  await settle();
  return { view, model, el };
}

async function scrollTo(view, top) {
  view.viewport.scrollTop = top;
  view.grid.draw();
  await settle();
}

const shownNames = (el) =>
  [...el.querySelectorAll(".lnb-tl-row:not([hidden]) .lnb-tl-name-text")].map((n) => n.textContent);

describe("listWindow (paging window math)", () => {
  it("matches lib/virtual.js while the list fits the scroll area", () => {
    for (const [top, vh, total] of [
      [0, 240, 10_000],
      [24 * 500 + 5, 240, 10_000],
      [1e9, 240, 100],
      [0, 240, 3],
      [-50, -10, 0],
    ]) {
      const ours = listWindow(top, vh, total, 24, 6);
      const plain = visibleWindow(top, vh, total, 24, 6);
      expect({ start: ours.start, end: ours.end, offset: ours.offset, height: ours.height }).toEqual(plain);
      expect(ours.scale).toBe(1);
    }
  });

  it("caps the scroll area for a million rows and still reaches the last row", () => {
    const total = 1_000_000;
    const vh = 400;
    const top = listWindow(0, vh, total, 24, 0);
    expect(top).toMatchObject({ start: 0, height: MAX_SCROLL_PX });
    expect(top.scale).toBeGreaterThan(2);
    const bottom = listWindow(MAX_SCROLL_PX - vh, vh, total, 24, 0);
    expect(bottom.end).toBe(total);
    // the last row is drawn at the viewport's bottom edge
    const lastTop = bottom.offset + (total - 1 - bottom.start) * 24;
    expect(lastTop + 24).toBeCloseTo(MAX_SCROLL_PX, 6);
    const middle = listWindow((MAX_SCROLL_PX - vh) / 2, vh, total, 24, 0);
    expect(Math.abs(middle.start - (total - vh / 24) / 2)).toBeLessThan(2);
  });

  it("reveals a row with the least scrolling, scaled or not", () => {
    expect(scrollTopFor(5, 0, 240, 1000, 24)).toBe(0);
    expect(scrollTopFor(20, 0, 240, 1000, 24)).toBe(21 * 24 - 240);
    expect(scrollTopFor(2, 480, 240, 1000, 24)).toBe(48);
    const total = 1_000_000;
    const at = scrollTopFor(700_000, 0, 400, total, 24);
    const win = listWindow(at, 400, total, 24, 0);
    expect(win.start).toBeLessThanOrEqual(700_000);
    expect(win.end).toBeGreaterThan(700_000);
  });
});

describe("pagesToLoad", () => {
  it("asks only for the first page before the total is known", () => {
    expect(pagesToLoad(0, 30, null)).toEqual({ need: [0], prefetch: null });
  });

  it("covers the visible rows and prefetches the next page in the scroll direction", () => {
    expect(pagesToLoad(0, 30, 100_000, 100)).toEqual({ need: [0], prefetch: 1 });
    expect(pagesToLoad(95, 125, 100_000, 100)).toEqual({ need: [0, 1], prefetch: 2 });
    expect(pagesToLoad(95, 125, 100_000, 100, -1)).toEqual({ need: [0, 1], prefetch: null });
    expect(pagesToLoad(520, 550, 100_000, 100, -1)).toEqual({ need: [5], prefetch: 4 });
    expect(pagesToLoad(99_980, 100_000, 100_000, 100)).toEqual({ need: [999], prefetch: null });
    expect(pagesToLoad(0, 10, 7, 100)).toEqual({ need: [0], prefetch: null });
    expect(pagesToLoad(0, 0, 0, 100)).toEqual({ need: [], prefetch: null });
    expect(pagesToLoad(5_000, 5_030, 120, 100)).toEqual({ need: [1], prefetch: null }); // total shrank: clamp
  });
});

describe("PageCache", () => {
  function cache(total, { maxPages = 40, fail = () => false } = {}) {
    const calls = [];
    const updates = [];
    const pending = [];
    const c = new PageCache({
      maxPages,
      load: (offset, limit, asOf) => {
        calls.push({ offset, limit, asOf });
        return new Promise((resolve, reject) =>
          pending.push(() =>
            fail(offset)
              ? reject(new Error(`page at ${offset} failed`))
              : resolve({
                  rows: Array.from({ length: Math.max(0, Math.min(limit, total - offset)) }, (_, i) =>
                    traceRow(offset + i),
                  ),
                  total,
                  as_of: "123",
                }),
          ),
        );
      },
      onUpdate: (e) => updates.push(e),
    });
    const answer = async () => {
      await settle(); // load() is called on a microtask
      while (pending.length) pending.shift()();
      await settle();
    };
    return { c, calls, updates, answer };
  }

  it("loads the first page alone, then the rest pinned to its as_of", async () => {
    const { c, calls, answer } = cache(1000);
    expect(c.request([0, 1, 2])).toBe(1);
    expect(c.request([0, 1, 2])).toBe(0); // still waiting for the first answer
    await answer();
    expect(c.total).toBe(1000);
    expect(c.row(0).trace_id).toBe(tid(0));
    expect(c.row(150)).toBeUndefined();
    expect(c.request([1, 2])).toBe(2);
    await answer();
    expect(calls).toEqual([
      { offset: 0, limit: 100, asOf: null },
      { offset: 100, limit: 100, asOf: "123" },
      { offset: 200, limit: 100, asOf: "123" },
    ]);
    expect(c.row(250).trace_id).toBe(tid(250));
    expect(c.row(1000)).toBeNull();
    expect(c.request([0, 1, 2])).toBe(0); // nothing twice
  });

  it("drops answers for a query that was replaced", async () => {
    const { c, answer, updates } = cache(500);
    c.request([0]);
    c.reset();
    await answer();
    expect(c.total).toBeNull();
    expect(updates).toEqual([]);
  });

  it("keeps a failed page failed until retried, and reports it", async () => {
    let broken = true;
    const { c, answer, updates } = cache(500, { fail: (offset) => broken && offset === 100 });
    c.request([0]);
    await answer();
    c.request([1]);
    await answer();
    expect(c.error(150).message).toBe("page at 100 failed");
    expect(updates.at(-1).error.message).toBe("page at 100 failed");
    expect(c.request([1])).toBe(0);
    broken = false;
    expect(c.retry([1])).toBe(1);
    await answer();
    expect(c.error(150)).toBeNull();
    expect(c.row(150).trace_id).toBe(tid(150));
  });

  it("forgets the pages farthest from view", async () => {
    const { c, answer } = cache(100_000, { maxPages: 3 });
    c.request([0]);
    await answer();
    for (const p of [1, 2, 3, 4]) {
      c.request([p]);
      await answer();
    }
    expect([...c.pages.keys()].sort()).toEqual([2, 3, 4]);
  });
});

describe("rows as text", () => {
  it("formats each column", () => {
    const t = cellTexts(
      traceRow(7, {
        cost_usd: null,
        tokens: 12_345,
        duration_ms: null,
        status: "IN_PROGRESS",
        tags: { env: "dev", team: "x" },
      }),
    );
    expect(t.name).toMatchObject({ text: "trace 7", tags: "env=dev · team=x" });
    expect(t.duration.text).toBe("running");
    expect(t.tokens.text).toBe("12k");
    expect(t.cost.text).toBe("–"); // unknown, as in the snapshot
    // a small cost keeps two significant digits (lib/format.js)
    expect(cellTexts(traceRow(1, { cost_usd: 0.000017 })).cost.text).toBe("$0.000017");
    expect(cellTexts(traceRow(1)).cost.text).toBe("$0.0012");
    expect(t.spans.text).toBe("3");
    expect(t.status.text).toBe("IN_PROGRESS");
    expect(t.start.text).toMatch(/^2026-11-2\d \d\d:\d\d:00$/);
    expect(t.start.title).toContain("2026-11-20T12:00:00.000+00:00 (UTC)");
    expect(localTime("not a date")).toBe("not a date");
    expect(statusClass("ERROR")).toBe("error");
    expect(statusClass('x" onclick="y')).toBe("unknown");
  });

  it("renders hostile names, tags, sessions and errors as literal text", () => {
    const slot = makeRow();
    document.body.append(slot.el);
    const row = traceRow(1, {
      name: IMG,
      tags: { [SCRIPT]: LINK },
      session: SCRIPT,
      error_message: IMG,
      status: `<b>${SCRIPT}</b>`,
    });
    fillRow(slot, row, 0, 0);
    expect(slot.nameText.textContent).toBe(IMG);
    expect(slot.tags.textContent).toBe(`${SCRIPT}=${LINK}`);
    expect(slot.cells.status.textContent).toBe(`<b>${SCRIPT}</b>`);
    expect(slot.cells.name.title).toContain(IMG);
    expect(slot.el.querySelectorAll("img, script, a, b").length).toBe(0);
    for (const node of slot.el.querySelectorAll("*")) {
      for (const attr of node.getAttributeNames()) expect(attr.startsWith("on")).toBe(false);
    }
    expect(slot.el.className).toContain("lnb-tl-s-unknown");
    expect(window.__xss).toBeUndefined();
  });

  it("shows loading and failed rows as placeholders, and reuses a row element", () => {
    const slot = makeRow();
    fillRow(slot, undefined, 5, 120);
    expect(slot.nameText.textContent).toBe("loading…");
    expect(slot.el.style.transform).toBe("translateY(120px)");
    fillRow(slot, new Error(IMG), 5, 120);
    expect(slot.nameText.textContent).toBe(`could not load these rows: ${IMG}`);
    fillRow(slot, traceRow(3), 6, 144);
    expect(slot.nameText.textContent).toBe("trace 3");
    expect(slot.el.classList.contains("lnb-tl-placeholder")).toBe(false);
    expect(slot.el.dataset.index).toBe("6");
  });

  it("sorts a new column in its own direction and flips the current one", () => {
    const cost = COLUMNS.find((c) => c.sort === "cost");
    const name = COLUMNS.find((c) => c.sort === "name");
    expect(nextSort(cost, "start_time", true)).toEqual({ sortBy: "cost", desc: true });
    expect(nextSort(name, "start_time", true)).toEqual({ sortBy: "name", desc: false });
    expect(nextSort(name, "name", false)).toEqual({ sortBy: "name", desc: true });
    // the kernel's sort keys (SORT_COLUMNS); previews and models are not sortable
    expect(COLUMNS.filter((c) => c.sort).map((c) => c.sort)).toEqual([
      "start_time",
      "name",
      "session",
      "duration",
      "spans",
      "llm_calls",
      "tokens",
      "cost",
      "status",
    ]);
  });
});

describe("filters", () => {
  it("reads inputs into filters and tags back into text", () => {
    expect(filtersFrom({ name: " rag ", tags: "env=dev, team=x", status: "", model: "  ", text: "paris" })).toEqual({
      name: "rag",
      tags: "env=dev, team=x",
      text: "paris",
    });
    expect(tagsText({ env: "dev", team: "x" })).toBe("env=dev, team=x");
    expect(tagsText(["env=dev"])).toBe("env=dev");
    expect(queryKey({ tags: { env: "dev" }, name: "a" }, "cost", true)).toBe(
      queryKey({ name: "a", tags: "env=dev" }, "cost", true),
    );
    expect(queryKey({}, "cost", true)).not.toBe(queryKey({}, "cost", false));
  });
});

describe("TraceListView", () => {
  it("draws a screenful of 100,000 traces from one page request, then prefetches the next page", async () => {
    const kernel = listKernel(100_000);
    const { view, el } = await mount(kernel);
    expect(kernel.pages()[0]).toEqual({
      filters: {},
      sort: { column: "start_time", descending: true },
      offset: 0,
      limit: 100,
    });
    expect(kernel.pages()[1]).toMatchObject({ offset: 100, limit: 100, as_of: "1790000000000000000" });
    expect(kernel.pages().length).toBe(2);
    expect(el.querySelector(".lnb-tl-count").textContent).toBe("100,000 traces");
    expect(el.querySelector(".lnb-tl-spacer").style.height).toBe(`${100_000 * 24}px`);
    const rows = el.querySelectorAll(".lnb-tl-row:not([hidden])");
    expect(rows.length).toBeGreaterThan(5);
    expect(rows.length).toBeLessThan(60);
    expect(shownNames(el)[0]).toBe("trace 0");
    expect(view.root.dataset.total).toBe("100000");
  });

  it("loads pages lazily as you scroll, never the same page twice", async () => {
    const kernel = listKernel(100_000);
    const { view, el } = await mount(kernel);
    await scrollTo(view, 24 * 50_000);
    const offsets = kernel.pages().map((p) => p.offset);
    expect(offsets).toContain(50_000);
    expect(offsets).toContain(50_100); // prefetched: scrolling down
    expect(shownNames(el)).toContain("trace 50005");
    await scrollTo(view, 24 * 49_990);
    expect(kernel.pages().map((p) => p.offset)).toContain(49_900); // scrolling up: the page above
    const all = kernel.pages().map((p) => p.offset);
    expect(new Set(all).size).toBe(all.length);
    expect(all.length).toBeLessThan(8);
  });

  it("sends the filters and sort, writes them to the model, and starts over on a change", async () => {
    const kernel = listKernel(500);
    const { view, model, el } = await mount(kernel, { filters: { status: "ERROR", tags: { env: "dev" } } });
    expect(el.querySelector(".lnb-tl-f-status").value).toBe("ERROR");
    expect(el.querySelector(".lnb-tl-f-tags").value).toBe("env=dev");
    expect(kernel.pages()[0].filters).toEqual({ status: "ERROR", tags: { env: "dev" } });
    const name = el.querySelector(".lnb-tl-f-name");
    name.value = "rag*";
    name.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter" }));
    await settle();
    expect(model.get("filters")).toEqual({ status: "ERROR", tags: "env=dev", name: "rag*" });
    expect(kernel.pages().at(-2)).toMatchObject({ filters: { name: "rag*" }, offset: 0 });
    expect(kernel.pages().at(-2).as_of).toBeUndefined(); // a new query reads the store afresh

    const costHeader = [...el.querySelectorAll(".lnb-tl-sort")].find((b) => b.textContent.startsWith("Cost"));
    const sent = kernel.pages().length;
    costHeader.click();
    await settle();
    expect(
      kernel
        .pages()
        .slice(sent)
        .map((p) => [p.sort.column, p.sort.descending, p.offset]),
    ).toEqual([
      ["cost", true, 0],
      ["cost", true, 100],
    ]);
    expect([model.get("sort_by"), model.get("sort_desc")]).toEqual(["cost", true]);
    expect(costHeader.textContent).toBe("Cost ▾");
    expect(costHeader.parentElement.getAttribute("aria-sort")).toBe("descending");
    costHeader.click();
    await settle();
    expect(kernel.pages().at(-2).sort).toEqual({ column: "cost", descending: false });
    expect(view.viewport.scrollTop).toBe(0);

    // the kernel changes the filters (e.g. from Python): the inputs follow and the rows reload
    const before = kernel.pages().length;
    model.set("filters", { model: "gpt-4o" });
    await settle();
    expect(el.querySelector(".lnb-tl-f-model").value).toBe("gpt-4o");
    expect(el.querySelector(".lnb-tl-f-name").value).toBe("");
    expect(kernel.pages()[before].filters).toEqual({ model: "gpt-4o" });
  });

  it("shows the kernel's message for a bad filter, as text, and recovers", async () => {
    const kernel = listKernel(50, {
      fail: (p) => (p.filters.since ? `since=${JSON.stringify(p.filters.since)} is not an ISO date/time ${IMG}` : null),
    });
    const { el } = await mount(kernel, { filters: { since: "yesterday" } });
    const message = el.querySelector(".lnb-tl-message");
    expect(message.textContent).toBe(`since="yesterday" is not an ISO date/time ${IMG}`);
    expect(message.classList.contains("lnb-tl-error")).toBe(true);
    expect(el.querySelectorAll("img").length).toBe(0);
    el.querySelector(".lnb-tl-btn").click(); // clear
    await settle();
    expect(message.textContent).toBe("");
    expect(el.querySelector(".lnb-tl-count").textContent).toBe("50 traces");
  });

  it("says when nothing matches", async () => {
    const { el } = await mount(listKernel(0), { filters: { name: "nope" } });
    const empty = el.querySelector(".lnb-tl-empty");
    expect(empty.hidden).toBe(false);
    expect(empty.textContent).toBe("No trace matches these filters.");
  });

  it("renders hostile rows as text in the live view", async () => {
    const rows = [traceRow(1, { name: SCRIPT, tags: { a: IMG } }), traceRow(2, { name: LINK, session: IMG })];
    const { el } = await mount(listKernel(0, { rows }));
    expect(shownNames(el)).toEqual([SCRIPT, LINK]);
    expect(el.querySelectorAll("img, script, a").length).toBe(0);
    expect(window.__xss).toBeUndefined();
  });

  it("opens a clicked trace in the explorer inside the widget and comes back to the same place", async () => {
    const kernel = listKernel(1000);
    const { view, model, el } = await mount(kernel, { selected_span_id: "0".repeat(16), search_text: "old" });
    await scrollTo(view, 24 * 300);
    const target = [...el.querySelectorAll(".lnb-tl-row:not([hidden])")].find((r) => r.dataset.index === "305");
    target.querySelector(".lnb-tl-name-text").click();
    expect(model.get("trace_id")).toBe(tid(305));
    expect(model.get("selected_span_id")).toBeNull();
    expect(model.get("search_text")).toBe("");
    const [explorer] = FakeExplorer.made;
    expect(explorer.traceId).toBe(tid(305));
    expect(explorer.height).toBe(520 - 30);
    expect(view.list.hidden).toBe(true);
    expect(view.detail.hidden).toBe(false);
    expect(el.querySelector(".lnb-tl-open-title").textContent).toBe("trace 305");
    el.querySelector(".lnb-tl-back").click();
    expect(explorer.destroyed).toBe(true);
    expect(model.get("trace_id")).toBeNull();
    expect(view.list.hidden).toBe(false);
    expect(view.viewport.scrollTop).toBe(24 * 300);
    expect(kernel.pages().every((p) => p.offset !== 0 || p === kernel.pages()[0])).toBe(true); // no reload
  });

  it("re-renders with the explorer open when the model has a trace open", async () => {
    const { view } = await mount(listKernel(10), { trace_id: tid(4) });
    expect(FakeExplorer.made.map((e) => e.traceId)).toEqual([tid(4)]);
    expect(view.list.hidden).toBe(true);
  });

  it("moves with the keyboard and opens with Enter", async () => {
    const { view, model } = await mount(listKernel(1000));
    const key = (k) => view.viewport.dispatchEvent(new KeyboardEvent("keydown", { key: k, bubbles: true }));
    key("ArrowDown");
    key("ArrowDown");
    expect(view.grid.active).toBe(1);
    key("End");
    await settle();
    expect(view.grid.active).toBe(999);
    expect(view.viewport.scrollTop).toBeGreaterThan(0);
    key("Home");
    key("Enter");
    expect(model.get("trace_id")).toBe(tid(0));
  });

  it("hands the explorer this widget's model (same messages, explorer state) with its own height", () => {
    const model = new FakeModel({ height: 700, trace_id: tid(1) });
    const seen = [];
    const m = explorerModel(model);
    m.on("change:selected_span_id", (v) => seen.push(v));
    m.set("selected_span_id", "ab");
    expect(seen).toEqual(["ab"]);
    expect(m.get("height")).toBe(670);
    expect(m.get("trace_id")).toBe(tid(1));
    m.send({ type: "request" });
    expect(model.sent).toEqual([{ type: "request" }]);
  });

  it("works with the real explorer: open a trace and load its skeleton through the same kernel", async () => {
    const { skeletonOf } = await import("./helpers.js");
    const kernel = listKernel(3, {
      explorer: {
        skeleton: () => skeletonOf([{ id: "1".repeat(16), parent: null, name: `root ${IMG}` }], { name: SCRIPT }),
      },
    });
    const { ExplorerView } = await import("../explorer/widget.js");
    const { model, el } = await mount(kernel, {}, { explorer: ExplorerView });
    el.querySelector(".lnb-tl-row .lnb-tl-name-text").click();
    await settle(10);
    expect(kernel.calls.some(([m, p]) => m === "skeleton" && p.trace_id === tid(0))).toBe(true);
    expect(el.querySelector(".lnb-explorer .lnb-name").textContent).toBe(`root ${IMG}`);
    expect(el.querySelectorAll("img, script").length).toBe(0);
    el.querySelector(".lnb-tl-back").click();
    expect(el.querySelector(".lnb-explorer")).toBeNull();
    expect(model.get("trace_id")).toBeNull();
  });

  it("anywidget render shows a failure in the notebook and returns a cleanup", () => {
    const el = document.createElement("div");
    const broken = {
      get: () => {
        throw new Error(IMG);
      },
      on() {},
      off() {},
    };
    expect(widget.render({ model: broken, el })).toBeUndefined();
    expect(el.querySelector(".lnb-crash").textContent).toContain(IMG);
    expect(el.querySelectorAll("img").length).toBe(0);
    const model = new FakeModel(
      { trace_id: null, filters: {}, sort_by: "start_time", sort_desc: true, height: 400 },
      listKernel(1),
    );
    const el2 = document.createElement("div");
    const cleanup = widget.render({ model, el: el2 });
    expect(typeof cleanup).toBe("function");
    cleanup();
    expect(el2.children.length).toBe(0);
    expect(model.listeners.get("change:filters")?.size ?? 0).toBe(0);
  });
});

const RUN = "ab".repeat(16);

function evalRow(i, extra = {}) {
  return traceRow(i, {
    name: "top-1",
    tags: {},
    request: "q3",
    response: "Q3",
    models: ["gpt-4o-mini"],
    eval: { run_id: RUN, run: "top-1", row: 3, label: "top-1 · row 3" },
    ...extra,
  });
}

describe("previews, session, model and evaluation traces", () => {
  it("shows previews, models and an evaluation trace by its run and row, not its tag", () => {
    const t = cellTexts(evalRow(1, { models: ["claude-3-5-haiku", "gpt-4o"], session: "s-1" }));
    expect(t.name.text).toBe("top-1 · row 3");
    expect(t.name.tags).toBe("");
    expect([t.request.text, t.response.text, t.session.text, t.model.text]).toEqual([
      "q3",
      "Q3",
      "s-1",
      "claude-3-5-haiku, gpt-4o",
    ]);
    expect(runChip(evalRow(1))).toMatchObject({ text: "run" });
    expect(runChip(evalRow(1)).title).toContain(`evaluation run top-1 (${RUN}), row 3`);
    expect(runChip(traceRow(1))).toBeNull();
    expect(sessionChip(traceRow(1))).toBeNull();
    expect(sessionChip(traceRow(1, { session: "s-1" }))).toMatchObject({ text: "s-1" });
    expect(COLUMNS.map((c) => c.key)).toEqual([
      "start",
      "name",
      "request",
      "response",
      "session",
      "model",
      "duration",
      "spans",
      "llm",
      "tokens",
      "cost",
      "status",
    ]);
  });

  it("renders hostile previews, sessions, models and run names as text, and chips only where they apply", () => {
    const slot = makeRow();
    document.body.append(slot.el);
    fillRow(
      slot,
      evalRow(1, {
        request: IMG,
        response: SCRIPT,
        session: LINK,
        models: [IMG],
        eval: { run_id: RUN, run: SCRIPT, row: 0, label: `${SCRIPT} · row 0` },
      }),
      0,
      0,
    );
    expect(slot.cells.request.textContent).toBe(IMG);
    expect(slot.cells.response.textContent).toBe(SCRIPT);
    expect(slot.cells.model.textContent).toBe(IMG);
    expect(slot.session.textContent).toBe(LINK);
    expect(slot.nameText.textContent).toBe(`${SCRIPT} · row 0`);
    expect([slot.run.hidden, slot.session.hidden]).toEqual([false, false]);
    expect(slot.el.querySelectorAll("img, script, a").length).toBe(0);
    expect(window.__xss).toBeUndefined();
    fillRow(slot, traceRow(2), 1, 24);
    expect([slot.run.hidden, slot.session.hidden]).toEqual([true, true]);
    fillRow(slot, undefined, 2, 48);
    expect([slot.run.hidden, slot.session.hidden]).toEqual([true, true]);
  });

  it("has a toggle with the count of hidden evaluation traces that lists them", async () => {
    const kernel = listKernel(5, { evalTotal: 18 });
    const { model, el } = await mount(kernel);
    const toggle = el.querySelector(".lnb-tl-evals");
    const box = el.querySelector(".lnb-tl-evals-box");
    expect(toggle.textContent).toBe("show evaluation traces (18)");
    expect(box.checked).toBe(false);
    box.checked = true;
    box.dispatchEvent(new Event("change"));
    await settle();
    expect(model.get("filters")).toEqual({ evals: true });
    expect(kernel.pages().at(-1).filters).toEqual({ evals: true });
    // typing in a filter keeps the toggle
    const name = el.querySelector(".lnb-tl-f-name");
    name.value = "top*";
    name.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter" }));
    await settle();
    expect(model.get("filters")).toEqual({ name: "top*", evals: true });
    box.checked = false;
    box.dispatchEvent(new Event("change"));
    await settle();
    expect(model.get("filters")).toEqual({ name: "top*" });
  });

  it("filters the list to a row's run or session from its chips, without opening the row", async () => {
    const rows = [evalRow(1, { session: "s-1" }), traceRow(2, { session: SCRIPT })];
    const kernel = listKernel(0, { rows, evalTotal: 1 });
    const { model, el } = await mount(kernel, { filters: { name: "x", evals: true } });
    const row = (i) => [...el.querySelectorAll(".lnb-tl-row:not([hidden])")].find((r) => r.dataset.index === i);
    row("0").querySelector(".lnb-tl-chip-run").click();
    await settle();
    expect(model.get("trace_id")).toBeNull();
    expect(model.get("filters")).toEqual({ eval_run: RUN });
    expect(el.querySelector(".lnb-tl-f-eval_run").value).toBe(RUN);
    const box = el.querySelector(".lnb-tl-evals-box");
    expect([box.checked, box.disabled]).toEqual([true, true]); // a run filter lists its evaluation traces
    row("1").querySelector(".lnb-tl-chip-session").click();
    await settle();
    expect(model.get("filters")).toEqual({ session: SCRIPT });
    expect(kernel.pages().at(-1).filters).toEqual({ session: SCRIPT });
    expect(box.disabled).toBe(false);
  });

  it("links an open evaluation trace back to its run and its session", async () => {
    const kernel = listKernel(0, { rows: [evalRow(1, { session: "s-1" })] });
    const { view, model, el } = await mount(kernel);
    el.querySelector(".lnb-tl-row:not([hidden]) .lnb-tl-name-text").click();
    expect(el.querySelector(".lnb-tl-open-title").textContent).toBe("top-1 · row 3");
    const bar = el.querySelector(".lnb-tl-bar");
    const run = bar.querySelector(".lnb-tl-chip-run");
    expect(run.textContent).toBe("eval run top-1");
    expect(bar.querySelector(".lnb-tl-chip-session").textContent).toBe("session s-1");
    run.click();
    await settle();
    expect(model.get("trace_id")).toBeNull();
    expect(view.list.hidden).toBe(false);
    expect(model.get("filters")).toEqual({ eval_run: RUN });
  });
});
