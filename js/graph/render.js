// The agent graph drawn as SVG: `drawGraph(container, payload, { onSelect, selected })`, used by the
// graph view (widget.js) and meant for the explorer's graph tab too. Boxes show a node's kind (the
// explorer's kind colours), name, calls, total time, tokens and cost; a call is a solid line, a next
// step dashed, a handoff thick in the accent colour; lines thicken with their count; nodes and edges
// of a cycle take the cycle colour, and each cycle a badge `↻ ×repeats` at its entry node. A click (or
// Enter on a focused node or edge label) selects; Tab and the arrow keys move between nodes; drag pans,
// Ctrl/⌘ + wheel zooms, the corner buttons zoom and fit. Every string from a trace is a text node.

import { kindBadge } from "../explorer/kinds.js";
import { h } from "../lib/dom.js";
import { arrowPoints, clip, layoutGraph, nameChars, nodeFacts, pathData } from "./layout.js";
import { svg, tooltip } from "./svg.js";
import { edgeTitle, nodeTitle, plural } from "./texts.js";
import { PanZoom } from "./zoom.js";

export const EMPTY_TEXT = "No spans in these traces.";
const FIRST_MIN_ZOOM = 0.6; // a big graph's first view: readable, the rest a drag away
const KEYS_HINT = "drag to pan · Ctrl+wheel to zoom · Tab / arrows between nodes, Enter selects";

/** @typedef {import("./layout.js").Payload} Payload */

/**
 * Draw `payload` into `container`. Returns the handle: `select(id)` marks a node or edge (null: none)
 * without calling back, `fit()`, `zoomBy(f)`, `destroy()`, and `el`. With `reselect`, a click (or Enter)
 * on the node or edge already selected calls `onSelect` again (the explorer's graph tab: it picks that
 * node's spans in the tree again after the user moved on there).
 * @param {HTMLElement} container
 * @param {Payload} payload
 * @param {{ onSelect?: (id: string | null) => void, selected?: string | null, reselect?: boolean }} [options]
 */
export function drawGraph(container, payload, { onSelect = () => {}, selected = null, reselect = false } = {}) {
  const canvas = new GraphCanvas(container, payload, onSelect, selected);
  canvas.reselect = reselect;
  return canvas;
}

export class GraphCanvas {
  /**
   * @param {HTMLElement} container
   * @param {Payload} payload
   * @param {(id: string | null) => void} onSelect
   * @param {string | null} selected
   */
  constructor(container, payload, onSelect, selected) {
    this.onSelect = onSelect;
    /** a click on the selected node or edge calls onSelect again (drawGraph's `reselect`) */
    this.reselect = false;
    /** @type {string | null} */
    this.selected = null;
    /** @type {Map<string, Element[]>} a node's box, an edge's line and label, by id */
    this.items = new Map();
    /** @type {string[]} ids by the data-index of their elements */
    this.ids = [];
    this.placed = layoutGraph(payload);
    this.el = h("div", { class: "lnb-gr-canvas" });
    container.append(this.el);
    if (!this.placed.nodes.length) {
      this.el.append(h("div", { class: "lnb-gr-empty", text: EMPTY_TEXT }));
      this.zoom = null;
      return;
    }
    const many = (payload.trace_count ?? 0) > 1;
    const nodes = new Map(this.placed.nodes.map((p) => [p.node.id, p.node]));
    const edges = svg("g", { class: "lnb-gr-edges" });
    const labels = svg("g", { class: "lnb-gr-labels" });
    for (const p of this.placed.edges) {
      const [line, label] = this.drawEdge(p, edgeTitle(p.edge, nodes, many));
      edges.append(line);
      labels.append(label);
    }
    const boxes = svg("g", { class: "lnb-gr-nodes" });
    // Tab goes through the boxes top to bottom, left to right
    const order = [...this.placed.nodes].sort((a, b) => a.y - b.y || a.x - b.x);
    for (const p of order) boxes.append(this.drawNode(p, nodeTitle(p.node, many)));
    const badges = svg("g", { class: "lnb-gr-badges" });
    for (const b of this.placed.badges) badges.append(this.drawBadge(b));
    this.scene = svg("g", { class: "lnb-gr-scene" }, [edges, boxes, labels, badges]);
    this.svg = svg("svg", { class: "lnb-gr-svg", role: "group", "aria-label": "agent graph" }, [this.scene]);
    const button = (/** @type {string} */ text, /** @type {string} */ title, /** @type {() => void} */ fn) =>
      h("button", { class: "lnb-gr-btn", text, title, attrs: { type: "button" }, on: { click: fn } });
    this.el.append(
      this.svg,
      h("div", { class: "lnb-gr-tools" }, [
        button("+", "zoom in (+)", () => this.zoomBy(1.25)),
        button("−", "zoom out (−)", () => this.zoomBy(0.8)),
        button("fit", "show the whole graph (0)", () => this.fit()),
      ]),
      h("div", { class: "lnb-gr-hint", text: KEYS_HINT }),
    );
    this.zoom = new PanZoom(this.el, this.scene, this.placed);
    this.zoom.fit(FIRST_MIN_ZOOM);
    this.svg.addEventListener("click", (event) => this.click(event));
    this.svg.addEventListener("keydown", (event) => this.key(event));
    this.svg.addEventListener("focusin", (event) => this.focused(event));
    if (globalThis.ResizeObserver) {
      // drawn while hidden (0 px wide), or the output resized: fit again until the user moved the view
      this.resizer = new ResizeObserver(() => this.zoom && !this.zoom.touched && this.zoom.fit(FIRST_MIN_ZOOM));
      this.resizer.observe(this.el);
    }
    this.select(selected);
  }

  /**
   * @param {string} id
   * @param {Element} el
   */
  register(id, el) {
    el.setAttribute("data-index", String(this.ids.length));
    this.ids.push(id);
    const list = this.items.get(id) ?? [];
    list.push(el);
    this.items.set(id, list);
  }

  /**
   * @param {import("./layout.js").PlacedNode} p
   * @param {string} title
   */
  drawNode(p, title) {
    const { node, width: w, height: ht } = p;
    const badge = kindBadge(node.kind);
    const classes = ["lnb-gr-node", node.in_cycle ? "lnb-gr-in-cycle" : "", node.errors ? "lnb-gr-errors" : ""];
    const g = svg(
      "g",
      { class: classes.filter(Boolean).join(" "), transform: `translate(${p.x},${p.y})`, tabindex: 0, role: "button" },
      [
        tooltip(title),
        svg("rect", { class: "lnb-gr-box", x: -w / 2, y: -ht / 2, width: w, height: ht, rx: 6 }),
        svg("rect", {
          class: "lnb-gr-chip",
          x: -w / 2 + 8,
          y: -ht / 2 + 8,
          width: 22,
          height: 16,
          rx: 3,
          fill: badge.color,
        }),
        svg("text", { class: "lnb-gr-chip-text", x: -w / 2 + 19, y: -ht / 2 + 20 }, [badge.letters]),
        svg("text", { class: "lnb-gr-name", x: -w / 2 + 38, y: -ht / 2 + 21 }, [clip(node.name, nameChars(w))]),
        svg("text", { class: "lnb-gr-facts", x: -w / 2 + 8, y: -ht / 2 + 40 }, [nodeFacts(node).join(" · ")]),
      ],
    );
    g.setAttribute("aria-label", `${node.kind} ${node.name}`); // an attribute value: never parsed as markup
    this.register(node.id, g);
    return g;
  }

  /**
   * @param {import("./layout.js").PlacedEdge} p
   * @param {string} title
   * @returns {[SVGElement, SVGElement]}
   */
  drawEdge(p, title) {
    const { edge } = p;
    const classes = `lnb-gr-edge lnb-gr-${edge.type}${edge.in_cycle ? " lnb-gr-in-cycle" : ""}`;
    const arrow = 5 + p.width * 1.2;
    const selfLoop = edge.source === edge.target;
    const points = selfLoop ? this.loopPoints(p) : p.points;
    const d = selfLoop ? loopPath(points) : pathData(trimEnd(points, arrow * 0.7));
    const line = svg("g", { class: classes }, [
      tooltip(title),
      svg("path", { class: "lnb-gr-hit", d }),
      svg("path", { class: "lnb-gr-line", d, "stroke-width": p.width }),
      svg("polygon", { class: "lnb-gr-arrow", points: arrowPoints(selfLoop ? points.slice(-2) : points, arrow) }),
    ]);
    const w = p.text.length * 6.4 + 8;
    // a loop's curve reaches three quarters of the way to its controls: its label just past that
    const at = selfLoop
      ? { x: points[0].x + (points[1].x - points[0].x) * 0.75 + w / 2 + 6, y: (points[0].y + points[3].y) / 2 }
      : p.label;
    const label = svg(
      "g",
      { class: `lnb-gr-elabel ${classes}`, transform: `translate(${at.x},${at.y})`, tabindex: 0, role: "button" },
      [tooltip(title), svg("rect", { x: -w / 2, y: -8, width: w, height: 16, rx: 3 }), svg("text", { y: 4 }, [p.text])],
    );
    label.setAttribute("aria-label", title.replace(/\n/g, ", "));
    this.register(edge.id, line);
    this.register(edge.id, label);
    return [line, label];
  }

  /**
   * A self-loop on the box's right side (dagre's own points for one are not a loop), one per edge.
   * @param {import("./layout.js").PlacedEdge} p
   */
  loopPoints(p) {
    const box = this.placed.nodes.find((n) => n.node.id === p.edge.source);
    if (!box) return p.points;
    const k = this.placed.edges
      .filter((e) => e.edge.source === e.edge.target && e.edge.source === p.edge.source)
      .indexOf(p);
    const x = box.x + box.width / 2;
    const reach = LOOP_REACH + 12 * k;
    return [
      { x, y: box.y - 12 },
      { x: x + reach, y: box.y - 26 },
      { x: x + reach, y: box.y + 26 },
      { x, y: box.y + 12 },
    ];
  }

  /** @param {import("./layout.js").PlacedBadge} b */
  drawBadge(b) {
    const w = b.text.length * 7 + 12;
    const g = svg("g", { class: "lnb-gr-badge", transform: `translate(${b.x - w},${b.y})` }, [
      tooltip(
        `cycle ${b.cycle.label}\nrepeats ${plural(b.cycle.repeats, "time")}, in ${plural(b.cycle.traces, "trace")}`,
      ),
      svg("rect", { width: w, height: 16, rx: 8 }),
      svg("text", { x: w / 2, y: 12 }, [b.text]),
    ]);
    this.register(b.cycle.nodes[0], g);
    return g;
  }

  /**
   * Mark `id` (a node or edge; null or unknown: none) as selected, without calling back.
   * @param {string | null} id
   */
  select(id) {
    for (const el of this.items.get(this.selected ?? "") ?? []) {
      el.classList.remove("lnb-gr-selected");
      if (el.getAttribute("role")) el.setAttribute("aria-pressed", "false");
    }
    this.selected = id != null && this.items.has(id) ? id : null;
    for (const el of this.items.get(this.selected ?? "") ?? []) {
      el.classList.add("lnb-gr-selected");
      if (el.getAttribute("role")) el.setAttribute("aria-pressed", "true");
    }
  }

  /** @param {Element | null} target */
  idOf(target) {
    const el = target?.closest?.("[data-index]");
    return el ? (this.ids[Number(el.getAttribute("data-index"))] ?? null) : null;
  }

  /** @param {MouseEvent} event */
  click(event) {
    if (this.zoom?.dragged) {
      this.zoom.dragged = false; // the end of a drag, not a click
      return;
    }
    const id = this.idOf(/** @type {Element} */ (event.target));
    this.choose(id);
  }

  /** @param {string | null} id */
  choose(id) {
    if (id === this.selected && !(this.reselect && id != null)) return;
    this.select(id);
    this.onSelect(this.selected);
  }

  /** @param {KeyboardEvent} event */
  key(event) {
    const target = /** @type {Element} */ (event.target);
    const id = this.idOf(target);
    let handled = true;
    if ((event.key === "Enter" || event.key === " ") && id != null) this.choose(id);
    else if (event.key === "Escape" && this.selected != null) this.choose(null);
    else if (event.key === "+" || event.key === "=") this.zoomBy(1.25);
    else if (event.key === "-" || event.key === "−") this.zoomBy(0.8);
    else if (event.key === "0") this.fit();
    else if (event.key.startsWith("Arrow")) this.step(target, event.key);
    else handled = false;
    if (handled) {
      event.preventDefault();
      event.stopPropagation(); // the notebook's shortcuts do not see them
    }
  }

  /**
   * Focus the nearest box in the arrow's direction from the focused one.
   * @param {Element} from
   * @param {string} key
   */
  step(from, key) {
    const boxes = [...(this.svg?.querySelectorAll(".lnb-gr-node") ?? [])];
    const here = this.placed.nodes.find((p) => p.node.id === this.idOf(from));
    if (!here) {
      /** @type {SVGElement | undefined} */ (boxes[0])?.focus();
      return;
    }
    const [dx, dy] = { ArrowUp: [0, -1], ArrowDown: [0, 1], ArrowLeft: [-1, 0], ArrowRight: [1, 0] }[key] ?? [0, 0];
    let best = null;
    let bestScore = Number.POSITIVE_INFINITY;
    for (const p of this.placed.nodes) {
      const ox = p.x - here.x;
      const oy = p.y - here.y;
      const along = ox * dx + oy * dy;
      if (p === here || along <= 0) continue;
      const score = along + 2 * Math.abs(ox * dy + oy * dx); // ahead first, off the line costs more
      if (score < bestScore) {
        bestScore = score;
        best = p;
      }
    }
    const el = best && this.items.get(best.node.id)?.find((e) => e.classList.contains("lnb-gr-node"));
    /** @type {SVGElement | undefined} */ (el)?.focus();
  }

  /** A box or label that gets the keyboard is brought into view. @param {FocusEvent} event */
  focused(event) {
    const id = this.idOf(/** @type {Element} */ (event.target));
    const p = this.placed.nodes.find((n) => n.node.id === id);
    if (p) this.zoom?.reveal(p.x - p.width / 2, p.y - p.height / 2, p.width, p.height);
  }

  fit() {
    if (this.zoom) this.zoom.touched = true;
    this.zoom?.fit();
  }

  /** @param {number} factor */
  zoomBy(factor) {
    this.zoom?.zoomBy(factor);
  }

  destroy() {
    this.resizer?.disconnect();
    this.zoom?.destroy();
    this.el.remove();
  }
}

const LOOP_REACH = 34;

/** @param {import("./layout.js").Point[]} p a loop's four points: out, two controls, back */
function loopPath(p) {
  const f = (/** @type {number} */ v) => Math.round(v * 10) / 10;
  return `M${f(p[0].x)},${f(p[0].y)} C${f(p[1].x)},${f(p[1].y)} ${f(p[2].x)},${f(p[2].y)} ${f(p[3].x)},${f(p[3].y)}`;
}

/**
 * The polyline shortened by `by` px at its end, so a thick line stops inside its arrowhead.
 * @param {import("./layout.js").Point[]} points
 * @param {number} by
 */
function trimEnd(points, by) {
  if (points.length < 2) return points;
  const tip = points[points.length - 1];
  const from = points[points.length - 2];
  const length = Math.hypot(tip.x - from.x, tip.y - from.y);
  if (length <= by) return points;
  const t = (length - by) / length;
  return [...points.slice(0, -1), { x: from.x + (tip.x - from.x) * t, y: from.y + (tip.y - from.y) * t }];
}
