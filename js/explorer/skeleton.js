// Decode the kernel's `skeleton` answer (columnar arrays, kind/status/model/label dictionary-encoded,
// and `critical_path`: the span ids that set the trace's wall time, root first, see
// llmops_nb/widgets/explorer/_data.py) into typed arrays the tree and the rows read by span index.

function decodeDict(column, n) {
  const out = new Array(n);
  if (!column) return out.fill(null);
  const { codes, values } = column;
  for (let i = 0; i < n; i++) out[i] = values[codes[i]] ?? null;
  return out;
}

// A numeric column: a plain list, or sparse {at: [indices], values} where the rest is "none".
// NaN marks "none" (a Float64Array, since an Int32Array would turn it into 0).
function numbers(column, n) {
  const out = new Float64Array(n).fill(NaN);
  if (column == null) return out;
  if (Array.isArray(column)) {
    for (let i = 0; i < n; i++) if (column[i] != null) out[i] = column[i];
  } else {
    const { at, values } = column;
    for (let k = 0; k < at.length; k++) if (at[k] < n && values[k] != null) out[at[k]] = values[k];
  }
  return out;
}

// A flag column (plain or sparse, like `numbers`): 1 where the kernel sent true.
function flags(column, n) {
  const out = new Uint8Array(n);
  const values = numbers(column, n);
  for (let i = 0; i < n; i++) out[i] = values[i] ? 1 : 0;
  return out;
}

/**
 * The critical path as span indices (root first) and a flag per span; ids not among the spans are skipped.
 * @param {string[] | undefined} ids @param {string[]} spanIds @param {number} n
 */
function criticalPath(ids, spanIds, n) {
  const flag = new Uint8Array(n);
  if (!ids?.length) return { flag, path: [] };
  const at = new Map(ids.map((id, k) => [id, k]));
  const path = new Array(ids.length).fill(-1);
  for (let i = 0; i < n; i++) {
    const k = at.get(spanIds[i]);
    if (k === undefined) continue;
    flag[i] = 1;
    path[k] = i;
  }
  return { flag, path: path.filter((i) => i >= 0) };
}

export function decodeSkeleton(data) {
  const s = data.spans;
  const n = s.count ?? s.span_id.length;
  const parent = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const p = s.parent[i];
    parent[i] = Number.isInteger(p) && p >= 0 && p < n && p !== i ? p : -1;
  }
  const critical = criticalPath(data.critical_path, s.span_id, n);
  return {
    trace: data.trace,
    n,
    spanId: s.span_id,
    parent,
    name: s.name,
    kind: decodeDict(s.kind, n),
    status: decodeDict(s.status, n),
    model: decodeDict(s.model, n),
    start: numbers(s.start_ms, n),
    duration: numbers(s.duration_ms, n),
    inTok: numbers(s.input_tokens, n),
    outTok: numbers(s.output_tokens, n),
    cost: numbers(s.cost_usd, n),
    // an LLM span's `model · operation`, markers and time to first token (explorer/calls.js)
    label: decodeDict(s.label, n),
    stream: flags(s.stream, n),
    isAsync: flags(s.is_async, n),
    ttft: numbers(s.ttft_ms, n),
    // 1 for a span on the critical path; `criticalPath` its span indices, root first (explorer/critical.js)
    critical: critical.flag,
    criticalPath: critical.path,
  };
}
