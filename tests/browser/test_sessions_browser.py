"""``%llm_sessions`` in JupyterLab and Notebook 7 in Debian's headless chromium: the list renders the store's
sessions and pages as it scrolls, a pick shows the conversation as user and assistant bubbles, a turn's
"open trace" shows its trace in the explorer and "back" returns, hostile strings stay text, and a saved
notebook shows the picked conversation's snapshot where no kernel runs."""

from __future__ import annotations

import time
from typing import Any

import nbformat
import pytest
from playwright.sync_api import expect

from llmops_nb.widgets._base import SAVED_VIEW_MIME
from tests.browser.conftest import FIRST_RENDER_MS, KNOWN_NOTEBOOK7_ERROR, JupyterServer, run_command, wait_kernel_idle
from tests.browser.test_explorer_browser import setup_cell

pytestmark = pytest.mark.browser

XSS = "<img src=x onerror=alert(1)>"
MAKE_SESSIONS = """\
for i in range(250):
    with llmops_nb.span("bulk", kind="CHAIN", session=f"bulk-{i:03d}") as root:
        root.set_inputs({"question": f"bulk question {i}"})
        root.set_outputs(f"bulk answer {i}")

@llmops_nb.trace(name="chat", kind="CHAIN", session="support-42")
def turn(question):
    with llmops_nb.span("llm", kind="CHAT_MODEL"):
        pass
    if question == "boom":
        raise RuntimeError("tool failed <b>badly</b>")
    return "Sure!\\n    an indented line"

for question in [XSS, "boom", "thanks"]:
    try:
        turn(question)
    except RuntimeError:
        pass
llmops_nb.flush()
""".replace("XSS", repr(XSS))


def _saved_html(path: Any) -> str:
    notebook = nbformat.read(path, as_version=4)
    return "\n".join(out["data"]["text/html"] for cell in notebook["cells"] for out in cell.get("outputs", [])
                     if SAVED_VIEW_MIME in out.get("data", {}))


def _browse_and_open(server: JupyterServer, page: Any, name: str, db: Any) -> Any:
    """Open a notebook of ``%llm_sessions``, page through the list, pick the conversation, open a turn's
    trace and come back; returns the widget's locator."""
    server.write_notebook(name, [setup_cell(db), MAKE_SESSIONS, "%llm_sessions"])
    server.open_notebook(page, name)

    widget = page.locator(".lnb-sessions")
    count = widget.locator(".lnb-ss-count")
    rows = widget.locator(".lnb-ss-row:not([hidden]):not(.lnb-ss-placeholder)")
    expect(rows.first.locator(".lnb-ss-c-session")).to_have_text("support-42", timeout=FIRST_RENDER_MS)
    # 251 sessions: the first page (100) says more follow, the second is prefetched; not counted yet
    expect(count).to_have_text("200+ sessions")
    expect(rows.first.locator(".lnb-ss-c-turns")).to_have_text("3")
    expect(rows.first.locator(".lnb-ss-c-errors")).to_have_text("1")
    expect(rows.first.locator(".lnb-ss-c-input")).to_have_text(XSS)
    expect(rows.nth(1).locator(".lnb-ss-c-session")).to_have_text("bulk-249")
    assert 10 <= rows.count() < 100  # a screenful, not every session: rows are virtualized
    viewport = widget.locator(".lnb-ss-viewport")
    viewport.evaluate("v => { v.scrollTop = v.scrollHeight; }")
    expect(count).to_have_text("251 sessions")  # the last page read: exact
    viewport.evaluate("v => { v.scrollTop = v.scrollHeight; }")  # the list grew: its end is further down
    expect(widget.locator(".lnb-ss-row[data-session='bulk-000']")).to_be_visible()
    viewport.evaluate("v => { v.scrollTop = 0; }")

    # pick the conversation: its turns as bubbles, the user's and the assistant's on either side
    rows.first.locator(".lnb-ss-c-session").click()
    transcript = widget.locator(".lnb-ss-transcript")
    expect(transcript.locator(".lnb-ss-t-count")).to_have_text("3 turns", timeout=FIRST_RENDER_MS)
    expect(widget.locator(".lnb-ss-row.lnb-ss-selected .lnb-ss-c-session")).to_have_text("support-42")
    users = transcript.locator(".lnb-ss-user .lnb-ss-text")
    expect(users).to_have_text([XSS, "boom", "thanks"])
    answers = transcript.locator(".lnb-ss-assistant .lnb-ss-text")
    expect(answers).to_have_count(2)
    assert answers.first.text_content() == "Sure!\n    an indented line"  # white space kept
    user_box = transcript.locator(".lnb-ss-user").first.bounding_box()
    answer_box = transcript.locator(".lnb-ss-assistant").first.bounding_box()
    assert user_box and answer_box and user_box["x"] + user_box["width"] > answer_box["x"] + answer_box["width"] + 20
    assert answer_box["x"] < user_box["x"]
    failed = transcript.locator(".lnb-ss-turn").nth(1)
    expect(failed.locator(".lnb-ss-turn-status")).to_have_text("ERROR")
    expect(failed.locator(".lnb-ss-turn-error")).to_contain_text("tool failed <b>badly</b>")

    # a turn's trace in the explorer, and back to the same conversation
    transcript.locator(".lnb-ss-turn").first.locator(".lnb-ss-open-trace").click()
    explorer = widget.locator(".lnb-explorer")
    expect(widget.locator(".lnb-ss-open-title")).to_have_text("session support-42 · turn 1")
    expect(explorer.locator(".lnb-trace-name")).to_have_text("chat", timeout=FIRST_RENDER_MS)
    expect(explorer.locator(".lnb-row:not([hidden]) .lnb-name")).to_have_text(["chat", "llm"])
    expect(transcript).to_be_hidden()
    widget.locator(".lnb-ss-back").click()
    expect(explorer).to_have_count(0)
    expect(transcript.locator(".lnb-ss-user .lnb-ss-text")).to_have_text([XSS, "boom", "thanks"])
    assert widget.locator("img, b").count() == 0  # the hostile strings stayed text
    return widget


@pytest.mark.parametrize("app", ["lab", "notebook"])
def test_list_pick_a_conversation_and_open_a_turn(request, page, page_problems, store_path, app):
    server: JupyterServer = request.getfixturevalue("jupyter_lab" if app == "lab" else "notebook7")
    _browse_and_open(server, page, f"sessions_{app}.ipynb", store_path)
    problems = [p for p in page_problems if not (app == "notebook" and KNOWN_NOTEBOOK7_ERROR in p)]
    assert not problems, problems


def test_the_saved_notebook_shows_the_picked_conversation_without_a_kernel(jupyter_lab, page, page_problems,
                                                                           store_path):
    name = "sessions_saved.ipynb"
    _browse_and_open(jupyter_lab, page, name, store_path)
    path = jupyter_lab.root / name
    deadline = time.monotonic() + 30
    while "Session support-42" not in _saved_html(path):  # the pick sent the output a new snapshot
        run_command(page, "docmanager:save")
        time.sleep(1)
        assert time.monotonic() < deadline, "the saved output never got the conversation's snapshot"
    saved = _saved_html(path)
    assert "&lt;img src=x onerror=alert(1)&gt;" in saved and "<img" not in saved and "<script" not in saved

    jupyter_lab.shutdown_kernels()
    page.reload()
    wait_kernel_idle(page)
    view = page.locator(".lnb-saved-view")
    expect(view).to_have_attribute("data-shown", "saved", timeout=FIRST_RENDER_MS)
    snapshot = view.locator(".lnb-saved-snapshot")
    expect(snapshot).to_contain_text("Session support-42: 3 turns")
    expect(snapshot).to_contain_text(XSS)
    expect(snapshot).to_contain_text("tool failed <b>badly</b>")
    assert snapshot.locator("img, b, script").count() == 0
    assert not page_problems, page_problems
