"""``%llm_traces`` in JupyterLab in Debian's headless chromium: the list renders the store's traces,
filters by name and status, sorts, and a click opens the trace in the explorer inside the same widget."""

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
