// The explorer's graph tab: the trace's agent graph (../graph/render.js: who calls whom, what follows
// what, where it loops) in place of the tree and its waterfall. The kernel sends the graph when the tab
// is first opened (`trace_graph`: a few dozen nodes however many spans, so a 10,000-span trace opens it
// as fast as a small one; nothing here goes over the spans), and the span ids behind a node or an edge
// when one is clicked (`trace_graph_spans`). Those spans are then "picked" in the tree: highlighted
// (tree_view.js marks the rows on screen as it fills them, like the critical path), their collapsed
// ancestors opened, the first selected, with a bar "N spans of <name> — clear" above the tree.
//
// A click switches back to the tree rather than showing the graph beside it: the explorer is often
// embedded 400–500 px tall (the trace list, the eval table), where a graph, a tree and a detail pane
// side by side would each be too cramped to read, and what the user asked for by clicking is to see
// those spans. The graph keeps its layout, zoom and mark, one click away on its tab, and the bar says
// what is picked; a click on the same node again picks its spans again.

import { drawGraph } from "../graph/render.js";
import { edgeTitle, plural } from "../graph/texts.js";
import { h } from "../lib/dom.js";
import { mergeMatches, step } from "./search.js";
import { ModelChoice } from "./toolbar.js";

const TREE_TITLE = "the spans as a tree, with their waterfall";
const GRAPH_TITLE =
  "this trace's agent graph: who calls whom, what follows what, where it loops; " +
  "click a node or an edge to highlight its spans in the tree";
export const PICK_HINT = "click a node or an edge to highlight its spans in the tree";

/**
 * Which groups of repeated siblings (groups.js) hold a picked span: 1 per group. O(spans picked).
 * @param {{ list: any[], of: Int32Array }} groups @param {number[]} picked span indices
 */
export function pickedGroups(groups, picked) {
  const flags = new Uint8Array(groups.list.length);
  for (const i of picked) if (groups.of[i] >= 0) flags[groups.of[i]] = 1;
  return flags;
}

/**
 * Open every collapsed ancestor of the picked spans, so each is a row (or in a group's row). An ancestor
 * shared by many picked spans is walked once. Returns whether any opened.
 * @param {{ n: number, treeParent: Int32Array }} tree @param {Uint8Array} collapsed @param {number[]} picked
 */
export function openAncestors(tree, collapsed, picked) {
  const seen = new Uint8Array(tree.n);
  let opened = false;
  for (const i of picked) {
    for (let up = tree.treeParent[i]; up >= 0 && !seen[up]; up = tree.treeParent[up]) {
      seen[up] = 1;
      if (collapsed[up]) {
        collapsed[up] = 0;
        opened = true;
      }
    }
  }
  return opened;
}

/**
 * What the bar calls a node (its name) or an edge (`llm then search`: its target spans are picked).
 * @param {import("../graph/layout.js").Payload} payload @param {string} id
 */
export function pickName(payload, id) {
  const nodes = new Map(payload.nodes.map((n) => [n.id, n]));
  const node = nodes.get(id);
  if (node) return String(node.name ?? "");
  const edge = payload.edges.find((e) => e.id === id);
  return edge ? edgeTitle(edge, nodes, false).split("\n")[0] : id;
}

/** `6 nodes · 9 edges · 1 cycle · 10,000 spans`. @param {import("../graph/layout.js").Payload} p */
export function graphFacts(p) {
  const parts = [plural(p.nodes.length, "node"), plural(p.edges.length, "edge")];
  if (p.cycles.length) parts.push(plural(p.cycles.length, "cycle"));
  parts.push(plural(p.span_count ?? 0, "span"));
  return parts.join(" · ");
}

export class GraphTab {
  /**
   * Adds its tabs to the view's toolbar, its pane to the main area and its bar above the tree.
   * @param {import("./widget.js").ExplorerView} view
   */
  constructor(view) {
    this.view = view;
    /** @type {import("../graph/render.js").GraphCanvas | null} */
    this.canvas = null;
    /** @type {import("../graph/layout.js").Payload | null} */
    this.payload = null;
    this.traceId = null; // the trace the graph is of (or is being asked for)
    this.loading = false;
    this.token = 0; // an answer for another trace, or for an earlier click, is dropped
    /** @type {number[]} the picked spans in tree order */
    this.picked = [];
    this.current = -1;
    this.showing = false;

    this.tabs = new ModelChoice(view.model, "view", {
      choices: [
        { value: "tree", text: "tree", title: TREE_TITLE },
        { value: "graph", text: "graph", title: GRAPH_TITLE },
      ],
      label: "show the spans as",
      fallback: "tree",
      onChange: (value) => this.show(value === "graph"),
    });
    this.facts = h("span", { class: "lnb-xg-facts" });
    this.message = h("span", { class: "lnb-xg-message", attrs: { role: "status" } });
    this.host = h("div", { class: "lnb-gr-host" });
    const key = (/** @type {string} */ type) => h("span", { class: `lnb-gr-key lnb-gr-key-${type}`, text: type });
    // `lnb-graph` brings the graph view's rules (../graph/style.css) to the canvas
    this.el = h("div", { class: "lnb-graph lnb-xg" }, [
      h("div", { class: "lnb-xg-bar" }, [
        this.facts,
        this.message,
        h("span", { class: "lnb-grow" }),
        h("span", { class: "lnb-gr-legend" }, ["call", "next", "handoff", "cycle"].map(key)),
      ]),
      this.host,
    ]);
    this.el.hidden = true;

    this.count = h("span", { class: "lnb-picked-count" });
    this.position = h("span", { class: "lnb-picked-at" });
    const button = (/** @type {string} */ text, /** @type {string} */ title, /** @type {() => void} */ fn, cls = "") =>
      h("button", { class: `lnb-btn ${cls}`.trim(), text, title, on: { click: fn } });
    this.bar = h("div", { class: "lnb-picked-bar", attrs: { role: "status" } }, [
      h("span", { class: "lnb-picked-swatch", attrs: { "aria-hidden": "true" } }),
      this.count,
      " — ",
      button("clear", "clear this highlight", () => this.clear(), "lnb-picked-clear"),
      h("span", { class: "lnb-grow" }),
      this.position,
      button("▲", "previous of these spans", () => this.go(-1), "lnb-picked-prev"),
      button("▼", "next of these spans", () => this.go(1), "lnb-picked-next"),
    ]);
    this.bar.hidden = true;

    view.tools.prepend(this.tabs.el);
    view.treeView.el.prepend(this.bar);
    view.main.append(this.el);
    if (this.tabs.value === "graph") this.show(true);
  }

  /** Show the graph (asked of the kernel the first time) or the tree and the detail. */
  show(graph) {
    const v = this.view;
    this.showing = graph;
    this.el.hidden = !graph;
    v.treeView.el.hidden = graph;
    v.detail.hidden = graph;
    for (const tool of v.tools.querySelectorAll(".lnb-cp-toggle, .lnb-tree-tool")) {
      /** @type {HTMLElement} */ (tool).hidden = graph;
    }
    if (graph) {
      if (!this.payload && !this.loading) this.load();
      v.applyHeight(); // standalone: as tall as it may be, not as the tree's rows
    } else {
      v.applyHeight({ growOnly: true }); // back from the graph, the view does not jump shorter
      v.treeView.schedule();
    }
  }

  /** The tree: a span selected from the search or the keyboard while the graph shows. */
  showTree() {
    if (this.showing) this.tabs.set("tree");
  }

  /** The view (re)loads its trace: a highlight goes; the graph too if it is of another trace. */
  reset() {
    this.clear();
    if (this.traceId === this.view.model.get("trace_id")) return;
    this.token++;
    this.canvas?.destroy();
    this.canvas = null;
    this.payload = null;
    this.loading = false;
    this.facts.textContent = "";
    this.message.replaceChildren();
    if (this.showing) this.load();
  }

  async load() {
    const traceId = this.view.model.get("trace_id");
    const token = ++this.token;
    this.traceId = traceId;
    this.loading = true;
    this.say("loading the graph…");
    let payload;
    try {
      payload = await this.view.rpc.request("trace_graph", { trace_id: traceId });
    } catch (err) {
      if (token !== this.token || err?.type === "Closed") return;
      this.loading = false;
      this.say(`Could not load the graph: ${err?.message ?? err}`, () => this.load());
      return;
    }
    if (token !== this.token) return;
    this.loading = false;
    this.draw(payload);
  }

  /** @param {import("../graph/layout.js").Payload} payload */
  draw(payload) {
    this.payload = payload;
    this.facts.textContent = graphFacts(payload);
    this.say(payload.nodes.length ? PICK_HINT : "");
    const started = performance.now();
    this.canvas = drawGraph(this.host, payload, { onSelect: (id) => this.choose(id), reselect: true });
    // read by the browser tests
    this.el.dataset.layoutMs = (performance.now() - started).toFixed(1);
    this.el.dataset.nodes = String(payload.nodes.length);
  }

  /**
   * A line in the pane's bar: a hint, or an error (its text in red, with `retry`).
   * @param {string} text @param {(() => void) | null} [retry]
   */
  say(text, retry = null) {
    this.message.classList.toggle("lnb-error-msg", retry != null);
    this.message.replaceChildren(text);
    if (retry) this.message.append(" ", h("button", { class: "lnb-btn", text: "retry", on: { click: retry } }));
  }

  /**
   * A node or an edge clicked (null: the selection cleared, Escape): ask for its spans, then pick them.
   * @param {string | null} id
   */
  async choose(id) {
    const token = ++this.token;
    if (id == null) {
      this.clear();
      return;
    }
    this.say("finding its spans…");
    let found;
    try {
      found = await this.view.rpc.request("trace_graph_spans", { trace_id: this.traceId, selector: id });
    } catch (err) {
      if (token !== this.token || err?.type === "Closed") return;
      this.say(`Could not find the spans: ${err?.message ?? err}`, () => this.choose(id));
      return;
    }
    if (token !== this.token) return;
    this.say(PICK_HINT);
    this.pick(id, found.span_ids);
  }

  /**
   * Highlight the spans `spanIds` in the tree and select the first; back to the tree.
   * @param {string} id the node or edge @param {string[]} spanIds
   */
  pick(id, spanIds) {
    const v = this.view;
    if (!v.skel) return; // the trace is still loading (its graph came first): nothing to pick in yet
    const found = [];
    for (const spanId of spanIds) {
      const i = v.index.get(spanId);
      if (i != null) found.push(i);
    }
    this.picked = mergeMatches(v.tree, found); // top to bottom, as ▲ ▼ walk them
    this.tabs.set("tree"); // first: the tree must be laid out to scroll to the first span
    if (openAncestors(v.tree, v.collapsed, this.picked)) {
      v.treeView.relayout();
      v.saveCollapsed();
    }
    const marks = new Uint8Array(v.skel.n);
    for (const i of this.picked) marks[i] = 1;
    v.treeView.setPicked(marks, pickedGroups(v.groups, this.picked));
    const name = this.payload ? pickName(this.payload, id) : id;
    this.count.replaceChildren(
      `${plural(this.picked.length, "span")} of `,
      h("span", { class: "lnb-picked-name", text: name, title: name }),
    );
    this.bar.hidden = false;
    this.current = -1;
    this.go(1);
  }

  /** Select the next (1) or previous (-1) picked span. */
  go(direction) {
    if (!this.picked.length) {
      this.position.textContent = "";
      return;
    }
    this.current = step(this.picked, this.current, direction);
    this.position.textContent = `${this.current + 1}/${this.picked.length}`;
    this.view.select(this.picked[this.current]);
  }

  /** Remove the highlight (the tree stays as it is opened) and the graph's mark. */
  clear() {
    this.picked = [];
    this.current = -1;
    this.bar.hidden = true;
    this.view.treeView.setPicked(null, null);
    this.canvas?.select(null);
  }

  destroy() {
    this.token++;
    this.tabs.destroy();
    this.canvas?.destroy();
  }
}
