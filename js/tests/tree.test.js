import { describe, expect, it } from "vitest";
import { decodeSkeleton } from "../explorer/skeleton.js";
import { buildTree, reveal, visibleRows } from "../explorer/tree.js";
import { agentTrace, skeletonOf } from "./helpers.js";

const tree = (parents, values) => buildTree(Int32Array.from(parents), values);

describe("buildTree", () => {
  it("orders children by index and gives depths in preorder", () => {
    //   0
    //  / \
    // 1   3
    // |
    // 2
    const t = tree([-1, 0, 1, 0]);
    expect([...t.order]).toEqual([0, 1, 2, 3]);
    expect([...t.depth]).toEqual([0, 1, 2, 1]);
    expect([...t.size]).toEqual([4, 2, 1, 1]);
    expect(t.roots).toEqual([0]);
  });

  it("places children after their parent even when they come first in the arrays", () => {
    const t = tree([2, 2, -1]);
    expect([...t.order]).toEqual([2, 0, 1]);
    expect([...t.treeParent]).toEqual([2, 2, -1]);
  });

  it("shows orphans and every span of a parent cycle exactly once, as roots", () => {
    const t = tree([-1, 2, 1, 99, 3]); // 1<->2 cycle; 3 points past the end; 4 hangs off 3
    expect([...t.order].sort()).toEqual([0, 1, 2, 3, 4]);
    expect(t.roots).toContain(0);
    expect(t.roots).toContain(3);
    expect(t.roots.some((r) => r === 1 || r === 2)).toBe(true);
  });

  it("rolls tokens and cost up to parents, leaving 'none' as NaN", () => {
    const nan = NaN;
    const t = tree([-1, 0, 0, 1], {
      inTok: Float64Array.from([nan, 10, 5, 1]),
      outTok: Float64Array.from([nan, 2, nan, 1]),
      cost: Float64Array.from([nan, 0.5, nan, nan]),
    });
    expect(t.rolled.inTok[0]).toBe(16);
    expect(t.rolled.outTok[0]).toBe(3);
    expect(t.rolled.inTok[1]).toBe(11);
    expect(t.rolled.cost[0]).toBe(0.5);
    expect(Number.isNaN(t.rolled.cost[2])).toBe(true);
    expect(Number.isNaN(t.rolled.outTok[2])).toBe(true);
  });

  it("builds a 10,000-span agent trace fast (linear)", () => {
    const skel = decodeSkeleton(skeletonOf(agentTrace(10_000)));
    const started = performance.now();
    const t = buildTree(skel.parent, skel);
    const ms = performance.now() - started;
    console.log(`buildTree 10k spans: ${ms.toFixed(1)} ms`);
    expect(t.order.length).toBe(10_000);
    expect(t.size[0]).toBe(10_000);
    expect(t.rolled.inTok[0]).toBe(100 * Math.ceil(9_999 / 9));
  });

  it("handles a 100,000-deep chain without recursion", () => {
    const parents = Array.from({ length: 100_000 }, (_, i) => i - 1);
    const t = tree(parents);
    expect(t.depth[99_999]).toBe(99_999);
    expect(t.size[0]).toBe(100_000);
  });
});

describe("visibleRows", () => {
  it("skips the inside of collapsed spans", () => {
    const t = tree([-1, 0, 1, 0, 3]);
    const collapsed = new Uint8Array(5);
    expect([...visibleRows(t, collapsed)]).toEqual([0, 1, 2, 3, 4]);
    collapsed[1] = 1;
    expect([...visibleRows(t, collapsed)]).toEqual([0, 1, 3, 4]);
    collapsed[0] = 1;
    expect([...visibleRows(t, collapsed)]).toEqual([0]);
  });

  it("reveal expands every ancestor", () => {
    const t = tree([-1, 0, 1, 2]);
    const collapsed = Uint8Array.from([1, 1, 1, 0]);
    expect(reveal(t, collapsed, 3)).toBe(true);
    expect([...collapsed]).toEqual([0, 0, 0, 0]);
    expect(reveal(t, collapsed, 3)).toBe(false);
  });
});

describe("decodeSkeleton", () => {
  it("decodes dictionary columns and turns nulls into NaN", () => {
    const s = decodeSkeleton(
      skeletonOf([
        { id: "a", name: "root", kind: "AGENT" },
        { id: "b", parent: "a", kind: "LLM", model: "gpt-4o", inTok: 3 },
        { id: "c", parent: "zzz", kind: "LLM", model: "gpt-4o" },
      ]),
    );
    expect(s.kind).toEqual(["AGENT", "LLM", "LLM"]);
    expect(s.model).toEqual([null, "gpt-4o", "gpt-4o"]);
    expect([...s.parent]).toEqual([-1, 0, -1]);
    expect(s.inTok[1]).toBe(3);
    expect(Number.isNaN(s.inTok[0])).toBe(true);
  });

  it("reads sparse numeric columns ({at, values}) and all-empty ones", () => {
    const data = skeletonOf([{ id: "a" }, { id: "b" }, { id: "c" }]);
    data.spans.input_tokens = { at: [2], values: [40] };
    data.spans.cost_usd = null;
    const s = decodeSkeleton(data);
    expect([...s.inTok].map((v) => (Number.isNaN(v) ? null : v))).toEqual([null, null, 40]);
    expect(s.cost.every(Number.isNaN)).toBe(true);
  });

  it("rejects parent indices that point at the span itself or outside", () => {
    const data = skeletonOf([{ id: "a" }, { id: "b" }]);
    data.spans.parent = [0, 7];
    expect([...decodeSkeleton(data).parent]).toEqual([-1, -1]);
  });
});
