// Test doubles: an anywidget-like model whose `send` is answered by a fake kernel.

export class FakeModel {
  constructor(state = {}, kernel = null) {
    this.state = {
      trace_id: "a".repeat(32),
      selected_span_id: null,
      collapsed_span_ids: [],
      search_text: "",
      height: 460,
      ...state,
    };
    this.listeners = new Map();
    this.sent = [];
    this.saves = 0;
    this.kernel = kernel;
  }
  get(key) {
    return this.state[key];
  }
  set(key, value) {
    this.state[key] = value;
    this.emit(`change:${key}`, value);
  }
  save_changes() {
    this.saves++;
  }
  on(event, fn) {
    if (!this.listeners.has(event)) this.listeners.set(event, new Set());
    this.listeners.get(event).add(fn);
  }
  off(event, fn) {
    this.listeners.get(event)?.delete(fn);
  }
  emit(event, value) {
    for (const fn of [...(this.listeners.get(event) ?? [])]) fn(value);
  }
  send(msg) {
    this.sent.push(msg);
    if (!this.kernel) return;
    const answer = (response) => queueMicrotask(() => this.emit("msg:custom", response));
    Promise.resolve()
      .then(() => this.kernel(msg.method, msg.params))
      .then(
        (data) => answer({ type: "response", id: msg.id, ok: true, data }),
        (err) =>
          answer({
            type: "response",
            id: msg.id,
            ok: false,
            error: String(err?.message ?? err),
            error_type: "ValueError",
          }),
      );
  }
}

/**
 * A skeleton answer as the kernel sends it, from a list of {id, parent, name, kind, ...}; an LLM span's
 * {label, stream, isAsync, ttft} as llmops_nb/widgets/explorer/_calls.py reads them (is_async sparse).
 */
export function skeletonOf(spans, trace = {}) {
  const index = new Map(spans.map((s, i) => [s.id, i]));
  const dict = (values) => {
    const codes = new Map();
    for (const v of values) if (!codes.has(v)) codes.set(v, codes.size);
    return { codes: values.map((v) => codes.get(v)), values: [...codes.keys()] };
  };
  return {
    trace: { trace_id: "a".repeat(32), name: "root", status: "OK", duration_ms: 100, error_count: 0, ...trace },
    spans: {
      count: spans.length,
      span_id: spans.map((s) => s.id),
      parent: spans.map((s) => (s.parent == null ? -1 : (index.get(s.parent) ?? -1))),
      name: spans.map((s) => s.name ?? s.id),
      kind: dict(spans.map((s) => s.kind ?? "UNKNOWN")),
      status: dict(spans.map((s) => s.status ?? "OK")),
      model: dict(spans.map((s) => s.model ?? null)),
      start_ms: spans.map((s, i) => s.start ?? i),
      duration_ms: spans.map((s) => s.duration ?? 1),
      input_tokens: spans.map((s) => s.inTok ?? null),
      output_tokens: spans.map((s) => s.outTok ?? null),
      cost_usd: spans.map((s) => s.cost ?? null),
      label: dict(spans.map((s) => s.label ?? null)),
      stream: spans.map((s) => (s.stream ? true : null)),
      is_async: {
        at: spans.flatMap((s, i) => (s.isAsync ? [i] : [])),
        values: spans.filter((s) => s.isAsync).map(() => true),
      },
      ttft_ms: spans.map((s) => s.ttft ?? null),
    },
  };
}

export const hex = (i, width = 16) => i.toString(16).padStart(width, "0");

/** An agent-shaped trace: a root, `turns` children each with `tools` grandchildren. */
export function agentTrace(n) {
  const spans = [{ id: hex(0), parent: null, name: "agent", kind: "AGENT", start: 0, duration: n }];
  let i = 1;
  while (i < n) {
    const turn = hex(i);
    spans.push({
      id: turn,
      parent: hex(0),
      name: `llm call ${i}`,
      kind: "CHAT_MODEL",
      start: i,
      duration: 5,
      inTok: 100,
      outTok: 20,
      cost: 0.001,
    });
    i++;
    for (let k = 0; k < 8 && i < n; k++, i++) {
      spans.push({
        id: hex(i),
        parent: turn,
        name: `tool ${i}`,
        kind: "TOOL",
        start: i,
        duration: 1,
        status: i % 97 === 0 ? "ERROR" : "OK",
      });
    }
  }
  return spans;
}

export const flush = () => new Promise((r) => setTimeout(r, 0));

/** The explorer a view embeds, faked: what it was given, and whether it was destroyed (`FakeExplorer.made`). */
export class FakeExplorer {
  /** @type {FakeExplorer[]} */
  static made = [];
  /** @param {any} model @param {HTMLElement} el */
  constructor(model, el) {
    this.model = model;
    this.traceId = model.get("trace_id");
    this.height = model.get("height");
    this.seen = { trace_id: this.traceId, span: model.get("selected_span_id"), height: this.height };
    this.el = document.createElement("div");
    this.el.className = "fake-explorer";
    this.el.textContent = `explorer of ${this.traceId}`;
    el.append(this.el);
    this.destroyed = false;
    FakeExplorer.made.push(this);
  }
  destroy() {
    this.destroyed = true;
    this.el.remove();
  }
}
