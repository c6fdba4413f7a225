// A view as tall as its content up to a limit (the `height` traitlet), that the user can make
// taller or shorter by dragging its bottom corner (CSS `resize: vertical` on the class
// lnb-resizable, in each view's style.css). Once the user has sized it, their height stays: content
// changes no longer move it. Used by the standalone explorer and the eval table.

/**
 * A content of `contentPx` in a view whose limit is `limit`: at least `floor` (or `limit` if
 * smaller), at most `limit`.
 * @param {number} contentPx
 * @param {number} limit
 * @param {number} floor
 */
export function fitPx(contentPx, limit, floor) {
  return Math.max(Math.min(floor, limit), Math.min(limit, Math.ceil(contentPx)));
}

export class FitHeight {
  /**
   * @param {HTMLElement} root the element whose height is set, made resizable
   * @param {{ onUserResize?: () => void }} [options] called when the user has dragged it to a new height
   */
  constructor(root, { onUserResize } = {}) {
    this.root = root;
    this.userSized = false;
    this.fittedPx = "";
    this.onUserResize = onUserResize;
    this.userPx = "";
    root.classList.add("lnb-resizable");
    if (globalThis.ResizeObserver) {
      this.observer = new ResizeObserver(() => this.observed());
      this.observer.observe(root);
    }
  }

  /** A size change: our own writes leave style.height equal to fittedPx; the browser's resize handle does not. */
  observed() {
    const px = this.root.style.height;
    if (!px || px === this.fittedPx || px === this.userPx) return;
    this.userSized = true;
    this.userPx = px;
    this.onUserResize?.();
  }

  /**
   * Set the root's height to `px` unless the user sized it; with `growOnly`, never shrink (rows
   * collapsing or a filter narrowing the list must not make the page jump). Returns whether it moved.
   * @param {number} px
   * @param {{ growOnly?: boolean }} [options]
   */
  set(px, { growOnly = false } = {}) {
    if (this.userSized) return false;
    const next = `${px}px`;
    if (next === this.fittedPx) return false;
    if (growOnly && this.fittedPx && px < Number.parseFloat(this.fittedPx)) return false;
    this.fittedPx = next;
    this.root.style.height = next;
    this.root.dataset.fitPx = String(px);
    return true;
  }

  destroy() {
    this.observer?.disconnect();
  }
}
