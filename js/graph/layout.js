// Where the agent graph's boxes and lines go: dagre's layered layout, top to bottom. dagre ranks the
// nodes (breaking cycles by reversing a few edges for the ranking only), orders each rank to cut
// crossings, routes every edge around the boxes (a self-loop too) and places each edge's label where
// it reserved room for it. Pure: a payload in, positions out; render.js draws them.
// The snapshot (llmops_nb/widgets/graph/_layout.py) lays the same graph out with igraph's Sugiyama.

import { Graph, layout } from "@dagrejs/dagre";
import * as fmt from "../lib/format.js";

export const NODE_H = 50;
export const MIN_W = 150;
export const MAX_W = 260;
export const CHAR_PX = 7; // an average character of the 12 px name, for widths and cutting
const TEXT_LEFT = 38; // where the name starts in a box (after the kind chip)
const LABEL_H = 16;

/**
 * @typedef {{ id: string, name: string, kind: string, calls: number, traces: number, errors: number,
 *   duration_ms: number | null, duration_ms_p50: number | null, input_tokens: number | null,
 *   output_tokens: number | null, cost_usd: number | null, in_cycle: boolean }} GraphNode
 * @typedef {{ id: string, type: "call" | "next" | "handoff", source: string, target: string, count: number,
 *   traces: number, share: number | null, duration_ms: number | null, input_tokens: number | null,
 *   output_tokens: number | null, cost_usd: number | null, errors: number, in_cycle: boolean }} GraphEdge
 * @typedef {{ id: string, nodes: string[], repeats: number, traces: number, label: string }} GraphCycle
 * @typedef {{ path: string, traces: number, share: number }} GraphPath
 * @typedef {{ trace_count: number, span_count: number, truncated: boolean, trace_ids: string[],
 *   nodes: GraphNode[], edges: GraphEdge[], cycles: GraphCycle[], paths: GraphPath[] }} Payload
 *   what the kernel's `graph` request answers (AgentGraph.payload())
 * @typedef {{ x: number, y: number }} Point
 * @typedef {{ node: GraphNode, x: number, y: number, width: number, height: number }} PlacedNode
 *   x, y: the box's centre
 * @typedef {{ edge: GraphEdge, points: Point[], label: Point, text: string, width: number }} PlacedEdge
 * @typedef {{ cycle: GraphCycle, x: number, y: number, text: string }} PlacedBadge x, y: the badge's right end, top
 * @typedef {{ width: number, height: number, nodes: PlacedNode[], edges: PlacedEdge[], badges: PlacedBadge[] }} Placed
 */

/**
 * `×12`, the total time, the tokens and the cost (the ones known), and the errors: a box's second line.
 * @param {GraphNode} node
 */
export function nodeFacts(node) {
  const facts = [`×${fmt.integer(node.calls)}`, fmt.duration(node.duration_ms)];
  const tokens = (node.input_tokens ?? 0) + (node.output_tokens ?? 0);
  if (tokens) facts.push(`${fmt.tokens(tokens)} tok`);
  if (node.cost_usd != null) facts.push(fmt.cost(node.cost_usd));
  if (node.errors) facts.push(`${fmt.integer(node.errors)} err`);
  return facts;
}

/** A box wide enough for its facts and most names, within bounds (a longer name is cut, whole in the tooltip). */
export function nodeWidth(/** @type {GraphNode} */ node) {
  const name = String(node.name ?? "");
  const facts = nodeFacts(node).join(" · ");
  return Math.max(MIN_W, Math.min(MAX_W, Math.max(TEXT_LEFT + 12 + name.length * CHAR_PX, 20 + facts.length * 6.2)));
}

/** How many characters of a name fit in a box `width` wide. */
export function nameChars(width) {
  return Math.max(4, Math.floor((width - TEXT_LEFT - 10) / CHAR_PX));
}

/** `text` cut to `chars` characters with an ellipsis (whitespace runs as one space). */
export function clip(text, chars) {
  const s = String(text ?? "")
    .split(/\s+/)
    .filter(Boolean)
    .join(" ");
  return s.length <= chars ? s : `${s.slice(0, Math.max(1, chars - 1))}…`;
}

/**
 * A line's stroke width: thicker as its count grows, on a log scale against the largest count, so one
 * edge taken 1,000 times does not make the others hairlines. A handoff is thicker still.
 * @param {number} count
 * @param {number} max the largest count of the graph
 * @param {string} [type]
 */
export function edgeWidth(count, max, type = "call") {
  const scale = Math.log1p(Math.max(0, count || 0)) / Math.log1p(Math.max(1, max || 1));
  return Math.round((1.2 + 3.5 * scale + (type === "handoff" ? 1.5 : 0)) * 10) / 10;
}

/**
 * An edge's label: `×12` for one trace; over many, `×12 · 80%` (the share of the traces that take it);
 * a handoff says so.
 * @param {GraphEdge} edge
 * @param {boolean} many
 */
export function edgeText(edge, many) {
  let text = `×${Math.round(edge.count ?? 0).toLocaleString("en-US")}`;
  if (many && edge.share != null && Number.isFinite(edge.share)) text += ` · ${Math.round(edge.share * 100)}%`;
  return edge.type === "handoff" ? `handoff ${text}` : text;
}

/** A cycle's badge: `↻ ×11`. */
export function badgeText(/** @type {GraphCycle} */ cycle) {
  return `↻ ×${Math.round(cycle.repeats ?? 0).toLocaleString("en-US")}`;
}

/**
 * Lay the payload out: boxes, routed edges with their labels, a badge per cycle at its entry node.
 * @param {Payload} payload
 * @returns {Placed}
 */
export function layoutGraph(payload) {
  const nodes = payload?.nodes ?? [];
  const edges = payload?.edges ?? [];
  if (!nodes.length) return { width: 0, height: 0, nodes: [], edges: [], badges: [] };
  const many = (payload.trace_count ?? 0) > 1;
  const g = new Graph({ multigraph: true });
  g.setGraph({ rankdir: "TB", nodesep: 36, ranksep: 56, edgesep: 16, marginx: 24, marginy: 28 });
  g.setDefaultEdgeLabel(() => ({}));
  const known = new Set();
  for (const node of nodes) {
    known.add(node.id);
    g.setNode(node.id, { width: nodeWidth(node), height: NODE_H });
  }
  const drawn = edges.filter((e) => known.has(e.source) && known.has(e.target));
  for (const edge of drawn) {
    const text = edgeText(edge, many);
    g.setEdge(
      edge.source,
      edge.target,
      // calls weigh more: the hierarchy stays straight, the flow between siblings bends around it
      { width: text.length * 6.4 + 8, height: LABEL_H, labelpos: "c", weight: edge.type === "call" ? 2 : 1 },
      edge.id,
    );
  }
  layout(g);
  const max = Math.max(1, ...drawn.map((e) => e.count ?? 0));
  /** @type {PlacedNode[]} */
  const placedNodes = nodes.map((node) => {
    const at = g.node(node.id);
    return { node, x: at.x, y: at.y, width: at.width, height: at.height };
  });
  /** @type {PlacedEdge[]} */
  const placedEdges = drawn.map((edge) => {
    const at = g.edge({ v: edge.source, w: edge.target, name: edge.id });
    const points = (at.points ?? []).map((/** @type {Point} */ p) => ({ x: p.x, y: p.y }));
    const label = Number.isFinite(at.x)
      ? { x: at.x, y: at.y }
      : (points[Math.floor(points.length / 2)] ?? { x: 0, y: 0 });
    return { edge, points, label, text: edgeText(edge, many), width: edgeWidth(edge.count, max, edge.type) };
  });
  const byId = new Map(placedNodes.map((p) => [p.node.id, p]));
  const stacked = new Map();
  /** @type {PlacedBadge[]} */
  const badges = [];
  for (const cycle of payload.cycles ?? []) {
    const entry = byId.get(cycle.nodes?.[0]);
    if (!entry) continue;
    const k = stacked.get(entry.node.id) ?? 0;
    stacked.set(entry.node.id, k + 1);
    const text = badgeText(cycle);
    badges.push({ cycle, text, x: entry.x + entry.width / 2 + 6, y: entry.y - entry.height / 2 - 10 + k * 18 });
  }
  const size = g.graph();
  return {
    width: (size.width ?? 0) + 40, // room for a badge past the rightmost box
    height: size.height ?? 0,
    nodes: placedNodes,
    edges: placedEdges,
    badges,
  };
}

/**
 * An SVG path through dagre's points: straight to the first, then curves whose controls are the
 * points in between (each bend rounded), straight into the last.
 * @param {Point[]} points
 */
export function pathData(points) {
  if (!points.length) return "";
  const f = (/** @type {number} */ v) => Math.round(v * 10) / 10;
  let d = `M${f(points[0].x)},${f(points[0].y)}`;
  if (points.length === 2) return `${d} L${f(points[1].x)},${f(points[1].y)}`;
  for (let i = 1; i < points.length - 1; i++) {
    const p = points[i];
    const next = points[i + 1];
    const end = i === points.length - 2 ? next : { x: (p.x + next.x) / 2, y: (p.y + next.y) / 2 };
    d += ` Q${f(p.x)},${f(p.y)} ${f(end.x)},${f(end.y)}`;
  }
  return d;
}

/**
 * An arrowhead at the end of `points`, pointing along its last segment, `size` px long.
 * @param {Point[]} points
 * @param {number} size
 */
export function arrowPoints(points, size) {
  if (points.length < 2) return "";
  const tip = points[points.length - 1];
  let from = points[points.length - 2];
  for (let i = points.length - 2; i >= 0 && from.x === tip.x && from.y === tip.y; i--) from = points[i];
  const dx = tip.x - from.x;
  const dy = tip.y - from.y;
  const length = Math.hypot(dx, dy) || 1;
  const ux = dx / length;
  const uy = dy / length;
  const bx = tip.x - ux * size;
  const by = tip.y - uy * size;
  const w = size * 0.45;
  const f = (/** @type {number} */ v) => Math.round(v * 10) / 10;
  return `${f(tip.x)},${f(tip.y)} ${f(bx - uy * w)},${f(by + ux * w)} ${f(bx + uy * w)},${f(by - ux * w)}`;
}
