// The saved-view renderer of the lab extension (js/labextension/): what it shows for each state of
// ipywidgets' renderer, and how a view's new snapshot reaches the output's saved data. The real
// JupyterLab and ipywidgets run in tests/browser/test_saved_view_browser.py; here their renderers are
// stand-ins that write what ipywidgets writes.
import { Widget } from "@lumino/widgets";
import { afterEach, describe, expect, it, vi } from "vitest";
import { SAVED_VIEW_MIME, SavedView, SNAPSHOT_EVENT, WIDGET_MIME } from "../labextension/saved_view.js";
import { LOADING_GRACE_MS, shownFor, withSnapshot } from "../labextension/state.js";

describe("shownFor", () => {
  it("shows the live view as soon as it has one", () => {
    expect(shownFor({ hasView: true, text: "", graceOver: true })).toBe("live");
  });

  it("shows the snapshot when ipywidgets reports an error, or loads for too long", () => {
    expect(shownFor({ hasView: false, text: "Error displaying widget: model not found", graceOver: false })).toBe(
      "saved",
    );
    expect(shownFor({ hasView: false, text: "Loading widget...", graceOver: true })).toBe("saved");
  });

  it("waits while ipywidgets loads", () => {
    expect(shownFor({ hasView: false, text: "Loading widget...", graceOver: false })).toBe("waiting");
  });
});

describe("withSnapshot", () => {
  const data = { "text/html": "<p>old</p>", "text/plain": "old", [WIDGET_MIME]: { model_id: "m" } };

  it("replaces only the snapshot's own keys", () => {
    const next = withSnapshot(data, { "text/html": "<p>new</p>", "text/plain": "new", "text/javascript": "x()" });
    expect(next).toEqual({ ...data, "text/html": "<p>new</p>", "text/plain": "new" });
  });

  it("changes nothing for the same snapshot or a malformed one", () => {
    expect(withSnapshot(data, { "text/html": "<p>old</p>", "text/plain": "old" })).toBeNull();
    expect(withSnapshot(data, null)).toBeNull();
    expect(withSnapshot(data, "<p>x</p>")).toBeNull();
    expect(withSnapshot(data, { "text/html": 3 })).toBeNull();
  });
});

/** A stand-in for ipywidgets' renderer: its text while loading or failing, an element once live. */
class FakeWidgetRenderer extends Widget {
  renderModel() {
    this.node.textContent = "Loading widget...";
    return Promise.resolve();
  }
}

class FakeHtmlRenderer extends Widget {
  /** @param {any} model */
  renderModel(model) {
    this.node.textContent = model.data["text/html"];
    return Promise.resolve();
  }
}

function setUp() {
  const runs = [];
  const live = new FakeWidgetRenderer();
  const host = {
    rendermime: {
      createRenderer: (/** @type {string} */ mime) => (mime === WIDGET_MIME ? live : new FakeHtmlRenderer()),
    },
    runCell: (/** @type {HTMLElement} */ _node, /** @type {boolean} */ above) => {
      runs.push(above);
    },
  };
  const view = new SavedView(host);
  Widget.attach(view, document.body);
  const model = {
    data: { [SAVED_VIEW_MIME]: { view: "explorer" }, [WIDGET_MIME]: { model_id: "m" }, "text/html": "snapshot one" },
    setData: vi.fn((/** @type {any} */ options) => {
      model.data = options.data;
      return view.renderModel(model);
    }),
  };
  return { view, live, model, runs };
}

const flush = () => new Promise((resolve) => setTimeout(resolve, 0));

describe("SavedView", () => {
  afterEach(() => {
    vi.useRealTimers();
    document.body.innerHTML = "";
  });

  it("turns ipywidgets' model-not-found into the snapshot and its run buttons", async () => {
    const { view, live, model, runs } = setUp();
    await view.renderModel(model);
    expect(view.node.dataset.shown).toBe("waiting");
    expect(view.node.querySelector(".lnb-saved-snapshot")).toBeNull();
    live.node.textContent = "Error displaying widget: model not found";
    await flush();
    expect(view.node.dataset.shown).toBe("saved");
    expect(view.node.textContent).not.toContain("model not found");
    expect(view.node.querySelector(".lnb-saved-snapshot")?.textContent).toBe("snapshot one");
    const buttons = [...view.node.querySelectorAll("button")];
    expect(buttons.map((b) => b.textContent)).toEqual(["Run cells up to here", "Run this cell"]);
    buttons[0].click();
    buttons[1].click(); // disabled while the first run is under way
    await flush();
    buttons[1].click();
    expect(runs).toEqual([true, false]);
  });

  it("shows the snapshot when the widget never loads (no kernel)", async () => {
    vi.useFakeTimers();
    const { view, model } = setUp();
    await view.renderModel(model);
    vi.advanceTimersByTime(LOADING_GRACE_MS + 1);
    expect(view.node.dataset.shown).toBe("saved");
  });

  it("swaps to the live view when it appears, hiding the snapshot", async () => {
    const { view, live, model } = setUp();
    await view.renderModel(model);
    live.node.textContent = "Error displaying widget: model not found";
    await flush();
    live.node.append(Object.assign(document.createElement("div"), { className: "lnb-view" }));
    await flush();
    expect(view.node.dataset.shown).toBe("live");
    expect(view.node.querySelector(".lnb-saved-bar")?.classList.contains("lm-mod-hidden")).toBe(true);
  });

  it("writes a view's new snapshot into the output's data", async () => {
    const { view, live, model } = setUp();
    await view.renderModel(model);
    const el = live.node.appendChild(document.createElement("div"));
    el.dispatchEvent(new CustomEvent(SNAPSHOT_EVENT, { bubbles: true, detail: { "text/html": "snapshot two" } }));
    await flush();
    expect(model.setData).toHaveBeenCalledOnce();
    expect(model.data["text/html"]).toBe("snapshot two");
    expect(model.data[WIDGET_MIME]).toEqual({ model_id: "m" });
    // not drawn while the view may still come live: the page holds no hidden copy of the snapshot
    expect(view.node.querySelector(".lnb-saved-snapshot")).toBeNull();
    live.node.textContent = "Error displaying widget: model not found";
    await flush();
    expect(view.node.querySelector(".lnb-saved-snapshot")?.textContent).toBe("snapshot two");
  });
});
