"""``dashboard()`` in a real JupyterLab and Notebook 7, in Debian's headless chromium.

Traffic goes through ``llmops_nb.span`` in the kernel; the tests read plotly's rendered chart (its
``.main-svg``, one subplot per chart, one line per group and series, the data plotly holds), hover it,
refresh it after more traffic, then save the notebook: the saved ``text/html`` is the refreshed snapshot
(handed to the output by llmops_nb's extension), it reads offline with JavaScript off, and the notebook
reopened without its kernel shows it instead of "model not found". A model named like markup stays text.
"""

from __future__ import annotations

import re
import time

import nbformat
import pytest
from playwright.sync_api import expect

from llmops_nb.widgets._base import SAVED_VIEW_MIME
from tests.browser.conftest import FIRST_RENDER_MS, KNOWN_NOTEBOOK7_ERROR, run_cell, run_command, wait_kernel_idle

pytestmark = pytest.mark.browser

XSS = '<img src=x onerror="window.__xss=1">'
ESCAPED = XSS.replace("<", "&lt;").replace(">", "&gt;")  # as plotly's data holds it (escaped, quotes kept)
CHARTS = ["requests", "errors", "latency"]
LINES = 2 + 2 + 2 * 3  # two groups: requests, error rate, p50/p95/p99


def setup_cell(db) -> str:
    return f"""\
import llmops_nb
from llmops_nb.monitor._dashboard import dashboard
llmops_nb.configure(db={str(db)!r})
XSS = {XSS!r}

def calls(model, n):
    for _ in range(n):
        with llmops_nb.span("chat", kind="LLM", attributes={{"gen_ai.request.model": model,
                            "gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 5}}):
            pass
    llmops_nb.flush()

calls("alpha", 3)
calls(XSS, 2)
"""


SHOW = f"dash = dashboard(by='model', charts={CHARTS!r})\ndash"
MORE = "calls('alpha', 4)\ndash.refresh()\nprint('REFRESHED', int(dash.data['requests'].sum()))"

# Sums of each line's values in one chart, read from the data plotly draws (typed arrays or lists).
SUMS_JS = """(chart) => {
  const gd = document.querySelector('.lnb-dashboard .js-plotly-plot');
  if (!gd || !gd.data) return null;
  const sums = {};
  for (const t of gd.data) {
    if (!t.meta || t.meta.chart !== chart || t.meta.series.endsWith('band')) continue;
    let s = 0;
    for (const v of Array.from(t.y || [])) if (typeof v === 'number' && v === v) s += v;
    sums[t.name] = s;
  }
  return sums;
}"""


def _sums(page, chart: str) -> dict[str, float] | None:
    return page.evaluate(SUMS_JS, chart)


def _wait_sums(page, chart: str, expected: dict[str, float]) -> None:
    page.wait_for_function(f"(e) => JSON.stringify(({SUMS_JS})({chart!r})) === JSON.stringify(e)", arg=expected,
                           timeout=FIRST_RENDER_MS)


def _saved_dashboard(path) -> dict:
    notebook = nbformat.read(path, as_version=4)
    outputs = [out for cell in notebook.cells for out in cell.get("outputs", [])
               if SAVED_VIEW_MIME in out.get("data", {})]
    return outputs[0]["data"] if outputs else {}


def test_charts_render_refresh_and_the_saved_snapshot_reads_offline(jupyter_lab, page, page_problems, browser,
                                                                    store_path, tmp_path):
    path = jupyter_lab.write_notebook("dashboard.ipynb", [setup_cell(store_path), SHOW, MORE])
    jupyter_lab.open_notebook(page, "dashboard.ipynb", run_all=False)
    run_cell(page, 0)
    run_cell(page, 1)

    board = page.locator(".lnb-dashboard")
    expect(board.locator(".main-svg").first).to_be_visible(timeout=FIRST_RENDER_MS)
    expect(board.locator(".cartesianlayer .subplot")).to_have_count(len(CHARTS))
    expect(board.locator(".scatterlayer .trace")).to_have_count(LINES)
    _wait_sums(page, "requests", {"alpha": 3, ESCAPED: 2})
    assert set(_sums(page, "latency")) == {"alpha", ESCAPED}
    # a legend entry per group; the hostile name is text, never an element
    expect(board.locator(".legend .legendtext")).to_have_text(["alpha", XSS])
    expect(board.locator(".gtitle")).to_contain_text("Monitoring · last 24h · every 1h · by model · updated ")
    expect(board.locator(".lnb-dashboard-status")).to_contain_text("5 requests in 2 groups")
    # hovering a chart shows the exact values at that time, every group's
    plot = board.locator(".nsewdrag").first
    box = plot.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.97, box["y"] + box["height"] / 2)
    expect(board.locator(".hoverlayer")).to_contain_text(re.compile(r"alpha: \d+ requests"))
    assert board.locator("img, script, iframe, [onerror]").count() == 0

    # more traffic, then dash.refresh() in a later cell: the shown chart changes in place
    run_cell(page, 2)
    expect(page.get_by_text("REFRESHED 9")).to_be_visible(timeout=FIRST_RENDER_MS)
    _wait_sums(page, "requests", {"alpha": 7, ESCAPED: 2})
    expect(board).to_have_count(1)
    expect(board.locator(".lnb-dashboard-status")).to_contain_text("9 requests in 2 groups")
    assert page.evaluate("() => window.__xss") is None

    # saved now, the output carries the refreshed snapshot (the view handed it to the extension)
    deadline = time.monotonic() + 30
    while "9 requests" not in _saved_dashboard(path).get("text/plain", ""):
        assert time.monotonic() < deadline, f"the saved output kept the old snapshot: {_saved_dashboard(path)}"
        run_command(page, "docmanager:save")
        time.sleep(1)
    html = _saved_dashboard(path)["text/html"]

    # read offline with JavaScript off, as GitHub or an e-mailed export would show it
    snapshot_file = tmp_path / "snapshot.html"
    snapshot_file.write_text(f'<!doctype html><meta charset="utf-8"><body>{html}</body>', encoding="utf-8")
    context = browser.new_context(java_script_enabled=False, viewport={"width": 1280, "height": 1000})
    blocked: list[str] = []
    context.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file:")
                  else (blocked.append(r.request.url), r.abort()))
    offline = context.new_page()
    offline.goto(snapshot_file.as_uri())
    shown = offline.locator(".lnb-dashboard-snapshot")
    expect(shown.locator("figure svg")).to_have_count(len(CHARTS))
    for i in range(len(CHARTS)):
        expect(shown.locator("figure svg").nth(i)).to_be_visible()
        assert shown.locator("figure svg").nth(i).bounding_box()["height"] > 80  # drawn, not collapsed
    expect(shown.locator("figcaption")).to_have_text(["Requests", "Error rate",
                                                      "Latency (ms) · p50 solid · p95 dashed · p99 dotted"])
    expect(shown).to_contain_text("9 requests")
    expect(shown.get_by_text(XSS, exact=True).first).to_be_visible()  # in the legend and the table, as text
    assert shown.locator("img, script, a, iframe, [onerror]").count() == 0
    assert blocked == []
    context.close()

    # reopened without its kernel: the snapshot, never "model not found"
    jupyter_lab.shutdown_kernels()
    page.reload()
    wait_kernel_idle(page)
    view = page.locator(".lnb-saved-view")
    expect(view).to_have_attribute("data-shown", "saved", timeout=FIRST_RENDER_MS)
    expect(view.locator(".lnb-saved-snapshot figure svg")).to_have_count(len(CHARTS))
    expect(view.locator(".lnb-saved-snapshot")).to_contain_text("9 requests")
    assert "model not found" not in page.locator("body").inner_text()
    assert page.locator(".lnb-saved-snapshot img").count() == 0
    assert page.evaluate("() => window.__xss") is None
    assert not page_problems, page_problems


def test_notebook7_renders_the_charts(notebook7, page, page_problems, store_path):
    notebook7.write_notebook("dashboard7.ipynb", [setup_cell(store_path), SHOW])
    notebook7.open_notebook(page, "dashboard7.ipynb")
    board = page.locator(".lnb-dashboard")
    expect(board.locator(".main-svg").first).to_be_visible(timeout=FIRST_RENDER_MS)
    expect(board.locator(".cartesianlayer .subplot")).to_have_count(len(CHARTS))
    expect(board.locator(".scatterlayer .trace")).to_have_count(LINES)
    _wait_sums(page, "requests", {"alpha": 3, ESCAPED: 2})
    expect(board.locator(".legend .legendtext")).to_have_text(["alpha", XSS])
    unexpected = [p for p in page_problems if KNOWN_NOTEBOOK7_ERROR not in p]
    assert not unexpected, unexpected
