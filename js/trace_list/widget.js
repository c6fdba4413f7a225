// TraceList's view (anywidget ESM): filter inputs, sortable column headers, and the store's traces
// as virtualized rows paged from the kernel (`page` requests, the next page prefetched; the paged
// grid is lib/grid.js). A click opens the trace in the explorer (../explorer/widget.js) inside the
// same widget; "back" returns to the list where it was. Traitlets hold filters, sort and the open
// trace; rows never. Evaluation traces are hidden unless the toolbar's toggle (the `evals` filter)
// or a run filter asks for them; a row's run chip and session chip filter the list to that run or
// session (replacing the other filters, so the whole run or session shows), from the list and from
// an open trace's bar.

import { ExplorerView } from "../explorer/widget.js";
import { h } from "../lib/dom.js";
import * as fmt from "../lib/format.js";
import { PagedGrid } from "../lib/grid.js";
import { listen, mountView, viewRoot } from "../lib/mount.js";
import { BAR_PX, OpenTracePanel, openTrace, explorerModel as relay } from "../lib/open_trace.js";
import { PAGE_SIZE } from "../lib/pages.js";
import { createRpc } from "../lib/rpc.js";
import { ROW_HEIGHT } from "../lib/virtual.js";
import { FilterBar, queryKey } from "./filters.js";
import { chip, fillChip, fillRow, makeHeader, makeRow, nextSort, runChip, sessionChip } from "./rows.js";

/**
 * The model as the explorer sees it: the same state, minus the bar's height.
 * @param {import("../lib/mount.js").Model} model
 */
export function explorerModel(model, barPx = BAR_PX) {
  return relay(model, 520, barPx);
}

export class TraceListView {
  /**
   * @param {import("../lib/mount.js").Model} model
   * @param {HTMLElement} el
   * @param {{ rpc?: any, pageSize?: number, explorer?: any }} [options]
   */
  constructor(model, el, { rpc, pageSize = PAGE_SIZE, explorer = ExplorerView } = {}) {
    this.model = model;
    this.rpc = rpc ?? createRpc(model);
    /** @type {string | null} */
    this.openName = null;
    /** @type {number | null} */
    this.savedTop = null;

    this.filters = new FilterBar({
      // the inputs do not hold the toggle: keep it across their changes
      onChange: (/** @type {object} */ filters) =>
        this.setFilters({ ...filters, ...(this.model.get("filters")?.evals ? { evals: true } : {}) }),
    });
    this.count = h("span", { class: "lnb-tl-count", text: "loading…" });
    this.evalsBox = h("input", { class: "lnb-tl-evals-box", attrs: { type: "checkbox" } });
    this.evalsText = h("span", { text: "show evaluation traces" });
    this.evalsToggle = h("label", { class: "lnb-tl-evals", title: "traces of evaluate() runs, one per row" }, [
      this.evalsBox,
      this.evalsText,
    ]);
    this.evalsBox.addEventListener("change", () => this.showEvals(this.evalsBox.checked));
    /** @type {number} */
    this.generation = 0;
    this.message = h("span", { class: "lnb-tl-message", attrs: { role: "status" } });
    const refresh = h("button", {
      class: "lnb-tl-btn",
      text: "↻ refresh",
      title: "read the store again (new traces, new totals)",
    });
    refresh.addEventListener("click", () => this.reload());
    this.header = makeHeader((/** @type {string} */ column) => this.sortBy(column));
    this.root = viewRoot("lnb-trace-list", []);
    this.grid = new PagedGrid({
      prefix: "lnb-tl",
      label: "traces",
      rowHeight: ROW_HEIGHT,
      pageSize,
      rpc: { request: (/** @type {string} */ method, /** @type {any} */ params) => this.page(method, params) },
      query: () => ({
        filters: this.model.get("filters") ?? {},
        sort: { column: this.model.get("sort_by"), descending: Boolean(this.model.get("sort_desc")) },
      }),
      makeRow,
      fillRow: (slot, row, index, top, active) => fillRow(slot, row, index, top, { active }),
      fallbackHeight: () => (Number(this.model.get("height")) || 520) - 110,
      emptyText: () =>
        Object.keys(this.model.get("filters") ?? {}).length > 0
          ? "No trace matches these filters."
          : "No traces in the store yet: run a %%llm_trace cell.",
      countText: (total) => `${fmt.integer(total)} trace${total === 1 ? "" : "s"}`,
      onPage: () => {},
      onOpen: (index) => this.open(index),
      onClick: (event, row) => this.chipClick(event, row),
      count: this.count,
      message: this.message,
      root: this.root,
    });
    this.viewport = this.grid.viewport;
    this.list = h("div", { class: "lnb-tl-list" }, [
      this.filters.el,
      h("div", { class: "lnb-tl-toolbar" }, [
        this.count,
        this.message,
        h("span", { class: "lnb-grow" }),
        this.evalsToggle,
        refresh,
      ]),
      h("div", { class: "lnb-tl-table" }, [this.header.el, this.viewport, this.grid.empty]),
    ]);
    /** @type {any} */
    this.openRow = null;
    this.openRun = chip("run");
    this.openSession = chip("session");
    for (const [el, kind] of [
      [this.openRun, "run"],
      [this.openSession, "session"],
    ]) {
      el.addEventListener("click", () => {
        const row = this.openRow;
        this.close();
        if (row) this.filterBy(kind, row);
      });
    }
    this.opened = new OpenTracePanel({
      prefix: "lnb-tl",
      model,
      Explorer: explorer,
      fallbackHeight: 520,
      main: this.list,
      back: { text: "← all traces", title: "back to the list (Escape)" },
      chips: [this.openRun, this.openSession],
      onBack: () => this.close(),
      onDestroy: () => {
        this.openName = null;
        this.openRow = null;
      },
    });
    this.detail = this.opened.el;
    this.root.append(this.list, this.detail);
    el.append(this.root);

    const onQuery = () => this.batch || this.apply();
    this.unlisten = listen(model, {
      "change:height": () => this.applyHeight(),
      "change:filters": onQuery,
      "change:sort_by": onQuery,
      "change:sort_desc": onQuery,
      "change:trace_id": () => this.showTrace(),
    });

    this.applyHeight();
    this.apply();
    this.showTrace();
  }

  get cache() {
    return this.grid.cache;
  }

  applyHeight() {
    this.root.style.height = `${Number(this.model.get("height")) || 520}px`;
    this.grid.schedule();
  }

  /** Start over when the filters or the sort differ from what the rows show. */
  apply({ force = false } = {}) {
    const filters = this.model.get("filters") ?? {};
    const key = queryKey(filters, this.model.get("sort_by"), this.model.get("sort_desc"));
    this.filters.set(filters);
    this.header.mark(this.model.get("sort_by"), Boolean(this.model.get("sort_desc")));
    const byRun = Boolean(filters.eval_run);
    this.evalsBox.checked = byRun || Boolean(filters.evals);
    this.evalsBox.disabled = byRun;
    this.evalsToggle.title = byRun
      ? "a run filter lists that run's evaluation traces"
      : "traces of evaluate() runs, one per row";
    if (key === this.key && !force) return;
    this.key = key;
    this.generation += 1;
    this.grid.say("");
    this.grid.reset();
  }

  /**
   * The grid's page requests, through to the kernel; an answer for the current query also updates
   * the toggle's count of evaluation traces.
   * @param {string} method
   * @param {any} params
   */
  page(method, params) {
    const generation = this.generation;
    return this.rpc.request(method, params).then((/** @type {any} */ data) => {
      if (generation === this.generation && Number.isFinite(data?.eval_total)) {
        this.evalsText.textContent = `show evaluation traces (${fmt.integer(data.eval_total)})`;
      }
      return data;
    });
  }

  /** @param {boolean} on */
  showEvals(on) {
    const { evals: _, ...rest } = this.model.get("filters") ?? {};
    this.setFilters(on ? { ...rest, evals: true } : rest);
  }

  /**
   * A click on a row's chip filters the list to its run or session; other clicks open the row.
   * @param {MouseEvent} event
   * @param {any} row
   */
  chipClick(event, row) {
    const target = /** @type {HTMLElement | null} */ (event.target);
    const kind = target?.closest?.("[data-chip]")?.getAttribute("data-chip");
    if (kind !== "run" && kind !== "session") return false;
    this.filterBy(kind, row);
    return true;
  }

  /**
   * List only `row`'s run or session; the other filters go, so the whole run or session shows.
   * @param {string} kind
   * @param {any} row
   */
  filterBy(kind, row) {
    if (kind === "run" && row.eval?.run_id) this.setFilters({ eval_run: String(row.eval.run_id) });
    if (kind === "session" && row.session != null) {
      const evals = this.model.get("filters")?.evals;
      this.setFilters({ session: String(row.session), ...(evals ? { evals: true } : {}) });
    }
  }

  reload() {
    this.apply({ force: true });
  }

  /** @param {object} filters */
  setFilters(filters) {
    this.model.set("filters", filters);
    this.model.save_changes();
    this.apply(); // the model may not echo an unchanged value
  }

  /** @param {string} column */
  sortBy(column) {
    const next = nextSort(column, this.model.get("sort_by"), Boolean(this.model.get("sort_desc")));
    this.batch = true; // one query for the two changes, not one per change
    try {
      this.model.set("sort_by", next.sortBy);
      this.model.set("sort_desc", next.desc);
    } finally {
      this.batch = false;
    }
    this.model.save_changes();
    this.apply();
  }

  /** @param {number} index */
  open(index) {
    const row = this.grid.loaded(index);
    if (!row?.trace_id) return; // a row still loading
    this.openName = row.eval?.label ?? row.name;
    this.openRow = row;
    this.savedTop = this.viewport.scrollTop; // a hidden element may lose its scroll position
    openTrace(this.model, row.trace_id);
    this.showTrace();
  }

  close() {
    this.opened.close();
    this.showTrace();
    this.viewport.focus?.({ preventScroll: true });
  }

  /** Show the list, or the explorer when the model has a trace open (also after a re-render). */
  showTrace() {
    const traceId = this.model.get("trace_id");
    if (!traceId) {
      this.opened.hide();
      if (this.savedTop != null) {
        this.viewport.scrollTop = this.savedTop;
        this.savedTop = null;
      }
      this.grid.schedule();
      return;
    }
    // the way back to the trace's run and session (known when it was opened from a row)
    const row = this.openRow?.trace_id === traceId ? this.openRow : null;
    fillChip(this.openRun, row && runChip(row));
    if (row?.eval) this.openRun.textContent = `eval run ${row.eval.run}`;
    fillChip(this.openSession, row && sessionChip(row));
    if (row?.session != null) this.openSession.textContent = `session ${row.session}`;
    this.opened.show(this.openName != null ? `${this.openName}` : "", traceId);
  }

  destroy() {
    this.opened.destroyExplorer();
    this.filters.destroy();
    this.grid.destroy();
    this.rpc.close();
    this.unlisten();
    this.root.remove();
  }
}

export default mountView(TraceListView, "trace list");
