// The filter inputs above a paged list (the trace list's, the sessions view's): what they share is
// when they report (after typing pauses, on Enter, on a pick, on "clear") and how the model's filters
// are shown in them without reporting. Each view subclasses it with its own fields and its own
// reading of the values (get) and showing of a filter (shown).

export const TYPING_DEBOUNCE_MS = 350;

export class FilterInputs {
  /** @param {(values: any) => void} onChange */
  constructor(onChange) {
    this.onChange = onChange;
    /** @type {Record<string, HTMLInputElement | HTMLSelectElement>} */
    this.inputs = {};
    /** @type {any} */
    this.timer = 0;
  }

  /**
   * Register a text input: it reports after typing pauses or on Enter, and its keys stay out of the notebook.
   * @param {string} key
   * @param {HTMLInputElement} input
   */
  typed(key, input) {
    this.inputs[key] = input;
    input.addEventListener("input", () => this.later());
    input.addEventListener("keydown", (event) => {
      event.stopPropagation(); // typing must not trigger notebook shortcuts
      if (event.key === "Enter") this.fire();
    });
    return input;
  }

  /**
   * Register a select: it reports on a pick.
   * @param {string} key
   * @param {HTMLSelectElement} select
   */
  picked(key, select) {
    this.inputs[key] = select;
    select.addEventListener("change", () => this.fire());
    return select;
  }

  /**
   * Empty every input and report.
   * @param {HTMLElement} button
   */
  clearsOnClick(button) {
    button.addEventListener("click", () => {
      this.set({});
      this.fire();
    });
    return button;
  }

  later() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.fire(), TYPING_DEBOUNCE_MS);
  }

  fire() {
    clearTimeout(this.timer);
    this.onChange(this.get());
  }

  /**
   * The inputs' values by key, as typed; a subclass may turn them into filters.
   * @returns {Record<string, any>}
   */
  get() {
    /** @type {Record<string, string>} */
    const values = {};
    for (const [key, input] of Object.entries(this.inputs)) values[key] = input.value;
    return values;
  }

  /**
   * A filter's value as its input shows it.
   * @param {string} key
   * @param {Record<string, any>} filters
   */
  shown(key, filters) {
    return filters[key] == null ? "" : String(filters[key]);
  }

  /**
   * Show `filters` (from the model) in the inputs, without reporting.
   * @param {Record<string, any> | null | undefined} filters
   */
  set(filters) {
    const f = filters ?? {};
    for (const [key, input] of Object.entries(this.inputs)) {
      const value = this.shown(key, f);
      if (input.value !== value) input.value = value;
    }
  }

  destroy() {
    clearTimeout(this.timer);
  }
}
