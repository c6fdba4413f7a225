// Search within a trace: span names match locally and at once; the kernel adds spans whose
// payloads match. Matches are kept in tree order so next/previous walk down the tree.

/** Span indices whose name contains `query` (case-insensitive). */
export function nameMatches(names, query) {
  const q = query.trim().toLowerCase();
  const out = [];
  if (!q) return out;
  for (let i = 0; i < names.length; i++) {
    const name = names[i];
    if (name != null && String(name).toLowerCase().includes(q)) out.push(i);
  }
  return out;
}

/** Union of span-index lists, sorted by preorder position. */
export function mergeMatches(tree, ...lists) {
  const seen = new Uint8Array(tree.n);
  const out = [];
  for (const list of lists) {
    for (const i of list) {
      if (i >= 0 && i < tree.n && !seen[i]) {
        seen[i] = 1;
        out.push(i);
      }
    }
  }
  return out.sort((a, b) => tree.pos[a] - tree.pos[b]);
}

/** The index in `matches` to go to from `current` (a position in matches, or -1), wrapping around. */
export function step(matches, current, direction) {
  if (!matches.length) return -1;
  if (current < 0) return direction > 0 ? 0 : matches.length - 1;
  return (current + direction + matches.length) % matches.length;
}
