// The trace list's rows live in DuckDB, not here: the view keeps a few pages of 100 rows, asks the
// kernel for the pages the viewport shows plus the next one in the scroll direction, and forgets
// pages far from view. Every request settles (lib/rpc.js), so a page is loaded, loading or failed.

import { OVERSCAN, ROW_HEIGHT } from "./virtual.js";

export const PAGE_SIZE = 100;
export const MAX_PAGES = 40; // rows kept in the browser: 4,000 at most
// Browsers cap an element's height (Firefox near 17.9M px): past this, scrolling is scaled.
export const MAX_SCROLL_PX = 8_000_000;

const clamp = (v, lo, hi) => Math.max(lo, Math.min(hi, v));

/**
 * Rows [start, end) to draw for a scroll position, where row `start` is drawn (`offset`), and the
 * scroll area's height. Up to `maxPx` tall the mapping is 1:1 (as lib/virtual.js); a longer list
 * gets a `maxPx` area whose scroll position is stretched over the whole list (`scale` > 1).
 */
export function listWindow(
  scrollTop,
  viewportHeight,
  total,
  rowHeight = ROW_HEIGHT,
  overscan = OVERSCAN,
  maxPx = MAX_SCROLL_PX,
) {
  const n = Math.max(0, total | 0);
  const vh = Math.max(0, viewportHeight);
  const full = n * rowHeight;
  const height = Math.min(full, maxPx);
  const scale = full > height && height > vh ? (full - vh) / (height - vh) : 1;
  const top = Math.max(0, scrollTop);
  const virtualTop = top * scale;
  const start = clamp(Math.floor(virtualTop / rowHeight) - overscan, 0, n);
  const end = clamp(Math.ceil((virtualTop + vh) / rowHeight) + overscan, start, n);
  return { start, end, offset: top + (start * rowHeight - virtualTop), height, scale };
}

/** The scrollTop that shows row `index` fully, moving as little as possible (scaled lists too). */
export function scrollTopFor(index, scrollTop, viewportHeight, total, rowHeight = ROW_HEIGHT, maxPx = MAX_SCROLL_PX) {
  const { scale } = listWindow(scrollTop, viewportHeight, total, rowHeight, 0, maxPx);
  const virtualTop = Math.max(0, scrollTop) * scale;
  const rowTop = index * rowHeight;
  let target = virtualTop;
  if (rowTop < virtualTop) target = rowTop;
  else if (rowTop + rowHeight > virtualTop + viewportHeight) target = rowTop + rowHeight - viewportHeight;
  return Math.max(0, target / scale);
}

/**
 * Pages holding rows [start, end), and the page to prefetch: the next one in the scroll direction.
 * Before the first answer the total is unknown (null): only the first page.
 */
export function pagesToLoad(start, end, total, pageSize = PAGE_SIZE, direction = 1) {
  if (total == null) return { need: [0], prefetch: null };
  if (total <= 0) return { need: [], prefetch: null };
  const lastPage = Math.ceil(total / pageSize) - 1;
  const first = clamp(Math.floor(start / pageSize), 0, lastPage);
  const last = clamp(Math.floor(Math.max(start, end - 1) / pageSize), first, lastPage);
  const need = [];
  for (let p = first; p <= last; p++) need.push(p);
  const ahead = direction < 0 ? first - 1 : last + 1;
  return { need, prefetch: ahead >= 0 && ahead <= lastPage ? ahead : null };
}

/**
 * Pages of one query (filters + sort). `load(offset, limit, asOf)` returns a promise of the
 * kernel's `page` answer. The first answer's `as_of` pins the list for later pages, so new traces
 * do not shift rows while the user scrolls; `reset()` starts a new query (filters, sort, refresh)
 * and drops answers still on their way for the old one.
 */
export class PageCache {
  /**
   * @param {{ load: (offset: number, limit: number, asOf: string | null) => Promise<any>,
   *           onUpdate?: (event: { page: number, error?: any }) => void, pageSize?: number, maxPages?: number }} options
   */
  constructor({ load, onUpdate = () => {}, pageSize = PAGE_SIZE, maxPages = MAX_PAGES }) {
    this.load = load;
    this.onUpdate = onUpdate;
    this.pageSize = pageSize;
    this.maxPages = Math.max(2, maxPages);
    this.generation = 0;
    this.reset();
  }

  reset() {
    this.generation++;
    this.pages = new Map(); // page index -> rows
    this.loading = new Set();
    this.errors = new Map(); // page index -> error
    this.total = null;
    this.asOf = null;
    this.elapsedMs = null;
    this.center = 0;
  }

  /** The row at `index`: an object, `undefined` while its page is not here, or `null` past the end. */
  row(index) {
    if (this.total != null && index >= this.total) return null;
    const rows = this.pages.get(Math.floor(index / this.pageSize));
    return rows ? rows[index % this.pageSize] : undefined;
  }

  error(index) {
    return this.errors.get(Math.floor(index / this.pageSize)) ?? null;
  }

  /** Start loading the pages not here yet, in order; returns how many requests were sent. */
  request(pages) {
    let sent = 0;
    if (pages.length) this.center = pages[0];
    for (const p of pages) {
      if (p == null || p < 0 || this.pages.has(p) || this.loading.has(p) || this.errors.has(p)) continue;
      if (this.asOf == null && this.loading.size) break; // the first answer pins as_of: wait for it
      this.fetch(p);
      sent++;
      if (this.asOf == null) break;
    }
    return sent;
  }

  /** Forget failed pages (a retry button) and load `pages` again. */
  retry(pages) {
    this.errors.clear();
    return this.request(pages);
  }

  fetch(p) {
    const generation = this.generation;
    this.loading.add(p);
    Promise.resolve()
      .then(() => this.load(p * this.pageSize, this.pageSize, this.asOf))
      .then(
        (data) => {
          if (generation !== this.generation) return;
          this.loading.delete(p);
          this.errors.delete(p);
          this.asOf ??= data.as_of ?? null;
          this.total = Number.isFinite(data.total) ? data.total : this.total;
          this.elapsedMs = data.elapsed_ms ?? null;
          this.pages.set(p, Array.isArray(data.rows) ? data.rows : []);
          this.evict();
          this.onUpdate({ page: p });
        },
        (error) => {
          if (generation !== this.generation) return;
          this.loading.delete(p);
          this.errors.set(p, error);
          this.onUpdate({ page: p, error });
        },
      );
  }

  evict() {
    while (this.pages.size > this.maxPages) {
      let far = -1;
      for (const p of this.pages.keys())
        if (far < 0 || Math.abs(p - this.center) > Math.abs(far - this.center)) far = p;
      this.pages.delete(far);
    }
  }
}
