// Shared by the views that embed the explorer (trace list, eval table) and page rows
// with the keyboard: one copy of the model relay, the guarded mount and the key moves.
import { h } from "./dom.js";

/** The widget's model as the embedded explorer sees it: the same state, its own height. */
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

/** Start an explorer in host; if it throws, show why there instead and return null. */
export function mountExplorer(Explorer, model, host) {
  try {
    return new Explorer(model, host);
  } catch (err) {
    host.replaceChildren(h("pre", { class: "lnb-crash", text: `llmops_nb explorer failed to start: ${err?.stack ?? err}` }));
    return null;
  }
}

/** The row a navigation key moves to from row `from` (-1: none yet); undefined for other keys. */
export function keyTarget(key, from, total, pageRows) {
  switch (key) {
    case "ArrowDown": return from + 1;
    case "ArrowUp": return from - 1;
    case "PageDown": return from + pageRows;
    case "PageUp": return from - pageRows;
    case "Home": return 0;
    case "End": return total - 1;
    default: return undefined;
  }
}
