// llmops_nb's JupyterLab / Notebook 7 extension: a saved view never says "model not found".
//
// Each notebook gets a renderer for llmops_nb's own MIME type (ranked before ipywidgets' -10), on
// the notebook's rendermime, like ipywidgets registers its renderer: that is where ipywidgets'
// renderer, with the notebook's widget manager, is found. Without this extension installed, the
// same outputs render as before (the widget, or the text/html snapshot where widgets cannot run).
import { INotebookTracker, NotebookActions } from "@jupyterlab/notebook";
import { SAVED_VIEW_MIME, SavedView } from "./saved_view.js";

const RANK = -20;

/**
 * Runs the cell whose output holds `node`, as Run would after clicking the cell; with `above`, the
 * cells above it first (a restarted kernel has none of their imports and settings).
 * @param {any} panel a NotebookPanel
 * @param {HTMLElement} node
 * @param {boolean} above
 */
async function runCellOf(panel, node, above) {
  const notebook = panel.content;
  const index = notebook.widgets.findIndex((/** @type {any} */ cell) => cell.node.contains(node));
  if (index < 0) return;
  notebook.activeCellIndex = index;
  notebook.deselectAll();
  if (above && index > 0 && !(await NotebookActions.runAllAbove(notebook, panel.sessionContext))) return;
  notebook.activeCellIndex = index;
  await NotebookActions.run(notebook, panel.sessionContext);
}

/** @param {any} panel */
function register(panel) {
  const rendermime = panel.content.rendermime;
  rendermime.addFactory(
    {
      safe: false,
      mimeTypes: [SAVED_VIEW_MIME],
      createRenderer: () => new SavedView({ rendermime, runCell: (node, above) => runCellOf(panel, node, above) }),
    },
    RANK,
  );
}

const plugin = {
  id: "@llmops-nb/saved-views:plugin",
  description: "Shows llmops_nb views saved in a notebook when their widget model is gone.",
  autoStart: true,
  requires: [INotebookTracker],
  /**
   * @param {any} _app
   * @param {any} tracker
   */
  activate(_app, tracker) {
    tracker.forEach(register);
    tracker.widgetAdded.connect((/** @type {any} */ _sender, /** @type {any} */ panel) => register(panel));
  },
};

export default plugin;
