// The feedback form of an open row: thumbs up/down, a label (with the labels used before offered),
// a comment and who gives it; the row's earlier feedback under it. Saving is the caller's `onSave`,
// which returns a promise (the kernel's answer); the form says what happened either way.

import { h } from "../lib/dom.js";
import { fmtTime, valueText } from "./cells.js";
import { thumbIcon } from "./icons.js";

let lists = 0;

export class FeedbackForm {
  constructor({ labels = [], author = "", onSave, onAuthor }) {
    this.onSave = onSave;
    this.onAuthor = onAuthor;
    this.value = null;
    this.up = h("button", { class: "lnb-ev-btn lnb-ev-fb-up", attrs: { "aria-pressed": "false" } }, [
      thumbIcon("up"),
      "good",
    ]);
    this.down = h("button", { class: "lnb-ev-btn lnb-ev-fb-down", attrs: { "aria-pressed": "false" } }, [
      thumbIcon("down"),
      "bad",
    ]);
    const listId = `lnb-ev-labels-${++lists}`;
    this.labels = h("datalist", { attrs: { id: listId } });
    this.setLabels(labels);
    this.label = h("input", {
      class: "lnb-ev-input lnb-ev-fb-label",
      attrs: {
        type: "text",
        placeholder: "label (e.g. hallucination)",
        list: listId,
        "aria-label": "label",
        maxlength: "200",
      },
    });
    this.comment = h("textarea", {
      class: "lnb-ev-input lnb-ev-fb-comment",
      attrs: { rows: "2", placeholder: "comment", "aria-label": "comment" },
    });
    this.author = h("input", {
      class: "lnb-ev-input lnb-ev-fb-author",
      attrs: { type: "text", placeholder: "your name", "aria-label": "author", maxlength: "200" },
    });
    this.author.value = author ?? "";
    this.save = h("button", { class: "lnb-ev-btn lnb-ev-primary lnb-ev-fb-save", text: "save feedback" });
    this.status = h("span", { class: "lnb-ev-fb-status", attrs: { role: "status" } });
    this.history = h("ul", { class: "lnb-ev-fb-history" });
    this.el = h("div", { class: "lnb-ev-feedback" }, [
      h("div", { class: "lnb-ev-fb-row" }, [
        this.up,
        this.down,
        this.label,
        this.labels,
        h("span", { class: "lnb-ev-fb-by", text: "by" }),
        this.author,
      ]),
      this.comment,
      h("div", { class: "lnb-ev-fb-row" }, [this.save, this.status]),
      this.history,
    ]);
    this.up.addEventListener("click", () => this.pick(this.value === true ? null : true));
    this.down.addEventListener("click", () => this.pick(this.value === false ? null : false));
    this.save.addEventListener("click", () => this.submit());
    for (const input of [this.label, this.comment, this.author]) {
      input.addEventListener("keydown", (event) => {
        event.stopPropagation(); // typing is not a notebook shortcut
        if (event.key === "Enter" && (event.ctrlKey || event.metaKey || input !== this.comment)) {
          event.preventDefault();
          this.submit();
        }
      });
    }
    this.author.addEventListener("change", () => this.onAuthor?.(this.author.value.trim()));
  }

  setLabels(labels) {
    this.labels.replaceChildren(...(labels ?? []).map((l) => h("option", { attrs: { value: String(l) } })));
  }

  pick(value) {
    this.value = value;
    this.up.setAttribute("aria-pressed", String(value === true));
    this.down.setAttribute("aria-pressed", String(value === false));
  }

  read() {
    const out = {};
    if (this.value !== null) out.value = this.value;
    if (this.label.value.trim()) out.label = this.label.value.trim();
    if (this.comment.value.trim()) out.comment = this.comment.value;
    if (this.author.value.trim()) out.author = this.author.value.trim();
    return out;
  }

  say(text, error = false) {
    this.status.textContent = text;
    this.status.classList.toggle("lnb-ev-error", error);
  }

  async submit() {
    const data = this.read();
    if (data.value === undefined && !data.label && !data.comment) {
      this.say("Pick good or bad, or write a label or a comment.", true);
      return;
    }
    this.save.disabled = true;
    this.say("saving…");
    try {
      const answer = await this.onSave(data);
      this.say(`saved${answer?.feedback?.author ? ` by ${answer.feedback.author}` : ""}`);
      this.pick(null);
      this.label.value = "";
      this.comment.value = "";
      if (answer?.history) this.showHistory(answer.history);
    } catch (err) {
      this.say(`not saved: ${err?.message ?? err}`, true);
    } finally {
      this.save.disabled = false;
    }
  }

  /** Earlier feedback on this trace, newest first: time, author, value, label, comment. */
  showHistory(items) {
    const rows = (items ?? []).map((f) => {
      const thumb = f.value === true ? "up" : f.value === false ? "down" : null;
      const mark = thumb
        ? h("span", { class: `lnb-ev-fb-mark lnb-ev-${thumb}`, title: `thumbs ${thumb}` }, [thumbIcon(thumb)])
        : f.value != null
          ? h("span", { class: "lnb-ev-fb-mark", text: valueText(f.value) })
          : null;
      return h("li", { class: "lnb-ev-fb-item" }, [
        h("span", { class: "lnb-ev-fb-when", text: `${fmtTime(f.at)}${f.author ? ` · ${f.author}` : ""}` }),
        f.name && f.name !== "human_feedback" ? h("span", { class: "lnb-ev-fb-name", text: String(f.name) }) : null,
        mark,
        f.label ? h("span", { class: "lnb-ev-fb-tag", text: String(f.label) }) : null,
        f.comment ? h("span", { class: "lnb-ev-fb-text", text: String(f.comment) }) : null,
      ]);
    });
    this.history.replaceChildren(...rows);
    this.history.hidden = rows.length === 0;
  }
}
