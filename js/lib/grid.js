// The paged grid the trace list and the eval table share: rows live in DuckDB, pages of them are
// asked for as the viewport needs them (lib/pages.js), and a pool of row elements is redrawn on
// scroll. The view supplies how a row is made and filled; the grid owns scrolling, paging, the
// keyboard (arrows, Page Up/Down, Home/End, Enter), the "nothing here" line and the status message.
import { h } from "./dom.js";
import { listWindow, PAGE_SIZE, PageCache, pagesToLoad, scrollTopFor } from "./pages.js";
import { OVERSCAN } from "./virtual.js";

/**
 * The row a navigation key moves to from row `from` (-1: none yet); undefined for other keys.
 * @param {string} key
 * @param {number} from
 * @param {number} total
 * @param {number} pageRows
 * @returns {number | undefined}
 */
export function keyTarget(key, from, total, pageRows) {
  switch (key) {
    case "ArrowDown":
      return from + 1;
    case "ArrowUp":
      return from - 1;
    case "PageDown":
      return from + pageRows;
    case "PageUp":
      return from - pageRows;
    case "Home":
      return 0;
    case "End":
      return total - 1;
    default:
      return undefined;
  }
}

/**
 * A message beside a view's row count: an error in the error colour, with a button when `action`
 * is given (the message clears itself before the action runs). `prefix` is the view's class prefix.
 * @param {HTMLElement} el
 * @param {string} prefix
 * @param {string} text
 * @param {(() => void) | null} [action]
 * @param {string} [actionLabel]
 */
export function showMessage(el, prefix, text, action = null, actionLabel = "retry") {
  el.className = text ? `${prefix}-message ${prefix}-error` : `${prefix}-message`;
  el.textContent = text;
  if (action) {
    const button = h("button", { class: `${prefix}-btn`, text: actionLabel });
    button.addEventListener("click", () => {
      showMessage(el, prefix, "");
      action();
    });
    el.append(" ", button);
  }
}

/**
 * Put a pooled row element at row `index`, `top` pixels down the scroll area.
 * @param {HTMLElement} el
 * @param {number} index
 * @param {number} top
 * @param {number} height
 * @param {string} activeClass
 * @param {boolean} active
 */
export function placeRow(el, index, top, height, activeClass, active) {
  el.hidden = false;
  el.style.transform = `translateY(${top}px)`;
  el.style.height = `${height}px`;
  el.dataset.index = String(index);
  el.setAttribute("aria-rowindex", String(index + 2)); // the header is row 1
  el.classList.toggle(activeClass, active);
}

/** @typedef {{ el: HTMLElement, index: number }} Slot a pooled row element and the row it shows */

/**
 * @typedef {object} GridOptions
 * @property {string} prefix class prefix of the view ("lnb-tl", "lnb-ev"): `-viewport`, `-spacer`, `-empty`, `-row`
 * @property {string} label the grid's accessible name
 * @property {number} rowHeight
 * @property {number} [pageSize]
 * @property {{ request: (method: string, params?: object) => Promise<any> }} rpc
 * @property {() => object} query what the view's `page` requests say besides the range (filters, sort, ...)
 * @property {() => Slot} makeRow
 * @property {(slot: any, row: any, index: number, top: number, active: boolean) => void} fillRow
 * @property {() => number} fallbackHeight the viewport's height before the browser laid it out
 * @property {(total: number) => string} emptyText what an empty list says
 * @property {() => void} onPage called after every page answer, once the grid updated itself
 * @property {(index: number) => void} onOpen a row was clicked, or Enter pressed on it
 * @property {(event: MouseEvent, row: any) => boolean} [onClick] a click the view handles itself (true: handled)
 * @property {(key: string, index: number) => boolean} [onKey] a key the view handles itself (true: handled)
 * @property {HTMLElement} count the element that shows the row count
 * @property {HTMLElement} message the element beside it for errors
 * @property {(total: number) => string} countText
 * @property {HTMLElement} root the view's root: data-open-ms and data-total, read by the browser benchmarks
 */

export class PagedGrid {
  /** @param {GridOptions} options */
  constructor(options) {
    this.options = options;
    const p = options.prefix;
    /** @type {Slot[]} */
    this.pool = [];
    this.active = -1;
    this.frame = 0;
    this.direction = 1;
    this.lastTop = 0;
    this.sticky = false;
    this.ready = true;
    this.started = performance.now();
    this.cache = new PageCache({
      pageSize: options.pageSize ?? PAGE_SIZE,
      load: (offset, limit, asOf) =>
        options.rpc.request("page", { ...options.query(), offset, limit, ...(asOf ? { as_of: asOf } : {}) }),
      onUpdate: (/** @type {{error?: any}} */ event) => this.updated(event),
    });
    this.spacer = h("div", { class: `${p}-spacer` });
    this.viewport = h(
      "div",
      { class: `${p}-viewport`, attrs: { tabindex: "0", role: "grid", "aria-label": options.label } },
      [this.spacer],
    );
    this.empty = h("div", { class: `${p}-empty` });
    this.empty.hidden = true;
    this.viewport.addEventListener("scroll", () => this.schedule());
    this.viewport.addEventListener("click", (event) => this.click(event));
    this.viewport.addEventListener("keydown", (event) => this.onKey(event));
    if (globalThis.ResizeObserver) {
      this.resize = new ResizeObserver(() => this.schedule());
      this.resize.observe(this.viewport);
    }
  }

  /** Start over: a new query (filters, sort, a refresh). Answers still on their way are dropped. */
  reset() {
    this.cache.reset();
    this.active = -1;
    this.viewport.scrollTop = 0;
    this.lastTop = 0;
    this.options.count.textContent = "loading…";
    this.draw();
  }

  /** Forget the pooled rows (the columns changed). */
  clearPool() {
    for (const slot of this.pool) slot.el.remove();
    this.pool = [];
  }

  /**
   * A message beside the count; one with an action stays until used or replaced.
   * @param {string} text
   * @param {(() => void) | null} [action]
   * @param {string} [actionLabel]
   */
  say(text, action = null, actionLabel = "retry") {
    this.sticky = Boolean(text && action);
    showMessage(this.options.message, this.options.prefix, text, action, actionLabel);
  }

  /** @param {{ error?: any }} event */
  updated({ error }) {
    const { count, root } = this.options;
    const total = this.cache.total;
    if (error && total == null) {
      // the first page failed: most often a filter the kernel could not read
      count.textContent = "";
      this.say(error.message ?? String(error));
    } else if (error) {
      this.say(`some rows could not be loaded: ${error.message ?? error}`, () => {
        this.cache.retry(this.wanted());
        this.draw();
      });
    } else if (total != null) {
      count.textContent = this.options.countText(total);
      count.title = this.cache.elapsedMs != null ? `last page read in ${this.cache.elapsedMs} ms` : "";
      if (!this.cache.errors.size && !this.sticky) this.say("");
      // time from render to the first rows on screen, read by the browser benchmarks
      if (root.dataset.openMs == null) root.dataset.openMs = (performance.now() - this.started).toFixed(1);
      root.dataset.total = String(total);
    }
    this.options.onPage();
    this.draw();
  }

  schedule() {
    if (this.frame) return;
    const raf = globalThis.requestAnimationFrame ?? ((/** @type {() => void} */ fn) => setTimeout(fn, 16));
    this.frame = raf(() => {
      this.frame = 0;
      this.draw();
    });
  }

  viewportHeight() {
    return this.viewport.clientHeight || Math.max(this.options.rowHeight * 4, this.options.fallbackHeight());
  }

  window() {
    return listWindow(
      this.viewport.scrollTop,
      this.viewportHeight(),
      this.cache.total ?? 0,
      this.options.rowHeight,
      OVERSCAN,
    );
  }

  /** The pages the viewport shows and the one to prefetch, in the order to load them. */
  wanted() {
    const win = this.window();
    const { need, prefetch } = pagesToLoad(win.start, win.end, this.cache.total, this.cache.pageSize, this.direction);
    return prefetch == null ? need : [...need, prefetch];
  }

  draw() {
    if (!this.ready) return;
    const { rowHeight } = this.options;
    const top = this.viewport.scrollTop;
    if (top !== this.lastTop) this.direction = top > this.lastTop ? 1 : -1;
    this.lastTop = top;
    const total = this.cache.total ?? 0;
    const win = this.window();
    this.spacer.style.height = `${win.height}px`;
    this.cache.request(this.wanted());
    const needed = win.end - win.start;
    while (this.pool.length < needed) {
      const slot = this.options.makeRow();
      this.pool.push(slot);
      this.spacer.append(slot.el);
    }
    for (let k = 0; k < this.pool.length; k++) {
      const slot = this.pool[k];
      if (k >= needed) {
        slot.el.hidden = true;
        slot.index = -1;
        continue;
      }
      const index = win.start + k;
      const row = this.cache.row(index) ?? this.cache.error(index) ?? undefined;
      this.options.fillRow(slot, row, index, win.offset + k * rowHeight, index === this.active);
    }
    const known = this.cache.total != null;
    this.empty.hidden = !(known && total === 0);
    if (known && total === 0) this.empty.textContent = this.options.emptyText(total);
    this.viewport.setAttribute("aria-rowcount", String(total + 1));
  }

  /**
   * The loaded row at `index`, or null while it loads (or when its page failed).
   * @param {number} index
   */
  loaded(index) {
    const row = index >= 0 ? this.cache.row(index) : null;
    return row && !(row instanceof Error) ? row : null;
  }

  /** @param {Event} event */
  rowAt(event) {
    const el = /** @type {HTMLElement | null} */ (
      /** @type {Element} */ (event.target).closest?.(`.${this.options.prefix}-row`)
    );
    return el ? Number(el.dataset.index) : -1;
  }

  /** @param {MouseEvent} event */
  click(event) {
    const index = this.rowAt(event);
    const row = this.loaded(index);
    if (!row) return;
    this.active = index;
    if (this.options.onClick?.(event, row)) return;
    this.options.onOpen(index);
  }

  /** @param {KeyboardEvent} event */
  onKey(event) {
    const total = this.cache.total ?? 0;
    if (!total) return;
    const pageRows = Math.max(1, Math.floor(this.viewportHeight() / this.options.rowHeight) - 1);
    const target = keyTarget(event.key, this.active < 0 ? -1 : this.active, total, pageRows);
    if (target === undefined) {
      if (event.key === "Enter") {
        if (this.active >= 0) this.options.onOpen(this.active);
      } else if (!this.options.onKey?.(event.key, this.active)) {
        return; // other keys go on to the notebook
      }
    }
    event.preventDefault();
    event.stopPropagation(); // arrows and Enter move in the list, not between cells
    if (target == null) return;
    this.active = Math.max(0, Math.min(total - 1, target));
    const visibleTop = this.viewport.scrollTop;
    const next = scrollTopFor(this.active, visibleTop, this.viewportHeight(), total, this.options.rowHeight);
    if (Math.abs(next - visibleTop) > 0.5 || this.window().scale !== 1) this.viewport.scrollTop = next;
    this.draw();
  }

  destroy() {
    this.resize?.disconnect();
    this.cache.reset(); // answers still on their way are dropped
  }
}
