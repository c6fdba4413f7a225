// The card of one open row: outputs (in a comparison side by side, diffed word by word), every
// scorer's value with the judge's rationale and a button to its EVALUATOR span in the trace below,
// the inputs and expectations, and the feedback form. A conversation row's card names its session,
// turns and why it stopped, and tells a per-turn scorer's mean over the turns from a judge of the whole
// conversation; its messages are in the transcript below (the outputs stay, folded). Text only:
// payloads go in <pre> as text.

import { h } from "../lib/dom.js";
import * as fmt from "../lib/format.js";
import { compareChip, latencyText, scoreChip, shortNumber } from "./cells.js";
import { diffNodes, diffStats } from "./diff.js";

function payloadText(p) {
  if (!p || p.value == null) return "";
  const shown = typeof p.value === "string" ? p.value : fmt.prettyJson(p.value);
  return p.truncated
    ? `${shown}\n… (cut at ${shown.length.toLocaleString("en-US")} of ${Number(p.chars).toLocaleString("en-US")} characters)`
    : shown;
}

function section(title, children, { open = true, cls = "" } = {}) {
  const el = h("details", { class: `lnb-ev-section ${cls}`.trim() }, [h("summary", { text: title }), ...children]);
  el.open = open;
  return el;
}

function pre(textValue, cls = "") {
  return h("pre", { class: `lnb-ev-pre ${cls}`.trim(), text: textValue });
}

function facts(d) {
  const tokens = (d.input_tokens ?? 0) + (d.output_tokens ?? 0);
  const parts = [`row ${d.row}`];
  if (d.latency_ms != null) parts.push(latencyText(d.latency_ms));
  if (tokens) parts.push(`${fmt.tokens(tokens)} tokens`);
  if (d.cost_usd != null) parts.push(fmt.cost(d.cost_usd));
  if (d.trace_cost_usd != null && d.trace_cost_usd !== d.cost_usd)
    parts.push(`${fmt.cost(d.trace_cost_usd)} with scoring`);
  if (d.record_id) parts.push(`record ${d.record_id}`);
  return h("div", { class: "lnb-ev-facts", text: parts.join(" · "), title: `trace ${d.trace_id ?? "(none)"}` });
}

/** A conversation's facts: its session, turns and why it stopped (evaluate()'s stop_reason). */
function conversationFacts(d) {
  const out = d.outputs?.value;
  const stop = out && typeof out === "object" ? out.stop_reason : null;
  const parts = [`${d.turns ?? "?"} turn${d.turns === 1 ? "" : "s"}`];
  if (stop) parts.push(`stopped: ${String(stop).replaceAll("_", " ")}`);
  return h("div", { class: "lnb-ev-facts lnb-ev-conv-facts" }, [
    h("span", { text: "session " }),
    h("span", { class: "lnb-ev-session", text: String(d.session) }),
    h("span", { text: ` · ${parts.join(" · ")}` }),
  ]);
}

/** What a conversation run's score is of: the mean over the turns, or the whole conversation. */
function scopeTag(s) {
  return h("span", {
    class: "lnb-ev-scope",
    text: s.per_turn ? "per turn" : "conversation",
    title: s.per_turn
      ? "scored on every turn: the mean over the turns (the share that passed, for yes/no)"
      : "judged on the whole conversation",
  });
}

function spanButton(label, spanId, side, onShowSpan) {
  if (!spanId || !onShowSpan) return null;
  const b = h("button", {
    class: "lnb-ev-link",
    text: label,
    title: "select this scorer's EVALUATOR span in the trace below",
  });
  b.addEventListener("click", () => onShowSpan(spanId, side));
  return b;
}

function scoreBlock(s, onShowSpan, conversation = false) {
  const chip = scoreChip({ v: s.value, p: s.pass, e: s.error }, s.name);
  return h("div", { class: "lnb-ev-score", attrs: { "data-scorer": String(s.name) } }, [
    h("div", { class: "lnb-ev-score-head" }, [
      h("span", { class: "lnb-ev-score-name", text: String(s.name) }),
      conversation ? scopeTag(s) : null,
      h("span", { class: `lnb-ev-chip lnb-ev-${chip.cls}`, text: chip.text }),
      s.model ? h("span", { class: "lnb-ev-dim", text: String(s.model) }) : null,
      h("span", { class: "lnb-grow" }),
      spanButton("in the trace ↓", s.span_id, "candidate", onShowSpan),
    ]),
    s.rationale ? h("div", { class: "lnb-ev-rationale", text: String(s.rationale) }) : null,
    s.error ? pre(String(s.error), "lnb-ev-error") : null,
  ]);
}

function compareBlock(s, onShowSpan, conversation = false) {
  const chip = compareChip(
    { bv: s.base_value, v: s.value, be: s.base_error, e: s.error, d: s.delta, o: s.outcome },
    s.name,
  );
  const side = (label, value, pass, rationale, error, spanId, which) => {
    const c = scoreChip({ v: value, p: pass, e: error }, s.name);
    return h("div", { class: "lnb-ev-side" }, [
      h("div", { class: "lnb-ev-score-head" }, [
        h("span", { class: "lnb-ev-dim", text: label }),
        h("span", { class: `lnb-ev-chip lnb-ev-${c.cls}`, text: c.text }),
        h("span", { class: "lnb-grow" }),
        spanButton("in its trace ↓", spanId, which, onShowSpan),
      ]),
      rationale ? h("div", { class: "lnb-ev-rationale", text: String(rationale) }) : null,
      error ? pre(String(error), "lnb-ev-error") : null,
    ]);
  };
  const delta = typeof s.delta === "number" && s.delta !== 0 ? `${s.delta > 0 ? "+" : ""}${shortNumber(s.delta)}` : "";
  return h("div", { class: "lnb-ev-score", attrs: { "data-scorer": String(s.name) } }, [
    h("div", { class: "lnb-ev-score-head" }, [
      h("span", { class: "lnb-ev-score-name", text: String(s.name) }),
      conversation ? scopeTag(s) : null,
      h("span", {
        class: `lnb-ev-chip lnb-ev-${chip.cls}`,
        text: `${s.outcome ?? "not comparable"}${delta ? ` ${delta}` : ""}`,
        title: chip.title,
      }),
    ]),
    h("div", { class: "lnb-ev-sides" }, [
      side("baseline", s.base_value, s.base_pass, s.base_rationale, s.base_error, s.base_span_id, "baseline"),
      side("candidate", s.value, s.pass, s.rationale, s.error, s.span_id, "candidate"),
    ]),
  ]);
}

/**
 * The card for a `row` answer. `onShowSpan(spanId, side)` selects a scorer's span in the trace
 * ("baseline" switches the explorer to the baseline's trace); `feedback` is a FeedbackForm;
 * `conversation`: the row is a conversation (its session's transcript is shown below the card).
 * @param {any} d
 * @param {{ compare?: boolean, onShowSpan?: (spanId: string, side: string) => void, feedback?: any,
 *           conversation?: boolean }} [options]
 */
export function renderRowDetail(d, { compare = false, onShowSpan, feedback, conversation = false } = {}) {
  const parts = [facts(d)];
  if (conversation) parts.push(conversationFacts(d));
  if (compare) {
    const stats = diffStats(d.diff);
    const baseErr = d.base?.error ? pre(`error: ${d.base.error}`, "lnb-ev-error") : null;
    const candErr = d.error ? pre(`error: ${d.error}`, "lnb-ev-error") : null;
    parts.push(
      section(
        `Outputs · ${stats.added} word${stats.added === 1 ? "" : "s"} added, ${stats.removed} removed`,
        [
          h("div", { class: "lnb-ev-sides" }, [
            h("div", { class: "lnb-ev-side" }, [
              h("div", { class: "lnb-ev-dim", text: "baseline" }),
              baseErr ?? h("pre", { class: "lnb-ev-pre lnb-ev-diff" }, diffNodes(d.diff, "a")),
            ]),
            h("div", { class: "lnb-ev-side" }, [
              h("div", { class: "lnb-ev-dim", text: "candidate" }),
              candErr ?? h("pre", { class: "lnb-ev-pre lnb-ev-diff" }, diffNodes(d.diff, "b")),
            ]),
          ]),
        ],
        { open: !conversation },
      ),
    );
  } else {
    // a conversation's messages read better in its transcript below: its outputs stay here, folded
    const outputs = d.error ? pre(`error: ${d.error}`, "lnb-ev-error") : pre(payloadText(d.outputs));
    parts.push(section("Outputs", [outputs], { open: !conversation || Boolean(d.error) }));
  }
  const scores = (d.scores ?? []).map((s) =>
    compare ? compareBlock(s, onShowSpan, conversation) : scoreBlock(s, onShowSpan, conversation),
  );
  if (scores.length) parts.push(section("Scores", scores, { cls: "lnb-ev-scores" }));
  if (feedback) parts.push(section("Your feedback", [feedback.el], { cls: "lnb-ev-fb-section" }));
  parts.push(section("Inputs", [pre(payloadText(d.inputs))]));
  if (d.expectations?.value != null) parts.push(section("Expectations", [pre(payloadText(d.expectations))]));
  return h("div", { class: "lnb-ev-row-detail", attrs: { "data-row": String(d.row) } }, parts);
}
