// TraceList's view (anywidget ESM): filter inputs, sortable column headers, and the store's traces
// as virtualized rows paged from the kernel (`page` requests, the next page prefetched). A click
// opens the trace in the explorer (explorer.js's ExplorerView) inside the same widget; "back"
// returns to the list where it was. Traitlets hold filters, sort and the open trace; rows never.

import { ExplorerView } from "./explorer.js";
import { h } from "./lib/dom.js";
import { keyTarget, mountExplorer, relayModel } from "./lib/embed.js";
import * as fmt from "./lib/format.js";
import { createRpc } from "./lib/rpc.js";
import { FilterBar, queryKey } from "./lib/trace_list_filters.js";
import { PAGE_SIZE, PageCache, listWindow, pagesToLoad, scrollTopFor } from "./lib/trace_list_pages.js";
import { fillRow, makeHeader, makeRow, nextSort } from "./lib/trace_list_rows.js";
import { ROW_HEIGHT } from "./lib/virtual.js";

const BAR_PX = 30; // the "back to the list" bar above an open trace

/** The model as the explorer sees it: the same state, minus the bar's height. */
export function explorerModel(model, barPx = BAR_PX) {
  return relayModel(model, () => (Number(model.get("height")) || 520) - barPx, 120);
}

export class TraceListView {
  constructor(model, el, { rpc, pageSize = PAGE_SIZE, explorer = ExplorerView } = {}) {
    this.model = model;
    this.rpc = rpc ?? createRpc(model);
    this.Explorer = explorer;
    this.pool = [];
    this.active = -1;
    this.frame = 0;
    this.direction = 1;
    this.lastTop = 0;
    this.started = performance.now();
    this.cache = new PageCache({
      pageSize,
      load: (offset, limit, asOf) => this.rpc.request("page", {
        filters: this.model.get("filters") ?? {},
        sort: { column: this.model.get("sort_by"), descending: Boolean(this.model.get("sort_desc")) },
        offset,
        limit,
        ...(asOf ? { as_of: asOf } : {}),
      }),
      onUpdate: (event) => this.updated(event),
    });

    this.filters = new FilterBar({ onChange: (filters) => this.setFilters(filters) });
    this.count = h("span", { class: "lnb-tl-count", text: "loading…" });
    this.message = h("span", { class: "lnb-tl-message", attrs: { role: "status" } });
    const refresh = h("button", { class: "lnb-tl-btn", text: "↻ refresh", title: "read the store again (new traces, new totals)" });
    refresh.addEventListener("click", () => this.reload());
    this.header = makeHeader((column) => this.sortBy(column));
    this.spacer = h("div", { class: "lnb-tl-spacer" });
    this.viewport = h("div", { class: "lnb-tl-viewport", attrs: { tabindex: "0", role: "grid", "aria-label": "traces" } }, [this.spacer]);
    this.empty = h("div", { class: "lnb-tl-empty" });
    this.empty.hidden = true;
    this.list = h("div", { class: "lnb-tl-list" }, [
      this.filters.el,
      h("div", { class: "lnb-tl-toolbar" }, [this.count, this.message, h("span", { class: "lnb-grow" }), refresh]),
      h("div", { class: "lnb-tl-table" }, [this.header.el, this.viewport, this.empty]),
    ]);
    const back = h("button", { class: "lnb-tl-btn lnb-tl-back", text: "← all traces", title: "back to the list (Escape)" });
    back.addEventListener("click", () => this.close());
    this.openTitle = h("span", { class: "lnb-tl-open-title" });
    this.explorerHost = h("div", { class: "lnb-tl-explorer-host" });
    this.detail = h("div", { class: "lnb-tl-detail" }, [
      h("div", { class: "lnb-tl-bar", attrs: { style: `height:${BAR_PX}px` } }, [back, this.openTitle]),
      this.explorerHost,
    ]);
    this.detail.hidden = true;
    this.detail.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && !event.target.closest?.("input")) {
        event.stopPropagation();
        this.close();
      }
    });
    this.root = h("div", { class: "lnb-trace-list", attrs: { "data-lm-suppress-shortcuts": "true" } }, [this.list, this.detail]);
    el.append(this.root);

    this.viewport.addEventListener("scroll", () => this.schedule());
    this.viewport.addEventListener("click", (event) => this.click(event));
    this.viewport.addEventListener("keydown", (event) => this.onKey(event));
    this.onHeight = () => this.applyHeight();
    this.onQuery = () => this.batch || this.apply();
    this.onTrace = () => this.showTrace();
    model.on("change:height", this.onHeight);
    model.on("change:filters", this.onQuery);
    model.on("change:sort_by", this.onQuery);
    model.on("change:sort_desc", this.onQuery);
    model.on("change:trace_id", this.onTrace);
    globalThis.ResizeObserver && (this.resize = new ResizeObserver(() => this.schedule())).observe(this.viewport);

    this.applyHeight();
    this.apply();
    this.showTrace();
  }

  applyHeight() {
    this.root.style.height = `${Number(this.model.get("height")) || 520}px`;
    this.schedule();
  }

  /** Start over when the filters or the sort differ from what the rows show. */
  apply({ force = false } = {}) {
    const filters = this.model.get("filters") ?? {};
    const key = queryKey(filters, this.model.get("sort_by"), this.model.get("sort_desc"));
    this.filters.set(filters);
    this.header.mark(this.model.get("sort_by"), Boolean(this.model.get("sort_desc")));
    if (key === this.key && !force) return;
    this.key = key;
    this.cache.reset();
    this.active = -1;
    this.viewport.scrollTop = 0;
    this.lastTop = 0;
    this.count.textContent = "loading…";
    this.say("");
    this.draw();
  }

  reload() {
    this.apply({ force: true });
  }

  setFilters(filters) {
    this.model.set("filters", filters);
    this.model.save_changes();
    this.apply(); // the model may not echo an unchanged value
  }

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

  updated({ error }) {
    const total = this.cache.total;
    if (error && total == null) {
      // the first page failed: most often a filter the kernel could not read
      this.count.textContent = "";
      this.say(error.message ?? String(error));
    } else if (error) {
      this.say(`some rows could not be loaded: ${error.message ?? error}`, () => {
        this.say("");
        this.cache.retry(this.wanted());
        this.draw();
      });
    } else {
      this.count.textContent = `${fmt.integer(total)} trace${total === 1 ? "" : "s"}`;
      this.count.title = this.cache.elapsedMs != null ? `last page read in ${this.cache.elapsedMs} ms` : "";
      if (!this.cache.errors.size) this.say("");
      if (this.root.dataset.openMs == null) {
        // time from render to the first rows on screen, read by the browser benchmarks
        this.root.dataset.openMs = (performance.now() - this.started).toFixed(1);
      }
      this.root.dataset.total = String(total);
    }
    this.draw();
  }

  /** An error (or nothing) beside the count, with a retry button when `retry` is given. */
  say(text, retry) {
    this.message.className = text ? "lnb-tl-message lnb-tl-error" : "lnb-tl-message";
    this.message.textContent = text;
    if (retry) {
      const button = h("button", { class: "lnb-tl-btn", text: "retry" });
      button.addEventListener("click", retry);
      this.message.append(" ", button);
    }
  }

  schedule() {
    if (this.frame) return;
    const raf = globalThis.requestAnimationFrame ?? ((fn) => setTimeout(fn, 16));
    this.frame = raf(() => {
      this.frame = 0;
      this.draw();
    });
  }

  viewportHeight() {
    return this.viewport.clientHeight || Math.max(ROW_HEIGHT * 4, (Number(this.model.get("height")) || 520) - 110);
  }

  window() {
    return listWindow(this.viewport.scrollTop, this.viewportHeight(), this.cache.total ?? 0);
  }

  /** The pages the viewport shows and the one to prefetch, in the order to load them. */
  wanted() {
    const win = this.window();
    const { need, prefetch } = pagesToLoad(win.start, win.end, this.cache.total, this.cache.pageSize, this.direction);
    return prefetch == null ? need : [...need, prefetch];
  }

  draw() {
    const top = this.viewport.scrollTop;
    if (top !== this.lastTop) this.direction = top > this.lastTop ? 1 : -1;
    this.lastTop = top;
    const total = this.cache.total ?? 0;
    const win = this.window();
    this.spacer.style.height = `${win.height}px`;
    this.cache.request(this.wanted());
    const needed = win.end - win.start;
    while (this.pool.length < needed) {
      const slot = makeRow();
      this.pool.push(slot);
      this.spacer.append(slot.el);
    }
    for (let k = 0; k < this.pool.length; k++) {
      const slot = this.pool[k];
      if (k >= needed) {
        slot.el.hidden = true;
        slot.index = -1;
        continue;
      }
      const index = win.start + k;
      const row = this.cache.row(index) ?? this.cache.error(index) ?? undefined;
      fillRow(slot, row, index, win.offset + k * ROW_HEIGHT, { active: index === this.active });
    }
    const known = this.cache.total != null;
    this.empty.hidden = !(known && total === 0);
    if (known && total === 0) {
      const filtered = Object.keys(this.model.get("filters") ?? {}).length > 0;
      this.empty.textContent = filtered ? "No trace matches these filters." : "No traces in the store yet: run a %%llm_trace cell.";
    }
    this.viewport.setAttribute("aria-rowcount", String(total + 1));
  }

  rowAt(event) {
    const el = event.target.closest?.(".lnb-tl-row");
    return el ? Number(el.dataset.index) : -1;
  }

  click(event) {
    const index = this.rowAt(event);
    if (index < 0) return;
    this.active = index;
    this.open(index);
  }

  open(index) {
    const row = this.cache.row(index);
    if (!row || !row.trace_id) return; // a row still loading
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
      this.schedule();
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

  onKey(event) {
    const total = this.cache.total ?? 0;
    if (!total) return;
    const pageRows = Math.max(1, Math.floor(this.viewportHeight() / ROW_HEIGHT) - 1);
    const from = this.active < 0 ? -1 : this.active;
    const target = keyTarget(event.key, from, total, pageRows);
    switch (target === undefined ? event.key : "move") {
      case "move": break;
      case "Enter":
        if (this.active >= 0) this.open(this.active);
        break;
      default:
        return; // other keys go on to the notebook
    }
    event.preventDefault();
    event.stopPropagation(); // arrows and Enter move in the list, not between cells
    if (target == null) return;
    this.active = Math.max(0, Math.min(total - 1, target));
    const win = this.window();
    const visibleTop = this.viewport.scrollTop;
    const next = scrollTopFor(this.active, visibleTop, this.viewportHeight(), total);
    if (Math.abs(next - visibleTop) > 0.5 || win.scale !== 1) this.viewport.scrollTop = next;
    this.draw();
  }

  destroy() {
    this.destroyExplorer();
    this.filters.destroy();
    this.resize?.disconnect();
    this.cache.reset(); // answers still on their way are dropped
    this.rpc.close();
    this.model.off("change:height", this.onHeight);
    this.model.off("change:filters", this.onQuery);
    this.model.off("change:sort_by", this.onQuery);
    this.model.off("change:sort_desc", this.onQuery);
    this.model.off("change:trace_id", this.onTrace);
    this.root.remove();
  }
}

export default {
  render({ model, el }) {
    let view;
    try {
      view = new TraceListView(model, el);
    } catch (err) {
      // shown in the notebook, not only in the browser console
      el.append(h("pre", { class: "lnb-crash", text: `llmops_nb trace list failed to start: ${err?.stack ?? err}` }));
      return undefined;
    }
    return () => view.destroy();
  },
};
