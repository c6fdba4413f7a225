// EvalTable's view (anywidget ESM): an evaluation run's rows paged from the kernel (`page`, the next
// page prefetched, virtualized rows), a card per scorer (mean, pass rate, histogram), filters, sort
// by any score, checkboxes that turn rows into a dataset version, thumbs up/down in each row. A row
// opens its detail — outputs, every score with the judge's rationale, the feedback form — above its
// trace in the explorer (explorer.js's ExplorerView). "compare with" puts another run beside this
// one: per-row deltas, win/loss/tie, outputs diffed word by word. Traitlets hold the view state.

import { ExplorerView } from "./explorer.js";
import { h } from "./lib/dom.js";
import { keyTarget, mountExplorer, relayModel } from "./lib/embed.js";
import { SelectionBar } from "./lib/eval_dataset.js";
import { renderRowDetail } from "./lib/eval_detail.js";
import { FeedbackForm } from "./lib/eval_feedback.js";
import { EvalFilterBar, cleanFilters } from "./lib/eval_filters.js";
import { fmtTime } from "./lib/eval_cells.js";
import { ROW_HEIGHT, columnsFor, fillRow, gridTemplate, makeHeader, makeRow, nextSort } from "./lib/eval_rows.js";
import { summaryCards, summaryLine } from "./lib/eval_summary.js";
import { createRpc } from "./lib/rpc.js";
import { PAGE_SIZE, PageCache, listWindow, pagesToLoad, scrollTopFor } from "./lib/trace_list_pages.js";
import { OVERSCAN } from "./lib/virtual.js";

const BAR_PX = 32; // the bar above an open row
const CARD_SHARE = 0.45; // of the open row's height, for its detail card; the trace gets the rest

/** The model as the explorer sees it: the same state, with the height left for the trace. */
export function explorerModel(model, height) {
  return relayModel(model, height, 160);
}

/** The grid's least width: the fixed tracks and the minimums of the flexible ones, plus gaps. */
export function minWidth(columns, gap = 8, padding = 16) {
  let px = padding + gap * Math.max(0, columns.length - 1);
  for (const c of columns) {
    const m = /(\d+)px/.exec(c.width);
    px += m ? Number(m[1]) : 80;
  }
  return px;
}

export class EvalTableView {
  constructor(model, el, { rpc, pageSize = PAGE_SIZE, explorer = ExplorerView } = {}) {
    this.model = model;
    this.rpc = rpc ?? createRpc(model);
    this.Explorer = explorer;
    this.pool = [];
    this.columns = [];
    this.active = -1;
    this.openIndex = -1;
    this.frame = 0;
    this.direction = 1;
    this.lastTop = 0;
    this.generation = 0;
    this.started = performance.now();
    this.selected = new Set(model.get("selected_rows") ?? []);
    this.cache = new PageCache({
      pageSize,
      load: (offset, limit, asOf) => this.rpc.request("page", {
        compare: this.compareKey(),
        filters: cleanFilters(this.model.get("filters")),
        sort: { column: this.model.get("sort_by") || "row", descending: Boolean(this.model.get("sort_desc")) },
        offset,
        limit,
        ...(asOf ? { as_of: asOf } : {}),
      }),
      onUpdate: (event) => this.updated(event),
    });

    // the list
    this.title = h("span", { class: "lnb-ev-title", text: "loading…" });
    this.compareSelect = h("select", { class: "lnb-ev-input lnb-ev-compare", attrs: { "aria-label": "compare with another run" } });
    this.compareSelect.addEventListener("focus", () => this.loadRuns());
    this.compareSelect.addEventListener("change", () => this.setCompare(this.compareSelect.value || null));
    const refresh = h("button", { class: "lnb-ev-btn", text: "↻", title: "read the store again (new feedback, a run still going)" });
    refresh.addEventListener("click", () => this.start());
    this.summaryLine = h("div", { class: "lnb-ev-summary-line" });
    this.cards = h("div", { class: "lnb-ev-cards" });
    this.filters = new EvalFilterBar({ onChange: (filters) => this.setFilters(filters) });
    this.selbar = new SelectionBar({ onClear: () => this.setSelection(new Set()), onCreate: (options) => this.createDataset(options) });
    this.count = h("span", { class: "lnb-ev-count" });
    this.message = h("span", { class: "lnb-ev-message", attrs: { role: "status" } });
    this.header = null;
    this.headHost = h("div", { class: "lnb-ev-head-host" });
    this.spacer = h("div", { class: "lnb-ev-spacer" });
    this.viewport = h("div", { class: "lnb-ev-viewport", attrs: { tabindex: "0", role: "grid", "aria-label": "evaluation rows" } }, [this.spacer]);
    this.empty = h("div", { class: "lnb-ev-empty" });
    this.empty.hidden = true;
    this.grid = h("div", { class: "lnb-ev-grid" }, [this.headHost, this.viewport, this.empty]);
    this.list = h("div", { class: "lnb-ev-list" }, [
      h("div", { class: "lnb-ev-toolbar" }, [this.title, h("span", { class: "lnb-grow" }), this.compareSelect, refresh]),
      h("div", { class: "lnb-ev-summary" }, [this.summaryLine, this.cards]),
      this.filters.el,
      this.selbar.el,
      h("div", { class: "lnb-ev-status" }, [this.count, this.message]),
      h("div", { class: "lnb-ev-table" }, [this.grid]),
    ]);

    // an open row
    const back = h("button", { class: "lnb-ev-btn lnb-ev-back", text: "← all rows", title: "back to the table (Escape)" });
    back.addEventListener("click", () => this.close());
    this.prev = h("button", { class: "lnb-ev-btn", text: "▲", title: "previous row" });
    this.next = h("button", { class: "lnb-ev-btn", text: "▼", title: "next row" });
    this.prev.addEventListener("click", () => this.step(-1));
    this.next.addEventListener("click", () => this.step(1));
    this.openTitle = h("span", { class: "lnb-ev-open-title" });
    this.traceButtons = h("span", { class: "lnb-ev-trace-pick" });
    this.cardHost = h("div", { class: "lnb-ev-card-host" });
    this.explorerHost = h("div", { class: "lnb-ev-explorer-host" });
    this.detail = h("div", { class: "lnb-ev-detail" }, [
      h("div", { class: "lnb-ev-openbar", attrs: { style: `height:${BAR_PX}px` } }, [back, this.prev, this.next, this.openTitle, h("span", { class: "lnb-grow" }), this.traceButtons]),
      this.cardHost,
      this.explorerHost,
    ]);
    this.detail.hidden = true;
    this.detail.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && !event.target.closest?.("input, textarea, select")) {
        event.stopPropagation();
        this.close();
      }
    });
    this.root = h("div", { class: "lnb-eval", attrs: { "data-lm-suppress-shortcuts": "true" } }, [this.list, this.detail]);
    el.append(this.root);

    this.viewport.addEventListener("scroll", () => this.schedule());
    this.viewport.addEventListener("click", (event) => this.click(event));
    this.viewport.addEventListener("keydown", (event) => this.onKey(event));
    this.listeners = {
      "change:height": () => this.applyHeight(),
      "change:filters": () => this.apply(),
      "change:sort_by": () => this.batch || this.apply(),
      "change:sort_desc": () => this.batch || this.apply(),
      "change:compare_to": () => (this.compareKey() !== this.startedFor ? this.start() : null),
      "change:selected_rows": () => {
        this.selected = new Set(this.model.get("selected_rows") ?? []);
        this.showSelection();
        this.draw();
      },
      "change:open_row": () => this.showRow(),
    };
    for (const [event, fn] of Object.entries(this.listeners)) model.on(event, fn);
    globalThis.ResizeObserver && (this.resize = new ResizeObserver(() => this.schedule())).observe(this.viewport);

    this.applyHeight();
    this.showSelection();
    this.start();
  }

  compareKey() {
    return this.model.get("compare_to") || null;
  }

  height() {
    return Number(this.model.get("height")) || 620;
  }

  cardPx() {
    return Math.round((this.height() - BAR_PX) * CARD_SHARE);
  }

  applyHeight() {
    this.root.style.height = `${this.height()}px`;
    this.cardHost.style.height = `${this.cardPx()}px`;
    this.schedule();
  }

  /** (Re)read the run: its facts and scorers, then the summary and the first page. */
  async start() {
    const generation = ++this.generation;
    const compare = this.compareKey();
    this.startedFor = compare;
    this.say("");
    let info;
    try {
      info = await this.rpc.request("info", { compare });
    } catch (err) {
      if (err?.type === "Closed" || generation !== this.generation) return;
      this.title.textContent = "";
      this.say(err?.message ?? String(err), compare ? () => this.setCompare(null) : () => this.start(), compare ? "stop comparing" : "retry");
      return;
    }
    if (generation !== this.generation) return;
    this.info = info;
    this.compare = Boolean(info.baseline);
    this.showTitle();
    this.fillCompareMenu([], info.frames ?? []);
    this.buildColumns();
    this.fixState();
    this.filters.setScorers(info.scorers, this.compare);
    this.filters.set(this.model.get("filters"));
    this.loadSummary();
    this.apply({ force: true });
    this.showRow({ force: true });
  }

  showTitle() {
    const run = this.info.run;
    const base = this.info.baseline;
    const name = (side) => `${side.name}${side.run_id ? ` (${side.run_id.slice(0, 8)})` : ""}`;
    this.title.textContent = base ? `${name(run)} compared with ${name(base)}` : name(run);
    const bits = [run.status ? String(run.status).toLowerCase() : "", run.started_at ? fmtTime(run.started_at) : "", run.dataset ? `dataset ${run.dataset.name} v${run.dataset.version}` : "", run.stored ? "" : "not in this store: read from the DataFrame"];
    this.title.title = [`run ${run.run_id ?? "(none)"}`, ...bits.filter(Boolean), base ? `baseline ${base.run_id ?? base.name}` : ""].filter(Boolean).join("\n");
  }

  buildColumns() {
    this.columns = columnsFor(this.info);
    this.header = makeHeader(this.columns, { onSort: (c) => this.sortBy(c), onSelectAll: (on) => this.selectAll(on) });
    this.headHost.replaceChildren(this.header.el);
    for (const slot of this.pool) slot.el.remove();
    this.pool = [];
    this.root.style.setProperty("--lnb-ev-cols", gridTemplate(this.columns));
    this.grid.style.minWidth = `${minWidth(this.columns)}px`;
    this.showSelection();
  }

  /** Drop a sort or a filter the current table cannot do (e.g. a delta after leaving a comparison). */
  fixState() {
    const sorts = new Set(this.info.sorts ?? ["row"]);
    const filters = cleanFilters(this.model.get("filters"));
    const names = new Set((this.info.scorers ?? []).map((s) => s.name));
    const outcome = ["win", "loss", "tie"].includes(filters.result);
    let changed = false;
    if (!sorts.has(this.model.get("sort_by") || "row")) {
      this.model.set("sort_by", "row");
      this.model.set("sort_desc", false);
      changed = true;
    }
    if (filters.scorer && (!names.has(filters.scorer) || (outcome && !this.compare))) {
      delete filters.scorer;
      delete filters.result;
      this.model.set("filters", filters);
      changed = true;
    }
    if (changed) this.model.save_changes();
  }

  async loadSummary() {
    const generation = this.generation;
    try {
      const summary = await this.rpc.request("summary", { compare: this.compareKey() });
      if (generation !== this.generation) return;
      this.summary = summary;
      this.summaryLine.textContent = summaryLine(summary, { compare: this.compare });
      this.cards.replaceChildren(...summaryCards(summary, { compare: this.compare, onFilter: (scorer, result) => this.filterBy(scorer, result) }));
    } catch (err) {
      if (err?.type === "Closed" || generation !== this.generation) return;
      this.summaryLine.textContent = `summary not available: ${err?.message ?? err}`;
    }
  }

  async loadRuns() {
    if (this.runsLoaded) return;
    this.runsLoaded = true;
    try {
      const answer = await this.rpc.request("runs", { compare: this.compareKey() });
      this.fillCompareMenu(answer.runs ?? [], answer.frames ?? []);
    } catch (err) {
      this.runsLoaded = false;
      if (err?.type !== "Closed") this.say(`could not list the runs: ${err?.message ?? err}`);
    }
  }

  fillCompareMenu(runs, frames) {
    const current = this.compareKey();
    const options = [h("option", { text: this.compare ? "stop comparing" : "compare with…", attrs: { value: "" } })];
    const seen = new Set();
    for (const f of frames) {
      seen.add(f.key);
      options.push(h("option", { text: `${f.name} (DataFrame)`, attrs: { value: String(f.key) } }));
    }
    for (const r of runs) {
      seen.add(r.run_id);
      const shared = r.shared ? `${r.shared} shared row${r.shared === 1 ? "" : "s"}` : "no shared rows";
      options.push(h("option", { text: `${r.name} · ${fmtTime(r.started_at)} · ${r.rows} rows · ${shared}`, attrs: { value: String(r.run_id) } }));
    }
    if (current && !seen.has(current)) {
      const base = this.info?.baseline;
      options.push(h("option", { text: base ? `${base.name} (${String(current).slice(0, 8)})` : String(current), attrs: { value: String(current) } }));
    }
    this.compareSelect.replaceChildren(...options);
    this.compareSelect.value = current ?? "";
  }

  setCompare(key) {
    this.model.set("compare_to", key || null);
    this.model.save_changes();
    this.runsLoaded = false;
    if (this.compareKey() !== this.startedFor) this.start();
  }

  // -- rows ----------------------------------------------------------------------------
  apply({ force = false } = {}) {
    const filters = cleanFilters(this.model.get("filters"));
    const key = JSON.stringify([this.compareKey(), filters, this.model.get("sort_by"), Boolean(this.model.get("sort_desc"))]);
    this.filters.set(filters);
    this.header?.mark(this.model.get("sort_by") || "row", Boolean(this.model.get("sort_desc")));
    if (!this.info || (key === this.key && !force)) return;
    this.key = key;
    this.cache.reset();
    this.active = -1;
    this.viewport.scrollTop = 0;
    this.lastTop = 0;
    this.count.textContent = "loading…";
    this.draw();
  }

  setFilters(filters) {
    this.model.set("filters", cleanFilters(filters));
    this.model.save_changes();
    this.apply(); // the model may not echo an unchanged value
  }

  filterBy(scorer, result) {
    this.setFilters({ ...cleanFilters(this.model.get("filters")), scorer, result });
  }

  sortBy(column) {
    const next = nextSort(column, this.model.get("sort_by") || "row", Boolean(this.model.get("sort_desc")));
    this.batch = true; // one query for the two changes
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
      this.count.textContent = "";
      this.say(error.message ?? String(error));
    } else if (error) {
      this.say(`some rows could not be loaded: ${error.message ?? error}`, () => {
        this.say("");
        this.cache.retry(this.wanted());
        this.draw();
      });
    } else {
      const filtered = Object.keys(cleanFilters(this.model.get("filters"))).length > 0;
      this.count.textContent = `${total.toLocaleString("en-US")} row${total === 1 ? "" : "s"}${filtered ? " match" : ""}`;
      this.count.title = this.cache.elapsedMs != null ? `last page read in ${this.cache.elapsedMs} ms` : "";
      if (!this.cache.errors.size && !this.sticky) this.say("");
      if (this.root.dataset.openMs == null) this.root.dataset.openMs = (performance.now() - this.started).toFixed(1);
      this.root.dataset.total = String(total);
    }
    if (this.pendingOpen != null && this.cache.row(this.pendingOpen)) {
      const index = this.pendingOpen;
      this.pendingOpen = null;
      this.open(index);
    }
    this.draw();
  }

  /** A message (or nothing) beside the count, with a button when `action` is given. */
  say(text, action, actionLabel = "retry") {
    this.sticky = Boolean(text && action);
    this.message.className = text ? "lnb-ev-message lnb-ev-error" : "lnb-ev-message";
    this.message.textContent = text;
    if (action) {
      const button = h("button", { class: "lnb-ev-btn", text: actionLabel });
      button.addEventListener("click", () => {
        this.say("");
        action();
      });
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
    return this.viewport.clientHeight || Math.max(ROW_HEIGHT * 4, this.height() - 230);
  }

  window() {
    return listWindow(this.viewport.scrollTop, this.viewportHeight(), this.cache.total ?? 0, ROW_HEIGHT, OVERSCAN);
  }

  wanted() {
    const win = this.window();
    const { need, prefetch } = pagesToLoad(win.start, win.end, this.cache.total, this.cache.pageSize, this.direction);
    return prefetch == null ? need : [...need, prefetch];
  }

  draw() {
    if (!this.info) return;
    const top = this.viewport.scrollTop;
    if (top !== this.lastTop) this.direction = top > this.lastTop ? 1 : -1;
    this.lastTop = top;
    const total = this.cache.total ?? 0;
    const win = this.window();
    this.spacer.style.height = `${win.height}px`;
    this.cache.request(this.wanted());
    const needed = win.end - win.start;
    while (this.pool.length < needed) {
      const slot = makeRow(this.columns);
      this.pool.push(slot);
      this.spacer.append(slot.el);
    }
    const options = { compare: this.compare, scorers: this.info.scorers ?? [] };
    for (let k = 0; k < this.pool.length; k++) {
      const slot = this.pool[k];
      if (k >= needed) {
        slot.el.hidden = true;
        slot.index = -1;
        continue;
      }
      const index = win.start + k;
      const row = this.cache.row(index) ?? this.cache.error(index) ?? undefined;
      const selected = row && !(row instanceof Error) ? this.selected.has(row.row) : false;
      fillRow(slot, this.columns, row, index, win.offset + k * ROW_HEIGHT, { ...options, active: index === this.active, selected });
    }
    const known = this.cache.total != null;
    this.empty.hidden = !(known && total === 0);
    if (known && total === 0) {
      const filtered = Object.keys(cleanFilters(this.model.get("filters"))).length > 0;
      this.empty.textContent = filtered ? "No row matches these filters." : this.compare ? "The two runs share no rows (record_id)." : "This run has no rows yet.";
    }
    this.viewport.setAttribute("aria-rowcount", String(total + 1));
  }

  rowAt(event) {
    const el = event.target.closest?.(".lnb-ev-row");
    return el ? Number(el.dataset.index) : -1;
  }

  click(event) {
    const index = this.rowAt(event);
    if (index < 0) return;
    const row = this.cache.row(index);
    if (!row || row instanceof Error) return;
    this.active = index;
    if (event.target.closest?.(".lnb-ev-check")) {
      this.toggle(row.row);
      return;
    }
    const thumb = event.target.closest?.(".lnb-ev-thumb");
    if (thumb) {
      event.stopPropagation();
      this.thumb(row, thumb.dataset.value === "up");
      return;
    }
    this.open(index);
  }

  // -- selection and datasets ---------------------------------------------------------
  toggle(rowNumber) {
    const next = new Set(this.selected);
    if (next.has(rowNumber)) next.delete(rowNumber);
    else next.add(rowNumber);
    this.setSelection(next);
  }

  setSelection(rows) {
    this.selected = rows;
    this.model.set("selected_rows", [...rows].sort((a, b) => a - b));
    this.model.save_changes();
    this.showSelection();
    this.draw();
  }

  showSelection() {
    const n = this.selected.size;
    const run = this.info?.run;
    this.selbar.update(n, run?.dataset?.name ?? run?.name);
    const total = this.cache?.total;
    this.header?.setChecked(n === 0 ? "none" : total != null && n >= total ? "all" : "some");
  }

  async selectAll(on) {
    if (!on) {
      this.setSelection(new Set());
      return;
    }
    try {
      const answer = await this.rpc.request("row_ids", {
        compare: this.compareKey(),
        filters: cleanFilters(this.model.get("filters")),
        sort: { column: this.model.get("sort_by") || "row", descending: Boolean(this.model.get("sort_desc")) },
      });
      this.setSelection(new Set([...this.selected, ...answer.rows]));
    } catch (err) {
      this.showSelection();
      if (err?.type !== "Closed") this.say(`could not select the rows: ${err?.message ?? err}`);
    }
  }

  createDataset(options) {
    return this.rpc.request("to_dataset", { compare: this.compareKey(), rows: [...this.selected].sort((a, b) => a - b), ...options });
  }

  // -- feedback --------------------------------------------------------------------------
  async thumb(row, up) {
    if (row.feedback?.value === up) return; // already said
    try {
      const answer = await this.rpc.request("feedback", { compare: this.compareKey(), row: row.row, value: up });
      this.afterFeedback(answer);
    } catch (err) {
      if (err?.type !== "Closed") this.say(`feedback not saved: ${err?.message ?? err}`);
    }
  }

  /** The kernel stored feedback: show it in the row (and the summary) without reloading the list. */
  afterFeedback(answer) {
    for (const rows of this.cache.pages.values()) {
      for (const r of rows) if (r.row === answer.row) r.feedback = answer.feedback;
    }
    this.draw();
    this.loadSummary();
  }

  async saveFeedback(data) {
    const rowNumber = this.model.get("open_row");
    const answer = await this.rpc.request("feedback", { compare: this.compareKey(), row: rowNumber, ...data });
    this.afterFeedback(answer);
    return answer;
  }

  // -- an open row --------------------------------------------------------------------
  open(index) {
    const row = this.cache.row(index);
    if (!row || row instanceof Error) return;
    this.openIndex = index;
    this.active = index;
    this.savedTop = this.viewport.scrollTop;
    this.model.set("selected_span_id", null);
    this.model.set("collapsed_span_ids", []);
    this.model.set("search_text", "");
    this.model.set("trace_id", row.trace_id ?? null);
    this.model.set("open_row", row.row);
    this.model.save_changes();
    this.showRow();
  }

  step(delta) {
    const total = this.cache.total ?? 0;
    const target = this.openIndex + delta;
    if (this.openIndex < 0 || target < 0 || target >= total) return;
    if (this.cache.row(target)) {
      this.open(target);
      return;
    }
    this.pendingOpen = target;
    this.cache.request([Math.floor(target / this.cache.pageSize)]);
  }

  close() {
    this.destroyExplorer();
    this.model.set("open_row", null);
    this.model.set("trace_id", null);
    this.model.save_changes();
    this.showRow();
    this.viewport.focus?.({ preventScroll: true });
  }

  /** Show the table, or the open row (also after a re-render, or when Python sets open_row). */
  async showRow({ force = false } = {}) {
    const rowNumber = this.model.get("open_row");
    if (rowNumber === this.shownRow && rowNumber != null && !force) return; // already shown or on its way
    this.shownRow = this.info ? rowNumber : undefined;
    if (rowNumber == null || !this.info) {
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
    this.list.hidden = true;
    this.detail.hidden = false;
    this.prev.disabled = this.openIndex <= 0;
    this.next.disabled = this.openIndex < 0 || this.openIndex >= (this.cache.total ?? 0) - 1;
    this.openTitle.textContent = `row ${rowNumber}`;
    const token = (this.detailToken = (this.detailToken ?? 0) + 1);
    this.cardHost.replaceChildren(h("div", { class: "lnb-ev-dim", text: "loading the row…" }));
    this.showExplorer();
    let d;
    try {
      d = await this.rpc.request("row", { compare: this.compareKey(), row: rowNumber });
    } catch (err) {
      if (err?.type === "Closed" || token !== this.detailToken) return;
      this.cardHost.replaceChildren(h("div", { class: "lnb-ev-error", text: `could not load row ${rowNumber}: ${err?.message ?? err}` }));
      return;
    }
    if (token !== this.detailToken) return;
    this.openDetail = d;
    this.openTitle.textContent = `row ${d.row}`;
    this.openTitle.title = `trace ${d.trace_id ?? "(none)"}`;
    const form = new FeedbackForm({
      labels: this.info.labels ?? [],
      author: this.model.get("author") ?? "",
      onSave: (data) => this.saveFeedback(data),
      onAuthor: (name) => {
        this.model.set("author", name);
        this.model.save_changes();
      },
    });
    form.showHistory(d.feedback);
    this.cardHost.replaceChildren(renderRowDetail(d, { compare: this.compare, onShowSpan: (span, side) => this.showSpan(span, side), feedback: form }));
    this.cardHost.scrollTop = 0;
    this.showTraceButtons();
  }

  showTraceButtons() {
    const d = this.openDetail;
    if (!this.compare || !d) {
      this.traceButtons.replaceChildren();
      return;
    }
    const current = this.model.get("trace_id");
    const button = (label, traceId) => {
      const b = h("button", { class: "lnb-ev-btn", text: label, attrs: { "aria-pressed": String(traceId != null && traceId === current) } });
      b.disabled = !traceId;
      b.addEventListener("click", () => this.showTrace(traceId));
      return b;
    };
    this.traceButtons.replaceChildren(button("baseline trace", d.base?.trace_id), button("candidate trace", d.trace_id));
  }

  showTrace(traceId, spanId = null) {
    if (!traceId) return;
    this.model.set("selected_span_id", spanId);
    if (this.model.get("trace_id") !== traceId) {
      this.model.set("collapsed_span_ids", []);
      this.model.set("search_text", "");
      this.model.set("trace_id", traceId);
    }
    this.model.save_changes();
    this.showExplorer();
    this.showTraceButtons();
  }

  showSpan(spanId, side) {
    const d = this.openDetail;
    this.showTrace(side === "baseline" ? d?.base?.trace_id : d?.trace_id, spanId);
  }

  showExplorer() {
    if (!this.model.get("trace_id")) {
      this.destroyExplorer();
      this.explorerHost.replaceChildren(h("div", { class: "lnb-ev-dim lnb-ev-no-trace", text: "This row has no trace." }));
      return;
    }
    if (this.explorer) return; // it follows trace_id and selected_span_id itself
    this.explorerHost.replaceChildren();
    const height = () => this.height() - BAR_PX - this.cardPx();
    this.explorer = mountExplorer(this.Explorer, explorerModel(this.model, height), this.explorerHost);
  }

  destroyExplorer() {
    if (!this.explorer) return;
    const explorer = this.explorer;
    this.explorer = null;
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
      case " ": {
        const row = this.active >= 0 ? this.cache.row(this.active) : null;
        if (row) this.toggle(row.row);
        break;
      }
      default:
        return; // other keys go on to the notebook
    }
    event.preventDefault();
    event.stopPropagation(); // arrows and Enter move in the table, not between cells
    if (target == null) return;
    this.active = Math.max(0, Math.min(total - 1, target));
    const visibleTop = this.viewport.scrollTop;
    const next = scrollTopFor(this.active, visibleTop, this.viewportHeight(), total, ROW_HEIGHT);
    if (Math.abs(next - visibleTop) > 0.5 || this.window().scale !== 1) this.viewport.scrollTop = next;
    this.draw();
  }

  destroy() {
    this.generation++;
    this.destroyExplorer();
    this.filters.destroy();
    this.resize?.disconnect();
    this.cache.reset();
    this.rpc.close();
    for (const [event, fn] of Object.entries(this.listeners)) this.model.off(event, fn);
    this.root.remove();
  }
}

export default {
  render({ model, el }) {
    let view;
    try {
      view = new EvalTableView(model, el);
    } catch (err) {
      // shown in the notebook, not only in the browser console
      el.append(h("pre", { class: "lnb-crash", text: `llmops_nb eval table failed to start: ${err?.stack ?? err}` }));
      return undefined;
    }
    return () => view.destroy();
  },
};
