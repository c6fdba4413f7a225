// Virtualized rows: with a fixed row height, which rows a scroll position shows is arithmetic,
// so the DOM holds only a screenful of rows whether the trace has 10 spans or 100,000.

export const ROW_HEIGHT = 24;
export const OVERSCAN = 6;

/** Rows [start, end) to render for a viewport, and where the first of them sits. */
export function visibleWindow(scrollTop, viewportHeight, total, rowHeight = ROW_HEIGHT, overscan = OVERSCAN) {
  const top = Math.max(0, scrollTop);
  const start = Math.max(0, Math.min(total, Math.floor(top / rowHeight) - overscan));
  const end = Math.max(start, Math.min(total, Math.ceil((top + Math.max(0, viewportHeight)) / rowHeight) + overscan));
  return { start, end, offset: start * rowHeight, height: total * rowHeight };
}

/** The scrollTop that brings row `index` fully into view, moving as little as possible. */
export function scrollToReveal(index, scrollTop, viewportHeight, rowHeight = ROW_HEIGHT) {
  const top = index * rowHeight;
  const bottom = top + rowHeight;
  if (top < scrollTop) return top;
  if (bottom > scrollTop + viewportHeight) return Math.max(0, bottom - viewportHeight);
  return scrollTop;
}
