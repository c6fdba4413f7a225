"""EvalTable in JupyterLab in Debian's headless chromium: sort the table, open a row's trace and read
the judge's rationale, give feedback in the widget and read it back from Python (a later cell, and
the DuckDB file), compare with another run picked in the widget.

The JupyterLab server and the browser are started here (the conventions of
../shared/browser-testing.md: own config/runtime dirs, announcements off, a random workspace, wait for
an idle kernel, fire-and-forget commands, auto-waiting ``expect``); swap them for the shared fixtures
of ``tests/browser/conftest.py`` once those exist.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

import llmops_nb

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
XSS = "<img src=x onerror=alert(1)>"
FIRST_RENDER_MS = 60_000

SETUP = f"""\
import llmops_nb
from llmops_nb.evals import datasets, evaluate, make_judge, scorers
from llmops_nb.widgets._eval_table import display_eval
from tests.fakes import FakeLLMServer, Reply

llmops_nb.configure(db={{DB!r}})
rows = [{{"inputs": {{"question": q}}, "expectations": {{"expected_response": a}}}} for q, a in [
    ("What is the capital of France?", "Paris"), ("What is 2 + 2?", "4"), ("Who wrote Hamlet?", "Shakespeare"),
    ({XSS!r}, "nothing"), ("What colour is the sky?", "blue"), ("Largest planet?", "Jupiter")]]
quiz = datasets.create("quiz", rows)
answers = {{"France": "Paris", "2 + 2": "5", "Hamlet": "William Shakespeare", "sky": "Blue, mostly.",
            "planet": "Saturn"}}

def first_try(question):
    return next((v for k, v in answers.items() if k in question), "<b>no idea</b>")

def second_try(question):
    return first_try(question).replace("5", "4").replace("Saturn", "Jupiter, the largest planet")

@scorers.scorer(threshold=0.5)
def overlap(outputs, expectations):
    a, b = set(outputs.lower().split()), set(expectations["expected_response"].lower().split())
    return {{"value": len(a & b) / max(1, len(b)), "rationale": f"{{len(a & b)}} of {{len(b)}} expected words"}}

base = evaluate(quiz, predict_fn=first_try, scorers=[scorers.exact_match(), overlap], name="first try",
                progress=False)
with FakeLLMServer() as server:
    for verdict in ["yes", "no", "yes", "no", "yes", "no"]:
        server.enqueue(Reply(text=f'{{{{"rationale": "the judge says {{verdict}}", "result": "{{verdict}}"}}}}'))
    judge = make_judge("helpful", "Is {{{{ outputs }}}} a helpful answer to {{{{ inputs }}}}?",
                       model=f"openai:/judge?base_url={{server.openai_base_url}}&max_retries=0")
    df = evaluate(quiz, predict_fn=second_try, scorers=[scorers.exact_match(), overlap, judge], name="second try",
                  max_concurrency=1, progress=False)
display_eval(df, author="tester")
"""
READ_BACK = """\
fb = llmops_nb.feedback(run_id=df.attrs["run_id"])
print("FEEDBACK " + fb[["row_index", "value", "label", "comment", "author"]].to_json(orient="records"))
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def eval_lab(tmp_path_factory):
    """A JupyterLab server of its own (config, runtime and IPython dirs), stopped by its process group."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    base = tmp_path_factory.mktemp("eval_lab")
    root, config = base / "root", base / "config"
    (config / "labconfig").mkdir(parents=True)
    root.mkdir()
    (config / "labconfig" / "page_config.json").write_text(json.dumps(
        {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}))
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(config), JUPYTER_RUNTIME_DIR=str(base / "runtime"),
               IPYTHONDIR=str(base / "ipython"), PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"):
        env.pop(name, None)
    log = (base / "lab.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root", "--expose-app-in-browser",
         "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"JupyterLab did not start: {(base / 'lab.log').read_text()[-2000:]}") from None
                time.sleep(0.1)
        yield {"url": f"http://127.0.0.1:{port}", "token": token, "root": root}
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


@pytest.fixture(scope="module")
def eval_browser(eval_lab):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def _kernel_idle(page) -> None:
    page.wait_for_function(
        "() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
        " const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;"
        " return Boolean(k && k.status === 'idle'); }", timeout=FIRST_RENDER_MS)


def _run_cell(page, index: int) -> None:
    # fire and forget: awaiting the command's promise can hang (browser-testing.md, pitfall 1)
    page.evaluate("(i) => { const nb = window.jupyterapp.shell.currentWidget.content; nb.activeCellIndex = i;"
                  " window.jupyterapp.commands.execute('notebook:run-cell'); }", index)


def test_sort_open_trace_feedback_and_compare(eval_lab, eval_browser):
    from playwright.sync_api import expect

    db = eval_lab["root"] / "store.duckdb"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(SETUP.replace("{DB!r}", repr(str(db)))),
                                         nbformat.v4.new_code_cell(READ_BACK)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, eval_lab["root"] / "eval.ipynb")

    page = eval_browser.new_page(viewport={"width": 1280, "height": 1100})
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("dialog", lambda dialog: (problems.append(f"dialog: {dialog.message}"), dialog.dismiss()))
    started = time.monotonic()
    page.goto(f"{eval_lab['url']}/lab/workspaces/eval-{secrets.token_hex(4)}/tree/eval.ipynb"
              f"?token={eval_lab['token']}")
    _kernel_idle(page)
    _run_cell(page, 0)

    table = page.locator(".lnb-eval").first
    rows = table.locator(".lnb-ev-row[data-row]")
    expect(rows).to_have_count(6, timeout=FIRST_RENDER_MS)
    expect(table.locator(".lnb-ev-card")).to_have_count(3)
    expect(table.locator(".lnb-ev-title")).to_contain_text("second try")
    expect(table.locator(".lnb-ev-row[data-row='3'] .lnb-ev-c-inputs")).to_have_text(XSS)  # text, not markup
    expect(table.locator(".lnb-ev-row[data-row='3'] .lnb-ev-c-outputs")).to_have_text("<b>no idea</b>")
    rendered = time.monotonic() - started

    # sort by a score: lowest first (ties in row order), then highest first
    table.locator(".lnb-ev-sort", has_text="overlap").click()
    expect(table.locator(".lnb-ev-head [aria-sort='ascending']")).to_contain_text("overlap")
    expect(rows.first).to_have_attribute("data-row", "3")  # overlap 0: rows 3, 4, 5; row 3 first
    table.locator(".lnb-ev-sort", has_text="overlap").click()
    expect(table.locator(".lnb-ev-head [aria-sort='descending']")).to_contain_text("overlap")
    expect(rows.first).to_have_attribute("data-row", "0")
    assert [rows.nth(i).get_attribute("data-row") for i in range(6)] == ["0", "1", "2", "3", "4", "5"]

    # open a row: its scores and the judge's rationale, its trace in the explorer, the judge's span in it
    table.locator(".lnb-ev-row[data-row='1'] .lnb-ev-c-inputs").click()
    detail = table.locator(".lnb-ev-row-detail")
    expect(detail).to_have_attribute("data-row", "1")
    judge = detail.locator(".lnb-ev-score[data-scorer='helpful']")
    expect(judge.locator(".lnb-ev-rationale")).to_have_text("the judge says no")
    explorer = table.locator(".lnb-explorer")
    expect(explorer.locator(".lnb-trace-name")).to_have_text("second try", timeout=FIRST_RENDER_MS)
    judge.locator(".lnb-ev-link").click()
    expect(explorer.locator(".lnb-row.lnb-selected .lnb-name")).to_have_text("helpful")

    # feedback in the detail: thumbs down, a label, a comment
    detail.locator(".lnb-ev-fb-down").click()
    detail.locator(".lnb-ev-fb-label").fill("wrong-answer")
    detail.locator(".lnb-ev-fb-comment").fill("2 + 2 is 4 <script>alert(2)</script>")
    detail.locator(".lnb-ev-fb-save").click()
    expect(detail.locator(".lnb-ev-fb-status")).to_have_text("saved by tester")
    expect(detail.locator(".lnb-ev-fb-history .lnb-ev-fb-tag")).to_have_text("wrong-answer")
    table.locator(".lnb-ev-back").click()
    # and a thumb up straight from a row
    expect(table.locator(".lnb-ev-row[data-row='1'] .lnb-ev-thumb[data-value='down']")).to_have_attribute(
        "aria-pressed", "true")
    table.locator(".lnb-ev-row[data-row='2'] .lnb-ev-thumb[data-value='up']").click()
    expect(table.locator(".lnb-ev-row[data-row='2'] .lnb-ev-thumb[data-value='up']")).to_have_attribute(
        "aria-pressed", "true")
    expect(table.locator(".lnb-ev-summary-line")).to_contain_text("feedback on 2 (1 up, 1 down)")

    # read it back from Python in a later cell
    _run_cell(page, 1)
    output = page.locator(".jp-Cell").nth(1).locator(".jp-OutputArea-output")
    expect(output).to_contain_text("FEEDBACK", timeout=FIRST_RENDER_MS)
    given = json.loads(output.inner_text().split("FEEDBACK ", 1)[1].strip())
    assert sorted(given, key=lambda f: f["row_index"]) == [
        {"row_index": 1, "value": False, "label": "wrong-answer", "comment": "2 + 2 is 4 <script>alert(2)</script>",
         "author": "tester"},
        {"row_index": 2, "value": True, "label": None, "comment": None, "author": "tester"},
    ]

    # compare with the first run, picked in the widget
    picker = table.locator(".lnb-ev-compare")
    picker.focus()
    expect(picker.locator("option")).to_have_count(2)
    picker.select_option(index=1)
    expect(table.locator(".lnb-ev-title")).to_contain_text("compared with first try")
    expect(table.locator(".lnb-ev-card")).to_have_count(2)  # the scorers both runs have
    expect(table.locator(".lnb-ev-card[data-scorer='exact_match'] .lnb-ev-card-stats")).to_have_text(
        "1 win0 loss5 tie")
    expect(table.locator(".lnb-ev-row[data-row='1'] .lnb-ev-c-outputs del")).to_have_text("5")
    expect(table.locator(".lnb-ev-row[data-row='1'] .lnb-ev-c-outputs ins")).to_have_text("4")

    assert not problems, problems
    assert page.locator(".lnb-eval img, .lnb-eval script").count() == 0
    page.close()

    # and straight from the DuckDB file, in this process
    from llmops_nb._config import settings

    previous = settings.db
    llmops_nb.configure(db=str(db))
    try:
        stored = llmops_nb.feedback()
        assert sorted(stored.label.dropna()) == ["wrong-answer"] and set(stored.author) == {"tester"}
    finally:
        llmops_nb.configure(db=previous)
    print(f"first render {rendered:.1f} s")
