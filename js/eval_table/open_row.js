// An open row of the eval table: a bar (back, previous, next, which trace), the row's detail card —
// outputs, every score with the judge's rationale, the feedback form — and the row's trace in the
// explorer below it. A row of a run over conversations opens its conversation instead: the session's
// transcript, each turn's trace in the explorer on demand (./conversation.js). The model holds what is
// open (open_row, session, trace_id, the explorer's state), so a re-rendered view opens the same row,
// conversation and trace again.
import { h } from "../lib/dom.js";
import { closeOnEscape, mountExplorer, relayModel } from "../lib/mount.js";
import { RowConversation } from "./conversation.js";
import { renderRowDetail } from "./detail.js";
import { FeedbackForm } from "./feedback.js";

export const BAR_PX = 32; // the bar above an open row
const CARD_SHARE = 0.45; // of the open row's height, for its detail card; the trace gets the rest

/**
 * The model as the explorer sees it: the same state, with the height left for the trace.
 * @param {import("../lib/mount.js").Model} model
 * @param {() => number} height
 */
export function explorerModel(model, height) {
  return relayModel(model, height, 160);
}

/**
 * @typedef {object} Table what the open row needs from its table
 * @property {import("../lib/mount.js").Model} model
 * @property {{ request: (method: string, params?: object) => Promise<any> }} rpc
 * @property {import("../lib/grid.js").PagedGrid} grid
 * @property {() => string | null} compareKey
 * @property {() => any} info the `info` answer (null before it came)
 * @property {() => number} height
 * @property {(data: object) => Promise<any>} saveFeedback
 * @property {any} Explorer
 * @property {(visible: boolean) => void} showList the table's list, shown when no row is open
 */

/**
 * The row a key on the open row's panel moves to: -1 (Up), 1 (Down), or 0 (a key left to others:
 * typing in a field, arrows inside the embedded explorer, a scrollable card or a transcript).
 * @param {string} key
 * @param {Element | null} target
 */
export function openRowKey(key, target) {
  if (key !== "ArrowUp" && key !== "ArrowDown") return 0;
  if (target?.closest?.("input, textarea, select, .lnb-explorer, .lnb-ev-card-host, .lnb-ss-transcript")) return 0;
  return key === "ArrowUp" ? -1 : 1;
}

export class OpenRow {
  /** @param {Table} table */
  constructor(table) {
    this.table = table;
    this.index = -1;
    /** @type {number | null | undefined} */
    this.shown = undefined;
    /** @type {number | null} */
    this.pending = null;
    /** @type {any} */
    this.detail = null;
    /** @type {any} */
    this.explorer = null;
    /** @type {HTMLElement | null} where the explorer is mounted (the row's host, or the conversation's) */
    this.explorerIn = null;
    /** a conversation row's transcript and its turns' traces */
    this.conversation = new RowConversation(this);
    this.token = 0;
    const back = h("button", {
      class: "lnb-ev-btn lnb-ev-back",
      text: "← all rows",
      title: "back to the table (Escape)",
    });
    back.addEventListener("click", () => this.close());
    this.prev = /** @type {HTMLButtonElement} */ (
      h("button", { class: "lnb-ev-btn", text: "▲", title: "previous row" })
    );
    this.next = /** @type {HTMLButtonElement} */ (h("button", { class: "lnb-ev-btn", text: "▼", title: "next row" }));
    this.prev.addEventListener("click", () => this.step(-1));
    this.next.addEventListener("click", () => this.step(1));
    this.title = h("span", { class: "lnb-ev-open-title" });
    this.traceButtons = h("span", { class: "lnb-ev-trace-pick" });
    this.cardHost = h("div", { class: "lnb-ev-card-host" });
    this.explorerHost = h("div", { class: "lnb-ev-explorer-host" });
    this.el = h("div", { class: "lnb-ev-detail" }, [
      h("div", { class: "lnb-ev-openbar", attrs: { style: `height:${BAR_PX}px` } }, [
        back,
        this.prev,
        this.next,
        this.title,
        h("span", { class: "lnb-grow" }),
        this.traceButtons,
      ]),
      this.cardHost,
      this.explorerHost,
    ]);
    this.el.hidden = true;
    // the keyboard stays in the view after a row is opened with the mouse: the panel takes the focus
    // (a click on its text keeps it there), Escape goes back to the rows, Up/Down open the row above/below
    this.el.tabIndex = -1;
    closeOnEscape(this.el, "input, textarea, select", () => this.escape());
    this.el.addEventListener("keydown", (event) => this.onKey(event));
  }

  /**
   * Up/Down on the panel (not in a text field, nor in the explorer's tree, which moves between spans).
   * @param {KeyboardEvent} event
   */
  onKey(event) {
    const delta = openRowKey(event.key, /** @type {Element} */ (event.target));
    if (delta === 0) return;
    event.preventDefault();
    event.stopPropagation(); // not the notebook's cell navigation
    this.step(delta);
  }

  /** Put the keyboard in the open row, unless it is already there. */
  focus() {
    if (!this.el.hidden && !this.el.contains(document.activeElement)) this.el.focus({ preventScroll: true });
  }

  cardPx() {
    return Math.round((this.table.height() - BAR_PX) * CARD_SHARE);
  }

  applyHeight() {
    this.cardHost.style.height = `${this.cardPx()}px`;
  }

  /**
   * Open the row at `index` of the list (its place in the current order).
   * @param {number} index
   */
  open(index) {
    const row = this.table.grid.loaded(index);
    if (!row) return;
    const { model, grid } = this.table;
    this.index = index;
    grid.active = index;
    this.savedTop = grid.viewport.scrollTop;
    // a conversation row opens on its transcript (no trace until a turn's is picked); any other on its trace
    const session = row.session ?? null;
    if (session) this.destroyExplorer();
    model.set("selected_span_id", null);
    model.set("collapsed_span_ids", []);
    model.set("search_text", "");
    model.set("trace_id", session ? null : (row.trace_id ?? null));
    model.set("session", session);
    model.set("open_row", row.row);
    model.save_changes();
    this.show();
    this.focus();
  }

  /** A page arrived: open the row the ▲/▼ buttons asked for, once it is loaded. */
  pageArrived() {
    if (this.pending != null && this.table.grid.loaded(this.pending)) {
      const index = this.pending;
      this.pending = null;
      this.open(index);
    }
  }

  /** @param {number} delta */
  step(delta) {
    const { grid } = this.table;
    const target = this.index + delta;
    if (this.index < 0 || target < 0 || target >= (grid.cache.total ?? 0)) return;
    if (grid.loaded(target)) {
      this.open(target);
      return;
    }
    this.pending = target;
    grid.cache.request([Math.floor(target / grid.cache.pageSize)]);
  }

  close() {
    const { model, grid } = this.table;
    this.destroyExplorer();
    this.conversation.destroy();
    model.set("open_row", null);
    model.set("session", null);
    model.set("trace_id", null);
    model.save_changes();
    this.show();
    grid.viewport.focus?.({ preventScroll: true });
  }

  /**
   * Show the table, or the open row (also after a re-render, or when Python sets open_row).
   * @param {{ force?: boolean }} [options]
   */
  async show({ force = false } = {}) {
    const { model, rpc, grid } = this.table;
    const info = this.table.info();
    const rowNumber = model.get("open_row");
    if (rowNumber === this.shown && rowNumber != null && !force) return; // already shown or on its way
    this.shown = info ? rowNumber : undefined;
    if (rowNumber == null || !info) {
      this.destroyExplorer();
      this.conversation.destroy();
      this.el.hidden = true;
      this.table.showList(true);
      if (this.savedTop != null) {
        grid.viewport.scrollTop = this.savedTop;
        this.savedTop = null;
      }
      grid.schedule();
      return;
    }
    this.table.showList(false);
    this.el.hidden = false;
    this.prev.disabled = this.index <= 0;
    this.next.disabled = this.index < 0 || this.index >= (grid.cache.total ?? 0) - 1;
    this.title.textContent = `row ${rowNumber}`;
    const token = ++this.token;
    this.cardHost.replaceChildren(h("div", { class: "lnb-ev-dim", text: "loading the row…" }));
    this.showMain();
    let d;
    try {
      d = await rpc.request("row", { compare: this.table.compareKey(), row: rowNumber });
    } catch (err) {
      if (err?.type === "Closed" || token !== this.token) return;
      this.cardHost.replaceChildren(
        h("div", { class: "lnb-ev-error", text: `could not load row ${rowNumber}: ${err?.message ?? err}` }),
      );
      return;
    }
    if (token !== this.token) return;
    this.detail = d;
    this.title.textContent = d.session
      ? `row ${d.row} · conversation of ${d.turns ?? "?"} turn${d.turns === 1 ? "" : "s"}`
      : `row ${d.row}`;
    this.title.title = [d.session ? `session ${d.session}` : "", `trace ${d.trace_id ?? "(none)"}`]
      .filter(Boolean)
      .join("\n");
    this.conversation.follow(d);
    const form = new FeedbackForm({
      labels: info.labels ?? [],
      author: model.get("author") ?? "",
      onSave: (/** @type {object} */ data) => this.table.saveFeedback(data),
      onAuthor: (/** @type {string} */ name) => {
        model.set("author", name);
        model.save_changes();
      },
    });
    form.showHistory(d.feedback);
    const compare = Boolean(info.baseline);
    this.cardHost.replaceChildren(
      renderRowDetail(d, {
        compare,
        onShowSpan: (/** @type {string} */ span, /** @type {string} */ side) => this.showSpan(span, side),
        conversation: Boolean(d.session),
        feedback: form,
      }),
    );
    this.cardHost.scrollTop = 0;
    this.showTraceButtons();
  }

  showTraceButtons() {
    const d = this.detail;
    if (!this.table.info()?.baseline || !d) {
      this.traceButtons.replaceChildren();
      return;
    }
    if (d.session) {
      this.traceButtons.replaceChildren(...this.conversation.buttons(d));
      return;
    }
    const current = this.table.model.get("trace_id");
    /**
     * @param {string} label
     * @param {string | null | undefined} traceId
     */
    const button = (label, traceId) => {
      const b = /** @type {HTMLButtonElement} */ (
        h("button", {
          class: "lnb-ev-btn",
          text: label,
          attrs: { "aria-pressed": String(traceId != null && traceId === current) },
        })
      );
      b.disabled = !traceId;
      b.addEventListener("click", () => this.showTrace(traceId));
      return b;
    };
    this.traceButtons.replaceChildren(
      button("baseline trace", d.base?.trace_id),
      button("candidate trace", d.trace_id),
    );
  }

  /** The model changed session or trace_id (another view of this widget, or Python): show what it says. */
  followModel() {
    if (this.el.hidden || this.table.model.get("open_row") == null) return;
    this.showMain();
    this.showTraceButtons();
  }

  /** Escape: from a turn's trace back to its conversation; else back to the rows. */
  escape() {
    const { model } = this.table;
    if (model.get("session") && model.get("trace_id")) this.conversation.back();
    else this.close();
  }

  /**
   * @param {string | null | undefined} traceId
   * @param {string | null} [spanId]
   */
  showTrace(traceId, spanId = null) {
    if (!traceId) return;
    const { model } = this.table;
    model.set("selected_span_id", spanId);
    if (model.get("trace_id") !== traceId) {
      model.set("collapsed_span_ids", []);
      model.set("search_text", "");
      model.set("trace_id", traceId);
    }
    model.save_changes();
    this.showMain();
    this.showTraceButtons();
  }

  /**
   * @param {string} spanId
   * @param {string} side
   */
  showSpan(spanId, side) {
    const d = this.detail;
    const session = side === "baseline" ? d?.base_session : d?.session;
    const { model } = this.table;
    if (session && session !== model.get("session")) {
      this.destroyExplorer(); // the other run's conversation: its first turn's trace holds the judge's span
      model.set("session", session);
    }
    this.showTrace(side === "baseline" ? d?.base?.trace_id : d?.trace_id, spanId);
  }

  /** Below the card: the row's trace, or a conversation row's transcript (or one of its turns' traces). */
  showMain() {
    const session = this.table.model.get("session") ?? null;
    if (session) this.conversation.show(session);
    else {
      this.conversation.destroy();
      this.showExplorer();
    }
  }

  showExplorer() {
    const { model } = this.table;
    if (!model.get("trace_id")) {
      this.destroyExplorer();
      this.explorerHost.replaceChildren(
        h("div", { class: "lnb-ev-dim lnb-ev-no-trace", text: "This row has no trace." }),
      );
      return;
    }
    this.mountExplorerIn(this.explorerHost);
  }

  /**
   * The explorer in `host` (the row's, or under a conversation's turn bar, `barPx` tall), unless it is
   * there already: then it follows trace_id and selected_span_id itself.
   * @param {HTMLElement} host
   */
  mountExplorerIn(host, barPx = 0) {
    if (this.explorer && this.explorerIn === host) return;
    this.destroyExplorer();
    host.replaceChildren();
    const height = () => this.table.height() - BAR_PX - this.cardPx() - barPx;
    this.explorer = mountExplorer(this.table.Explorer, explorerModel(this.table.model, height), host);
    this.explorerIn = host;
  }

  destroyExplorer() {
    if (!this.explorer) return;
    const explorer = this.explorer;
    const host = this.explorerIn;
    this.explorer = null;
    this.explorerIn = null;
    explorer.destroy();
    host?.replaceChildren();
  }

  destroy() {
    this.token++;
    this.destroyExplorer();
    this.conversation.destroy();
  }
}
