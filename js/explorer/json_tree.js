// A collapsible JSON tree. Children are built on first expand and long arrays in pages, so a
// megabyte of attributes costs nothing until someone opens it. Every key and value is text.

import { h, text } from "../lib/dom.js";

const PAGE = 200;
const LONG_STRING = 4000;

function summary(value) {
  if (Array.isArray(value)) return `[…] ${value.length} item${value.length === 1 ? "" : "s"}`;
  const n = Object.keys(value).length;
  return `{…} ${n} key${n === 1 ? "" : "s"}`;
}

function leaf(value) {
  if (value === null) return h("span", { class: "lnb-j-null", text: "null" });
  switch (typeof value) {
    case "string": {
      // the raw string in quotes, line breaks kept (pre-wrap): easier to read than JSON escapes
      const node = h("span", { class: "lnb-j-str" });
      const long = value.length > LONG_STRING;
      node.append(text(`"${long ? value.slice(0, LONG_STRING) : value}${long ? "" : '"'}`));
      if (long) {
        const more = h("button", {
          class: "lnb-link",
          text: `… show all ${value.length.toLocaleString("en-US")} characters`,
        });
        more.addEventListener("click", () => {
          node.replaceChildren(text(`"${value}"`));
        });
        node.append(more);
      }
      return node;
    }
    case "number":
      return h("span", { class: "lnb-j-num", text: String(value) });
    case "boolean":
      return h("span", { class: "lnb-j-bool", text: String(value) });
    default:
      return h("span", { class: "lnb-j-str", text: String(value) });
  }
}

function entry(key, value, depth, open) {
  const row = h("div", { class: "lnb-j-row" });
  const label = key == null ? null : h("span", { class: "lnb-j-key", text: `${key}: ` });
  if (value === null || typeof value !== "object") {
    row.append(h("span", { class: "lnb-j-toggle lnb-j-leaf" }), ...(label ? [label] : []), leaf(value));
    return row;
  }
  const toggle = h("button", { class: "lnb-j-toggle", attrs: { "aria-expanded": "false" }, text: "▸" });
  const head = h("span", { class: "lnb-j-head" }, [
    toggle,
    label,
    h("span", { class: "lnb-j-sum", text: summary(value) }),
  ]);
  const body = h("div", { class: "lnb-j-body" });
  body.hidden = true;
  let built = false;
  const set = (expand) => {
    if (expand && !built) {
      built = true;
      fill(body, value, depth + 1, open);
    }
    body.hidden = !expand;
    toggle.textContent = expand ? "▾" : "▸";
    toggle.setAttribute("aria-expanded", String(expand));
  };
  head.addEventListener("click", () => set(body.hidden));
  row.append(head, body);
  if (depth < open) set(true);
  return row;
}

function fill(body, value, depth, open) {
  const keys = Array.isArray(value) ? null : Object.keys(value);
  const total = keys ? keys.length : value.length;
  let shown = 0;
  const more = h("button", { class: "lnb-link" });
  const page = () => {
    const end = Math.min(total, shown + PAGE);
    const frag = document.createDocumentFragment();
    for (let i = shown; i < end; i++) {
      frag.append(keys ? entry(keys[i], value[keys[i]], depth, open) : entry(i, value[i], depth, open));
    }
    shown = end;
    more.before(frag);
    more.textContent = `show ${Math.min(PAGE, total - shown)} more of ${total - shown} remaining`;
    more.hidden = shown >= total;
  };
  more.addEventListener("click", page);
  body.append(more);
  page();
}

/** A JSON tree of `value`, open `open` levels deep; `label` names the top level. */
export function jsonTree(value, { open = 1, label = null } = {}) {
  const root = h("div", { class: "lnb-json" });
  root.append(entry(label, value, 0, open));
  return root;
}
