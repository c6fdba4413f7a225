// An LLM span in a few words, as the kernel read it (llmops_nb/widgets/explorer/_calls.py): its label
// (`gpt-4o · chat`), its markers (streamed, async) and its time to first token, shown in its row, on
// its waterfall bar and in its detail. The span's own name stays in the row's tooltip and the detail.

import * as fmt from "../lib/format.js";

/**
 * @typedef {{label: string|null, markers: string[], ttft: number|null}} CallFacts
 */

/** What a row shows: an LLM span's label, else the span's name. */
export function rowName(skel, i) {
  return skel.label[i] ?? skel.name[i] ?? "(unnamed)";
}

/**
 * The label, markers and time to first token (ms, or null) of span `i`.
 * @returns {CallFacts}
 */
export function callOf(skel, i) {
  const markers = [];
  if (skel.stream[i]) markers.push("stream");
  if (skel.isAsync[i]) markers.push("async");
  const ttft = skel.ttft[i];
  return { label: skel.label[i] ?? null, markers, ttft: Number.isNaN(ttft) ? null : ttft };
}

/** "TTFT 182 ms", or "" without a first token. */
export function ttftText(ms) {
  return ms == null || Number.isNaN(ms) ? "" : `TTFT ${fmt.duration(ms)}`;
}

/** A time after the span's start: "+182 ms"; "" when unknown. */
export function offsetText(ms) {
  return typeof ms !== "number" || Number.isNaN(ms) ? "" : `+${fmt.duration(Math.max(0, ms))}`;
}

/** The tooltip of a marker. */
export function markerTitle(marker, ttft) {
  if (marker === "async") return "called from an async client";
  return ttft == null ? "streamed" : `streamed: first token after ${fmt.duration(ttft)}`;
}

/**
 * Where the first token sits on the waterfall track (% of the trace's duration), kept on the span's
 * bar; null without a first token.
 */
export function ttftPercent(start, duration, ttft, totalMs) {
  if (ttft == null || Number.isNaN(ttft) || !(totalMs > 0)) return null;
  const at = start + Math.min(ttft, Number.isNaN(duration) ? ttft : duration);
  return Math.max(0, Math.min(100, (at / totalMs) * 100));
}
