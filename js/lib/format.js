// Numbers as people read them in a narrow row: 1.2 s, 12.3k tok, $0.0042.

/** What a value nobody knows reads as. */
export const UNKNOWN = "–";

export function duration(ms) {
  if (ms == null || Number.isNaN(ms)) return "…";
  if (ms < 1) return `${(ms * 1000).toFixed(0)} µs`;
  if (ms < 1000) return `${ms < 10 ? ms.toFixed(1) : ms.toFixed(0)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  const m = Math.floor(ms / 60_000);
  return `${m} min ${Math.round((ms % 60_000) / 1000)} s`;
}

export function tokens(n) {
  if (n == null || Number.isNaN(n)) return "";
  if (n < 1000) return String(Math.round(n));
  if (n < 1_000_000) return `${(n / 1000).toFixed(n < 10_000 ? 1 : 0)}k`;
  return `${(n / 1_000_000).toFixed(1)}M`;
}

/**
 * A cost in US dollars, as the snapshots write it (llmops_nb/widgets/_format.py): two significant
 * digits below a dollar ($0.000017, $0.0012, $0.42), two decimals from a dollar up ($12.34), $0 for
 * exactly zero, – when unknown (null, NaN). A real $0.000017 call never reads as <$0.0001.
 * @param {number|null|undefined} usd
 */
export function cost(usd) {
  if (usd == null || typeof usd !== "number" || !Number.isFinite(usd)) return UNKNOWN;
  const sign = usd < 0 ? "-" : "";
  const value = Math.abs(usd);
  if (value === 0) return "$0";
  if (value < 1e-8) return "<$0.00000001"; // below this a sum of prices is float noise, not money
  if (value >= 1)
    return `${sign}$${value.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
  // the exponent of the value rounded to two significant digits: 0.0999 rounds to 0.10, not 0.100
  const exponent = Number(value.toExponential(1).split("e")[1]);
  return `${sign}$${value.toFixed(Math.max(2, 1 - exponent))}`;
}

export function integer(n) {
  return n == null || Number.isNaN(n) ? UNKNOWN : Math.round(n).toLocaleString("en-US");
}

/** JSON for people: indented; strings that hold JSON (tool arguments) are parsed first. */
export function prettyJson(value) {
  if (typeof value === "string") {
    const t = value.trim();
    if ((t.startsWith("{") && t.endsWith("}")) || (t.startsWith("[") && t.endsWith("]"))) {
      try {
        return JSON.stringify(JSON.parse(t), null, 2);
      } catch {
        return value;
      }
    }
    return value;
  }
  try {
    return JSON.stringify(value, null, 2) ?? String(value);
  } catch {
    return String(value);
  }
}
