// SVG elements, made as lib/dom.js makes HTML ones: attributes only ever our own numbers and
// constants, and every string from a trace a text node (an SVG <text>, a <title> tooltip), never markup.

const NS = "http://www.w3.org/2000/svg";

/**
 * An SVG element with `attrs` (our own values) and `children` (nodes; strings become text nodes).
 * @param {string} tag
 * @param {Record<string, string | number>} [attrs]
 * @param {(Node | string | null)[]} [children]
 * @returns {SVGElement}
 */
export function svg(tag, attrs = {}, children = []) {
  const node = /** @type {SVGElement} */ (document.createElementNS(NS, tag));
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  for (const child of children) {
    if (child == null) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

/**
 * A <title> (the tooltip of its parent): `value` as text.
 * @param {unknown} value
 */
export function tooltip(value) {
  const node = svg("title");
  node.textContent = value == null ? "" : String(value);
  return node;
}
