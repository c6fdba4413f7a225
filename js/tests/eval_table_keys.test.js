// The eval table's keyboard after the mouse: a row opened with a click takes the keyboard, Escape
// goes back to the rows (the list has it again), Up/Down open the row above/below.
import { afterEach, describe, expect, it } from "vitest";
import { openRowKey } from "../eval_table/open_row.js";
import { EvalTableView } from "../eval_table/widget.js";
import { FakeModel, flush } from "./helpers.js";

const tid = (i) => i.toString(16).padStart(32, "0");
const SCORER = { name: "exact_match", source: "CODE", model: null, threshold: null, lower_is_better: false, index: 0 };

function kernel(n = 20) {
  const row = (i) => ({
    row: i,
    record_id: `rec${i}`,
    trace_id: tid(i + 1),
    inputs: `question ${i}`,
    outputs: `answer ${i}`,
    expectations: null,
    error: null,
    latency_ms: 1,
    tokens: null,
    cost_usd: null,
    feedback: null,
    scores: [{ v: true, p: true, r: null, e: null }],
  });
  return (method, params) => {
    switch (method) {
      case "info":
        return {
          run: {
            key: "k",
            run_id: "a".repeat(32),
            name: "run",
            status: "FINISHED",
            stored: true,
            scorers: ["exact_match"],
          },
          baseline: null,
          scorers: [SCORER],
          sorts: ["row"],
          author: "",
          labels: [],
          frames: [],
        };
      case "summary":
        return { total: n, errors: 0, feedback: { up: 0, down: 0, given: 0 }, scorers: [] };
      case "page": {
        const rows = Array.from({ length: n }, (_, i) => row(i)).slice(params.offset, params.offset + params.limit);
        return { rows, total: n, offset: params.offset, limit: params.limit, as_of: "rows", elapsed_ms: 1 };
      }
      case "row":
        return {
          ...row(params.row),
          inputs: { value: "q" },
          outputs: { value: "a" },
          expectations: { value: null },
          scores: [],
          feedback: [],
        };
      default:
        throw new Error(`unknown method ${method}`);
    }
  };
}

class FakeExplorer {
  constructor(_model, el) {
    this.el = document.createElement("div");
    this.el.className = "lnb-explorer";
    this.viewport = document.createElement("div");
    this.viewport.tabIndex = 0;
    this.el.append(this.viewport);
    el.append(this.el);
  }
  destroy() {
    this.el.remove();
  }
}

const views = [];
afterEach(() => {
  for (const v of views.splice(0)) v.destroy();
  document.body.replaceChildren();
});

async function settle(rounds = 8) {
  for (let i = 0; i < rounds; i++) await flush();
}

async function mount() {
  const state = { compare_to: null, filters: {}, sort_by: "row", sort_desc: false, selected_rows: [], open_row: null };
  const model = new FakeModel({ ...state, run_key: "k", author: "", height: 620, trace_id: null }, kernel());
  const el = document.createElement("div");
  document.body.append(el);
  const view = new EvalTableView(model, el, { explorer: FakeExplorer });
  views.push(view);
  await settle();
  return { view, model, el };
}

const press = (target, key) => {
  const event = new KeyboardEvent("keydown", { key, bubbles: true, cancelable: true });
  target.dispatchEvent(event);
  return event;
};

describe("openRowKey", () => {
  it("moves between rows with Up/Down, except in fields, the explorer and the card", () => {
    const panel = document.createElement("div");
    const input = document.createElement("input");
    const explorer = document.createElement("div");
    explorer.className = "lnb-explorer";
    const inside = document.createElement("div");
    explorer.append(inside);
    panel.append(input, explorer);
    expect(openRowKey("ArrowDown", panel)).toBe(1);
    expect(openRowKey("ArrowUp", panel)).toBe(-1);
    expect(openRowKey("ArrowDown", input)).toBe(0);
    expect(openRowKey("ArrowDown", inside)).toBe(0);
    expect(openRowKey("Enter", panel)).toBe(0);
  });
});

describe("EvalTableView keyboard after the mouse", () => {
  it("gives the keyboard to a row opened with a click: Up/Down step rows, Escape goes back to the list", async () => {
    const { el, model, view } = await mount();
    el.querySelector('.lnb-ev-row[data-row="2"] .lnb-ev-c-inputs').click();
    await settle();
    expect(model.get("open_row")).toBe(2);
    const panel = el.querySelector(".lnb-ev-detail");
    expect(document.activeElement).toBe(panel);

    // Down and Up on the panel open the next and the previous row; the notebook does not see them
    let seen = 0;
    document.body.addEventListener("keydown", () => seen++);
    expect(press(panel, "ArrowDown").defaultPrevented).toBe(true);
    await settle();
    expect(model.get("open_row")).toBe(3);
    expect(document.activeElement).toBe(panel);
    press(panel, "ArrowUp");
    await settle();
    expect(model.get("open_row")).toBe(2);
    expect(seen).toBe(0);
    // arrows inside the explorer are the explorer's (it moves between spans)
    press(el.querySelector(".lnb-explorer div"), "ArrowDown");
    await settle();
    expect(model.get("open_row")).toBe(2);

    // Escape: back to the rows, the keyboard in the list, on the row that was open
    press(panel, "Escape");
    await settle();
    expect(model.get("open_row")).toBeNull();
    expect(el.querySelector(".lnb-ev-list").hidden).toBe(false);
    expect(document.activeElement).toBe(view.grid.viewport);
    expect(view.grid.active).toBe(2);
    press(view.grid.viewport, "ArrowDown");
    expect(view.grid.active).toBe(3);
    expect(el.querySelector(".lnb-ev-row.lnb-ev-active").dataset.row).toBe("3");
    press(view.grid.viewport, "Enter");
    await settle();
    expect(model.get("open_row")).toBe(3);
    expect(document.activeElement).toBe(panel);
  });

  it("keeps the keyboard in the open row after a click on its text", async () => {
    const { el, model } = await mount();
    el.querySelector('.lnb-ev-row[data-row="0"] .lnb-ev-c-inputs').click();
    await settle();
    const panel = el.querySelector(".lnb-ev-detail");
    expect(panel.tabIndex).toBe(-1); // focusable: a click on its text focuses it, not the page
    press(panel, "Escape");
    await settle();
    expect(model.get("open_row")).toBeNull();
  });
});
