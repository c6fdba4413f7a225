// The bar shown while rows are checked: how many, clear, and a new dataset version from them
// (`to_dataset`: a name, add to the latest version or not, outputs as the new expectations).

import { h } from "../lib/dom.js";

export class SelectionBar {
  constructor({ onClear, onCreate }) {
    this.onCreate = onCreate;
    this.count = h("span", { class: "lnb-ev-sel-count" });
    const clear = h("button", { class: "lnb-ev-btn", text: "clear", title: "uncheck every row" });
    clear.addEventListener("click", () => onClear());
    this.name = h("input", {
      class: "lnb-ev-input lnb-ev-ds-name",
      attrs: { type: "text", "aria-label": "dataset name", maxlength: "200" },
    });
    this.append = h("input", { attrs: { type: "checkbox" } });
    this.append.checked = true;
    this.asExpected = h("input", { attrs: { type: "checkbox" } });
    this.create = h("button", { class: "lnb-ev-btn lnb-ev-primary lnb-ev-ds-create", text: "new dataset version" });
    this.status = h("span", { class: "lnb-ev-ds-status", attrs: { role: "status" } });
    this.el = h("div", { class: "lnb-ev-selbar" }, [
      this.count,
      clear,
      h("span", { class: "lnb-ev-sep", text: "→" }),
      this.name,
      h(
        "label",
        { title: "the new version holds the latest version's rows plus these (a row replaces its older copy)" },
        [this.append, " add to the latest version"],
      ),
      h("label", { title: "each checked row's output becomes its expected_response" }, [
        this.asExpected,
        " outputs as expectations",
      ]),
      this.create,
      this.status,
    ]);
    this.el.hidden = true;
    this.create.addEventListener("click", () => this.submit());
    this.name.addEventListener("keydown", (event) => {
      event.stopPropagation();
      if (event.key === "Enter") this.submit();
    });
  }

  /** Show the bar for `n` checked rows; `defaultName` is the run's dataset (or the run's name). */
  update(n, defaultName) {
    this.el.hidden = n === 0;
    this.count.textContent = `${n.toLocaleString("en-US")} row${n === 1 ? "" : "s"} checked`;
    this.name.placeholder = defaultName ? `dataset (${defaultName})` : "dataset name";
    this.defaultName = defaultName;
    if (n === 0) this.say("");
  }

  say(text, error = false) {
    this.status.textContent = text;
    this.status.classList.toggle("lnb-ev-error", error);
  }

  async submit() {
    const options = { append: this.append.checked, expectations_from_outputs: this.asExpected.checked };
    const name = this.name.value.trim();
    if (name) options.name = name;
    this.create.disabled = true;
    this.say("saving…");
    try {
      const ds = await this.onCreate(options);
      this.say(`saved dataset "${ds.name}" version ${ds.version} (${ds.rows} row${ds.rows === 1 ? "" : "s"})`);
    } catch (err) {
      this.say(`not saved: ${err?.message ?? err}`, true);
    } finally {
      this.create.disabled = false;
    }
  }
}
