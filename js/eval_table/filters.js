// The eval table's filter bar: text search (debounced), one "scorer: result" choice, feedback,
// failed predictions only. `onChange(filters)` gets the canonical filter object the kernel takes.

import { h } from "../lib/dom.js";

export const DEBOUNCE_MS = 250;
const RESULTS = ["fail", "pass", "error", "missing"];
const OUTCOMES = ["loss", "win", "tie"];
const FEEDBACK = [
  ["", "any feedback"],
  ["up", "thumbs up"],
  ["down", "thumbs down"],
  ["any", "with feedback"],
  ["none", "without feedback"],
];

/** Filters without empty values, keys in a fixed order (so equal filters compare equal as JSON). */
export function cleanFilters(f) {
  const out = {};
  if (f?.text) out.text = String(f.text);
  if (f?.scorer && f?.result) {
    out.scorer = String(f.scorer);
    out.result = String(f.result);
  }
  if (f?.feedback) out.feedback = String(f.feedback);
  if (f?.errors === true) out.errors = true;
  return out;
}

export class EvalFilterBar {
  constructor({ onChange }) {
    this.onChange = onChange;
    this.scorers = [];
    this.compare = false;
    this.timer = 0;
    this.text = h("input", {
      class: "lnb-ev-input lnb-ev-f-text",
      attrs: { type: "search", placeholder: "search inputs, outputs, rationales…", "aria-label": "search rows" },
    });
    this.result = h("select", {
      class: "lnb-ev-input lnb-ev-f-result",
      attrs: { "aria-label": "filter by a scorer's result" },
    });
    this.feedback = h("select", {
      class: "lnb-ev-input lnb-ev-f-feedback",
      attrs: { "aria-label": "filter by feedback" },
    });
    for (const [value, label] of FEEDBACK) this.feedback.append(h("option", { text: label, attrs: { value } }));
    this.errors = h("input", { attrs: { type: "checkbox" } });
    const errorsLabel = h("label", { class: "lnb-ev-f-errors", title: "only rows whose prediction raised" }, [
      this.errors,
      " failed predictions",
    ]);
    this.clear = h("button", { class: "lnb-ev-btn", text: "clear", title: "show every row" });
    this.el = h("div", { class: "lnb-ev-filters" }, [this.text, this.result, this.feedback, errorsLabel, this.clear]);

    this.text.addEventListener("input", () => {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.emit(), DEBOUNCE_MS);
    });
    this.text.addEventListener("keydown", (event) => {
      event.stopPropagation(); // notebook shortcuts must not see typing
      if (event.key === "Enter") {
        clearTimeout(this.timer);
        this.emit();
      }
    });
    for (const el of [this.result, this.feedback, this.errors]) el.addEventListener("change", () => this.emit());
    this.clear.addEventListener("click", () => {
      this.set({});
      this.emit();
    });
  }

  /** The scorers (from `info`) the result menu offers; in a comparison also win/loss/tie. */
  setScorers(scorers, compare) {
    this.scorers = (scorers ?? []).map((s) => String(s.name));
    this.compare = Boolean(compare);
    const options = [h("option", { text: "every scorer result", attrs: { value: "" } })];
    this.scorers.forEach((name, i) => {
      for (const result of [...(this.compare ? OUTCOMES : []), ...RESULTS]) {
        options.push(h("option", { text: `${name}: ${result}`, attrs: { value: `${i}|${result}` } }));
      }
    });
    this.result.replaceChildren(...options);
  }

  /** Show `filters` in the inputs (from the model, or after a re-render). */
  set(filters) {
    const f = cleanFilters(filters);
    if (this.text.value !== (f.text ?? "") && document.activeElement !== this.text) this.text.value = f.text ?? "";
    const i = f.scorer != null ? this.scorers.indexOf(f.scorer) : -1;
    this.result.value = i >= 0 ? `${i}|${f.result}` : "";
    this.feedback.value = f.feedback ?? "";
    this.errors.checked = Boolean(f.errors);
  }

  read() {
    const f = {};
    if (this.text.value.trim()) f.text = this.text.value.trim();
    if (this.result.value) {
      const [i, result] = this.result.value.split("|");
      const name = this.scorers[Number(i)];
      if (name != null) {
        f.scorer = name;
        f.result = result;
      }
    }
    if (this.feedback.value) f.feedback = this.feedback.value;
    if (this.errors.checked) f.errors = true;
    return cleanFilters(f);
  }

  emit() {
    clearTimeout(this.timer);
    this.onChange(this.read());
  }

  destroy() {
    clearTimeout(this.timer);
  }
}

/**
 * Drop from the model a sort or a filter the table cannot do (a delta after leaving a comparison, a
 * scorer the run does not have); returns whether anything changed.
 * @param {import("../lib/mount.js").Model} model
 * @param {any} info the kernel's `info` answer
 * @param {boolean} compare
 */
export function dropUnsupported(model, info, compare) {
  const sorts = new Set(info.sorts ?? ["row"]);
  const filters = cleanFilters(model.get("filters"));
  const names = new Set((info.scorers ?? []).map((/** @type {any} */ s) => s.name));
  const outcome = ["win", "loss", "tie"].includes(filters.result);
  let changed = false;
  if (!sorts.has(model.get("sort_by") || "row")) {
    model.set("sort_by", "row");
    model.set("sort_desc", false);
    changed = true;
  }
  if (filters.scorer && (!names.has(filters.scorer) || (outcome && !compare))) {
    delete filters.scorer;
    delete filters.result;
    model.set("filters", filters);
    changed = true;
  }
  return changed;
}
