// The eval table over a run over conversations: the list's Session and Turns columns, an open row that
// shows the session's transcript (not a trace), a turn's trace in the explorer and back, Up/Down to the
// next conversation, Escape, the state kept across a re-render, a row opened from Python, strings as text.
import { afterEach, describe, expect, it } from "vitest";
import { columnsFor } from "../eval_table/rows.js";
import { EvalTableView } from "../eval_table/widget.js";
import { FakeModel, flush } from "./helpers.js";

const XSS = '<img src=x onerror="window.__xss=1">';
const tid = (i) => i.toString(16).padStart(32, "0");
const RUN = "c".repeat(32);
const session = (row) => `${RUN}-${row}`;
const SCORERS = [
  { name: "contains", source: "CODE", model: null, threshold: null, lower_is_better: false, per_turn: true, index: 0 },
  { name: "goal_completion", source: "LLM_JUDGE", model: "judge", threshold: null, lower_is_better: false, index: 1 },
];

/** Row `r` is a conversation of r + 2 turns; turn t's trace is tid(100 * r + t). */
function turnRows(row) {
  return Array.from({ length: row + 2 }, (_, i) => ({
    turn: i + 1,
    trace_id: tid(100 * row + i + 1),
    start_time: "2026-12-01T12:00:00.000000+00:00",
    user: i === 0 ? XSS : `message ${i + 1} of row ${row}`,
    user_chars: 10,
    assistant: `echo ${i + 1}`,
    assistant_chars: 6,
    tokens: null,
    cost_usd: null,
    status: "OK",
    error: null,
    duration_ms: 1,
  }));
}

function kernel(n = 5, calls = [], { compare = false } = {}) {
  const base = (i) => (compare ? { base_session: `${"b".repeat(32)}-${i}` } : {});
  const row = (i) => ({
    row: i,
    record_id: `rec${i}`,
    trace_id: tid(100 * i + 1),
    session: session(i),
    turns: i + 2,
    inputs: '{"turns": ["…"]}',
    outputs: '{"messages": […]}',
    expectations: "",
    error: null,
    latency_ms: 1,
    tokens: null,
    cost_usd: null,
    feedback: null,
    scores: [
      { v: 1, p: null, r: "2 of 2 turns passed", e: null },
      { v: "yes", p: true, r: "done", e: null },
    ],
    ...base(i),
    ...(compare ? { base: { row: i, trace_id: tid(900 + i), outputs: "", error: null }, diff: [] } : {}),
  });
  return (method, params) => {
    calls.push([method, params]);
    switch (method) {
      case "info":
        return {
          run: { key: RUN, run_id: RUN, name: "echo", status: "FINISHED", stored: true, conversations: true },
          baseline: compare ? { key: "b".repeat(32), run_id: "b".repeat(32), name: "before", stored: true } : null,
          scorers: SCORERS,
          sorts: ["row", "turns"],
          columns: ["session", "turns"],
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
          inputs: { value: { turns: ["a"] } },
          outputs: { value: { messages: [], stop_reason: "script_end" } },
          expectations: { value: null },
          scores: [
            { ...SCORERS[0], value: 1, pass: null, rationale: "2 of 2 turns passed", error: null, span_id: null },
            {
              ...SCORERS[1],
              value: "yes",
              pass: true,
              rationale: `the goal was met ${XSS}`,
              error: null,
              span_id: "s1",
            },
          ],
          feedback: [],
        };
      case "turns": {
        const all = turnRows(Number(params.session.split("-")[1])).map((t) =>
          params.session.startsWith("b") ? { ...t, assistant: `before ${t.assistant}` } : t,
        );
        return {
          session: params.session,
          rows: all.slice(params.offset, params.offset + params.limit),
          total: all.length,
          offset: params.offset,
          limit: params.limit,
          as_of: "t1",
        };
      }
      default:
        throw new Error(`unknown method ${method}`);
    }
  };
}

/** An explorer double: shows which trace (and span) the model had when it was mounted. */
class FakeExplorer {
  constructor(model, el) {
    this.el = document.createElement("div");
    this.el.className = "lnb-explorer";
    this.el.dataset.trace = model.get("trace_id");
    this.el.dataset.span = model.get("selected_span_id") ?? "";
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
  delete window.__xss;
});

async function settle(rounds = 10) {
  for (let i = 0; i < rounds; i++) await flush();
}

async function mount(state = {}, calls = [], options = {}) {
  const model = new FakeModel(
    {
      compare_to: null,
      filters: {},
      sort_by: "row",
      sort_desc: false,
      selected_rows: [],
      open_row: null,
      session: null,
      run_key: RUN,
      author: "",
      height: 620,
      trace_id: null,
      ...state,
    },
    kernel(5, calls, options),
  );
  return { model, ...(await render(model)) };
}

async function render(model) {
  const el = document.createElement("div");
  document.body.append(el);
  const view = new EvalTableView(model, el, { explorer: FakeExplorer });
  views.push(view);
  await settle();
  return { view, el };
}

const press = (target, key) => target.dispatchEvent(new KeyboardEvent("keydown", { key, bubbles: true }));
const users = (el) => [...el.querySelectorAll(".lnb-ss-user .lnb-ss-text")].map((n) => n.textContent);

describe("the columns of a run over conversations", () => {
  it("adds Session and Turns after the outputs when the kernel lists them, and only then", () => {
    const keys = (info) => columnsFor(info).map((c) => c.key);
    const info = { scorers: [], sorts: ["row", "turns"], columns: ["session", "turns"] };
    expect(keys(info).slice(0, 6)).toEqual(["select", "row", "inputs", "outputs", "session", "turns"]);
    expect(columnsFor(info).find((c) => c.key === "turns").sort).toBe("turns");
    expect(columnsFor({ ...info, sorts: ["row"] }).find((c) => c.key === "turns").sort).toBeNull();
    expect(keys({ scorers: [], sorts: ["row"] })).not.toContain("session");
    expect(keys({ scorers: [], columns: ["unknown"] })).not.toContain("unknown");
  });

  it("shows each row's session and turns in the list", async () => {
    const { el } = await mount();
    const first = el.querySelector('.lnb-ev-row[data-row="1"]');
    expect(first.querySelector(".lnb-ev-c-session").textContent).toBe(session(1));
    expect(first.querySelector(".lnb-ev-c-turns").textContent).toBe("3");
    expect(el.querySelector(".lnb-ev-head").textContent).toContain("Turns");
  });
});

describe("an open conversation row", () => {
  it("shows the card and the session's transcript; a turn's trace opens in the explorer and back", async () => {
    const calls = [];
    const { el, model } = await mount({}, calls);
    el.querySelector('.lnb-ev-row[data-row="0"] .lnb-ev-c-inputs').click();
    await settle();
    expect(model.get("open_row")).toBe(0);
    expect(model.get("session")).toBe(session(0));
    expect(model.get("trace_id")).toBeNull();
    // the card: the scores with their scope and rationale, the session; the transcript below, no explorer
    const card = el.querySelector(".lnb-ev-row-detail");
    expect(card.querySelector(".lnb-ev-session").textContent).toBe(session(0));
    expect(card.querySelector(".lnb-ev-conv-facts").textContent).toContain("2 turns · stopped: script end");
    const scopes = [...card.querySelectorAll(".lnb-ev-score .lnb-ev-scope")].map((n) => n.textContent);
    expect(scopes).toEqual(["per turn", "conversation"]);
    expect(card.querySelector('[data-scorer="goal_completion"] .lnb-ev-rationale').textContent).toBe(
      `the goal was met ${XSS}`,
    );
    const transcript = el.querySelector(".lnb-ev-transcript-host .lnb-ss-transcript");
    expect(transcript.dataset.session).toBe(session(0));
    expect(calls.filter(([m]) => m === "turns").map(([, p]) => p.session)).toEqual([session(0)]);
    expect(users(el)).toEqual([XSS, "message 2 of row 0"]); // the hostile string is text
    expect([...el.querySelectorAll(".lnb-ss-assistant .lnb-ss-text")].map((n) => n.textContent)).toEqual([
      "echo 1",
      "echo 2",
    ]);
    expect(el.querySelector(".lnb-eval img")).toBeNull();
    expect(window.__xss).toBeUndefined();
    expect(el.querySelector(".lnb-explorer")).toBeNull();

    // turn 2's "open trace": its trace in the explorer under the "← conversation" bar
    el.querySelectorAll(".lnb-ss-open-trace")[1].click();
    await settle();
    expect(model.get("trace_id")).toBe(tid(2));
    expect(el.querySelector(".lnb-explorer").dataset.trace).toBe(tid(2));
    expect(el.querySelector(".lnb-ev-transcript-host").hidden).toBe(true);
    expect(el.querySelector(".lnb-ev-turn-title").textContent).toBe(`turn 2 of session ${session(0)}`);

    // back: the same transcript (not asked again), no explorer, the keyboard on the open row
    el.querySelector(".lnb-ev-conv-back").click();
    await settle();
    expect(model.get("trace_id")).toBeNull();
    expect(el.querySelector(".lnb-explorer")).toBeNull();
    expect(el.querySelector(".lnb-ev-transcript-host").hidden).toBe(false);
    expect(users(el)).toEqual([XSS, "message 2 of row 0"]);
    expect(calls.filter(([m]) => m === "turns")).toHaveLength(1);
    expect(document.activeElement).toBe(el.querySelector(".lnb-ev-detail"));
  });

  it("opens the judge's span in the first turn's trace from the card", async () => {
    const { el, model } = await mount();
    el.querySelector('.lnb-ev-row[data-row="1"] .lnb-ev-c-inputs').click();
    await settle();
    el.querySelector('[data-scorer="goal_completion"] .lnb-ev-link').click();
    await settle();
    expect(model.get("trace_id")).toBe(tid(101));
    const explorer = el.querySelector(".lnb-explorer");
    expect([explorer.dataset.trace, explorer.dataset.span]).toEqual([tid(101), "s1"]);
    expect(el.querySelector(".lnb-ev-turn-title").textContent).toBe(`turn 1 of session ${session(1)}`);
  });

  it("steps to the next conversation with Down, and Escape leaves a turn's trace, then the row", async () => {
    const { el, model } = await mount();
    el.querySelector('.lnb-ev-row[data-row="1"] .lnb-ev-c-inputs').click();
    await settle();
    const panel = el.querySelector(".lnb-ev-detail");
    el.querySelector(".lnb-ss-open-trace").click();
    await settle();
    expect(model.get("trace_id")).toBe(tid(101));
    // Down on the panel: the next row, its own conversation, on its transcript
    press(panel, "ArrowDown");
    await settle();
    expect([model.get("open_row"), model.get("session"), model.get("trace_id")]).toEqual([2, session(2), null]);
    expect(el.querySelector(".lnb-explorer")).toBeNull();
    expect(el.querySelector(".lnb-ss-transcript").dataset.session).toBe(session(2));
    expect(el.querySelectorAll(".lnb-ss-turn")).toHaveLength(4);
    // arrows inside the transcript scroll it: they are not the table's
    press(el.querySelector(".lnb-ss-t-scroll"), "ArrowDown");
    await settle();
    expect(model.get("open_row")).toBe(2);
    press(panel, "ArrowUp");
    await settle();
    expect([model.get("open_row"), model.get("session")]).toEqual([1, session(1)]);

    el.querySelector(".lnb-ss-open-trace").click();
    await settle();
    press(el.querySelector(".lnb-explorer"), "Escape");
    await settle();
    expect([model.get("open_row"), model.get("trace_id")]).toEqual([1, null]);
    expect(el.querySelector(".lnb-ev-transcript-host").hidden).toBe(false);
    press(panel, "Escape");
    await settle();
    expect([model.get("open_row"), model.get("session")]).toEqual([null, null]);
    expect(el.querySelector(".lnb-ev-list").hidden).toBe(false);
    expect(el.querySelector(".lnb-ss-transcript")).toBeNull();
  });

  it("keeps the open conversation and turn across a re-render", async () => {
    const { el, model, view } = await mount();
    el.querySelector('.lnb-ev-row[data-row="0"] .lnb-ev-c-inputs').click();
    await settle();
    el.querySelectorAll(".lnb-ss-open-trace")[1].click();
    await settle();
    view.destroy();
    el.remove();

    const again = await render(model);
    expect(again.el.querySelector(".lnb-ev-list").hidden).toBe(true);
    expect(again.el.querySelector(".lnb-explorer").dataset.trace).toBe(tid(2));
    expect(again.el.querySelector(".lnb-ev-turn-title").textContent).toBe(`turn 2 of session ${session(0)}`);
    again.el.querySelector(".lnb-ev-conv-back").click();
    await settle();
    expect(users(again.el)).toEqual([XSS, "message 2 of row 0"]);
  });

  it("opens the conversation of a row opened from Python (open_row alone)", async () => {
    const { el, model } = await mount({ open_row: 3 });
    expect(model.get("session")).toBe(session(3));
    expect(el.querySelector(".lnb-ss-transcript").dataset.session).toBe(session(3));
    expect(el.querySelector(".lnb-ev-open-title").textContent).toBe("row 3 · conversation of 5 turns");
  });

  it("follows the model when another view of the widget opens a turn's trace", async () => {
    const { el, model } = await mount({ open_row: 0, session: session(0) });
    expect(el.querySelector(".lnb-explorer")).toBeNull();
    model.set("trace_id", tid(1));
    await settle();
    expect(el.querySelector(".lnb-explorer").dataset.trace).toBe(tid(1));
    model.set("trace_id", null);
    await settle();
    expect(el.querySelector(".lnb-explorer")).toBeNull();
    expect(el.querySelector(".lnb-ev-transcript-host").hidden).toBe(false);
  });

  it("comparing two runs over conversations, shows the baseline's conversation or the candidate's", async () => {
    const { el, model } = await mount({ compare_to: "b".repeat(32) }, [], { compare: true });
    el.querySelector('.lnb-ev-row[data-row="0"] .lnb-ev-c-inputs').click();
    await settle();
    const [before, after] = el.querySelectorAll(".lnb-ev-trace-pick .lnb-ev-btn");
    expect([before.textContent, after.getAttribute("aria-pressed")]).toEqual(["baseline conversation", "true"]);
    expect(el.querySelector(".lnb-ss-transcript").dataset.session).toBe(session(0));
    before.click();
    await settle();
    expect(model.get("session")).toBe(`${"b".repeat(32)}-0`);
    expect(el.querySelector(".lnb-ss-assistant .lnb-ss-text").textContent).toBe("before echo 1");
    expect(el.querySelectorAll(".lnb-ev-trace-pick .lnb-ev-btn")[0].getAttribute("aria-pressed")).toBe("true");
  });
});
