// DOM helpers. Trace data only ever reaches the page through text nodes (textContent /
// createTextNode): never parsed as markup, never an href, so a span named "<img onerror=…>" is just text.

/**
 * Create an element. `props.class` sets className, `props.text` the text content, `props.title`
 * a tooltip (plain text), `props.attrs` other attributes (only ever given our own constants),
 * `props.on` event listeners; `children` are nodes or strings (strings become text nodes).
 */
export function h(tag, props = {}, children = []) {
  const node = document.createElement(tag);
  if (props.class) node.className = props.class;
  if (props.text != null) node.textContent = String(props.text);
  if (props.title != null) node.title = String(props.title);
  if (props.attrs) for (const [k, v] of Object.entries(props.attrs)) node.setAttribute(k, v);
  if (props.on) for (const [k, fn] of Object.entries(props.on)) node.addEventListener(k, fn);
  for (const child of children) {
    if (child == null || child === false) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

/** A text node: the one way a string from a trace enters the DOM. */
export function text(value) {
  return document.createTextNode(value == null ? "" : String(value));
}

/** Split `value` into text nodes and <mark>s around case-insensitive matches of `query`. */
export function highlighted(value, query) {
  const str = value == null ? "" : String(value);
  if (!query) return [text(str)];
  const lower = str.toLowerCase();
  const q = query.toLowerCase();
  const out = [];
  let at = 0;
  for (let i = lower.indexOf(q); i !== -1 && q.length; i = lower.indexOf(q, at)) {
    if (i > at) out.push(text(str.slice(at, i)));
    out.push(h("mark", { class: "lnb-mark", text: str.slice(i, i + q.length) }));
    at = i + q.length;
  }
  if (at < str.length) out.push(text(str.slice(at)));
  return out;
}
