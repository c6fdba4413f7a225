// The critical path in the view: the spans that set the trace's wall time. The kernel picks them (the
// rule is `critical_path_of` in llmops_nb/agents/_hotspots.py, shared with hotspots().critical_path())
// and sends their ids in the skeleton; here they are only drawn: an outlined bar and a dot in their
// rows (tree_view.js), a "critical path" toggle in the toolbar, and a line in a span's detail.

import { h } from "../lib/dom.js";
import * as fmt from "../lib/format.js";
import { ModelToggle } from "./toolbar.js";

export const CRITICAL_TITLE = "on the critical path: sets the trace's wall time";
const TOGGLE_TITLE =
  "critical path: outline the spans that set the trace's wall time (the chain the trace waited for; " +
  "shortening a span off it does not end the trace sooner)";

/**
 * Which groups of repeated siblings (groups.js) the path runs through: 1 per group. O(path length).
 * @param {{ criticalPath: number[] }} skel @param {{ list: any[], of: Int32Array }} groups
 */
export function criticalGroups(skel, groups) {
  const flags = new Uint8Array(groups.list.length);
  for (const i of skel.criticalPath) if (groups.of[i] >= 0) flags[groups.of[i]] = 1;
  return flags;
}

/** Mark a row (tree_view.js) as on the path, or not: its bar outlined, a dot by its name. O(1). */
export function markCritical(row, on) {
  row.el.classList.toggle("lnb-critical", on);
  row.cp.hidden = !on;
  row.bar.title = on ? CRITICAL_TITLE : "";
}

/** The dot a row on the path shows by its name (its tooltip is the legend). */
export const criticalDot = () =>
  h("span", { class: "lnb-cp", title: CRITICAL_TITLE, attrs: { "aria-label": "on the critical path" } });

/**
 * What the detail pane says of a span: on the path or not, and its share of the trace's wall time
 * (its duration over the waterfall's extent, first start to last end).
 * @returns {{ on: boolean, ms: number, wallMs: number, share: number }}
 */
export function criticalFacts(skel, node, wallMs) {
  const ms = Number.isNaN(skel.duration[node]) ? 0 : skel.duration[node];
  return { on: skel.critical[node] === 1, ms, wallMs, share: wallMs > 0 ? Math.min(1, ms / wallMs) : 0 };
}

/** `62% (3.2 s of 5.1 s)`; a sliver is `<1%`, never a misleading 0%. */
export function shareText({ share, ms, wallMs }) {
  const pct = share > 0 && share < 0.005 ? "<1%" : `${Math.round(share * 100)}%`;
  return `${pct} (${fmt.duration(ms)} of ${fmt.duration(wallMs)})`;
}

/**
 * The toolbar's "critical path" toggle, kept in `show_critical_path` (TraceExplorer's traitlet, on by default).
 * @param {import("../lib/mount.js").Model} model @param {(on: boolean) => void} onChange
 */
export function criticalToggle(model, onChange) {
  return new ModelToggle(model, "show_critical_path", {
    text: "critical path",
    title: TOGGLE_TITLE,
    cls: "lnb-cp-toggle",
    icon: h("span", { class: "lnb-cp-swatch", attrs: { "aria-hidden": "true" } }),
    onChange,
  });
}
