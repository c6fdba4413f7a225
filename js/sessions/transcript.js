// One session's conversation as chat bubbles: each turn a line of facts (time, duration, tokens, cost,
// status, "open trace") over the user's words and the assistant's answer; an ERROR turn shows its error.
// Turns come from the kernel a page at a time (`turns {session, offset, limit, as_of?}`), the next page
// when the reader nears the end. Words are text only (textContent, white-space kept by CSS); a long
// turn is cut with "show more".
//
// Reusable: `mountTranscript(container, rpc, sessionId, { onOpenTrace })` needs only an `rpc` whose
// kernel answers `turns` (llmops_nb/widgets/sessions/_widget.py's `transcript_methods`) and the CSS of
// ./transcript.css; the sessions view and, later, the eval table's conversation rows use it.

import { h } from "../lib/dom.js";
import * as fmt from "../lib/format.js";
import { localTime } from "./list.js";

export const TURN_PAGE = 50;
/** A text longer than this (characters, or lines) is cut until "show more". */
export const COLLAPSE_CHARS = 600;
export const COLLAPSE_LINES = 10;
/** How close to the end (px) the next page is asked for. */
export const NEAR_END_PX = 240;

const STATUSES = new Set(["OK", "ERROR", "IN_PROGRESS"]);

/**
 * The status as a CSS class suffix, from a fixed set (never the raw value).
 * @param {string} status
 */
export function statusClass(status) {
  return STATUSES.has(status) ? status.toLowerCase() : "unknown";
}

/**
 * `text` cut for a collapsed bubble: at most `maxChars` characters and `maxLines` lines.
 * @param {string} text
 * @returns {{ shown: string, cut: boolean }}
 */
export function clipText(text, maxChars = COLLAPSE_CHARS, maxLines = COLLAPSE_LINES) {
  let shown = text.length > maxChars ? text.slice(0, maxChars) : text;
  let at = -1;
  for (let line = 0; line < maxLines; line++) {
    at = shown.indexOf("\n", at + 1);
    if (at === -1) break;
  }
  if (at !== -1) shown = shown.slice(0, at);
  return shown.length < text.length ? { shown: `${shown.trimEnd()}…`, cut: true } : { shown: text, cut: false };
}

/**
 * A turn's facts: `14:03:12`, `1.25 s`, `340 tokens`, `$0.0012`.
 * @param {any} turn
 */
export function turnFacts(turn) {
  const facts = [localTime(turn.start_time)];
  if (turn.duration_ms != null) facts.push(fmt.duration(turn.duration_ms));
  else if (turn.status === "IN_PROGRESS") facts.push("running");
  if (turn.tokens) facts.push(`${fmt.tokens(turn.tokens)} tokens`);
  if (turn.cost_usd != null) facts.push(fmt.cost(turn.cost_usd));
  return facts;
}

/**
 * A bubble of words: the text (cut, with "show more", when long) and, when the kernel sent less than
 * the whole (`chars` longer than `text`), a note that the trace has the rest.
 * @param {"user" | "assistant"} who
 * @param {string} text
 * @param {number | undefined} chars the text's full length
 * @param {string} empty what an empty text says
 */
export function bubble(who, text, chars, empty) {
  const body = h("div", { class: "lnb-ss-text" });
  const el = h("div", { class: `lnb-ss-bubble lnb-ss-${who}`, attrs: { "data-who": who } }, [
    h("div", { class: "lnb-ss-who", text: who }),
    body,
  ]);
  if (!text) {
    body.textContent = empty;
    el.classList.add("lnb-ss-empty-text");
    return el;
  }
  const { shown, cut } = clipText(text);
  body.textContent = shown;
  if (cut) {
    const more = h("button", {
      class: "lnb-ss-more",
      text: "show more",
      attrs: { type: "button", "aria-expanded": "false" },
    });
    more.addEventListener("click", () => {
      const open = more.getAttribute("aria-expanded") !== "true";
      body.textContent = open ? text : shown;
      more.textContent = open ? "show less" : "show more";
      more.setAttribute("aria-expanded", String(open));
    });
    el.append(more);
  }
  if (chars != null && chars > text.length) {
    el.append(
      h("div", {
        class: "lnb-ss-rest",
        text: `… ${fmt.integer(chars - text.length)} more characters: open the trace to read them all`,
      }),
    );
  }
  return el;
}

/**
 * One turn: its facts line with "open trace", the user's bubble, the assistant's, its error.
 * @param {any} turn a row of the kernel's `turns` answer
 * @param {(traceId: string, turn: any) => void} [onOpenTrace]
 */
export function renderTurn(turn, onOpenTrace) {
  const status = String(turn.status ?? "");
  const open = h("button", {
    class: "lnb-ss-open-trace",
    text: "open trace",
    title: `open this turn's trace (${turn.trace_id}) in the explorer`,
    attrs: { type: "button" },
  });
  open.addEventListener("click", () => onOpenTrace?.(String(turn.trace_id), turn));
  open.hidden = !onOpenTrace;
  const head = h("div", { class: "lnb-ss-turn-head" }, [
    h("span", { class: "lnb-ss-turn-no", text: `Turn ${turn.turn ?? ""}` }),
    h("span", {
      class: "lnb-ss-turn-facts",
      text: turnFacts(turn).join(" · "),
      title: `${turn.start_time ?? ""} (UTC)`,
    }),
    h("span", { class: "lnb-ss-turn-status", text: status }),
    h("span", { class: "lnb-grow" }),
    open,
  ]);
  const running = status === "IN_PROGRESS";
  const children = [
    head,
    bubble("user", String(turn.user ?? ""), turn.user_chars, "(no user message recorded)"),
    status === "ERROR" && !turn.assistant
      ? null
      : bubble(
          "assistant",
          String(turn.assistant ?? ""),
          turn.assistant_chars,
          running ? "(still running)" : "(no answer recorded)",
        ),
    turn.error
      ? h("div", { class: "lnb-ss-turn-error" }, [
          h("span", { class: "lnb-ss-error-label", text: "error: " }),
          h("span", { class: "lnb-ss-error-text", text: String(turn.error) }),
        ])
      : null,
  ];
  return h(
    "div",
    {
      class: `lnb-ss-turn lnb-ss-s-${statusClass(status)}`,
      attrs: { "data-turn": String(turn.turn ?? ""), "data-trace-id": String(turn.trace_id ?? "") },
    },
    children,
  );
}

/**
 * @typedef {{
 *   onOpenTrace?: (traceId: string, turn: any) => void,
 *   onClose?: () => void,
 *   pageSize?: number,
 * }} TranscriptOptions `onOpenTrace`: the "open trace" buttons (none without it); `onClose`: a close button
 */

export class Transcript {
  /**
   * @param {HTMLElement} container
   * @param {{ request: (method: string, params?: object) => Promise<any> }} rpc
   * @param {string} sessionId
   * @param {TranscriptOptions} [options]
   */
  constructor(container, rpc, sessionId, { onOpenTrace, onClose, pageSize = TURN_PAGE } = {}) {
    this.rpc = rpc;
    this.sessionId = sessionId;
    this.onOpenTrace = onOpenTrace;
    this.pageSize = pageSize;
    this.loaded = 0;
    /** @type {number | null} */
    this.total = null;
    /** @type {string | null} */
    this.asOf = null;
    this.loading = false;
    this.failed = false;
    this.generation = 0;

    this.count = h("span", { class: "lnb-ss-t-count", text: "loading…" });
    const close = onClose
      ? h("button", { class: "lnb-ss-btn lnb-ss-t-close", text: "close", title: "close this conversation" })
      : null;
    close?.addEventListener("click", () => onClose?.());
    this.head = h("div", { class: "lnb-ss-t-head" }, [
      h("span", { class: "lnb-ss-t-label", text: "session" }),
      h("span", { class: "lnb-ss-t-session", text: sessionId, title: `session ${sessionId}` }),
      this.count,
      h("span", { class: "lnb-grow" }),
      close,
    ]);
    this.turns = h("div", { class: "lnb-ss-turns" });
    this.footer = h("div", { class: "lnb-ss-t-footer", attrs: { role: "status" } });
    this.scroller = h("div", { class: "lnb-ss-t-scroll", attrs: { tabindex: "0", "aria-label": "conversation" } }, [
      this.turns,
      this.footer,
    ]);
    this.scroller.addEventListener("scroll", () => this.maybeMore());
    this.el = h("div", { class: "lnb-ss-transcript", attrs: { "data-session": sessionId } }, [
      this.head,
      this.scroller,
    ]);
    container.append(this.el);
    this.more();
  }

  /** Whether every turn is here. */
  get done() {
    return this.total != null && this.loaded >= this.total;
  }

  /** Ask for the next page unless one is on its way, every turn is here, or the last one failed. */
  more() {
    if (this.loading || this.done || this.failed) return;
    this.loading = true;
    const generation = this.generation;
    this.footerText("loading turns…");
    const params = {
      session: this.sessionId,
      offset: this.loaded,
      limit: this.pageSize,
      ...(this.asOf ? { as_of: this.asOf } : {}),
    };
    this.rpc.request("turns", params).then(
      (/** @type {any} */ data) => {
        if (generation !== this.generation) return;
        this.loading = false;
        this.asOf ??= data?.as_of ?? null;
        this.total = Number.isFinite(data?.total) ? data.total : this.loaded;
        const rows = Array.isArray(data?.rows) ? data.rows : [];
        this.turns.append(...rows.map((/** @type {any} */ t) => renderTurn(t, this.onOpenTrace)));
        this.loaded += rows.length;
        if (!rows.length) this.total = this.loaded; // nothing more to ask for
        this.count.textContent = `${fmt.integer(this.total)} turn${this.total === 1 ? "" : "s"}`;
        this.showFooter();
        this.maybeMore();
      },
      (/** @type {any} */ err) => {
        if (generation !== this.generation) return;
        this.loading = false;
        this.failed = true;
        if (this.total == null) this.count.textContent = "";
        this.footerText(err?.message ?? String(err), "retry", () => {
          this.failed = false;
          this.more();
        });
      },
    );
  }

  /** The next page when the end is near, or when the turns do not fill the view yet (not while hidden). */
  maybeMore() {
    const s = this.scroller;
    if (s.clientHeight > 0 && s.scrollHeight - s.scrollTop - s.clientHeight <= NEAR_END_PX) this.more();
  }

  showFooter() {
    if (this.done) {
      this.footerText(this.total ? "end of the conversation" : "no turns");
      return;
    }
    const left = (this.total ?? 0) - this.loaded;
    this.footerText(`${fmt.integer(left)} more turn${left === 1 ? "" : "s"}`, "load more", () => this.more());
  }

  /**
   * @param {string} text
   * @param {string} [label]
   * @param {() => void} [action]
   */
  footerText(text, label, action) {
    this.footer.replaceChildren(h("span", { text }));
    this.footer.classList.toggle("lnb-ss-error", this.failed);
    if (label && action) {
      const button = h("button", { class: "lnb-ss-btn lnb-ss-t-more", text: label, attrs: { type: "button" } });
      button.addEventListener("click", action);
      this.footer.append(" ", button);
    }
  }

  /** Where the reader is, to come back to it (a hidden element may lose its scroll position). */
  get scrollTop() {
    return this.scroller.scrollTop;
  }

  set scrollTop(value) {
    this.scroller.scrollTop = value;
  }

  destroy() {
    this.generation++; // answers still on their way are dropped
    this.el.remove();
  }
}

/**
 * Show session `sessionId`'s transcript in `container`; returns it (`destroy()` removes it).
 * @param {HTMLElement} container
 * @param {{ request: (method: string, params?: object) => Promise<any> }} rpc
 * @param {string} sessionId
 * @param {TranscriptOptions} [options]
 */
export function mountTranscript(container, rpc, sessionId, options = {}) {
  return new Transcript(container, rpc, sessionId, options);
}
