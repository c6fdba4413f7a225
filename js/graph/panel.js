// The panel beside the graph. With nothing selected: the graph's cycles (a click selects the cycle's
// entry node) and its typical paths with how many traces take each. With a node or an edge selected:
// what it is, its totals, and its spans (spans.js), a click on one opening it in its trace.

import { kindBadge } from "../explorer/kinds.js";
import { h } from "../lib/dom.js";
import * as fmt from "../lib/format.js";
import { badgeText } from "./layout.js";
import { SpanList } from "./spans.js";
import { plural } from "./texts.js";

/** @typedef {import("./layout.js").Payload} Payload */

const TYPES = { call: "calls", next: "then", handoff: "hands off to" };

/**
 * The selection's heading parts: a kind chip and a name for a node, `a → b` for an edge.
 * @param {Payload} payload
 * @param {string} id
 * @returns {{ kind: string | null, title: string, facts: string[] } | null}
 */
export function describe(payload, id) {
  const nodes = new Map((payload.nodes ?? []).map((n) => [n.id, n]));
  const many = (payload.trace_count ?? 0) > 1;
  const node = nodes.get(id);
  if (node) {
    const facts = [`${fmt.integer(node.calls)} calls`];
    if (many) facts.push(`in ${plural(node.traces, "trace")}`);
    facts.push(`total ${fmt.duration(node.duration_ms)}`, `median ${fmt.duration(node.duration_ms_p50)}`);
    if (node.input_tokens || node.output_tokens)
      facts.push(`${fmt.tokens(node.input_tokens ?? 0)} in / ${fmt.tokens(node.output_tokens ?? 0)} out tok`);
    if (node.cost_usd != null) facts.push(fmt.cost(node.cost_usd));
    if (node.errors) facts.push(plural(node.errors, "error"));
    return { kind: node.kind, title: String(node.name ?? ""), facts };
  }
  const edge = (payload.edges ?? []).find((e) => e.id === id);
  if (!edge) return null;
  const name = (/** @type {string} */ n) => String(nodes.get(n)?.name ?? n);
  const facts = [plural(edge.count, "time")];
  if (many) facts.push(`in ${plural(edge.traces, "trace")} (${Math.round((edge.share ?? 0) * 100)}%)`);
  facts.push(`target's time ${fmt.duration(edge.duration_ms)}`);
  if (edge.cost_usd != null) facts.push(fmt.cost(edge.cost_usd));
  if (edge.errors) facts.push(plural(edge.errors, "error"));
  return { kind: null, title: `${name(edge.source)} ${TYPES[edge.type] ?? edge.type} ${name(edge.target)}`, facts };
}

export class SidePanel {
  /**
   * @param {{ rpc: any, onSelect: (id: string | null) => void, onOpen: (row: any) => void }} options
   */
  constructor({ rpc, onSelect, onOpen }) {
    this.onSelect = onSelect;
    /** @type {Payload | null} */
    this.payload = null;
    this.overview = h("div", { class: "lnb-gr-overview" });
    this.chip = h("span", { class: "lnb-gr-kind" });
    this.title = h("span", { class: "lnb-gr-sel-title" });
    this.facts = h("div", { class: "lnb-gr-sel-facts" });
    const clear = h("button", {
      class: "lnb-gr-btn lnb-gr-clear",
      text: "×",
      title: "clear the selection (Escape)",
      attrs: { type: "button", "aria-label": "clear the selection" },
    });
    clear.addEventListener("click", () => this.onSelect(null));
    this.spans = new SpanList({ rpc, onOpen });
    this.selection = h("div", { class: "lnb-gr-selection" }, [
      h("div", { class: "lnb-gr-sel-head" }, [this.chip, this.title, h("span", { class: "lnb-grow" }), clear]),
      this.facts,
      this.spans.el,
    ]);
    this.selection.hidden = true;
    this.el = h("div", { class: "lnb-gr-panel" }, [this.overview, this.selection]);
  }

  /** @param {Payload} payload */
  setPayload(payload) {
    this.payload = payload;
    this.overview.replaceChildren(...this.overviewParts(payload));
  }

  /** @param {Payload} payload */
  overviewParts(payload) {
    const parts = [];
    const cycles = payload.cycles ?? [];
    parts.push(h("div", { class: "lnb-gr-section", text: cycles.length ? "Cycles" : "No cycles" }));
    for (const cycle of cycles) {
      const row = h("button", { class: "lnb-gr-cycle-row", attrs: { type: "button" } }, [
        h("span", { class: "lnb-gr-cycle-badge", text: badgeText(cycle) }),
        h("span", { class: "lnb-gr-cycle-label", text: cycle.label }),
        h("span", { class: "lnb-gr-muted", text: `${fmt.integer(cycle.traces)} tr.` }),
      ]);
      row.title = `${cycle.label}: repeats ${plural(cycle.repeats, "time")}, in ${plural(cycle.traces, "trace")}; click to select where it starts`;
      row.addEventListener("click", () => this.onSelect(cycle.nodes?.[0] ?? null));
      parts.push(row);
    }
    const paths = payload.paths ?? [];
    if (paths.length) {
      parts.push(
        h("div", {
          class: "lnb-gr-section",
          text: "Typical paths",
          title: "agents, tools, models and retrievers in start order; repeats as ×N",
        }),
      );
      for (const p of paths) {
        const share = Math.round((p.share ?? 0) * 100);
        const bar = h("span", { class: "lnb-gr-path-bar" });
        bar.style.width = `${Math.max(2, share)}%`;
        parts.push(
          h("div", { class: "lnb-gr-path", title: `${p.path}\n${p.traces} traces (${share}%)` }, [
            h("div", { class: "lnb-gr-path-text", text: p.path }),
            h("div", { class: "lnb-gr-path-share" }, [
              h("span", { class: "lnb-gr-path-track" }, [bar]),
              h("span", { class: "lnb-gr-muted", text: `${fmt.integer(p.traces)} · ${share}%` }),
            ]),
          ]),
        );
      }
    }
    return parts;
  }

  /**
   * Show `id`'s spans (a node or edge of the payload), or the overview (null or unknown).
   * @param {string | null} id
   */
  show(id) {
    const what = id != null && this.payload ? describe(this.payload, id) : null;
    this.overview.hidden = what != null;
    this.selection.hidden = what == null;
    if (!what || id == null) return;
    const badge = what.kind ? kindBadge(what.kind) : null;
    this.chip.hidden = !badge;
    this.chip.textContent = badge?.letters ?? "";
    this.chip.title = badge?.label ?? "";
    this.chip.style.background = badge?.color ?? "";
    this.title.textContent = what.title;
    this.title.title = what.title;
    this.facts.textContent = what.facts.join(" · ");
    this.spans.show(id);
  }

  destroy() {
    this.spans.destroy();
  }
}
