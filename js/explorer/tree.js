// The span tree in O(n): child lists as first-child/next-sibling arrays, a preorder, each
// subtree's extent in that preorder (so collapsing skips a subtree in one step), and token/cost
// totals rolled up to every parent. Typed arrays: a 10,000-span trace builds in about a millisecond.

/**
 * @param {Int32Array|number[]} parent parent index per span, -1 for roots; children keep index order
 *   (the kernel sends spans in start order, so children come out in start order)
 * @param {{inTok?: Float64Array, outTok?: Float64Array, cost?: Float64Array}} [values] NaN = none
 */
export function buildTree(parent, values = {}) {
  const n = parent.length;
  const firstChild = new Int32Array(n).fill(-1);
  const nextSibling = new Int32Array(n).fill(-1);
  const roots = [];
  for (let i = n - 1; i >= 0; i--) {
    const p = parent[i];
    if (p >= 0 && p < n && p !== i) {
      nextSibling[i] = firstChild[p];
      firstChild[p] = i;
    }
  }
  for (let i = 0; i < n; i++) {
    const p = parent[i];
    if (!(p >= 0 && p < n && p !== i)) roots.push(i);
  }

  const order = new Int32Array(n); // preorder position -> span index
  const pos = new Int32Array(n).fill(-1); // span index -> preorder position
  const depth = new Int32Array(n);
  const treeParent = new Int32Array(n).fill(-1); // the parent as drawn (cycles broken)
  const stack = new Int32Array(n);
  let count = 0;

  const walk = (root) => {
    let top = 0;
    stack[top++] = root;
    pos[root] = -2; // queued
    while (top > 0) {
      const node = stack[--top];
      pos[node] = count;
      order[count++] = node;
      // push children last-first so the first child is visited next
      const start = top;
      for (let c = firstChild[node]; c !== -1; c = nextSibling[c]) {
        if (pos[c] !== -1) continue; // a cycle in bad data: draw each span once
        pos[c] = -2;
        treeParent[c] = node;
        depth[c] = depth[node] + 1;
        stack[top++] = c;
      }
      for (let a = start, b = top - 1; a < b; a++, b--) {
        const t = stack[a];
        stack[a] = stack[b];
        stack[b] = t;
      }
    }
  };
  for (const r of roots) walk(r);
  // spans on a parent cycle are unreachable from any root: show them as roots
  for (let i = 0; i < n && count < n; i++) {
    if (pos[i] === -1) {
      roots.push(i);
      walk(i);
    }
  }

  const size = new Int32Array(n).fill(1);
  const rolled = {
    inTok: new Float64Array(n).fill(NaN),
    outTok: new Float64Array(n).fill(NaN),
    cost: new Float64Array(n).fill(NaN),
  };
  for (const key of ["inTok", "outTok", "cost"]) {
    const own = values[key];
    if (own) rolled[key].set(own);
  }
  for (let p = n - 1; p >= 0; p--) {
    const node = order[p];
    const up = treeParent[node];
    if (up < 0) continue;
    size[up] += size[node];
    // NaN means "none": a parent without usage of its own takes its children's sum
    for (const key of ["inTok", "outTok", "cost"]) {
      const v = rolled[key][node];
      const mine = rolled[key][up];
      if (!Number.isNaN(v)) rolled[key][up] = Number.isNaN(mine) ? v : mine + v;
    }
  }
  return { n, roots, firstChild, nextSibling, order, pos, depth, treeParent, size, rolled };
}

/** Span indices of the rows to show, in preorder, skipping the insides of collapsed spans. */
export function visibleRows(tree, collapsed) {
  const rows = new Int32Array(tree.n);
  let count = 0;
  for (let p = 0; p < tree.n; ) {
    const node = tree.order[p];
    rows[count++] = node;
    p += collapsed[node] ? tree.size[node] : 1;
  }
  return rows.subarray(0, count);
}

export const hasChildren = (tree, node) => tree.firstChild[node] !== -1;

/** Expand every ancestor of `node` (returns true if anything changed). */
export function reveal(tree, collapsed, node) {
  let changed = false;
  for (let up = tree.treeParent[node]; up >= 0; up = tree.treeParent[up]) {
    if (collapsed[up]) {
      collapsed[up] = 0;
      changed = true;
    }
  }
  return changed;
}
