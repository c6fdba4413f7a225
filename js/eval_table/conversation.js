// The conversation under an open row of a run over conversations (evaluate() with `turns` or `goal`
// rows: one row per conversation). It shows the session's transcript (../sessions/transcript.js, its
// turns asked of the kernel with `turns`, as the sessions view asks them) and, once a turn's "open
// trace" (or a scorer's span in the card) is picked, that turn's trace in the explorer under a bar
// whose "← conversation" returns to the transcript where the reader left it. What shows follows the
// model (`session`, `trace_id`): `RowConversation` is the open row's (open_row.js) part that reads it,
// `ConversationPane` the DOM of both.

import { h } from "../lib/dom.js";
import { mountTranscript } from "../sessions/transcript.js";

export const TURN_BAR_PX = 28; // the "← conversation" bar above a turn's trace

/**
 * @typedef {{
 *   rpc: { request: (method: string, params?: object) => Promise<any> },
 *   onOpenTrace: (traceId: string) => void,
 *   onBack: () => void,
 * }} PaneOptions `onOpenTrace`: a turn's "open trace"; `onBack`: the bar's "← conversation"
 */

export class ConversationPane {
  /** @param {PaneOptions} options */
  constructor({ rpc, onOpenTrace, onBack }) {
    /** @type {Map<string, number>} turn numbers by trace id, from the `turns` answers */
    this.turns = new Map();
    /** @type {string | null} the trace under the turn bar */
    this.traceId = null;
    // the transcript's requests, through us: a turn's number names the trace open under the bar, also
    // when the trace opened (a re-render) before the transcript had its turns
    this.rpc = {
      request: (/** @type {string} */ method, /** @type {any} */ params) =>
        rpc.request(method, params).then((/** @type {any} */ data) => {
          if (method === "turns") this.learn(data?.rows);
          return data;
        }),
    };
    this.onOpenTrace = onOpenTrace;
    /** @type {any} */
    this.transcript = null;
    /** @type {number | null} where the reader was in the transcript before a turn's trace hid it */
    this.savedTop = null;
    const back = h("button", {
      class: "lnb-ev-btn lnb-ev-conv-back",
      text: "← conversation",
      title: "back to the conversation (Escape)",
      attrs: { type: "button" },
    });
    back.addEventListener("click", () => onBack());
    this.title = h("span", { class: "lnb-ev-turn-title" });
    this.bar = h("div", { class: "lnb-ev-turnbar", attrs: { style: `height:${TURN_BAR_PX}px` } }, [back, this.title]);
    this.transcriptHost = h("div", { class: "lnb-ev-transcript-host" });
    this.explorerHost = h("div", { class: "lnb-ev-turn-explorer" });
    this.el = h("div", { class: "lnb-ev-conversation" }, [this.transcriptHost, this.bar, this.explorerHost]);
    this.bar.hidden = this.explorerHost.hidden = true;
  }

  /** The session whose transcript is mounted. */
  get session() {
    return this.transcript?.sessionId ?? null;
  }

  /** Whether a turn's trace shows (the transcript is hidden). */
  get turnOpen() {
    return !this.bar.hidden;
  }

  /**
   * The transcript of `session`, as the reader left it.
   * @param {string} session
   */
  showTranscript(session) {
    this.mount(session);
    this.bar.hidden = this.explorerHost.hidden = true;
    this.transcriptHost.hidden = false;
    if (this.savedTop != null && this.transcript) this.transcript.scrollTop = this.savedTop;
    this.savedTop = null;
    this.transcript?.maybeMore(); // the turns may not have filled it while it was hidden
  }

  /**
   * The bar over a turn's trace (the explorer goes in `explorerHost`); the transcript stays mounted, hidden.
   * @param {string} session
   * @param {string} traceId
   */
  showTurn(session, traceId) {
    this.mount(session);
    if (!this.transcriptHost.hidden) this.savedTop = this.transcript?.scrollTop ?? null;
    this.transcriptHost.hidden = true;
    this.bar.hidden = this.explorerHost.hidden = false;
    this.traceId = traceId;
    this.showTitle();
  }

  showTitle() {
    const { traceId } = this;
    const turn = traceId ? this.turns.get(traceId) : null;
    this.title.textContent = `${turn != null ? `turn ${turn}` : `trace ${traceId}`} of session ${this.session}`;
    this.title.title = `trace ${traceId}`;
  }

  /**
   * Turn numbers from a page of turns; the bar's title names the turn once its number is known.
   * @param {any} rows
   */
  learn(rows) {
    for (const t of Array.isArray(rows) ? rows : []) if (t?.trace_id) this.turns.set(String(t.trace_id), t.turn);
    if (this.turnOpen && this.traceId && this.turns.has(this.traceId)) this.showTitle();
  }

  /** @param {string} session */
  mount(session) {
    if (this.transcript?.sessionId === session) return;
    this.transcript?.destroy();
    this.savedTop = null;
    this.turns.clear();
    this.transcript = mountTranscript(this.transcriptHost, this.rpc, session, {
      onOpenTrace: (traceId) => this.onOpenTrace(traceId),
    });
  }

  destroy() {
    this.transcript?.destroy();
    this.transcript = null;
    this.el.remove();
  }
}

/**
 * The open row's conversation: what shows under the card of a conversation row, from the model's
 * `session` and `trace_id`, and the moves between them. It works on its OpenRow (open_row.js): the
 * table's model, RPC and explorer, and the explorer the row mounts.
 */
export class RowConversation {
  /** @param {any} row the OpenRow */
  constructor(row) {
    this.row = row;
    /** @type {ConversationPane | null} */
    this.pane = null;
  }

  /**
   * Show `session`: its transcript, or the trace of one of its turns when the model has a trace_id.
   * @param {string} session
   */
  show(session) {
    const { row } = this;
    if (!this.pane) {
      row.destroyExplorer();
      this.pane = new ConversationPane({
        rpc: row.table.rpc,
        onOpenTrace: (traceId) => row.showTrace(traceId),
        onBack: () => this.back(),
      });
      row.explorerHost.replaceChildren(this.pane.el);
    }
    const traceId = row.table.model.get("trace_id");
    if (!traceId) {
      row.destroyExplorer();
      this.pane.showTranscript(session);
      return;
    }
    this.pane.showTurn(session, traceId);
    row.mountExplorerIn(this.pane.explorerHost, TURN_BAR_PX);
  }

  /** A turn's trace → the conversation's transcript, the keyboard on the open row again. */
  back() {
    const { row } = this;
    const { model } = row.table;
    row.destroyExplorer();
    model.set("trace_id", null);
    model.set("selected_span_id", null);
    model.save_changes();
    row.showMain();
    row.showTraceButtons();
    row.el.focus({ preventScroll: true });
  }

  /**
   * Show another conversation of the row (comparing: the baseline's or the candidate's).
   * @param {string | null | undefined} session
   */
  pick(session) {
    if (!session) return;
    const { row } = this;
    const { model } = row.table;
    row.destroyExplorer();
    model.set("trace_id", null);
    model.set("session", session);
    model.save_changes();
    row.showMain();
    row.showTraceButtons();
  }

  /**
   * Comparing two runs over conversations: a button per run's conversation of this row.
   * @param {any} d the row's detail
   */
  buttons(d) {
    const current = this.row.table.model.get("session");
    /**
     * @param {string} label
     * @param {string | null | undefined} session
     */
    const button = (label, session) => {
      const b = /** @type {HTMLButtonElement} */ (
        h("button", {
          class: "lnb-ev-btn",
          text: label,
          attrs: { "aria-pressed": String(session != null && session === current) },
        })
      );
      b.disabled = !session;
      b.addEventListener("click", () => this.pick(session));
      return b;
    };
    return [button("baseline conversation", d.base_session), button("candidate conversation", d.session)];
  }

  /**
   * The model's conversation follows the row's detail: a row opened from Python (open_row alone) gets
   * its session; a session that is neither of the row's runs' is replaced by the row's.
   * @param {any} d
   */
  follow(d) {
    const { row } = this;
    const { model } = row.table;
    const current = model.get("session") ?? null;
    if (current === (d.session ?? null) || (current != null && current === d.base_session)) return;
    row.destroyExplorer();
    model.set("session", d.session ?? null);
    if (!d.session && !model.get("trace_id")) model.set("trace_id", d.trace_id ?? null);
    model.save_changes();
    row.showMain();
  }

  destroy() {
    if (!this.pane) return;
    this.row.destroyExplorer();
    this.pane.destroy();
    this.pane = null;
    this.row.explorerHost.replaceChildren();
  }
}
