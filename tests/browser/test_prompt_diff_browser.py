"""The PromptDiff widget in a real JupyterLab, in Debian's headless chromium.

A notebook registers three versions of a prompt with ``%%llm_prompt`` (each later one shows its diff
from the previous version as the widget), then opens the widget on the prompt. The test picks v1 and
v3 in the version history, checks that exactly the words the kernel's difflib changed are highlighted
on both sides, toggles the inline view, and reads the picked versions back from Python. A hostile
commit message shows as text.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from llmops_nb._diff import diff
from tests.browser.conftest import FIRST_RENDER_MS, run_command

pytestmark = pytest.mark.browser

V1 = "Hello {{name}}, welcome aboard."
V2 = "Hello {{name}}, a very warm welcome aboard."
V3 = "Good morning {{name}}, welcome to {{team}}."
XSS = "<img src=x onerror=window.__xss=1>"


def notebook_cells(db) -> list[str]:
    return [
        f"%load_ext llmops_nb\nimport llmops_nb\nllmops_nb.configure(db={str(db)!r})",
        f"%%llm_prompt greet -m first\n{V1}",
        f"%%llm_prompt greet -m warmer --alias staging\n{V2}",
        f'%%llm_prompt greet -m "{XSS}" --alias production\n{V3}',
        "from llmops_nb.widgets import PromptDiffWidget\nw = PromptDiffWidget('greet')\nw",
        "print('STATE', w.name, w.a, w.b, w.mode)",
    ]


def test_pick_two_versions_and_see_the_changed_words(jupyter_lab, page, page_problems, store_path):
    jupyter_lab.write_notebook("prompt_diff.ipynb", notebook_cells(store_path))
    jupyter_lab.open_notebook(page, "prompt_diff.ipynb")

    views = page.locator(".lnb-prompt-diff")
    expect(views).to_have_count(3, timeout=FIRST_RENDER_MS)  # two %%llm_prompt diffs and the widget cell
    # the widget is what shows, not its text/html fallback
    expect(page.locator(".jp-OutputArea-output .llmops-nb-prompt-diff")).to_have_count(0)
    view = views.nth(2)
    expect(view.locator(".lnb-pd-label-a")).to_have_text("greet v2", timeout=FIRST_RENDER_MS)
    expect(view.locator(".lnb-pd-label-b")).to_have_text("greet v3")
    history = view.locator(".lnb-pd-hrow")
    expect(history.locator(".lnb-pd-version")).to_have_text(["v3", "v2", "v1"])
    expect(history.nth(0).locator(".lnb-pd-alias")).to_have_text("@production")
    expect(history.nth(1).locator(".lnb-pd-alias")).to_have_text("@staging")
    expect(history.nth(0).locator(".lnb-pd-message")).to_have_text(XSS)  # as text, never as an element

    # pick v1 as the old side (B stays on v3): the kernel diffs them and the view marks the words
    history.nth(2).locator(".lnb-pd-pick-a").click()
    expect(view.locator(".lnb-pd-label-a")).to_have_text("greet v1")
    expect(history.nth(2)).to_contain_class("lnb-pd-is-a")
    expect(history.nth(0)).to_contain_class("lnb-pd-is-b")
    words = diff(V1, V3).ops[0]["words"]
    removed = [a for tag, a, _ in words if tag in ("replace", "delete") and a]
    added = [b for tag, _, b in words if tag in ("replace", "insert") and b]
    rows = view.locator(".lnb-pd-rows.lnb-pd-side")
    expect(rows.locator(".lnb-pd-del del.lnb-pd-wdel")).to_have_text(removed)
    expect(rows.locator(".lnb-pd-ins ins.lnb-pd-wins")).to_have_text(added)
    assert any("Good morning" in w for w in added) and any("aboard" in w for w in removed)
    expect(rows.locator(".lnb-pd-var-added")).to_have_text(["{{team}}"])  # the new variable stands out
    expect(view.locator(".lnb-pd-vars .lnb-pd-var-added")).to_have_text("+{{team}}")
    # the highlight is visible: a tinted background, not only a class
    assert rows.locator("ins.lnb-pd-wins").first.evaluate("e => getComputedStyle(e).backgroundColor") not in (
        "rgba(0, 0, 0, 0)", "transparent")

    # inline: one line with the removed words struck through before the added ones
    view.locator('.lnb-pd-mode[data-mode="inline"]').click()
    inline = view.locator(".lnb-pd-rows.lnb-pd-inline")
    expect(inline.locator(".lnb-pd-chg del.lnb-pd-wdel")).to_have_text(removed)
    expect(inline.locator(".lnb-pd-chg ins.lnb-pd-wins")).to_have_text(added)
    expect(view.locator(".lnb-pd-rows.lnb-pd-side")).to_have_count(0)

    # the picks are view state in traitlets: Python reads them
    page.evaluate("() => { window.jupyterapp.shell.currentWidget.content.activeCellIndex = 5; }")
    run_command(page, "notebook:run-cell")
    state = page.locator(".jp-Cell").nth(5).locator(".jp-OutputArea-output")
    expect(state).to_have_text("STATE greet 1 3 inline", timeout=FIRST_RENDER_MS)

    assert views.locator("img, script").count() == 0
    assert page.evaluate("() => window.__xss") is None
    assert not page_problems
