// Decode the kernel's `skeleton` answer (columnar arrays, kind/status/model/label dictionary-encoded)
// into typed arrays the tree and the rows read by span index.

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

export function decodeSkeleton(data) {
  const s = data.spans;
  const n = s.count ?? s.span_id.length;
  const parent = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const p = s.parent[i];
    parent[i] = Number.isInteger(p) && p >= 0 && p < n && p !== i ? p : -1;
  }
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
  };
}
