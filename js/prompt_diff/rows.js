// The rows of a diff, side by side (old | new) or inline (one column, − + ~ signs), from the
// sections the kernel sends (one for a text template, one per message pair for a chat template).
// Long unchanged runs fold into a "… N unchanged lines" button that unfolds them in place.

import { h } from "../lib/dom.js";
import { sharesWords, textNodes, wordNodes } from "./text.js";

export const CONTEXT = 3; // unchanged lines kept around each change, as in llmops_nb/_diff.py
export const MAX_ROWS = 2000; // drawn before a "draw the rest" button

const STATUS = { equal: "unchanged", change: "changed", insert: "added", delete: "removed", replace: "role changed" };

/** Rows to draw: each row near a change as {row}, each longer unchanged run as {skip: rows}. */
export function foldRows(rows, context = CONTEXT) {
  const list = Array.isArray(rows) ? rows : [];
  if (list.length <= 2 * context + 1) return list.map((row) => ({ row }));
  const changed = list.map((row) => row.op !== "equal");
  const near = list.map((_, i) => changed.slice(Math.max(0, i - context), i + context + 1).some(Boolean));
  const out = [];
  list.forEach((row, i) => {
    if (near[i]) out.push({ row });
    else if (out.length && out[out.length - 1].skip) out[out.length - 1].skip.push(row);
    else out.push({ skip: [row] });
  });
  return out;
}

const num = (n, cls = "") => h("div", { class: `lnb-pd-num ${cls}`, text: n ?? "" });
const cell = (cls, nodes) => h("div", { class: `lnb-pd-cell ${cls}` }, nodes);

function sideCells(row, vars) {
  const words = row.op === "replace" && Array.isArray(row.words);
  const left =
    row.a == null
      ? cell("lnb-pd-none", [])
      : cell(row.op === "equal" ? "" : "lnb-pd-del", words ? wordNodes(row.words, "a", vars) : textNodes(row.a, vars));
  const right =
    row.b == null
      ? cell("lnb-pd-none", [])
      : cell(row.op === "equal" ? "" : "lnb-pd-ins", words ? wordNodes(row.words, "b", vars) : textNodes(row.b, vars));
  return [num(row.a_line), left, num(row.b_line, "lnb-pd-num-b"), right];
}

function inlineLine(aLine, bLine, sign, cls, nodes) {
  return [num(aLine), num(bLine), h("div", { class: `lnb-pd-sign ${cls}`, text: sign }), cell(cls, nodes)];
}

function inlineCells(row, vars) {
  if (row.op === "equal") return inlineLine(row.a_line, row.b_line, " ", "", textNodes(row.b, vars));
  if (row.op === "replace" && Array.isArray(row.words) && sharesWords(row.words)) {
    return inlineLine(row.a_line, row.b_line, "~", "lnb-pd-chg", wordNodes(row.words, "both", vars));
  }
  const out = [];
  if (row.a != null) out.push(...inlineLine(row.a_line, null, "−", "lnb-pd-del", textNodes(row.a, vars)));
  if (row.b != null) out.push(...inlineLine(null, row.b_line, "+", "lnb-pd-ins", textNodes(row.b, vars)));
  return out;
}

function sectionTitle(section, index) {
  const roles =
    section.role_a === section.role_b ? section.role_a : `${section.role_a ?? "none"} → ${section.role_b ?? "none"}`;
  const n = (section.index_b ?? section.index_a ?? index) + 1;
  return h("div", { class: `lnb-pd-section lnb-pd-status-${section.status}` }, [
    h("span", { class: "lnb-pd-role", text: `message ${n} · ${roles}` }),
    h("span", { class: "lnb-pd-badge", text: STATUS[section.status] ?? String(section.status) }),
  ]);
}

/**
 * The rows element for `diff` ({kind, sections, variables}) in `mode` "side" or "inline".
 * `maxRows` caps what is drawn at first; a button draws the rest.
 */
export function renderRows(diff, mode, { maxRows = MAX_ROWS } = {}) {
  const inline = mode === "inline";
  const vars = diff?.variables ?? {};
  const cells = (row) => (inline ? inlineCells(row, vars) : sideCells(row, vars));
  const root = h("div", { class: `lnb-pd-rows ${inline ? "lnb-pd-inline" : "lnb-pd-side"}`, attrs: { role: "table" } });
  const items = [];
  (diff?.sections ?? []).forEach((section, i) => {
    if (diff.kind === "chat") items.push({ title: section, index: i });
    items.push(...foldRows(section.rows));
  });
  const draw = (item) => {
    if (item.title) return [sectionTitle(item.title, item.index)];
    if (item.row) return cells(item.row);
    const button = h("button", {
      class: "lnb-pd-skip",
      text: `… ${item.skip.length} unchanged line${item.skip.length === 1 ? "" : "s"} …`,
      title: "show them",
    });
    button.addEventListener("click", () => button.replaceWith(...item.skip.flatMap(cells)));
    return [button];
  };
  let drawn = 0;
  let at = 0;
  for (; at < items.length && drawn < maxRows; at++) {
    root.append(...draw(items[at]));
    drawn += 1;
  }
  if (at < items.length) {
    const rest = items.slice(at);
    const more = h("button", { class: "lnb-pd-skip lnb-pd-more", text: `draw ${rest.length} more rows (a long diff)` });
    more.addEventListener("click", () => more.replaceWith(...rest.flatMap(draw)));
    root.append(more);
  }
  if (!items.length) root.append(h("div", { class: "lnb-pd-empty", text: "both versions are empty" }));
  return root;
}
