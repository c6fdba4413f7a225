// TraceList's view (anywidget ESM): filter inputs, sortable column headers, and the store's traces
// as virtualized rows paged from the kernel (`page` requests, the next page prefetched; the paged
// grid is lib/grid.js). A click opens the trace in the explorer (../explorer/widget.js) inside the
// same widget; "back" returns to the list where it was. Traitlets hold filters, sort and the open
// trace; rows never.

import { ExplorerView } from "../explorer/widget.js";
import { h } from "../lib/dom.js";
import * as fmt from "../lib/format.js";
import { PagedGrid } from "../lib/grid.js";
import { closeOnEscape, listen, mountExplorer, mountView, relayModel, viewRoot } from "../lib/mount.js";
import { PAGE_SIZE } from "../lib/pages.js";
import { createRpc } from "../lib/rpc.js";
import { ROW_HEIGHT } from "../lib/virtual.js";
import { FilterBar, queryKey } from "./filters.js";
import { fillRow, makeHeader, makeRow, nextSort } from "./rows.js";

const BAR_PX = 30; // the "back to the list" bar above an open trace

/**
 * The model as the explorer sees it: the same state, minus the bar's height.
 * @param {import("../lib/mount.js").Model} model
 */
export function explorerModel(model, barPx = BAR_PX) {
  return relayModel(model, () => (Number(model.get("height")) || 520) - barPx, 120);
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
    this.Explorer = explorer;
    /** @type {any} */
    this.explorer = null;
    /** @type {string | null} */
    this.openName = null;
    /** @type {number | null} */
    this.savedTop = null;

    this.filters = new FilterBar({ onChange: (/** @type {object} */ filters) => this.setFilters(filters) });
    this.count = h("span", { class: "lnb-tl-count", text: "loading…" });
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
      rpc: this.rpc,
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
      count: this.count,
      message: this.message,
      root: this.root,
    });
    this.viewport = this.grid.viewport;
    this.list = h("div", { class: "lnb-tl-list" }, [
      this.filters.el,
      h("div", { class: "lnb-tl-toolbar" }, [this.count, this.message, h("span", { class: "lnb-grow" }), refresh]),
      h("div", { class: "lnb-tl-table" }, [this.header.el, this.viewport, this.grid.empty]),
    ]);
    const back = h("button", {
      class: "lnb-tl-btn lnb-tl-back",
      text: "← all traces",
      title: "back to the list (Escape)",
    });
    back.addEventListener("click", () => this.close());
    this.openTitle = h("span", { class: "lnb-tl-open-title" });
    this.explorerHost = h("div", { class: "lnb-tl-explorer-host" });
    this.detail = h("div", { class: "lnb-tl-detail" }, [
      h("div", { class: "lnb-tl-bar", attrs: { style: `height:${BAR_PX}px` } }, [back, this.openTitle]),
      this.explorerHost,
    ]);
    this.detail.hidden = true;
    closeOnEscape(this.detail, "input", () => this.close());
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
    if (key === this.key && !force) return;
    this.key = key;
    this.grid.say("");
    this.grid.reset();
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
    this.openName = row.name;
    this.savedTop = this.viewport.scrollTop; // a hidden element may lose its scroll position
    this.model.set("selected_span_id", null);
    this.model.set("collapsed_span_ids", []);
    this.model.set("search_text", "");
    this.model.set("trace_id", row.trace_id);
    this.model.save_changes();
    this.showTrace();
  }

  close() {
    this.destroyExplorer();
    this.model.set("trace_id", null);
    this.model.save_changes();
    this.showTrace();
    this.viewport.focus?.({ preventScroll: true });
  }

  /** Show the list, or the explorer when the model has a trace open (also after a re-render). */
  showTrace() {
    const traceId = this.model.get("trace_id");
    if (!traceId) {
      this.destroyExplorer();
      this.detail.hidden = true;
      this.list.hidden = false;
      if (this.savedTop != null) {
        this.viewport.scrollTop = this.savedTop;
        this.savedTop = null;
      }
      this.grid.schedule();
      return;
    }
    this.openTitle.textContent = this.openName != null ? `${this.openName}` : "";
    this.openTitle.title = `trace ${traceId}`;
    this.list.hidden = true;
    this.detail.hidden = false;
    if (!this.explorer) this.explorer = mountExplorer(this.Explorer, explorerModel(this.model), this.explorerHost);
    // an explorer already open follows trace_id itself (its own change:trace_id listener)
  }

  destroyExplorer() {
    if (!this.explorer) return;
    const explorer = this.explorer;
    this.explorer = null;
    this.openName = null;
    explorer.destroy();
    this.explorerHost.replaceChildren();
  }

  destroy() {
    this.destroyExplorer();
    this.filters.destroy();
    this.grid.destroy();
    this.rpc.close();
    this.unlisten();
    this.root.remove();
  }
}

export default mountView(TraceListView, "trace list");
