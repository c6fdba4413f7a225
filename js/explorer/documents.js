// Retrieved documents out of a RETRIEVER (or RERANKER) span's outputs: a list of
// {id, page_content | text | content, score, metadata} (MLflow's Document shape and the usual
// variants), possibly wrapped as {documents: [...]} or {results: [...]}.

const isObj = (v) => v != null && typeof v === "object" && !Array.isArray(v);

function listOf(outputs) {
  if (Array.isArray(outputs)) return outputs;
  if (isObj(outputs)) {
    for (const key of ["documents", "results", "docs", "matches", "hits", "nodes"]) {
      if (Array.isArray(outputs[key])) return outputs[key];
    }
  }
  return null;
}

const firstDefined = (obj, keys) => {
  for (const k of keys) if (obj[k] != null) return obj[k];
  return null;
};

/** @returns {{id: string|null, text: string, score: number|null, metadata: object|null}[] | null} */
export function normalizeDocuments(outputs) {
  const list = listOf(outputs);
  if (!list?.length) return null;
  const docs = [];
  for (const item of list) {
    if (typeof item === "string") {
      docs.push({ id: null, text: item, score: null, metadata: null });
      continue;
    }
    if (!isObj(item)) return null; // not a list of documents
    const inner = isObj(item.document) ? item.document : isObj(item.node) ? item.node : item;
    const text = firstDefined(inner, ["page_content", "text", "content", "chunk", "document"]);
    const meta = isObj(inner.metadata) ? inner.metadata : isObj(item.metadata) ? item.metadata : null;
    const score = firstDefined(item, ["score", "relevance_score", "similarity", "distance"]);
    const id = firstDefined(inner, ["id", "doc_id", "document_id"]) ?? meta?.doc_uri ?? meta?.source ?? null;
    if (text == null && score == null) return null;
    docs.push({
      id: id == null ? null : String(id),
      text: text == null ? "" : typeof text === "string" ? text : JSON.stringify(text, null, 2),
      score: typeof score === "number" ? score : score == null ? null : Number(score),
      metadata: meta,
    });
  }
  return docs;
}
