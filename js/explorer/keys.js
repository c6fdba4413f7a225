// What a key does in the span tree, and how tall the explorer is: pure functions, so the rules are
// tested without a DOM (widget.js applies them).

import { fitPx } from "../lib/fit.js";
import { ROW_HEIGHT } from "../lib/virtual.js";

const TREE_HEAD_PX = 22; // the "Span | time axis" line above the rows (style.css)
const FRAME_PX = 12; // borders, and room for a horizontal scrollbar
export const MIN_FIT_PX = 240; // enough for the detail pane of a trace with a span or two

/**
 * The action a key asks for on the active row, or null for a key the tree leaves to the notebook.
 * Up/Down (and Page Up/Down, Home/End) move; Right opens a closed row, then goes to its first child;
 * Left closes an open row, then goes to its parent; Enter or Space selects a span, opens or closes a group.
 * @param {string} key
 * @param {{ node: number, isGroup: boolean, hasChildren: boolean, open: boolean }} row the active row
 * @returns {null | { type: "move", delta: number | "page" | "-page" } | { type: "first" | "last" | "toggle" | "child" | "parent" | "select" | "none" }}
 */
export function keyAction(key, { node, isGroup, hasChildren, open }) {
  switch (key) {
    case "ArrowDown":
      return { type: "move", delta: 1 };
    case "ArrowUp":
      return { type: "move", delta: -1 };
    case "PageDown":
      return { type: "move", delta: "page" };
    case "PageUp":
      return { type: "move", delta: "-page" };
    case "Home":
      return { type: "first" };
    case "End":
      return { type: "last" };
    case "ArrowRight":
      if (node === -1) return { type: "first" };
      if (!hasChildren) return { type: "none" };
      return { type: open ? "child" : "toggle" };
    case "ArrowLeft":
      if (node === -1) return { type: "first" };
      return { type: hasChildren && open ? "toggle" : "parent" };
    case "Enter":
    case " ":
      if (node === -1) return { type: "first" };
      return { type: isGroup ? "toggle" : "select" };
    default:
      return null;
  }
}

/**
 * The explorer's height for `rows` visible rows: its content, at least MIN_FIT_PX (or `limit` if
 * smaller), at most `limit` (the `height` traitlet).
 * @param {number} rows
 * @param {number} limit
 * @param {number} headerPx
 */
export function fitHeight(rows, limit, headerPx) {
  return fitPx(headerPx + TREE_HEAD_PX + Math.max(1, rows) * ROW_HEIGHT + FRAME_PX, limit, MIN_FIT_PX);
}
