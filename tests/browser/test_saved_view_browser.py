"""A notebook reopened after its kernel restarted or shut down shows every llmops_nb view's snapshot, never
ipywidgets' "Error displaying widget: model not found", and one click makes the view live again.

This is the author's own notebook (trusted), in JupyterLab and in Notebook 7: save, restart or shut down
the kernel, reload the page. The extension in js/labextension/ renders the output's llmops_nb MIME type.
"""

from __future__ import annotations

import time
from typing import Any

import nbformat
import pytest
from playwright.sync_api import expect

from llmops_nb.widgets._base import SAVED_VIEW_MIME
from tests.browser.conftest import FIRST_RENDER_MS, KNOWN_NOTEBOOK7_ERROR, JupyterServer, run_command, wait_kernel_idle

pytestmark = pytest.mark.browser

CELLS = [
    "%load_ext llmops_nb",
    "%%llm_trace --name saved-and-reopened\nimport llmops_nb\nwith llmops_nb.span('step one'):\n    pass\n"
    "'<img src=x onerror=alert(1)>'",
    "%llm_traces",
]


def _saved_outputs(path: Any) -> list[dict[str, Any]]:
    notebook = nbformat.read(path, as_version=4)  # joins the saved line lists back into strings
    return [out for cell in notebook["cells"] for out in cell.get("outputs", [])
            if SAVED_VIEW_MIME in out.get("data", {})]


def _save_and_wait(page: Any, path: Any, views: int) -> None:
    run_command(page, "docmanager:save")
    deadline = time.monotonic() + 30
    while len(_saved_outputs(path)) < views:
        assert time.monotonic() < deadline, "the notebook was not saved with its views"
        time.sleep(0.2)


def _restart_kernels(server: JupyterServer) -> None:
    for kernel in server.api("/api/kernels"):
        server.api(f"/api/kernels/{kernel['id']}/restart", method="POST")


@pytest.mark.parametrize(("app", "kernel_end"), [("lab", "restart"), ("lab", "shutdown"), ("notebook", "restart")])
def test_a_reopened_notebook_shows_the_snapshot_then_runs_live(request, page, page_problems, app, kernel_end):
    server: JupyterServer = request.getfixturevalue("jupyter_lab" if app == "lab" else "notebook7")
    name = f"reopened_{app}_{kernel_end}.ipynb"
    path = server.write_notebook(name, CELLS)
    server.open_notebook(page, name)
    explorer = page.locator(".lnb-saved-view").nth(0)
    expect(explorer.locator(".lnb-explorer .lnb-row").first).to_be_visible(timeout=FIRST_RENDER_MS)
    expect(page.locator(".lnb-saved-view").nth(1).locator(".lnb-trace-list")).to_be_visible(timeout=FIRST_RENDER_MS)
    expect(explorer).to_have_attribute("data-shown", "live")
    _save_and_wait(page, path, views=2)

    if kernel_end == "restart":
        _restart_kernels(server)
    else:
        server.shutdown_kernels()
    page.reload()
    wait_kernel_idle(page)

    views = page.locator(".lnb-saved-view")
    expect(views).to_have_count(2, timeout=FIRST_RENDER_MS)
    for i in range(2):
        expect(views.nth(i)).to_have_attribute("data-shown", "saved", timeout=FIRST_RENDER_MS)
        expect(views.nth(i).locator(".lnb-saved-bar")).to_be_visible()
    snapshot = views.nth(0).locator(".lnb-saved-snapshot")
    expect(snapshot).to_contain_text("saved-and-reopened")
    expect(snapshot).to_contain_text("step one")
    # a hostile string from the trace is text in the saved snapshot too
    assert page.locator(".lnb-saved-snapshot img").count() == 0
    assert "model not found" not in page.locator("body").inner_text()
    assert page.get_by_text("Error displaying widget").count() == 0

    views.nth(0).get_by_role("button", name="Run cells up to here").click()
    expect(views.nth(0)).to_have_attribute("data-shown", "live", timeout=FIRST_RENDER_MS)
    expect(views.nth(0).locator(".lnb-explorer .lnb-row").first).to_be_visible()
    expect(views.nth(0).locator(".lnb-saved-bar")).to_be_hidden()
    problems = [p for p in page_problems if not (app == "notebook" and KNOWN_NOTEBOOK7_ERROR in p)]
    assert not problems


EVAL_CELLS = [
    "%load_ext llmops_nb",
    "import llmops_nb\nfrom llmops_nb import scorers\n"
    "data = [{'inputs': {'q': q}, 'expectations': {'expected_response': a}} for q, a in "
    "[('2+2', '4'), ('3+3', '6'), ('capital of France', 'Paris')]]\n"
    "results = llmops_nb.evaluate(data, lambda q: {'2+2': '4', '3+3': '7'}.get(q, 'Paris'), "
    "[scorers.exact_match()], name='feedback-kept', progress=False)",
]


def test_feedback_given_after_the_run_is_in_the_saved_snapshot(jupyter_lab, page, page_problems):
    """The eval table sends a fresh snapshot after feedback; the extension writes it into the output, so
    the saved notebook (and its reopened view) shows the feedback."""
    path = jupyter_lab.write_notebook("feedback_kept.ipynb", EVAL_CELLS)
    jupyter_lab.open_notebook(page, "feedback_kept.ipynb")
    table = page.locator(".lnb-saved-view .lnb-eval")
    up = table.locator(".lnb-ev-row[data-row='1'] .lnb-ev-thumb[data-value='up']")
    expect(up).to_be_visible(timeout=FIRST_RENDER_MS)
    up.click()
    expect(up).to_have_attribute("aria-pressed", "true")
    deadline = time.monotonic() + 30
    while True:
        run_command(page, "docmanager:save")
        time.sleep(1)
        saved = _saved_outputs(path)
        if saved and "thumbs up" in saved[0]["data"]["text/html"]:
            break
        assert time.monotonic() < deadline, "the saved output never got the feedback"
    assert "feedback on 1 (1 up, 0 down)" in saved[0]["data"]["text/plain"]

    _restart_kernels(jupyter_lab)
    page.reload()
    wait_kernel_idle(page)
    view = page.locator(".lnb-saved-view")
    expect(view).to_have_attribute("data-shown", "saved", timeout=FIRST_RENDER_MS)
    expect(view.locator(".lnb-saved-snapshot")).to_contain_text("thumbs up")
    assert not page_problems
