// One small badge per MLflow span kind: two letters on a kind colour, the kind's name as tooltip.
// Letters rather than emoji or icon fonts, which are missing or drawn differently in many setups.

const KINDS = {
  LLM: ["LM", "#8250df"],
  CHAT_MODEL: ["CM", "#8250df"],
  AGENT: ["AG", "#bf3989"],
  CHAIN: ["CH", "#0969da"],
  WORKFLOW: ["WF", "#0969da"],
  TASK: ["TA", "#0969da"],
  TOOL: ["TL", "#bc4c00"],
  RETRIEVER: ["RT", "#1a7f37"],
  RERANKER: ["RR", "#1a7f37"],
  EMBEDDING: ["EM", "#1b7c83"],
  MEMORY: ["ME", "#1b7c83"],
  PARSER: ["PA", "#6e7781"],
  GUARDRAIL: ["GR", "#9a6700"],
  EVALUATOR: ["EV", "#9a6700"],
  UNKNOWN: ["··", "#6e7781"],
};

export function kindBadge(kind) {
  const [letters, color] = KINDS[kind] ?? KINDS.UNKNOWN;
  return { letters, color, label: kind ?? "UNKNOWN" };
}

export const LLM_KINDS = new Set(["LLM", "CHAT_MODEL"]);
