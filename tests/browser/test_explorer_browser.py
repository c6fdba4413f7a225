"""The TraceExplorer in a real JupyterLab and Notebook 7, in Debian's headless chromium.

A ``%%llm_trace`` cell calls the real openai SDK (a chat completion, a streamed one) and a traced
tool against FakeLLMServer, started here; the tests read the rendered tree (LLM rows as
``model · operation`` with their markers, bars by kind, costs with their digits), open spans, search,
and check that strings from a trace never become markup, in the widget and in its snapshot.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import FIRST_RENDER_MS, KNOWN_NOTEBOOK7_ERROR
from tests.fakes import FakeLLMServer, Reply, Usage

pytestmark = pytest.mark.browser

QUESTION = "What is the capital of France?"
ANSWER = "Paris is the capital of France.\nIt sits on the Seine."
STREAMED = "Bienvenue à Paris, the city of light!"


def setup_cell(db) -> str:
    return f"""\
%load_ext llmops_nb
import llmops_nb
llmops_nb.configure(db={str(db)!r})
"""


def agent_cell(base_url: str) -> str:
    return f"""\
%%llm_trace --name capital-agent
import openai
client = openai.OpenAI(api_key="sk-test", base_url={base_url!r}, max_retries=0)

@llmops_nb.trace(kind="TOOL")
def lookup_capital(country: str) -> str:
    return {{"France": "Paris", "Japan": "Tokyo"}}.get(country, "unknown")

capital = lookup_capital("France")
reply = client.chat.completions.create(
    model="gpt-4o-mini", messages=[{{"role": "user", "content": {QUESTION!r}}}])
print(reply.choices[0].message.content)
stream = client.chat.completions.create(
    model="gpt-4o-mini", messages=[{{"role": "user", "content": "Welcome me to " + capital}}],
    stream=True, stream_options={{"include_usage": True}})
for chunk in stream:
    if chunk.choices:
        print(chunk.choices[0].delta.content or "", end="")
"""


@pytest.fixture
def llm_server():
    with FakeLLMServer() as server:
        server.enqueue(Reply(text=ANSWER, usage=Usage(input_tokens=14, output_tokens=12)))
        # the first token after at least 150 ms: a time to first token worth reading
        server.enqueue(Reply(text=STREAMED, delay=0.15, usage=Usage(input_tokens=11, output_tokens=9)))
        yield server


def test_openai_trace_tree_messages_and_search(jupyter_lab, page, page_problems, llm_server, store_path):
    jupyter_lab.write_notebook("agent.ipynb", [setup_cell(store_path), agent_cell(llm_server.openai_base_url)])
    jupyter_lab.open_notebook(page, "agent.ipynb")

    explorer = page.locator(".lnb-explorer")
    rows = explorer.locator(".lnb-row:not([hidden])")
    expect(rows).to_have_count(4, timeout=FIRST_RENDER_MS)
    # the SDK really talked to the fake: a plain call, then a streamed one
    assert [r.body.get("stream", False) for r in llm_server.requests] == [False, True]
    expect(explorer.locator(".lnb-trace-name")).to_have_text("capital-agent")
    expect(explorer.locator(".lnb-facts-line")).to_contain_text("4 spans")
    expect(explorer.locator(".lnb-facts-line")).to_contain_text("46 tok (25 in / 21 out)")
    # the LLM rows say what they are; the streamed one is marked, its first token on its bar
    expect(rows.locator(".lnb-name")).to_have_text(
        ["capital-agent", "lookup_capital", "gpt-4o-mini · chat", "gpt-4o-mini · chat"])
    title = re.compile(r"^openai\.chat\.completions\.create\n")  # the span's own name, in the tooltip
    expect(rows.nth(2).locator(".lnb-name")).to_have_attribute("title", title)
    expect(rows.locator(".lnb-flag:visible")).to_have_text(["stream"])
    expect(rows.nth(3).locator(".lnb-flag-stream")).to_be_visible()
    expect(rows.locator(".lnb-ttft:visible")).to_have_count(1)
    expect(rows.nth(3).locator(".lnb-ttft")).to_have_attribute("title", re.compile(r"^first token at \+\d+ ms$"))
    expect(rows.locator(".lnb-kind")).to_have_text(["CH", "TL", "CM", "CM"])
    # waterfall bars in their kind's colour (js/explorer/kinds.js): chain blue, tool orange, chat model purple
    bar_colours = [rows.nth(i).locator(".lnb-bar").evaluate("b => getComputedStyle(b).backgroundColor")
                   for i in range(4)]
    assert bar_colours == ["rgb(9, 105, 218)", "rgb(188, 76, 0)", "rgb(130, 80, 223)", "rgb(130, 80, 223)"]
    # a real small cost keeps its significant digits: 14 in / 12 out tokens of gpt-4o-mini
    expect(rows.nth(2).locator(".lnb-cost")).to_have_text("$0.0000093")
    expect(rows.nth(0)).to_have_attribute("aria-expanded", "true")
    expect(rows.nth(0).locator(".lnb-tok")).to_have_text("Σ 46 tok")  # rolled up from the two LLM calls
    expect(rows.nth(1)).to_have_attribute("aria-level", "2")

    # the plain chat call: the user's question and the assistant's reply, as text with its line break
    detail = explorer.locator(".lnb-detail")
    rows.nth(2).click()
    expect(rows.nth(2)).to_contain_class("lnb-selected")
    expect(detail.locator(".lnb-detail-name")).to_have_text("gpt-4o-mini · chat")
    expect(detail.locator(".lnb-detail-span")).to_have_text("openai.chat.completions.create")
    expect(detail.locator(".lnb-msg.lnb-role-user .lnb-msg-text")).to_have_text(QUESTION)
    assistant = detail.locator(".lnb-msg.lnb-role-assistant .lnb-msg-text")
    expect(assistant).to_have_text(ANSWER)
    assert assistant.inner_text() == ANSWER  # innerText keeps the line break: it is rendered, not collapsed
    expect(detail.locator(".lnb-facts")).to_contain_text("gpt-4o-mini")
    expect(detail.locator(".lnb-facts")).to_contain_text("14 in / 12 out")
    expect(detail.locator(".lnb-facts dt", has_text="cost").locator("+ dd")).to_have_text("$0.0000093")
    expect(detail.locator(".lnb-facts dt", has_text="TTFT")).to_have_count(0)

    # the streamed call: the deltas joined into one reply, its time to first token, its event after its start
    rows.nth(3).click()
    expect(detail.locator(".lnb-msg.lnb-role-user .lnb-msg-text")).to_have_text("Welcome me to Paris")
    expect(detail.locator(".lnb-msg.lnb-role-assistant .lnb-msg-text")).to_have_text(STREAMED)
    expect(detail.locator(".lnb-detail-head .lnb-flag")).to_have_text(["stream"])
    ttft = detail.locator(".lnb-facts dt", has_text="TTFT").locator("+ dd")
    expect(ttft).to_have_text(re.compile(r"^\d+ ms$"))
    assert int(ttft.inner_text().split()[0]) >= 150
    detail.locator(".lnb-sec-title", has_text="Events").click()
    expect(detail.locator(".lnb-event-name")).to_have_text(["gen_ai.first_token"])
    expect(detail.locator(".lnb-event-time")).to_have_text([f"+{ttft.inner_text()}"])

    # the tool: its arguments and result
    rows.nth(1).click()
    expect(detail.locator(".lnb-detail-name")).to_have_text("lookup_capital")
    expect(detail.locator(".lnb-sec", has_text="Arguments").locator("pre")).to_contain_text('"country": "France"')
    expect(detail.locator(".lnb-sec", has_text="Result").locator("pre")).to_have_text("Paris")
    # JSON wraps between words: JupyterLab's `.jp-OutputArea-output pre {word-break: break-all}` stays out
    expect(detail.locator(".lnb-sec", has_text="Arguments").locator("pre")).to_have_css("word-break", "normal")

    # search: the tool matches by name, marked inside the name; the cell's root span by its inputs
    # (the cell's source calls lookup_capital), found by the kernel
    search = explorer.locator(".lnb-search")
    search.fill("lookup")
    expect(explorer.locator(".lnb-count")).to_have_text("2 matches")
    expect(explorer.locator(".lnb-row.lnb-match .lnb-name")).to_have_text(["capital-agent", "lookup_capital"])
    expect(explorer.locator(".lnb-row.lnb-match mark.lnb-mark")).to_have_text(["lookup"])
    expect(rows.nth(1).locator(".lnb-name")).to_contain_text("lookup_capital")
    # search in payloads (the kernel answers): only the streamed call said "light"; Enter selects it
    search.fill("city of light")
    expect(explorer.locator(".lnb-count")).to_have_text("1 match")
    expect(explorer.locator(".lnb-row.lnb-match")).to_have_count(1)
    expect(rows.nth(3)).to_contain_class("lnb-match")
    search.press("Enter")
    expect(explorer.locator(".lnb-count")).to_have_text("1/1")
    expect(rows.nth(3)).to_contain_class("lnb-selected lnb-match")
    expect(detail.locator(".lnb-msg.lnb-role-assistant .lnb-msg-text")).to_have_text(STREAMED)
    # and a search with no hit marks nothing
    search.fill("no such words anywhere")
    expect(explorer.locator(".lnb-count")).to_have_text("0 matches")
    expect(explorer.locator(".lnb-row.lnb-match")).to_have_count(0)

    # keyboard: collapse the root with ArrowLeft, its children disappear
    rows.nth(0).click()
    explorer.locator(".lnb-viewport").press("ArrowLeft")
    expect(rows).to_have_count(1)
    expect(rows.nth(0)).to_have_attribute("aria-expanded", "false")

    assert not page_problems, page_problems


# Each string runs `window.__xss=1` if it ever becomes markup (or a followed link).
SCRIPT = "<script>window.__xss=1</script>"
IMG = '<img src=x onerror="window.__xss=1">'
LINK = '<a href="javascript:window.__xss=1">click me</a>'
MD_LINK = "[click me too](javascript:window.__xss=1)"

XSS_CELLS = [
    f"""\
SCRIPT, IMG, LINK, MD_LINK = {SCRIPT!r}, {IMG!r}, {LINK!r}, {MD_LINK!r}
""",
    """\
%%llm_trace --name xss-probe
with llmops_nb.span("search " + IMG, kind="TOOL") as tool:
    tool.set_inputs({"query": SCRIPT + IMG})
    tool.set_outputs(LINK + " " + MD_LINK)
with llmops_nb.span(SCRIPT + " model", kind="CHAT_MODEL", attributes={"gen_ai.request.model": IMG}) as llm:
    llm.set_inputs({"messages": [{"role": "system", "content": LINK},
                                 {"role": "user", "content": "say " + SCRIPT + IMG + MD_LINK}]})
    llm.set_outputs({"choices": [{"message": {"role": "assistant", "content": LINK + " " + IMG}}]})
""",
    """\
# the snapshot as JupyterLab renders a trusted text/html output (scripts and handlers would run),
# then a control: markup that does run, so the trap below is known to work
from llmops_nb.widgets import snapshot_bundle
llmops_nb.flush()
display({"text/html": snapshot_bundle(llmops_nb.traces().trace_id[0])["text/html"]}, raw=True)
display({"text/html": '<img src=x onerror="window.__control=1">'}, raw=True)
""",
]


def test_strings_from_a_trace_never_run(jupyter_lab, page, page_problems, store_path):
    jupyter_lab.write_notebook("xss.ipynb", [setup_cell(store_path), *XSS_CELLS])
    jupyter_lab.open_notebook(page, "xss.ipynb")

    explorer = page.locator(".lnb-explorer")
    rows = explorer.locator(".lnb-row:not([hidden])")
    expect(rows).to_have_count(3, timeout=FIRST_RENDER_MS)
    snapshot = page.locator(".llmops-nb-snapshot")
    expect(snapshot).to_have_count(1, timeout=FIRST_RENDER_MS)
    # the control ran: an injected handler would have run too
    page.wait_for_function("() => window.__control === 1", timeout=FIRST_RENDER_MS)
    assert page.evaluate("() => window.__xss") is None

    # the widget: names (and an LLM row's `model · name`) in the tree, messages and tool payloads in the
    # detail, all literal text
    expect(rows.locator(".lnb-name")).to_have_text(["xss-probe", f"search {IMG}", f"{IMG} · {SCRIPT} model"])
    detail = explorer.locator(".lnb-detail")
    rows.nth(2).click()
    expect(detail.locator(".lnb-detail-name")).to_have_text(f"{IMG} · {SCRIPT} model")
    expect(detail.locator(".lnb-detail-span")).to_have_text(f"{SCRIPT} model")
    expect(detail.locator(".lnb-msg.lnb-role-system .lnb-msg-text")).to_have_text(LINK)
    expect(detail.locator(".lnb-msg.lnb-role-user .lnb-msg-text")).to_have_text(f"say {SCRIPT}{IMG}{MD_LINK}")
    expect(detail.locator(".lnb-msg.lnb-role-assistant .lnb-msg-text")).to_have_text(f"{LINK} {IMG}")
    rows.nth(1).click()
    expect(detail.locator(".lnb-sec", has_text="Arguments").locator("pre")).to_contain_text("<script>window.__xss=1")
    expect(detail.locator(".lnb-sec", has_text="Result").locator("pre")).to_contain_text(LINK)
    explorer.locator(".lnb-search").fill("<img")  # highlighting splits the name into text and <mark>
    expect(explorer.locator(".lnb-row.lnb-match mark")).to_have_text(["<img"] * 2)  # the tool, the LLM's model
    for target in explorer.get_by_text("click me", exact=False).all():
        if target.is_visible():
            target.click()  # a link, if one were made, would be followed here

    # the snapshot: every string escaped, visible once its <details> are open
    snapshot.evaluate("el => el.querySelectorAll('details').forEach(d => { d.open = true; })")
    for text in (f"search {IMG}", f"{IMG} · {SCRIPT} model", f"say {SCRIPT}{IMG}{MD_LINK}", f"{LINK} {IMG}"):
        expect(snapshot.get_by_text(text, exact=False).first).to_be_visible()

    for scope in (explorer, snapshot):
        assert scope.locator("script, img, a, iframe, [onerror]").count() == 0
    assert page.evaluate("() => window.__xss") is None
    assert not page_problems, page_problems


def test_notebook7_smoke(notebook7, page, page_problems, store_path):
    notebook7.write_notebook("nb7.ipynb", [setup_cell(store_path), """\
%%llm_trace --name nb7-smoke
with llmops_nb.span("plan", kind="CHAIN"):
    with llmops_nb.span("answer", kind="CHAT_MODEL") as llm:
        llm.set_inputs({"messages": [{"role": "user", "content": "hello from Notebook 7"}]})
        llm.set_outputs({"choices": [{"message": {"role": "assistant", "content": "hello back"}}]})
"""])
    notebook7.open_notebook(page, "nb7.ipynb")

    explorer = page.locator(".lnb-explorer")
    rows = explorer.locator(".lnb-row:not([hidden])")
    expect(rows.locator(".lnb-name")).to_have_text(["nb7-smoke", "plan", "answer"], timeout=FIRST_RENDER_MS)
    rows.nth(2).click()
    expect(explorer.locator(".lnb-msg.lnb-role-assistant .lnb-msg-text")).to_have_text("hello back")
    unexpected = [p for p in page_problems if KNOWN_NOTEBOOK7_ERROR not in p]
    assert not unexpected, unexpected


LOOP_CELL = """\
%%llm_trace --name loop-agent
with llmops_nb.span("plan", kind="CHAIN"):
    pass
for i in range(100):
    with llmops_nb.span("step", kind="TOOL") as step:
        step.set_inputs({"i": i})
        step.set_outputs(f"step {i} done")
with llmops_nb.span("answer", kind="CHAIN"):
    pass
"""


@pytest.mark.parametrize("app", ["lab", "notebook"])
def test_keyboard_groups_collapse_all_and_resize(request, app, page, page_problems, store_path):
    server = request.getfixturevalue("jupyter_lab" if app == "lab" else "notebook7")
    server.write_notebook("loop.ipynb", [setup_cell(store_path), LOOP_CELL])
    server.open_notebook(page, "loop.ipynb")

    explorer = page.locator(".lnb-explorer")
    rows = explorer.locator(".lnb-row:not([hidden])")
    # a loop of 100 traced steps is one row, with their total time
    expect(rows.locator(".lnb-name")).to_have_text(["loop-agent", "plan", "step ×100", "answer"],
                                                   timeout=FIRST_RENDER_MS)
    group = explorer.locator(".lnb-row.lnb-group")
    expect(group).to_have_attribute("aria-expanded", "false")
    expect(group.locator(".lnb-dur")).to_have_text(re.compile(r"^Σ "))
    # sized to its four rows (not a fixed 460 px), resizable by the user
    assert explorer.evaluate("e => getComputedStyle(e).resize") == "vertical"
    small = explorer.bounding_box()["height"]
    assert small < 460, small

    # keyboard: the detail follows the arrows, without Enter
    detail = explorer.locator(".lnb-detail")
    rows.nth(0).click()
    viewport = explorer.locator(".lnb-viewport")
    expect(viewport).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(rows.nth(1)).to_contain_class("lnb-selected")
    expect(detail.locator(".lnb-detail-name")).to_have_text("plan")
    # a clearly visible ring on the keyboard's row (2 px)
    assert "2px" in rows.nth(1).evaluate("r => getComputedStyle(r).boxShadow")
    page.keyboard.press("ArrowDown")  # the group: its summary
    expect(detail.locator(".lnb-detail-name")).to_have_text("step ×100")
    page.keyboard.press("ArrowRight")  # opens it
    expect(group).to_have_attribute("aria-expanded", "true")
    page.keyboard.press("ArrowDown")  # the first step
    expect(detail.locator(".lnb-detail-name")).to_have_text("step")
    expect(detail.locator(".lnb-sec", has_text="Result").locator("pre")).to_have_text("step 0 done")
    page.keyboard.press("ArrowDown")
    expect(detail.locator(".lnb-sec", has_text="Result").locator("pre")).to_have_text("step 1 done")
    # a click in the detail pane leaves the keys in the view
    detail.locator(".lnb-detail-name").click()
    page.keyboard.press("ArrowDown")
    expect(detail.locator(".lnb-sec", has_text="Result").locator("pre")).to_have_text("step 2 done")
    page.keyboard.press("ArrowLeft")  # up to the group
    page.keyboard.press("ArrowLeft")  # closes it
    expect(group).to_have_attribute("aria-expanded", "false")
    expect(rows).to_have_count(4)

    # search reaches a step inside the closed group: the group opens
    explorer.locator(".lnb-search").fill("step 57 done")
    expect(explorer.locator(".lnb-count")).to_have_text("1 match")
    expect(group).to_have_attribute("aria-expanded", "true")
    explorer.locator(".lnb-search").press("Enter")
    expect(detail.locator(".lnb-sec", has_text="Result").locator("pre")).to_have_text("step 57 done")
    explorer.locator(".lnb-search").fill("")

    # collapse all / expand all
    explorer.locator(".lnb-collapse-all").click()
    expect(rows).to_have_count(1)
    explorer.locator(".lnb-expand-all").click()
    expect(group).to_have_attribute("aria-expanded", "true")
    assert explorer.locator(".lnb-spacer").evaluate("s => s.style.height") == f"{(4 + 100) * 24}px"

    # resize: drag the bottom corner down; the tree measures again and shows more rows
    shown_before = rows.count()
    box = explorer.bounding_box()
    page.mouse.move(box["x"] + box["width"] - 3, box["y"] + box["height"] - 3)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] - 3, box["y"] + box["height"] + 300, steps=5)
    page.mouse.up()
    expect(explorer).to_have_attribute("style", re.compile(r"height: ?\d+"))
    grown = explorer.bounding_box()["height"]
    assert grown > box["height"] + 200, (box["height"], grown)
    expect(rows).not_to_have_count(shown_before)
    assert rows.count() > shown_before

    # the focus ring stands out on the light theme and on JupyterLab Dark (WCAG: 3:1 for a focus indicator)
    active = explorer.locator(".lnb-row.lnb-active")
    viewport.focus()
    assert ring_contrast(active, explorer) >= 3
    set_theme(page, "JupyterLab Dark")
    try:
        expect(page.locator("body")).to_have_attribute("data-jp-theme-light", "false")
        assert ring_contrast(active, explorer) >= 3
    finally:
        set_theme(page, "JupyterLab Light")
        expect(page.locator("body")).to_have_attribute("data-jp-theme-light", "true")
    problems = [p for p in page_problems if KNOWN_NOTEBOOK7_ERROR not in p]
    assert not problems, problems


def set_theme(page, name: str) -> None:
    page.evaluate("(t) => { window.jupyterapp.commands.execute('apputils:change-theme', {theme: t}); }", name)


def ring_contrast(row, view) -> float:
    """The contrast ratio between the row's focus ring (its box-shadow colour) and the view's background."""
    ring = row.evaluate("r => getComputedStyle(r).boxShadow")
    assert "2px" in ring, ring
    background = view.evaluate("e => getComputedStyle(e).backgroundColor")

    def luminance(css: str) -> float:
        r, g, b = (int(v) / 255 for v in re.findall(r"\d+(?:\.\d+)?", css)[:3])
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    hi, lo = sorted((luminance(ring), luminance(background)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


FAN_OUT_CELL = """\
%%llm_trace --name fan-out
import time
from concurrent.futures import ThreadPoolExecutor

@llmops_nb.trace(name="quick branch", kind="TOOL")
def quick():
    return 1

@llmops_nb.trace(name="slow branch", kind="CHAIN")
def slow(other):
    other.result()  # ends after the quick branch, whatever the scheduling
    time.sleep(0.02)

with ThreadPoolExecutor(2) as pool:
    fast = pool.submit(quick)
    pool.submit(slow, fast).result()
"""


def test_the_critical_path_is_outlined_and_the_toggle_hides_it(jupyter_lab, page, page_problems, store_path):
    jupyter_lab.write_notebook("fan_out.ipynb", [setup_cell(store_path), FAN_OUT_CELL])
    jupyter_lab.open_notebook(page, "fan_out.ipynb")

    explorer = page.locator(".lnb-explorer")
    rows = explorer.locator(".lnb-row:not([hidden])")
    expect(rows).to_have_count(3, timeout=FIRST_RENDER_MS)
    slow = rows.filter(has_text="slow branch")
    quick = rows.filter(has_text="quick branch")
    # the cell's root and the branch it waited for, not the quick one that ran beside it
    critical = explorer.locator(".lnb-row.lnb-critical .lnb-name")
    expect(critical).to_have_text(["fan-out", "slow branch"])
    bar_outline = "b => { const s = getComputedStyle(b); return s.outlineStyle + ' ' + s.outlineWidth; }"
    assert slow.locator(".lnb-bar").evaluate(bar_outline) == "solid 2px"
    assert quick.locator(".lnb-bar").evaluate(bar_outline).startswith("none")
    expect(slow.locator(".lnb-cp")).to_be_visible()
    expect(quick.locator(".lnb-cp")).to_be_hidden()
    expect(slow.locator(".lnb-bar")).to_have_attribute("title", "on the critical path: sets the trace's wall time")
    toggle = explorer.locator(".lnb-cp-toggle")
    expect(toggle).to_have_attribute("aria-pressed", "true")
    expect(toggle).to_have_attribute("title", re.compile(r"set the trace's wall time"))

    # the detail says it, with the span's share of the trace's wall time
    slow.click()
    facts = explorer.locator(".lnb-detail .lnb-facts")
    expect(facts.locator("dt", has_text="critical path").locator("+ dd")).to_have_text(
        "yes: it sets the trace's wall time")
    expect(facts.locator("dt", has_text="share of wall time").locator("+ dd")).to_have_text(
        re.compile(r"^\d+% \(.+ of .+\)$"))

    # the toggle hides the highlight, and brings it back
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "false")
    expect(critical).to_have_count(0)
    assert slow.locator(".lnb-bar").evaluate(bar_outline).startswith("none")
    expect(slow.locator(".lnb-cp")).to_be_hidden()
    toggle.click()
    expect(critical).to_have_text(["fan-out", "slow branch"])
    assert not page_problems, page_problems


GRAPH_TAB_CELL = f"""\
%%llm_trace --name graph-tab
IMG = {IMG!r}

@llmops_nb.trace(name="search", kind="TOOL")
def search(query):
    return query

with llmops_nb.span("planner", kind="AGENT"):
    for query in ("first", "second"):
        with llmops_nb.span("llm", kind="LLM"):
            pass
        search(query)
    with llmops_nb.span("helper", kind="CHAIN"):
        search("third")
    with llmops_nb.span(IMG, kind="TOOL"):
        pass
"""


def test_the_graph_tab_picks_a_nodes_spans_in_the_tree(jupyter_lab, page, page_problems, store_path):
    jupyter_lab.write_notebook("graph_tab.ipynb", [setup_cell(store_path), GRAPH_TAB_CELL])
    jupyter_lab.open_notebook(page, "graph_tab.ipynb")

    explorer = page.locator(".lnb-explorer")
    rows = explorer.locator(".lnb-row:not([hidden])")
    expect(rows).to_have_count(9, timeout=FIRST_RENDER_MS)
    # the helper closed: the graph's pick must open it to show the search inside
    rows.filter(has_text="helper").locator(".lnb-twist").click()
    expect(rows).to_have_count(8)

    explorer.locator(".lnb-tab-graph").click()
    expect(explorer.locator(".lnb-tab-graph")).to_have_attribute("aria-selected", "true")
    graph = explorer.locator(".lnb-xg")
    expect(graph.locator(".lnb-gr-node")).to_have_count(6)  # the cell, planner, llm, search, helper, the img tool
    expect(explorer.locator(".lnb-tree")).to_be_hidden()
    expect(graph.locator(".lnb-xg-facts")).to_have_text(re.compile(r"^6 nodes · \d+ edges · 1 cycle · 9 spans$"))
    canvas = graph.locator(".lnb-gr-canvas").bounding_box()
    assert canvas and canvas["width"] > 600 and canvas["height"] > 300  # the whole main area, the view's full height
    explorer.evaluate("e => e.scrollIntoView({ block: 'center' })")  # all of it on screen, for the clicks

    # a click on a node: back to the tree, its three spans highlighted, the first selected, the helper opened
    graph.get_by_role("button", name="TOOL search", exact=True).click()
    expect(explorer.locator(".lnb-tree")).to_be_visible()
    expect(explorer.locator(".lnb-tab-tree")).to_have_attribute("aria-selected", "true")
    picked = explorer.locator(".lnb-row.lnb-picked:not([hidden])")
    expect(picked.locator(".lnb-name")).to_have_text(["search", "search", "search"])
    expect(rows).to_have_count(9)
    selected = explorer.locator(".lnb-row.lnb-selected")
    expect(selected).to_have_count(1)
    expect(selected.locator(".lnb-name")).to_have_text("search")
    assert selected.evaluate("r => r.classList.contains('lnb-picked')")
    # the highlight is not the selection's: another tint
    tint = "r => getComputedStyle(r).backgroundColor"
    assert picked.nth(1).evaluate(tint) != selected.evaluate(tint)
    expect(explorer.locator(".lnb-detail .lnb-detail-name")).to_have_text("search")
    bar = explorer.locator(".lnb-picked-bar")
    expect(bar.locator(".lnb-picked-count")).to_have_text("3 spans of search")
    expect(bar).to_contain_text("— clear")
    bar.locator(".lnb-picked-next").click()
    expect(selected.locator(".lnb-name")).to_have_text("search")
    expect(bar.locator(".lnb-picked-at")).to_have_text("2/3")

    # clear: the highlight and the bar go, the graph's mark too
    bar.locator(".lnb-picked-clear").click()
    expect(picked).to_have_count(0)
    expect(bar).to_be_hidden()
    explorer.locator(".lnb-tab-graph").click()
    expect(graph.locator(".lnb-gr-selected")).to_have_count(0)

    # a node named like markup: text in the graph, in the bar and in the tree
    img_node = graph.get_by_role("button", name=f"TOOL {IMG}", exact=True)
    expect(img_node).to_have_count(1)
    graph.locator(".lnb-gr-btn", has_text="fit").click()  # the whole graph: the last rank is below the first view
    img_node.click()
    expect(bar.locator(".lnb-picked-name")).to_have_text(IMG)
    expect(picked.locator(".lnb-name")).to_have_text([IMG])
    assert explorer.locator("script, img, a, iframe, [onerror]").count() == 0
    assert page.evaluate("() => window.__xss") is None
    assert not page_problems, page_problems
