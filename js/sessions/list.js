// The sessions list's columns, rows and filter inputs. Every value from the store reaches the page as
// text (textContent, title): a session named "<img onerror=…>" is shown, never parsed. The rows are
// drawn by the paged grid (lib/grid.js); a session's scores are chips: a pass rate, else a mean.

import { h } from "../lib/dom.js";
import { FilterInputs } from "../lib/filter_bar.js";
import * as fmt from "../lib/format.js";
import { placeRow } from "../lib/grid.js";
import { ROW_HEIGHT } from "../lib/virtual.js";

export const COLUMNS = [
  { key: "last", label: "Last turn", title: "when the latest turn started (your local time)" },
  { key: "first", label: "First turn", title: "when the first turn started (your local time)" },
  { key: "session", label: "Session", title: "the session id its traces share" },
  { key: "input", label: "First message", title: "what the user said in the first turn" },
  { key: "turns", label: "Turns", num: true, title: "traces in the session" },
  { key: "duration", label: "Duration", num: true, title: "from the first turn's start to the last turn's end" },
  { key: "tokens", label: "Tokens", num: true, title: "input + output tokens of every turn" },
  { key: "cost", label: "Cost", num: true },
  { key: "errors", label: "Errors", num: true, title: "turns that ended in an error" },
  { key: "scores", label: "Scores", title: "assessments of the turns: pass rate, else mean" },
];

const pad = (/** @type {number} */ n) => String(n).padStart(2, "0");

/**
 * `2026-11-26 14:03:12` in the browser's time zone; the input itself if it is not a date.
 * @param {string | null | undefined} iso
 */
export function localTime(iso) {
  if (iso == null) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/**
 * A score chip's text and tooltip: `helpful 50%` for a pass rate, `stars 4.00` for a mean.
 * @param {{ name: string, mean: number | null, pass_rate: number | null }} score
 */
export function scoreText(score) {
  const name = String(score?.name ?? "");
  const rate = score?.pass_rate;
  const mean = score?.mean;
  const parts = [];
  if (typeof rate === "number") parts.push(`pass rate ${(rate * 100).toFixed(0)}%`);
  if (typeof mean === "number") parts.push(`mean ${mean.toFixed(2)}`);
  const text = typeof rate === "number" ? `${name} ${(rate * 100).toFixed(0)}%` : `${name} ${mean?.toFixed(2) ?? ""}`;
  return { text: text.trim(), title: `${name}: ${parts.join(", ")}`, failing: typeof rate === "number" && rate < 1 };
}

/**
 * Text and tooltip of each cell of a kernel row, keyed like COLUMNS.
 * @param {any} row
 */
export function cellTexts(row) {
  const tokens = row.tokens ?? null;
  const str = (/** @type {any} */ v) => (v == null ? "" : String(v));
  return {
    last: { text: localTime(row.last_at), title: `${str(row.last_at)} (UTC)` },
    first: { text: localTime(row.first_at), title: `${str(row.first_at)} (UTC)` },
    session: { text: str(row.session), title: `session ${str(row.session)}` },
    input: {
      text: str(row.first_input),
      title: [str(row.first_input), row.last_output ? `last answer: ${row.last_output}` : ""]
        .filter(Boolean)
        .join("\n"),
    },
    turns: {
      text: fmt.integer(row.turns),
      title: row.llm_calls != null ? `${fmt.integer(row.llm_calls)} LLM calls` : "",
    },
    duration: { text: row.duration_s == null ? fmt.UNKNOWN : fmt.duration(row.duration_s * 1000), title: "" },
    tokens: {
      text: tokens ? fmt.tokens(tokens) : "",
      title: tokens ? `${fmt.integer(row.input_tokens)} in / ${fmt.integer(row.output_tokens)} out` : "",
    },
    cost: { text: fmt.cost(row.cost_usd), title: "" },
    errors: { text: row.errors ? fmt.integer(row.errors) : "", title: "" },
    scores: { text: "", title: "" },
  };
}

/** An empty row element with one cell per column; `fillRow` writes into it. */
export function makeRow() {
  /** @type {Record<string, HTMLElement>} */
  const cells = {};
  const children = COLUMNS.map((c) => {
    const cell = h("div", {
      class: `lnb-ss-cell lnb-ss-c-${c.key}${c.num ? " lnb-ss-num" : ""}`,
      attrs: { role: "gridcell" },
    });
    cells[c.key] = cell;
    return cell;
  });
  const el = h("div", { class: "lnb-ss-row", attrs: { role: "row" } }, children);
  return { el, cells, key: /** @type {string | null} */ (null), index: -1 };
}

/**
 * Fill a pooled row: `row` is a kernel row, `undefined` (its page is loading) or an Error (its page
 * failed). `selected` is the session the transcript shows.
 * @param {any} slot
 * @param {any} row
 * @param {number} index
 * @param {number} top
 * @param {{ active?: boolean, selected?: string | null }} [state]
 */
export function fillRow(slot, row, index, top, { active = false, selected = null } = {}) {
  const el = slot.el;
  placeRow(el, index, top, ROW_HEIGHT, "lnb-ss-active", active);
  const isSelected = Boolean(row && !(row instanceof Error) && selected != null && row.session === selected);
  el.classList.toggle("lnb-ss-selected", isSelected);
  el.setAttribute("aria-selected", String(isSelected));
  const key =
    row instanceof Error
      ? `error:${row.message}`
      : row
        ? `${row.session}|${row.turns}|${row.last_at}|${row.errors}`
        : "loading";
  if (slot.key === key && slot.index === index) return;
  slot.key = key;
  slot.index = index;
  el.classList.toggle("lnb-ss-placeholder", !row || row instanceof Error);
  if (!row || row instanceof Error) {
    for (const c of COLUMNS) {
      slot.cells[c.key].textContent = "";
      slot.cells[c.key].title = "";
    }
    slot.cells.session.textContent = row ? `could not load these sessions: ${row.message}` : "loading…";
    el.classList.remove("lnb-ss-has-errors");
    delete el.dataset.session;
    return;
  }
  const texts = cellTexts(row);
  for (const c of COLUMNS) {
    slot.cells[c.key].textContent = texts[c.key].text;
    slot.cells[c.key].title = texts[c.key].title ?? "";
  }
  const scores = Array.isArray(row.scores) ? row.scores : [];
  slot.cells.scores.replaceChildren(
    ...scores.map((/** @type {any} */ s) => {
      const t = scoreText(s);
      return h("span", { class: `lnb-ss-score${t.failing ? " lnb-ss-score-low" : ""}`, text: t.text, title: t.title });
    }),
  );
  slot.cells.scores.title = scores.map((/** @type {any} */ s) => scoreText(s).title).join("\n");
  el.classList.toggle("lnb-ss-has-errors", Boolean(row.errors));
  el.dataset.session = String(row.session ?? "");
}

/** The header row: one label per column. */
export function makeHeader() {
  return h(
    "div",
    { class: "lnb-ss-head", attrs: { role: "row" } },
    COLUMNS.map((c) =>
      h(
        "div",
        { class: `lnb-ss-cell lnb-ss-c-${c.key}${c.num ? " lnb-ss-num" : ""}`, attrs: { role: "columnheader" } },
        [h("span", { class: "lnb-ss-label", text: c.label, title: c.title ?? "" })],
      ),
    ),
  );
}

export const FILTER_FIELDS = [
  { key: "name", placeholder: "trace name (* wildcard)", title: "the turns' trace name; * and ? are wildcards" },
  {
    key: "since",
    placeholder: "since 2026-12-01T14:00",
    title: "turns started at or after (ISO date or time, your kernel's local time unless it has an offset)",
  },
  { key: "until", placeholder: "until", title: "turns started before (ISO date or time)" },
];

/**
 * The inputs' values as filters (empty ones left out); `limit` (the most sessions listed) is not an
 * input: it is carried over from `keep`.
 * @param {Record<string, string>} values
 * @param {Record<string, any>} [keep]
 */
export function filtersFrom(values, keep = {}) {
  /** @type {Record<string, any>} */
  const out = {};
  for (const f of FILTER_FIELDS) {
    const v = String(values[f.key] ?? "").trim();
    if (v) out[f.key] = v;
  }
  if (keep.limit != null) out.limit = keep.limit;
  return out;
}

/**
 * One key per query: the same filters give the same key, whatever their order.
 * @param {Record<string, any> | null | undefined} filters
 */
export function queryKey(filters) {
  const f = filters ?? {};
  return JSON.stringify(
    Object.keys(f)
      .sort()
      .filter((k) => f[k] !== "" && f[k] != null)
      .map((k) => [k, f[k]]),
  );
}

/** The filter inputs above the list. `onChange(values)` runs after typing pauses, or on Enter. */
export class FilterBar extends FilterInputs {
  /** @param {{ onChange: (values: Record<string, string>) => void }} options */
  constructor({ onChange }) {
    super(onChange);
    const fields = FILTER_FIELDS.map((f) =>
      this.typed(
        f.key,
        /** @type {HTMLInputElement} */ (
          h("input", {
            class: `lnb-ss-input lnb-ss-f-${f.key}`,
            title: f.title,
            attrs: { type: "text", placeholder: f.placeholder, "aria-label": f.key, spellcheck: "false" },
          })
        ),
      ),
    );
    const clear = this.clearsOnClick(h("button", { class: "lnb-ss-btn", text: "clear", title: "clear the filters" }));
    this.el = h("div", { class: "lnb-ss-filters" }, [...fields, clear]);
  }
}
