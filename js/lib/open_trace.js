// A trace opened inside a view that embeds the explorer (../explorer/widget.js) in place of its own
// content: a bar with a back button, the open trace's title and any chips the view adds, and under it
// the explorer on the view's model with its own height. "back" or Escape returns to the view. Shared
// by the trace list, the sessions view and the agent graph; each keeps what is its own (how a trace is
// opened, the title's words, what returning restores) and its class prefix, so its CSS stays its own.
import { h } from "./dom.js";
import { closeOnEscape, mountExplorer, relayModel } from "./mount.js";

export const BAR_PX = 30; // the "back" bar above an open trace

/**
 * The model as the explorer sees it: the same state, minus the bar's height.
 * @param {import("./mount.js").Model} model
 * @param {number} fallbackHeight the view's height when the model has none
 */
export function explorerModel(model, fallbackHeight, barPx = BAR_PX) {
  return relayModel(model, () => (Number(model.get("height")) || fallbackHeight) - barPx, 120);
}

/**
 * Open `traceId` with the explorer's state reset: `spanId` selected (or none), nothing collapsed, no search.
 * @param {import("./mount.js").Model} model
 * @param {string} traceId
 * @param {string | null} [spanId]
 */
export function openTrace(model, traceId, spanId = null) {
  model.set("selected_span_id", spanId);
  model.set("collapsed_span_ids", []);
  model.set("search_text", "");
  model.set("trace_id", traceId);
  model.save_changes();
}

/**
 * @typedef {{
 *   prefix: string,
 *   model: import("./mount.js").Model,
 *   Explorer: new (model: import("./mount.js").Model, el: HTMLElement) => import("./mount.js").View,
 *   fallbackHeight: number,
 *   main: HTMLElement,
 *   back: { text: string, title: string },
 *   chips?: HTMLElement[],
 *   onBack: () => void,
 *   onDestroy?: () => void,
 * }} PanelOptions `main` is what the explorer replaces; `onDestroy` runs when an open explorer goes
 */

export class OpenTracePanel {
  /** @param {PanelOptions} options */
  constructor({ prefix, model, Explorer, fallbackHeight, main, back, chips = [], onBack, onDestroy }) {
    this.model = model;
    this.Explorer = Explorer;
    this.fallbackHeight = fallbackHeight;
    this.main = main;
    this.onDestroy = onDestroy;
    /** @type {import("./mount.js").View | null} */
    this.explorer = null;
    const button = h("button", { class: `${prefix}-btn ${prefix}-back`, text: back.text, title: back.title });
    button.addEventListener("click", () => onBack());
    this.title = h("span", { class: `${prefix}-open-title` });
    this.host = h("div", { class: `${prefix}-explorer-host` });
    this.el = h("div", { class: `${prefix}-detail` }, [
      h("div", { class: `${prefix}-bar`, attrs: { style: `height:${BAR_PX}px` } }, [button, this.title, ...chips]),
      this.host,
    ]);
    this.el.hidden = true;
    closeOnEscape(this.el, "input", onBack);
  }

  /**
   * The explorer in place of `main`, under `title`.
   * @param {string} title
   * @param {string} traceId
   */
  show(title, traceId) {
    this.title.textContent = title;
    this.title.title = `trace ${traceId}`;
    this.main.hidden = true;
    this.el.hidden = false;
    if (!this.explorer) {
      this.explorer = mountExplorer(this.Explorer, explorerModel(this.model, this.fallbackHeight), this.host);
    }
    // an explorer already open follows trace_id itself (its own change:trace_id listener)
  }

  /** `main` again, the explorer gone. */
  hide() {
    this.destroyExplorer();
    this.el.hidden = true;
    this.main.hidden = false;
  }

  /** "back": the explorer gone and no trace open; the view then shows its own content again. */
  close() {
    this.destroyExplorer();
    this.model.set("trace_id", null);
    this.model.save_changes();
  }

  destroyExplorer() {
    if (!this.explorer) return;
    const explorer = this.explorer;
    this.explorer = null;
    this.onDestroy?.();
    explorer.destroy();
    this.host.replaceChildren();
  }
}
