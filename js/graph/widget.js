// AgentGraphView's view (anywidget ESM): the agent graph of one trace or many, laid out by dagre and
// drawn by render.js, with a panel (panel.js) of its cycles and typical paths, or of the selected
// node's or edge's spans. A span opens in the explorer (../explorer/widget.js) inside the same
// widget, on that span; "back" returns to the graph. The payload comes once from the kernel (`graph`),
// spans a page at a time (`spans`); the traitlets hold the selection and the open trace only.

import { ExplorerView } from "../explorer/widget.js";
import { h } from "../lib/dom.js";
import * as fmt from "../lib/format.js";
import { showMessage } from "../lib/grid.js";
import { listen, mountView, viewRoot } from "../lib/mount.js";
import { OpenTracePanel, openTrace } from "../lib/open_trace.js";
import { createRpc } from "../lib/rpc.js";
import { SidePanel } from "./panel.js";
import { drawGraph } from "./render.js";

/**
 * `3 traces · 60 spans · 6 nodes · 10 edges · 2 cycles` (one trace: its id's start instead).
 * @param {import("./layout.js").Payload} p
 */
export function factsText(p) {
  const n = (/** @type {number} */ v, /** @type {string} */ noun) => `${fmt.integer(v)} ${noun}${v === 1 ? "" : "s"}`;
  const traces =
    p.trace_count === 1 && p.trace_ids?.[0]
      ? `trace ${String(p.trace_ids[0]).slice(0, 8)}`
      : n(p.trace_count ?? 0, "trace");
  return [
    traces,
    n(p.span_count ?? 0, "span"),
    n(p.nodes?.length ?? 0, "node"),
    n(p.edges?.length ?? 0, "edge"),
    n(p.cycles?.length ?? 0, "cycle"),
  ].join(" · ");
}

export class GraphView {
  /**
   * @param {import("../lib/mount.js").Model} model
   * @param {HTMLElement} el
   * @param {{ rpc?: any, explorer?: any }} [options]
   */
  constructor(model, el, { rpc, explorer = ExplorerView } = {}) {
    this.renderStarted = performance.now(); // data-open-ms counts from here, as the explorer's does
    this.model = model;
    this.rpc = rpc ?? createRpc(model);
    /** @type {any} */
    this.canvas = null;
    /** @type {import("./layout.js").Payload | null} */
    this.payload = null;
    /** @type {string | null} the open span's name, for the bar above the explorer */
    this.openName = null;

    this.facts = h("span", { class: "lnb-gr-facts-line", text: "loading the graph…" });
    this.note = h("span", { class: "lnb-gr-note" });
    this.message = h("span", { class: "lnb-gr-message", attrs: { role: "status" } });
    this.legend = h("span", { class: "lnb-gr-legend" }, [
      h("span", { class: "lnb-gr-key lnb-gr-key-call", text: "call" }),
      h("span", { class: "lnb-gr-key lnb-gr-key-next", text: "next" }),
      h("span", { class: "lnb-gr-key lnb-gr-key-handoff", text: "handoff" }),
      h("span", { class: "lnb-gr-key lnb-gr-key-cycle", text: "cycle" }),
    ]);
    this.host = h("div", { class: "lnb-gr-host" });
    this.panel = new SidePanel({
      rpc: this.rpc,
      onSelect: (id) => this.choose(id),
      onOpen: (row) => this.open(row),
    });
    this.main = h("div", { class: "lnb-gr-main" }, [
      h("div", { class: "lnb-gr-toolbar" }, [
        h("span", { class: "lnb-gr-title", text: "Agent graph" }),
        this.facts,
        this.note,
        this.message,
        h("span", { class: "lnb-grow" }),
        this.legend,
      ]),
      h("div", { class: "lnb-gr-body" }, [this.host, this.panel.el]),
    ]);
    this.opened = new OpenTracePanel({
      prefix: "lnb-gr",
      model,
      Explorer: explorer,
      fallbackHeight: 520,
      main: this.main,
      back: { text: "← graph", title: "back to the graph (Escape)" },
      onBack: () => this.close(),
      onDestroy: () => {
        this.openName = null;
      },
    });
    this.root = viewRoot("lnb-graph", [this.main, this.opened.el]);
    el.append(this.root);

    this.unlisten = listen(model, {
      "change:height": () => this.applyHeight(),
      "change:selected": () => this.showSelected(),
      "change:trace_id": () => this.showTrace(),
    });
    this.applyHeight();
    this.showTrace();
    this.load();
  }

  applyHeight() {
    this.root.style.height = `${Number(this.model.get("height")) || 520}px`;
  }

  load() {
    showMessage(this.message, "lnb-gr", "");
    this.rpc.request("graph").then(
      (/** @type {import("./layout.js").Payload} */ payload) => this.draw(payload),
      (/** @type {any} */ err) => {
        this.facts.textContent = "";
        showMessage(this.message, "lnb-gr", `the graph could not be loaded: ${err?.message ?? err}`, () => this.load());
      },
    );
  }

  /** @param {import("./layout.js").Payload} payload */
  draw(payload) {
    this.payload = payload;
    this.facts.textContent = factsText(payload);
    this.note.textContent = payload.truncated
      ? `only the newest ${fmt.integer(payload.trace_count)} traces (the limit)`
      : "";
    this.canvas?.destroy();
    const started = performance.now();
    this.canvas = drawGraph(this.host, payload, {
      onSelect: (id) => this.choose(id),
      selected: this.model.get("selected") ?? null,
    });
    // read by the browser tests and benchmarks
    this.root.dataset.layoutMs = (performance.now() - started).toFixed(1);
    this.root.dataset.nodes = String(payload.nodes?.length ?? 0);
    // render to the first layout on screen (the graph request to the kernel included), once
    this.root.dataset.openMs ??= (performance.now() - this.renderStarted).toFixed(1);
    this.panel.setPayload(payload);
    this.panel.show(this.canvas.selected);
  }

  /**
   * The user picked a node or an edge (null: none): the traitlet, the graph's mark, the panel.
   * @param {string | null} id
   */
  choose(id) {
    this.model.set("selected", id);
    this.model.save_changes();
    this.showSelected(); // the model may not echo an unchanged value
  }

  showSelected() {
    const id = this.model.get("selected") ?? null;
    if (!this.canvas) return;
    if (this.canvas.selected !== id) this.canvas.select(id);
    this.panel.show(this.canvas.selected);
  }

  /**
   * Open a span's trace in the explorer, on that span.
   * @param {{ trace_id: string, span_id: string, name: string }} row
   */
  open(row) {
    this.openName = String(row.name ?? "");
    openTrace(this.model, row.trace_id, row.span_id);
    this.showTrace();
  }

  close() {
    this.opened.close();
    this.showTrace();
  }

  /** The graph, or the explorer when the model has a trace open (also after a re-render). */
  showTrace() {
    const traceId = this.model.get("trace_id");
    if (!traceId) {
      this.opened.hide();
      this.panel.spans.schedule();
      return;
    }
    const name = this.openName ? `${this.openName} · ` : "";
    this.opened.show(`${name}trace ${String(traceId).slice(0, 8)}`, traceId);
  }

  destroy() {
    this.opened.destroyExplorer();
    this.canvas?.destroy();
    this.panel.destroy();
    this.rpc.close();
    this.unlisten();
    this.root.remove();
  }
}

export default mountView(GraphView, "agent graph");
