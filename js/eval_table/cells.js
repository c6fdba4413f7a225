// How scores, deltas and feedback read in a narrow cell: a chip's text, its class (from a fixed
// set, never from the data) and its tooltip. Pure functions, tested on their own.

import * as fmt from "../lib/format.js";

/** 0.8333 → "0.833", 4 → "4", 1234.5 → "1.23e+3" stays readable: at most 3 significant digits. */
export function shortNumber(n) {
  if (n == null || typeof n !== "number" || !Number.isFinite(n)) return "";
  if (Number.isInteger(n) && Math.abs(n) < 1e9) return String(n);
  return String(Number(n.toPrecision(3)));
}

/** A score value as text: booleans as yes/no words, numbers short, strings as they are. */
export function valueText(v) {
  if (v == null) return "";
  if (typeof v === "boolean") return v ? "yes" : "no";
  if (typeof v === "number") return shortNumber(v);
  return String(v);
}

const PASS_CLASS = { true: "pass", false: "fail" };

/** The chip of one score: {text, cls, title}; `score` is {v, p, r, e} as the kernel sends it. */
export function scoreChip(score, name = "") {
  const s = score ?? {};
  if (s.e) return { text: "error", cls: "error", title: `${name}: error\n${s.e}` };
  if (s.v == null) return { text: "–", cls: "none", title: `${name}: no value` };
  const mark = s.p === true ? "✓ " : s.p === false ? "✗ " : "";
  const shown = valueText(s.v);
  const title = [
    `${name}: ${shown}${s.p === true ? " (pass)" : s.p === false ? " (fail)" : ""}`,
    s.r ? `\n${s.r}` : "",
  ].join("");
  return { text: mark + shown, cls: PASS_CLASS[s.p] ?? "neutral", title };
}

/** The compare chip: baseline → candidate, the delta and the outcome (win, loss, tie, or none). */
export function compareChip(score, name = "") {
  const s = score ?? {};
  const before = s.be ? "error" : s.bv == null ? "–" : valueText(s.bv);
  const after = s.e ? "error" : s.v == null ? "–" : valueText(s.v);
  const outcome = s.o === "win" || s.o === "loss" || s.o === "tie" ? s.o : "none";
  const delta = typeof s.d === "number" && s.d !== 0 ? ` (${s.d > 0 ? "+" : ""}${shortNumber(s.d)})` : "";
  const lines = [`${name}: ${before} → ${after}${delta}${outcome !== "none" ? ` · ${outcome}` : ""}`];
  if (s.br) lines.push(`baseline: ${s.br}`);
  if (s.r) lines.push(`candidate: ${s.r}`);
  if (s.be) lines.push(`baseline error: ${s.be}`);
  if (s.e) lines.push(`candidate error: ${s.e}`);
  return { text: `${before} → ${after}`, cls: outcome, title: lines.join("\n") };
}

/** The latest feedback of a row as a mark and tooltip: 👍 / 👎, a label, a comment marker. */
export function feedbackText(fb) {
  if (!fb)
    return { value: null, label: "", comment: false, title: "no feedback yet: thumbs up or down, or open the row" };
  const value = fb.value === true ? "up" : fb.value === false ? "down" : null;
  const parts = [];
  if (value) parts.push(value === "up" ? "thumbs up" : "thumbs down");
  if (fb.label) parts.push(`label: ${fb.label}`);
  if (fb.comment) parts.push(`comment: ${fb.comment}`);
  const who = [fb.author, fb.at ? fmtTime(fb.at) : ""].filter(Boolean).join(", ");
  if (who) parts.push(`last by ${who}`);
  if (fb.count > 1) parts.push(`${fb.count} pieces of feedback`);
  return { value, label: fb.label ? String(fb.label) : "", comment: Boolean(fb.comment), title: parts.join("\n") };
}

/** `2026-11-26 14:03` in the browser's time zone (the input itself if it is not a date). */
export function fmtTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

export function percent(x) {
  return x == null || !Number.isFinite(x) ? "–" : `${Math.round(x * 100)}%`;
}

export function latencyText(ms) {
  return ms == null ? "" : fmt.duration(ms);
}

/** A latency as the table writes it; – when unknown. */
export function msText(ms) {
  return ms == null ? fmt.UNKNOWN : fmt.duration(ms);
}

/** Formats of the usage columns, by column key. */
export const USAGE_FORMATS = {
  latency: msText,
  tokens: (/** @type {number|null} */ n) => fmt.integer(n),
  cost: (/** @type {number|null} */ usd) => fmt.cost(usd),
};

/**
 * Candidate against baseline for a number where less is better (latency, tokens, cost): both
 * values, the change (candidate − baseline) and its class, `better`, `worse`, `same` or `none`.
 * @param {number|null|undefined} before the baseline's
 * @param {number|null|undefined} after the candidate's
 * @param {(x: any) => string} format
 */
export function usageDelta(before, after, format) {
  const text = `${format(before)} → ${format(after)}`;
  if (before == null || after == null || !Number.isFinite(before) || !Number.isFinite(after)) {
    return { text, change: "", cls: "none", delta: null };
  }
  const delta = after - before;
  const sign = delta > 0 ? "+" : delta < 0 ? "−" : "±";
  const cls = delta === 0 ? "same" : delta < 0 ? "better" : "worse";
  return { text, change: `${sign}${format(Math.abs(delta))}`, cls, delta };
}

/**
 * The tooltip of a row's tokens or cost: the app's (what the column shows) and the whole row
 * trace's, the scorers' judge calls included.
 * @param {any} row
 */
export function usageTitle(row) {
  const lines = [`the app: ${row.tokens == null ? "no" : fmt.integer(row.tokens)} tokens, ${fmt.cost(row.cost_usd)}`];
  if (row.trace_tokens != null || row.trace_cost_usd != null) {
    lines.push(
      `the row's whole trace, judges included: ${fmt.integer(row.trace_tokens)} tokens, ${fmt.cost(row.trace_cost_usd)}`,
    );
  }
  return lines.join("\n");
}
