import { afterEach, describe, expect, it } from "vitest";
import { COLUMNS, cellTexts, FilterBar, fillRow, filtersFrom, makeRow, queryKey, scoreText } from "../sessions/list.js";
import widget, { countText, explorerModel, SessionsView } from "../sessions/widget.js";
import { FakeExplorer, FakeModel, flush } from "./helpers.js";

const IMG = '<img src=x onerror="window.__xss=1">';
const SCRIPT = "<script>window.__xss=2</script>";
const tid = (i) => i.toString(16).padStart(32, "0");

function sessionRow(i, extra = {}) {
  return {
    session: `s-${i}`,
    first_at: "2026-12-01T12:00:00.000000+00:00",
    last_at: "2026-12-01T12:05:00.000000+00:00",
    turns: 3,
    duration_s: 300.5,
    input_tokens: 900,
    output_tokens: 300,
    tokens: 1200,
    cost_usd: 0.0042,
    errors: 0,
    llm_calls: 3,
    first_input: `hello ${i}`,
    last_output: `bye ${i}`,
    scores: [],
    ...extra,
  };
}

function turnRow(i, extra = {}) {
  return {
    turn: i + 1,
    trace_id: tid(i),
    start_time: "2026-12-01T12:00:00.000000+00:00",
    user: `question ${i}`,
    user_chars: 10,
    assistant: `answer ${i}`,
    assistant_chars: 8,
    tokens: 120,
    cost_usd: 0.001,
    status: "OK",
    error: null,
    duration_ms: 900,
    ...extra,
  };
}

/**
 * A fake kernel as llmops_nb/widgets/sessions/_query.py answers: `page` from `n` sessions with a lower-bound
 * total until the last page, `turns` from `turns` per session, `snapshot`; every call recorded.
 */
function kernelOf(n, { rows = null, turns = 3, fail = null } = {}) {
  const all = rows ?? Array.from({ length: n }, (_, i) => sessionRow(i));
  const calls = [];
  const kernel = (method, params) => {
    calls.push([method, params]);
    const message = fail?.(method, params);
    if (message) throw new Error(message);
    if (method === "page") {
      const page = all.slice(params.offset, params.offset + params.limit);
      const more = params.offset + page.length < all.length;
      return {
        rows: page,
        total: params.offset + page.length + (more ? 1 : 0),
        exact: !more,
        offset: params.offset,
        limit: params.limit,
        filters: params.filters,
        as_of: "1790000000000000000",
        elapsed_ms: 2,
      };
    }
    if (method === "turns") {
      const list = Array.from({ length: turns }, (_, i) => turnRow(i, { user: `${params.session}: question ${i}` }));
      return { session: params.session, rows: list.slice(params.offset, params.offset + params.limit), total: turns };
    }
    if (method === "snapshot") {
      return { "text/html": `<p>snapshot of ${params.session}</p>`, "text/plain": `snapshot of ${params.session}` };
    }
    throw new Error(`unknown method ${method}`);
  };
  kernel.calls = calls;
  kernel.of = (name) => calls.filter(([m]) => m === name).map(([, p]) => p);
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

async function mount(kernel, state = {}, options = {}) {
  const model = new FakeModel({ trace_id: null, filters: {}, session: null, height: 560, ...state }, kernel);
  const el = document.createElement("div");
  document.body.append(el);
  const view = new SessionsView(model, el, { explorer: FakeExplorer, ...options });
  views.push(view);
  await settle();
  return { view, model, el };
}

const shownSessions = (el) =>
  [...el.querySelectorAll(".lnb-ss-row:not([hidden]):not(.lnb-ss-placeholder) .lnb-ss-c-session")].map(
    (n) => n.textContent,
  );

describe("the sessions list's rows", () => {
  it("formats each column", () => {
    const texts = cellTexts(sessionRow(1, { errors: 2 }));
    expect(texts.session.text).toBe("s-1");
    expect(texts.input).toEqual({ text: "hello 1", title: "hello 1\nlast answer: bye 1" });
    expect(texts.turns).toEqual({ text: "3", title: "3 LLM calls" });
    expect(texts.duration.text).toBe("5 min 1 s");
    expect(texts.tokens).toEqual({ text: "1.2k", title: "900 in / 300 out" });
    expect(texts.cost.text).toBe("$0.0042");
    expect(texts.errors.text).toBe("2");
    expect(texts.last.text).toMatch(/^2026-12-0[12] \d\d:05:00$/);
    expect(COLUMNS.map((c) => c.key)).toEqual(Object.keys(texts));
  });

  it("shows scores as chips: a pass rate, else a mean", () => {
    expect(scoreText({ name: "helpful", mean: 0.5, pass_rate: 0.5 })).toEqual({
      text: "helpful 50%",
      title: "helpful: pass rate 50%, mean 0.50",
      failing: true,
    });
    expect(scoreText({ name: "stars", mean: 4, pass_rate: null })).toMatchObject({
      text: "stars 4.00",
      failing: false,
    });
    const slot = makeRow();
    const scores = [
      { name: IMG, mean: 1, pass_rate: 1 },
      { name: "stars", mean: 3.5, pass_rate: null },
    ];
    fillRow(slot, sessionRow(0, { scores, session: SCRIPT, first_input: IMG }), 0, 0);
    const chips = [...slot.el.querySelectorAll(".lnb-ss-score")].map((c) => c.textContent);
    expect(chips).toEqual([`${IMG} 100%`, "stars 3.50"]);
    expect(slot.cells.session.textContent).toBe(SCRIPT);
    expect(slot.cells.input.textContent).toBe(IMG);
    expect(slot.el.querySelectorAll("img, script").length).toBe(0);
  });

  it("marks the selected session and shows loading and failed rows as placeholders", () => {
    const slot = makeRow();
    fillRow(slot, sessionRow(4), 4, 96, { selected: "s-4" });
    expect(slot.el.classList.contains("lnb-ss-selected")).toBe(true);
    expect(slot.el.dataset.session).toBe("s-4");
    fillRow(slot, sessionRow(4), 4, 96, { selected: "s-5" });
    expect(slot.el.classList.contains("lnb-ss-selected")).toBe(false);
    fillRow(slot, undefined, 5, 120);
    expect(slot.el.classList.contains("lnb-ss-placeholder")).toBe(true);
    expect(slot.cells.session.textContent).toBe("loading…");
    fillRow(slot, new Error(`bad ${IMG}`), 5, 120);
    expect(slot.cells.session.textContent).toBe(`could not load these sessions: bad ${IMG}`);
  });

  it("reads the inputs into filters, keeping the limit, and keys a query whatever its order", () => {
    expect(filtersFrom({ name: " chat* ", since: "", until: "2026-12-01" }, { limit: 5, name: "old" })).toEqual({
      name: "chat*",
      until: "2026-12-01",
      limit: 5,
    });
    expect(queryKey({ a: 1, b: "x" })).toBe(queryKey({ b: "x", a: 1, c: "" }));
    const seen = [];
    const bar = new FilterBar({ onChange: (v) => seen.push(v) });
    bar.set({ name: "chat", since: "2026-12-01" });
    expect(bar.inputs.name.value).toBe("chat");
    bar.inputs.until.value = "2026-12-02";
    bar.inputs.until.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter" }));
    expect(seen).toEqual([{ name: "chat", since: "2026-12-01", until: "2026-12-02" }]);
    bar.destroy();
  });

  it("counts exactly on the last page, else a lower bound", () => {
    expect(countText(1, true)).toBe("1 session");
    expect(countText(1234, true)).toBe("1,234 sessions");
    expect(countText(101, false)).toBe("100+ sessions");
  });
});

describe("SessionsView", () => {
  it("lists the first page and grows the list as you scroll, never the same page twice", async () => {
    const kernel = kernelOf(250);
    const { view, el } = await mount(kernel);
    // the first page says more follow (a total of 101): the grid prefetches the second
    expect(kernel.of("page")).toEqual([
      { filters: {}, offset: 0, limit: 100 },
      { filters: {}, offset: 100, limit: 100, as_of: "1790000000000000000" },
    ]);
    expect(el.querySelector(".lnb-ss-count").textContent).toBe("200+ sessions");
    expect(shownSessions(el)[0]).toBe("s-0");
    expect(el.querySelector(".lnb-ss-spacer").style.height).toBe(`${201 * 24}px`);
    view.viewport.scrollTop = 24 * 190;
    view.grid.draw();
    await settle();
    expect(kernel.of("page").map((p) => p.offset)).toEqual([0, 100, 200]);
    expect(el.querySelector(".lnb-ss-count").textContent).toBe("250 sessions");
    expect(el.querySelector(".lnb-ss-spacer").style.height).toBe(`${250 * 24}px`);
    expect(shownSessions(el)).toContain("s-199");
  });

  it("keeps the total from shrinking when an earlier page answers last", async () => {
    const { view } = await mount(kernelOf(0, { rows: [] }));
    const real = view.rpc;
    view.rpc = {
      request: (_m, p) => Promise.resolve({ rows: [], total: p.offset + 101, exact: false }),
      close: () => real.close(),
    };
    view.apply({ force: true });
    const second = await view.page("page", { offset: 100, limit: 100 });
    const first = await view.page("page", { offset: 0, limit: 100 });
    expect([second.total, first.total]).toEqual([201, 201]);
    expect(countText(first.total, view.exact)).toBe("200+ sessions");
  });

  it("selects a session: its transcript under the list, the model's session, a fresh saved snapshot", async () => {
    const kernel = kernelOf(5, { turns: 2 });
    const { view, model, el } = await mount(kernel);
    const snapshots = [];
    el.addEventListener("lnb-snapshot", (event) => snapshots.push(event.detail));
    el.querySelectorAll(".lnb-ss-row:not([hidden]) .lnb-ss-c-session")[2].click();
    await settle();
    expect(model.get("session")).toBe("s-2");
    expect(view.root.classList.contains("lnb-ss-has-session")).toBe(true);
    expect(el.querySelector(".lnb-ss-row.lnb-ss-selected").dataset.session).toBe("s-2");
    expect(kernel.of("turns")).toEqual([{ session: "s-2", offset: 0, limit: 50 }]);
    const bubbles = [...el.querySelectorAll(".lnb-ss-bubble .lnb-ss-text")].map((b) => b.textContent);
    expect(bubbles).toEqual(["s-2: question 0", "answer 0", "s-2: question 1", "answer 1"]);
    expect(el.querySelectorAll(".lnb-ss-user").length).toBe(2);
    expect(el.querySelectorAll(".lnb-ss-assistant").length).toBe(2);
    expect(snapshots).toEqual([{ "text/html": "<p>snapshot of s-2</p>", "text/plain": "snapshot of s-2" }]);
    // another pick replaces the transcript; close returns to the list alone
    el.querySelectorAll(".lnb-ss-row:not([hidden]) .lnb-ss-c-session")[0].click();
    await settle();
    expect(el.querySelectorAll(".lnb-ss-transcript").length).toBe(1);
    expect(el.querySelector(".lnb-ss-t-session").textContent).toBe("s-0");
    el.querySelector(".lnb-ss-t-close").click();
    await settle();
    expect(model.get("session")).toBeNull();
    expect(el.querySelector(".lnb-ss-transcript")).toBeNull();
    expect(view.root.classList.contains("lnb-ss-has-session")).toBe(false);
    expect(snapshots.at(-1)["text/plain"]).toBe("snapshot of null");
  });

  it("opens on the model's session (a re-render, or SessionsView(session=...))", async () => {
    const kernel = kernelOf(3);
    const { el } = await mount(kernel, { session: "s-1" });
    expect(kernel.of("turns")[0]).toMatchObject({ session: "s-1", offset: 0 });
    expect(el.querySelector(".lnb-ss-row.lnb-ss-selected").dataset.session).toBe("s-1");
    expect(kernel.of("snapshot")).toEqual([]); // nothing picked: the saved output is already right
  });

  it("opens a turn's trace in the explorer and comes back to the same conversation", async () => {
    const kernel = kernelOf(3, { turns: 4 });
    const { view, model, el } = await mount(kernel, {
      session: "s-0",
      selected_span_id: "0".repeat(16),
      search_text: "old",
    });
    view.transcript.scrollTop = 40;
    el.querySelectorAll(".lnb-ss-open-trace")[2].click();
    expect(model.get("trace_id")).toBe(tid(2));
    expect(model.get("selected_span_id")).toBeNull();
    expect(model.get("search_text")).toBe("");
    const [explorer] = FakeExplorer.made;
    expect(explorer.traceId).toBe(tid(2));
    expect(explorer.height).toBe(560 - 30);
    expect(view.main.hidden).toBe(true);
    expect(view.detail.hidden).toBe(false);
    expect(el.querySelector(".lnb-ss-open-title").textContent).toBe("session s-0 · turn 3");
    el.querySelector(".lnb-ss-back").click();
    expect(explorer.destroyed).toBe(true);
    expect(model.get("trace_id")).toBeNull();
    expect(view.main.hidden).toBe(false);
    expect(el.querySelectorAll(".lnb-ss-turn").length).toBe(4); // the same transcript, not reloaded
    expect(kernel.of("turns").length).toBe(1);
  });

  it("re-renders with the explorer open when the model has a trace open, and Escape goes back", async () => {
    const { view, model } = await mount(kernelOf(2), { session: "s-1", trace_id: tid(7) });
    expect(FakeExplorer.made.map((e) => e.traceId)).toEqual([tid(7)]);
    expect(view.main.hidden).toBe(true);
    expect(view.openTitle.textContent).toBe(`session s-1 · trace ${tid(7)}`);
    view.detail.dispatchEvent(new KeyboardEvent("keydown", { key: "Escape", bubbles: true }));
    expect(model.get("trace_id")).toBeNull();
    expect(view.main.hidden).toBe(false);
  });

  it("sends the filters, keeps the limit, and starts over on a change", async () => {
    const kernel = kernelOf(30);
    const { model, el } = await mount(kernel, { filters: { name: "chat", limit: 20 } });
    expect(el.querySelector(".lnb-ss-f-name").value).toBe("chat");
    expect(kernel.of("page")[0].filters).toEqual({ name: "chat", limit: 20 });
    const since = el.querySelector(".lnb-ss-f-since");
    since.value = "2026-12-01";
    since.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter" }));
    await settle();
    expect(model.get("filters")).toEqual({ name: "chat", since: "2026-12-01", limit: 20 });
    expect(kernel.of("page").at(-1)).toMatchObject({
      filters: { name: "chat", since: "2026-12-01", limit: 20 },
      offset: 0,
    });
    el.querySelector(".lnb-ss-filters .lnb-ss-btn").click(); // clear
    await settle();
    expect(model.get("filters")).toEqual({ limit: 20 });
  });

  it("shows the kernel's message for a bad filter as text, and says when nothing matches", async () => {
    const kernel = kernelOf(0, {
      rows: [],
      fail: (method, params) =>
        method === "page" && params.filters.since ? `since=${IMG} is not an ISO date/time` : null,
    });
    const { el } = await mount(kernel, { filters: { since: "x" } });
    expect(el.querySelector(".lnb-ss-message").textContent).toBe(`since=${IMG} is not an ISO date/time`);
    expect(el.querySelectorAll("img").length).toBe(0);
    const { el: empty } = await mount(kernelOf(0, { rows: [] }));
    expect(empty.querySelector(".lnb-ss-count").textContent).toBe("0 sessions");
    expect(empty.querySelector(".lnb-ss-empty").textContent).toContain("No sessions in the store yet");
  });

  it("renders hostile sessions and turns as text in the live view", async () => {
    const rows = [sessionRow(0, { session: IMG, first_input: SCRIPT })];
    const kernel = kernelOf(0, { rows });
    const { el } = await mount(kernel);
    expect(shownSessions(el)).toEqual([IMG]);
    el.querySelector(".lnb-ss-row .lnb-ss-c-session").click();
    await settle();
    expect(el.querySelector(".lnb-ss-t-session").textContent).toBe(IMG);
    expect(el.querySelector(".lnb-ss-user .lnb-ss-text").textContent).toBe(`${IMG}: question 0`);
    expect(el.querySelectorAll("img, script, a").length).toBe(0);
    expect(window.__xss).toBeUndefined();
  });

  it("moves with the keyboard and picks with Enter", async () => {
    const { view, model } = await mount(kernelOf(10));
    const key = (k) => view.viewport.dispatchEvent(new KeyboardEvent("keydown", { key: k, bubbles: true }));
    key("ArrowDown");
    key("ArrowDown");
    key("Enter");
    await settle();
    expect(model.get("session")).toBe("s-1");
  });

  it("works with the real explorer: open a turn's trace and load its skeleton through the same kernel", async () => {
    const { skeletonOf } = await import("./helpers.js");
    const base = kernelOf(1, { turns: 1 });
    const kernel = (method, params) =>
      method === "skeleton"
        ? skeletonOf([{ id: "1".repeat(16), parent: null, name: `root ${IMG}` }])
        : base(method, params);
    kernel.calls = base.calls;
    const { ExplorerView } = await import("../explorer/widget.js");
    const { model, el } = await mount(kernel, { session: "s-0" }, { explorer: ExplorerView });
    el.querySelector(".lnb-ss-open-trace").click();
    await settle(12);
    expect(el.querySelector(".lnb-explorer .lnb-name").textContent).toBe(`root ${IMG}`);
    expect(el.querySelectorAll("img, script").length).toBe(0);
    el.querySelector(".lnb-ss-back").click();
    expect(el.querySelector(".lnb-explorer")).toBeNull();
    expect(model.get("trace_id")).toBeNull();
  });

  it("hands the explorer this widget's model with its own height", () => {
    const model = new FakeModel({ height: 700, trace_id: tid(1) });
    expect(explorerModel(model).get("height")).toBe(670);
  });

  it("anywidget render shows a failure in the notebook and returns a cleanup", () => {
    const el = document.createElement("div");
    const cleanup = widget.render({
      model: {
        get: () => {
          throw new Error("no model");
        },
      },
      el,
    });
    expect(cleanup).toBeUndefined();
    expect(el.querySelector(".lnb-crash").textContent).toContain("llmops_nb sessions view failed to start");
    const model = new FakeModel({ trace_id: null, filters: {}, session: null, height: 560 }, kernelOf(1));
    const live = document.createElement("div");
    const destroy = widget.render({ model, el: live });
    expect(typeof destroy).toBe("function");
    destroy();
    expect(live.querySelector(".lnb-sessions")).toBeNull();
  });
});
