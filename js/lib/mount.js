// How every view is mounted: anywidget's render() for a view class, the root element with the
// shared theme class, and the explorer embedded by the trace list, the eval table, the sessions and the graph views (a model
// relay and a guarded mount). A view that fails to start says why in the notebook, not only in
// the browser console.
import { h } from "./dom.js";

/**
 * @typedef {{
 *   get: (key: string) => any,
 *   set: (key: string, value: any) => void,
 *   save_changes: () => void,
 *   on: (event: string, fn: (...args: any[]) => void) => void,
 *   off: (event: string, fn: (...args: any[]) => void) => void,
 *   send: (content: any, callbacks?: any, buffers?: any) => void,
 * }} Model the anywidget model: traitlets by name, change events, custom messages
 */

/** @typedef {{ destroy: () => void }} View */

/**
 * The view's root: `lnb-view` (lib/theme.css) and the view's own class. Notebook shortcuts are
 * suppressed inside it, so typing and arrow keys stay in the view.
 * @param {string} className
 * @param {(Node | null)[]} children
 */
export function viewRoot(className, children) {
  const root = h("div", { class: `lnb-view ${className}`, attrs: { "data-lm-suppress-shortcuts": "true" } }, children);
  // Lumino tests a shortcut's selector on the focused element before it looks up the tree for this
  // attribute, and Notebook 7 binds the arrow keys to `.jp-Notebook.jp-mod-commandMode … :focus`: so
  // without the attribute on the focused element itself, arrows move the notebook's cursor instead.
  root.addEventListener("focusin", (event) => {
    const target = event.target;
    if (target instanceof Element && !target.hasAttribute("data-lm-suppress-shortcuts")) {
      target.setAttribute("data-lm-suppress-shortcuts", "true");
    }
  });
  return root;
}

/**
 * anywidget's module for a view class: `export default mountView(TraceListView, "trace list")`.
 * @param {new (model: Model, el: HTMLElement) => View} ViewClass
 * @param {string} label how the view is named in the message shown when it cannot start
 */
export function mountView(ViewClass, label) {
  return {
    /** @param {{ model: Model, el: HTMLElement }} args */
    render({ model, el }) {
      let view;
      try {
        view = new ViewClass(model, el);
      } catch (err) {
        el.append(crash(`llmops_nb ${label} failed to start`, err));
        return undefined;
      }
      return () => view.destroy();
    },
  };
}

/**
 * @param {string} what
 * @param {any} err
 */
function crash(what, err) {
  return h("pre", { class: "lnb-crash", text: `${what}: ${err?.stack ?? err}` });
}

/**
 * The widget's model as an embedded explorer sees it: the same state, its own height.
 * @param {Model} model
 * @param {() => number} height
 * @param {number} minHeight
 * @returns {Model}
 */
export function relayModel(model, height, minHeight) {
  return {
    get: (key) => (key === "height" ? Math.max(minHeight, height()) : model.get(key)),
    set: (key, value) => model.set(key, value),
    save_changes: () => model.save_changes(),
    on: (event, fn) => model.on(event, fn),
    off: (event, fn) => model.off(event, fn),
    send: (...args) => model.send(...args),
  };
}

/**
 * Listen to the model's events (`{"change:height": fn, ...}`); returns what stops listening.
 * @param {Model} model
 * @param {Record<string, (...args: any[]) => void>} handlers
 * @returns {() => void}
 */
export function listen(model, handlers) {
  for (const [event, fn] of Object.entries(handlers)) model.on(event, fn);
  return () => {
    for (const [event, fn] of Object.entries(handlers)) model.off(event, fn);
  };
}

/**
 * Escape inside `el` runs `close`, unless it was typed in an element matching `typing` (an input).
 * @param {HTMLElement} el
 * @param {string} typing
 * @param {() => void} close
 */
export function closeOnEscape(el, typing, close) {
  el.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !(/** @type {Element} */ (event.target).closest?.(typing))) {
      event.stopPropagation();
      close();
    }
  });
}

/**
 * Start an explorer in host; if it throws, show why there instead and return null.
 * @template {View} T
 * @param {new (model: Model, el: HTMLElement) => T} Explorer
 * @param {Model} model
 * @param {HTMLElement} host
 * @returns {T | null}
 */
export function mountExplorer(Explorer, model, host) {
  try {
    return new Explorer(model, host);
  } catch (err) {
    host.replaceChildren(crash("llmops_nb explorer failed to start", err));
    return null;
  }
}
