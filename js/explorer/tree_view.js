// The span tree with its waterfall, virtualized: a pool of row elements (one screenful plus a few)
// is re-filled as the user scrolls, so opening or scrolling a 10,000-span trace touches ~30 rows.
// A row is a span or a group of repeated siblings (groups.js); `active` and `selected` are such items.
// The critical path's rows are marked as they are filled (critical.js), and so are the spans a click in
// the graph tab picked (graph_tab.js): O(rows on screen).

import { h, highlighted, text } from "../lib/dom.js";
import * as fmt from "../lib/format.js";
import { ROW_HEIGHT, scrollToReveal, visibleWindow } from "../lib/virtual.js";
import { callOf, markerTitle, rowName, ttftPercent, ttftText } from "./calls.js";
import { criticalDot, criticalGroups, markCritical } from "./critical.js";
import { groupedRows, groupIndex, isGroup } from "./groups.js";
import { kindBadge } from "./kinds.js";
import { hasChildren } from "./tree.js";

const INDENT_PX = 14;
const MAX_INDENT_LEVELS = 24; // deeper spans stop moving right (the depth is in the tooltip)

function tokenText(inTok, outTok) {
  const total = (Number.isNaN(inTok) ? 0 : inTok) + (Number.isNaN(outTok) ? 0 : outTok);
  return Number.isNaN(inTok) && Number.isNaN(outTok) ? "" : `${fmt.tokens(total)} tok`;
}

// the label sits after the bar, else before it, else (a bar across the whole track) inside it
function placeLabel(row, left, width) {
  const place = left + width < 72 ? "after" : left > 18 ? "before" : "inside";
  row.dur.className = `lnb-dur${place === "inside" ? " lnb-dur-inside" : ""}`;
  row.dur.style.left =
    place === "after" ? `calc(${left + width}% + 4px)` : place === "inside" ? `calc(${left}% + 4px)` : "";
  row.dur.style.right = place === "before" ? `calc(${100 - left}% + 4px)` : "";
}

export class TreeView {
  constructor({ onSelect, onToggle, onLayout = () => {}, fallbackHeight = 360 }) {
    this.onSelect = onSelect;
    this.onToggle = onToggle;
    this.onLayout = onLayout; // the number of rows changed
    this.fallbackHeight = fallbackHeight;
    this.rows = new Int32Array(0);
    this.rowOf = null; // span index -> row number among the visible rows, -1 when hidden
    this.groupRowOf = null; // the same for groups
    this.pool = [];
    this.active = -1;
    this.selected = -1;
    this.matches = null;
    this.query = "";
    this.frame = 0;
    this.showCritical = true;
    this.picked = null; // Uint8Array per span: picked in the graph tab (graph_tab.js), or null
    this.pickedGroups = null; // the same per group: holds a picked span

    this.axis = h("div", { class: "lnb-axis" });
    this.spacer = h("div", { class: "lnb-spacer" });
    this.viewport = h(
      "div",
      {
        class: "lnb-viewport",
        attrs: { tabindex: "0", role: "tree", "aria-label": "spans" },
      },
      [this.spacer],
    );
    this.el = h("div", { class: "lnb-tree" }, [
      h("div", { class: "lnb-tree-head" }, [h("div", { class: "lnb-col-name", text: "Span" }), this.axis]),
      this.viewport,
    ]);
    this.viewport.addEventListener("scroll", () => this.schedule());
    // the output area resizes with the window and the sidebars: refit rows and time labels
    if (globalThis.ResizeObserver) {
      this.resize = new ResizeObserver(() => {
        if (!this.tree) return;
        this.drawAxis();
        this.schedule();
      });
      this.resize.observe(this.viewport);
    }
    this.viewport.addEventListener("click", (event) => this.click(event));
  }

  /**
   * @param skel decoded skeleton @param tree buildTree() result @param collapsed Uint8Array per span
   * @param groups findGroups() result @param expanded Uint8Array per group
   */
  setData(skel, tree, collapsed, groups, expanded) {
    this.skel = skel;
    this.tree = tree;
    this.collapsed = collapsed;
    this.groups = groups;
    this.expanded = expanded;
    this.criticalGroups = criticalGroups(skel, groups);
    let end = 0;
    for (let i = 0; i < skel.n; i++) {
      const e = skel.start[i] + (Number.isNaN(skel.duration[i]) ? 0 : skel.duration[i]);
      if (e > end) end = e;
    }
    this.totalMs = Math.max(end, skel.trace?.duration_ms ?? 0, 1e-3);
    this.drawAxis();
    this.relayout();
  }

  drawAxis() {
    // as many time labels as fit (one per ~64 px), at least the start and the end
    const width = this.axis.clientWidth;
    const count = width ? Math.max(2, Math.min(5, Math.floor(width / 64) + 1)) : 5;
    const ticks = Array.from({ length: count }, (_, k) => k / (count - 1)).map((f) =>
      h("span", {
        class: "lnb-tick",
        attrs: { style: `left:${f * 100}%` },
        text: f ? fmt.duration(f * this.totalMs) : "0",
      }),
    );
    this.axis.replaceChildren(...ticks);
  }

  /** Recompute which spans are rows (after collapsing or expanding), then draw. */
  relayout() {
    this.rows = groupedRows(this.tree, this.collapsed, this.groups, this.expanded);
    this.rowOf = new Int32Array(this.tree.n).fill(-1);
    this.groupRowOf = new Int32Array(this.groups.list.length).fill(-1);
    for (let r = 0; r < this.rows.length; r++) {
      const item = this.rows[r];
      if (isGroup(item)) this.groupRowOf[groupIndex(item)] = r;
      else this.rowOf[item] = r;
    }
    this.spacer.style.height = `${this.rows.length * ROW_HEIGHT}px`;
    this.draw();
    this.onLayout();
  }

  schedule() {
    if (this.frame) return;
    const raf = globalThis.requestAnimationFrame ?? ((fn) => setTimeout(fn, 16));
    this.frame = raf(() => {
      this.frame = 0;
      this.draw();
    });
  }

  /** How many open groups hold `node` or one of its ancestors: each indents its members one more level. */
  openGroupsAbove(node) {
    let count = 0;
    for (let up = node; up >= 0; up = this.tree.treeParent[up]) {
      const g = this.groups.of[up];
      if (g >= 0 && this.expanded[g]) count++;
    }
    return count;
  }

  /** The row number of a span or group among the visible rows, -1 when hidden. */
  rowIndex(item) {
    if (item === -1 || !this.rowOf) return -1;
    return isGroup(item) ? (this.groupRowOf[groupIndex(item)] ?? -1) : (this.rowOf[item] ?? -1);
  }

  viewportHeight() {
    return this.viewport.clientHeight || this.fallbackHeight;
  }

  draw() {
    if (!this.tree) return;
    const win = visibleWindow(this.viewport.scrollTop, this.viewportHeight(), this.rows.length);
    const needed = win.end - win.start;
    while (this.pool.length < needed) {
      const row = this.makeRow();
      this.pool.push(row);
      this.spacer.append(row.el);
    }
    for (let k = 0; k < this.pool.length; k++) {
      const row = this.pool[k];
      if (k < needed) this.fill(row, this.rows[win.start + k], win.start + k);
      else if (!row.el.hidden) {
        row.el.hidden = true;
        row.node = -1;
      }
    }
  }

  makeRow() {
    const twist = h("span", { class: "lnb-twist" });
    const kind = h("span", { class: "lnb-kind" });
    const cp = criticalDot();
    const name = h("span", { class: "lnb-name" });
    const stream = h("span", { class: "lnb-flag lnb-flag-stream", text: "stream" });
    const async = h("span", { class: "lnb-flag lnb-flag-async", text: "async" });
    const err = h("span", { class: "lnb-err", text: "!", title: "this span failed" });
    const tok = h("span", { class: "lnb-badge lnb-tok" });
    const cost = h("span", { class: "lnb-badge lnb-cost" });
    const bar = h("span", { class: "lnb-bar" });
    const ttft = h("span", { class: "lnb-ttft" });
    const dur = h("span", { class: "lnb-dur" });
    const nameCell = h("div", { class: "lnb-cell-name" }, [twist, kind, cp, name, stream, async, err, tok, cost]);
    const el = h("div", { class: "lnb-row", attrs: { role: "treeitem" } }, [
      nameCell,
      h("div", { class: "lnb-cell-time" }, [bar, ttft, dur]),
    ]);
    return { el, nameCell, twist, kind, cp, name, stream, async, err, tok, cost, bar, ttft, dur, node: -1, key: "" };
  }

  fill(row, node, index) {
    if (isGroup(node)) {
      this.fillGroup(row, groupIndex(node), index);
      return;
    }
    const s = this.skel;
    const t = this.tree;
    const el = row.el;
    el.hidden = false;
    el.style.transform = `translateY(${index * ROW_HEIGHT}px)`;
    const match = this.matches ? this.matches[node] === 1 : false;
    el.classList.toggle("lnb-active", node === this.active);
    el.classList.toggle("lnb-selected", node === this.selected);
    el.classList.toggle("lnb-match", match);
    el.classList.remove("lnb-group");
    markCritical(row, this.showCritical && s.critical[node] === 1);
    el.classList.toggle("lnb-picked", this.picked?.[node] === 1);
    el.setAttribute("aria-selected", String(node === this.selected));
    // Same span and same search: its content is already right.
    const key = `${node}|${match ? this.query : ""}|${this.collapsed[node]}`;
    if (row.key === key) return;
    row.key = key;
    row.node = node;
    el.dataset.node = String(node);
    const depth = t.depth[node] + this.openGroupsAbove(node); // an open group's members sit under its row
    const parentish = hasChildren(t, node);
    el.setAttribute("aria-level", String(depth + 1));
    if (parentish) el.setAttribute("aria-expanded", String(!this.collapsed[node]));
    else el.removeAttribute("aria-expanded");
    row.nameCell.style.paddingLeft = `${4 + Math.min(depth, MAX_INDENT_LEVELS) * INDENT_PX}px`;
    row.twist.textContent = parentish ? (this.collapsed[node] ? "▸" : "▾") : "";
    const badge = kindBadge(s.kind[node]);
    row.kind.textContent = badge.letters;
    row.kind.style.background = badge.color;
    row.kind.title = badge.label;
    const shown = rowName(s, node);
    const call = callOf(s, node);
    row.name.replaceChildren(...(match && this.query ? highlighted(shown, this.query) : [text(shown)]));
    // the tooltip keeps the span's own name: an LLM row shows `model · operation` instead
    const facts = [
      badge.label,
      `depth ${depth}`,
      call.label ? null : s.model[node],
      ...call.markers,
      ttftText(call.ttft),
    ];
    row.name.title = `${s.name[node] ?? "(unnamed)"}\n${facts.filter(Boolean).join(" · ")}`;
    row.stream.hidden = !call.markers.includes("stream");
    row.stream.title = markerTitle("stream", call.ttft);
    row.async.hidden = !call.markers.includes("async");
    row.async.title = markerTitle("async", call.ttft);
    const status = s.status[node];
    row.err.hidden = status !== "ERROR";
    el.classList.toggle("lnb-error", status === "ERROR");
    this.fillBadges(row, node, parentish);
    this.fillBar(row, node, status);
  }

  fillBadges(row, node, parentish) {
    const s = this.skel;
    const r = this.tree.rolled;
    const rolled = parentish && (r.inTok[node] !== s.inTok[node] || r.outTok[node] !== s.outTok[node]);
    const inTok = parentish ? r.inTok[node] : s.inTok[node];
    const outTok = parentish ? r.outTok[node] : s.outTok[node];
    const tok = tokenText(inTok, outTok);
    row.tok.textContent = tok && rolled ? `Σ ${tok}` : tok;
    row.tok.hidden = !tok;
    row.tok.title = tok
      ? `${rolled ? "with its children: " : ""}${fmt.integer(inTok)} in / ${fmt.integer(outTok)} out tokens`
      : "";
    const costValue = parentish ? r.cost[node] : s.cost[node];
    const cost = Number.isNaN(costValue) ? "" : fmt.cost(costValue);
    const costRolled = parentish && r.cost[node] !== s.cost[node];
    row.cost.textContent = cost && costRolled ? `Σ ${cost}` : cost;
    row.cost.hidden = !cost;
    row.cost.title = cost ? `${costRolled ? "with its children: " : ""}${cost}` : "";
  }

  fillBar(row, node, status) {
    const s = this.skel;
    const start = s.start[node];
    const dur = Number.isNaN(s.duration[node]) ? 0 : s.duration[node];
    const left = Math.max(0, Math.min(100, (start / this.totalMs) * 100));
    const width = Math.max(0, Math.min(100 - left, (dur / this.totalMs) * 100));
    row.bar.style.left = `${left}%`;
    row.bar.style.width = `${width}%`;
    row.bar.className = `lnb-bar lnb-bar-${status === "ERROR" ? "error" : status === "OK" ? "ok" : "unset"}`;
    // coloured by kind, as its badge (a failed span's bar stays red: style.css)
    row.bar.style.setProperty("--lnb-bar-color", kindBadge(s.kind[node]).color);
    const ttft = s.ttft[node];
    const at = ttftPercent(start, s.duration[node], ttft, this.totalMs);
    row.ttft.hidden = at == null;
    row.ttft.style.left = at == null ? "" : `${at}%`;
    row.ttft.title = at == null ? "" : `first token at +${fmt.duration(ttft)}`;
    row.dur.textContent = fmt.duration(s.duration[node]);
    placeLabel(row, left, width);
    row.dur.title = `starts at +${fmt.duration(start)}, lasts ${fmt.duration(dur)}`;
  }

  /** A group's row: `name ×N`, the members' summed tokens and cost, a bar from the first start to the last end. */
  fillGroup(row, g, index) {
    const group = this.groups.list[g];
    const item = -2 - g;
    const el = row.el;
    el.hidden = false;
    el.style.transform = `translateY(${index * ROW_HEIGHT}px)`;
    el.classList.toggle("lnb-active", item === this.active);
    el.classList.toggle("lnb-selected", item === this.selected);
    el.classList.remove("lnb-match");
    el.classList.add("lnb-group");
    markCritical(row, this.showCritical && this.criticalGroups[g] === 1);
    el.classList.toggle("lnb-picked", this.pickedGroups?.[g] === 1);
    el.setAttribute("aria-selected", String(item === this.selected));
    const open = this.expanded[g] === 1;
    const key = `g${g}|${open}`;
    if (row.key === key) return;
    row.key = key;
    row.node = item;
    el.dataset.node = String(item);
    const depth = this.tree.depth[group.first] + this.openGroupsAbove(this.tree.treeParent[group.first]);
    el.setAttribute("aria-level", String(depth + 1));
    el.setAttribute("aria-expanded", String(open));
    row.nameCell.style.paddingLeft = `${4 + Math.min(depth, MAX_INDENT_LEVELS) * INDENT_PX}px`;
    row.twist.textContent = open ? "▾" : "▸";
    const badge = kindBadge(group.kind);
    row.kind.textContent = badge.letters;
    row.kind.style.background = badge.color;
    row.kind.title = badge.label;
    row.name.replaceChildren(text(`${group.name ?? "(unnamed)"} ×${group.count}`));
    row.name.title = `${group.count} consecutive ${badge.label} spans named ${group.name ?? "(unnamed)"}, grouped${
      group.errors ? `; ${group.errors} failed` : ""
    }\n${open ? "Left or a click on ▾ closes the group" : "Right or a click on ▸ shows them all"}`;
    row.stream.hidden = true;
    row.async.hidden = true;
    row.err.hidden = !group.errors;
    el.classList.toggle("lnb-error", group.errors > 0);
    const tok = tokenText(group.inTok, group.outTok);
    row.tok.textContent = tok ? `Σ ${tok}` : "";
    row.tok.hidden = !tok;
    row.tok.title = tok
      ? `all ${group.count}: ${fmt.integer(group.inTok)} in / ${fmt.integer(group.outTok)} out tokens`
      : "";
    const cost = Number.isNaN(group.cost) ? "" : fmt.cost(group.cost);
    row.cost.textContent = cost ? `Σ ${cost}` : "";
    row.cost.hidden = !cost;
    row.cost.title = cost ? `all ${group.count}: ${cost}` : "";
    const left = Math.max(0, Math.min(100, (group.start / this.totalMs) * 100));
    const width = Math.max(0, Math.min(100 - left, ((group.end - group.start) / this.totalMs) * 100));
    row.bar.style.left = `${left}%`;
    row.bar.style.width = `${width}%`;
    row.bar.className = `lnb-bar lnb-bar-group${group.errors ? " lnb-bar-error" : ""}`;
    row.bar.style.setProperty("--lnb-bar-color", badge.color);
    row.ttft.hidden = true;
    row.dur.textContent = `Σ ${fmt.duration(group.totalMs)}`;
    placeLabel(row, left, width);
    row.dur.title = `${group.count} spans from +${fmt.duration(group.start)} to +${fmt.duration(group.end)}, ${fmt.duration(
      group.totalMs,
    )} in all`;
  }

  click(event) {
    const rowEl = event.target.closest?.(".lnb-row");
    if (!rowEl) return;
    const node = Number(rowEl.dataset.node);
    if (Number.isNaN(node)) return;
    const toggles = isGroup(node) || hasChildren(this.tree, node);
    if (event.target.closest(".lnb-twist") && toggles) this.onToggle(node);
    else this.onSelect(node);
    this.viewport.focus({ preventScroll: true });
  }

  setActive(node) {
    this.active = node;
    this.draw();
  }

  setSelected(node) {
    this.selected = node;
    this.draw();
  }

  /** Outline the critical path's bars, or not: only the rows on screen are touched. */
  setShowCritical(on) {
    this.showCritical = on;
    this.draw();
  }

  /** Highlight the spans (Uint8Array per span) and groups (per group) the graph tab picked; null: none. */
  setPicked(spans, groups) {
    this.picked = spans;
    this.pickedGroups = groups;
    this.draw();
  }

  /** @param matches Uint8Array marking matching spans (or null) @param query the search text */
  setMatches(matches, query) {
    this.matches = matches;
    this.query = query;
    for (const row of this.pool) row.key = "";
    this.draw();
  }

  /** Scroll so that `node` (a visible span or group) is in view. */
  reveal(node) {
    const r = this.rowIndex(node);
    if (r < 0) return;
    const top = scrollToReveal(r, this.viewport.scrollTop, this.viewportHeight());
    if (top !== this.viewport.scrollTop) this.viewport.scrollTop = top;
    this.draw();
  }

  /** The visible span or group `delta` rows away from `node`. */
  neighbour(node, delta) {
    if (!this.rows.length) return -1;
    const r = this.rowIndex(node);
    const next = r < 0 ? 0 : Math.max(0, Math.min(this.rows.length - 1, r + delta));
    return this.rows[next];
  }

  destroy() {
    this.resize?.disconnect();
  }

  pageRows() {
    return Math.max(1, Math.floor(this.viewportHeight() / ROW_HEIGHT) - 1);
  }
}
