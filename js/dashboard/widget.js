// The dashboard's status line (llmops_nb/widgets/dashboard/): when the charts above it were last
// brought up to date. After a refresh it also hands the new snapshot to the notebook as an
// `lnb-snapshot` DOM event, as the eval table does after feedback; llmops_nb's notebook extension
// (js/labextension/saved_view.js) writes it into the output, so a notebook saved later keeps charts
// as current as the live ones without drawing the live view again.

function render({ model, el }) {
  el.classList.add("lnb-dashboard-status");
  const show = () => {
    el.textContent = model.get("status");
  };
  const hand = () => {
    show();
    const snapshot = model.get("snapshot");
    if (snapshot && typeof snapshot["text/html"] === "string") {
      el.dispatchEvent(new CustomEvent("lnb-snapshot", { bubbles: true, detail: snapshot }));
    }
  };
  hand();
  model.on("change:status", show);
  model.on("change:snapshot", hand);
  return () => {
    model.off("change:status", show);
    model.off("change:snapshot", hand);
  };
}

export default { render };
