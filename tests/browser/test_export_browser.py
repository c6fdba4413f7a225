"""An exported notebook read offline in chromium: ``python -m llmops_nb export`` shows the trace.

The notebook is executed by nbclient, which saves the widget state in the notebook (its default,
``store_widget_state=True``, as ``jupyter execute`` and papermill do). Every request that is not for
a local file is blocked and recorded, so the page is read as it would be without a network.
"""

from __future__ import annotations

import os
import subprocess
import sys

import nbformat
import pytest
from nbclient import NotebookClient
from playwright.sync_api import expect

from tests.browser.conftest import ROOT
from tests.browser.test_explorer_browser import ANSWER, QUESTION, STREAMED, agent_cell, setup_cell
from tests.fakes import FakeLLMServer, Reply, Usage
from tests.glyphs import unsafe_glyphs

pytestmark = pytest.mark.browser

WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def _python(*args: str, cwd) -> str:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    done = subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=180,
                          check=False)
    assert done.returncode == 0, f"{args}: {done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture
def executed_notebook(tmp_path, store_path):
    """A notebook whose %%llm_trace cell ran in a real kernel (nbclient), saved with its widget state."""
    with FakeLLMServer() as server:
        server.enqueue(Reply(text=ANSWER, usage=Usage(input_tokens=14, output_tokens=12)))
        server.enqueue(Reply(text=STREAMED, usage=Usage(input_tokens=11, output_tokens=9)))
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(setup_cell(store_path)),
                                             nbformat.v4.new_code_cell(agent_cell(server.openai_base_url))])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "ANTHROPIC_"))}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
        NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
                       ).execute(env=env)
    assert WIDGET_STATE in nb.metadata.get("widgets", {}), "nbclient did not save the widget state"
    mimes = {mime for out in nb.cells[1].outputs for mime in out.get("data", {})}
    assert {"application/vnd.jupyter.widget-view+json", "text/html", "text/plain"} <= mimes, mimes
    path = tmp_path / "agent.ipynb"
    nbformat.write(nb, path)
    return path


@pytest.fixture
def offline(context):
    """Block every request that is not for a local file; return the list of blocked URLs."""
    blocked: list[str] = []

    def route(r):
        if r.request.url.startswith("file:"):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    context.set_offline(True)
    return blocked


def test_export_shows_the_snapshot_offline(executed_notebook, page, page_problems, offline):
    folder = executed_notebook.parent
    said = _python("-m", "llmops_nb", "export", executed_notebook.name, "-o", "export.html", cwd=folder)
    assert "export.html" in said
    _python("-m", "jupyter", "nbconvert", "--to", "html", executed_notebook.name, "--output", "plain.html",
            cwd=folder)

    page.goto((folder / "export.html").as_uri())
    snapshot = page.locator(".llmops-nb-snapshot")
    expect(snapshot).to_have_count(1)
    expect(snapshot).to_be_visible()
    expect(snapshot).to_contain_text("trace capital-agent")
    expect(snapshot).to_contain_text("4 spans")
    # the span tree, every span's name, then each LLM call's messages once its <details> is open
    for name in ("capital-agent", "lookup_capital", "openai.chat.completions.create"):
        expect(snapshot.locator("summary", has_text=name).first).to_be_visible()
    snapshot.evaluate("el => el.querySelectorAll('details').forEach(d => { d.open = true; })")
    for text in (QUESTION, "Welcome me to Paris", "Paris is the capital of France.", "It sits on the Seine.",
                 STREAMED):
        expect(snapshot.get_by_text(text, exact=False).first).to_be_visible()
    # the cell's source, the root's input, reads as code with its line breaks, not as a JSON string
    source = snapshot.locator("pre", has_text="def lookup_capital(country: str) -> str:")
    expect(source).to_have_count(1)
    code = source.inner_text()
    assert 'capital = lookup_capital("France")\nreply = client.chat.completions.create(\n' in code
    assert "\\n" not in code and '\\"' not in code
    # and nothing in the snapshot needs a font the reader may not have
    assert unsafe_glyphs(snapshot.inner_text()) == set()
    assert not page_problems, page_problems
    export_blocked = list(offline)

    # Plain nbconvert, for the record (not a failure): with saved widget state it prefers the widget
    # view, whose scripts come from CDNs; offline the output is empty and the snapshot is not in the page.
    offline.clear()
    page.goto((folder / "plain.html").as_uri())
    page.wait_for_load_state("load")
    shown = page.locator(".llmops-nb-snapshot").count()
    words = page.locator(".jp-OutputArea-output").last.inner_text().strip()
    print(f"\nexport.html: snapshot shown; requests blocked: {export_blocked or 'none'}"
          f"\nplain nbconvert offline: snapshot elements {shown}, trace output text {words[:80]!r}; "
          f"blocked {len(offline)} requests: {sorted({u.split('/')[2] for u in offline if '://' in u})}")
