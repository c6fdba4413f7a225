// The detail pane of one span: facts, error with traceback, chat messages by role (read by the kernel:
// the span's `messages`, see llmops_nb/widgets/explorer/_messages.py), tool call arguments and result,
// retrieved documents, then the raw inputs/outputs/attributes as JSON trees and the events at their
// times after the span's start. Everything from the trace is set as text.

import { copyText } from "../lib/copy.js";
import { h } from "../lib/dom.js";
import * as fmt from "../lib/format.js";
import { markerTitle, offsetText } from "./calls.js";
import { shareText } from "./critical.js";
import { normalizeDocuments } from "./documents.js";
import { jsonTree } from "./json_tree.js";
import { kindBadge, LLM_KINDS } from "./kinds.js";

const DOC_PREVIEW = 1500;
const CRITICAL_YES = "yes: it sets the trace's wall time";
const CRITICAL_NO = "no: shortening it would not end the trace sooner";

export function copyButton(getValue, label = "copy") {
  const button = h("button", { class: "lnb-copy", text: label, title: "copy to the clipboard" });
  button.addEventListener("click", async (event) => {
    event.stopPropagation();
    const ok = await copyText(typeof getValue === "function" ? getValue() : getValue);
    button.textContent = ok ? "copied" : "copy failed";
    setTimeout(() => {
      button.textContent = label;
    }, 1200);
  });
  return button;
}

function section(title, children, { open = true, copy = null } = {}) {
  const summary = h("summary", { class: "lnb-sec-title" }, [title, copy ? copyButton(copy) : null]);
  const node = h("details", { class: "lnb-sec" }, [summary, ...children]);
  node.open = open;
  return node;
}

const pre = (value, cls = "") => h("pre", { class: `lnb-pre ${cls}`, text: value });

function facts(span, skelFacts) {
  const ttft = skelFacts.call?.ttft;
  const critical = skelFacts.critical;
  const rows = [
    ["status", span.status + (span.status_message ? ` — ${span.status_message}` : "")],
    ["duration", fmt.duration(span.duration_ms)],
    ["TTFT", ttft == null ? null : fmt.duration(ttft)],
    ["starts", `${skelFacts.offset != null ? `+${fmt.duration(skelFacts.offset)} · ` : ""}${span.start_time ?? ""}`],
    ["model", span.model],
    [
      "tokens",
      span.input_tokens == null && span.output_tokens == null
        ? null
        : `${fmt.integer(span.input_tokens)} in / ${fmt.integer(span.output_tokens)} out`,
    ],
    ["cost", span.cost_usd == null ? null : fmt.cost(span.cost_usd)],
    // whether the trace waited for it, and how much of the trace's time it spans
    ["critical path", critical ? (critical.on ? CRITICAL_YES : CRITICAL_NO) : null],
    ["share of wall time", critical ? shareText(critical) : null],
    ["span id", span.span_id],
    ["parent id", span.parent_span_id],
  ];
  const dl = h("dl", { class: "lnb-facts" });
  for (const [k, v] of rows) {
    if (v == null || v === "") continue;
    dl.append(h("dt", { text: k }), h("dd", { text: v }));
  }
  return dl;
}

function errorSection(span) {
  const e = span.error;
  if (e == null && span.status !== "ERROR") return null;
  const isObj = e != null && typeof e === "object";
  const headline = isObj ? `${e.type ?? "Error"}: ${e.message ?? ""}` : String(e ?? span.status_message ?? "failed");
  const tb = isObj && e.traceback ? String(e.traceback) : "";
  return section(
    "Error",
    [h("div", { class: "lnb-error-msg", text: headline }), tb ? pre(tb, "lnb-traceback") : null],
    { copy: () => tb || headline },
  );
}

/**
 * The span's assessments (on the root: the trace's — evaluation scores, human feedback, online judges;
 * on another span: what an online judge said of that span alone), newest first.
 * @param {any[] | undefined} assessments
 */
function assessmentsSection(assessments) {
  if (!assessments?.length) return null;
  const rows = assessments.map((a) => {
    const verdict = a.passed === true ? "pass" : a.passed === false ? "fail" : null;
    const value = a.error ? "error" : typeof a.value === "string" ? a.value : JSON.stringify(a.value);
    return h("div", { class: "lnb-assessment" }, [
      h("span", { class: "lnb-assessment-name", text: a.name }),
      h("span", {
        class: `lnb-assessment-value${verdict ? ` lnb-assessment-${verdict}` : ""}${a.error ? " lnb-assessment-error" : ""}`,
        text: verdict && value !== String(a.passed) ? `${value} · ${verdict}` : value,
      }),
      h("span", {
        class: "lnb-assessment-source",
        text: [a.source, a.source_id, a.created_at].filter(Boolean).join(" · "),
      }),
      a.rationale ? h("div", { class: "lnb-assessment-why", text: a.rationale }) : null,
      a.error ? h("div", { class: "lnb-assessment-why lnb-assessment-error", text: a.error }) : null,
    ]);
  });
  return section(`Assessments (${assessments.length})`, rows);
}

function partNode(part) {
  switch (part.type) {
    case "text":
      return h("div", { class: "lnb-msg-text", text: part.text });
    case "refusal":
      return h("div", { class: "lnb-msg-text lnb-refusal", text: `refused: ${part.text}` });
    case "thinking":
      return h("div", { class: "lnb-msg-text lnb-thinking", text: part.text });
    case "media":
      return h("div", { class: "lnb-msg-media", text: part.text });
    case "tool_call":
      return h("div", { class: "lnb-tool" }, [
        h("div", { class: "lnb-tool-head" }, [
          h("span", { class: "lnb-tool-label", text: "tool call" }),
          h("span", { class: "lnb-tool-name", text: part.name }),
          part.id ? h("span", { class: "lnb-dim", text: part.id }) : null,
          copyButton(part.arguments),
        ]),
        pre(part.arguments),
      ]);
    case "tool_result":
      return h("div", { class: `lnb-tool${part.is_error ? " lnb-tool-error" : ""}` }, [
        h("div", { class: "lnb-tool-head" }, [
          h("span", { class: "lnb-tool-label", text: part.is_error ? "tool error" : "tool result" }),
          part.id ? h("span", { class: "lnb-dim", text: part.id }) : null,
          copyButton(part.content),
        ]),
        pre(part.content),
      ]);
    default:
      return pre(part.text);
  }
}

const messageText = (m) => m.parts.map((p) => p.text ?? p.content ?? p.arguments ?? "").join("\n");

function messageNode(m) {
  const role = String(m.role);
  const known = ["system", "user", "assistant", "tool", "developer"].includes(role) ? role : "other";
  return h("div", { class: `lnb-msg lnb-role-${known}` }, [
    h("div", { class: "lnb-msg-head" }, [
      h("span", { class: "lnb-role", text: role }),
      m.name ? h("span", { class: "lnb-dim", text: m.name }) : null,
      copyButton(() => messageText(m)),
    ]),
    ...(m.parts.length ? m.parts.map(partNode) : [h("div", { class: "lnb-dim", text: "(empty)" })]),
  ]);
}

function messagesSections(convo) {
  const out = [];
  if (convo.input.length) out.push(section(`Messages (${convo.input.length})`, convo.input.map(messageNode)));
  if (convo.output.length) out.push(section("Response", convo.output.map(messageNode)));
  return out;
}

function documentsSection(docs) {
  const items = docs.map((d, i) => {
    const long = d.text.length > DOC_PREVIEW;
    const body = h("div", { class: "lnb-msg-text", text: long ? `${d.text.slice(0, DOC_PREVIEW)}…` : d.text });
    const more = long
      ? h("button", { class: "lnb-link", text: `show all ${d.text.length.toLocaleString("en-US")} characters` })
      : null;
    more?.addEventListener("click", () => {
      body.textContent = d.text;
      more.remove();
    });
    return h("div", { class: "lnb-doc" }, [
      h("div", { class: "lnb-tool-head" }, [
        h("span", { class: "lnb-tool-label", text: `#${i + 1}` }),
        d.id ? h("span", { class: "lnb-tool-name", text: d.id }) : null,
        d.score != null && !Number.isNaN(d.score)
          ? h("span", { class: "lnb-badge lnb-score", text: `score ${Number(d.score).toFixed(3)}` })
          : null,
        copyButton(d.text),
      ]),
      body,
      more,
      d.metadata ? jsonTree(d.metadata, { open: 0, label: "metadata" }) : null,
    ]);
  });
  return section(`Documents (${docs.length})`, items);
}

/** The events, each at its time after the span's start ("+182 ms"), never as an epoch in ns. */
function eventsSection(events) {
  if (!Array.isArray(events)) return jsonSection("Events", events, { open: false });
  if (!events.length) return null;
  const items = events.map((e) => {
    const event = e != null && typeof e === "object" ? e : { name: String(e) };
    const attrs = event.attributes;
    return h("div", { class: "lnb-event" }, [
      h("span", { class: "lnb-event-time", text: offsetText(event.offset_ms) }),
      h("span", { class: "lnb-event-name", text: event.name ?? "(unnamed)" }),
      attrs != null && typeof attrs === "object" ? jsonTree(attrs, { open: 0, label: "attributes" }) : null,
    ]);
  });
  return section(`Events (${events.length})`, items, { open: false, copy: () => fmt.prettyJson(events) });
}

function jsonSection(title, value, { open = true, depth = 1 } = {}) {
  if (value == null) return null;
  return section(title, [typeof value === "string" ? pre(value) : jsonTree(value, { open: depth })], {
    open,
    copy: () => fmt.prettyJson(value),
  });
}

function truncationNotes(span) {
  const notes = [];
  for (const [field, t] of Object.entries(span.truncated ?? {})) {
    notes.push(
      `${field}: showing the first ${fmt.integer(t.cap_chars)} of ${fmt.integer(t.original_chars)} characters of JSON`,
    );
  }
  const stored = span.attributes?.["llmops_nb.truncated"];
  if (stored && typeof stored === "object") {
    for (const [field, t] of Object.entries(stored)) {
      notes.push(
        `${field} was cut when recorded: ${fmt.integer(t?.original_chars)} characters, kept ${fmt.integer(t?.cap_chars)}`,
      );
    }
  }
  return notes.map((n) => h("div", { class: "lnb-note", text: n }));
}

/**
 * The detail of one span (the kernel's `span` answer); `extra.offset` = its start within the trace in
 * ms, `extra.call` = its label, markers and time to first token (explorer/calls.js), `extra.critical`
 * = whether it is on the critical path and its share of the wall time (explorer/critical.js).
 * @param {any} span
 * @param {{offset?: number, call?: import("./calls.js").CallFacts, critical?: ReturnType<typeof import("./critical.js").criticalFacts>}} [extra]
 */
export function renderDetail(span, extra = {}) {
  const parsed = (field) => (span.truncated?.[field] ? null : span[field]);
  const convo = span.messages ?? null;
  const isTool = span.kind === "TOOL";
  const docs = ["RETRIEVER", "RERANKER"].includes(span.kind) ? normalizeDocuments(parsed("outputs")) : null;
  const shownAbove = Boolean(convo && LLM_KINDS.has(span.kind)) || isTool || Boolean(docs);
  const call = extra.call ?? { label: null, markers: [], ttft: null };
  return h("div", { class: "lnb-detail-body" }, [
    h("div", { class: "lnb-detail-head" }, [
      kindChip(span.kind),
      h("span", { class: "lnb-detail-name", text: call.label ?? span.name ?? "(unnamed)" }),
      ...call.markers.map((m) =>
        h("span", { class: `lnb-flag lnb-flag-${m}`, text: m, title: markerTitle(m, call.ttft) }),
      ),
      h("span", { class: `lnb-status lnb-status-${String(span.status).toLowerCase()}`, text: span.status }),
      copyButton(span.span_id, "copy id"),
    ]),
    // an LLM span's header reads `model · operation`: its own name (what the code called) goes below
    call.label
      ? h("div", { class: "lnb-detail-span", text: span.name ?? "(unnamed)", title: "the span's name" })
      : null,
    facts(span, extra),
    ...truncationNotes(span),
    errorSection(span),
    assessmentsSection(span.assessments),
    ...(convo ? messagesSections(convo) : []),
    isTool && span.inputs != null
      ? section("Arguments", [pre(fmt.prettyJson(span.inputs))], { copy: () => fmt.prettyJson(span.inputs) })
      : null,
    isTool && span.outputs != null
      ? section("Result", [pre(fmt.prettyJson(span.outputs))], { copy: () => fmt.prettyJson(span.outputs) })
      : null,
    docs ? documentsSection(docs) : null,
    jsonSection("Inputs", span.inputs, { open: !shownAbove }),
    jsonSection("Outputs", span.outputs, { open: !shownAbove }),
    jsonSection("Attributes", span.attributes, { open: false }),
    eventsSection(span.events),
  ]);
}

/**
 * The detail of a group of repeated siblings (groups.js): what it stands for, in text; `critical`: the
 * critical path runs through one of its spans.
 * @param {any} group
 */
export function renderGroupDetail(group, { critical = false } = {}) {
  const rows = [
    ["spans", fmt.integer(group.count)],
    ["total time", fmt.duration(group.totalMs)],
    ["from", `+${fmt.duration(group.start)} to +${fmt.duration(group.end)}`],
    ["each", `${fmt.duration(group.totalMs / group.count)} on average`],
    group.errors ? ["failed", fmt.integer(group.errors)] : null,
    Number.isNaN(group.inTok) && Number.isNaN(group.outTok)
      ? null
      : ["tokens", `${fmt.integer(group.inTok)} in / ${fmt.integer(group.outTok)} out`],
    Number.isNaN(group.cost) ? null : ["cost", fmt.cost(group.cost)],
    critical ? ["critical path", "runs through one of these spans"] : null,
  ].filter((r) => r != null);
  return h("div", { class: "lnb-detail-body lnb-group-detail" }, [
    h("div", { class: "lnb-detail-head" }, [
      kindChip(group.kind),
      h("span", { class: "lnb-detail-name", text: `${group.name ?? "(unnamed)"} ×${group.count}` }),
    ]),
    h(
      "dl",
      { class: "lnb-facts" },
      rows.flatMap(([k, v]) => [h("dt", { text: k }), h("dd", { text: v })]),
    ),
    h("div", {
      class: "lnb-placeholder",
      text: `${group.count} consecutive spans with the same name and kind. Right, Enter or a click on ▸ shows them all.`,
    }),
  ]);
}

/** The kind's coloured letters (CH, LLM, TO…) heading the detail of a span or a group. */
function kindChip(kind) {
  const badge = kindBadge(kind);
  return h("span", {
    class: "lnb-kind",
    title: badge.label,
    text: badge.letters,
    attrs: { style: `background:${badge.color}` },
  });
}
