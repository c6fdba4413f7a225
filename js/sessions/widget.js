// SessionsView's view (anywidget ESM): the store's sessions as virtualized rows paged from the kernel
// (`page` requests; the paged grid is lib/grid.js), and under them the selected session's transcript
// (./transcript.js, its turns paged by `turns` requests). A turn's "open trace" shows its trace in the
// explorer (../explorer/widget.js) in place of both; "back" returns to the transcript as it was.
// Traitlets hold the filters, the selected session, the open trace and its explorer state; rows and
// turns never. A pick sends the saved output a fresh snapshot (an `lnb-snapshot` event), so a notebook
// saved afterwards shows that conversation where no kernel runs.
//
// The kernel does not count the sessions (llmops_nb/widgets/sessions/_query.py): until the last page
// is seen, a page's total is the rows known so far plus one, and the count reads "100+ sessions".

import { ExplorerView } from "../explorer/widget.js";
import { h } from "../lib/dom.js";
import * as fmt from "../lib/format.js";
import { PagedGrid } from "../lib/grid.js";
import { listen, mountView, viewRoot } from "../lib/mount.js";
import { BAR_PX, OpenTracePanel, openTrace, explorerModel as relay } from "../lib/open_trace.js";
import { PAGE_SIZE } from "../lib/pages.js";
import { createRpc } from "../lib/rpc.js";
import { publishSnapshot } from "../lib/snapshot.js";
import { ROW_HEIGHT } from "../lib/virtual.js";
import { FilterBar, fillRow, filtersFrom, makeHeader, makeRow, queryKey } from "./list.js";
import { mountTranscript, TURN_PAGE } from "./transcript.js";

const DEFAULT_HEIGHT = 560;

/**
 * The model as the explorer sees it: the same state, minus the bar's height.
 * @param {import("../lib/mount.js").Model} model
 */
export function explorerModel(model, barPx = BAR_PX) {
  return relay(model, DEFAULT_HEIGHT, barPx);
}

/**
 * The count beside the list: exact, or a lower bound while more pages follow.
 * @param {number} total
 * @param {boolean} exact
 */
export function countText(total, exact) {
  if (exact) return `${fmt.integer(total)} session${total === 1 ? "" : "s"}`;
  return `${fmt.integer(Math.max(0, total - 1))}+ sessions`;
}

export class SessionsView {
  /**
   * @param {import("../lib/mount.js").Model} model
   * @param {HTMLElement} el
   * @param {{ rpc?: any, pageSize?: number, turnPage?: number, explorer?: any }} [options]
   */
  constructor(model, el, { rpc, pageSize = PAGE_SIZE, turnPage = TURN_PAGE, explorer = ExplorerView } = {}) {
    this.model = model;
    this.el = el;
    this.rpc = rpc ?? createRpc(model);
    this.turnPage = turnPage;
    /** @type {any} */
    this.transcript = null;
    /** @type {any} the turn whose trace is open, when it was opened from the transcript */
    this.openTurn = null;
    /** @type {number | null} */
    this.savedTop = null;
    this.generation = 0;
    this.known = 0;
    this.exact = false;
    this.snapshotToken = 0;

    this.filters = new FilterBar({
      onChange: (values) => this.setFilters(filtersFrom(values, this.model.get("filters") ?? {})),
    });
    this.count = h("span", { class: "lnb-ss-count", text: "loading…" });
    this.message = h("span", { class: "lnb-ss-message", attrs: { role: "status" } });
    const refresh = h("button", {
      class: "lnb-ss-btn",
      text: "↻ refresh",
      title: "read the store again (new sessions, new turns)",
    });
    refresh.addEventListener("click", () => this.apply({ force: true }));
    this.root = viewRoot("lnb-sessions", []);
    this.grid = new PagedGrid({
      prefix: "lnb-ss",
      label: "sessions",
      rowHeight: ROW_HEIGHT,
      pageSize,
      rpc: { request: (/** @type {string} */ method, /** @type {any} */ params) => this.page(method, params) },
      query: () => ({ filters: this.model.get("filters") ?? {} }),
      makeRow,
      fillRow: (slot, row, index, top, active) =>
        fillRow(slot, row, index, top, { active, selected: this.model.get("session") ?? null }),
      fallbackHeight: () => (Number(this.model.get("height")) || DEFAULT_HEIGHT) - 110,
      emptyText: () =>
        Object.keys(this.model.get("filters") ?? {}).length > 0
          ? "No session matches these filters."
          : "No sessions in the store yet: give your traces a session id, e.g. @llmops_nb.trace(session=...).",
      countText: (total) => countText(total, this.exact),
      onPage: () => {},
      onOpen: (index) => this.select(index),
      count: this.count,
      message: this.message,
      root: this.root,
    });
    this.viewport = this.grid.viewport;
    this.list = h("div", { class: "lnb-ss-list" }, [
      this.filters.el,
      h("div", { class: "lnb-ss-toolbar" }, [this.count, this.message, h("span", { class: "lnb-grow" }), refresh]),
      h("div", { class: "lnb-ss-table" }, [makeHeader(), this.viewport, this.grid.empty]),
    ]);
    this.transcriptHost = h("div", { class: "lnb-ss-transcript-host" });
    this.main = h("div", { class: "lnb-ss-main" }, [this.list, this.transcriptHost]);

    this.opened = new OpenTracePanel({
      prefix: "lnb-ss",
      model,
      Explorer: explorer,
      fallbackHeight: DEFAULT_HEIGHT,
      main: this.main,
      back: { text: "← conversation", title: "back to the conversation (Escape)" },
      onBack: () => this.closeTrace(),
    });
    this.detail = this.opened.el;
    this.openTitle = this.opened.title;
    this.root.append(this.main, this.detail);
    el.append(this.root);

    this.unlisten = listen(model, {
      "change:height": () => this.applyHeight(),
      "change:filters": () => this.apply(),
      "change:session": () => this.showSession(),
      "change:trace_id": () => this.showTrace(),
    });

    this.applyHeight();
    this.apply();
    this.showSession();
    this.showTrace();
  }

  get cache() {
    return this.grid.cache;
  }

  applyHeight() {
    this.root.style.height = `${Number(this.model.get("height")) || DEFAULT_HEIGHT}px`;
    this.grid.schedule();
  }

  /** Start over when the filters differ from what the rows show (or on a refresh). */
  apply({ force = false } = {}) {
    const filters = this.model.get("filters") ?? {};
    this.filters.set(filters);
    const key = queryKey(filters);
    if (key === this.key && !force) return;
    this.key = key;
    this.generation += 1;
    this.known = 0;
    this.exact = false;
    this.grid.say("");
    this.grid.reset();
  }

  /**
   * The grid's page requests, through to the kernel. A page's total is exact on the last page, else a
   * lower bound: it only grows within one query, whatever order the answers come in.
   * @param {string} method
   * @param {any} params
   */
  page(method, params) {
    const generation = this.generation;
    return this.rpc.request(method, params).then((/** @type {any} */ data) => {
      if (generation !== this.generation || !Number.isFinite(data?.total)) return data;
      if (data.exact) {
        this.exact = true;
        this.known = data.total;
      } else if (!this.exact) {
        this.known = Math.max(this.known, data.total);
      }
      return { ...data, total: this.known };
    });
  }

  /** @param {Record<string, any>} filters */
  setFilters(filters) {
    this.model.set("filters", filters);
    this.model.save_changes();
    this.apply(); // the model may not echo an unchanged value
  }

  /**
   * A row clicked (or Enter): its session's transcript.
   * @param {number} index
   */
  select(index) {
    const row = this.grid.loaded(index);
    if (!row?.session) return; // a row still loading
    this.setSession(String(row.session));
  }

  /** @param {string | null} session */
  setSession(session) {
    if (session === (this.model.get("session") ?? null)) return;
    this.model.set("session", session);
    this.model.save_changes();
    this.showSession();
    this.publishSnapshot();
  }

  /** Show the model's session's transcript under the list (also after a re-render), or none. */
  showSession() {
    const session = this.model.get("session") ?? null;
    this.root.classList.toggle("lnb-ss-has-session", Boolean(session));
    this.grid.draw(); // the selected row's mark
    if (this.transcript?.sessionId === session) return;
    this.transcript?.destroy();
    this.transcript = null;
    if (!session) return;
    this.transcript = mountTranscript(this.transcriptHost, this.rpc, session, {
      pageSize: this.turnPage,
      onOpenTrace: (traceId, turn) => this.openTrace(traceId, turn),
      onClose: () => this.setSession(null),
    });
  }

  /**
   * A turn's trace in the explorer, in place of the list and the transcript.
   * @param {string} traceId
   * @param {any} turn
   */
  openTrace(traceId, turn) {
    this.openTurn = turn ?? null;
    this.savedTop = this.transcript?.scrollTop ?? null; // a hidden element may lose its scroll position
    openTrace(this.model, traceId);
    this.showTrace();
  }

  closeTrace() {
    this.opened.close();
    this.showTrace();
    this.transcript?.scroller.focus?.({ preventScroll: true });
  }

  /** Show the list and the transcript, or the explorer when the model has a trace open. */
  showTrace() {
    const traceId = this.model.get("trace_id");
    if (!traceId) {
      this.opened.hide();
      if (this.savedTop != null && this.transcript) this.transcript.scrollTop = this.savedTop;
      this.savedTop = null;
      this.grid.schedule();
      return;
    }
    const session = this.model.get("session");
    const turn = this.openTurn?.trace_id === traceId ? this.openTurn : null;
    const title = [session ? `session ${session}` : "", turn ? `turn ${turn.turn}` : `trace ${traceId}`];
    this.opened.show(title.filter(Boolean).join(" · "), traceId);
  }

  /** Ask the kernel for the snapshot of what the view shows now and hand it to the saved output. */
  publishSnapshot() {
    const token = ++this.snapshotToken;
    const params = { filters: this.model.get("filters") ?? {}, session: this.model.get("session") ?? null };
    return publishSnapshot(this.rpc, params, {
      el: this.el,
      what: "view",
      say: (text) => this.grid.say(text),
      current: () => token === this.snapshotToken,
    });
  }

  destroy() {
    this.snapshotToken++;
    this.opened.destroyExplorer();
    this.transcript?.destroy();
    this.transcript = null;
    this.filters.destroy();
    this.grid.destroy();
    this.rpc.close();
    this.unlisten();
    this.root.remove();
  }
}

export default mountView(SessionsView, "sessions view");
