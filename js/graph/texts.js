// What the graph's boxes and lines say on hover, in words: a node's whole name and totals, an edge as
// a sentence (`planner hands off to writer`). Plain strings; render.js puts them in <title>s as text.

import * as fmt from "../lib/format.js";

/** @typedef {import("./layout.js").GraphNode} GraphNode */
/** @typedef {import("./layout.js").GraphEdge} GraphEdge */

/**
 * A node's tooltip: everything its box shortens.
 * @param {GraphNode} node
 * @param {boolean} many
 */
export function nodeTitle(node, many) {
  const lines = [String(node.name ?? ""), `${node.kind} · ${fmt.integer(node.calls)} calls`];
  if (many) lines.push(`in ${plural(node.traces, "trace")}`);
  lines.push(`total ${fmt.duration(node.duration_ms)} · median ${fmt.duration(node.duration_ms_p50)}`);
  if (node.input_tokens || node.output_tokens)
    lines.push(`${fmt.integer(node.input_tokens)} tokens in / ${fmt.integer(node.output_tokens)} out`);
  if (node.cost_usd != null) lines.push(`cost ${fmt.cost(node.cost_usd)}`);
  if (node.errors) lines.push(plural(node.errors, "error"));
  if (node.in_cycle) lines.push("in a cycle");
  return lines.join("\n");
}

/**
 * `1 error`, `3 errors`.
 * @param {number} n
 * @param {string} noun
 */
export function plural(n, noun) {
  return `${fmt.integer(n)} ${noun}${n === 1 ? "" : "s"}`;
}

const VERBS = { call: "calls", next: "then", handoff: "hands off to" };

/**
 * An edge's tooltip: `planner calls search`, how often, in how many traces.
 * @param {GraphEdge} edge
 * @param {Map<string, GraphNode>} nodes
 * @param {boolean} many
 */
export function edgeTitle(edge, nodes, many) {
  const name = (/** @type {string} */ id) => String(nodes.get(id)?.name ?? id);
  const lines = [`${name(edge.source)} ${VERBS[edge.type] ?? edge.type} ${name(edge.target)}`];
  lines.push(`${plural(edge.count, "time")}${many ? ` in ${plural(edge.traces, "trace")}` : ""}`);
  if (edge.errors) lines.push(plural(edge.errors, "error"));
  if (edge.in_cycle) lines.push("in a cycle");
  return lines.join("\n");
}
