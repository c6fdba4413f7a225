// The version history of a prompt, newest first, with its aliases: each row has an "A" (old side)
// and a "B" (new side) toggle, so any two versions can be picked.

import { h } from "../lib/dom.js";

/** "2026-11-20T12:34:56+00:00" → "2026-11-20 12:34" (UTC, as stored). */
export function shortTime(iso) {
  return typeof iso === "string" ? iso.slice(0, 16).replace("T", " ") : "";
}

export class HistoryList {
  /** @param {{onPick: (side: "a"|"b", version: number) => void}} opts */
  constructor({ onPick }) {
    this.onPick = onPick;
    this.buttons = [];
    this.body = h("div", { class: "lnb-pd-hbody", attrs: { role: "list" } });
    this.count = h("span", { class: "lnb-pd-dim" });
    this.el = h("div", { class: "lnb-pd-history", attrs: { "aria-label": "versions" } }, [
      h("div", { class: "lnb-pd-hhead" }, [
        h("span", { text: "versions" }),
        this.count,
        h("span", { class: "lnb-pd-dim lnb-pd-hhint", text: "pick A (old) and B (new)" }),
      ]),
      this.body,
    ]);
  }

  /** Draw `history` ([{version, aliases, commit_message, author, created_at}]) with `a` and `b` picked. */
  update(history, a, b) {
    const items = Array.isArray(history) ? history : [];
    this.count.textContent = `${items.length}`;
    this.buttons = [];
    this.body.replaceChildren(...items.map((item) => this.row(item)));
    this.select(a, b);
  }

  row(item) {
    const version = Number(item.version);
    const pick = (side) => {
      const button = h("button", {
        class: `lnb-pd-pick lnb-pd-pick-${side}`,
        text: side.toUpperCase(),
        title: side === "a" ? `compare from v${version} (old side)` : `compare to v${version} (new side)`,
        attrs: { "aria-pressed": "false", "aria-label": `${side.toUpperCase()}: version ${version}` },
      });
      button.addEventListener("click", () => this.onPick(side, version));
      this.buttons.push({ side, version, button });
      return button;
    };
    const aliases = (item.aliases ?? []).map((alias) => h("span", { class: "lnb-pd-alias", text: `@${alias}` }));
    const row = h("div", { class: "lnb-pd-hrow", attrs: { role: "listitem", "data-version": String(version) } }, [
      pick("a"),
      pick("b"),
      h("span", { class: "lnb-pd-version", text: `v${version}` }),
      ...aliases,
      h("span", { class: "lnb-pd-message", text: item.commit_message ?? "", title: item.commit_message ?? "" }),
      h("span", { class: "lnb-pd-dim lnb-pd-author", text: item.author ?? "" }),
      h("span", { class: "lnb-pd-dim lnb-pd-time", text: shortTime(item.created_at), title: item.created_at ?? "" }),
    ]);
    return row;
  }

  /** Mark the picked versions without redrawing. */
  select(a, b) {
    for (const { side, version, button } of this.buttons) {
      const on = version === (side === "a" ? a : b);
      button.setAttribute("aria-pressed", String(on));
      button.closest(".lnb-pd-hrow")?.classList.toggle(`lnb-pd-is-${side}`, on);
    }
  }
}
