// PromptDiff's view (anywidget ESM): a prompt's version history with its aliases, from which any
// two versions are picked (A = old side, B = new side), and their diff side by side or inline.
// The kernel computes every diff (llmops_nb/_diff.py, difflib) and answers two requests:
//   history {name}       -> {name, history: [{version, aliases, commit_message, author, created_at}]}
//   diff    {name, a, b} -> {name, a, b, diff: {a_label, b_label, kind, sections, variables, metadata, stats}, unified}
// This file only draws what it is sent. Traitlets hold the view state (name, a, b, mode).

import { copyText } from "../lib/copy.js";
import { h } from "../lib/dom.js";
import { listen, mountView, viewRoot } from "../lib/mount.js";
import { createRpc } from "../lib/rpc.js";
import { HistoryList } from "./history.js";
import { metadataTable, summaryLine, variableChips } from "./meta.js";
import { renderRows } from "./rows.js";

export const MODES = { side: "side by side", inline: "inline" };

export class PromptDiffView {
  /**
   * @param {import("../lib/mount.js").Model} model
   * @param {HTMLElement} el
   * @param {{ rpc?: ReturnType<typeof createRpc> }} [options]
   */
  constructor(model, el, { rpc } = {}) {
    this.model = model;
    this.rpc = rpc ?? createRpc(model);
    this.diffToken = 0;
    this.historyToken = 0;
    this.current = null; // the last diff answer drawn
    this.historyItems = [];

    const button = (label, title, onClick, cls = "") => {
      const b = h("button", { class: `lnb-pd-btn ${cls}`, text: label, title });
      b.addEventListener("click", onClick);
      return b;
    };
    this.modeButtons = Object.entries(MODES).map(([mode, label]) => {
      const b = button(label, `show the diff ${label}`, () => this.setMode(mode), "lnb-pd-mode");
      b.dataset.mode = mode;
      return b;
    });
    this.title = h("span", { class: "lnb-pd-title" });
    this.status = h("span", { class: "lnb-pd-status", attrs: { role: "status" } });
    this.copyButton = button("copy diff", "copy the unified diff", () => this.copy());
    const toolbar = h("div", { class: "lnb-pd-toolbar" }, [
      this.title,
      this.status,
      h("span", { class: "lnb-grow" }),
      h("span", { class: "lnb-pd-toggle", attrs: { role: "group", "aria-label": "view" } }, this.modeButtons),
      button("⇄ swap", "swap A and B", () => this.swap()),
      button("↻", "read the versions and aliases again", () => this.reload()),
      this.copyButton,
    ]);
    this.history = new HistoryList({ onPick: (side, version) => this.pick(side, version) });
    this.head = h("div", { class: "lnb-pd-head" });
    this.body = h("div", { class: "lnb-pd-body" });
    this.root = viewRoot("lnb-prompt-diff", [toolbar, this.history.el, this.head, this.body]);
    // Enter and Space on our buttons must not also reach the notebook (Enter opens the cell editor).
    this.root.addEventListener("keydown", (event) => {
      if ((event.key === "Enter" || event.key === " ") && event.target?.closest?.("button")) event.stopPropagation();
    });
    el.append(this.root);

    this.onPicked = () => this.scheduleDiff();
    this.onMode = () => this.draw();
    this.onName = () => this.reload();
    this.unlisten = listen(model, {
      "change:a": this.onPicked,
      "change:b": this.onPicked,
      "change:mode": this.onMode,
      "change:name": this.onName,
    });
    this.drawMode();
    this.reload();
  }

  get mode() {
    return this.model.get("mode") === "inline" ? "inline" : "side";
  }

  pick(side, version) {
    if (this.model.get(side) === version) return;
    this.model.set(side, version);
    this.model.save_changes();
  }

  swap() {
    const a = this.model.get("a");
    this.model.set("a", this.model.get("b"));
    this.model.set("b", a);
    this.model.save_changes();
  }

  setMode(mode) {
    if (this.model.get("mode") === mode) return;
    this.model.set("mode", mode);
    this.model.save_changes();
  }

  /** One request for changes that arrive together (a swap sets a and b). */
  scheduleDiff() {
    this.history.select(this.model.get("a"), this.model.get("b"));
    if (this.diffQueued) return;
    this.diffQueued = true;
    queueMicrotask(() => {
      this.diffQueued = false;
      this.loadDiff();
    });
  }

  reload() {
    return Promise.all([this.loadHistory(), this.loadDiff()]);
  }

  async loadHistory() {
    const token = ++this.historyToken;
    try {
      const answer = await this.rpc.request("history", { name: this.model.get("name") });
      if (token !== this.historyToken) return;
      this.historyItems = answer.history ?? [];
      this.history.update(this.historyItems, this.model.get("a"), this.model.get("b"));
    } catch (err) {
      if (token === this.historyToken && err?.type !== "Closed") this.showError(`versions: ${err?.message ?? err}`);
    }
  }

  async loadDiff() {
    const token = ++this.diffToken;
    const [name, a, b] = [this.model.get("name"), this.model.get("a"), this.model.get("b")];
    this.status.textContent = `loading v${a} → v${b}…`;
    this.status.classList.remove("lnb-pd-error");
    this.status.setAttribute("role", "status");
    this.root.setAttribute("aria-busy", "true");
    try {
      const answer = await this.rpc.request("diff", { name, a, b });
      if (token !== this.diffToken) return;
      this.current = answer;
      this.status.textContent = "";
      this.draw();
    } catch (err) {
      if (token === this.diffToken && err?.type !== "Closed") this.showError(err?.message ?? String(err));
    } finally {
      if (token === this.diffToken) this.root.removeAttribute("aria-busy");
    }
  }

  showError(message) {
    this.status.textContent = message;
    this.status.classList.add("lnb-pd-error");
    this.status.setAttribute("role", "alert");
  }

  drawMode() {
    for (const b of this.modeButtons) b.setAttribute("aria-pressed", String(b.dataset.mode === this.mode));
  }

  draw() {
    this.drawMode();
    const answer = this.current;
    this.title.textContent = this.model.get("name") ?? "";
    if (!answer) return;
    const diff = answer.diff ?? {};
    this.head.replaceChildren(
      ...[summaryLine(diff), variableChips(diff.variables), metadataTable(diff.metadata)].filter(Boolean),
    );
    this.body.replaceChildren(renderRows(diff, this.mode));
    this.history.select(this.model.get("a"), this.model.get("b"));
  }

  async copy() {
    const ok = await copyText(this.current?.unified ?? "");
    this.copyButton.textContent = ok ? "copied" : "copy failed";
    setTimeout(() => {
      this.copyButton.textContent = "copy diff";
    }, 1500);
  }

  destroy() {
    this.rpc.close();
    this.unlisten();
    this.root.remove();
  }
}

export default mountView(PromptDiffView, "prompt diff");
