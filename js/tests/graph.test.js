import { afterEach, describe, expect, it } from "vitest";
import {
  arrowPoints,
  badgeText,
  clip,
  edgeText,
  edgeWidth,
  layoutGraph,
  nodeFacts,
  nodeWidth,
  pathData,
} from "../graph/layout.js";
import { describe as describeSelection } from "../graph/panel.js";
import { drawGraph, EMPTY_TEXT } from "../graph/render.js";
import { edgeTitle, nodeTitle } from "../graph/texts.js";
import { fitView, zoomedView } from "../graph/zoom.js";

import { agentPayload, edge, node, XSS } from "./graph_payload.js";

const canvases = [];
afterEach(() => {
  for (const c of canvases.splice(0)) c.destroy();
  document.body.replaceChildren();
  delete window.__xss;
});

function draw(payload = agentPayload(), options = {}) {
  const container = document.createElement("div");
  document.body.append(container);
  const selections = [];
  const canvas = drawGraph(container, payload, { onSelect: (id) => selections.push(id), ...options });
  canvases.push(canvas);
  return { container, canvas, selections };
}

/** The element drawn for a node, found by its name as shown. */
const box = (container, name) =>
  [...container.querySelectorAll(".lnb-gr-node")].find((g) => g.querySelector(".lnb-gr-name").textContent === name);

describe("layoutGraph (dagre, top to bottom)", () => {
  it("places every node, the caller above what it calls, and routes every edge with a label", () => {
    const placed = layoutGraph(agentPayload());
    const at = Object.fromEntries(placed.nodes.map((p) => [p.node.id, p]));
    expect(Object.keys(at)).toHaveLength(5);
    for (const p of placed.nodes) {
      expect(Number.isFinite(p.x) && Number.isFinite(p.y)).toBe(true);
      expect(p.width).toBe(nodeWidth(p.node));
    }
    expect(at["AGENT:planner"].y).toBeLessThan(at["LLM:llm"].y);
    expect(at["AGENT:planner"].y).toBeLessThan(at["AGENT:writer"].y);
    expect(at["AGENT:writer"].y).toBeLessThan(at[`TOOL:${XSS}`].y);
    // boxes of one rank do not overlap
    for (const a of placed.nodes)
      for (const b of placed.nodes)
        if (a !== b && a.y === b.y) expect(Math.abs(a.x - b.x)).toBeGreaterThanOrEqual((a.width + b.width) / 2);
    expect(placed.edges).toHaveLength(8);
    for (const e of placed.edges) {
      expect(e.points.length).toBeGreaterThanOrEqual(2);
      expect(Number.isFinite(e.label.x) && Number.isFinite(e.label.y)).toBe(true);
    }
    const texts = Object.fromEntries(placed.edges.map((e) => [e.edge.id, e.text]));
    expect(texts["call:AGENT:planner->LLM:llm"]).toBe("×9 · 100%");
    expect(texts["handoff:AGENT:planner->AGENT:writer"]).toBe("handoff ×3 · 100%");
    expect(texts["next:TOOL:search->TOOL:search"]).toBe("×2 · 33%");
    expect(placed.width).toBeGreaterThan(0);
    expect(placed.height).toBeGreaterThan(0);
    // a badge per cycle, at its entry node; two on one node stack
    expect(placed.badges.map((b) => b.text)).toEqual(["↻ ×5", "↻ ×2"]);
  });

  it("lays out an empty graph as nothing, and ignores edges to unknown nodes", () => {
    expect(layoutGraph({ ...agentPayload(), nodes: [], edges: [] }).nodes).toEqual([]);
    const p = agentPayload();
    p.edges.push(edge("call", "AGENT:planner", "TOOL:gone"));
    expect(layoutGraph(p).edges).toHaveLength(8);
  });

  it("labels, widths and shapes", () => {
    const one = edge("next", "a", "b", 12, { share: 0.8 });
    expect(edgeText(one, false)).toBe("×12");
    expect(edgeText(one, true)).toBe("×12 · 80%");
    expect(edgeText({ ...one, type: "handoff" }, false)).toBe("handoff ×12");
    expect(edgeWidth(1, 1000)).toBeLessThan(edgeWidth(10, 1000));
    expect(edgeWidth(10, 1000)).toBeLessThan(edgeWidth(1000, 1000));
    expect(edgeWidth(1000, 1000)).toBeLessThan(edgeWidth(1000, 1000, "handoff"));
    expect(edgeWidth(1000, 1000)).toBeLessThanOrEqual(4.7); // log scale: bounded
    expect(badgeText({ repeats: 11 })).toBe("↻ ×11");
    expect(clip("a   very\nlong name", 8)).toBe("a very …");
    expect(nodeWidth(node("TOOL", "x".repeat(500)))).toBe(260);
    expect(
      pathData([
        { x: 0, y: 0 },
        { x: 10, y: 10 },
      ]),
    ).toBe("M0,0 L10,10");
    expect(
      pathData([
        { x: 0, y: 0 },
        { x: 10, y: 10 },
        { x: 20, y: 0 },
      ]),
    ).toBe("M0,0 Q10,10 20,0");
    expect(
      arrowPoints(
        [
          { x: 0, y: 0 },
          { x: 0, y: 10 },
        ],
        4,
      ),
    ).toBe("0,10 -1.8,6 1.8,6");
  });

  it("texts of boxes, tooltips and the panel's heading", () => {
    const llm = agentPayload().nodes[1];
    expect(nodeFacts(llm)).toEqual(["×9", "100 ms", "1.5k tok", "$0.0042"]);
    expect(nodeFacts(agentPayload().nodes[2])).toContain("1 err");
    expect(nodeTitle(llm, true)).toContain("in 1 trace\n");
    const nodes = new Map(agentPayload().nodes.map((n) => [n.id, n]));
    expect(edgeTitle(agentPayload().edges[6], nodes, true)).toBe("planner hands off to writer\n3 times in 3 traces");
    const heading = describeSelection(agentPayload(), "TOOL:search");
    expect(heading.kind).toBe("TOOL");
    expect(heading.facts).toContain("1 error");
    expect(describeSelection(agentPayload(), "next:LLM:llm->TOOL:search").title).toBe("llm then search");
    expect(describeSelection(agentPayload(), "nope")).toBeNull();
  });
});

describe("drawGraph", () => {
  it("draws boxes, lines and labels with counts, handoffs apart, and the cycles highlighted with badges", () => {
    const { container } = draw();
    expect(container.querySelectorAll(".lnb-gr-node")).toHaveLength(5);
    expect(container.querySelectorAll(".lnb-gr-edges > .lnb-gr-edge")).toHaveLength(8);
    const search = box(container, "search");
    expect(search.classList.contains("lnb-gr-in-cycle")).toBe(true);
    expect(search.classList.contains("lnb-gr-errors")).toBe(true);
    expect(search.querySelector(".lnb-gr-chip-text").textContent).toBe("TL");
    expect(box(container, "planner").classList.contains("lnb-gr-in-cycle")).toBe(false);
    expect(box(container, "llm").querySelector(".lnb-gr-facts").textContent).toBe("×9 · 100 ms · 1.5k tok · $0.0042");
    const cycleEdges = container.querySelectorAll(".lnb-gr-edges > .lnb-gr-edge.lnb-gr-in-cycle");
    expect(cycleEdges).toHaveLength(3);
    expect(container.querySelectorAll(".lnb-gr-edges > .lnb-gr-next")).toHaveLength(3);
    const handoff = container.querySelector(".lnb-gr-edges > .lnb-gr-handoff");
    expect(handoff.querySelector("title").textContent).toContain("hands off to");
    // thicker for more: the llm call (9) over the writer's call (2)
    const width = (g) => Number(g.querySelector(".lnb-gr-line").getAttribute("stroke-width"));
    const lines = [...container.querySelectorAll(".lnb-gr-edges > .lnb-gr-edge")];
    const byTitle = (text) => lines.find((g) => g.querySelector("title").textContent.startsWith(text));
    expect(width(byTitle("planner calls llm"))).toBeGreaterThan(width(byTitle("writer calls")));
    const labels = [...container.querySelectorAll(".lnb-gr-elabel text")].map((t) => t.textContent);
    expect(labels).toContain("handoff ×3 · 100%");
    expect(labels).toContain("×2 · 33%");
    const badges = [...container.querySelectorAll(".lnb-gr-badge")];
    expect(badges.map((b) => b.querySelector("text").textContent)).toEqual(["↻ ×5", "↻ ×2"]);
    expect(badges[0].querySelector("title").textContent).toContain("llm → search ×5");
  });

  it("shows a name from a trace as text only: nothing runs, no element is made of it", () => {
    const { container } = draw();
    expect(container.querySelector("img")).toBeNull();
    expect(window.__xss).toBeUndefined();
    const xss = [...container.querySelectorAll(".lnb-gr-node")].find((g) =>
      g.querySelector("title").textContent.startsWith(XSS),
    );
    expect(xss.querySelector(".lnb-gr-name").textContent.startsWith("<img src=x")).toBe(true);
    expect(xss.getAttribute("aria-label")).toBe(`TOOL ${XSS}`);
    expect(xss.querySelector(".lnb-gr-name").children).toHaveLength(0);
    expect(container.querySelectorAll("img, script, a, foreignObject, [onerror]")).toHaveLength(0);
  });

  it("says so when there is nothing to draw", () => {
    const { container, canvas } = draw({ ...agentPayload(), nodes: [], edges: [], cycles: [], span_count: 0 });
    expect(container.querySelector(".lnb-gr-empty").textContent).toBe(EMPTY_TEXT);
    canvas.select("x");
    canvas.fit();
    expect(canvas.selected).toBeNull();
  });

  it("a click on a box or on an edge's label selects it; the selection is marked; Escape clears it", () => {
    const { container, canvas, selections } = draw();
    box(container, "search").dispatchEvent(new MouseEvent("click", { bubbles: true }));
    expect(selections).toEqual(["TOOL:search"]);
    expect(box(container, "search").classList.contains("lnb-gr-selected")).toBe(true);
    expect(box(container, "search").getAttribute("aria-pressed")).toBe("true");
    const label = [...container.querySelectorAll(".lnb-gr-elabel")].find(
      (g) => g.querySelector("text").textContent === "handoff ×3 · 100%",
    );
    label.dispatchEvent(new MouseEvent("click", { bubbles: true }));
    expect(selections.at(-1)).toBe("handoff:AGENT:planner->AGENT:writer");
    expect(label.classList.contains("lnb-gr-selected")).toBe(true);
    expect(container.querySelector(".lnb-gr-edges > .lnb-gr-handoff").classList.contains("lnb-gr-selected")).toBe(true);
    expect(box(container, "search").classList.contains("lnb-gr-selected")).toBe(false);
    // the same again: no second call; the line itself selects too
    label.dispatchEvent(new MouseEvent("click", { bubbles: true }));
    expect(selections).toHaveLength(2);
    container
      .querySelector(".lnb-gr-edges > .lnb-gr-call .lnb-gr-hit")
      .dispatchEvent(new MouseEvent("click", { bubbles: true }));
    expect(selections.at(-1)).toBe("call:AGENT:planner->LLM:llm");
    // a cycle's badge selects where the cycle starts
    container.querySelector(".lnb-gr-badge").dispatchEvent(new MouseEvent("click", { bubbles: true }));
    expect(selections.at(-1)).toBe("LLM:llm");
    canvas.svg.dispatchEvent(new KeyboardEvent("keydown", { key: "Escape", bubbles: true }));
    expect(selections.at(-1)).toBeNull();
    // the background: nothing selected any more
    canvas.select("TOOL:search");
    canvas.svg.dispatchEvent(new MouseEvent("click", { bubbles: true }));
    expect(selections.at(-1)).toBeNull();
  });

  it("starts with the given selection and marks one without calling back", () => {
    const { container, canvas, selections } = draw(agentPayload(), { selected: "AGENT:writer" });
    expect(box(container, "writer").classList.contains("lnb-gr-selected")).toBe(true);
    canvas.select("LLM:llm");
    expect(box(container, "llm").classList.contains("lnb-gr-selected")).toBe(true);
    canvas.select("unknown");
    expect(canvas.selected).toBeNull();
    expect(container.querySelectorAll(".lnb-gr-selected")).toHaveLength(0);
    expect(selections).toEqual([]);
  });

  it("keyboard: boxes are tabbable top to bottom, Enter selects, arrows move between them, + − 0 zoom", () => {
    const { container, canvas, selections } = draw();
    const boxes = [...container.querySelectorAll(".lnb-gr-node")];
    expect(boxes.every((g) => g.getAttribute("tabindex") === "0")).toBe(true);
    expect(boxes[0].querySelector(".lnb-gr-name").textContent).toBe("planner");
    const key = (el, k) => el.dispatchEvent(new KeyboardEvent("keydown", { key: k, bubbles: true, cancelable: true }));
    key(box(container, "writer"), "Enter");
    expect(selections).toEqual(["AGENT:writer"]);
    box(container, "planner").focus();
    key(box(container, "planner"), "ArrowDown");
    expect(document.activeElement?.classList.contains("lnb-gr-node")).toBe(true);
    expect(document.activeElement).not.toBe(box(container, "planner"));
    const zoom = () => Number(canvas.el.dataset.zoom);
    const before = zoom();
    key(box(container, "planner"), "+");
    expect(zoom()).toBeGreaterThan(before);
    key(box(container, "planner"), "0");
    expect(zoom()).toBeLessThanOrEqual(100);
  });

  it("the zoom buttons and the view arithmetic", () => {
    const { container, canvas } = draw();
    const [plus, minus, fit] = container.querySelectorAll(".lnb-gr-btn");
    const zoom = () => Number(canvas.el.dataset.zoom);
    fit.click();
    const fitted = zoom();
    plus.click();
    expect(zoom()).toBeGreaterThan(fitted);
    minus.click();
    minus.click();
    expect(zoom()).toBeLessThan(fitted);
    expect(fitView(400, 200, 800, 460)).toEqual({ k: 1, x: 200, y: 130 }); // small: full size, centred
    const big = fitView(4000, 2000, 800, 460);
    expect(big.k).toBeCloseTo(0.194, 2);
    expect(fitView(4000, 2000, 800, 460, 0.5).k).toBe(0.5);
    const z = zoomedView({ k: 1, x: 0, y: 0 }, 2, 100, 100);
    expect(z).toEqual({ k: 2, x: -100, y: -100 }); // the point under the pointer stays
  });
});
