import { describe, expect, it } from "vitest";
import * as fmt from "../lib/format.js";

describe("cost", () => {
  it("keeps two significant digits below a dollar and two decimals above", () => {
    expect(fmt.cost(0.000017)).toBe("$0.000017");
    expect(fmt.cost(0.0000093)).toBe("$0.0000093");
    expect(fmt.cost(0.0012)).toBe("$0.0012");
    expect(fmt.cost(0.42)).toBe("$0.42");
    expect(fmt.cost(0.1)).toBe("$0.10");
    expect(fmt.cost(12.34)).toBe("$12.34");
    expect(fmt.cost(1234.5)).toBe("$1,234.50");
  });

  it("rounds across a power of ten without a third digit", () => {
    expect(fmt.cost(0.0999)).toBe("$0.10");
    expect(fmt.cost(0.00999)).toBe("$0.010");
    expect(fmt.cost(0.999)).toBe("$1.00");
  });

  it("says $0 for exactly zero and – when unknown", () => {
    expect(fmt.cost(0)).toBe("$0");
    for (const unknown of [null, undefined, NaN, Infinity, "0.1"]) expect(fmt.cost(unknown)).toBe("–");
    expect(fmt.UNKNOWN).toBe("–");
  });

  it("never writes an exponent, and states what is too small to show", () => {
    expect(fmt.cost(1e-7)).toBe("$0.00000010");
    expect(fmt.cost(1e-9)).toBe("<$0.00000001");
    expect(fmt.cost(-0.5)).toBe("-$0.50");
    for (const v of [3e-8, 4.2e-6, 0.05, 7]) expect(fmt.cost(v)).not.toMatch(/e/);
  });

  it("reads like the snapshots' llmops_nb/widgets/_format.py (same cases as tests/test_snapshot.py)", () => {
    const cases = { 0.000017: "$0.000017", 0.0012: "$0.0012", 0.42: "$0.42", 12.34: "$12.34", 0.0035: "$0.0035" };
    for (const [v, text] of Object.entries(cases)) expect(fmt.cost(Number(v))).toBe(text);
  });
});

describe("duration", () => {
  it("reads in µs, ms, s and minutes", () => {
    expect(fmt.duration(0.5)).toBe("500 µs");
    expect(fmt.duration(9.25)).toBe("9.3 ms");
    expect(fmt.duration(182.4)).toBe("182 ms");
    expect(fmt.duration(1234)).toBe("1.23 s");
    expect(fmt.duration(75_000)).toBe("1 min 15 s");
    expect(fmt.duration(null)).toBe("…");
  });
});
