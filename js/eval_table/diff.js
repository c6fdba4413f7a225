// Word-level diffs of two outputs, as the kernel computed them (llmops_nb.diff, flattened to
// [tag, baseline text, candidate text] runs). Every piece reaches the page as a text node.

import { h, text } from "../lib/dom.js";

const TAGS = new Set(["equal", "insert", "delete", "replace"]);

/**
 * Nodes for `ops`: side "a" shows the baseline (deletions marked), "b" the candidate (insertions
 * marked), "both" one inline run with deletions struck through before insertions.
 */
export function diffNodes(ops, side = "both") {
  const out = [];
  for (const op of Array.isArray(ops) ? ops : []) {
    if (!Array.isArray(op) || !TAGS.has(op[0])) continue;
    const [tag, a = "", b = ""] = op;
    if (tag === "equal") {
      out.push(text(side === "a" ? a : b));
      continue;
    }
    const removed = (tag === "delete" || tag === "replace") && a;
    const added = (tag === "insert" || tag === "replace") && b;
    if (removed && side !== "b") out.push(h("del", { class: "lnb-ev-del", text: a }));
    if (added && side !== "a") out.push(h("ins", { class: "lnb-ev-ins", text: b }));
  }
  return out;
}

/** How many words changed: {added, removed} counted on whitespace-separated words. */
export function diffStats(ops) {
  const words = (s) => (String(s ?? "").match(/\S+/g) ?? []).length;
  let added = 0;
  let removed = 0;
  for (const op of Array.isArray(ops) ? ops : []) {
    if (!Array.isArray(op)) continue;
    if (op[0] === "insert" || op[0] === "replace") added += words(op[2]);
    if (op[0] === "delete" || op[0] === "replace") removed += words(op[1]);
  }
  return { added, removed };
}

/** True when the two sides are the same text. */
export function unchanged(ops) {
  return (Array.isArray(ops) ? ops : []).every((op) => Array.isArray(op) && op[0] === "equal");
}
