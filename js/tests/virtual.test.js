import { describe, expect, it } from "vitest";
import { scrollToReveal, visibleWindow } from "../lib/virtual.js";

describe("visibleWindow", () => {
  it("covers the viewport plus overscan", () => {
    expect(visibleWindow(0, 240, 10_000, 24, 6)).toEqual({ start: 0, end: 16, offset: 0, height: 240_000 });
    const w = visibleWindow(24 * 500 + 5, 240, 10_000, 24, 6);
    expect(w.start).toBe(494);
    expect(w.end).toBe(500 + 11 + 6);
    expect(w.offset).toBe(494 * 24);
  });

  it("clamps at the end, for tiny lists and for odd input", () => {
    expect(visibleWindow(1e9, 240, 100, 24, 6)).toMatchObject({ start: 100, end: 100 });
    expect(visibleWindow(0, 240, 3, 24, 6)).toMatchObject({ start: 0, end: 3 });
    expect(visibleWindow(-50, -10, 0, 24, 6)).toMatchObject({ start: 0, end: 0, height: 0 });
  });

  it("renders the same number of rows wherever you scroll (smooth: no growth)", () => {
    const sizes = new Set();
    for (let top = 0; top < 24 * 9_000; top += 37) {
      const w = visibleWindow(top, 300, 10_000, 24, 6);
      sizes.add(w.end - w.start);
    }
    expect(Math.max(...sizes)).toBeLessThanOrEqual(Math.ceil(300 / 24) + 1 + 12);
  });
});

describe("scrollToReveal", () => {
  it("moves only as far as needed", () => {
    expect(scrollToReveal(5, 0, 240, 24)).toBe(0); // already visible
    expect(scrollToReveal(20, 0, 240, 24)).toBe(21 * 24 - 240); // below: align bottom
    expect(scrollToReveal(2, 480, 240, 24)).toBe(48); // above: align top
  });
});
