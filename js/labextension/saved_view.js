// The renderer of an llmops_nb view's output in JupyterLab and Notebook 7.
//
// Every view's output carries three things (llmops_nb/widgets/_base.py): the ipywidgets view, the
// script-free snapshot as text/html, and this extension's MIME type, which ranks first. So this
// renderer holds both: ipywidgets' own renderer (the live view, when its model exists) and the
// snapshot (when it does not: a notebook reopened after its kernel was restarted or shut down,
// where ipywidgets alone would print "Error displaying widget: model not found"). A bar above the
// snapshot runs the cell, which makes the view live again.
//
// A live view may also send a new snapshot (an "lnb-snapshot" DOM event, e.g. after feedback is
// given in the eval table); it is written into the output's data, so the saved notebook keeps
// what the view shows now.
import { Panel, Widget } from "@lumino/widgets";
import { LOADING_GRACE_MS, shownFor, withSnapshot } from "./state.js";

export const SAVED_VIEW_MIME = "application/vnd.llmops-nb.saved-view+json";
export const WIDGET_MIME = "application/vnd.jupyter.widget-view+json";
export const SNAPSHOT_EVENT = "lnb-snapshot";

/**
 * @typedef {{
 *   rendermime: { createRenderer: (mimeType: string) => any },
 *   runCell: (node: HTMLElement, above: boolean) => Promise<void> | void,
 * }} Host the notebook this output is in: its renderers and a way to run the cell holding a node
 *   (with the cells above it first, when `above`)
 */

export class SavedView extends Panel {
  /** @param {Host} host */
  constructor(host) {
    super();
    this.addClass("lnb-saved-view");
    this._host = host;
    /** @type {any} the output's model (an IMimeModel) */
    this._model = null;
    /** @type {any} ipywidgets' renderer of the live view */
    this._live = null;
    /** @type {any} the text/html renderer of the snapshot, made the first time it is shown */
    this._snapshot = null;
    /** whether the output's snapshot changed since it was last drawn */
    this._snapshotStale = true;
    this._bar = savedBar((above) => this._host.runCell(this.node, above));
    this._errorSeen = false;
    this._graceOver = false;
    this._timer = 0;
    /** @type {MutationObserver | null} */
    this._observer = null;
    this._onSnapshot = this._onSnapshot.bind(this);
    this.node.addEventListener(SNAPSHOT_EVENT, this._onSnapshot);
    this.addWidget(this._bar);
    this._bar.hide();
  }

  /** Called once per output, and again whenever the output's data changes (a new snapshot). */
  async renderModel(model) {
    this._model = model;
    this._snapshotStale = true;
    if (this._live === null) this._startLive(model);
    this._update();
    if (this.node.dataset.shown === "saved") await this._renderSnapshot();
  }

  /** The snapshot is drawn only when it is shown: a live view's page holds no copy of its HTML. */
  async _renderSnapshot() {
    if (!this._snapshotStale || this._model === null || typeof this._model.data["text/html"] !== "string") return;
    this._snapshotStale = false;
    if (this._snapshot === null) {
      this._snapshot = this._host.rendermime.createRenderer("text/html");
      this._snapshot.addClass("lnb-saved-snapshot");
      this.insertWidget(1, this._snapshot);
    }
    await this._snapshot.renderModel(this._model);
  }

  /** @param {any} model */
  _startLive(model) {
    this._live = this._host.rendermime.createRenderer(WIDGET_MIME);
    this.addWidget(this._live);
    this._observer = new MutationObserver(() => this._update());
    this._observer.observe(this._live.node, { childList: true, characterData: true, subtree: false });
    this._timer = window.setTimeout(() => {
      this._graceOver = true;
      this._update();
    }, LOADING_GRACE_MS);
    void Promise.resolve(this._live.renderModel(model)).catch(() => {
      this._errorSeen = true;
      this._update();
    });
  }

  _update() {
    if (this._live === null) return;
    const node = this._live.node;
    const text = node.textContent ?? "";
    if (text.startsWith("Error displaying widget")) {
      this._errorSeen = true;
      // never leave ipywidgets' message in the page: the snapshot says it better
      node.textContent = "";
    }
    const shown = shownFor({
      hasView: node.firstElementChild !== null,
      text: this._errorSeen ? "Error displaying widget" : text,
      graceOver: this._graceOver,
    });
    if (this.node.dataset.shown === shown) return;
    this.node.dataset.shown = shown;
    setShown(this._bar, shown === "saved");
    if (this._snapshot) setShown(this._snapshot, shown === "saved");
    setShown(this._live, shown !== "saved");
    if (shown === "saved") void this._renderSnapshot();
  }

  /** @param {Event} event */
  _onSnapshot(event) {
    event.stopPropagation();
    if (this._model === null || typeof this._model.setData !== "function") return;
    const next = withSnapshot(this._model.data, /** @type {CustomEvent} */ (event).detail);
    if (next !== null) this._model.setData({ data: next });
  }

  dispose() {
    if (this.isDisposed) return;
    window.clearTimeout(this._timer);
    this._observer?.disconnect();
    this.node.removeEventListener(SNAPSHOT_EVENT, this._onSnapshot);
    super.dispose();
  }
}

/**
 * @param {Widget} widget
 * @param {boolean} visible
 */
function setShown(widget, visible) {
  if (visible && widget.isHidden) widget.show();
  else if (!visible && !widget.isHidden) widget.hide();
}

/**
 * The line above a saved snapshot: what it is, and the buttons that make it live. After a restart the
 * kernel has none of the notebook's state, so the first button runs the cells above too; the second
 * is for a kernel where they already ran.
 * @param {(above: boolean) => Promise<void> | void} run
 */
function savedBar(run) {
  const bar = new Widget();
  bar.addClass("lnb-saved-bar");
  const note = document.createElement("span");
  note.className = "lnb-saved-note";
  note.textContent = "Saved view: the kernel that drew it is gone; this is the snapshot stored in the notebook.";
  const buttons = [runButton("Run cells up to here", true), runButton("Run this cell", false)];
  for (const button of buttons) {
    button.addEventListener("click", () => {
      for (const b of buttons) b.disabled = true;
      Promise.resolve(run(button.dataset.above === "true")).finally(() => {
        for (const b of buttons) b.disabled = false;
      });
    });
  }
  bar.node.append(note, ...buttons);
  return bar;
}

/**
 * @param {string} label
 * @param {boolean} above
 */
function runButton(label, above) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "lnb-saved-run";
  button.dataset.above = String(above);
  button.textContent = label;
  button.title = above ? "Run every cell above this one, then this one" : "Run only this cell";
  return button;
}
