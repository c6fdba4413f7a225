"""EvalTable in JupyterLab in Debian's headless chromium, one feature a test: rows and cards render
(strings as text), sorting by a score, opening a row (the judge's rationale, the row's trace and the
judge's span in it), feedback given in the widget read back from Python and from the DuckDB file,
and comparing with another run picked in the widget. On the shared fixtures of conftest.py.
"""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

import llmops_nb
from tests.browser.conftest import FIRST_RENDER_MS, run_cell

pytestmark = pytest.mark.browser

XSS = "<img src=x onerror=alert(1)>"

SETUP = f"""\
import llmops_nb
from llmops_nb.evals import datasets, evaluate, make_judge, scorers
from llmops_nb.widgets import display_eval
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


@pytest.fixture
def table(jupyter_lab, page, store_path):
    """The second run's EvalTable, rendered: a notebook whose first cell runs both evaluations."""
    jupyter_lab.write_notebook("eval.ipynb", [SETUP.replace("{DB!r}", repr(str(store_path))), READ_BACK])
    jupyter_lab.open_notebook(page, "eval.ipynb", run_all=False)
    run_cell(page, 0)
    widget = page.locator(".lnb-eval").first
    expect(widget.locator(".lnb-ev-row[data-row]")).to_have_count(6, timeout=FIRST_RENDER_MS)
    return widget


def test_rows_and_a_card_per_scorer_render_with_strings_as_text(table, page, page_problems):
    expect(table.locator(".lnb-ev-card")).to_have_count(3)
    expect(table.locator(".lnb-ev-title")).to_contain_text("second try")
    expect(table.locator(".lnb-ev-row[data-row='3'] .lnb-ev-c-inputs")).to_have_text(XSS)
    expect(table.locator(".lnb-ev-row[data-row='3'] .lnb-ev-c-outputs")).to_have_text("<b>no idea</b>")
    assert page.locator(".lnb-eval img, .lnb-eval script").count() == 0
    assert not page_problems, page_problems


def test_sorting_by_a_score_puts_the_lowest_first_then_the_highest(table, page_problems):
    rows = table.locator(".lnb-ev-row[data-row]")
    sort = table.locator(".lnb-ev-sort", has_text="overlap")
    sort.click()
    expect(table.locator(".lnb-ev-head [aria-sort='ascending']")).to_contain_text("overlap")
    expect(rows.first).to_have_attribute("data-row", "3")  # overlap 0: rows 3, 4, 5; ties in row order
    sort.click()
    expect(table.locator(".lnb-ev-head [aria-sort='descending']")).to_contain_text("overlap")
    expect(rows.first).to_have_attribute("data-row", "0")
    assert [rows.nth(i).get_attribute("data-row") for i in range(6)] == ["0", "1", "2", "3", "4", "5"]
    assert not page_problems, page_problems


def test_an_open_row_shows_the_judges_rationale_and_its_span_in_the_trace(table, page_problems):
    table.locator(".lnb-ev-row[data-row='1'] .lnb-ev-c-inputs").click()
    detail = table.locator(".lnb-ev-row-detail")
    expect(detail).to_have_attribute("data-row", "1")
    judge = detail.locator(".lnb-ev-score[data-scorer='helpful']")
    expect(judge.locator(".lnb-ev-rationale")).to_have_text("the judge says no")
    explorer = table.locator(".lnb-explorer")
    expect(explorer.locator(".lnb-trace-name")).to_have_text("second try", timeout=FIRST_RENDER_MS)
    judge.locator(".lnb-ev-link").click()
    expect(explorer.locator(".lnb-row.lnb-selected .lnb-name")).to_have_text("helpful")
    table.locator(".lnb-ev-back").click()
    expect(table.locator(".lnb-ev-list")).to_be_visible()
    assert not page_problems, page_problems


def test_feedback_given_in_the_table_is_read_back_from_python_and_the_file(table, page, page_problems):
    table.locator(".lnb-ev-row[data-row='1'] .lnb-ev-c-inputs").click()
    detail = table.locator(".lnb-ev-row-detail")
    detail.locator(".lnb-ev-fb-down").click()
    detail.locator(".lnb-ev-fb-label").fill("wrong-answer")
    detail.locator(".lnb-ev-fb-comment").fill("2 + 2 is 4 <script>alert(2)</script>")
    detail.locator(".lnb-ev-fb-save").click()
    expect(detail.locator(".lnb-ev-fb-status")).to_have_text("saved by tester")
    expect(detail.locator(".lnb-ev-fb-history .lnb-ev-fb-tag")).to_have_text("wrong-answer")
    table.locator(".lnb-ev-back").click()
    expect(table.locator(".lnb-ev-row[data-row='1'] .lnb-ev-thumb[data-value='down']")).to_have_attribute(
        "aria-pressed", "true")
    up = table.locator(".lnb-ev-row[data-row='2'] .lnb-ev-thumb[data-value='up']")
    up.click()
    expect(up).to_have_attribute("aria-pressed", "true")
    expect(table.locator(".lnb-ev-summary-line")).to_contain_text("feedback on 2 (1 up, 1 down)")

    run_cell(page, 1)  # a later cell of the same kernel
    output = page.locator(".jp-Cell").nth(1).locator(".jp-OutputArea-output")
    expect(output).to_contain_text("FEEDBACK", timeout=FIRST_RENDER_MS)
    given = json.loads(output.inner_text().split("FEEDBACK ", 1)[1].strip())
    assert sorted(given, key=lambda f: f["row_index"]) == [
        {"row_index": 1, "value": False, "label": "wrong-answer", "comment": "2 + 2 is 4 <script>alert(2)</script>",
         "author": "tester"},
        {"row_index": 2, "value": True, "label": None, "comment": None, "author": "tester"},
    ]
    stored = llmops_nb.feedback()  # this process reads the same DuckDB file (store_path)
    assert sorted(stored.label.dropna()) == ["wrong-answer"] and set(stored.author) == {"tester"}
    assert not page_problems, page_problems


def test_comparing_with_a_run_picked_in_the_table(table, page_problems):
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
    assert not page_problems, page_problems


def test_keys_keep_working_after_a_row_is_opened_with_the_mouse(table, page, page_problems):
    # a click opens row 1: the keyboard is in the open row (no click needed to give it back)
    table.locator(".lnb-ev-row[data-row='1'] .lnb-ev-c-inputs").click()
    detail = table.locator(".lnb-ev-row-detail")
    expect(detail).to_have_attribute("data-row", "1")
    panel = table.locator(".lnb-ev-detail")
    expect(panel).to_be_focused()
    # Down and Up open the next and the previous row
    page.keyboard.press("ArrowDown")
    expect(detail).to_have_attribute("data-row", "2")
    page.keyboard.press("ArrowUp")
    expect(detail).to_have_attribute("data-row", "1")
    # a click on the card's text leaves the keyboard in the view
    detail.locator(".lnb-ev-rationale").first.click()
    expect(panel).to_be_focused()
    # Escape goes back to the rows, the keyboard in the list on the row that was open, with a ring
    page.keyboard.press("Escape")
    expect(table.locator(".lnb-ev-list")).to_be_visible()
    viewport = table.locator(".lnb-ev-viewport")
    expect(viewport).to_be_focused()
    active = table.locator(".lnb-ev-row.lnb-ev-active")
    expect(active).to_have_attribute("data-row", "1")
    assert "2px" in active.evaluate("r => getComputedStyle(r).boxShadow")
    page.keyboard.press("ArrowDown")
    expect(active).to_have_attribute("data-row", "2")
    page.keyboard.press("Enter")
    expect(detail).to_have_attribute("data-row", "2")
    expect(panel).to_be_focused()
    # the notebook did not take the keys: still the same notebook cell, not in edit mode
    assert page.locator(".jp-Notebook.jp-mod-editMode").count() == 0
    assert not page_problems, page_problems


def test_sized_to_its_rows_resizable_usage_columns_and_a_snapshot_after_feedback(table, page, page_problems):
    # as tall as its six rows (under the 620 px limit), every row shown without scrolling
    viewport = table.locator(".lnb-ev-viewport")
    expect(table.locator(".lnb-ev-card")).to_have_count(3)
    fitted = table.bounding_box()["height"]
    assert 300 < fitted < 620, fitted
    assert viewport.evaluate("v => v.scrollHeight <= v.clientHeight + 1")
    assert table.evaluate("t => getComputedStyle(t).resize") == "vertical"
    heads = table.locator(".lnb-ev-head").inner_text()
    assert "Latency" in heads and "Tokens" in heads and "Cost" in heads
    # the overlap histogram stands on its [0, 1] axis: the axis' ends are labelled 0 and 1
    ticks = table.locator(".lnb-ev-card[data-scorer='overlap'] .lnb-ev-tick")
    expect(ticks).to_have_text(["0", "1"])
    # after feedback the view hands the notebook a fresh snapshot; heard on the way down (capture), as
    # the extension that saves it stops the event at the output
    page.evaluate("() => { window.__snaps = []; document.addEventListener('lnb-snapshot', "
                  "(e) => window.__snaps.push(e.detail), true); }")
    up = table.locator(".lnb-ev-row[data-row='2'] .lnb-ev-thumb[data-value='up']")
    up.click()
    expect(up).to_have_attribute("aria-pressed", "true")
    page.wait_for_function("() => window.__snaps.length > 0", timeout=FIRST_RENDER_MS)
    snap = page.evaluate("() => window.__snaps[0]")
    assert ">thumbs up</span>" in snap["text/html"] and "feedback on 1 (1 up, 0 down)" in snap["text/plain"]
    # an open row takes the whole height it may have
    table.locator(".lnb-ev-row[data-row='1'] .lnb-ev-c-inputs").click()
    expect(table.locator(".lnb-ev-row-detail")).to_have_attribute("data-row", "1")
    expect(table).to_have_attribute("data-fit-px", "620")
    assert not page_problems, page_problems


CONVERSATIONS = f"""\
import llmops_nb
from llmops_nb.evals import evaluate, scorers
from llmops_nb.widgets import display_eval

llmops_nb.configure(db={{DB!r}})

def echo(messages):  # the agent: a plain function, no model
    return "echo: " + messages[-1]["content"]

chats = evaluate([{{"turns": [{XSS!r}, "What is 2 + 2?"]}}, {{"turns": ["Hi", "Bye", "Thanks"]}}], predict_fn=echo,
                 scorers=[scorers.contains("echo")], name="chat eval", progress=False)
display_eval(chats)
"""


def test_a_conversation_row_opens_its_transcript_and_a_turns_trace(jupyter_lab, page, store_path, page_problems):
    jupyter_lab.write_notebook("chats.ipynb", [CONVERSATIONS.replace("{DB!r}", repr(str(store_path)))])
    jupyter_lab.open_notebook(page, "chats.ipynb", run_all=False)
    run_cell(page, 0)
    table = page.locator(".lnb-eval").first
    rows = table.locator(".lnb-ev-row[data-row]")
    expect(rows).to_have_count(2, timeout=FIRST_RENDER_MS)
    # the list: each conversation's session and turns
    expect(table.locator(".lnb-ev-head")).to_contain_text("Session")
    expect(table.locator(".lnb-ev-row[data-row='1'] .lnb-ev-c-turns")).to_have_text("3")
    session0 = table.locator(".lnb-ev-row[data-row='0'] .lnb-ev-c-session").inner_text()
    assert session0.endswith("-0")

    # a row opens its card over the conversation: user and assistant turns, the hostile one as text
    table.locator(".lnb-ev-row[data-row='0'] .lnb-ev-c-inputs").click()
    detail = table.locator(".lnb-ev-row-detail")
    expect(detail).to_have_attribute("data-row", "0")
    expect(detail.locator(".lnb-ev-session")).to_have_text(session0)
    expect(detail.locator(".lnb-ev-score[data-scorer='contains'] .lnb-ev-scope")).to_have_text("per turn")
    expect(detail.locator(".lnb-ev-score[data-scorer='contains'] .lnb-ev-rationale")).to_have_text(
        "2 of 2 turns passed")
    transcript = table.locator(".lnb-ss-transcript")
    expect(transcript.locator(".lnb-ss-t-count")).to_have_text("2 turns", timeout=FIRST_RENDER_MS)
    expect(transcript.locator(".lnb-ss-user .lnb-ss-text")).to_have_text([XSS, "What is 2 + 2?"])
    expect(transcript.locator(".lnb-ss-assistant .lnb-ss-text")).to_have_text([f"echo: {XSS}", "echo: What is 2 + 2?"])
    expect(table.locator(".lnb-explorer")).to_have_count(0)
    panel = table.locator(".lnb-ev-detail")
    expect(panel).to_be_focused()

    # turn 2's trace in the explorer, then back to the same conversation
    transcript.locator(".lnb-ss-turn").nth(1).locator(".lnb-ss-open-trace").click()
    explorer = table.locator(".lnb-explorer")
    expect(explorer.locator(".lnb-trace-name")).to_have_text("chat eval", timeout=FIRST_RENDER_MS)
    expect(table.locator(".lnb-ev-turn-title")).to_have_text(f"turn 2 of session {session0}")
    expect(explorer.locator(".lnb-row:not([hidden]) .lnb-name")).to_contain_text(["chat eval", "contains"])
    expect(transcript).to_be_hidden()
    table.locator(".lnb-ev-conv-back").click()
    expect(explorer).to_have_count(0)
    expect(transcript.locator(".lnb-ss-user .lnb-ss-text")).to_have_text([XSS, "What is 2 + 2?"])
    expect(panel).to_be_focused()

    # the keyboard still steps rows: Down opens the next conversation, Escape goes back to the list
    page.keyboard.press("ArrowDown")
    expect(detail).to_have_attribute("data-row", "1")
    expect(transcript.locator(".lnb-ss-user .lnb-ss-text")).to_have_text(["Hi", "Bye", "Thanks"])
    page.keyboard.press("Escape")
    expect(table.locator(".lnb-ev-list")).to_be_visible()
    assert page.locator(".lnb-eval img, .lnb-eval script").count() == 0
    assert not page_problems, page_problems
