// The text of one diff line as nodes: `{{variables}}` picked out, and the word-level runs the kernel
// computed (difflib, [tag, a, b]) marked as <del>/<ins>. Every piece of prompt text becomes a text
// node; the only markup is ours.

import { h, text } from "../lib/dom.js";

const VARIABLE = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;
const TAGS = new Set(["equal", "insert", "delete", "replace"]);

/**
 * Nodes for `value` with each `{{name}}` in a <span class="lnb-pd-var">; `vars.added` / `vars.removed`
 * (arrays of names) add lnb-pd-var-added / lnb-pd-var-removed so new and dropped variables stand out.
 */
export function textNodes(value, vars = {}) {
  const str = value == null ? "" : String(value);
  const added = new Set(vars.added ?? []);
  const removed = new Set(vars.removed ?? []);
  const out = [];
  let at = 0;
  for (const match of str.matchAll(VARIABLE)) {
    if (match.index > at) out.push(text(str.slice(at, match.index)));
    const name = match[1];
    const state = added.has(name) ? " lnb-pd-var-added" : removed.has(name) ? " lnb-pd-var-removed" : "";
    out.push(h("span", { class: `lnb-pd-var${state}`, text: match[0], title: varTitle(name, state) }));
    at = match.index + match[0].length;
  }
  if (at < str.length) out.push(text(str.slice(at)));
  return out;
}

function varTitle(name, state) {
  if (state.includes("added")) return `variable ${name}: added`;
  if (state.includes("removed")) return `variable ${name}: removed`;
  return `variable ${name}`;
}

/**
 * Nodes for word runs: side "a" shows the old line (removed words in <del>), "b" the new one (added
 * words in <ins>), "both" one inline run with each removal before its replacement.
 */
export function wordNodes(words, side, vars = {}) {
  const out = [];
  for (const run of Array.isArray(words) ? words : []) {
    if (!Array.isArray(run) || !TAGS.has(run[0])) continue;
    const [tag, a = "", b = ""] = run;
    if (tag === "equal") {
      out.push(...textNodes(side === "a" ? a : b, vars));
      continue;
    }
    if (a && side !== "b" && tag !== "insert") out.push(h("del", { class: "lnb-pd-wdel" }, textNodes(a, vars)));
    if (b && side !== "a" && tag !== "delete") out.push(h("ins", { class: "lnb-pd-wins" }, textNodes(b, vars)));
  }
  return out;
}

/** Whether a changed line shares visible words with its old self (else it reads better as −/+ lines). */
export function sharesWords(words) {
  return (Array.isArray(words) ? words : []).some(
    (run) => Array.isArray(run) && run[0] === "equal" && String(run[1] ?? "").trim(),
  );
}

/** A metadata value as people read it: strings as they are, anything else as JSON. */
export function showValue(value) {
  if (value == null) return "";
  if (typeof value === "string") return value;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
