import { afterEach, describe, expect, it } from "vitest";
import { compareChip, feedbackText, percent, scoreChip, shortNumber, valueText } from "../eval_table/cells.js";
import { SelectionBar } from "../eval_table/dataset.js";
import { renderRowDetail } from "../eval_table/detail.js";
import { diffNodes, diffStats, unchanged } from "../eval_table/diff.js";
import { FeedbackForm } from "../eval_table/feedback.js";
import { cleanFilters, EvalFilterBar } from "../eval_table/filters.js";
import { thumbIcon } from "../eval_table/icons.js";
import { columnsFor, fillRow, gridTemplate, makeHeader, makeRow, minWidth, nextSort } from "../eval_table/rows.js";
import { histogram, summaryCards, summaryLine } from "../eval_table/summary.js";
import widget, { EvalTableView, explorerModel } from "../eval_table/widget.js";
import { FakeExplorer, FakeModel, flush } from "./helpers.js";

const IMG = '<img src=x onerror="window.__xss=1">';
const SCRIPT = "<script>window.__xss=2</script>";
const RUN = "a".repeat(32);
const BASE = "b".repeat(32);
const tid = (i) => i.toString(16).padStart(32, "0");
const SCORERS = [
  { name: "exact_match", source: "CODE", model: null, threshold: null, lower_is_better: false, index: 0 },
  {
    name: `judge ${IMG}`,
    source: "LLM_JUDGE",
    model: "openai:/gpt",
    threshold: null,
    lower_is_better: false,
    index: 1,
  },
];

function evalRow(i, extra = {}) {
  return {
    row: i,
    record_id: `rec${i}`,
    trace_id: tid(i + 1),
    inputs: `question ${i} ${IMG}`,
    outputs: `answer ${i} ${SCRIPT}`,
    expectations: "x",
    error: null,
    latency_ms: 12.5,
    tokens: 10,
    cost_usd: null,
    feedback: null,
    scores: [
      { v: i % 2 === 0, p: i % 2 === 0, r: null, e: null },
      {
        v: i % 3 === 0 ? null : "yes",
        p: i % 3 === 0 ? null : true,
        r: `because ${IMG}`,
        e: i % 3 === 0 ? `raw reply ${SCRIPT}` : null,
      },
    ],
    ...extra,
  };
}

function compareRow(i) {
  return {
    ...evalRow(i),
    base: { row: i, trace_id: tid(100 + i), outputs: "old words here", error: null },
    diff: [
      ["equal", "answer ", "answer "],
      ["replace", "old", `new ${IMG}`],
      ["insert", "", " more"],
    ],
    scores: [
      { v: true, p: true, bv: false, bp: false, d: 1, o: "win", r: null, br: null, e: null, be: null },
      { v: "no", p: false, bv: "yes", bp: true, d: -1, o: "loss", r: "worse", br: "fine", e: null, be: null },
    ],
  };
}

function info({ compare = false } = {}) {
  return {
    run: {
      key: RUN,
      run_id: RUN,
      name: `run ${SCRIPT}`,
      status: "FINISHED",
      started_at: "2026-11-20T12:00:00.000Z",
      dataset: { name: "quiz", version: 2 },
      stored: true,
      scorers: SCORERS.map((s) => s.name),
    },
    baseline: compare ? { key: BASE, run_id: BASE, name: "before", status: "FINISHED", stored: true } : null,
    scorers: compare ? SCORERS.map((s) => ({ ...s, base_index: s.index })) : SCORERS,
    sorts: [
      "row",
      "latency",
      "feedback",
      ...SCORERS.map((s) => `score:${s.name}`),
      ...(compare ? SCORERS.map((s) => `delta:${s.name}`) : []),
    ],
    author: "ana",
    labels: ["hallucination", IMG],
    frames: [],
  };
}

function summary({ compare = false } = {}) {
  return {
    total: 50,
    errors: 1,
    feedback: { up: 1, down: 2, given: 3 },
    scorers: SCORERS.map((s) => ({
      ...s,
      count: 40,
      mean: 0.5,
      pass_rate: 0.5,
      passed: 20,
      failed: 20,
      errors: 2,
      missing: 0,
      histogram: {
        kind: "bool",
        bins: [
          { label: "false", count: 20, result: "fail" },
          { label: "true", count: 20, result: "pass" },
        ],
      },
      ...(compare ? { win: 3, loss: 1, tie: 46, mean_baseline: 0.4, mean_candidate: 0.5 } : {}),
    })),
    ...(compare ? { only_in_baseline: 1, only_in_candidate: 0 } : {}),
  };
}

/** A fake kernel for the eval table, recording every call; `overrides` replace methods. */
function evalKernel(n = 50, overrides = {}) {
  const calls = [];
  const kernel = (method, params) => {
    calls.push([method, params]);
    if (method in overrides) return overrides[method](params);
    const compare = Boolean(params?.compare);
    switch (method) {
      case "info":
        return info({ compare });
      case "summary":
        return summary({ compare });
      case "page": {
        const all = Array.from({ length: n }, (_, i) => (compare ? compareRow(i) : evalRow(i)));
        return {
          rows: all.slice(params.offset, params.offset + params.limit),
          total: n,
          offset: params.offset,
          limit: params.limit,
          as_of: "rows",
          elapsed_ms: 2,
        };
      }
      case "row":
        return {
          row: params.row,
          record_id: "r",
          trace_id: tid(params.row + 1),
          inputs: { value: { q: IMG } },
          outputs: { value: SCRIPT },
          expectations: { value: null },
          error: null,
          latency_ms: 3,
          scores: [
            {
              name: "exact_match",
              source: "CODE",
              value: true,
              pass: true,
              rationale: null,
              error: null,
              span_id: "1".repeat(16),
            },
            {
              name: "judge",
              source: "LLM_JUDGE",
              model: "openai:/gpt",
              value: false,
              pass: false,
              rationale: `rationale ${IMG}`,
              error: null,
              span_id: "2".repeat(16),
              base_value: true,
              base_pass: true,
              base_rationale: "ok before",
              base_error: null,
              base_span_id: "3".repeat(16),
              delta: -1,
              outcome: "loss",
            },
          ],
          feedback: [
            {
              name: "human_feedback",
              value: false,
              label: IMG,
              comment: "meh",
              author: "ben",
              at: "2026-11-20T12:00:00.000Z",
            },
          ],
          ...(compare
            ? {
                base: { row: params.row, trace_id: tid(100), outputs: { value: "old" }, error: null },
                diff: [["replace", "old", "new"]],
              }
            : {}),
        };
      case "feedback":
        return {
          row: params.row,
          feedback: {
            value: params.value ?? null,
            label: params.label ?? null,
            comment: params.comment ?? null,
            author: params.author ?? "ana",
            at: "2026-11-20T12:00:00.000Z",
            count: 1,
          },
          history: [],
        };
      case "row_ids":
        return { rows: Array.from({ length: n }, (_, i) => i), capped: false };
      case "runs":
        return {
          runs: [
            {
              run_id: BASE,
              name: `before ${IMG}`,
              status: "FINISHED",
              started_at: "2026-11-19T12:00:00.000Z",
              rows: n,
              shared: n,
            },
          ],
          frames: [],
        };
      case "to_dataset":
        return { name: params.name ?? "quiz", version: 3, rows: params.rows.length, parent_version: 2 };
      case "snapshot":
        return {
          "text/html": `<div>feedback on ${kernel.of("feedback").length} ${IMG}</div>`,
          "text/plain": "EvalTable: …",
        };
      default:
        throw new Error(`unknown method ${method}`);
    }
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

// the traitlets an EvalTable starts with
const STATE = { compare_to: null, filters: {}, sort_by: "row", sort_desc: false, selected_rows: [], open_row: null };

async function mount(kernel, state = {}) {
  const model = new FakeModel({ ...STATE, run_key: RUN, author: "ana", height: 620, trace_id: null, ...state }, kernel);
  const el = document.createElement("div");
  document.body.append(el);
  const view = new EvalTableView(model, el, { explorer: FakeExplorer });
  views.push(view);
  await settle();
  return { view, model, el };
}

const rowEl = (el, row) => el.querySelector(`.lnb-ev-row[data-row="${row}"]`);
const noMarkup = (el) => expect(el.querySelectorAll("img, script").length).toBe(0);

describe("cells", () => {
  it("reads scores as chips with a class from a fixed set", () => {
    expect(shortNumber(0.83333)).toBe("0.833");
    expect(shortNumber(4)).toBe("4");
    expect(shortNumber(NaN)).toBe("");
    expect(valueText(true)).toBe("yes");
    expect(scoreChip({ v: true, p: true }, "m")).toMatchObject({ text: "✓ yes", cls: "pass" });
    expect(scoreChip({ v: 0.2, p: false, r: "low" }, "m")).toMatchObject({
      text: "✗ 0.2",
      cls: "fail",
      title: "m: 0.2 (fail)\nlow",
    });
    expect(scoreChip({ v: "maybe", p: null }, "m").cls).toBe("neutral");
    expect(scoreChip({ v: null, e: "boom" }, "m")).toMatchObject({
      text: "error",
      cls: "error",
      title: "m: error\nboom",
    });
    expect(scoreChip({ v: null }, "m")).toMatchObject({ text: "–", cls: "none" });
    expect(scoreChip({ v: 1, p: IMG }, "m").cls).toBe("neutral");
    expect(percent(0.456)).toBe("46%");
  });

  it("reads a comparison as before → after with the outcome", () => {
    const chip = compareChip({ bv: 0.5, v: 0.75, d: 0.25, o: "win", br: "meh", r: "better" }, "m");
    expect(chip).toMatchObject({ text: "0.5 → 0.75", cls: "win" });
    expect(chip.title).toBe("m: 0.5 → 0.75 (+0.25) · win\nbaseline: meh\ncandidate: better");
    expect(compareChip({ bv: null, v: true, e: null, be: "boom", o: null }, "m")).toMatchObject({
      text: "error → yes",
      cls: "none",
    });
    expect(compareChip({ bv: 1, v: 1, d: 0, o: "tie" }, "m").title).toBe("m: 1 → 1 · tie");
    expect(compareChip({ o: IMG }, "m").cls).toBe("none");
  });

  it("reads feedback as a mark and a tooltip", () => {
    expect(feedbackText(null).value).toBeNull();
    const fb = feedbackText({
      value: false,
      label: "wrong",
      comment: "no",
      author: "ana",
      at: "2026-11-20T12:00:00Z",
      count: 2,
    });
    expect(fb).toMatchObject({ value: "down", label: "wrong", comment: true });
    expect(fb.title).toContain("thumbs down\nlabel: wrong\ncomment: no\nlast by ana, 2026-11-20");
    expect(fb.title).toContain("2 pieces of feedback");
  });
});

describe("word diff", () => {
  const ops = [
    ["equal", "The ", "The "],
    ["replace", "old", IMG],
    ["delete", " gone", ""],
    ["insert", "", " new"],
    ["bogus", "x", "y"],
  ];
  it("shows each side, or both inline, as text", () => {
    const host = document.createElement("div");
    host.append(...diffNodes(ops, "both"));
    expect(host.textContent).toBe(`The old${IMG} gone new`);
    expect([...host.querySelectorAll("del")].map((n) => n.textContent)).toEqual(["old", " gone"]);
    expect([...host.querySelectorAll("ins")].map((n) => n.textContent)).toEqual([IMG, " new"]);
    noMarkup(host);
    const a = document.createElement("div");
    a.append(...diffNodes(ops, "a"));
    expect(a.textContent).toBe("The old gone");
    expect(a.querySelectorAll("ins").length).toBe(0);
    const b = document.createElement("div");
    b.append(...diffNodes(ops, "b"));
    expect(b.textContent).toBe(`The ${IMG} new`);
    expect(diffStats(ops)).toEqual({ added: 4, removed: 2 });
    expect(unchanged([["equal", "a", "a"]])).toBe(true);
    expect(unchanged(ops)).toBe(false);
    expect(diffNodes(null)).toEqual([]);
  });
});

describe("columns and rows", () => {
  it("has a column per scorer, deltas when comparing", () => {
    const single = columnsFor(info());
    expect(single.map((c) => c.key)).toEqual([
      "select",
      "row",
      "inputs",
      "outputs",
      "s0",
      "s1",
      "latency",
      "tokens",
      "cost",
      "feedback",
    ]);
    expect(single.find((c) => c.key === "s1").sort).toBe(`score:judge ${IMG}`);
    const compare = columnsFor(info({ compare: true }));
    expect(compare.map((c) => c.key)).toEqual(single.map((c) => c.key)); // the same columns, other contents
    expect(compare.find((c) => c.key === "s0").sort).toBe("delta:exact_match");
    expect(gridTemplate(single)).toContain("minmax(110px, 1fr)");
    expect(minWidth(single)).toBeGreaterThan(600);
    expect(nextSort({ sort: "score:a", desc: false }, "row", false)).toEqual({ sortBy: "score:a", desc: false });
    expect(nextSort({ sort: "score:a", desc: false }, "score:a", false)).toEqual({ sortBy: "score:a", desc: true });
  });

  it("marks the sorted header and fills rows as text", () => {
    const columns = columnsFor(info());
    const sorted = [];
    const header = makeHeader(columns, { onSort: (c) => sorted.push(c.sort) });
    header.mark("score:exact_match", true);
    const button = [...header.el.querySelectorAll(".lnb-ev-sort")].find((b) => b.textContent.startsWith("exact_match"));
    expect(button.textContent).toBe("exact_match ▾");
    expect(button.parentElement.getAttribute("aria-sort")).toBe("descending");
    button.click();
    expect(sorted).toEqual(["score:exact_match"]);
    const slot = makeRow(columns);
    fillRow(slot, columns, evalRow(3, { feedback: { value: true, label: IMG, count: 1 } }), 3, 84, {
      selected: true,
      scorers: SCORERS,
    });
    expect(slot.el.dataset.row).toBe("3");
    expect(slot.el.style.transform).toBe("translateY(84px)");
    expect(slot.cells.inputs.textContent).toBe(`question 3 ${IMG}`);
    expect(slot.cells.outputs.textContent).toBe(`answer 3 ${SCRIPT}`);
    expect(slot.chips.s0.textContent).toBe("✗ no");
    expect(slot.chips.s0.className).toBe("lnb-ev-chip lnb-ev-fail");
    expect(slot.chips.s1.textContent).toBe("error");
    expect(slot.cells.s1.title).toContain(`raw reply ${SCRIPT}`);
    expect(slot.up.getAttribute("aria-pressed")).toBe("true");
    expect(slot.note.textContent).toBe(IMG);
    expect(slot.check.checked).toBe(true);
    noMarkup(slot.el);
    fillRow(slot, columns, undefined, 4, 0, {});
    expect(slot.cells.inputs.textContent).toBe("loading…");
    expect(slot.el.dataset.row).toBeUndefined();
    fillRow(slot, columns, new Error(IMG), 4, 0, {});
    expect(slot.cells.inputs.textContent).toBe(`could not load these rows: ${IMG}`);
  });

  it("shows a failed prediction and, when comparing, the outputs' word diff", () => {
    const columns = columnsFor(info({ compare: true }));
    const slot = makeRow(columns);
    fillRow(slot, columns, compareRow(1), 1, 0, { compare: true, scorers: SCORERS });
    expect(slot.cells.outputs.textContent).toBe(`answer oldnew ${IMG} more`);
    expect(slot.cells.outputs.querySelector("del").textContent).toBe("old");
    expect(slot.chips.s0.textContent).toBe("no → yes");
    expect(slot.chips.s0.className).toBe("lnb-ev-chip lnb-ev-win");
    expect(slot.chips.s1.className).toBe("lnb-ev-chip lnb-ev-loss");
    noMarkup(slot.el);
    const single = columnsFor(info());
    const failed = makeRow(single);
    fillRow(failed, single, evalRow(2, { error: `RuntimeError: ${IMG}` }), 2, 0, {});
    expect(failed.cells.outputs.textContent).toBe(`error: RuntimeError: ${IMG}`);
    expect(failed.cells.outputs.classList.contains("lnb-ev-failed")).toBe(true);
  });
});

describe("summary cards", () => {
  it("draws a histogram whose pass/fail bars filter the table", () => {
    const picked = [];
    const s = summary().scorers[0];
    const el = histogram(
      {
        ...s,
        histogram: {
          kind: "bool",
          bins: [
            { label: "false", count: 10, result: "fail" },
            { label: "true", count: 5, result: "pass" },
          ],
        },
      },
      (n, r) => picked.push([n, r]),
    );
    const bars = el.querySelectorAll(".lnb-ev-bar");
    expect([...bars].map((b) => b.querySelector(".lnb-ev-bar-fill").style.height)).toEqual(["28px", "14px"]);
    bars[0].click();
    expect(picked).toEqual([["exact_match", "fail"]]);
    const values = histogram({
      name: "x",
      histogram: {
        kind: "values",
        bins: [
          { label: IMG, count: 0 },
          { label: "5", count: 3 },
        ],
      },
    });
    expect(values.querySelectorAll(".lnb-ev-bar")[0].disabled).toBe(true);
    expect(values.querySelector(".lnb-ev-hist-axis").textContent).toBe(`${IMG}5`);
    noMarkup(values);
  });

  it("has one card per scorer: mean and pass rate, or win/loss/tie", () => {
    const picked = [];
    const cards = summaryCards(summary(), { onFilter: (n, r) => picked.push([n, r]) });
    expect(cards.length).toBe(2);
    expect(cards[1].querySelector(".lnb-ev-card-name").textContent).toBe(`judge ${IMG}`);
    expect(cards[1].querySelector(".lnb-ev-src").textContent).toBe("judge");
    expect(cards[0].querySelector(".lnb-ev-card-stats").textContent).toBe("0.5 mean50% pass");
    [...cards[0].querySelectorAll(".lnb-ev-link")].find((b) => b.textContent === "2 errors").click();
    expect(picked).toEqual([["exact_match", "error"]]);
    const compared = summaryCards(summary({ compare: true }), {
      compare: true,
      onFilter: (n, r) => picked.push([n, r]),
    });
    expect(compared[0].querySelector(".lnb-ev-card-stats").textContent).toBe("3 win1 loss46 tie");
    compared[0].querySelector(".lnb-ev-seg.lnb-ev-loss").click();
    expect(picked.at(-1)).toEqual(["exact_match", "loss"]);
    expect(compared[0].querySelector(".lnb-ev-card-foot").textContent).toBe("mean 0.4 → 0.5");
    expect(summaryLine(summary())).toBe("50 rows · 1 failed prediction · feedback on 3 (1 up, 2 down)");
    expect(summaryLine(summary({ compare: true }), { compare: true })).toContain("1 only in the baseline");
  });
});

describe("filters", () => {
  it("reads and writes the canonical filter object", async () => {
    const got = [];
    const bar = new EvalFilterBar({ onChange: (f) => got.push(f) });
    bar.setScorers(SCORERS, true);
    expect(bar.result.options.length).toBe(1 + 2 * 7);
    bar.set({ text: "paris", scorer: `judge ${IMG}`, result: "loss", feedback: "down", errors: true });
    expect(bar.read()).toEqual({
      text: "paris",
      scorer: `judge ${IMG}`,
      result: "loss",
      feedback: "down",
      errors: true,
    });
    bar.result.value = "0|fail";
    bar.result.dispatchEvent(new Event("change"));
    expect(got.at(-1)).toEqual({
      text: "paris",
      scorer: "exact_match",
      result: "fail",
      feedback: "down",
      errors: true,
    });
    bar.clear.click();
    expect(got.at(-1)).toEqual({});
    expect(cleanFilters({ scorer: "x", feedback: "", errors: "yes" })).toEqual({});
    bar.destroy();
  });
});

describe("feedback form and dataset bar", () => {
  it("saves thumbs, a label, a comment and the author, then shows the history", async () => {
    const saved = [];
    const form = new FeedbackForm({
      labels: [IMG],
      author: "ana",
      onSave: async (d) => {
        saved.push(d);
        return {
          feedback: { author: "ana" },
          history: [{ value: true, label: IMG, comment: "ok", author: "ana", at: "2026-11-20T12:00:00Z" }],
        };
      },
    });
    expect(form.labels.querySelector("option").value).toBe(IMG);
    await form.submit();
    expect(form.status.textContent).toContain("Pick good or bad");
    form.down.click();
    form.label.value = " wrong ";
    form.comment.value = "two\nlines";
    await form.submit();
    expect(saved).toEqual([{ value: false, label: "wrong", comment: "two\nlines", author: "ana" }]);
    expect(form.status.textContent).toBe("saved by ana");
    expect(form.down.getAttribute("aria-pressed")).toBe("false");
    expect(form.history.querySelector(".lnb-ev-fb-tag").textContent).toBe(IMG);
    noMarkup(form.el);
    const failing = new FeedbackForm({
      onSave: async () => {
        throw new Error("No trace");
      },
    });
    failing.up.click();
    await failing.submit();
    expect(failing.status.textContent).toBe("not saved: No trace");
    expect(failing.status.classList.contains("lnb-ev-error")).toBe(true);
  });

  it("turns checked rows into a dataset version", async () => {
    const asked = [];
    const bar = new SelectionBar({
      onClear: () => {},
      onCreate: async (o) => {
        asked.push(o);
        return { name: "hard", version: 2, rows: 3 };
      },
    });
    bar.update(0, "quiz");
    expect(bar.el.hidden).toBe(true);
    bar.update(3, "quiz");
    expect(bar.count.textContent).toBe("3 rows checked");
    expect(bar.name.placeholder).toBe("dataset (quiz)");
    bar.name.value = "hard";
    bar.asExpected.checked = true;
    await bar.submit();
    expect(asked).toEqual([{ append: true, expectations_from_outputs: true, name: "hard" }]);
    expect(bar.status.textContent).toBe('saved dataset "hard" version 2 (3 rows)');
  });

  it("draws thumbs as SVG, not as emoji text", () => {
    const up = thumbIcon("up");
    expect(up.tagName.toLowerCase()).toBe("svg");
    expect(thumbIcon("down").querySelector("path").getAttribute("transform")).toBe("rotate(180 8 8)");
  });
});

describe("row detail", () => {
  it("shows outputs, every score with its rationale, the span buttons and the feedback", () => {
    const shown = [];
    const d = evalKernel()("row", { row: 2 });
    const form = new FeedbackForm({ onSave: async () => ({}) });
    const el = renderRowDetail(d, { onShowSpan: (s, side) => shown.push([s, side]), feedback: form });
    expect(el.querySelector(".lnb-ev-section .lnb-ev-pre").textContent).toBe(SCRIPT);
    const judge = el.querySelector('.lnb-ev-score[data-scorer="judge"]');
    expect(judge.querySelector(".lnb-ev-rationale").textContent).toBe(`rationale ${IMG}`);
    judge.querySelector(".lnb-ev-link").click();
    expect(shown).toEqual([["2".repeat(16), "candidate"]]);
    expect(el.textContent).toContain('"q": "<img src=x');
    expect(el.contains(form.el)).toBe(true);
    noMarkup(el);
  });

  it("puts the two runs side by side when comparing", () => {
    const shown = [];
    const d = evalKernel()("row", { row: 2, compare: BASE });
    const el = renderRowDetail(d, { compare: true, onShowSpan: (s, side) => shown.push([s, side]) });
    const diffs = el.querySelectorAll(".lnb-ev-diff");
    expect([...diffs].map((n) => n.textContent)).toEqual(["old", "new"]);
    expect(el.querySelector("summary").textContent).toBe("Outputs · 1 word added, 1 removed");
    const judge = el.querySelector('.lnb-ev-score[data-scorer="judge"]');
    expect(judge.querySelector(".lnb-ev-chip").textContent).toBe("loss -1");
    judge.querySelector(".lnb-ev-link").click();
    expect(shown).toEqual([["3".repeat(16), "baseline"]]);
  });
});

describe("EvalTableView", () => {
  it("loads info, summary and the first page, and shows every string as text", async () => {
    const kernel = evalKernel(50);
    const { el, view } = await mount(kernel);
    expect(kernel.of("info")).toEqual([{ compare: null }]);
    expect(kernel.of("page")[0]).toMatchObject({
      compare: null,
      filters: {},
      sort: { column: "row", descending: false },
      offset: 0,
      limit: 100,
    });
    expect(el.querySelector(".lnb-ev-title").textContent).toBe(`run ${SCRIPT} (aaaaaaaa)`);
    expect(el.querySelectorAll(".lnb-ev-card").length).toBe(2);
    expect(el.querySelector(".lnb-ev-count").textContent).toBe("50 rows");
    expect(rowEl(el, 0).querySelector(".lnb-ev-c-inputs").textContent).toBe(`question 0 ${IMG}`);
    expect(view.root.dataset.total).toBe("50");
    noMarkup(el);
    expect(window.__xss).toBeUndefined();
  });

  it("sorts by a header click and filters from the bar and the cards", async () => {
    const kernel = evalKernel(50);
    const { el, model } = await mount(kernel);
    [...el.querySelectorAll(".lnb-ev-sort")].find((b) => b.textContent === "exact_match").click();
    await settle();
    expect(model.get("sort_by")).toBe("score:exact_match");
    expect(kernel.of("page").at(-1).sort).toEqual({ column: "score:exact_match", descending: false });
    [...el.querySelectorAll(".lnb-ev-sort")].find((b) => b.textContent.startsWith("exact_match")).click();
    await settle();
    expect(kernel.of("page").at(-1).sort.descending).toBe(true);
    el.querySelector(".lnb-ev-card .lnb-ev-bar-fail").click();
    await settle();
    expect(model.get("filters")).toEqual({ scorer: "exact_match", result: "fail" });
    expect(kernel.of("page").at(-1).filters).toEqual({ scorer: "exact_match", result: "fail" });
    expect(el.querySelector(".lnb-ev-count").textContent).toBe("50 rows match");
  });

  it("opens a row: its detail above its trace; back returns to the table", async () => {
    const kernel = evalKernel(50);
    const { el, model } = await mount(kernel);
    rowEl(el, 2).querySelector(".lnb-ev-c-inputs").click();
    await settle();
    expect(model.get("open_row")).toBe(2);
    expect(model.get("trace_id")).toBe(tid(3));
    expect(kernel.of("row")).toEqual([{ compare: null, row: 2 }]);
    expect(el.querySelector(".lnb-ev-list").hidden).toBe(true);
    expect(el.querySelector(".lnb-ev-row-detail").dataset.row).toBe("2");
    const [explorer] = FakeExplorer.made;
    expect(explorer.traceId).toBe(tid(3));
    expect(explorer.height).toBe(620 - 32 - Math.round((620 - 32) * 0.45));
    el.querySelector('.lnb-ev-score[data-scorer="judge"] .lnb-ev-link').click();
    expect(model.get("selected_span_id")).toBe("2".repeat(16));
    el.querySelector(".lnb-ev-openbar .lnb-ev-btn[title='next row']").click();
    await settle();
    expect(model.get("open_row")).toBe(3);
    el.querySelector(".lnb-ev-back").click();
    expect(model.get("open_row")).toBeNull();
    expect(explorer.destroyed).toBe(true);
    expect(el.querySelector(".lnb-ev-list").hidden).toBe(false);
  });

  it("sends thumbs from a row and the detail's form, and shows them without a reload", async () => {
    const kernel = evalKernel(50);
    const { el, model } = await mount(kernel);
    rowEl(el, 4).querySelector(".lnb-ev-thumb[data-value='down']").click();
    await settle();
    expect(kernel.of("feedback")).toEqual([{ compare: null, row: 4, value: false }]);
    expect(model.get("open_row")).toBeNull(); // a thumb does not open the row
    expect(rowEl(el, 4).querySelector(".lnb-ev-thumb[data-value='down']").getAttribute("aria-pressed")).toBe("true");
    expect(kernel.of("summary").length).toBe(2);
    rowEl(el, 4).querySelector(".lnb-ev-thumb[data-value='down']").click(); // said already: not sent twice
    await settle();
    expect(kernel.of("feedback").length).toBe(1);
    rowEl(el, 5).querySelector(".lnb-ev-c-inputs").click();
    await settle();
    el.querySelector(".lnb-ev-fb-up").click();
    el.querySelector(".lnb-ev-fb-label").value = "great";
    el.querySelector(".lnb-ev-fb-comment").value = "clear answer";
    el.querySelector(".lnb-ev-fb-save").click();
    await settle();
    expect(kernel.of("feedback").at(-1)).toEqual({
      compare: null,
      row: 5,
      value: true,
      label: "great",
      comment: "clear answer",
      author: "ana",
    });
    expect(el.querySelector(".lnb-ev-fb-status").textContent).toBe("saved by ana");
  });

  it("after feedback is stored, hands the notebook a fresh snapshot in an lnb-snapshot event", async () => {
    const kernel = evalKernel(5);
    const { el } = await mount(kernel, { filters: { feedback: "any" } });
    const heard = [];
    document.body.addEventListener("lnb-snapshot", (event) => heard.push(event));
    expect(kernel.of("snapshot")).toEqual([]); // nothing to save before feedback
    rowEl(el, 1).querySelector(".lnb-ev-thumb[data-value='up']").click();
    await settle();
    // asked after the feedback was stored, for what the view shows
    expect(kernel.calls.map(([m]) => m).indexOf("snapshot")).toBeGreaterThan(
      kernel.calls.map(([m]) => m).indexOf("feedback"),
    );
    expect(kernel.of("snapshot")).toEqual([
      { compare: null, filters: { feedback: "any" }, sort: { column: "row", descending: false } },
    ]);
    expect(heard.length).toBe(1);
    expect(heard[0].target).toBe(el); // dispatched on the widget's element, bubbling up to the notebook
    expect(heard[0].bubbles).toBe(true);
    expect(heard[0].detail).toEqual({ "text/html": `<div>feedback on 1 ${IMG}</div>`, "text/plain": "EvalTable: …" });
    noMarkup(el); // the snapshot is handed on, never put in the page
  });

  it("says when the saved copy could not be updated, and sends no event", async () => {
    const kernel = evalKernel(5, {
      snapshot: () => {
        throw new Error("store locked");
      },
    });
    const { el } = await mount(kernel);
    const heard = [];
    el.addEventListener("lnb-snapshot", (event) => heard.push(event));
    rowEl(el, 2).querySelector(".lnb-ev-thumb[data-value='down']").click();
    await settle();
    expect(heard).toEqual([]);
    expect(el.querySelector(".lnb-ev-message").textContent).toBe(
      "the saved copy of this table is not updated: store locked",
    );
  });

  it("says when feedback could not be saved", async () => {
    const kernel = evalKernel(5, {
      feedback: () => {
        throw new Error(`No trace ${IMG}`);
      },
    });
    const { el } = await mount(kernel);
    rowEl(el, 1).querySelector(".lnb-ev-thumb[data-value='up']").click();
    await settle();
    expect(el.querySelector(".lnb-ev-message").textContent).toBe(`feedback not saved: No trace ${IMG}`);
    noMarkup(el);
  });

  it("checks rows, selects all that match, and makes a dataset version of them", async () => {
    const kernel = evalKernel(50);
    const { el, model } = await mount(kernel);
    rowEl(el, 1).querySelector(".lnb-ev-check").click();
    rowEl(el, 3).querySelector(".lnb-ev-check").click();
    expect(model.get("selected_rows")).toEqual([1, 3]);
    expect(el.querySelector(".lnb-ev-sel-count").textContent).toBe("2 rows checked");
    el.querySelector(".lnb-ev-ds-create").click();
    await settle();
    expect(kernel.of("to_dataset")).toEqual([
      { compare: null, rows: [1, 3], append: true, expectations_from_outputs: false },
    ]);
    expect(el.querySelector(".lnb-ev-ds-status").textContent).toBe('saved dataset "quiz" version 3 (2 rows)');
    const all = el.querySelector(".lnb-ev-head .lnb-ev-check");
    all.click();
    await settle();
    expect(model.get("selected_rows").length).toBe(50);
    model.set("selected_rows", []); // from Python
    expect(rowEl(el, 1).querySelector(".lnb-ev-check").checked).toBe(false);
    expect(el.querySelector(".lnb-ev-selbar").hidden).toBe(true);
  });

  it("compares with a run picked from the menu", async () => {
    const kernel = evalKernel(20);
    const { el, model } = await mount(kernel);
    const select = el.querySelector(".lnb-ev-compare");
    select.dispatchEvent(new Event("focus"));
    await settle();
    expect(kernel.of("runs").length).toBe(1);
    expect([...select.options].map((o) => o.textContent)[1]).toContain(`before ${IMG}`);
    select.value = BASE;
    select.dispatchEvent(new Event("change"));
    await settle();
    expect(model.get("compare_to")).toBe(BASE);
    expect(kernel.of("info").at(-1)).toEqual({ compare: BASE });
    expect(kernel.of("page").at(-1).compare).toBe(BASE);
    expect(el.querySelector(".lnb-ev-title").textContent).toContain("compared with before");
    expect(rowEl(el, 1).querySelector(".lnb-ev-c-outputs del").textContent).toBe("old");
    expect(el.querySelector(".lnb-ev-card .lnb-ev-wlt")).not.toBeNull();
    rowEl(el, 1).querySelector(".lnb-ev-c-inputs").click();
    await settle();
    const traceButtons = el.querySelectorAll(".lnb-ev-trace-pick .lnb-ev-btn");
    expect([...traceButtons].map((b) => b.textContent)).toEqual(["baseline trace", "candidate trace"]);
    traceButtons[0].click();
    expect(model.get("trace_id")).toBe(tid(100));
    select.value = "";
    select.dispatchEvent(new Event("change"));
    await settle();
    expect(model.get("compare_to")).toBeNull();
  });

  it("drops a sort the table cannot do any more, and says why a comparison failed", async () => {
    const kernel = evalKernel(5, {
      info: (p) => {
        if (p.compare) throw new Error(`No evaluation run ${IMG}`);
        return info();
      },
    });
    const { el, model } = await mount(kernel, { sort_by: "delta:exact_match", compare_to: BASE });
    expect(el.querySelector(".lnb-ev-message").textContent).toContain(`No evaluation run ${IMG}`);
    el.querySelector(".lnb-ev-message .lnb-ev-btn").click(); // "stop comparing"
    await settle();
    expect(model.get("compare_to")).toBeNull();
    expect(model.get("sort_by")).toBe("row");
    expect(el.querySelector(".lnb-ev-count").textContent).toBe("5 rows");
  });

  it("shows an error when the first page fails, and restores an open row after a re-render", async () => {
    const failing = evalKernel(5, {
      page: () => {
        throw new Error(`bad filter ${IMG}`);
      },
    });
    const first = await mount(failing);
    expect(first.el.querySelector(".lnb-ev-message").textContent).toBe(`bad filter ${IMG}`);
    const kernel = evalKernel(5);
    const { el } = await mount(kernel, { open_row: 3, trace_id: tid(4) });
    expect(el.querySelector(".lnb-ev-detail").hidden).toBe(false);
    expect(kernel.of("row")).toEqual([{ compare: null, row: 3 }]);
    expect(FakeExplorer.made.at(-1).traceId).toBe(tid(4));
  });

  it("moves with the keyboard: arrows, space checks, Enter opens, Escape closes", async () => {
    const kernel = evalKernel(10);
    const { el, model, view } = await mount(kernel);
    const key = (k, target = view.viewport) =>
      target.dispatchEvent(new KeyboardEvent("keydown", { key: k, bubbles: true }));
    key("ArrowDown");
    key("ArrowDown");
    key(" ");
    expect(model.get("selected_rows")).toEqual([1]);
    key("Enter");
    await settle();
    expect(model.get("open_row")).toBe(1);
    key("Escape", el.querySelector(".lnb-ev-openbar"));
    expect(model.get("open_row")).toBeNull();
  });

  it("lets the explorer see its own height and the shared model", () => {
    const model = new FakeModel({ height: 620, trace_id: tid(1) });
    const m = explorerModel(model, () => 100);
    expect(m.get("height")).toBe(160);
    expect(m.get("trace_id")).toBe(tid(1));
  });

  it("anywidget render shows a failure in the notebook and returns a cleanup", async () => {
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
    noMarkup(el);
    const model = new FakeModel({ ...STATE, height: 500 }, evalKernel(3));
    const el2 = document.createElement("div");
    const cleanup = widget.render({ model, el: el2 });
    await settle();
    cleanup();
    expect(el2.children.length).toBe(0);
    expect(model.listeners.get("change:filters")?.size ?? 0).toBe(0);
  });
});
