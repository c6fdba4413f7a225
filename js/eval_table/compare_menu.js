// The "compare with…" menu of the eval table: the runs the kernel lists (those sharing rows with this
// one first) and the DataFrames given from Python, loaded when the menu first opens.
import { h } from "../lib/dom.js";
import { fmtTime } from "./cells.js";

export class CompareMenu {
  /**
   * @param {{ request: (method: string, params: object) => Promise<any>, current: () => string | null,
   *           onPick: (key: string | null) => void, onError: (message: string) => void }} options
   */
  constructor({ request, current, onPick, onError }) {
    this.request = request;
    this.current = current;
    this.onError = onError;
    this.loaded = false;
    /** @type {{ baseline?: any } | null} */
    this.info = null;
    this.el = /** @type {HTMLSelectElement} */ (
      h("select", { class: "lnb-ev-input lnb-ev-compare", attrs: { "aria-label": "compare with another run" } })
    );
    this.el.addEventListener("focus", () => this.load());
    this.el.addEventListener("change", () => {
      this.loaded = false; // the next opening lists the runs again, from the new table's side
      onPick(this.el.value || null);
    });
  }

  async load() {
    if (this.loaded) return;
    this.loaded = true;
    try {
      const answer = await this.request("runs", { compare: this.current() });
      this.fill(answer.runs ?? [], answer.frames ?? []);
    } catch (err) {
      this.loaded = false;
      if (err?.type !== "Closed") this.onError(`could not list the runs: ${err?.message ?? err}`);
    }
  }

  /**
   * The options: "compare with…" (or "stop comparing"), the DataFrames, then the stored runs.
   * @param {any[]} runs
   * @param {any[]} frames
   * @param {{ baseline?: any } | null} [info] the table's `info` answer, when it changed
   */
  fill(runs, frames, info = this.info) {
    this.info = info;
    const current = this.current();
    const comparing = Boolean(info?.baseline);
    const options = [h("option", { text: comparing ? "stop comparing" : "compare with…", attrs: { value: "" } })];
    const seen = new Set();
    for (const f of frames) {
      seen.add(f.key);
      options.push(h("option", { text: `${f.name} (DataFrame)`, attrs: { value: String(f.key) } }));
    }
    for (const r of runs) {
      seen.add(r.run_id);
      const shared = r.shared ? `${r.shared} shared row${r.shared === 1 ? "" : "s"}` : "no shared rows";
      options.push(
        h("option", {
          text: `${r.name} · ${fmtTime(r.started_at)} · ${r.rows} rows · ${shared}`,
          attrs: { value: String(r.run_id) },
        }),
      );
    }
    if (current && !seen.has(current)) {
      const base = info?.baseline;
      options.push(
        h("option", {
          text: base ? `${base.name} (${String(current).slice(0, 8)})` : String(current),
          attrs: { value: String(current) },
        }),
      );
    }
    this.el.replaceChildren(...options);
    this.el.value = current ?? "";
  }
}
