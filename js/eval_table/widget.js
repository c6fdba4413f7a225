// EvalTableView (anywidget ESM): an evaluation run's rows paged from the kernel (lib/grid.js), a card
// per scorer (mean, pass rate, a histogram on the value axis), filters, sort by any score, checkboxes
// that turn rows into a dataset version, thumbs up/down in each row, each row's latency, tokens and
// cost. A row opens its detail above its trace in the explorer (open_row.js), a conversation row
// (a run over conversations) above its transcript (conversation.js). "compare with"
// (compare_menu.js) puts another run beside this one: per-row deltas, win/loss/tie, outputs diffed
// word by word, both runs' latency and cost with the change. Feedback, and the fresh snapshot handed
// to the notebook after it, go through row_feedback.js. The view is as tall as its rows up to
// `height`, and the user can drag it taller or shorter (lib/fit.js). Traitlets hold the view state.
// Over 400 lines by a few: the wiring of traitlets, RPC, keys and sizing reads best in one place; the
// parts with logic of their own are in the modules imported below.

import { ExplorerView } from "../explorer/widget.js";
import { h } from "../lib/dom.js";
import { PagedGrid } from "../lib/grid.js";
import { listen, mountView, viewRoot } from "../lib/mount.js";
import { PAGE_SIZE } from "../lib/pages.js";
import { createRpc } from "../lib/rpc.js";
import { fmtTime } from "./cells.js";
import { CompareMenu } from "./compare_menu.js";
import { cleanFilters, dropUnsupported, EvalFilterBar } from "./filters.js";
import { OpenRow } from "./open_row.js";
import { RowFeedback } from "./row_feedback.js";
import { columnsFor, fillRow, gridTemplate, makeHeader, makeRow, minWidth, nextSort, ROW_HEIGHT } from "./rows.js";
import { Selection } from "./selection.js";
import { TableHeight } from "./sizing.js";
import { summaryCards, summaryLine, usageNodes } from "./summary.js";

export { explorerModel } from "./open_row.js";

export class EvalTableView {
  /**
   * @param {import("../lib/mount.js").Model} model
   * @param {HTMLElement} el
   * @param {{ rpc?: any, pageSize?: number, explorer?: any }} [options]
   */
  constructor(model, el, { rpc, pageSize = PAGE_SIZE, explorer = ExplorerView } = {}) {
    this.model = model;
    this.rpc = rpc ?? createRpc(model);
    this.Explorer = explorer;
    /** @type {any[]} */
    this.columns = [];
    this.generation = 0;
    /** @type {any} */
    this.info = null;
    this.compare = false;
    /** @type {any} */
    this.header = null;

    this.title = h("span", { class: "lnb-ev-title", text: "loading…" });
    this.menu = new CompareMenu({
      request: (method, params) => this.rpc.request(method, params),
      current: () => this.compareKey(),
      onPick: (key) => this.setCompare(key),
      onError: (message) => this.grid.say(message),
    });
    const refresh = h("button", {
      class: "lnb-ev-btn",
      text: "↻",
      title: "read the store again (new feedback, a run still going)",
    });
    refresh.addEventListener("click", () => this.start());
    this.summaryLine = h("div", { class: "lnb-ev-summary-line" });
    this.cards = h("div", { class: "lnb-ev-cards" });
    this.filters = new EvalFilterBar({ onChange: (/** @type {object} */ filters) => this.setFilters(filters) });
    this.selection = new Selection({
      model,
      rpc: this.rpc,
      query: () => this.query(),
      state: () => ({
        header: this.header,
        total: this.grid?.cache.total ?? null,
        name: this.info?.run?.dataset?.name ?? this.info?.run?.name ?? null,
      }),
      redraw: () => this.grid?.draw(),
      say: (message) => this.grid.say(message),
    });
    this.count = h("span", { class: "lnb-ev-count" });
    this.message = h("span", { class: "lnb-ev-message", attrs: { role: "status" } });
    this.headHost = h("div", { class: "lnb-ev-head-host" });
    this.root = viewRoot("lnb-eval", []);
    this.grid = new PagedGrid({
      prefix: "lnb-ev",
      label: "evaluation rows",
      rowHeight: ROW_HEIGHT,
      pageSize,
      rpc: this.rpc,
      query: () => this.query(),
      makeRow: () => makeRow(this.columns),
      fillRow: (slot, row, index, top, active) => {
        const selected = row && !(row instanceof Error) ? this.selection.has(row.row) : false;
        fillRow(slot, this.columns, row, index, top, {
          compare: this.compare,
          scorers: this.info?.scorers ?? [],
          active,
          selected,
        });
      },
      fallbackHeight: () => this.viewHeight() - 230,
      emptyText: () =>
        this.filtered()
          ? "No row matches these filters."
          : this.compare
            ? "The two runs share no rows (record_id)."
            : "This run has no rows yet.",
      countText: (total) =>
        `${total.toLocaleString("en-US")} row${total === 1 ? "" : "s"}${this.filtered() ? " match" : ""}`,
      onPage: () => {
        this.openRow.pageArrived();
        this.sizing?.fit({ growOnly: true });
      },
      onOpen: (index) => this.openRow.open(index),
      onClick: (event, row) => this.clickInRow(event, row),
      onKey: (key, index) => key === " " && this.toggleAt(index),
      count: this.count,
      message: this.message,
      root: this.root,
    });
    this.grid.ready = false; // no rows to draw before the kernel described the table
    this.viewport = this.grid.viewport;
    this.table = h("div", { class: "lnb-ev-grid" }, [this.headHost, this.viewport, this.grid.empty]);
    this.tableBox = h("div", { class: "lnb-ev-table" }, [this.table]);
    this.list = h("div", { class: "lnb-ev-list" }, [
      h("div", { class: "lnb-ev-toolbar" }, [this.title, h("span", { class: "lnb-grow" }), this.menu.el, refresh]),
      h("div", { class: "lnb-ev-summary" }, [this.summaryLine, this.cards]),
      this.filters.el,
      this.selection.bar.el,
      h("div", { class: "lnb-ev-status" }, [this.count, this.message]),
      this.tableBox,
    ]);
    this.openRow = new OpenRow({
      model,
      rpc: this.rpc,
      grid: this.grid,
      compareKey: () => this.compareKey(),
      info: () => this.info,
      height: () => this.viewHeight(),
      saveFeedback: (data) => this.feedback.save(data),
      Explorer: this.Explorer,
      showList: (visible) => {
        this.list.hidden = !visible;
        if (!visible) this.sizing?.fit({ growOnly: true }); // an open row takes the whole `height`
      },
    });
    this.feedback = new RowFeedback({
      rpc: this.rpc,
      el,
      grid: this.grid,
      query: () => this.query(),
      openRow: () => this.model.get("open_row"),
      generation: () => this.generation,
      onStored: () => this.loadSummary(),
    });
    this.sizing = new TableHeight({
      root: this.root,
      list: this.list,
      tableBox: this.tableBox,
      headHost: this.headHost,
      limit: () => this.height(),
      rows: () => this.grid.cache.total ?? 0,
      rowOpen: () => this.model.get("open_row") != null,
      // the open row's card and trace share the new height; the grid draws the rows that now fit
      onChange: () => {
        this.openRow.applyHeight();
        this.openRow.explorer?.applyHeight?.();
        this.grid.schedule();
      },
    });
    this.root.append(this.list, this.openRow.el);
    el.append(this.root);

    this.unlisten = listen(model, {
      "change:height": () => this.applyHeight(),
      "change:filters": () => this.apply(),
      "change:sort_by": () => this.batch || this.apply(),
      "change:sort_desc": () => this.batch || this.apply(),
      "change:compare_to": () => (this.compareKey() !== this.startedFor ? this.start() : null),
      "change:selected_rows": () => this.selection.read(),
      "change:open_row": () => this.openRow.show(),
      // a conversation row's transcript or turn trace, changed by another view of this widget or by Python
      "change:session": () => this.openRow.followModel(),
      "change:trace_id": () => this.openRow.followModel(),
    });

    this.applyHeight();
    this.selection.show();
    this.start();
  }

  get cache() {
    return this.grid.cache;
  }

  compareKey() {
    return this.model.get("compare_to") || null;
  }

  /** What every request about rows says: the run compared with, the filters, the sort. */
  query() {
    return { compare: this.compareKey(), filters: cleanFilters(this.model.get("filters")), sort: this.sort() };
  }

  sort() {
    return { column: this.model.get("sort_by") || "row", descending: Boolean(this.model.get("sort_desc")) };
  }

  filtered() {
    return Object.keys(cleanFilters(this.model.get("filters"))).length > 0;
  }

  /** The `height` traitlet: the most the table grows to by itself. */
  height() {
    return Number(this.model.get("height")) || 620;
  }

  /** The height the table has now: fitted to its rows, or dragged by the user. */
  viewHeight() {
    return this.sizing ? this.sizing.now() : this.height();
  }

  applyHeight() {
    this.sizing.fit();
    this.openRow.applyHeight();
    this.grid.schedule();
  }

  /** (Re)read the run: its facts and scorers, then the summary and the first page. */
  async start() {
    const generation = ++this.generation;
    const compare = this.compareKey();
    this.startedFor = compare;
    this.grid.say("");
    let info;
    try {
      info = await this.rpc.request("info", { compare });
    } catch (err) {
      if (err?.type === "Closed" || generation !== this.generation) return;
      this.title.textContent = "";
      this.grid.say(
        err?.message ?? String(err),
        compare ? () => this.setCompare(null) : () => this.start(),
        compare ? "stop comparing" : "retry",
      );
      return;
    }
    if (generation !== this.generation) return;
    this.info = info;
    this.compare = Boolean(info.baseline);
    this.grid.ready = true;
    this.showTitle();
    this.menu.fill([], info.frames ?? [], info);
    this.buildColumns();
    if (dropUnsupported(this.model, this.info, this.compare)) this.model.save_changes();
    this.filters.setScorers(info.scorers, this.compare);
    this.filters.set(this.model.get("filters"));
    this.loadSummary();
    this.apply({ force: true });
    this.openRow.show({ force: true });
  }

  showTitle() {
    const run = this.info.run;
    const base = this.info.baseline;
    /** @param {any} side */
    const name = (side) => `${side.name}${side.run_id ? ` (${side.run_id.slice(0, 8)})` : ""}`;
    this.title.textContent = base ? `${name(run)} compared with ${name(base)}` : name(run);
    const bits = [
      run.status ? String(run.status).toLowerCase() : "",
      run.started_at ? fmtTime(run.started_at) : "",
      run.dataset ? `dataset ${run.dataset.name} v${run.dataset.version}` : "",
      run.stored ? "" : "not in this store: read from the DataFrame",
    ];
    this.title.title = [
      `run ${run.run_id ?? "(none)"}`,
      ...bits.filter(Boolean),
      base ? `baseline ${base.run_id ?? base.name}` : "",
    ]
      .filter(Boolean)
      .join("\n");
  }

  buildColumns() {
    this.columns = columnsFor(this.info);
    this.header = makeHeader(this.columns, {
      onSort: (/** @type {any} */ c) => this.sortBy(c),
      onSelectAll: (/** @type {boolean} */ on) => this.selection.selectAll(on),
    });
    this.headHost.replaceChildren(this.header.el);
    this.grid.clearPool();
    this.root.style.setProperty("--lnb-ev-cols", gridTemplate(this.columns));
    this.table.style.minWidth = `${minWidth(this.columns)}px`;
    this.selection.show();
  }

  async loadSummary() {
    const generation = this.generation;
    try {
      const summary = await this.rpc.request("summary", { compare: this.compareKey() });
      if (generation !== this.generation) return;
      this.summary = summary;
      const usage = usageNodes(summary, { compare: this.compare });
      this.summaryLine.replaceChildren(
        summaryLine(summary, { compare: this.compare }),
        ...usage.flatMap((n) => [" · ", n]),
      );
      this.cards.replaceChildren(
        ...summaryCards(summary, {
          compare: this.compare,
          onFilter: (/** @type {string} */ scorer, /** @type {string} */ result) => this.filterBy(scorer, result),
        }),
      );
      this.sizing.fit({ growOnly: true }); // the cards make the chrome taller
    } catch (err) {
      if (err?.type === "Closed" || generation !== this.generation) return;
      this.summaryLine.textContent = `summary not available: ${err?.message ?? err}`;
    }
  }

  /** @param {string | null} key */
  setCompare(key) {
    this.model.set("compare_to", key || null);
    this.model.save_changes();
    this.menu.loaded = false;
    if (this.compareKey() !== this.startedFor) this.start();
  }

  // -- rows ----------------------------------------------------------------------------
  apply({ force = false } = {}) {
    const filters = cleanFilters(this.model.get("filters"));
    const { column, descending } = this.sort();
    const key = JSON.stringify([this.compareKey(), filters, column, descending]);
    this.filters.set(filters);
    this.header?.mark(column, descending);
    if (!this.info || (key === this.key && !force)) return;
    this.key = key;
    this.grid.reset();
  }

  /** @param {object} filters */
  setFilters(filters) {
    this.model.set("filters", cleanFilters(filters));
    this.model.save_changes();
    this.apply(); // the model may not echo an unchanged value
  }

  /**
   * @param {string} scorer
   * @param {string} result
   */
  filterBy(scorer, result) {
    this.setFilters({ ...cleanFilters(this.model.get("filters")), scorer, result });
  }

  /** @param {any} column */
  sortBy(column) {
    const { column: current, descending } = this.sort();
    const next = nextSort(column, current, descending);
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

  /**
   * A click on a row's checkbox or thumb is handled here; any other click opens the row.
   * @param {MouseEvent} event
   * @param {any} row
   */
  clickInRow(event, row) {
    const target = /** @type {Element} */ (event.target);
    if (target.closest?.(".lnb-ev-check")) {
      this.selection.toggle(row.row);
      return true;
    }
    const thumb = /** @type {HTMLElement | null} */ (target.closest?.(".lnb-ev-thumb"));
    if (thumb) {
      event.stopPropagation();
      this.feedback.thumb(row, thumb.dataset.value === "up");
      return true;
    }
    return false;
  }

  /** @param {number} index */
  toggleAt(index) {
    const row = this.grid.loaded(index);
    if (row) this.selection.toggle(row.row);
    return true;
  }

  destroy() {
    this.generation++;
    this.openRow.destroy();
    this.sizing.destroy();
    this.filters.destroy();
    this.grid.destroy();
    this.rpc.close();
    this.unlisten();
    this.root.remove();
  }
}

export default mountView(EvalTableView, "eval table");
