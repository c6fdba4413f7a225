// The explorer's toolbar controls, made one way: a button runs an action, a toggle holds an on/off
// view setting. A new control (a mode, a tab) is one more entry in ExplorerView's `tools` (widget.js).

import { h } from "../lib/dom.js";

/**
 * A toolbar button: short text, a tooltip, and a name for screen readers.
 * @param {{ text: string, title: string, label?: string, cls?: string, onClick: () => void }} options
 */
export function toolButton({ text, title, label = title, cls = "", onClick }) {
  const button = h("button", { class: `lnb-btn ${cls}`.trim(), text, title, attrs: { "aria-label": label } });
  button.addEventListener("click", onClick);
  return button;
}

/**
 * An on/off view setting as a pressed/unpressed button, kept in the boolean traitlet `key` when the model
 * has it (so it survives a re-render); in a host whose model lacks it (a view embedding the explorer),
 * it lives in this view only, starting at `fallback`.
 */
export class ModelToggle {
  /**
   * @param {import("../lib/mount.js").Model} model
   * @param {string} key
   * @param {{ text: string, title: string, cls?: string, fallback?: boolean, icon?: HTMLElement | null,
   *   onChange: (on: boolean) => void }} options
   */
  constructor(model, key, { text, title, cls = "", fallback = true, icon = null, onChange }) {
    this.model = model;
    this.key = key;
    this.onChange = onChange;
    this.synced = typeof model.get(key) === "boolean";
    this.on = this.synced ? model.get(key) : fallback;
    this.el = h("button", { class: `lnb-btn lnb-toggle ${cls}`.trim(), title }, [icon, text]);
    this.show();
    this.el.addEventListener("click", () => this.set(!this.on));
    this.onModel = () => {
      const value = model.get(key);
      if (typeof value === "boolean" && value !== this.on) this.set(value, { save: false });
    };
    model.on(`change:${key}`, this.onModel);
  }

  show() {
    this.el.setAttribute("aria-pressed", String(this.on));
  }

  /** Turn it on or off: the view follows, and the model when it holds the setting. */
  set(on, { save = true } = {}) {
    this.on = on;
    this.show();
    if (save && this.synced && this.model.get(this.key) !== on) {
      this.model.set(this.key, on);
      this.model.save_changes();
    }
    this.onChange(on);
  }

  destroy() {
    this.model.off(`change:${this.key}`, this.onModel);
  }
}
