import { afterEach, describe, expect, it } from "vitest";
import { HistoryList, shortTime } from "../prompt_diff/history.js";
import { metadataTable, summaryLine, variableChips } from "../prompt_diff/meta.js";
import { foldRows, renderRows } from "../prompt_diff/rows.js";
import { sharesWords, showValue, textNodes, wordNodes } from "../prompt_diff/text.js";
import widget, { PromptDiffView } from "../prompt_diff/widget.js";
import { FakeModel, flush } from "./helpers.js";

const IMG = '<img src=x onerror="window.__xss=1">';
const SCRIPT = "<script>window.__xss=2</script>";

afterEach(() => {
  document.body.replaceChildren();
  delete window.__xss;
});

function assertInert(root) {
  const bad = root.querySelectorAll("img, script, iframe, a, svg, object, embed, link, style, form");
  expect([...bad].map((e) => e.outerHTML)).toEqual([]);
  for (const node of root.querySelectorAll("*")) {
    for (const attr of node.getAttributeNames()) expect(attr.startsWith("on"), `${node.tagName} ${attr}`).toBe(false);
  }
  expect(window.__xss).toBeUndefined();
}

const render = (nodes) => {
  const div = document.createElement("div");
  div.append(...nodes);
  return div;
};

// What the kernel answers (llmops_nb.widgets._prompt_diff): v1 → v3 of a text template.
const HISTORY = [
  {
    version: 3,
    aliases: ["production"],
    commit_message: `formal ${IMG}`,
    author: "ana",
    created_at: "2026-11-20T12:34:56+00:00",
  },
  { version: 2, aliases: [], commit_message: "warmer", author: "bo", created_at: "2026-11-19T08:00:00+00:00" },
  { version: 1, aliases: [SCRIPT], commit_message: "first", author: "ana", created_at: "2026-11-18T08:00:00+00:00" },
];

function textDiff(a, b) {
  return {
    name: "greet",
    a,
    b,
    unified: `--- greet v${a}\n+++ greet v${b}`,
    diff: {
      a_label: `greet v${a}`,
      b_label: `greet v${b}`,
      kind: "text",
      sections: [
        {
          title: "",
          status: "change",
          index_a: null,
          index_b: null,
          role_a: null,
          role_b: null,
          rows: [
            {
              op: "replace",
              a_line: 1,
              b_line: 1,
              a: "Hello {{name}}, welcome aboard.",
              b: `Good morning {{name}}, welcome to {{team}}. ${IMG}`,
              words: [
                ["replace", "Hello", "Good morning"],
                ["equal", " {{name}}, welcome ", " {{name}}, welcome "],
                ["replace", "aboard.", `to {{team}}. ${IMG}`],
              ],
            },
            { op: "equal", a_line: 2, b_line: 2, a: SCRIPT, b: SCRIPT },
            { op: "delete", a_line: 3, b_line: null, a: "Bye {{topic}}", b: null },
          ],
        },
      ],
      variables: { added: ["team"], removed: ["topic"], kept: ["name"] },
      metadata: [
        { field: "model_config", key: "temperature", op: "changed", a: 0.2, b: 0 },
        { field: "tags", key: IMG, op: "added", a: null, b: SCRIPT },
      ],
      stats: { lines_added: 1, lines_removed: 2, messages_changed: 0 },
    },
  };
}

function fakeKernel({ fail = null } = {}) {
  const calls = [];
  const kernel = async (method, params) => {
    calls.push([method, params]);
    if (fail === method) throw new Error(`no prompt named ${IMG}`);
    if (method === "history") return { name: params.name, history: HISTORY };
    if (method === "diff") return textDiff(params.a, params.b);
    throw new Error(`unknown ${method}`);
  };
  return { kernel, calls };
}

async function mount(state = {}, opts = {}) {
  const { kernel, calls } = fakeKernel(opts);
  const model = new FakeModel({ name: "greet", a: 2, b: 3, mode: "side", ...state }, kernel);
  const el = document.createElement("div");
  document.body.append(el);
  const view = new PromptDiffView(model, el);
  await flush();
  await flush();
  return { model, el, view, calls };
}

describe("diff text", () => {
  it("marks variables, added and removed ones apart, and keeps hostile text as text", () => {
    const div = render(textNodes(`Hi {{ name }} {{team}} {{topic}} ${IMG}`, { added: ["team"], removed: ["topic"] }));
    expect(div.textContent).toBe(`Hi {{ name }} {{team}} {{topic}} ${IMG}`);
    expect([...div.querySelectorAll(".lnb-pd-var")].map((e) => e.textContent)).toEqual([
      "{{ name }}",
      "{{team}}",
      "{{topic}}",
    ]);
    expect(div.querySelector(".lnb-pd-var-added").textContent).toBe("{{team}}");
    expect(div.querySelector(".lnb-pd-var-removed").textContent).toBe("{{topic}}");
    assertInert(div);
  });

  it("draws word runs per side and inline", () => {
    const words = [
      ["equal", "say ", "say "],
      ["replace", "hi", "hello"],
      ["insert", "", " there"],
      ["delete", " now", ""],
    ];
    const a = render(wordNodes(words, "a"));
    const b = render(wordNodes(words, "b"));
    const both = render(wordNodes(words, "both"));
    expect(a.textContent).toBe("say hi now");
    expect([...a.querySelectorAll("del")].map((e) => e.textContent)).toEqual(["hi", " now"]);
    expect(a.querySelector("ins")).toBeNull();
    expect(b.textContent).toBe("say hello there");
    expect([...b.querySelectorAll("ins.lnb-pd-wins")].map((e) => e.textContent)).toEqual(["hello", " there"]);
    expect(both.textContent).toBe("say hihello there now");
    expect(sharesWords(words)).toBe(true);
    expect(
      sharesWords([
        ["equal", " ", " "],
        ["replace", "a", "b"],
      ]),
    ).toBe(false);
    expect(wordNodes("not a list", "a")).toEqual([]);
  });

  it("shows metadata values as people read them", () => {
    expect(showValue("x")).toBe("x");
    expect(showValue({ t: 0.2 })).toBe('{"t":0.2}');
    expect(showValue(null)).toBe("");
  });
});

describe("diff rows", () => {
  const rows = (n, changedAt) =>
    Array.from({ length: n }, (_, i) =>
      i === changedAt
        ? { op: "insert", a_line: null, b_line: i + 1, a: null, b: `new ${i}` }
        : { op: "equal", a_line: i + 1, b_line: i + 1, a: `line ${i}`, b: `line ${i}` },
    );

  it("folds long unchanged runs around changes", () => {
    const folded = foldRows(rows(20, 10));
    expect(folded.map((x) => (x.skip ? `skip${x.skip.length}` : x.row.b_line))).toEqual([
      "skip7",
      8,
      9,
      10,
      11,
      12,
      13,
      14,
      "skip6",
    ]);
    expect(foldRows(rows(5, 2)).every((x) => x.row)).toBe(true);
  });

  it("renders ops as text side by side, with old and new cells and word highlights", () => {
    const root = renderRows(textDiff(1, 3).diff, "side");
    document.body.append(root);
    expect(root.classList.contains("lnb-pd-side")).toBe(true);
    expect(root.querySelector(".lnb-pd-del del.lnb-pd-wdel").textContent).toBe("Hello");
    expect([...root.querySelectorAll(".lnb-pd-ins ins.lnb-pd-wins")].map((e) => e.textContent)).toEqual([
      "Good morning",
      `to {{team}}. ${IMG}`,
    ]);
    expect(root.querySelector("ins .lnb-pd-var-added").textContent).toBe("{{team}}");
    expect(root.querySelector(".lnb-pd-del .lnb-pd-var-removed").textContent).toBe("{{topic}}");
    expect(root.textContent).toContain(SCRIPT);
    assertInert(root);
  });

  it("renders inline: a changed line with shared words as one ~ row, others as − and +", () => {
    const root = renderRows(textDiff(1, 3).diff, "inline");
    const signs = [...root.querySelectorAll(".lnb-pd-sign")].map((e) => e.textContent);
    expect(signs).toEqual(["~", " ", "−"]);
    const changed = root.querySelector(".lnb-pd-cell.lnb-pd-chg");
    expect(changed.querySelector("del").textContent).toBe("Hello");
    expect(changed.querySelector("ins").textContent).toBe("Good morning");
    const apart = renderRows(
      {
        kind: "text",
        sections: [
          {
            status: "change",
            rows: [{ op: "replace", a_line: 1, b_line: 1, a: "x", b: "y", words: [["replace", "x", "y"]] }],
          },
        ],
      },
      "inline",
    );
    expect([...apart.querySelectorAll(".lnb-pd-sign")].map((e) => e.textContent)).toEqual(["−", "+"]);
    assertInert(root);
  });

  it("unfolds a skipped run in place and caps huge diffs behind a button", () => {
    const diff = { kind: "text", sections: [{ status: "change", rows: rows(20, 10) }] };
    const root = renderRows(diff, "side");
    const skip = root.querySelector(".lnb-pd-skip");
    expect(skip.textContent).toContain("7 unchanged lines");
    skip.click();
    expect(root.textContent).toContain("line 0");
    const capped = renderRows({ kind: "text", sections: [{ status: "change", rows: rows(50, 0) }] }, "side", {
      maxRows: 4,
    });
    const more = capped.querySelector(".lnb-pd-more");
    expect(more).not.toBeNull();
    more.click();
    expect(capped.querySelector(".lnb-pd-more")).toBeNull();
  });

  it("heads each chat message pair with its role, role changes shown as such", () => {
    const chat = {
      kind: "chat",
      variables: {},
      sections: [
        {
          status: "equal",
          index_a: 0,
          index_b: 0,
          role_a: "system",
          role_b: "system",
          rows: [{ op: "equal", a_line: 1, b_line: 1, a: "Be brief.", b: "Be brief." }],
        },
        {
          status: "replace",
          index_a: 1,
          index_b: 1,
          role_a: "user",
          role_b: IMG,
          rows: [{ op: "replace", a_line: 1, b_line: 1, a: "q", b: "r", words: [["replace", "q", "r"]] }],
        },
        {
          status: "insert",
          index_a: null,
          index_b: 2,
          role_a: null,
          role_b: "assistant",
          rows: [{ op: "insert", a_line: null, b_line: 1, a: null, b: "ok" }],
        },
      ],
    };
    const root = renderRows(chat, "side");
    const heads = [...root.querySelectorAll(".lnb-pd-section")].map((e) => e.textContent);
    expect(heads).toEqual([
      "message 1 · systemunchanged",
      `message 2 · user → ${IMG}role changed`,
      "message 3 · none → assistantadded",
    ]);
    assertInert(root);
  });
});

describe("summary, variables, metadata", () => {
  it("summarizes and lists variables and metadata as text", () => {
    const { diff } = textDiff(1, 3);
    const line = summaryLine(diff);
    expect(line.textContent).toBe("greet v1→greet v3+1−2");
    expect(summaryLine({ a_label: "x", b_label: "y", stats: {}, variables: {}, metadata: [] }).textContent).toContain(
      "no differences",
    );
    const chips = variableChips(diff.variables);
    expect([...chips.querySelectorAll(".lnb-pd-chip")].map((e) => e.textContent)).toEqual([
      "+{{team}}",
      "−{{topic}}",
      "{{name}}",
    ]);
    expect(variableChips({ added: [], removed: [], kept: [] })).toBeNull();
    const table = metadataTable(diff.metadata);
    document.body.append(table);
    const cells = [...table.querySelectorAll("tbody tr")].map((tr) => [...tr.children].map((c) => c.textContent));
    expect(cells).toEqual([
      ["model_config.temperature", "0.2", "0", "changed"],
      [`tags.${IMG}`, "", SCRIPT, "added"],
    ]);
    expect(metadataTable([])).toBeNull();
    assertInert(table);
  });

  it("lists versions with aliases and marks the picked pair", () => {
    const picks = [];
    const list = new HistoryList({ onPick: (side, v) => picks.push([side, v]) });
    list.update(HISTORY, 1, 3);
    document.body.append(list.el);
    const rows = [...list.el.querySelectorAll(".lnb-pd-hrow")];
    expect(rows.map((r) => r.querySelector(".lnb-pd-version").textContent)).toEqual(["v3", "v2", "v1"]);
    expect(rows[0].querySelector(".lnb-pd-alias").textContent).toBe("@production");
    expect(rows[2].querySelector(".lnb-pd-alias").textContent).toBe(`@${SCRIPT}`);
    expect(rows[0].querySelector(".lnb-pd-time").textContent).toBe("2026-11-20 12:34");
    expect(rows[2].querySelector(".lnb-pd-pick-a").getAttribute("aria-pressed")).toBe("true");
    expect(rows[0].querySelector(".lnb-pd-pick-b").getAttribute("aria-pressed")).toBe("true");
    rows[1].querySelector(".lnb-pd-pick-a").click();
    expect(picks).toEqual([["a", 2]]);
    expect(shortTime(null)).toBe("");
    assertInert(list.el);
  });
});

describe("PromptDiffView", () => {
  it("asks the kernel for the history and the diff, and draws both as text", async () => {
    const { el, calls } = await mount();
    expect(calls).toEqual([
      ["history", { name: "greet" }],
      ["diff", { name: "greet", a: 2, b: 3 }],
    ]);
    expect(el.querySelector(".lnb-pd-title").textContent).toBe("greet");
    expect(el.querySelectorAll(".lnb-pd-hrow")).toHaveLength(3);
    expect(el.querySelector(".lnb-pd-rows.lnb-pd-side")).not.toBeNull();
    expect(el.querySelector(".lnb-pd-hrow.lnb-pd-is-a .lnb-pd-version").textContent).toBe("v2");
    expect(el.textContent).toContain(IMG);
    assertInert(el);
  });

  it("picking a version sets the traitlet and requests that diff", async () => {
    const { el, model, calls } = await mount();
    const v1 = el.querySelector('.lnb-pd-hrow[data-version="1"]');
    v1.querySelector(".lnb-pd-pick-a").click();
    expect(model.get("a")).toBe(1);
    expect(model.saves).toBe(1);
    await flush();
    await flush();
    expect(calls.at(-1)).toEqual(["diff", { name: "greet", a: 1, b: 3 }]);
    expect(el.querySelector(".lnb-pd-label-a").textContent).toBe("greet v1");
    expect(v1.classList.contains("lnb-pd-is-a")).toBe(true);
    // picking what is already picked asks nothing
    v1.querySelector(".lnb-pd-pick-a").click();
    await flush();
    expect(calls.filter(([m]) => m === "diff")).toHaveLength(2);
  });

  it("a swap is one request, and a change made in Python is followed too", async () => {
    const { model, calls } = await mount();
    [...document.querySelectorAll(".lnb-pd-btn")].find((b) => b.textContent.includes("swap")).click();
    await flush();
    await flush();
    expect(calls.filter(([m]) => m === "diff").map(([, p]) => [p.a, p.b])).toEqual([
      [2, 3],
      [3, 2],
    ]);
    model.set("b", 1); // as the kernel would after w.select(...)
    await flush();
    expect(calls.at(-1)).toEqual(["diff", { name: "greet", a: 3, b: 1 }]);
  });

  it("toggles side by side and inline without asking the kernel again", async () => {
    const { el, model, calls } = await mount();
    const inline = el.querySelector('.lnb-pd-mode[data-mode="inline"]');
    expect(inline.getAttribute("aria-pressed")).toBe("false");
    inline.click();
    expect(model.get("mode")).toBe("inline");
    expect(el.querySelector(".lnb-pd-rows.lnb-pd-inline")).not.toBeNull();
    expect(el.querySelector(".lnb-pd-rows.lnb-pd-side")).toBeNull();
    expect(inline.getAttribute("aria-pressed")).toBe("true");
    el.querySelector('.lnb-pd-mode[data-mode="side"]').click();
    expect(el.querySelector(".lnb-pd-rows.lnb-pd-side")).not.toBeNull();
    expect(calls).toHaveLength(2);
  });

  it("starts in the mode the traitlet holds", async () => {
    const { el } = await mount({ mode: "inline" });
    expect(el.querySelector(".lnb-pd-inline")).not.toBeNull();
  });

  it("shows the kernel's error as text", async () => {
    const { el } = await mount({}, { fail: "diff" });
    const status = el.querySelector(".lnb-pd-status");
    expect(status.textContent).toBe(`no prompt named ${IMG}`);
    expect(status.getAttribute("role")).toBe("alert");
    expect(el.querySelector(".lnb-prompt-diff").getAttribute("aria-busy")).toBeNull();
    assertInert(el);
  });

  it("drops an answer that a newer pick overtook", async () => {
    let release;
    const gate = new Promise((r) => {
      release = r;
    });
    const model = new FakeModel({ name: "greet", a: 2, b: 3, mode: "side" }, async (method, params) => {
      if (method === "history") return { name: "greet", history: HISTORY };
      if (params.a === 2) await gate; // the first diff answers last
      return textDiff(params.a, params.b);
    });
    const el = document.createElement("div");
    document.body.append(el);
    new PromptDiffView(model, el);
    model.set("a", 1);
    await flush();
    await flush();
    release();
    await flush();
    await flush();
    expect(el.querySelector(".lnb-pd-label-a").textContent).toBe("greet v1");
  });

  it("render() returns a cleanup that closes the view", async () => {
    const { kernel } = fakeKernel();
    const model = new FakeModel({ name: "greet", a: 2, b: 3, mode: "side" }, kernel);
    const el = document.createElement("div");
    const cleanup = widget.render({ model, el });
    await flush();
    expect(el.querySelector(".lnb-prompt-diff")).not.toBeNull();
    cleanup();
    expect(el.querySelector(".lnb-prompt-diff")).toBeNull();
    expect(model.listeners.get("change:a").size).toBe(0);
  });
});
