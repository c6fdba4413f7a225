import { describe, expect, it } from "vitest";
import { callOf, markerTitle, offsetText, rowName, ttftPercent, ttftText } from "../explorer/calls.js";
import { decodeSkeleton } from "../explorer/skeleton.js";
import { skeletonOf } from "./helpers.js";

const skel = decodeSkeleton(
  skeletonOf([
    { id: "r", name: "agent", kind: "AGENT" },
    { id: "a", parent: "r", name: "openai.chat.completions.create", kind: "CHAT_MODEL", label: "gpt-4o · chat" },
    {
      id: "b",
      parent: "r",
      name: "openai.chat.completions.create",
      kind: "CHAT_MODEL",
      label: "gpt-4o · chat",
      stream: true,
      ttft: 182.4,
    },
    {
      id: "c",
      parent: "r",
      name: "anthropic.messages.create",
      kind: "CHAT_MODEL",
      label: "claude-sonnet-4-5 · messages",
      isAsync: true,
    },
    { id: "d", parent: "r", name: "answer", kind: "LLM" },
  ]),
);

describe("an LLM span's row", () => {
  it("is named `model · operation` when the kernel labelled it, else by the span's name", () => {
    expect([0, 1, 2, 3, 4].map((i) => rowName(skel, i))).toEqual([
      "agent",
      "gpt-4o · chat",
      "gpt-4o · chat",
      "claude-sonnet-4-5 · messages",
      "answer",
    ]);
  });

  it("carries its markers and time to first token", () => {
    expect(callOf(skel, 0)).toEqual({ label: null, markers: [], ttft: null });
    expect(callOf(skel, 1)).toEqual({ label: "gpt-4o · chat", markers: [], ttft: null });
    expect(callOf(skel, 2)).toEqual({ label: "gpt-4o · chat", markers: ["stream"], ttft: 182.4 });
    expect(callOf(skel, 3).markers).toEqual(["async"]);
  });

  it("decodes a skeleton from an older kernel (no call columns) as plain names", () => {
    const data = skeletonOf([{ id: "r", name: "openai.chat.completions.create", kind: "CHAT_MODEL" }]);
    for (const key of ["label", "stream", "is_async", "ttft_ms"]) delete data.spans[key];
    const old = decodeSkeleton(data);
    expect(rowName(old, 0)).toBe("openai.chat.completions.create");
    expect(callOf(old, 0)).toEqual({ label: null, markers: [], ttft: null });
  });
});

describe("times", () => {
  it("reads the time to first token and event times after the span's start", () => {
    expect(ttftText(182.4)).toBe("TTFT 182 ms");
    expect(ttftText(null)).toBe("");
    expect(offsetText(182.4)).toBe("+182 ms");
    expect(offsetText(0)).toBe("+0 µs");
    expect(offsetText(2500)).toBe("+2.50 s");
    expect(offsetText(undefined)).toBe("");
    expect(markerTitle("stream", 182.4)).toBe("streamed: first token after 182 ms");
    expect(markerTitle("stream", null)).toBe("streamed");
  });

  it("puts the first token on the span's bar", () => {
    expect(ttftPercent(100, 400, 100, 1000)).toBe(20); // starts at 10%, first token 100 ms later
    expect(ttftPercent(100, 50, 100, 1000)).toBe(15); // never past the bar's end
    expect(ttftPercent(100, 400, null, 1000)).toBeNull();
    expect(ttftPercent(100, 400, Number.NaN, 1000)).toBeNull();
  });
});
