// Repeated siblings, grouped: a loop of 100 traced `step` calls is one row `step ×100` with their
// total time, expandable to show them all. A group is a run of consecutive siblings with the same
// name and kind; its members' subtrees are contiguous in the preorder, so skipping a closed group
// is one step, as skipping a collapsed span is (tree.js).
//
// A row is a span index (>= 0) or a group, encoded as -2 - group (-1 stays "none").

export const MIN_GROUP = 3;

export const groupItem = (g) => -2 - g;
export const isGroup = (item) => item <= -2;
export const groupIndex = (item) => -2 - item;

const num = (v) => (Number.isNaN(v) ? 0 : v);

/**
 * The groups of a tree.
 * @param tree buildTree() result @param skel decoded skeleton (name, kind, start, duration, status)
 * @returns {{ list: any[], head: Int32Array, of: Int32Array }} head: group whose first member a span
 *   is; of: group a span is a direct member of (-1: none)
 */
export function findGroups(tree, skel, minGroup = MIN_GROUP) {
  const head = new Int32Array(tree.n).fill(-1);
  const of = new Int32Array(tree.n).fill(-1);
  const list = [];
  // the name a row shows: an LLM call's `model · operation` (calls.js), so calls to two models stay apart
  const shown = (i) => skel.label?.[i] ?? skel.name[i];
  const same = (a, b) => shown(a) === shown(b) && skel.kind[a] === skel.kind[b];
  const scan = (siblings) => {
    for (let k = 0; k < siblings.length; ) {
      let end = k + 1;
      while (end < siblings.length && same(siblings[k], siblings[end])) end++;
      if (end - k >= minGroup) addGroup(siblings.slice(k, end));
      k = end;
    }
  };
  const addGroup = (members) => {
    const g = list.length;
    let totalMs = 0;
    let start = Infinity;
    let end = -Infinity;
    let errors = 0;
    const sums = { inTok: NaN, outTok: NaN, cost: NaN };
    for (const m of members) {
      of[m] = g;
      const d = num(skel.duration[m]);
      totalMs += d;
      start = Math.min(start, num(skel.start[m]));
      end = Math.max(end, num(skel.start[m]) + d);
      if (skel.status[m] === "ERROR") errors++;
      for (const key of ["inTok", "outTok", "cost"]) {
        const v = tree.rolled[key][m];
        if (!Number.isNaN(v)) sums[key] = Number.isNaN(sums[key]) ? v : sums[key] + v;
      }
    }
    const first = members[0];
    head[first] = g;
    list.push({
      first,
      last: members[members.length - 1],
      members,
      count: members.length,
      name: shown(first),
      kind: skel.kind[first],
      totalMs,
      start,
      end,
      errors,
      ...sums,
    });
  };
  // siblings in drawn order: the roots, then each span's children (a cycle's child is drawn elsewhere)
  scan(tree.roots);
  for (let p = 0; p < tree.n; p++) {
    const node = tree.order[p];
    if (tree.firstChild[node] === -1) continue;
    const siblings = [];
    for (let c = tree.firstChild[node]; c !== -1; c = tree.nextSibling[c])
      if (tree.treeParent[c] === node) siblings.push(c);
    scan(siblings);
  }
  return { list, head, of };
}

/**
 * Rows to show, in preorder: spans not inside a collapsed span, a group's row before its members,
 * and a closed group's members (with their subtrees) left out.
 * @param expanded Uint8Array, 1 for an open group
 */
export function groupedRows(tree, collapsed, groups, expanded) {
  const rows = new Int32Array(tree.n + groups.list.length);
  let count = 0;
  for (let p = 0; p < tree.n; ) {
    const node = tree.order[p];
    const g = groups.head[node];
    if (g >= 0) {
      rows[count++] = groupItem(g);
      if (!expanded[g]) {
        const last = groups.list[g].last;
        p = tree.pos[last] + tree.size[last];
        continue;
      }
    }
    rows[count++] = node;
    p += collapsed[node] ? tree.size[node] : 1;
  }
  return rows.subarray(0, count);
}

/** Open every group holding `node` or one of its ancestors (returns true if anything changed). */
export function revealGroups(tree, groups, expanded, node) {
  let changed = false;
  for (let up = node; up >= 0; up = tree.treeParent[up]) {
    const g = groups.of[up];
    if (g >= 0 && !expanded[g]) {
      expanded[g] = 1;
      changed = true;
    }
  }
  return changed;
}

/** The row a row belongs under: an open group for its members, else the parent span (-1: a root). */
export function parentItem(tree, groups, expanded, item) {
  if (isGroup(item)) return tree.treeParent[groups.list[groupIndex(item)].first];
  const g = groups.of[item];
  if (g >= 0 && expanded[g]) return groupItem(g);
  return tree.treeParent[item];
}

/** The row that stands for `item` when it is hidden: itself, its closed group, or the nearest shown ancestor. */
export function shownItem(tree, groups, isShown, item) {
  let at = item;
  while (at !== -1 && !isShown(at)) {
    if (!isGroup(at) && groups.of[at] >= 0 && isShown(groupItem(groups.of[at]))) return groupItem(groups.of[at]);
    at = isGroup(at) ? tree.treeParent[groups.list[groupIndex(at)].first] : tree.treeParent[at];
  }
  return at;
}
