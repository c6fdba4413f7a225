// One card per scorer above the table: its mean and pass rate and a small histogram, or in a
// comparison the win/loss/tie counts and both means. A bar or a count that means "these rows"
// filters the table to them when clicked.

import { h } from "../lib/dom.js";
import { percent, shortNumber } from "./cells.js";

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

/** Bars of the scorer's histogram; bars of a pass/fail histogram filter the table. */
export function histogram(s, onFilter) {
  const bins = s.histogram?.bins ?? [];
  const max = Math.max(1, ...bins.map((b) => b.count ?? 0));
  const bars = bins.map((b) => {
    const px = b.count ? Math.max(2, Math.round((b.count / max) * HIST_PX)) : 0;
    const cls = b.result === "pass" ? " lnb-ev-bar-pass" : b.result === "fail" ? " lnb-ev-bar-fail" : "";
    const bar = h(
      "button",
      { class: `lnb-ev-bar${cls}`, title: `${b.label}: ${b.count}`, attrs: { "aria-label": `${b.label}: ${b.count}` } },
      [h("span", { class: "lnb-ev-bar-fill", attrs: { style: `height:${px}px` } })],
    );
    if (b.result && onFilter) bar.addEventListener("click", () => onFilter(s.name, b.result));
    else bar.disabled = true;
    return bar;
  });
  const kind = s.histogram?.kind ?? "none";
  const ends = bins.length
    ? [h("span", { text: String(bins[0].label) }), h("span", { text: String(bins[bins.length - 1].label) })]
    : [];
  return h(
    "div",
    { class: `lnb-ev-hist lnb-ev-hist-${["bool", "values", "bins", "labels"].includes(kind) ? kind : "none"}` },
    [
      h("div", { class: "lnb-ev-bars", attrs: { style: `height:${HIST_PX}px` } }, bars),
      h("div", { class: "lnb-ev-hist-axis" }, bins.length > 1 ? ends : ends.slice(0, 1)),
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
