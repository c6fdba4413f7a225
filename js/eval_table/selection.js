// The rows checked in the eval table (the selected_rows traitlet, so Python reads them too) and what
// is done with them: select every row that matches the filters, or make a dataset version of them.
import { SelectionBar } from "./dataset.js";

/**
 * @typedef {object} Table what the selection needs from its table
 * @property {import("../lib/mount.js").Model} model
 * @property {{ request: (method: string, params?: object) => Promise<any> }} rpc
 * @property {() => object} query the table's compare, filters and sort, as the kernel takes them
 * @property {() => { header: any, total: number | null, name: string | null }} state
 * @property {() => void} redraw
 * @property {(message: string) => void} say
 */

export class Selection {
  /** @param {Table} table */
  constructor(table) {
    this.table = table;
    /** @type {Set<number>} */
    this.rows = new Set(table.model.get("selected_rows") ?? []);
    this.bar = new SelectionBar({
      onClear: () => this.set(new Set()),
      onCreate: (/** @type {object} */ options) => this.createDataset(options),
    });
  }

  /** @param {number} rowNumber */
  has(rowNumber) {
    return this.rows.has(rowNumber);
  }

  /** The model's selected_rows changed (from Python, or another view of the same widget). */
  read() {
    this.rows = new Set(this.table.model.get("selected_rows") ?? []);
    this.show();
    this.table.redraw();
  }

  /** @param {number} rowNumber */
  toggle(rowNumber) {
    const next = new Set(this.rows);
    if (next.has(rowNumber)) next.delete(rowNumber);
    else next.add(rowNumber);
    this.set(next);
  }

  /** @param {Set<number>} rows */
  set(rows) {
    const { model } = this.table;
    this.rows = rows;
    model.set(
      "selected_rows",
      [...rows].sort((a, b) => a - b),
    );
    model.save_changes();
    this.show();
    this.table.redraw();
  }

  show() {
    const n = this.rows.size;
    const { header, total, name } = this.table.state();
    this.bar.update(n, name);
    header?.setChecked(n === 0 ? "none" : total != null && n >= total ? "all" : "some");
  }

  /** @param {boolean} on */
  async selectAll(on) {
    if (!on) {
      this.set(new Set());
      return;
    }
    const { compare, filters, sort } = /** @type {any} */ (this.table.query());
    try {
      const answer = await this.table.rpc.request("row_ids", { compare, filters, sort });
      this.set(new Set([...this.rows, ...answer.rows]));
    } catch (err) {
      this.show();
      if (err?.type !== "Closed") this.table.say(`could not select the rows: ${err?.message ?? err}`);
    }
  }

  /** @param {object} options */
  createDataset(options) {
    const { compare } = /** @type {any} */ (this.table.query());
    return this.table.rpc.request("to_dataset", { compare, rows: [...this.rows].sort((a, b) => a - b), ...options });
  }
}
