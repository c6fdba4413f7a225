// The eval table's value-axis histograms, per-row tokens/cost and compare deltas, the run's usage
// line, and its height: fitted to its rows up to `height`, resizable by the user (lib/fit.js).
import { afterEach, describe, expect, it } from "vitest";
import { usageDelta } from "../eval_table/cells.js";
import { columnsFor, fillRow, makeRow, ROW_HEIGHT } from "../eval_table/rows.js";
import { histogram, placeBars, usageNodes } from "../eval_table/summary.js";
import { EvalTableView } from "../eval_table/widget.js";
import { FitHeight, fitPx } from "../lib/fit.js";
import { FakeModel, flush } from "./helpers.js";

const IMG = '<img src=x onerror="window.__xss=1">';
const SCORERS = [{ name: "rouge", source: "CODE", model: null, threshold: 0.5, lower_is_better: false, index: 0 }];

// a ROUGE in [0, 1] as the kernel places it (llmops_nb/widgets/eval_table/_histogram.py): a bar per value
const ROUGE = {
  kind: "values",
  axis: { min: 0, max: 1 },
  bins: [
    { label: "0.1", count: 2, lo: 0.1, hi: 0.1, x0: 0.096, x1: 0.176 },
    { label: "0.9", count: 4, lo: 0.9, hi: 0.9, x0: 0.832, x1: 0.912 },
  ],
  ticks: [
    { x: 0.04, label: "0" },
    { x: 0.96, label: "1" },
  ],
  threshold_x: 0.5,
};

describe("histograms on a value axis", () => {
  it("places each bar where the kernel put it on the axis, not in equal slots", () => {
    const placed = placeBars(ROUGE);
    expect(placed.bars.map((b) => [b.left, b.width, b.px])).toEqual([
      [9.6, 8, 14],
      [83.2, 8, 28],
    ]);
    expect(placed.labels).toEqual([
      { at: 4, text: "0", tick: true },
      { at: 96, text: "1", tick: true },
    ]);
    expect(placed.threshold).toBe(50);
    // categories: a label under each bar; out-of-range positions are clamped to the drawing
    const words = placeBars({
      kind: "labels",
      axis: null,
      bins: [
        { label: IMG, count: 1, x0: -0.2, x1: 0.46 },
        { label: "no", count: 0, x0: 0.54, x1: 1.5 },
      ],
    });
    expect(words.bars.map((b) => [b.left, b.width, b.px])).toEqual([
      [0, 46, 28],
      [54, 46, 0],
    ]);
    expect(words.labels.map((l) => [l.at, l.text, l.tick])).toEqual([
      [23, IMG, false],
      [77, "no", false],
    ]);
    expect(words.threshold).toBeNull();
  });

  it("draws the bars, the axis' ends and the threshold at those places", () => {
    const el = histogram({ name: "rouge", threshold: 0.5, histogram: ROUGE });
    const bars = [...el.querySelectorAll(".lnb-ev-bar")];
    expect(bars.map((b) => [b.style.left, b.style.width])).toEqual([
      ["9.6%", "8%"],
      ["83.2%", "8%"],
    ]);
    expect(bars[0].title).toBe("0.1: 2");
    expect([...el.querySelectorAll(".lnb-ev-tick")].map((t) => [t.textContent, t.style.left])).toEqual([
      ["0", "4%"],
      ["1", "96%"],
    ]);
    expect(el.querySelector(".lnb-ev-threshold").style.left).toBe("50%");
    const binned = histogram({
      name: "x",
      histogram: {
        kind: "bins",
        axis: { min: 0, max: 1 },
        bins: [{ label: "0–0.1", count: 1, lo: 0, hi: 0.1, x0: 0, x1: 0.1 }],
        ticks: [],
      },
    });
    expect(binned.querySelector(".lnb-ev-bar").title).toBe("0–0.1 (0 to 0.1): 1");
  });
});

function row(extra = {}) {
  return {
    row: 0,
    record_id: "r0",
    trace_id: "1".padStart(32, "0"),
    inputs: "q",
    outputs: "a",
    error: null,
    latency_ms: 9,
    tokens: 110,
    cost_usd: 0.000021,
    trace_tokens: 1210,
    trace_cost_usd: 0.00023,
    feedback: null,
    scores: [{ v: 0.9, p: true, r: null, e: null }],
    ...extra,
  };
}

describe("tokens, cost and latency per row", () => {
  it("shows the app's tokens and cost, the whole trace's in the tooltip", () => {
    const columns = columnsFor({ scorers: SCORERS });
    const slot = makeRow(columns);
    fillRow(slot, columns, row(), 0, 0, { scorers: SCORERS });
    expect(slot.cells.tokens.textContent).toBe("110");
    expect(slot.cells.cost.textContent).toBe("$0.000021");
    expect(slot.cells.latency.textContent).toBe("9.0 ms");
    expect(slot.cells.cost.title).toBe(
      "the app: 110 tokens, $0.000021\nthe row's whole trace, judges included: 1,210 tokens, $0.00023",
    );
    fillRow(
      slot,
      columns,
      row({ row: 1, tokens: null, cost_usd: null, trace_cost_usd: null, trace_tokens: null }),
      1,
      0,
    );
    expect(slot.cells.tokens.textContent).toBe("");
    expect(slot.cells.cost.textContent).toBe("");
  });

  it("comparing, shows the candidate's value and the change coloured better or worse, both runs in the tooltip", () => {
    const info = { baseline: { run_id: "b" }, scorers: SCORERS };
    const columns = columnsFor(info);
    const slot = makeRow(columns);
    const base = {
      row: 0,
      trace_id: "2",
      outputs: "old",
      error: null,
      latency_ms: 12,
      tokens: 110,
      cost_usd: 0.000021,
    };
    fillRow(slot, columns, row({ base, tokens: 220, cost_usd: 0.000042, diff: [] }), 0, 0, {
      compare: true,
      scorers: SCORERS,
    });
    expect(slot.cells.latency.textContent).toBe("9.0 ms −3.0 ms");
    expect(slot.cells.latency.title).toContain("baseline → candidate: 12 ms → 9.0 ms");
    expect(slot.usage.latency.delta.className).toBe("lnb-ev-delta lnb-ev-better");
    expect(slot.cells.tokens.textContent).toBe("220 +110");
    expect(slot.usage.tokens.delta.className).toBe("lnb-ev-delta lnb-ev-worse");
    expect(slot.cells.cost.textContent).toBe("$0.000042 +$0.000021");
    expect(slot.cells.cost.title).toContain("baseline → candidate: $0.000021 → $0.000042");
    expect(slot.usage.cost.delta.className).toBe("lnb-ev-delta lnb-ev-worse");
    expect(slot.cells.cost.title).toContain("change: +$0.000021 (worse)");
    expect(usageDelta(null, 3, String)).toEqual({ text: "null → 3", change: "", cls: "none", delta: null });
    expect(usageDelta(3, 3, String).cls).toBe("same");
  });

  it("sums the run up: mean latency, tokens, cost, and comparing the changes", () => {
    const one = usageNodes({ usage: { latency_ms: 1500, tokens: 3300, cost_usd: 0.00021, trace_cost_usd: 0.0023 } });
    expect(one.map((n) => n.textContent)).toEqual([
      "mean latency 1.50 s · 3,300 tokens · cost $0.00021 ($0.0023 with scoring)",
    ]);
    const two = usageNodes(
      {
        usage: { latency_ms: 90, tokens: 660, cost_usd: 0.00042 },
        base_usage: { latency_ms: 120, tokens: 330, cost_usd: 0.00021 },
      },
      { compare: true },
    );
    expect(two.map((n) => n.textContent)).toEqual([
      "mean latency 120 ms → 90 ms (−30 ms)",
      "tokens 330 → 660 (+330)",
      "cost $0.00021 → $0.00042 (+$0.00021)",
    ]);
    expect(two.map((n) => n.querySelector(".lnb-ev-delta").className)).toEqual([
      "lnb-ev-delta lnb-ev-better",
      "lnb-ev-delta lnb-ev-worse",
      "lnb-ev-delta lnb-ev-worse",
    ]);
    expect(usageNodes({ usage: { latency_ms: null, tokens: null, cost_usd: null } })).toEqual([]);
  });
});

function kernelOf(n) {
  return (method, params) => {
    switch (method) {
      case "info":
        return {
          run: { key: "a", run_id: "a".repeat(32), name: "run", stored: true, scorers: ["rouge"] },
          baseline: null,
          scorers: SCORERS,
          sorts: ["row"],
          author: "ana",
          labels: [],
          frames: [],
        };
      case "summary":
        return { total: n, errors: 0, feedback: { up: 0, down: 0, given: 0 }, scorers: [], usage: {} };
      case "page":
        return {
          rows: Array.from({ length: n }, (_, i) => row({ row: i })).slice(params.offset, params.offset + params.limit),
          total: n,
          offset: params.offset,
          limit: params.limit,
          as_of: "rows",
        };
      default:
        throw new Error(`unknown method ${method}`);
    }
  };
}

class NoExplorer {
  constructor(_model, el) {
    this.el = el;
  }
  destroy() {}
}

const views = [];
afterEach(() => {
  for (const v of views.splice(0)) v.destroy();
  document.body.replaceChildren();
});

async function mount(n, state = {}) {
  const model = new FakeModel(
    { compare_to: null, filters: {}, sort_by: "row", sort_desc: false, selected_rows: [], open_row: null },
    kernelOf(n),
  );
  Object.assign(model.state, { height: 620, trace_id: null, ...state });
  const el = document.createElement("div");
  document.body.append(el);
  const view = new EvalTableView(model, el, { explorer: NoExplorer });
  views.push(view);
  for (let i = 0; i < 8; i++) await flush();
  return { view, model };
}

describe("the table's height", () => {
  it("is as tall as its rows up to `height`, and resizable", async () => {
    // jsdom lays nothing out: the chrome is the view's estimate (200 px, the header 27, the frame 12)
    const few = await mount(3);
    expect(few.view.root.classList.contains("lnb-resizable")).toBe(true);
    expect(few.view.root.style.height).toBe(`${200 + 27 + 3 * ROW_HEIGHT + 12}px`);
    const many = await mount(500);
    expect(many.view.root.style.height).toBe("620px");
    many.model.set("height", 400); // the limit moved
    expect(many.view.root.style.height).toBe("400px");
    const none = await mount(0);
    expect(none.view.root.style.height).toBe("240px"); // never below the least height
    expect(fitPx(10, 200, 240)).toBe(200); // a limit below the floor wins
  });

  it("keeps the height the user dragged to, and tells the view", () => {
    const root = document.createElement("div");
    let told = 0;
    const fit = new FitHeight(root, { onUserResize: () => told++ });
    expect(fit.set(300)).toBe(true);
    expect(fit.set(200, { growOnly: true })).toBe(false); // growing only: rows closing do not shrink it
    fit.observed(); // our own write: not the user's
    expect(fit.userSized).toBe(false);
    root.style.height = "700px"; // the browser's resize handle
    fit.observed();
    expect([fit.userSized, told]).toEqual([true, 1]);
    expect(fit.set(350)).toBe(false);
    expect(root.style.height).toBe("700px");
    fit.destroy();
  });
});
