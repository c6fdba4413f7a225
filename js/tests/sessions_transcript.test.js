import { afterEach, describe, expect, it } from "vitest";
import { bubble, clipText, mountTranscript, renderTurn, statusClass, turnFacts } from "../sessions/transcript.js";
import { flush } from "./helpers.js";

const IMG = '<img src=x onerror="window.__xss=1">';
const SCRIPT = "<script>window.__xss=2</script>";
const tid = (i) => i.toString(16).padStart(32, "0");

function turnRow(i, extra = {}) {
  return {
    turn: i + 1,
    trace_id: tid(i),
    start_time: "2026-12-01T12:00:00.000000+00:00",
    user: `question ${i}`,
    user_chars: `question ${i}`.length,
    assistant: `answer ${i}`,
    assistant_chars: `answer ${i}`.length,
    input_tokens: 100,
    output_tokens: 20,
    tokens: 120,
    cost_usd: 0.0012,
    llm_calls: 1,
    status: "OK",
    error: null,
    duration_ms: 1250,
    ...extra,
  };
}

/** A fake kernel answering `turns` for one session of `n` turns (or `rows`), recording each call. */
function turnsKernel(n, { rows = null, fail = null } = {}) {
  const all = rows ?? Array.from({ length: n }, (_, i) => turnRow(i));
  const calls = [];
  const request = (method, params) => {
    calls.push([method, params]);
    if (method !== "turns") return Promise.reject(new Error(`unknown method ${method}`));
    const message = fail?.(params);
    if (message) return Promise.reject(new Error(message));
    return Promise.resolve({
      session: params.session,
      rows: all.slice(params.offset, params.offset + params.limit),
      total: all.length,
      offset: params.offset,
      limit: params.limit,
      as_of: "token-1",
    });
  };
  return { request, calls, turns: () => calls.filter(([m]) => m === "turns").map(([, p]) => p) };
}

async function settle(rounds = 6) {
  for (let i = 0; i < rounds; i++) await flush();
}

const mounted = [];
afterEach(() => {
  for (const t of mounted.splice(0)) t.destroy();
  document.body.replaceChildren();
  delete window.__xss;
});

async function mount(rpc, sessionId = "conv-1", options = {}) {
  const container = document.createElement("div");
  document.body.append(container);
  const transcript = mountTranscript(container, rpc, sessionId, options);
  mounted.push(transcript);
  await settle();
  return { transcript, container };
}

describe("transcript pieces", () => {
  it("cuts long text by characters or lines, and leaves short text whole", () => {
    expect(clipText("short")).toEqual({ shown: "short", cut: false });
    expect(clipText("x".repeat(20), 10)).toEqual({ shown: `${"x".repeat(10)}…`, cut: true });
    const lines = Array.from({ length: 15 }, (_, i) => `line ${i}`).join("\n");
    const cut = clipText(lines, 10_000, 3);
    expect(cut).toEqual({ shown: "line 0\nline 1\nline 2…", cut: true });
    expect(clipText("a\nb\nc", 100, 3)).toEqual({ shown: "a\nb\nc", cut: false });
  });

  it("says a turn's facts and maps its status to a fixed class", () => {
    const facts = turnFacts(turnRow(0));
    expect(facts.slice(1)).toEqual(["1.25 s", "120 tokens", "$0.0012"]);
    expect(facts[0]).toMatch(/^2026-12-0[12] \d\d:00:00$/); // local time
    expect(
      turnFacts(turnRow(0, { duration_ms: null, status: "IN_PROGRESS", tokens: 0, cost_usd: null })).slice(1),
    ).toEqual(["running"]);
    expect(statusClass("ERROR")).toBe("error");
    expect(statusClass('x" onclick="y')).toBe("unknown");
  });

  it("renders words as text, white space kept, with show more / show less on a long one", () => {
    const long = `${"word ".repeat(200)}\n  indented ${IMG}`;
    const el = bubble("user", long, long.length, "(none)");
    document.body.append(el);
    const text = el.querySelector(".lnb-ss-text");
    expect(text.textContent.endsWith("…")).toBe(true);
    expect(text.textContent.length).toBeLessThan(long.length);
    const more = el.querySelector(".lnb-ss-more");
    more.click();
    expect(text.textContent).toBe(long);
    expect(more.textContent).toBe("show less");
    expect(more.getAttribute("aria-expanded")).toBe("true");
    more.click();
    expect(more.textContent).toBe("show more");
    expect(el.querySelectorAll("img").length).toBe(0);
    expect(text.children.length).toBe(0); // one text node: nothing parsed
  });

  it("notes the characters the kernel did not send, and says when there are no words", () => {
    const el = bubble("assistant", "cut here", 20_008, "(none)");
    expect(el.querySelector(".lnb-ss-rest").textContent).toBe(
      "… 20,000 more characters: open the trace to read them all",
    );
    expect(el.querySelector(".lnb-ss-more")).toBeNull();
    const empty = bubble("user", "", 0, "(no user message recorded)");
    expect(empty.classList.contains("lnb-ss-empty-text")).toBe(true);
    expect(empty.querySelector(".lnb-ss-text").textContent).toBe("(no user message recorded)");
  });

  it("renders a failed turn with its error in place of an answer", () => {
    const el = renderTurn(turnRow(2, { status: "ERROR", assistant: "", assistant_chars: 0, error: `boom ${SCRIPT}` }));
    expect(el.classList.contains("lnb-ss-s-error")).toBe(true);
    expect(el.querySelector(".lnb-ss-assistant")).toBeNull();
    expect(el.querySelector(".lnb-ss-turn-error").textContent).toBe(`error: boom ${SCRIPT}`);
    expect(el.querySelector(".lnb-ss-turn-status").textContent).toBe("ERROR");
    expect(el.querySelector(".lnb-ss-open-trace").hidden).toBe(true); // no callback: no button
    expect(el.querySelectorAll("script").length).toBe(0);
  });
});

describe("mountTranscript", () => {
  it("renders user and assistant turns as text only, in order", async () => {
    const rows = [turnRow(0, { user: IMG, user_chars: IMG.length, assistant: `${SCRIPT}\n  second line` }), turnRow(1)];
    const { container } = await mount(turnsKernel(0, { rows }), `session ${IMG}`);
    const turns = container.querySelectorAll(".lnb-ss-turn");
    expect(turns.length).toBe(2);
    expect(turns[0].querySelector(".lnb-ss-user .lnb-ss-text").textContent).toBe(IMG);
    expect(turns[0].querySelector(".lnb-ss-assistant .lnb-ss-text").textContent).toBe(`${SCRIPT}\n  second line`);
    expect(turns[0].querySelector(".lnb-ss-turn-no").textContent).toBe("Turn 1");
    expect(turns[1].querySelector(".lnb-ss-user .lnb-ss-text").textContent).toBe("question 1");
    expect(container.querySelector(".lnb-ss-t-session").textContent).toBe(`session ${IMG}`);
    expect(container.querySelector(".lnb-ss-t-count").textContent).toBe("2 turns");
    expect(container.querySelector(".lnb-ss-t-footer").textContent).toBe("end of the conversation");
    expect(container.querySelectorAll("img, script, a").length).toBe(0);
    expect(window.__xss).toBeUndefined();
  });

  it("calls onOpenTrace with the turn's trace id", async () => {
    const opened = [];
    const { container } = await mount(turnsKernel(3), "conv-1", {
      onOpenTrace: (traceId, turn) => opened.push([traceId, turn.turn]),
    });
    const buttons = container.querySelectorAll(".lnb-ss-open-trace");
    expect(buttons.length).toBe(3);
    expect(buttons[1].hidden).toBe(false);
    buttons[1].click();
    expect(opened).toEqual([[tid(1), 2]]);
  });

  it("pages the turns: the first page, then the next ones with the first page's token", async () => {
    const kernel = turnsKernel(120);
    const { container, transcript } = await mount(kernel, "long", { pageSize: 50 });
    expect(kernel.turns()).toEqual([{ session: "long", offset: 0, limit: 50 }]);
    expect(container.querySelectorAll(".lnb-ss-turn").length).toBe(50);
    expect(container.querySelector(".lnb-ss-t-count").textContent).toBe("120 turns");
    expect(container.querySelector(".lnb-ss-t-footer").textContent).toBe("70 more turns load more");
    container.querySelector(".lnb-ss-t-more").click();
    await settle();
    container.querySelector(".lnb-ss-t-more").click();
    await settle();
    expect(kernel.turns().slice(1)).toEqual([
      { session: "long", offset: 50, limit: 50, as_of: "token-1" },
      { session: "long", offset: 100, limit: 50, as_of: "token-1" },
    ]);
    const numbers = [...container.querySelectorAll(".lnb-ss-turn-no")].map((n) => n.textContent);
    expect(numbers.length).toBe(120);
    expect(numbers.at(-1)).toBe("Turn 120");
    expect(transcript.done).toBe(true);
    transcript.more(); // nothing more to ask for
    await settle();
    expect(kernel.turns().length).toBe(3);
  });

  it("asks for the next page when the reader nears the end", async () => {
    const kernel = turnsKernel(120);
    const { transcript } = await mount(kernel, "long", { pageSize: 50 });
    const s = transcript.scroller;
    Object.defineProperty(s, "clientHeight", { value: 300, configurable: true });
    // 100 px a turn: the scroll area grows with the turns loaded
    Object.defineProperty(s, "scrollHeight", { get: () => s.querySelectorAll(".lnb-ss-turn").length * 100 });
    s.scrollTop = 1000;
    s.dispatchEvent(new Event("scroll"));
    await settle();
    expect(kernel.turns().length).toBe(1); // far from the end
    s.scrollTop = 4600;
    s.dispatchEvent(new Event("scroll"));
    await settle();
    expect(kernel.turns().map((p) => p.offset)).toEqual([0, 50]); // and no further: the end is far again
  });

  it("shows the kernel's error as text with a retry, and drops answers after destroy", async () => {
    let failing = true;
    const kernel = turnsKernel(3, { fail: () => (failing ? `No session ${IMG} in the store` : null) });
    const { container } = await mount(kernel);
    const footer = container.querySelector(".lnb-ss-t-footer");
    expect(footer.textContent).toBe(`No session ${IMG} in the store retry`);
    expect(footer.classList.contains("lnb-ss-error")).toBe(true);
    expect(container.querySelectorAll("img").length).toBe(0);
    failing = false;
    container.querySelector(".lnb-ss-t-more").click();
    await settle();
    expect(container.querySelectorAll(".lnb-ss-turn").length).toBe(3);

    const slow = {
      request: () => new Promise((resolve) => setTimeout(() => resolve({ rows: [turnRow(0)], total: 1 }), 5)),
    };
    const { transcript, container: other } = await mount(slow, "slow");
    transcript.destroy();
    await new Promise((r) => setTimeout(r, 20));
    expect(other.querySelector(".lnb-ss-transcript")).toBeNull();
  });

  it("adds a close button only when asked", async () => {
    let closed = 0;
    const { container } = await mount(turnsKernel(1), "c", { onClose: () => closed++ });
    container.querySelector(".lnb-ss-t-close").click();
    expect(closed).toBe(1);
    const { container: bare } = await mount(turnsKernel(1), "d");
    expect(bare.querySelector(".lnb-ss-t-close")).toBeNull();
  });
});
