// The eval table's columns, header and pooled rows. Every value from the kernel reaches the page
// as text (textContent, title); classes come from fixed sets.

import { h } from "../lib/dom.js";
import { placeRow } from "../lib/grid.js";
import { compareChip, feedbackText, scoreChip, USAGE_FORMATS, usageDelta, usageTitle } from "./cells.js";
import { diffNodes } from "./diff.js";
import { thumbIcon } from "./icons.js";

export const ROW_HEIGHT = 28;

/**
 * @typedef {{ key: string, label: string, sort: string | null, width: string, desc?: boolean, num?: boolean,
 *             title?: string, scorer?: number, usage?: boolean }} Column
 */

/**
 * The columns a run may add, by the name the kernel lists in `info.columns` (a run over conversations:
 * each row's session and number of turns); their values are the rows' fields of the same name.
 * @type {Record<string, Column>}
 */
export const EXTRA_COLUMNS = {
  session: {
    key: "session",
    label: "Session",
    sort: null,
    width: "minmax(90px, 0.8fr)",
    title: "the conversation's session id: open the row to read the conversation",
  },
  turns: {
    key: "turns",
    label: "Turns",
    sort: "turns",
    desc: true,
    width: "52px",
    num: true,
    title: "the conversation's turns (user message and answer); click to sort",
  },
};

/**
 * The columns for a table: `info` is the kernel's `info` answer. Each column: key, label, sort (the
 * kernel's sort key or null), desc (direction of a first click), width (CSS grid track), and for
 * scorer columns the scorer's position in the row's `scores`; after the outputs, the columns the
 * run adds (`info.columns`, those of EXTRA_COLUMNS), sortable when the kernel says so (`info.sorts`).
 * @param {any} info
 * @returns {Column[]}
 */
export function columnsFor(info) {
  const compare = Boolean(info?.baseline);
  /** @type {Column[]} */
  const cols = [
    { key: "select", label: "", sort: null, width: "26px" },
    { key: "row", label: "#", sort: "row", desc: false, width: "40px", num: true, title: "row of the evaluated data" },
    { key: "inputs", label: "Inputs", sort: null, width: "minmax(110px, 1fr)" },
    compare
      ? {
          key: "outputs",
          label: "Outputs (baseline → candidate)",
          sort: null,
          width: "minmax(160px, 1.6fr)",
          title: "words removed from the baseline's output are struck, words the candidate added are marked",
        }
      : { key: "outputs", label: "Outputs", sort: null, width: "minmax(140px, 1.4fr)" },
  ];
  const sorts = new Set(info?.sorts ?? []);
  for (const name of info?.columns ?? []) {
    const column = EXTRA_COLUMNS[name];
    if (column) cols.push({ ...column, sort: column.sort && sorts.has(column.sort) ? column.sort : null });
  }
  (info?.scorers ?? []).forEach((s, position) => {
    cols.push({
      key: `s${position}`,
      label: String(s.name),
      sort: compare ? `delta:${s.name}` : `score:${s.name}`,
      desc: false, // worst first: failures and losses are what a reader looks for
      width: compare ? "118px" : "96px",
      scorer: position,
      title: `${s.name} (${s.source}${s.model ? `, ${s.model}` : ""})${s.threshold != null ? `, passes at ${s.lower_is_better ? "≤" : "≥"} ${s.threshold}` : ""}; click to sort${compare ? " by the change" : ""}`,
    });
  });
  // the app's latency, tokens and cost; comparing, both runs' and the change (less is better)
  const usage = compare ? " (the candidate's and the change; the tooltip has both runs')" : "";
  cols.push(
    {
      key: "latency",
      label: "Latency",
      sort: "latency",
      desc: true,
      width: compare ? "120px" : "64px",
      num: true,
      usage: true,
      title: `time of the prediction${usage}; click to sort`,
    },
    {
      key: "tokens",
      label: "Tokens",
      sort: "tokens",
      desc: true,
      width: compare ? "84px" : "60px",
      num: true,
      usage: true,
      title: `tokens of the app's model calls${usage}; click to sort`,
    },
    {
      key: "cost",
      label: "Cost",
      sort: "cost",
      desc: true,
      width: compare ? "150px" : "76px",
      num: true,
      usage: true,
      title: `cost of the app's model calls${usage} (the tooltip adds the judges'); click to sort`,
    },
  );
  cols.push({
    key: "feedback",
    label: "Feedback",
    sort: "feedback",
    desc: true,
    width: "84px",
    title: "your judgement: thumbs up or down here; a label and a comment in the row's detail",
  });
  return cols;
}

export function gridTemplate(columns) {
  return columns.map((c) => c.width).join(" ");
}

/** The header: a select-all box and one sort button per sortable column. */
export function makeHeader(columns, { onSort, onSelectAll }) {
  const buttons = new Map();
  const selectAll = h("input", {
    class: "lnb-ev-check",
    attrs: { type: "checkbox", "aria-label": "select every row that matches the filters" },
  });
  selectAll.addEventListener("click", (event) => {
    event.stopPropagation();
    onSelectAll?.(selectAll.checked);
  });
  const cells = columns.map((c) => {
    const cell = h("div", {
      class: `lnb-ev-cell lnb-ev-c-${c.key.startsWith("s") && c.scorer != null ? "score" : c.key}${c.num ? " lnb-ev-num" : ""}`,
      attrs: { role: "columnheader" },
    });
    if (c.key === "select") cell.append(selectAll);
    else if (c.sort) {
      const button = h("button", { class: "lnb-ev-sort", text: c.label, title: c.title ?? "click to sort" });
      button.addEventListener("click", () => onSort?.(c));
      buttons.set(c.sort, { button, column: c });
      cell.append(button);
    } else cell.append(h("span", { class: "lnb-ev-head-text", text: c.label, title: c.title ?? "" }));
    return cell;
  });
  const el = h("div", { class: "lnb-ev-head", attrs: { role: "row" } }, cells);
  const mark = (sortBy, desc) => {
    for (const [key, { button, column }] of buttons) {
      const on = key === sortBy;
      button.textContent = on ? `${column.label} ${desc ? "▾" : "▴"}` : column.label;
      button.parentElement.setAttribute("aria-sort", on ? (desc ? "descending" : "ascending") : "none");
    }
  };
  const setChecked = (state) => {
    selectAll.checked = state === "all";
    selectAll.indeterminate = state === "some";
  };
  return { el, mark, setChecked, selectAll };
}

/** The sort after a click on `column`: the same column flips, another starts in its own direction. */
export function nextSort(column, sortBy, desc) {
  return column.sort === sortBy ? { sortBy, desc: !desc } : { sortBy: column.sort, desc: Boolean(column.desc) };
}

/** An empty row with one cell per column; `fillRow` writes into it. */
export function makeRow(columns) {
  const cells = {};
  const children = columns.map((c) => {
    const cell = h("div", {
      class: `lnb-ev-cell lnb-ev-c-${c.scorer != null ? "score" : c.key}${c.num ? " lnb-ev-num" : ""}`,
      attrs: { role: "gridcell" },
    });
    cells[c.key] = cell;
    return cell;
  });
  const check = h("input", { class: "lnb-ev-check", attrs: { type: "checkbox", "aria-label": "select this row" } });
  cells.select.append(check);
  const up = h(
    "button",
    { class: "lnb-ev-thumb", title: "thumbs up", attrs: { "data-value": "up", "aria-label": "thumbs up" } },
    [thumbIcon("up")],
  );
  const down = h(
    "button",
    { class: "lnb-ev-thumb", title: "thumbs down", attrs: { "data-value": "down", "aria-label": "thumbs down" } },
    [thumbIcon("down")],
  );
  const note = h("span", { class: "lnb-ev-note" });
  cells.feedback.append(up, down, note);
  const chips = {};
  for (const c of columns) {
    if (c.scorer == null) continue;
    chips[c.key] = h("span", { class: "lnb-ev-chip" });
    cells[c.key].append(chips[c.key]);
  }
  // a usage cell: its value (both runs' when comparing) and the change, coloured better or worse
  const usage = {};
  for (const c of columns) {
    if (!c.usage) continue;
    usage[c.key] = { value: h("span"), delta: h("span", { class: "lnb-ev-delta" }) };
    cells[c.key].append(usage[c.key].value, usage[c.key].delta);
  }
  const el = h("div", { class: "lnb-ev-row", attrs: { role: "row" } }, children);
  return { el, cells, check, up, down, note, chips, usage, key: null, index: -1 };
}

function rowKey(row) {
  const fb = row.feedback;
  return `${row.row}|${row.trace_id}|${fb ? `${fb.value}|${fb.label}|${fb.comment}|${fb.count}` : "-"}`;
}

/**
 * Fill a pooled row: `row` is a kernel row, `undefined` (its page is loading) or an Error (its
 * page failed). `index` is the row's place in the list; `top` where it is drawn.
 */
export function fillRow(
  slot,
  columns,
  row,
  index,
  top,
  { active = false, selected = false, compare = false, scorers = [] } = {},
) {
  const el = slot.el;
  placeRow(el, index, top, ROW_HEIGHT, "lnb-ev-active", active);
  el.classList.toggle("lnb-ev-selected", selected);
  slot.check.checked = selected;
  const key = row instanceof Error ? `error:${row.message}` : row ? rowKey(row) : "loading";
  if (slot.key === key && slot.index === index) return;
  slot.key = key;
  slot.index = index;
  const placeholder = !row || row instanceof Error;
  el.classList.toggle("lnb-ev-placeholder", placeholder);
  slot.check.disabled = placeholder;
  slot.up.hidden = slot.down.hidden = placeholder;
  if (placeholder) {
    for (const c of columns) {
      if (c.key === "select" || c.key === "feedback") continue;
      if (c.scorer != null) {
        slot.chips[c.key].textContent = "";
        slot.chips[c.key].className = "lnb-ev-chip";
      } else if (c.usage) {
        slot.usage[c.key].value.textContent = "";
        slot.usage[c.key].delta.textContent = "";
      } else slot.cells[c.key].textContent = "";
      slot.cells[c.key].title = "";
    }
    slot.note.textContent = "";
    slot.cells.inputs.textContent = row ? `could not load these rows: ${row.message}` : "loading…";
    delete el.dataset.row;
    delete el.dataset.traceId;
    return;
  }
  el.dataset.row = String(row.row);
  el.dataset.traceId = String(row.trace_id ?? "");
  slot.cells.row.textContent = String(row.row);
  slot.cells.inputs.textContent = row.inputs ?? "";
  slot.cells.inputs.title = row.inputs ?? "";
  const out = slot.cells.outputs;
  out.classList.toggle("lnb-ev-failed", Boolean(row.error));
  if (row.error) {
    out.textContent = `error: ${row.error}`;
    out.title = row.error;
  } else if (compare) {
    out.replaceChildren(...diffNodes(row.diff, "both"));
    out.title = `baseline: ${row.base?.outputs ?? ""}\ncandidate: ${row.outputs ?? ""}`;
  } else {
    out.textContent = row.outputs ?? "";
    out.title = row.outputs ?? "";
  }
  for (const c of columns) {
    if (c.scorer == null) continue;
    const score = row.scores?.[c.scorer];
    const name = scorers[c.scorer]?.name ?? c.label;
    const chip = compare ? compareChip(score, name) : scoreChip(score, name);
    const node = slot.chips[c.key];
    node.textContent = chip.text;
    node.className = `lnb-ev-chip lnb-ev-${chip.cls}`;
    slot.cells[c.key].title = chip.title;
  }
  for (const c of columns) if (c.usage) fillUsage(slot, c.key, row, compare);
  for (const c of columns) {
    if (!EXTRA_COLUMNS[c.key]) continue;
    const value = row[c.key] == null ? "" : String(row[c.key]);
    slot.cells[c.key].textContent = value;
    slot.cells[c.key].title = value;
  }
  const fb = feedbackText(row.feedback);
  slot.up.setAttribute("aria-pressed", String(fb.value === "up"));
  slot.down.setAttribute("aria-pressed", String(fb.value === "down"));
  slot.note.textContent = fb.label ? fb.label : fb.comment ? "✎" : "";
  slot.cells.feedback.title = fb.title;
}

const USAGE_FIELDS = { latency: "latency_ms", tokens: "tokens", cost: "cost_usd" };

/**
 * A latency, tokens or cost cell: the row's value, or comparing, baseline → candidate and the
 * change in a class from a fixed set (lnb-ev-better, -worse, -same).
 * @param {any} slot
 * @param {"latency" | "tokens" | "cost"} key
 * @param {any} row
 * @param {boolean} compare
 */
function fillUsage(slot, key, row, compare) {
  const format = USAGE_FORMATS[key];
  const field = USAGE_FIELDS[key];
  const { value, delta } = slot.usage[key];
  const tip = key === "latency" ? "" : usageTitle(row);
  if (!compare) {
    value.textContent = row[field] == null ? "" : format(row[field]);
    delta.textContent = "";
    slot.cells[key].title = tip;
    return;
  }
  // the candidate's value and the change fit the column; both runs' values are in the tooltip
  const d = usageDelta(row.base?.[field], row[field], format);
  value.textContent = row[field] == null ? "" : format(row[field]);
  delta.textContent = d.change ? ` ${d.change}` : "";
  delta.className = `lnb-ev-delta lnb-ev-${d.cls}`;
  slot.cells[key].title = [`baseline → candidate: ${d.text}`, d.change ? `change: ${d.change} (${d.cls})` : "", tip]
    .filter(Boolean)
    .join("\n");
}

/**
 * The grid's least width: the fixed tracks and the minimums of the flexible ones, plus gaps.
 * @param {{ width: string }[]} columns
 */
export function minWidth(columns, gap = 8, padding = 16) {
  let px = padding + gap * Math.max(0, columns.length - 1);
  for (const c of columns) {
    const m = /(\d+)px/.exec(c.width);
    px += m ? Number(m[1]) : 80;
  }
  return px;
}
