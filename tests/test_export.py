"""HTML exports of notebooks with trace outputs: plain nbconvert's measured gap and ``llmops_nb export``."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

import llmops_nb
from llmops_nb import _export
from llmops_nb._export import export_html
from llmops_nb.widgets.explorer._snapshot import trace_snapshot
from tests.support import ROOT

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
MARKER = "refund-agent-q7x"  # a span name that appears nowhere but in the snapshot
MODEL_ID = "6d1f0c2a9b8e4f7d8c3b2a1f0e9d8c7b"


def agent_trace() -> str:
    with llmops_nb.span(MARKER, kind="AGENT") as root:
        with llmops_nb.span("openai.chat.completions.create", kind="CHAT_MODEL") as llm:
            llm.set_inputs({"messages": [{"role": "user", "content": "Can I get a refund?"}]})
            llm.set_outputs({"choices": [{"message": {"role": "assistant", "content": "Yes, within 30 days."}}]})
    llmops_nb.flush()
    return root.trace_id


def notebook_with_trace_output(path: Path, trace_id: str, *, saved_state: bool) -> Path:
    """A notebook shaped like a run of ``%%llm_trace``: one output with the widget view and the snapshot."""
    cell = nbformat.v4.new_code_cell("%%llm_trace\nagent()", execution_count=1)
    cell.outputs = [nbformat.v4.new_output(
        "display_data",
        data={**trace_snapshot(trace_id), WIDGET_VIEW: {"version_major": 2, "version_minor": 1, "model_id": MODEL_ID}})]
    nb = nbformat.v4.new_notebook(cells=[cell])
    if saved_state:  # as nbclient stores it (store_widget_state=True), anywidget's _esm included
        nb.metadata["widgets"] = {WIDGET_STATE: {"version_major": 2, "version_minor": 0, "state": {MODEL_ID: {
            "model_name": "AnyModel", "model_module": "anywidget", "model_module_version": "~0.9.*",
            "state": {"_esm": "export default { render({ el }) { el.textContent = 'live'; } }",
                      "trace_id": trace_id}}}}}
    nbformat.write(nb, path)
    return path


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
                          check=False)


def nbconvert(notebook: Path, *options: str) -> str:
    out = notebook.with_name(notebook.stem + "-nbconvert.html")
    done = run("-m", "jupyter", "nbconvert", "--to", "html", str(notebook), "--output", out.stem, *options,
               cwd=notebook.parent)
    assert done.returncode == 0, done.stderr
    return out.read_text(encoding="utf-8")


def llmops_export(notebook: Path) -> str:
    out = notebook.with_name(notebook.stem + "-export.html")
    done = run("-m", "llmops_nb", "export", str(notebook), "-o", str(out), cwd=notebook.parent)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"Wrote {out} (") and "readable offline" in done.stdout
    return out.read_text(encoding="utf-8")


def assert_snapshot_shown(page: str) -> None:
    assert MARKER in page and re.search(r'<details open(="")?><summary><code>AGENT</code>', page)
    assert "Yes, within 30 days." in page


# -- the gap in plain nbconvert, and the export that closes it ----------------------------------

def test_plain_nbconvert_with_saved_widget_state_drops_the_snapshot(tmp_path):
    notebook = notebook_with_trace_output(tmp_path / "run.ipynb", agent_trace(), saved_state=True)
    page = nbconvert(notebook)
    assert MARKER not in page and "Yes, within 30 days." not in page  # the measured problem
    assert f'<script type="{WIDGET_VIEW}">' in page  # an empty div that only CDN scripts would fill


def test_llmops_export_with_saved_widget_state_shows_the_snapshot(tmp_path):
    notebook = notebook_with_trace_output(tmp_path / "run.ipynb", agent_trace(), saved_state=True)
    page = llmops_export(notebook)
    assert_snapshot_shown(page)
    assert f'<script type="{WIDGET_VIEW}">' not in page


def test_without_saved_state_both_show_the_snapshot(tmp_path):
    notebook = notebook_with_trace_output(tmp_path / "lab.ipynb", agent_trace(), saved_state=False)
    assert_snapshot_shown(nbconvert(notebook))
    assert_snapshot_shown(llmops_export(notebook))


def test_the_documented_nbconvert_command_works(tmp_path):
    doc = re.sub(r"\\\n\s*", "", _export.__doc__ or "")
    found = re.search(r'--NbConvertBase\.display_data_priority="(\[.*?\])"', doc)
    assert found, "the module docstring documents the nbconvert option"
    priority = ast.literal_eval(found.group(1))
    assert priority[:2] == ["text/html", WIDGET_VIEW] and "image/png" in priority and "text/plain" in priority
    notebook = notebook_with_trace_output(tmp_path / "run.ipynb", agent_trace(), saved_state=True)
    assert_snapshot_shown(nbconvert(notebook, f"--NbConvertBase.display_data_priority={priority!r}"))


def test_only_html_moves_first_in_the_priority():
    default = ["application/vnd.jupyter.widget-view+json", "application/javascript", "text/html", "image/png",
               "text/plain"]
    assert _export.snapshot_first_priority(default) == [
        "text/html", "application/vnd.jupyter.widget-view+json", "application/javascript", "image/png", "text/plain"]


def test_other_widgets_keep_their_view(tmp_path):
    """A widget without an HTML fallback (an ipywidgets slider) still gets its live view when online."""
    notebook = notebook_with_trace_output(tmp_path / "run.ipynb", agent_trace(), saved_state=True)
    nb = nbformat.read(notebook, as_version=4)
    slider = nbformat.v4.new_code_cell("slider", execution_count=2)
    slider.outputs = [nbformat.v4.new_output("display_data", data={
        "text/plain": "IntSlider(value=3)", WIDGET_VIEW: {"version_major": 2, "version_minor": 0, "model_id": "s1"}})]
    nb.cells.append(slider)
    nb.metadata["widgets"][WIDGET_STATE]["state"]["s1"] = {
        "model_name": "IntSliderModel", "model_module": "@jupyter-widgets/controls", "model_module_version": "2.0.0",
        "state": {"value": 3}}
    nbformat.write(nb, notebook)
    page = export_html(notebook).read_text(encoding="utf-8")
    assert_snapshot_shown(page)
    assert page.count(f'<script type="{WIDGET_VIEW}">') == 1 and '"model_id": "s1"' in page


# -- the function and the command line ---------------------------------------------------------

def test_export_html_writes_beside_the_notebook_by_default(tmp_path):
    notebook = notebook_with_trace_output(tmp_path / "analysis.ipynb", agent_trace(), saved_state=True)
    written = export_html(notebook)
    assert written == tmp_path / "analysis.html"
    assert_snapshot_shown(written.read_text(encoding="utf-8"))
    nested = export_html(str(notebook), tmp_path / "out" / "shared.html")
    assert nested == tmp_path / "out" / "shared.html" and nested.is_file()


def test_export_errors_name_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"No notebook at .*missing\.ipynb"):
        export_html(tmp_path / "missing.ipynb")
    notebook = notebook_with_trace_output(tmp_path / "a.ipynb", agent_trace(), saved_state=False)
    with pytest.raises(ValueError, match="would overwrite the notebook"):
        export_html(notebook, notebook)
    done = run("-m", "llmops_nb", "export", str(tmp_path / "missing.ipynb"), cwd=tmp_path)
    assert done.returncode == 2 and "llmops_nb export: No notebook at" in done.stderr
    usage = run("-m", "llmops_nb", cwd=tmp_path)
    assert usage.returncode == 2 and "export" in usage.stderr


# -- a notebook executed for real by nbclient --------------------------------------------------

def execute(cells: list[str], db: Path) -> nbformat.NotebookNode:
    """Run cells in a fresh kernel, saving widget state as nbclient does by default."""
    setup = f"import llmops_nb\nllmops_nb.configure(db={str(db)!r})\n%load_ext llmops_nb"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in [setup, *cells]])
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    client = NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=False,
                            resources={"metadata": {"path": str(db.parent)}})
    assert client.store_widget_state
    client.execute(env=env)
    return nb


def test_nbclient_executed_notebook_saves_the_snapshot_and_exports_it(tmp_path, store_path):
    # The texts are assembled at run time so that only the snapshot, not the cell source, contains them.
    nb = execute([
        f"@llmops_nb.trace(name={MARKER[:6]!r} + {MARKER[6:]!r}, kind='AGENT')\n"
        "def agent(question):\n"
        "    with llmops_nb.span('llm', kind='CHAT_MODEL') as s:\n"
        "        s.set_inputs({'messages': [{'role': 'user', 'content': question}]})\n"
        "        reply = 'Yes, within ' + '30 days.'\n"
        "        s.set_outputs({'choices': [{'message': {'role': 'assistant', 'content': reply}}]})\n"
        "    return 'ok'",
        "%%llm_trace\nagent('Can I get a refund?')",
    ], store_path)
    traced = nb.cells[2]
    shown = [out for out in traced.outputs if out.output_type == "display_data" and "text/html" in out.data]
    assert len(shown) == 1, traced.outputs
    data = shown[0].data
    assert "<details open>" in data["text/html"] and MARKER in data["text/html"]
    assert "Can I get a refund?" in data["text/html"] and "Yes, within 30 days." in data["text/html"]
    assert "<script" not in data["text/html"].lower()
    assert f"AGENT {MARKER}" in data["text/plain"] and "CHAT_MODEL llm" in data["text/plain"]

    notebook = tmp_path / "executed.ipynb"
    nbformat.write(nb, notebook)
    page = llmops_export(notebook)
    assert MARKER in page and "Yes, within 30 days." in page
    if WIDGET_VIEW in data and WIDGET_STATE in nb.metadata.get("widgets", {}):
        plain = nbconvert(notebook)  # the explorer's view won: plain nbconvert shows nothing offline
        assert MARKER not in plain and "Yes, within 30 days." not in plain
