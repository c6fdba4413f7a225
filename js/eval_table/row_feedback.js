// Feedback given in the table: a thumb in a row, or the open row's form. The kernel stores it
// (`feedback`); the row shows it at once without reloading the list, the summary is read again,
// and a fresh snapshot of the table is handed to the notebook in an `lnb-snapshot` event on the
// widget's element, so a notebook saved afterwards carries the feedback where no widget runs (the
// JupyterLab/Notebook extension rewrites the output's saved text/html and text/plain). Without the
// extension nobody listens and nothing changes.

import { publishSnapshot } from "../lib/snapshot.js";

/**
 * @typedef {{
 *   rpc: { request: (method: string, params?: any) => Promise<any> },
 *   el: HTMLElement,
 *   grid: any,
 *   query: () => any,
 *   openRow: () => number | null,
 *   generation: () => number,
 *   onStored: () => void,
 * }} FeedbackOptions
 */

export class RowFeedback {
  /** @param {FeedbackOptions} options */
  constructor(options) {
    this.o = options;
  }

  /**
   * A thumb clicked in a row.
   * @param {any} row
   * @param {boolean} up
   */
  async thumb(row, up) {
    if (row.feedback?.value === up) return; // already said
    try {
      const answer = await this.o.rpc.request("feedback", { compare: this.o.query().compare, row: row.row, value: up });
      this.stored(answer);
    } catch (err) {
      if (err?.type !== "Closed") this.o.grid.say(`feedback not saved: ${err?.message ?? err}`);
    }
  }

  /**
   * The open row's form (its errors go back to the form).
   * @param {object} data
   */
  async save(data) {
    const answer = await this.o.rpc.request("feedback", {
      compare: this.o.query().compare,
      row: this.o.openRow(),
      ...data,
    });
    this.stored(answer);
    return answer;
  }

  /**
   * The kernel stored feedback: show it in the row (and the summary) without reloading the list.
   * @param {any} answer
   */
  stored(answer) {
    for (const rows of this.o.grid.cache.pages.values()) {
      for (const r of rows) if (r.row === answer.row) r.feedback = answer.feedback;
    }
    this.o.grid.draw();
    this.o.onStored();
    this.publishSnapshot();
  }

  /** Ask the kernel for the snapshot of what the table shows now; hand it on, or say why not. */
  publishSnapshot() {
    const generation = this.o.generation();
    return publishSnapshot(this.o.rpc, this.o.query(), {
      el: this.o.el,
      what: "table",
      say: (text) => this.o.grid.say(text),
      current: () => generation === this.o.generation(),
    });
  }
}
