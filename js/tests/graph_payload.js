// The agent graph's payloads for the tests, as AgentGraph.payload() gives them (llmops_nb/agents/_graph.py).

export const XSS = '<img src=x onerror="window.__xss=1">';

/** A node record as AgentGraph.payload() gives it. */
export function node(kind, name, extra = {}) {
  return {
    id: `${kind}:${name}`,
    name,
    kind,
    calls: 1,
    traces: 1,
    errors: 0,
    duration_ms: 100,
    duration_ms_p50: 100,
    input_tokens: 0,
    output_tokens: 0,
    cost_usd: null,
    in_cycle: false,
    ...extra,
  };
}

/** An edge record between two node ids. */
export function edge(type, source, target, count = 1, extra = {}) {
  return {
    id: `${type}:${source}->${target}`,
    type,
    source,
    target,
    count,
    traces: 1,
    share: 1,
    duration_ms: 10,
    input_tokens: 0,
    output_tokens: 0,
    cost_usd: null,
    errors: 0,
    in_cycle: false,
    ...extra,
  };
}

/** An agent looping llm → search, a self-looping tool, a handoff to a writer, and an XSS-named tool. */
export function agentPayload(extra = {}) {
  const A = "AGENT:planner";
  const L = "LLM:llm";
  const S = "TOOL:search";
  const W = "AGENT:writer";
  const X = `TOOL:${XSS}`;
  return {
    trace_count: 3,
    span_count: 30,
    truncated: false,
    trace_ids: [],
    nodes: [
      node("AGENT", "planner", { calls: 3, traces: 3 }),
      node("LLM", "llm", { calls: 9, in_cycle: true, input_tokens: 1200, output_tokens: 300, cost_usd: 0.0042 }),
      node("TOOL", "search", { calls: 8, in_cycle: true, errors: 1 }),
      node("AGENT", "writer", { calls: 3, traces: 3 }),
      node("TOOL", XSS, { calls: 2, traces: 2 }),
    ],
    edges: [
      edge("call", A, L, 9, { traces: 3 }),
      edge("call", A, S, 8, { traces: 3 }),
      edge("next", L, S, 6, { in_cycle: true, traces: 3 }),
      edge("next", S, L, 5, { in_cycle: true, traces: 3 }),
      edge("next", S, S, 2, { in_cycle: true, share: 1 / 3 }),
      edge("call", A, W, 3, { traces: 3 }),
      edge("handoff", A, W, 3, { traces: 3 }),
      edge("call", W, X, 2, { traces: 2, share: 2 / 3 }),
    ],
    cycles: [
      { id: "cycle-1", nodes: [L, S], repeats: 5, traces: 3, label: "llm → search ×5" },
      { id: "cycle-2", nodes: [S], repeats: 2, traces: 1, label: "search ×2" },
    ],
    paths: [
      { path: "planner → llm → search ×2 → llm → writer", traces: 2, share: 2 / 3 },
      { path: `planner → writer → ${XSS}`, traces: 1, share: 1 / 3 },
    ],
    ...extra,
  };
}
