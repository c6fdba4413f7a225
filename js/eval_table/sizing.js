// How tall the eval table is: as tall as its list asks for (toolbar, cards, filters, the column
// header and every row) up to the `height` traitlet, the whole `height` while a row is open, and
// whatever the user dragged it to once they did (lib/fit.js).

import { FitHeight, fitPx } from "../lib/fit.js";
import { ROW_HEIGHT } from "./rows.js";

const MIN_PX = 240; // the least the table is drawn at (the `height` traitlet is at least this too)
const CHROME_PX = 200; // toolbar, summary cards, filters, status line: before the browser laid them out
const GRID_HEAD_PX = 27; // the column header row and its border (style.css)
const FRAME_PX = 12; // borders, and room for a horizontal scrollbar

/**
 * @typedef {{
 *   root: HTMLElement, list: HTMLElement, tableBox: HTMLElement, headHost: HTMLElement,
 *   limit: () => number, rows: () => number, rowOpen: () => boolean,
 *   onChange: () => void,
 * }} SizingOptions `tableBox` holds the column header (in `headHost`) and the rows; `onChange` runs
 * when the height moved, by us or by the user
 */

export class TableHeight {
  /** @param {SizingOptions} options */
  constructor(options) {
    this.o = options;
    this.fitter = new FitHeight(options.root, { onUserResize: options.onChange });
  }

  /** The height the table has now: fitted to its rows, or dragged by the user. */
  now() {
    return Number.parseFloat(this.o.root.style.height) || this.o.limit();
  }

  /** The height the content asks for (the list's chrome measured once laid out); an open row: `height`. */
  contentPx() {
    const { list, tableBox, headHost } = this.o;
    if (list.hidden || this.o.rowOpen()) return this.o.limit();
    let chrome = headHost.offsetHeight;
    for (const child of list.children)
      if (child !== tableBox) chrome += /** @type {HTMLElement} */ (child).offsetHeight;
    if (!chrome) chrome = CHROME_PX + GRID_HEAD_PX; // not laid out yet (or not in a page)
    return chrome + this.o.rows() * ROW_HEIGHT + FRAME_PX;
  }

  /**
   * Fit to the content; `growOnly` for changes that must not make the page jump (a filter with
   * fewer rows, a row closed).
   * @param {{ growOnly?: boolean }} [options]
   */
  fit({ growOnly = false } = {}) {
    if (this.fitter.set(fitPx(this.contentPx(), this.o.limit(), MIN_PX), { growOnly })) this.o.onChange();
  }

  destroy() {
    this.fitter.destroy();
  }
}
