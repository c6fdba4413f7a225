// Provider messages are read by the kernel (llmops_nb/widgets/explorer/_messages.py, tested in
// tests/test_widget_messages.py); the browser only renders them. Retrieved documents are still read here.
import { describe, expect, it } from "vitest";
import { normalizeDocuments } from "../explorer/documents.js";

describe("normalizeDocuments", () => {
  it("reads MLflow-style documents with scores and metadata", () => {
    const docs = normalizeDocuments([
      { id: "d1", page_content: "Paris is the capital", score: 0.91, metadata: { source: "wiki" } },
      { text: "second", relevance_score: "0.5" },
      "plain string doc",
    ]);
    expect(docs).toEqual([
      { id: "d1", text: "Paris is the capital", score: 0.91, metadata: { source: "wiki" } },
      { id: null, text: "second", score: 0.5, metadata: null },
      { id: null, text: "plain string doc", score: null, metadata: null },
    ]);
  });

  it("unwraps {documents: [...]} and rejects lists that are not documents", () => {
    expect(normalizeDocuments({ documents: [{ content: "x", score: 1 }] })).toHaveLength(1);
    expect(normalizeDocuments([1, 2, 3])).toBeNull();
    expect(normalizeDocuments([{ a: 1 }])).toBeNull();
    expect(normalizeDocuments({})).toBeNull();
  });
});
