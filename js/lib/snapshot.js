// What a view sends the saved output after a change worth keeping (a session picked, feedback stored):
// the kernel renders the snapshot of what the view shows now, and the view hands it on in an
// `lnb-snapshot` event on its element, so a notebook saved afterwards shows it where no kernel runs
// (../labextension/saved_view.js rewrites the output's saved text/html and text/plain). Without the
// extension nobody listens and nothing changes.

/**
 * Ask the kernel for the snapshot (`snapshot` with `params`) and dispatch it on `el`, unless `current()`
 * says a newer one was asked for meanwhile; a failure is said (`say`), except when the view was closed.
 * @param {{ request: (method: string, params?: any) => Promise<any> }} rpc
 * @param {any} params
 * @param {{ el: HTMLElement, what: string, say: (text: string) => void, current: () => boolean }} options
 *   `what` names the view in the failure's message ("view", "table")
 */
export async function publishSnapshot(rpc, params, { el, what, say, current }) {
  let bundle;
  try {
    bundle = await rpc.request("snapshot", params);
  } catch (err) {
    const e = /** @type {any} */ (err);
    if (e?.type !== "Closed") say(`the saved copy of this ${what} is not updated: ${e?.message ?? e}`);
    return;
  }
  if (!current() || typeof bundle?.["text/html"] !== "string") return;
  const detail = { "text/html": bundle["text/html"], "text/plain": String(bundle["text/plain"] ?? "") };
  el.dispatchEvent(new CustomEvent("lnb-snapshot", { bubbles: true, detail }));
}
