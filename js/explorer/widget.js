// TraceExplorer's view (anywidget ESM): header with totals, tools and search, the virtualized span
// tree with its waterfall (the critical path outlined: critical.js) or the trace's agent graph (its
// tab: graph_tab.js), and the detail pane of the selected span. Data comes from the kernel on request
// (lib/rpc.js); the model's traitlets only hold view state, written back as it changes.
// Over 400 lines on purpose: this is the one stateful object (selection, open groups, search,
// size) whose handlers call each other; every rule it applies is a pure function in tree.js,
// groups.js, keys.js, search.js and calls.js, tested on its own.

import { h } from "../lib/dom.js";
import { FitHeight } from "../lib/fit.js";
import * as fmt from "../lib/format.js";
import { listen, mountView, viewRoot } from "../lib/mount.js";
import { createRpc } from "../lib/rpc.js";
import { callOf } from "./calls.js";
import { criticalFacts, criticalToggle } from "./critical.js";
import { renderDetail, renderGroupDetail } from "./detail.js";
import { GraphTab } from "./graph_tab.js";
import { findGroups, groupIndex, isGroup, parentItem, revealGroups, shownItem } from "./groups.js";
import { fitHeight, keyAction } from "./keys.js";
import { mergeMatches, nameMatches, step } from "./search.js";
import { decodeSkeleton } from "./skeleton.js";
import { collapseButtons } from "./toolbar.js";
import { buildTree, hasChildren, reveal } from "./tree.js";
import { TreeView } from "./tree_view.js";

const SEARCH_DEBOUNCE_MS = 200;
const DETAIL_CACHE = 64;
const HEADER_PX = 34;
const KEY_DETAIL_MS = 120; // arrows held down: the detail follows once the selection rests

export class ExplorerView {
  /**
   * @param {import("../lib/mount.js").Model} model
   * @param {HTMLElement} el
   * @param {{ rpc?: ReturnType<typeof createRpc>, fit?: boolean }} [options]
   */
  constructor(model, el, { rpc, fit = false } = {}) {
    this.model = model;
    // standalone, the view sizes to its trace up to `height` and the user can resize it (style.css)
    this.fit = fit;
    this.rpc = rpc ?? createRpc(model);
    this.details = new Map(); // span id -> detail (LRU by insertion order)
    this.detailToken = 0;
    this.searchToken = 0;
    this.matches = [];
    this.current = -1;
    this.timers = new Set();

    this.title = h("span", { class: "lnb-title" });
    this.facts = h("span", { class: "lnb-facts-line" });
    this.search = h("input", {
      class: "lnb-search",
      attrs: { type: "search", placeholder: "search spans…", "aria-label": "search spans" },
    });
    this.count = h("span", { class: "lnb-count" });
    const prev = h("button", { class: "lnb-btn", text: "▲", title: "previous match (Shift+Enter)" });
    const next = h("button", { class: "lnb-btn", text: "▼", title: "next match (Enter)" });
    // the toolbar: view settings and actions, one entry each (toolbar.js)
    this.critical = criticalToggle(model, (on) => this.treeView.setShowCritical(on));
    this.tools = h("span", { class: "lnb-tools" }, [this.critical.el, ...collapseButtons((c) => this.setAll(c))]);
    this.detail = h("div", { class: "lnb-detail", attrs: { "aria-live": "polite" } }, [
      h("div", {
        class: "lnb-placeholder",
        text: "Select a span to see its messages, inputs, outputs and attributes.",
      }),
    ]);
    this.treeView = new TreeView({
      onSelect: (node) => this.select(node),
      onToggle: (node) => this.toggle(node),
      onLayout: () => this.applyHeight({ growOnly: true }),
      fallbackHeight: this.height() - HEADER_PX - 24,
    });
    this.treeView.showCritical = this.critical.on;
    this.main = h("div", { class: "lnb-main" }, [this.treeView.el, this.detail]);
    this.root = viewRoot("lnb-explorer", [
      h("div", { class: "lnb-header" }, [
        this.title,
        this.facts,
        h("span", { class: "lnb-grow" }),
        this.tools,
        this.search,
        prev,
        next,
        this.count,
      ]),
      this.main,
    ]);
    this.graphTab = new GraphTab(this); // its tabs lead the toolbar
    this.fitter = fit ? new FitHeight(this.root) : null;
    // a click anywhere in the view (the detail pane too) leaves the keyboard in it
    this.root.tabIndex = -1;
    this.applyHeight();
    el.append(this.root);

    prev.addEventListener("click", () => this.goMatch(-1));
    next.addEventListener("click", () => this.goMatch(1));
    this.search.addEventListener("input", () =>
      this.later("search", SEARCH_DEBOUNCE_MS, () => this.runSearch(this.search.value)),
    );
    this.search.addEventListener("keydown", (event) => {
      event.stopPropagation(); // notebook shortcuts must not see typing
      if (event.key === "Enter") {
        event.preventDefault();
        this.goMatch(event.shiftKey ? -1 : 1);
      } else if (event.key === "Escape") {
        this.search.value = "";
        this.runSearch("");
      }
    });
    this.treeView.viewport.addEventListener("keydown", (event) => this.onKey(event));
    this.root.addEventListener("keydown", (event) => {
      if (event.target === this.root) this.onKey(event);
    });
    this.onHeight = () => this.applyHeight();
    this.onSelected = () => {
      const node = this.index?.get(model.get("selected_span_id"));
      if (node != null && node !== this.treeView.selected) this.select(node, { fromModel: true });
    };
    this.onTrace = () => this.load();
    this.unlisten = listen(model, {
      "change:height": this.onHeight,
      "change:selected_span_id": this.onSelected,
      "change:trace_id": this.onTrace,
    });
    this.load();
  }

  height() {
    return Number(this.model.get("height")) || 460;
  }

  /** Whether the user dragged the corner: their height stays (lib/fit.js). */
  get userSized() {
    return this.fitter?.userSized ?? false;
  }

  set userSized(value) {
    if (this.fitter) this.fitter.userSized = value;
  }

  /** Standalone: as tall as the rows (up to `height`), growing as rows open, never shrinking under the user. */
  applyHeight({ growOnly = false } = {}) {
    if (this.fitter) {
      const rows = this.graphTab?.showing ? Number.POSITIVE_INFINITY : (this.treeView?.rows.length ?? 0);
      this.fitter.set(fitHeight(rows, this.height(), HEADER_PX), { growOnly }); // the graph: all of `height`
    } else if (!growOnly) {
      this.root.style.height = `${this.height()}px`; // embedded: the height it is given
    }
  }

  later(key, ms, fn) {
    const old = this[`timer_${key}`];
    clearTimeout(old);
    this.timers.delete(old);
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
    this[`timer_${key}`] = t;
  }

  cancel(key) {
    clearTimeout(this[`timer_${key}`]);
  }

  async load() {
    const started = performance.now();
    const traceId = this.model.get("trace_id");
    this.graphTab.reset();
    this.title.textContent = "loading trace…";
    this.facts.textContent = "";
    let data;
    try {
      data = await this.rpc.request("skeleton", { trace_id: traceId });
    } catch (err) {
      if (err?.type === "Closed") return;
      this.showLoadError(err);
      return;
    }
    const skel = decodeSkeleton(data);
    this.skel = skel;
    this.tree = buildTree(skel.parent, skel);
    this.index = new Map();
    for (let i = 0; i < skel.n; i++) this.index.set(skel.spanId[i], i);
    this.collapsed = new Uint8Array(skel.n);
    for (const id of this.model.get("collapsed_span_ids") ?? []) {
      const i = this.index.get(id);
      if (i != null) this.collapsed[i] = 1;
    }
    this.groups = findGroups(this.tree, skel);
    this.expanded = new Uint8Array(this.groups.list.length);
    this.showHeader(skel.trace);
    this.treeView.setData(skel, this.tree, this.collapsed, this.groups, this.expanded);
    this.applyHeight();
    const selected = this.index.get(this.model.get("selected_span_id"));
    if (selected != null) this.select(selected, { fromModel: true });
    else this.treeView.setActive(this.tree.order[0] ?? -1);
    const query = this.model.get("search_text") ?? "";
    if (query) {
      this.search.value = query;
      this.runSearch(query, { fromModel: true });
    }
    // the time from render to rows on screen, read by the browser benchmarks
    this.root.dataset.openMs = (performance.now() - started).toFixed(1);
    this.root.dataset.spans = String(skel.n);
  }

  showHeader(t) {
    this.title.replaceChildren(
      h("span", { class: `lnb-status lnb-status-${String(t.status).toLowerCase()}`, text: t.status }),
      h("span", { class: "lnb-trace-name", text: t.name ?? "(unnamed trace)", title: `trace ${t.trace_id}` }),
    );
    const tokens = (t.input_tokens ?? 0) + (t.output_tokens ?? 0);
    const parts = [
      `${fmt.integer(this.skel.n)} span${this.skel.n === 1 ? "" : "s"}`,
      fmt.duration(t.duration_ms),
      tokens
        ? `${fmt.tokens(tokens)} tok (${fmt.integer(t.input_tokens)} in / ${fmt.integer(t.output_tokens)} out)`
        : null,
      t.cost_usd != null ? fmt.cost(t.cost_usd) : null,
      t.error_count ? `${t.error_count} error${t.error_count === 1 ? "" : "s"}` : null,
      t.dropped_spans ? `${fmt.integer(t.dropped_spans)} spans dropped` : null,
    ];
    this.facts.textContent = parts.filter(Boolean).join(" · ");
  }

  showLoadError(err) {
    this.title.textContent = "";
    const retry = h("button", { class: "lnb-btn", text: "retry" });
    retry.addEventListener("click", () => this.load());
    this.facts.replaceChildren(
      h("span", { class: "lnb-error-msg", text: `Could not load the trace: ${err?.message ?? err}` }),
      retry,
    );
  }

  /**
   * Select a span or a group and show it in the detail pane. From the keyboard, the kernel is asked
   * once the selection rests (arrows held down do not send a request per row).
   */
  select(node, { fromModel = false, keyboard = false } = {}) {
    if (node === -1 || !this.skel) return;
    if (!fromModel) this.graphTab.showTree(); // from the search or the keyboard: where the span shows
    if (!isGroup(node)) {
      const ancestors = reveal(this.tree, this.collapsed, node);
      if (revealGroups(this.tree, this.groups, this.expanded, node) || ancestors) this.treeView.relayout();
      if (ancestors) this.saveCollapsed();
    }
    this.treeView.selected = node;
    this.treeView.setActive(node);
    this.treeView.reveal(node);
    if (isGroup(node)) {
      this.detailToken++;
      const group = this.groups.list[groupIndex(node)];
      const critical = this.treeView.criticalGroups[groupIndex(node)] === 1;
      this.detail.replaceChildren(renderGroupDetail(group, { critical }));
      return;
    }
    const id = this.skel.spanId[node];
    const save = () => {
      if (!fromModel && this.model.get("selected_span_id") !== id) {
        this.model.set("selected_span_id", id);
        this.model.save_changes();
      }
    };
    if (keyboard && !this.details.has(id)) {
      ++this.detailToken; // an answer for the row left behind must not show
      this.detail.replaceChildren(h("div", { class: "lnb-placeholder", text: "loading span…" }));
      this.later("detail", KEY_DETAIL_MS, () => {
        save();
        this.loadDetail(node);
      });
      return;
    }
    this.cancel("detail");
    save();
    this.loadDetail(node);
  }

  async loadDetail(node, { retry = false } = {}) {
    const id = this.skel.spanId[node];
    const token = ++this.detailToken;
    const offset = this.skel.start[node];
    let span = retry ? null : this.details.get(id);
    if (!span) {
      this.detail.replaceChildren(h("div", { class: "lnb-placeholder", text: "loading span…" }));
      try {
        span = await this.rpc.request("span", { trace_id: this.skel.trace.trace_id, span_id: id });
      } catch (err) {
        if (token !== this.detailToken || err?.type === "Closed") return;
        const again = h("button", { class: "lnb-btn", text: "retry" });
        again.addEventListener("click", () => this.loadDetail(node, { retry: true }));
        this.detail.replaceChildren(
          h("div", { class: "lnb-error-msg", text: `Could not load this span: ${err?.message ?? err}` }),
          again,
        );
        return;
      }
      this.details.delete(id);
      this.details.set(id, span);
      if (this.details.size > DETAIL_CACHE) this.details.delete(this.details.keys().next().value);
    }
    if (token !== this.detailToken) return; // another span was selected meanwhile
    const critical = criticalFacts(this.skel, node, this.treeView.totalMs);
    this.detail.replaceChildren(renderDetail(span, { offset, call: callOf(this.skel, node), critical }));
    this.detail.scrollTop = 0;
  }

  toggle(node) {
    if (isGroup(node)) {
      this.expanded[groupIndex(node)] ^= 1;
      this.treeView.relayout();
      return;
    }
    if (!hasChildren(this.tree, node)) return;
    this.collapsed[node] ^= 1;
    this.treeView.relayout();
    this.saveCollapsed();
  }

  /** Collapse (or expand) every span and every group; the selection stays on its row or the row holding it. */
  setAll(collapse) {
    if (!this.tree) return;
    for (let i = 0; i < this.skel.n; i++) this.collapsed[i] = collapse && hasChildren(this.tree, i) ? 1 : 0;
    this.expanded.fill(collapse ? 0 : 1);
    const tv = this.treeView;
    tv.relayout();
    const shown = (item) => tv.rowIndex(item) >= 0;
    const current = tv.selected !== -1 ? tv.selected : tv.active;
    const found = current === -1 ? -1 : shownItem(this.tree, this.groups, shown, current);
    const target = found === -1 ? (tv.rows[0] ?? -1) : found;
    // a selection hidden by collapsing moves to the row holding it, and the detail follows
    if (target !== current && tv.selected !== -1) this.select(target, { keyboard: true });
    else {
      tv.setActive(target);
      tv.reveal(target);
    }
    this.saveCollapsed();
    tv.viewport.focus({ preventScroll: true });
  }

  saveCollapsed() {
    this.later("collapsed", 300, () => {
      const ids = [];
      for (let i = 0; i < this.skel.n; i++) if (this.collapsed[i]) ids.push(this.skel.spanId[i]);
      this.model.set("collapsed_span_ids", ids);
      this.model.save_changes();
    });
  }

  onKey(event) {
    if (!this.tree) return;
    const tv = this.treeView;
    const node = tv.active;
    const group = isGroup(node);
    const action = keyAction(event.key, {
      node,
      isGroup: group,
      hasChildren: group || (node >= 0 && hasChildren(this.tree, node)),
      open: group ? this.expanded[groupIndex(node)] === 1 : node >= 0 && !this.collapsed[node],
    });
    if (!action) return; // other keys go on to the notebook
    event.preventDefault();
    event.stopPropagation(); // arrows and Enter must move in the tree, not between notebook cells
    let target = -1;
    switch (action.type) {
      case "move":
        target = tv.neighbour(
          node,
          action.delta === "page" ? tv.pageRows() : action.delta === "-page" ? -tv.pageRows() : action.delta,
        );
        break;
      case "first":
        target = tv.rows[0] ?? -1;
        break;
      case "last":
        target = tv.rows[tv.rows.length - 1] ?? -1;
        break;
      case "toggle":
        this.toggle(node);
        break;
      case "child":
        target = tv.neighbour(node, 1); // an open row's first child (or its first group) comes next
        break;
      case "parent":
        target = parentItem(this.tree, this.groups, this.expanded, node);
        break;
      case "select":
        target = node;
        break;
    }
    // the detail follows the keyboard: the row moved to is selected and shown
    if (target !== -1 && (target !== node || action.type === "select" || tv.selected !== node)) {
      this.select(target, { keyboard: action.type !== "select" });
    }
  }

  async runSearch(value, { fromModel = false } = {}) {
    const query = value.trim();
    const token = ++this.searchToken;
    if (!fromModel && this.model.get("search_text") !== value) {
      this.model.set("search_text", value);
      this.model.save_changes();
    }
    if (!this.skel) return;
    // a row shows an LLM span's label (`gpt-4o · chat`) and keeps its name in the tooltip: match both
    const local = mergeMatches(this.tree, nameMatches(this.skel.name, query), nameMatches(this.skel.label, query));
    this.setMatches(local, query);
    if (!query) return;
    try {
      const found = await this.rpc.request("search", { trace_id: this.skel.trace.trace_id, text: query });
      if (token !== this.searchToken) return;
      const remote = [];
      for (const id of found.span_ids) {
        const i = this.index.get(id);
        if (i != null) remote.push(i);
      }
      this.setMatches(mergeMatches(this.tree, local, remote), query);
    } catch (err) {
      if (token !== this.searchToken || err?.type === "Closed") return;
      this.count.textContent = `${this.matches.length} (names only)`;
      this.count.title = `searching inputs and outputs failed: ${err?.message ?? err}`;
    }
  }

  setMatches(matches, query) {
    this.matches = matches;
    this.current = -1;
    const marks = new Uint8Array(this.skel.n);
    let opened = false;
    for (const i of matches) {
      marks[i] = 1;
      if (query && revealGroups(this.tree, this.groups, this.expanded, i)) opened = true;
    }
    if (opened) this.treeView.relayout();
    this.treeView.setMatches(query ? marks : null, query);
    this.count.textContent = query ? `${matches.length} match${matches.length === 1 ? "" : "es"}` : "";
    this.count.title = "";
  }

  goMatch(direction) {
    if (!this.matches.length) return;
    this.current = step(this.matches, this.current, direction);
    this.select(this.matches[this.current]);
    this.count.textContent = `${this.current + 1}/${this.matches.length}`;
  }

  destroy() {
    this.rpc.close();
    this.critical.destroy();
    this.graphTab.destroy();
    this.treeView.destroy();
    this.fitter?.destroy();
    for (const t of this.timers) clearTimeout(t);
    this.unlisten();
    this.root.remove();
  }
}

/** The explorer on its own under a cell: sized to its trace, up to `height`, and resizable. */
export class StandaloneExplorerView extends ExplorerView {
  /**
   * @param {import("../lib/mount.js").Model} model
   * @param {HTMLElement} el
   */
  constructor(model, el) {
    super(model, el, { fit: true });
  }
}

export default mountView(StandaloneExplorerView, "explorer");
