"""``%llm_traces`` in JupyterLab in Debian's headless chromium: the list renders the store's traces,
filters by name and status, sorts, and a click opens the trace in the explorer inside the same widget;
the preview, session and model columns, the evaluation-trace toggle, and the run and session chips."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import FIRST_RENDER_MS
from tests.browser.test_explorer_browser import setup_cell

pytestmark = pytest.mark.browser

MAKE_TRACES = """\
for i in range(40):
    with llmops_nb.span(f"batch-{i:02d}", kind="CHAIN"):
        with llmops_nb.span("step", kind="TOOL"):
            pass
for k, question in enumerate(["refund for order 7?", "refund for order 8?", "refund <b>now</b>?"]):
    with llmops_nb.span(f"refund-agent-{k}", kind="AGENT"):
        with llmops_nb.span("openai.chat.completions.create", kind="CHAT_MODEL") as llm:
            llm.set_inputs({"messages": [{"role": "user", "content": question}]})
            llm.set_outputs({"choices": [{"message": {"role": "assistant", "content": f"Refund {k} approved."}}]})
try:
    with llmops_nb.span("broken-job", kind="CHAIN"):
        raise RuntimeError("the job broke")
except RuntimeError:
    pass
llmops_nb.flush()
"""


def test_list_filter_and_open_a_trace(jupyter_lab, page, page_problems, store_path):
    jupyter_lab.write_notebook("traces.ipynb", [setup_cell(store_path), MAKE_TRACES, "%llm_traces"])
    jupyter_lab.open_notebook(page, "traces.ipynb")

    widget = page.locator(".lnb-trace-list")
    count = widget.locator(".lnb-tl-count")
    expect(count).to_have_text("44 traces", timeout=FIRST_RENDER_MS)
    rows = widget.locator(".lnb-tl-row:not([hidden]):not(.lnb-tl-placeholder)")
    expect(rows.first).to_be_visible()
    assert rows.count() >= 10  # a screenful, not all 44: rows are virtualized
    # newest first: the failed job, then the refund agents
    expect(rows.nth(0).locator(".lnb-tl-name-text")).to_have_text("broken-job")
    expect(rows.nth(0).locator(".lnb-tl-c-status")).to_have_text("ERROR")
    expect(rows.nth(1).locator(".lnb-tl-name-text")).to_have_text("refund-agent-2")
    expect(rows.nth(1).locator(".lnb-tl-c-spans")).to_have_text("2")

    # filter by name (a wildcard), then sort by name
    widget.locator(".lnb-tl-f-name").fill("refund*")
    widget.locator(".lnb-tl-f-name").press("Enter")
    expect(count).to_have_text("3 traces")
    expect(rows.locator(".lnb-tl-name-text")).to_have_text(["refund-agent-2", "refund-agent-1", "refund-agent-0"])
    widget.locator(".lnb-tl-sort", has_text="Name").click()
    expect(widget.locator(".lnb-tl-head [aria-sort='ascending']")).to_contain_text("Name")
    expect(rows.locator(".lnb-tl-name-text")).to_have_text(["refund-agent-0", "refund-agent-1", "refund-agent-2"])

    # the status filter, on top of the name filter: nothing; then alone: the failed job
    widget.locator(".lnb-tl-f-status").select_option("ERROR")
    expect(count).to_have_text("0 traces")
    expect(widget.locator(".lnb-tl-empty")).to_have_text("No trace matches these filters.")
    widget.locator(".lnb-tl-f-name").fill("")
    widget.locator(".lnb-tl-f-name").press("Enter")
    expect(count).to_have_text("1 trace")
    expect(rows.locator(".lnb-tl-name-text")).to_have_text(["broken-job"])
    widget.locator(".lnb-tl-f-status").select_option("")
    widget.locator(".lnb-tl-f-name").fill("refund*")
    widget.locator(".lnb-tl-f-name").press("Enter")
    expect(count).to_have_text("3 traces")

    # a click opens the trace in the explorer, in the same widget
    rows.nth(2).click()
    explorer = widget.locator(".lnb-explorer")
    expect(widget.locator(".lnb-tl-list")).to_be_hidden()
    expect(widget.locator(".lnb-tl-open-title")).to_have_text("refund-agent-2")
    expect(explorer.locator(".lnb-trace-name")).to_have_text("refund-agent-2", timeout=FIRST_RENDER_MS)
    spans = explorer.locator(".lnb-row:not([hidden])")
    expect(spans.locator(".lnb-name")).to_have_text(["refund-agent-2", "openai.chat.completions.create"])
    spans.nth(1).click()
    expect(explorer.locator(".lnb-msg.lnb-role-user .lnb-msg-text")).to_have_text("refund <b>now</b>?")
    expect(explorer.locator(".lnb-msg.lnb-role-assistant .lnb-msg-text")).to_have_text("Refund 2 approved.")

    # back to the list, as it was
    widget.locator(".lnb-tl-back").click()
    expect(explorer).to_have_count(0)
    expect(count).to_have_text("3 traces")
    expect(rows.locator(".lnb-tl-name-text")).to_have_text(["refund-agent-0", "refund-agent-1", "refund-agent-2"])
    assert widget.locator("b").count() == 0  # the trace's "<b>now</b>" stayed text
    assert not page_problems, page_problems


APP_TRACE = """\
with llmops_nb.span("answer", kind="CHAIN") as root:
    root.set_inputs({"question": "capital of <b>France</b>?"})
    root.set_outputs({"answer": "Paris"})
    with llmops_nb.span("llm", kind="CHAT_MODEL") as llm:
        llm.set_attributes({"gen_ai.request.model": "gpt-4o-mini"})
"""
SESSION_TURN = """\
%%llm_trace --name support-chat --session s-42 --no-display
with llmops_nb.span("llm", kind="CHAT_MODEL") as llm:
    llm.set_attributes({"gen_ai.request.model": "claude-3-5-haiku"})
"""
EVAL_RUNS = """\
data = [{"inputs": {"question": f"q{i}"}} for i in range(3)]
one = llmops_nb.evaluate(data, predict_fn=lambda question: question.upper(), name="top-1", progress=False)
two = llmops_nb.evaluate(data[:2], predict_fn=lambda question: question.upper(), name="top-2, short", progress=False)
llmops_nb.flush()
"""


def test_columns_eval_toggle_and_chips(jupyter_lab, page, page_problems, store_path):
    jupyter_lab.write_notebook("linked.ipynb", [setup_cell(store_path), EVAL_RUNS, APP_TRACE, SESSION_TURN,
                                                SESSION_TURN, "%llm_traces"])
    jupyter_lab.open_notebook(page, "linked.ipynb")

    widget = page.locator(".lnb-trace-list")
    count = widget.locator(".lnb-tl-count")
    toggle = widget.locator(".lnb-tl-evals")
    rows = widget.locator(".lnb-tl-row:not([hidden]):not(.lnb-tl-placeholder)")
    # the five evaluation traces are hidden and counted on the toggle
    expect(count).to_have_text("3 traces", timeout=FIRST_RENDER_MS)
    expect(toggle).to_have_text("show evaluation traces (5)")
    expect(rows.locator(".lnb-tl-name-text")).to_have_text(["support-chat", "support-chat", "answer"])
    # the new columns: request and response previews, session (a chip), model
    answer = rows.nth(2)
    expect(answer.locator(".lnb-tl-c-request")).to_have_text("capital of <b>France</b>?")
    expect(answer.locator(".lnb-tl-c-response")).to_have_text("Paris")
    expect(answer.locator(".lnb-tl-c-model")).to_have_text("gpt-4o-mini")
    expect(answer.locator(".lnb-tl-chip-session")).to_be_hidden()
    expect(rows.nth(0).locator(".lnb-tl-c-model")).to_have_text("claude-3-5-haiku")
    expect(rows.nth(0).locator(".lnb-tl-chip-session")).to_have_text("s-42")
    expect(widget.locator(".lnb-tl-head")).to_contain_text("Request")
    for header in ("Response", "Session", "Model"):
        expect(widget.locator(".lnb-tl-head")).to_contain_text(header)

    # a session chip lists that session's traces (and does not open the trace)
    rows.nth(0).locator(".lnb-tl-chip-session").click()
    expect(count).to_have_text("2 traces")
    expect(widget.locator(".lnb-tl-f-session")).to_have_value("s-42")
    expect(widget.locator(".lnb-tl-list")).to_be_visible()
    widget.locator(".lnb-tl-btn", has_text="clear").click()
    expect(count).to_have_text("3 traces")

    # the toggle shows the evaluation traces, named by run and row, with a chip to their run
    toggle.locator("input").check()
    expect(count).to_have_text("8 traces")
    names = rows.locator(".lnb-tl-name-text")
    expect(names.nth(3)).to_have_text("top-2, short · row 1")
    assert sorted(names.all_text_contents()) == sorted(
        ["support-chat", "support-chat", "answer", "top-2, short · row 0", "top-2, short · row 1",
         "top-1 · row 0", "top-1 · row 1", "top-1 · row 2"])
    assert "llmops_nb.eval_run" not in widget.locator(".lnb-tl-table").inner_text()
    top1 = rows.filter(has_text="top-1 · row 2")
    top1.locator(".lnb-tl-chip-run").click()
    expect(count).to_have_text("3 traces")
    expect(names).to_have_text(["top-1 · row 2", "top-1 · row 1", "top-1 · row 0"])
    expect(toggle.locator("input")).to_be_disabled()

    # an evaluation trace opened from the list links back to its run
    rows.nth(0).locator(".lnb-tl-c-start").click()
    expect(widget.locator(".lnb-tl-open-title")).to_have_text("top-1 · row 2")
    expect(widget.locator(".lnb-tl-bar .lnb-tl-chip-run")).to_have_text("eval run top-1")
    widget.locator(".lnb-tl-bar .lnb-tl-chip-run").click()
    expect(widget.locator(".lnb-tl-list")).to_be_visible()
    expect(count).to_have_text("3 traces")
    assert widget.locator("b").count() == 0  # "<b>France</b>" stayed text
    assert not page_problems, page_problems
