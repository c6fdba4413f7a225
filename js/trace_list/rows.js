// The trace list's columns and rows. Every value from the store reaches the page as text
// (textContent, title): a trace named "<img onerror=…>" is shown, never parsed. Two chips in a
// row are buttons the view handles (`data-chip`): an evaluation trace's run, and the session.

import { h } from "../lib/dom.js";
import * as fmt from "../lib/format.js";
import { placeRow } from "../lib/grid.js";
import { ROW_HEIGHT } from "../lib/virtual.js";

// `sort` is the kernel's sort key (none: not sortable); `desc` the direction of a first click.
export const COLUMNS = [
  { key: "start", label: "Start", sort: "start_time", desc: true, title: "start time (your local time)" },
  {
    key: "name",
    label: "Name",
    sort: "name",
    desc: false,
    title: "the root span's name (an evaluation trace: its run and row), then the trace's tags",
  },
  { key: "request", label: "Request", title: "the start of the trace's input" },
  { key: "response", label: "Response", title: "the start of the trace's output" },
  { key: "session", label: "Session", sort: "session", desc: false, title: "the %%llm_trace --session id" },
  { key: "model", label: "Model", title: "the models of the trace's LLM calls" },
  { key: "duration", label: "Duration", sort: "duration", desc: true, num: true },
  { key: "spans", label: "Spans", sort: "spans", desc: true, num: true },
  { key: "llm", label: "LLM calls", sort: "llm_calls", desc: true, num: true },
  { key: "tokens", label: "Tokens", sort: "tokens", desc: true, num: true, title: "input + output tokens" },
  { key: "cost", label: "Cost", sort: "cost", desc: true, num: true },
  { key: "status", label: "Status", sort: "status", desc: false },
];

const STATUSES = new Set(["OK", "ERROR", "IN_PROGRESS"]);
const pad = (n, w = 2) => String(n).padStart(w, "0");

/** `2026-11-26 14:03:12` in the browser's time zone; the input itself if it is not a date. */
export function localTime(iso) {
  if (iso == null) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** `env=dev · team=x` */
export function tagText(tags) {
  if (!tags || typeof tags !== "object") return "";
  return Object.entries(tags)
    .map(([k, v]) => `${k}=${v}`)
    .join(" · ");
}

/** The status as a CSS class suffix, from a fixed set (never the raw value). */
export function statusClass(status) {
  return STATUSES.has(status) ? status.toLowerCase() : "unknown";
}

/** The chip of an evaluation trace's run (null for other traces): its text and tooltip. */
export function runChip(row) {
  const ev = row.eval;
  if (!ev || typeof ev !== "object") return null;
  return {
    text: "run", // short: the name beside it already says which run and row
    title: `evaluation run ${ev.run} (${ev.run_id})${ev.row == null ? "" : `, row ${ev.row}`}: click to list this run's traces; llmops_nb.eval_table("${ev.run_id}") shows its scores`,
  };
}

/** The session chip (null without a session). */
export function sessionChip(row) {
  if (row.session == null || row.session === "") return null;
  return { text: String(row.session), title: `session ${row.session}: click to list this session's traces` };
}

/** Text and tooltip of each cell of a kernel row, keyed like COLUMNS. */
export function cellTexts(row) {
  const tokens = row.tokens ?? (row.input_tokens ?? 0) + (row.output_tokens ?? 0);
  const raw = row.name == null ? "(unnamed)" : String(row.name);
  const name = row.eval?.label != null ? String(row.eval.label) : raw;
  const preview = (/** @type {any} */ v) => (v == null ? "" : String(v));
  return {
    start: { text: localTime(row.start_time), title: `${row.start_time ?? ""} (UTC)\ntrace ${row.trace_id ?? ""}` },
    name: {
      text: name,
      tags: tagText(row.tags),
      title: [name, tagText(row.tags), row.session ? `session ${row.session}` : "", row.error_message ?? ""]
        .filter(Boolean)
        .join("\n"),
    },
    request: { text: preview(row.request), title: preview(row.request) },
    response: { text: preview(row.response), title: preview(row.response) },
    session: { text: preview(row.session), title: "" },
    model: { text: Array.isArray(row.models) ? row.models.map(String).join(", ") : "", title: "" },
    duration: { text: row.duration_ms == null ? "running" : fmt.duration(row.duration_ms) },
    spans: { text: fmt.integer(row.span_count) },
    llm: { text: fmt.integer(row.llm_calls) },
    tokens: {
      text: tokens ? fmt.tokens(tokens) : "",
      title: tokens ? `${fmt.integer(row.input_tokens)} in / ${fmt.integer(row.output_tokens)} out` : "",
    },
    cost: { text: fmt.cost(row.cost_usd) },
    status: {
      text: String(row.status ?? ""),
      title: row.error_count
        ? `${row.error_count} error${row.error_count === 1 ? "" : "s"} (an exception counts once)`
        : "",
    },
  };
}

/** An empty row element with one cell per column; `fillRow` writes into it. */
export function makeRow() {
  const cells = {};
  const children = COLUMNS.map((c) => {
    const cell = h("div", {
      class: `lnb-tl-cell lnb-tl-c-${c.key}${c.num ? " lnb-tl-num" : ""}`,
      attrs: { role: "gridcell" },
    });
    cells[c.key] = cell;
    return cell;
  });
  const nameText = h("span", { class: "lnb-tl-name-text" });
  const run = chip("run");
  const tags = h("span", { class: "lnb-tl-tags" });
  cells.name.append(nameText, run, tags);
  const session = chip("session");
  cells.session.append(session);
  const el = h("div", { class: "lnb-tl-row", attrs: { role: "row" } }, children);
  return { el, cells, nameText, tags, run, session, key: null, index: -1 };
}

/** A chip button (hidden until filled); `kind` is our constant, read back by the view on a click. */
export function chip(kind) {
  const el = h("button", { class: `lnb-tl-chip lnb-tl-chip-${kind}`, attrs: { type: "button", "data-chip": kind } });
  el.hidden = true;
  return el;
}

/** Show `texts` ({text, title} or null: hidden) on a chip. */
export function fillChip(el, texts) {
  el.hidden = !texts;
  el.textContent = texts?.text ?? "";
  el.title = texts?.title ?? "";
}

/**
 * Fill a pooled row: `row` is a kernel row, `undefined` (its page is loading) or an Error (its
 * page failed). `index` is the row's place in the list; `top` where it is drawn.
 */
export function fillRow(slot, row, index, top, { active = false } = {}) {
  const el = slot.el;
  placeRow(el, index, top, ROW_HEIGHT, "lnb-tl-active", active);
  const key =
    row instanceof Error
      ? `error:${row.message}`
      : row
        ? `${row.trace_id}|${row.status}|${row.span_count}|${row.duration_ms}`
        : "loading";
  if (slot.key === key && slot.index === index) return;
  slot.key = key;
  slot.index = index;
  el.classList.toggle("lnb-tl-placeholder", !row || row instanceof Error);
  if (!row || row instanceof Error) {
    for (const c of COLUMNS) {
      slot.cells[c.key].title = "";
      if (c.key !== "name" && c.key !== "session") slot.cells[c.key].textContent = "";
    }
    slot.nameText.textContent = row ? `could not load these rows: ${row.message}` : "loading…";
    slot.tags.textContent = "";
    fillChip(slot.run, null);
    fillChip(slot.session, null);
    el.className = el.className.replace(/\blnb-tl-s-\w+/g, "").trim();
    delete el.dataset.traceId;
    return;
  }
  const texts = cellTexts(row);
  for (const c of COLUMNS) {
    if (c.key === "name" || c.key === "session") continue;
    slot.cells[c.key].textContent = texts[c.key].text;
    slot.cells[c.key].title = texts[c.key].title ?? "";
  }
  fillChip(slot.run, runChip(row));
  fillChip(slot.session, sessionChip(row));
  slot.nameText.textContent = texts.name.text;
  slot.tags.textContent = texts.name.tags;
  slot.cells.name.title = texts.name.title;
  el.className = el.className.replace(/\blnb-tl-s-\w+/g, "").trim();
  el.classList.add(`lnb-tl-s-${statusClass(row.status)}`);
  el.dataset.traceId = String(row.trace_id ?? "");
}

/** The header: one button per sortable column, the current sort marked; a label for the others. */
export function makeHeader(onSort) {
  const buttons = {};
  const cells = COLUMNS.map((c) => {
    if (!c.sort) {
      return h("div", { class: `lnb-tl-cell lnb-tl-c-${c.key}`, attrs: { role: "columnheader" } }, [
        h("span", { class: "lnb-tl-label", text: c.label, title: c.title ?? "" }),
      ]);
    }
    const button = h("button", {
      class: "lnb-tl-sort",
      text: c.label,
      title: c.title ? `${c.title}; click to sort` : "click to sort",
    });
    button.addEventListener("click", () => onSort(c));
    buttons[c.sort] = button;
    return h(
      "div",
      { class: `lnb-tl-cell lnb-tl-c-${c.key}${c.num ? " lnb-tl-num" : ""}`, attrs: { role: "columnheader" } },
      [button],
    );
  });
  const el = h("div", { class: "lnb-tl-head", attrs: { role: "row" } }, cells);
  const mark = (sortBy, desc) => {
    for (const c of COLUMNS) {
      if (!c.sort) continue;
      const on = c.sort === sortBy;
      buttons[c.sort].textContent = on ? `${c.label} ${desc ? "▾" : "▴"}` : c.label;
      buttons[c.sort].parentElement.setAttribute("aria-sort", on ? (desc ? "descending" : "ascending") : "none");
    }
  };
  return { el, mark };
}

/** The sort after a click on `column`: the same column flips, another starts in its own direction. */
export function nextSort(column, sortBy, desc) {
  return column.sort === sortBy ? { sortBy, desc: !desc } : { sortBy: column.sort, desc: column.desc };
}
