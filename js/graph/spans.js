// The spans behind a selected node or edge, paged from the kernel 50 at a time as the list scrolls
// (`spans {selector, offset, limit}`): the paged grid of lib/grid.js, as the trace list uses it, with
// its keyboard and its "could not load" rows. A row shows the trace (short id), the span's name, its
// start, duration and status; a click or Enter opens that span in its trace.

import { h } from "../lib/dom.js";
import * as fmt from "../lib/format.js";
import { PagedGrid, placeRow } from "../lib/grid.js";
import { ROW_HEIGHT } from "../lib/virtual.js";
import { localTime, statusClass } from "../trace_list/rows.js";

export const SPAN_PAGE = 50;

/**
 * @typedef {{ trace_id: string, span_id: string, name: string, kind: string, start_time: string | null,
 *   duration_ms: number | null, status: string | null }} SpanRow a row of the kernel's `spans` answer
 */

export const COLUMNS = [
  { key: "trace", label: "Trace", title: "the trace's id (its first 8 characters)" },
  { key: "name", label: "Span", title: "the span's name" },
  { key: "start", label: "Start", title: "start time (your local time)" },
  { key: "duration", label: "Duration", num: true },
  { key: "status", label: "Status" },
];

/**
 * Text and tooltip of each cell of a row.
 * @param {SpanRow} row
 */
export function spanCells(row) {
  const trace = String(row.trace_id ?? "");
  return {
    trace: { text: trace.slice(0, 8), title: `trace ${trace}` },
    name: { text: String(row.name ?? ""), title: `${row.name ?? ""}\n${row.kind ?? ""} · span ${row.span_id ?? ""}` },
    // month-day and time: the year is rarely news in a list of one graph's spans (the tooltip has it)
    start: {
      text: localTime(row.start_time).slice(5),
      title: `${localTime(row.start_time)} local\n${row.start_time ?? ""} (UTC)`,
    },
    duration: { text: row.duration_ms == null ? "running" : fmt.duration(row.duration_ms), title: "" },
    status: { text: String(row.status ?? ""), title: "" },
  };
}

function makeRow() {
  const cells = {};
  const children = COLUMNS.map((c) => {
    const cell = h("div", { class: `lnb-gr-sp-cell lnb-gr-sp-c-${c.key}${c.num ? " lnb-gr-sp-num" : ""}` });
    cell.setAttribute("role", "gridcell");
    cells[c.key] = cell;
    return cell;
  });
  const el = h("div", { class: "lnb-gr-sp-row", attrs: { role: "row" } }, children);
  return { el, cells, key: null, index: -1 };
}

/**
 * @param {any} slot
 * @param {SpanRow | Error | undefined} row
 * @param {number} index
 * @param {number} top
 * @param {boolean} active
 */
function fillRow(slot, row, index, top, active) {
  const key = row instanceof Error ? `error:${row.message}` : row ? `${row.trace_id}/${row.span_id}` : "loading";
  const same = slot.key === key && slot.index === index;
  if (!same) slot.el.className = "lnb-gr-sp-row";
  placeRow(slot.el, index, top, ROW_HEIGHT, "lnb-gr-sp-active", active);
  if (same) return;
  slot.key = key;
  slot.index = index;
  if (!row || row instanceof Error) {
    slot.el.classList.add("lnb-gr-sp-placeholder");
    for (const c of COLUMNS) {
      slot.cells[c.key].textContent = "";
      slot.cells[c.key].title = "";
    }
    slot.cells.name.textContent = row instanceof Error ? `could not load these spans: ${row.message}` : "loading…";
    return;
  }
  const texts = spanCells(row);
  for (const c of COLUMNS) {
    slot.cells[c.key].textContent = texts[c.key].text;
    slot.cells[c.key].title = texts[c.key].title;
  }
  slot.el.classList.add(`lnb-gr-sp-s-${statusClass(row.status)}`);
}

export class SpanList {
  /**
   * @param {{ rpc: { request: (method: string, params?: object) => Promise<any> },
   *   onOpen: (row: SpanRow) => void, pageSize?: number }} options
   */
  constructor({ rpc, onOpen, pageSize = SPAN_PAGE }) {
    /** @type {string | null} */
    this.selector = null;
    this.count = h("span", { class: "lnb-gr-sp-count" });
    this.message = h("span", { class: "lnb-gr-sp-message", attrs: { role: "status" } });
    this.el = h("div", { class: "lnb-gr-spans" });
    this.grid = new PagedGrid({
      prefix: "lnb-gr-sp",
      label: "spans",
      rowHeight: ROW_HEIGHT,
      pageSize,
      // the grid asks for a `page`: here, the spans of the selection
      rpc: { request: (_method, params) => rpc.request("spans", params) },
      query: () => ({ selector: this.selector }),
      makeRow,
      fillRow,
      fallbackHeight: () => 240,
      emptyText: () => "No spans.",
      countText: (total) => `${fmt.integer(total)} span${total === 1 ? "" : "s"}`,
      onPage: () => {},
      onOpen: (index) => {
        const row = this.grid.loaded(index);
        if (row) onOpen(row);
      },
      count: this.count,
      message: this.message,
      root: this.el,
    });
    this.grid.ready = false; // no request before a selection
    const head = h(
      "div",
      { class: "lnb-gr-sp-head", attrs: { role: "row" } },
      COLUMNS.map((c) =>
        h("div", { class: `lnb-gr-sp-cell${c.num ? " lnb-gr-sp-num" : ""}`, text: c.label, title: c.title ?? "" }),
      ),
    );
    this.el.append(
      h("div", { class: "lnb-gr-sp-bar" }, [this.count, this.message]),
      h("div", { class: "lnb-gr-sp-table" }, [head, this.grid.viewport, this.grid.empty]),
    );
  }

  /**
   * List the spans of `selector` (a node or edge id), from the first.
   * @param {string} selector
   */
  show(selector) {
    if (selector === this.selector && this.grid.ready) return;
    this.selector = selector;
    this.grid.ready = true;
    this.grid.say("");
    this.grid.reset();
  }

  /** The viewport changed size (shown again): draw the rows it now has room for. */
  schedule() {
    this.grid.schedule();
  }

  destroy() {
    this.grid.destroy();
  }
}
