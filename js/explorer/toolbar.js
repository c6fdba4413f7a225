// The explorer's toolbar controls, made one way: a button runs an action, a toggle holds an on/off
// view setting, tabs hold a choice of one of a few (the tree or the graph: graph_tab.js). A new control
// is one more entry in ExplorerView's `tools` (widget.js).

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
 * The tree's "collapse all" and "expand all" buttons (hidden while the graph shows: `lnb-tree-tool`).
 * @param {(collapse: boolean) => void} setAll
 */
export function collapseButtons(setAll) {
  const all = (/** @type {boolean} */ collapse) => {
    const what = collapse ? "collapse" : "expand";
    return toolButton({
      text: collapse ? "⊟" : "⊞",
      title: `${what} all (spans and groups of repeated spans)`,
      label: `${what} all`,
      cls: `lnb-${what}-all lnb-tree-tool`,
      onClick: () => setAll(collapse),
    });
  };
  return [all(true), all(false)];
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

/**
 * A choice of one of a few views as a row of tabs, kept in the string traitlet `key` when the model has it
 * (so it survives a re-render); in a host whose model lacks it, it lives in this view only, starting at
 * `fallback`. The tabs are buttons (role "tab", `aria-selected`), each with the class `lnb-tab-<value>`.
 */
export class ModelChoice {
  /**
   * @param {import("../lib/mount.js").Model} model
   * @param {string} key
   * @param {{ choices: { value: string, text: string, title: string }[], label: string, fallback: string,
   *   onChange: (value: string) => void }} options
   */
  constructor(model, key, { choices, label, fallback, onChange }) {
    this.model = model;
    this.key = key;
    this.onChange = onChange;
    this.values = choices.map((c) => c.value);
    this.synced = typeof model.get(key) === "string";
    this.value = this.synced && this.values.includes(model.get(key)) ? model.get(key) : fallback;
    this.tabs = choices.map(({ value, text, title }) =>
      h("button", {
        class: `lnb-btn lnb-tab lnb-tab-${value}`,
        text,
        title,
        attrs: { role: "tab" },
        on: { click: () => this.set(value) },
      }),
    );
    this.el = h("span", { class: "lnb-tabs", attrs: { role: "tablist", "aria-label": label } }, this.tabs);
    this.show();
    this.onModel = () => {
      const value = model.get(key);
      if (this.values.includes(value) && value !== this.value) this.set(value, { save: false });
    };
    model.on(`change:${key}`, this.onModel);
  }

  show() {
    this.tabs.forEach((tab, i) => {
      tab.setAttribute("aria-selected", String(this.values[i] === this.value));
    });
  }

  /** Choose `value`: the view follows (also when it is already chosen), and the model when it holds the choice. */
  set(value, { save = true } = {}) {
    this.value = value;
    this.show();
    if (save && this.synced && this.model.get(this.key) !== value) {
      this.model.set(this.key, value);
      this.model.save_changes();
    }
    this.onChange(value);
  }

  destroy() {
    this.model.off(`change:${this.key}`, this.onModel);
  }
}
