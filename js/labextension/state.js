// What a saved view shows, decided from what the ipywidgets renderer inside it shows. Kept apart
// from the Lumino widget so the rule is tested without JupyterLab (tests/saved_view.test.js).
//
// The ipywidgets renderer writes "Loading widget..." while it waits for the widget manager, and
// "Error displaying widget: model not found" once the manager is restored without the model (a
// restarted or dead kernel: jupyter-widgets/ipywidgets#3773); a live view is an element child.

/** How long a view may stay "Loading widget..." before the saved snapshot is shown instead. A kernel
 * that never connects (a notebook opened with no kernel) leaves the renderer loading forever. */
export const LOADING_GRACE_MS = 1500;

/** @typedef {"waiting" | "live" | "saved"} Shown */

/**
 * @param {{ hasView: boolean, text: string, graceOver: boolean }} live what the ipywidgets renderer
 *   holds now: an element (the view), else its text
 * @returns {Shown}
 */
export function shownFor({ hasView, text, graceOver }) {
  if (hasView) return "live";
  if (text.startsWith("Error displaying widget") || graceOver) return "saved";
  return "waiting";
}

/**
 * The saved output's data with a view's new snapshot in it: only the snapshot's own keys, only
 * strings (a view cannot put another MIME type, or script, into the saved notebook this way).
 * @param {Record<string, unknown>} data the output's mimebundle now
 * @param {unknown} snapshot what the view sent (`{"text/html": ..., "text/plain": ...}`)
 * @returns {Record<string, unknown> | null} the new bundle, or null when there is nothing to change
 */
export function withSnapshot(data, snapshot) {
  if (snapshot === null || typeof snapshot !== "object") return null;
  const next = { ...data };
  let changed = false;
  for (const key of ["text/html", "text/plain"]) {
    const value = /** @type {Record<string, unknown>} */ (snapshot)[key];
    if (typeof value === "string" && value !== data[key]) {
      next[key] = value;
      changed = true;
    }
  }
  return changed ? next : null;
}
