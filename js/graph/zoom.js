// Pan and zoom of the graph's scene: drag to pan, Ctrl/⌘ + wheel (a trackpad's pinch) to zoom around
// the pointer, buttons and keys for the rest. A plain wheel is left to the notebook, which scrolls
// its page with it; a graph that took the wheel would trap the reader on the way down the notebook.

export const MIN_ZOOM = 0.1;
export const MAX_ZOOM = 3;
export const DRAG_PX = 4; // less movement than this between press and release is a click
const PAD = 12;

const clamp = (/** @type {number} */ v, /** @type {number} */ lo, /** @type {number} */ hi) =>
  Math.max(lo, Math.min(hi, v));

/**
 * The view that shows a `width` × `height` drawing in a `vw` × `vh` viewport: as large as fits, never
 * above 1 nor below `minZoom`; centred where it fits, from the top left where it does not.
 * @param {number} width
 * @param {number} height
 * @param {number} vw
 * @param {number} vh
 * @param {number} [minZoom]
 * @returns {{ k: number, x: number, y: number }}
 */
export function fitView(width, height, vw, vh, minZoom = MIN_ZOOM) {
  const k = clamp(Math.min(1, (vw - 2 * PAD) / (width || 1), (vh - 2 * PAD) / (height || 1)), minZoom, 1);
  const x = width * k <= vw ? (vw - width * k) / 2 : PAD;
  const y = height * k <= vh ? (vh - height * k) / 2 : PAD;
  return { k, x, y };
}

/**
 * The view after zooming by `factor` around the viewport point (`cx`, `cy`), which stays put.
 * @param {{ k: number, x: number, y: number }} view
 * @param {number} factor
 * @param {number} cx
 * @param {number} cy
 */
export function zoomedView(view, factor, cx, cy) {
  const k = clamp(view.k * factor, MIN_ZOOM, MAX_ZOOM);
  const ratio = k / view.k;
  return { k, x: cx - (cx - view.x) * ratio, y: cy - (cy - view.y) * ratio };
}

export class PanZoom {
  /**
   * @param {HTMLElement} host the viewport (its size, its pointer events)
   * @param {SVGElement} scene the group moved and scaled
   * @param {{ width: number, height: number }} size the drawing's size
   */
  constructor(host, scene, size) {
    this.host = host;
    this.scene = scene;
    this.size = size;
    this.view = { k: 1, x: 0, y: 0 };
    this.touched = false; // the user panned or zoomed: a resize no longer re-fits
    this.dragged = false; // the last press moved: its click is not a click
    /** @type {{ x: number, y: number, vx: number, vy: number } | null} */
    this.press = null;
    this.onMove = (/** @type {PointerEvent} */ e) => this.move(e);
    this.onUp = () => this.release();
    this.onDown = (/** @type {PointerEvent} */ e) => this.down(e);
    this.onWheel = (/** @type {WheelEvent} */ e) => this.wheel(e);
    host.addEventListener("pointerdown", this.onDown);
    host.addEventListener("wheel", this.onWheel, { passive: false });
  }

  viewport() {
    return { vw: this.host.clientWidth || 800, vh: this.host.clientHeight || 460 };
  }

  apply() {
    const { k, x, y } = this.view;
    const r = (/** @type {number} */ v) => Math.round(v * 100) / 100;
    this.scene.setAttribute("transform", `translate(${r(x)},${r(y)}) scale(${r(k * 1000) / 1000})`);
    this.host.dataset.zoom = String(Math.round(k * 100));
  }

  /** Show the whole drawing (at most at full size). `minZoom` keeps a first view of a big graph readable. */
  fit(minZoom = MIN_ZOOM) {
    const { vw, vh } = this.viewport();
    this.view = fitView(this.size.width, this.size.height, vw, vh, minZoom);
    this.apply();
  }

  /** @param {number} factor */
  zoomBy(factor) {
    const { vw, vh } = this.viewport();
    this.touched = true;
    this.view = zoomedView(this.view, factor, vw / 2, vh / 2);
    this.apply();
  }

  /**
   * Move the view so that the drawing's box (x, y, w, h) is inside the viewport, if it is not.
   * @param {number} x
   * @param {number} y
   * @param {number} w
   * @param {number} h
   */
  reveal(x, y, w, h) {
    const { vw, vh } = this.viewport();
    const { k } = this.view;
    const left = this.view.x + x * k;
    const top = this.view.y + y * k;
    let dx = 0;
    let dy = 0;
    if (left < PAD) dx = PAD - left;
    else if (left + w * k > vw - PAD) dx = vw - PAD - (left + w * k);
    if (top < PAD) dy = PAD - top;
    else if (top + h * k > vh - PAD) dy = vh - PAD - (top + h * k);
    if (!dx && !dy) return;
    this.view = { k, x: this.view.x + dx, y: this.view.y + dy };
    this.apply();
  }

  /** @param {WheelEvent} event */
  wheel(event) {
    if (!event.ctrlKey && !event.metaKey) return; // the page's scroll
    event.preventDefault();
    const box = this.host.getBoundingClientRect();
    this.touched = true;
    const factor = Math.exp(-clamp(event.deltaY, -100, 100) * 0.004);
    this.view = zoomedView(this.view, factor, event.clientX - box.left, event.clientY - box.top);
    this.apply();
  }

  /** @param {PointerEvent} event */
  down(event) {
    if (event.button !== 0) return;
    const target = /** @type {Element} */ (event.target);
    if (target.closest?.("button")) return; // the zoom buttons
    this.dragged = false;
    this.press = { x: event.clientX, y: event.clientY, vx: this.view.x, vy: this.view.y };
    window.addEventListener("pointermove", this.onMove);
    window.addEventListener("pointerup", this.onUp);
    window.addEventListener("pointercancel", this.onUp);
  }

  /** @param {PointerEvent} event */
  move(event) {
    if (!this.press) return;
    const dx = event.clientX - this.press.x;
    const dy = event.clientY - this.press.y;
    if (!this.dragged && Math.hypot(dx, dy) < DRAG_PX) return;
    this.dragged = true;
    this.touched = true;
    this.host.classList.add("lnb-gr-panning");
    this.view = { k: this.view.k, x: this.press.vx + dx, y: this.press.vy + dy };
    this.apply();
  }

  release() {
    this.press = null;
    this.host.classList.remove("lnb-gr-panning");
    window.removeEventListener("pointermove", this.onMove);
    window.removeEventListener("pointerup", this.onUp);
    window.removeEventListener("pointercancel", this.onUp);
  }

  destroy() {
    this.release();
    this.host.removeEventListener("pointerdown", this.onDown);
    this.host.removeEventListener("wheel", this.onWheel);
  }
}
