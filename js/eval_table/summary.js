// One card per scorer above the table: its mean and pass rate and a small histogram on the
// scorer's value axis, or in a comparison the win/loss/tie counts and both means. A bar or a count that means "these rows"
// filters the table to them when clicked.

import { h } from "../lib/dom.js";
import * as fmt from "../lib/format.js";
import { msText, percent, shortNumber, USAGE_FORMATS, usageDelta } from "./cells.js";

const HIST_PX = 28;

/**
 * The card elements for a `summary` answer; `onFilter(scorer, result)` narrows the table.
 * @param {any} summary
 * @param {{ compare?: boolean, onFilter?: (scorer: string, result: string) => void }} [options]
 */
export function summaryCards(summary, { compare = false, onFilter } = {}) {
  return (summary?.scorers ?? []).map((s) => (compare ? compareCard(s, onFilter) : scoreCard(s, onFilter)));
}

function head(s) {
  return h("div", { class: "lnb-ev-card-head" }, [
    h("span", { class: "lnb-ev-card-name", text: String(s.name), title: `${s.name}${s.model ? ` (${s.model})` : ""}` }),
    h("span", { class: `lnb-ev-src lnb-ev-src-${sourceClass(s.source)}`, text: sourceLabel(s.source) }),
  ]);
}

function sourceClass(source) {
  return source === "LLM_JUDGE" ? "judge" : source === "HUMAN" ? "human" : "code";
}

function sourceLabel(source) {
  return source === "LLM_JUDGE" ? "judge" : source === "HUMAN" ? "human" : "code";
}

function link(text, title, onClick) {
  const b = h("button", { class: "lnb-ev-link", text, title });
  if (onClick) b.addEventListener("click", onClick);
  else b.disabled = true;
  return b;
}

function scoreCard(s, onFilter) {
  const stats = h("div", { class: "lnb-ev-card-stats" }, [
    h("span", { class: "lnb-ev-stat", title: "mean of the numeric and yes/no values" }, [
      h("b", { text: s.mean == null ? "–" : shortNumber(s.mean) }),
      " mean",
    ]),
    h("span", { class: "lnb-ev-stat", title: `${s.passed} passed, ${s.failed} failed` }, [
      h("b", { text: percent(s.pass_rate) }),
      " pass",
    ]),
  ]);
  const foot = [h("span", { text: `${s.count} scored` })];
  if (s.failed)
    foot.push(link(`${s.failed} failed`, "show the rows that failed", onFilter && (() => onFilter(s.name, "fail"))));
  if (s.errors)
    foot.push(
      link(
        `${s.errors} error${s.errors === 1 ? "" : "s"}`,
        "show the rows this scorer could not score",
        onFilter && (() => onFilter(s.name, "error")),
      ),
    );
  return h("div", { class: "lnb-ev-card", attrs: { "data-scorer": String(s.name) } }, [
    head(s),
    stats,
    histogram(s, onFilter),
    h("div", { class: "lnb-ev-card-foot" }, foot),
  ]);
}

/**
 * Where each bar of a histogram stands, as percentages of the drawing's width: the kernel placed
 * every bin on the scorer's value axis (`x0`, `x1`: fractions, llmops_nb/widgets/eval_table/_histogram.py),
 * so a ROUGE of 0.3–0.9 stands on [0, 1] and a 1–5 grade has its bars at 1…5, not in equal slots.
 * Heights are shares of the tallest bar (a bar with rows is never invisible).
 * @param {any} hist the `histogram` of a scorer in the kernel's `summary`
 * @param {number} [heightPx]
 */
export function placeBars(hist, heightPx = HIST_PX) {
  const bins = hist?.bins ?? [];
  const max = Math.max(1, ...bins.map((b) => b.count ?? 0));
  const round = (/** @type {number} */ x) => Math.round(x * 10) / 10;
  const pct = (/** @type {any} */ x) => round(clamp01(Number(x)) * 100);
  const bars = bins.map((b) => {
    const left = pct(b.x0);
    return {
      bin: b,
      left,
      width: Math.max(0.5, round(pct(b.x1) - left)),
      px: b.count ? Math.max(2, Math.round((b.count / max) * heightPx)) : 0,
    };
  });
  return {
    bars,
    // a numeric axis has its ends labelled; categories (booleans, words) have a label under each bar
    labels: hist?.axis
      ? (hist.ticks ?? []).map((/** @type {any} */ t) => ({ at: pct(t.x), text: String(t.label), tick: true }))
      : bars.map((b) => ({ at: round(b.left + b.width / 2), text: String(b.bin.label), tick: false })),
    threshold: hist?.threshold_x == null ? null : pct(hist.threshold_x),
  };
}

/** @param {number} x */
function clamp01(x) {
  return Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0;
}

/** Bars of the scorer's histogram on its value axis; bars of a pass/fail histogram filter the table. */
export function histogram(s, onFilter) {
  const placed = placeBars(s.histogram);
  const bars = placed.bars.map(({ bin: b, left, width, px }) => {
    const cls = b.result === "pass" ? " lnb-ev-bar-pass" : b.result === "fail" ? " lnb-ev-bar-fail" : "";
    const range =
      b.lo != null && b.hi != null && b.lo !== b.hi ? ` (${shortNumber(b.lo)} to ${shortNumber(b.hi)})` : "";
    const bar = h(
      "button",
      {
        class: `lnb-ev-bar${cls}`,
        title: `${b.label}${range}: ${b.count}`,
        attrs: { "aria-label": `${b.label}: ${b.count}`, style: `left:${left}%;width:${width}%` },
      },
      [h("span", { class: "lnb-ev-bar-fill", attrs: { style: `height:${px}px` } })],
    );
    if (b.result && onFilter) bar.addEventListener("click", () => onFilter(s.name, b.result));
    else bar.disabled = true;
    return bar;
  });
  if (placed.threshold != null) {
    bars.push(
      h("span", {
        class: "lnb-ev-threshold",
        title: `threshold ${s.threshold}`,
        attrs: { style: `left:${placed.threshold}%` },
      }),
    );
  }
  const labels = placed.labels.map((l) =>
    h("span", {
      class: `lnb-ev-hist-label${l.tick ? " lnb-ev-tick" : ""}`,
      text: l.text,
      title: l.text,
      attrs: { style: `left:${l.at}%` },
    }),
  );
  const kind = s.histogram?.kind ?? "none";
  return h(
    "div",
    { class: `lnb-ev-hist lnb-ev-hist-${["bool", "values", "bins", "labels"].includes(kind) ? kind : "none"}` },
    [
      h("div", { class: "lnb-ev-bars", attrs: { style: `height:${HIST_PX}px` } }, bars),
      h("div", { class: "lnb-ev-hist-axis" }, labels),
    ],
  );
}

function compareCard(s, onFilter) {
  const total = (s.win ?? 0) + (s.loss ?? 0) + (s.tie ?? 0);
  const segment = (key, label) => {
    const count = s[key] ?? 0;
    const seg = h("button", {
      class: `lnb-ev-seg lnb-ev-${key}`,
      title: `${count} ${label}; click to show them`,
      attrs: { style: `flex-grow:${count}` },
    });
    if (onFilter && count) seg.addEventListener("click", () => onFilter(s.name, key));
    else seg.disabled = true;
    return seg;
  };
  const counts = h("div", { class: "lnb-ev-card-stats" }, [
    link(
      `${s.win} win`,
      "rows where the candidate scores better",
      onFilter && s.win ? () => onFilter(s.name, "win") : null,
    ),
    link(
      `${s.loss} loss`,
      "rows where the candidate scores worse",
      onFilter && s.loss ? () => onFilter(s.name, "loss") : null,
    ),
    link(`${s.tie} tie`, "rows that score the same", onFilter && s.tie ? () => onFilter(s.name, "tie") : null),
  ]);
  const mean = (x) => (x == null ? "–" : shortNumber(x));
  return h("div", { class: "lnb-ev-card", attrs: { "data-scorer": String(s.name) } }, [
    head(s),
    counts,
    h(
      "div",
      { class: "lnb-ev-wlt" },
      total ? [segment("win", "wins"), segment("tie", "ties"), segment("loss", "losses")] : [],
    ),
    h("div", { class: "lnb-ev-card-foot" }, [
      h("span", { text: `mean ${mean(s.mean_baseline)} → ${mean(s.mean_candidate)}`, title: "baseline → candidate" }),
    ]),
  ]);
}

/** One line above the cards: rows, failed predictions, feedback given, unmatched rows in a comparison. */
export function summaryLine(summary, { compare = false } = {}) {
  if (!summary) return "";
  const parts = [`${summary.total} row${summary.total === 1 ? "" : "s"}${compare ? " in both runs" : ""}`];
  if (summary.errors) parts.push(`${summary.errors} failed prediction${summary.errors === 1 ? "" : "s"}`);
  const fb = summary.feedback ?? {};
  if (fb.given) parts.push(`feedback on ${fb.given} (${fb.up} up, ${fb.down} down)`);
  if (compare && (summary.only_in_baseline || summary.only_in_candidate)) {
    parts.push(
      `unmatched: ${summary.only_in_baseline} only in the baseline, ${summary.only_in_candidate} only in the candidate`,
    );
  }
  return parts.join(" · ");
}

/**
 * The run's usage under the summary line: mean latency, tokens and cost of the app (and the
 * cost with the judges'); comparing, each as baseline → candidate with the change coloured
 * better or worse.
 * @param {any} summary
 * @param {{ compare?: boolean }} [options]
 */
export function usageNodes(summary, { compare = false } = {}) {
  const usage = summary?.usage;
  if (!usage) return [];
  if (!compare) {
    if (usage.latency_ms == null && usage.tokens == null && usage.cost_usd == null) return [];
    const judged = usage.trace_cost_usd;
    const withScoring =
      judged != null && usage.cost_usd != null && judged > usage.cost_usd ? ` (${fmt.cost(judged)} with scoring)` : "";
    return [
      h("span", {
        class: "lnb-ev-usage",
        text: `mean latency ${msText(usage.latency_ms)} · ${fmt.integer(usage.tokens)} tokens · cost ${fmt.cost(usage.cost_usd)}${withScoring}`,
        title: "the app's model calls; the judges' calls are counted apart",
      }),
    ];
  }
  const base = summary.base_usage ?? {};
  /** @type {[string, "latency" | "tokens" | "cost", string][]} */
  const rows = [
    ["mean latency", "latency", "latency_ms"],
    ["tokens", "tokens", "tokens"],
    ["cost", "cost", "cost_usd"],
  ];
  return rows.map(([label, key, field]) => {
    const d = usageDelta(base[field], usage[field], USAGE_FORMATS[key]);
    return h(
      "span",
      { class: "lnb-ev-usage", attrs: { "data-usage": key }, title: "baseline → candidate, rows in both runs" },
      [
        `${label} ${d.text}`,
        d.change ? h("span", { class: `lnb-ev-delta lnb-ev-${d.cls}`, text: ` (${d.change})` }) : "",
      ],
    );
  });
}
