// The trace list's filter inputs. Their values are sent to the kernel as they are (trimmed);
// the kernel checks them and answers a mistake with a message the view shows under the inputs.

import { h } from "../lib/dom.js";
import { FilterInputs } from "../lib/filter_bar.js";

export const FILTER_FIELDS = [
  { key: "name", placeholder: "name (* wildcard)", title: "the trace's name; * and ? are wildcards" },
  { key: "tags", placeholder: "tags: env=dev, team=x", title: "KEY=VALUE pairs separated by commas; all must match" },
  {
    key: "status",
    options: [
      ["", "any status"],
      ["OK", "OK"],
      ["ERROR", "ERROR"],
      ["IN_PROGRESS", "IN_PROGRESS"],
    ],
  },
  { key: "model", placeholder: "model", title: "traces with a span of this model; * and ? are wildcards" },
  { key: "session", placeholder: "session", title: "the %%llm_trace --session id" },
  {
    key: "eval_run",
    placeholder: "eval run (name or id)",
    title: "the traces of one evaluation run: its name (every run of that name) or its run id",
  },
  {
    key: "since",
    placeholder: "since 2026-11-26T14:00",
    title: "started at or after (ISO date or time, your kernel's local time unless it has an offset)",
  },
  { key: "until", placeholder: "until", title: "started before (ISO date or time)" },
  {
    key: "text",
    placeholder: "text in inputs/outputs",
    title: "case-insensitive, in names, inputs, outputs and errors",
  },
];

/** A tags filter as the text box shows it: `env=dev, team=x`. */
export function tagsText(tags) {
  if (tags == null) return "";
  if (typeof tags === "string") return tags;
  if (Array.isArray(tags)) return tags.map(String).join(", ");
  return Object.entries(tags)
    .map(([k, v]) => `${k}=${v}`)
    .join(", ");
}

/**
 * Input values -> the filters object (empty inputs left out). `evals` (list evaluation traces too)
 * is the toolbar's toggle, not an input: it is carried over as given.
 */
export function filtersFrom(values) {
  const out = {};
  if (values.evals === true) out.evals = true;
  for (const f of FILTER_FIELDS) {
    const v = values[f.key];
    if (v == null) continue;
    const s = String(v).trim();
    if (s) out[f.key] = s;
  }
  return out;
}

/** One key for a query: the same filters and sort give the same key, whatever the key order. */
export function queryKey(filters, sortBy, desc) {
  const f = filters ?? {};
  const canon = {};
  for (const key of Object.keys(f).sort()) {
    const v =
      key === "tags"
        ? tagsText(f[key])
            .split(",")
            .map((s) => s.trim())
            .filter(Boolean)
            .join(",")
        : f[key];
    if (v !== "" && v != null) canon[key] = v;
  }
  return JSON.stringify([canon, sortBy, Boolean(desc)]);
}

/** The inputs above the table. `onChange(filters)` runs after typing pauses, on Enter, or on a pick. */
export class FilterBar extends FilterInputs {
  constructor({ onChange }) {
    super(onChange);
    const fields = FILTER_FIELDS.map((f) =>
      f.options
        ? this.picked(
            f.key,
            /** @type {HTMLSelectElement} */ (
              h(
                "select",
                { class: "lnb-tl-input lnb-tl-f-status", title: "status", attrs: { "aria-label": "status" } },
                f.options.map(([value, label]) => h("option", { text: label, attrs: { value } })),
              )
            ),
          )
        : this.typed(
            f.key,
            /** @type {HTMLInputElement} */ (
              h("input", {
                class: `lnb-tl-input lnb-tl-f-${f.key}`,
                title: f.title,
                attrs: { type: "text", placeholder: f.placeholder, "aria-label": f.key, spellcheck: "false" },
              })
            ),
          ),
    );
    this.clear = this.clearsOnClick(h("button", { class: "lnb-tl-btn", text: "clear", title: "clear every filter" }));
    this.el = h("div", { class: "lnb-tl-filters" }, [...fields, this.clear]);
  }

  get() {
    return filtersFrom(super.get());
  }

  /**
   * @param {string} key
   * @param {Record<string, any>} filters
   */
  shown(key, filters) {
    return key === "tags" ? tagsText(filters.tags) : super.shown(key, filters);
  }
}
