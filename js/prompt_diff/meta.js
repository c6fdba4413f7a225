// What sits above the rows of a diff: "v1 → v3 +2 −1", the variables added and removed, and the
// metadata (model_config, tags) that changed, as a small old | new table.

import { h } from "../lib/dom.js";
import { showValue } from "./text.js";

/** The one-line summary: labels, line counts, messages changed, or "no differences". */
export function summaryLine(diff) {
  const stats = diff?.stats ?? {};
  const changed =
    (stats.lines_added ?? 0) + (stats.lines_removed ?? 0) > 0 ||
    (diff?.variables?.added?.length ?? 0) + (diff?.variables?.removed?.length ?? 0) > 0 ||
    (diff?.metadata?.length ?? 0) > 0;
  return h("div", { class: "lnb-pd-summary" }, [
    h("span", { class: "lnb-pd-label lnb-pd-label-a", text: diff?.a_label ?? "a" }),
    h("span", { class: "lnb-pd-arrow", text: "→" }),
    h("span", { class: "lnb-pd-label lnb-pd-label-b", text: diff?.b_label ?? "b" }),
    h("span", { class: "lnb-pd-added", text: `+${stats.lines_added ?? 0}`, title: "lines added" }),
    h("span", { class: "lnb-pd-removed", text: `−${stats.lines_removed ?? 0}`, title: "lines removed" }),
    stats.messages_changed
      ? h("span", {
          class: "lnb-pd-dim",
          text: `${stats.messages_changed} message${stats.messages_changed === 1 ? "" : "s"} changed`,
        })
      : null,
    changed ? null : h("span", { class: "lnb-pd-dim lnb-pd-same", text: "no differences" }),
  ]);
}

/** Chips for the variables: added (+), removed (−), then the ones both versions use. */
export function variableChips(variables) {
  const chips = [];
  for (const name of variables?.added ?? [])
    chips.push(h("span", { class: "lnb-pd-chip lnb-pd-var-added", text: `+{{${name}}}`, title: "variable added" }));
  for (const name of variables?.removed ?? [])
    chips.push(h("span", { class: "lnb-pd-chip lnb-pd-var-removed", text: `−{{${name}}}`, title: "variable removed" }));
  for (const name of variables?.kept ?? [])
    chips.push(h("span", { class: "lnb-pd-chip lnb-pd-var", text: `{{${name}}}`, title: "in both versions" }));
  if (!chips.length) return null;
  return h("div", { class: "lnb-pd-vars" }, [h("span", { class: "lnb-pd-dim", text: "variables" }), ...chips]);
}

/** The metadata ops ({field, key, op, a, b}) as a table, or null when nothing changed. */
export function metadataTable(ops) {
  if (!Array.isArray(ops) || !ops.length) return null;
  const rows = ops.map((op) =>
    h("tr", { class: `lnb-pd-meta-${op.op}` }, [
      h("th", { attrs: { scope: "row" }, text: `${op.field}.${op.key}` }),
      h("td", {
        class: op.op === "added" ? "lnb-pd-none" : "lnb-pd-del",
        text: op.op === "added" ? "" : showValue(op.a),
      }),
      h("td", {
        class: op.op === "removed" ? "lnb-pd-none" : "lnb-pd-ins",
        text: op.op === "removed" ? "" : showValue(op.b),
      }),
      h("td", { class: "lnb-pd-dim", text: op.op }),
    ]),
  );
  return h("table", { class: "lnb-pd-meta" }, [
    h("thead", {}, [
      h(
        "tr",
        {},
        ["metadata", "old", "new", ""].map((t) => h("th", { text: t })),
      ),
    ]),
    h("tbody", {}, rows),
  ]);
}
