"""Pictures of the views for docs/views/: one notebook of scenes, run in JupyterLab, each view photographed.

    python scripts/screenshots.py                          # after: this checkout -> docs/views/*-after.png
    python scripts/screenshots.py --code /tmp/old --label before   # the same notebook on another checkout

``--code`` points the kernel at another checkout of llmops_nb (its JS bundles built: ``cd js && npm ci &&
npm run build``), e.g. a worktree of the commit before a change, for before/after pairs. The scenes:
an agent whose LLM calls include a streamed one, a loop of 100 steps, two evaluation runs compared, the
trace list, a failing cell; then the notebook saved, its kernel restarted and the page reloaded (what its
author sees when reopening it); then the saved notebook exported to HTML by nbconvert (what a colleague
sees). LLM calls go to the tests' FakeLLMServer through the real openai SDK, with made-up latencies.

Not a test: a docs tool. Needs the dev dependencies (playwright, jupyterlab, nbconvert) and /usr/bin/chromium.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.browser.conftest import (  # noqa: E402 - the checkout must be importable first
    CHROMIUM,
    CHROMIUM_ARGS,
    run_command,
    start_jupyter,
    wait_kernel_idle,
)

TIMEOUT_MS = 120_000

AGENT = '''import json, time
import openai

client = openai.OpenAI(base_url=BASE_URL, api_key="sk-test")
TOOLS = [{"type": "function", "function": {"name": n, "parameters": {"type": "object"}}}
         for n in ("search_guides", "get_weather")]

@llmops_nb.trace(kind="RETRIEVER")
def search_guides(query):
    time.sleep(0.1)
    return [{"page_content": "MAAT: art and technology by the river in Belem.", "metadata": {"source": "lisbon.md"}}]

@llmops_nb.trace(kind="TOOL")
def get_weather(city, day):
    time.sleep(0.2)
    return {"city": city, "day": day, "forecast": "sunny", "high_c": 24}

@llmops_nb.trace(kind="AGENT")
def travel_agent(question):
    messages = [{"role": "user", "content": question}]
    while True:
        msg = client.chat.completions.create(model="gpt-4o", messages=messages, tools=TOOLS).choices[0].message
        if not msg.tool_calls:
            return msg.content
        messages.append(msg.model_dump(exclude_none=True))
        for call in msg.tool_calls:
            result = globals()[call.function.name](**json.loads(call.function.arguments))
            messages.append({"role": "tool", "tool_call_id": call.id, "content": json.dumps(result)})

def summary(text):
    stream = client.chat.completions.create(model="gpt-4o-mini", stream=True,
                                            messages=[{"role": "user", "content": "One line: " + text}])
    return "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
'''
AGENT_RUN = '''%%llm_trace --name lisbon-trip --session trip-42
answer = travel_agent("Plan a sunny Saturday in Lisbon: one museum, and a viewpoint for the sunset.")
print(summary(answer))
'''
LOOP = '''%%llm_trace --name retry-loop
for i in range(100):
    with llmops_nb.span("step", kind="CHAIN"):
        pass
'''
EVALS = '''from llmops_nb import scorers
data = [{"inputs": {"question": q}, "expectations": {"expected_response": a}} for q, a in [
    ("Capital of Portugal?", "Lisbon"), ("River through Lisbon?", "Tagus"),
    ("Lisbon's tram number to the castle?", "28"),
    ("Highest viewpoint in Lisbon?", "Senhora do Monte"), ("Museum by the river in Belem?", "MAAT"),
    ("Currency used in Lisbon?", "Euro")]]

def ask(model):
    def predict(question):
        return client.chat.completions.create(model=model, messages=[{"role": "user", "content": question}]
                                              ).choices[0].message.content
    return predict

checks = [scorers.exact_match(), scorers.rouge_l()]
v1 = llmops_nb.evaluate(data, ask("gpt-4o-mini"), checks, name="short-answers-v1", max_concurrency=1, progress=False)
v2 = llmops_nb.evaluate(data, ask("gpt-4o"), checks, name="short-answers-v2", max_concurrency=1, progress=False)
llmops_nb.show(v2, compare_to=v1)
'''
FAILING = '''%%llm_trace --name failing-parse
def parse_price(text):
    return float(text.removeprefix("EUR "))

parse_price("EUR twelve")
'''
TRACES = "%llm_traces"

#: (scene name, the cell index whose output is photographed, a selector that says the view is drawn)
SCENES = [
    ("agent", 2, ".lnb-explorer .lnb-row"),
    ("loop", 3, ".lnb-explorer .lnb-row"),
    ("evals", 4, ".lnb-eval"),
    ("traces", 5, ".lnb-trace-list"),
    ("error", 6, ".lnb-explorer .lnb-row"),
]


def replies() -> list[Any]:
    from tests.fakes import Reply, ToolCall, Usage

    answer = ("Saturday in Lisbon looks sunny (24 C). Morning: MAAT in Belem. Sunset: Miradouro da Senhora do Monte.")
    agent = [
        Reply(text=None, tool_calls=[ToolCall("search_guides", {"query": "Lisbon museum"}, id="c1")],
              usage=Usage(1212, 24), delay=0.6),
        Reply(text=None, tool_calls=[ToolCall("get_weather", {"city": "Lisbon", "day": "Saturday"}, id="c2")],
              usage=Usage(1338, 19), delay=0.5),
        Reply(text=answer, usage=Usage(1411, 58), delay=0.9),
        Reply(text="Museum in the morning, viewpoint at sunset.", model="gpt-4o-mini",
              chunks=["Museum in ", "the morning, ", "viewpoint ", "at sunset."], usage=Usage(64, 11),
              delay=0.35, chunk_delay=0.08),
    ]
    v1 = ["Lisbon", "The Tagus river", "28", "Graca", "MAAT", "Euro"]
    v2 = ["Lisbon", "Tagus", "28", "Senhora do Monte", "MAAT", "The euro"]
    evals = [Reply(text=t, model="gpt-4o-mini", usage=Usage(18, 3), delay=0.05) for t in v1] + [
        Reply(text=t, model="gpt-4o", usage=Usage(18, 4), delay=0.12) for t in v2]
    return agent + evals


def clip_of(page: Any, cell: Any) -> dict[str, float]:
    box = cell.bounding_box()
    return {"x": box["x"], "y": box["y"], "width": min(box["width"], 1240), "height": min(box["height"], 1400)}


def shoot_cell(page: Any, index: int, path: Path, last_output: bool = False) -> None:
    """The cell's outputs (or only its last one: the evaluations cell shows each run, then the comparison)."""
    cell = page.locator(".jp-Cell").nth(index)
    output = cell.locator(".jp-OutputArea-child").last if last_output else cell.locator(".jp-Cell-outputWrapper")
    output.scroll_into_view_if_needed()
    page.mouse.move(0, 0)
    page.wait_for_timeout(400)
    output.screenshot(path=str(path))
    print(f"wrote {path}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--code", type=Path, default=ROOT, help="the checkout of llmops_nb the kernel imports")
    parser.add_argument("--label", default="after", help="file name suffix: docs/views/<scene>-<label>.png")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "views")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    from playwright.sync_api import expect, sync_playwright

    from tests.fakes import FakeLLMServer

    with tempfile.TemporaryDirectory(prefix="llmops_nb-views-") as tmp, FakeLLMServer() as llm, \
            start_jupyter("lab", Path(tmp), code=args.code.resolve()) as server:
        llm.enqueue(*replies())
        setup = (f"%load_ext llmops_nb\nimport llmops_nb\nllmops_nb.configure(db={str(Path(tmp) / 'views.duckdb')!r})\n"
                 f"BASE_URL = {llm.openai_base_url!r}")
        path = server.write_notebook("views.ipynb", [setup, AGENT, AGENT_RUN, LOOP, EVALS, TRACES, FAILING])
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                # tall enough for the largest view: JupyterLab scrolls inside the page, not the page itself
                page = browser.new_page(viewport={"width": 1280, "height": 1600}, color_scheme="light")
                page.goto(server.notebook_url("views.ipynb"))
                wait_kernel_idle(page, TIMEOUT_MS)
                run_command(page, "application:toggle-left-area")
                page.wait_for_timeout(3000)  # idle comes a moment before the session is wired
                run_command(page, "notebook:run-all-cells")
                for name, index, ready in SCENES:
                    cell = page.locator(".jp-Cell").nth(index)
                    expect(cell.locator(ready).first).to_be_visible(timeout=TIMEOUT_MS)
                    if name == "agent":  # the streamed call selected: its time to first token in view
                        rows = cell.locator(".lnb-row:not([hidden])")
                        named = rows.filter(has_text="gpt-4o-mini")  # older views did not name rows by model
                        (named.first if named.count() else rows.last).click()
                    shoot_cell(page, index, args.out / f"{name}-{args.label}.png", last_output=name == "evals")
                # the author reopens the notebook: saved, kernel restarted, page reloaded
                run_command(page, "docmanager:save")
                deadline = time.monotonic() + 30
                while "lnb-" not in path.read_text() and time.monotonic() < deadline:
                    time.sleep(0.2)
                time.sleep(1)
                for kernel in server.api("/api/kernels"):
                    server.api(f"/api/kernels/{kernel['id']}/restart", method="POST")
                page.reload()
                wait_kernel_idle(page, TIMEOUT_MS)
                page.wait_for_timeout(4000)  # ipywidgets gives up on the missing models; the snapshot shows
                shoot_cell(page, 2, args.out / f"reopened-{args.label}.png")
                server.shutdown_kernels()
                # a colleague's copy: the saved notebook exported to HTML, opened offline
                html = Path(tmp) / "views.html"
                subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "html", "--output",
                                str(html), str(path)], check=True, capture_output=True)
                page.goto(html.as_uri())
                page.wait_for_timeout(1000)
                outputs = page.locator(".jp-Cell").all()
                for name, index in (("agent", 2), ("evals", 4)):
                    outputs[index].locator(".jp-OutputArea-child").last.screenshot(
                        path=str(args.out / f"export-{name}-{args.label}.png"))
                    print(f"wrote {args.out / f'export-{name}-{args.label}.png'}")
            finally:
                browser.close()
    print(json.dumps({"code": str(args.code), "label": args.label}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
