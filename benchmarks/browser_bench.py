"""Browser benchmarks: the explorer, the trace list and the agent graph in JupyterLab, in headless chromium.

    python benchmarks/browser_bench.py                 # 5 measured runs each; writes docs/browser-benchmarks.md
    python benchmarks/browser_bench.py --runs 9 --output -   # print only
    python benchmarks/browser_bench.py --screenshot docs/explorer.png   # only the README's screenshot

Not a test. Measures, in a real JupyterLab on 127.0.0.1 (the browser-test fixtures' server):

- first render of a 10,000-span agent trace: a fresh page per run (so the widget's JS is loaded
  again), the cell ``TraceExplorer(trace_id)`` run, until the rows are on screen. Two clocks: the
  view's own (``data-open-ms``: its render call to rows drawn, the skeleton request to the kernel
  included) and end to end (the run command to rows drawn, the kernel's work and comm set-up included);
- scrolling through it: the tree's viewport moved one screenful per animation frame from the top row
  to the last, timing the whole pass and every frame;
- opening ``%llm_traces`` on a store of 100,000 traces: same two clocks, until the first rows show;
- first render of ``llmops_nb.graph()``, the agent graph, of one 10,000-span agent loop and of 10,000
  agent traces: same two clocks, until the first layout is drawn (``_graph_browser.py``);
- bytes the kernel sends the browser for the 10k-span trace: every websocket frame received from the
  run command until the rows show, split by message type (the widget's state with its JS and CSS, the
  skeleton answer, the kernel's own messages), then the answer to selecting one LLM span.

Medians over the measured runs; one unmeasured run first starts the kernel and warms DuckDB's files.

``--screenshot`` instead takes the README's picture: an agent (the real openai SDK against the tests'
FakeLLMServer, with made-up latencies) traced by ``%%llm_trace`` in JupyterLab's light theme, its last
LLM call selected and its messages in view.
Needs the dev dependencies (playwright, jupyterlab) and /usr/bin/chromium.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import _graph_browser  # noqa: E402 - the checkout must be importable first
from tests.browser.conftest import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    JupyterServer,
    run_command,
    start_jupyter,
    wait_kernel_idle,
)

SPANS = 10_000
TRACES = 100_000
TIMEOUT_MS = 120_000

# Notes performance.now() now (__benchStart) and when the selector first matches (__benchSeen): a
# MutationObserver, so the time is not rounded up to the next polling interval.
_ARM_JS = """(selector) => {
  window.__benchSeen = null;
  const check = () => {
    if (window.__benchSeen == null && document.querySelector(selector)) {
      window.__benchSeen = performance.now();
      observer.disconnect();
    }
  };
  const observer = new MutationObserver(check);
  observer.observe(document.body, { subtree: true, childList: true, attributes: true });
  window.__benchStart = performance.now();
  check();
}"""

_SCROLL_JS = """async (root) => {
  const viewport = root.querySelector('.lnb-viewport');
  const frame = () => new Promise((resolve) => requestAnimationFrame(resolve));
  const longTasks = [];
  const observer = new PerformanceObserver((list) => longTasks.push(...list.getEntries().map((e) => e.duration)));
  try { observer.observe({ type: 'longtask' }); } catch {}
  viewport.scrollTop = 0;
  await frame(); await frame();
  const intervals = [];
  const start = performance.now();
  let last = start;
  while (viewport.scrollTop + viewport.clientHeight < viewport.scrollHeight - 1) {
    viewport.scrollTop += viewport.clientHeight;
    const now = await frame();
    intervals.push(now - last);
    last = now;
  }
  await frame(); await frame();
  const total = performance.now() - start;
  observer.disconnect();
  const names = [...root.querySelectorAll('.lnb-row:not([hidden]) .lnb-name')].map((n) => n.textContent);
  return { total, intervals, longTasks, domRows: root.querySelectorAll('.lnb-row').length,
           lastName: names[names.length - 1], scrollHeight: viewport.scrollHeight };
}"""


# -- the README's screenshot: a notebook's cells --------------------------------------------------------

SHOT_DEFS = '''import json
import time

import openai

client = openai.OpenAI(base_url=BASE_URL, api_key="sk-test")
TOOLS = [{"type": "function", "function": {"name": n, "parameters": {"type": "object"}}}
         for n in ("search_guides", "get_weather")]

@llmops_nb.trace(kind="EMBEDDING")
def embed(text: str) -> list[float]:
    time.sleep(0.06)  # stands in for an embedding call
    return [0.12, -0.03, 0.27, 0.08]

@llmops_nb.trace(kind="RETRIEVER")
def search_guides(query: str) -> list[dict]:
    embed(query)
    time.sleep(0.1)  # stands in for the vector store
    return [{"page_content": "MAAT: art, architecture and technology on the river front in Belém.",
             "metadata": {"source": "guides/lisbon.md"}, "score": 0.91},
            {"page_content": "Miradouro da Senhora do Monte: the highest viewpoint, best at sunset.",
             "metadata": {"source": "guides/lisbon.md"}, "score": 0.87}]

@llmops_nb.trace(kind="TOOL")
def get_weather(city: str, day: str) -> dict:
    time.sleep(0.2)  # stands in for a weather API
    return {"city": city, "day": day, "forecast": "sunny", "high_c": 24}

@llmops_nb.trace(kind="GUARDRAIL")
def check_answer(text: str) -> dict:
    return {"safe": True, "mentions_sources": "MAAT" in text}

@llmops_nb.trace(kind="AGENT")
def travel_agent(question: str) -> str:
    messages = [{"role": "system", "content": "You are a concise travel assistant. Use the tools, then answer."},
                {"role": "user", "content": question}]
    while True:
        msg = client.chat.completions.create(model="gpt-4o", messages=messages, tools=TOOLS).choices[0].message
        if not msg.tool_calls:
            check_answer(msg.content)
            return msg.content
        messages.append(msg.model_dump(exclude_none=True))
        for call in msg.tool_calls:
            result = globals()[call.function.name](**json.loads(call.function.arguments))
            messages.append({"role": "tool", "tool_call_id": call.id, "content": json.dumps(result)})
'''
SHOT_CELL = '''%%llm_trace --name lisbon-trip --tag env=dev
answer = travel_agent("Plan a sunny Saturday in Lisbon: one museum, and a viewpoint for the sunset.")
'''


# -- stores -------------------------------------------------------------------------------------------

def build_big_trace(db: Path) -> tuple[str, str]:
    """One agent trace of exactly SPANS spans: 1,111 LLM turns with messages, 8 tool calls under each.
    Returns (trace_id, name of the last span in tree order)."""
    import llmops_nb

    llmops_nb.configure(db=str(db))
    prompt = ("You are a research agent. Use the tools to look things up, then answer briefly. " * 4).strip()
    made, last = 1, ""
    with llmops_nb.span("research-agent", kind="AGENT") as root:
        root.set_inputs({"question": "Which European capitals lie on a river, and which river?"})
        turn = 0
        while made < SPANS:
            turn += 1
            with llmops_nb.span(f"llm turn {turn}", kind="CHAT_MODEL",
                                attributes={"gen_ai.request.model": "gpt-4o-mini",
                                            "gen_ai.usage.input_tokens": 900 + turn,
                                            "gen_ai.usage.output_tokens": 60}) as llm:
                made += 1
                llm.set_inputs({"model": "gpt-4o-mini", "messages": [
                    {"role": "system", "content": prompt},
                    {"role": "user", "content": f"Step {turn}: which capital should we check next?"}]})
                llm.set_outputs({"choices": [{"message": {"role": "assistant", "content": f"Checking city {turn}."}}]})
                for j in range(min(8, SPANS - made)):
                    last = f"tool {turn}.{j}"
                    with llmops_nb.span(last, kind="TOOL") as tool:
                        made += 1
                        tool.set_inputs({"city": f"city-{turn}-{j}"})
                        tool.set_outputs({"river": "Seine" if j % 2 else "Danube"})
    assert llmops_nb.flush(timeout=120), "the recorder did not flush"
    return root.trace_id, last


def build_many_traces(db: Path) -> None:
    """TRACES traces (an agent and its LLM call each, some failed) for the list."""
    import llmops_nb

    llmops_nb.configure(db=str(db))
    agents = ["support-bot", "rag-qa", "planner", "sql-agent", "summarizer", "router", "coder", "triage"]
    for i in range(TRACES):
        try:
            with llmops_nb.span(f"{agents[i % len(agents)]} #{i}", kind="AGENT") as root:
                root.set_attribute("env", "prod" if i % 3 else "dev")
                with llmops_nb.span("openai.chat.completions.create", kind="CHAT_MODEL",
                                    attributes={"gen_ai.request.model": "gpt-4o-mini",
                                                "gen_ai.usage.input_tokens": 200 + i % 500,
                                                "gen_ai.usage.output_tokens": 40 + i % 90}):
                    if i % 37 == 0:
                        raise TimeoutError("the provider timed out")
        except TimeoutError:
            pass
    assert llmops_nb.flush(timeout=300), "the recorder did not flush"
    count = llmops_nb.sql("SELECT count(*) AS n FROM traces").n[0]
    assert count == TRACES, f"{count} traces stored, expected {TRACES}"


def kernel_side(trace_id: str, runs: int) -> dict[str, list[float]]:
    """What the kernel does for one display of the big trace, timed in this process on the same file:
    the snapshot (built before the output is sent) and the skeleton answer."""
    from llmops_nb.widgets.explorer import _data
    from llmops_nb.widgets.explorer._snapshot import trace_snapshot

    out: dict[str, list[float]] = {"snapshot": [], "skeleton": []}
    for _ in range(runs):
        started = time.perf_counter()
        trace_snapshot(trace_id)
        middle = time.perf_counter()
        _data.skeleton(trace_id)
        out["snapshot"].append((middle - started) * 1000)
        out["skeleton"].append((time.perf_counter() - middle) * 1000)
    return out


# -- browser --------------------------------------------------------------------------------------------

class FrameBytes:
    """Bytes of every websocket frame the page receives, by Jupyter message type (and comm method)."""

    def __init__(self, page: Any) -> None:
        self.on = False
        self.frames: list[tuple[str, int]] = []
        page.on("websocket", lambda ws: ws.on("framereceived", self._received))

    def _received(self, payload: Any) -> None:
        if self.on:
            data = payload if isinstance(payload, bytes) else str(payload).encode()
            self.frames.append((_label(data), len(data)))

    def by_label(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for label, size in self.frames:
            out[label] = out.get(label, 0) + size
        return out


def _label(frame: bytes) -> str:
    """``msg_type`` (plus the comm message's ``type``/``method``) of a Jupyter websocket frame."""
    try:
        if frame[:1] == b"{":  # JSON protocol
            msg = json.loads(frame)
            header, content = msg.get("header", {}), msg.get("content", {})
        else:  # v1.kernel.websocket.jupyter.org: offsets, channel, header, parent, metadata, content
            n = int.from_bytes(frame[:8], "little")
            offsets = [int.from_bytes(frame[8 * (i + 1):8 * (i + 2)], "little") for i in range(n)] + [len(frame)]
            parts = [frame[offsets[i]:offsets[i + 1]] for i in range(1, len(offsets) - 1)]
            header, content = json.loads(parts[0]), json.loads(parts[3])
        kind = header.get("msg_type", "?")
        if kind == "comm_msg":
            data = content.get("data", {})
            if data.get("method") == "custom":
                inner = data.get("content", {})
                return f"comm_msg custom {inner.get('type', '?')}"
            return f"comm_msg {data.get('method', '?')}"
        return kind
    except (ValueError, IndexError, KeyError, AttributeError):
        return "unparsed"


def open_and_run(server: JupyterServer, page: Any, notebook: str, selector: str,
                 counter: FrameBytes | None = None) -> float:
    """Open ``notebook``, run all cells once the kernel is idle, and return ms from the run command
    until ``selector`` matches (``counter`` counts the frames from the run command on)."""
    page.goto(server.notebook_url(notebook))
    wait_kernel_idle(page, TIMEOUT_MS)
    page.wait_for_timeout(3000)  # idle comes a moment before the session is wired (browser-testing.md)
    page.evaluate(_ARM_JS, selector)
    if counter is not None:
        counter.on = True
    run_command(page, "notebook:run-all-cells")
    page.wait_for_function("() => window.__benchSeen != null", timeout=TIMEOUT_MS, polling=100)
    return page.evaluate("() => window.__benchSeen - window.__benchStart")


def explorer_runs(server: JupyterServer, browser: Any, runs: int, last_name: str) -> dict[str, Any]:
    first, open_ms, scroll, nbytes, span_bytes, breakdown = None, [], [], [], [], {}
    for run in range(runs + 1):
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        counter = FrameBytes(page)
        wall = open_and_run(server, page, "explorer.ipynb", ".lnb-explorer[data-open-ms]", counter)
        root = page.locator(".lnb-explorer")
        view_ms = float(root.get_attribute("data-open-ms"))
        assert root.get_attribute("data-spans") == str(SPANS)
        page.wait_for_timeout(1000)  # stragglers: the kernel's idle status, comm echoes
        counter.on = False
        opened = counter.by_label()
        counter.frames.clear()
        counter.on = True
        root.locator(".lnb-row:not([hidden])").nth(1).click()  # "llm turn 1"
        root.locator(".lnb-msg.lnb-role-user").first.wait_for(timeout=TIMEOUT_MS)
        page.wait_for_timeout(500)
        counter.on = False
        selected = counter.by_label()
        result = root.evaluate(_SCROLL_JS)
        assert result["lastName"] == last_name, f"scrolled to {result['lastName']!r}, expected {last_name!r}"
        page.close()
        if run == 0:
            first = {"wall": wall, "view": view_ms}
            continue
        open_ms.append({"wall": wall, "view": view_ms})
        scroll.append(result)
        nbytes.append(sum(opened.values()))
        span_bytes.append(sum(v for k, v in selected.items() if k.startswith("comm_msg custom")))
        breakdown = opened
    return {"first": first, "open": open_ms, "scroll": scroll, "bytes": nbytes, "span_bytes": span_bytes,
            "breakdown": breakdown}


def list_runs(server: JupyterServer, browser: Any, runs: int) -> dict[str, Any]:
    first, out = None, []
    for run in range(runs + 1):
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        wall = open_and_run(server, page, "list.ipynb", ".lnb-trace-list[data-open-ms]")
        root = page.locator(".lnb-trace-list")
        view_ms = float(root.get_attribute("data-open-ms"))
        assert root.get_attribute("data-total") == str(TRACES), root.get_attribute("data-total")
        rows = root.locator(".lnb-tl-row:not([hidden]):not(.lnb-tl-placeholder)").count()
        assert rows > 0
        page.close()
        if run == 0:
            first = {"wall": wall, "view": view_ms}
        else:
            out.append({"wall": wall, "view": view_ms, "rows": rows})
    return {"first": first, "open": out}


def screenshot(path: Path) -> None:
    """The README's picture of the explorer (see the module's docstring)."""
    from playwright.sync_api import expect, sync_playwright

    from tests.fakes import FakeLLMServer, Reply, ToolCall, Usage

    answer = ("Saturday in Lisbon looks sunny (24 °C).\nMorning: the MAAT museum in Belém, art and technology by "
              "the river.\nSunset: Miradouro da Senhora do Monte, the city's highest viewpoint.")
    with tempfile.TemporaryDirectory(prefix="llmops_nb-shot-") as tmp, FakeLLMServer() as llm, \
            start_jupyter("lab", Path(tmp)) as server:
        guides = ToolCall("search_guides", {"query": "Lisbon museum and sunset viewpoint"}, id="call_guides")
        weather = ToolCall("get_weather", {"city": "Lisbon", "day": "Saturday"}, id="call_weather")
        llm.enqueue(Reply(text=None, tool_calls=[guides], usage=Usage(1212, 24), delay=0.9))
        llm.enqueue(Reply(text=None, tool_calls=[weather], usage=Usage(1338, 19), delay=0.7))
        llm.enqueue(Reply(text=answer, usage=Usage(1411, 58), delay=1.3))
        setup = (f"%load_ext llmops_nb\nimport llmops_nb\nllmops_nb.configure(db={str(Path(tmp) / 'shot.duckdb')!r})\n"
                 f"BASE_URL = {llm.openai_base_url!r}")
        server.write_notebook("travel.ipynb", [setup, SHOT_DEFS, SHOT_CELL])
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 900}, device_scale_factor=2,
                                        color_scheme="light")
                page.goto(server.notebook_url("travel.ipynb"))
                wait_kernel_idle(page, TIMEOUT_MS)
                run_command(page, "application:toggle-left-area")  # hide the file browser: room for the view
                page.wait_for_timeout(3000)  # idle comes a moment before the session is wired
                run_command(page, "notebook:run-all-cells")
                explorer = page.locator(".lnb-explorer")
                rows = explorer.locator(".lnb-row:not([hidden])")
                expect(rows).to_have_count(9, timeout=TIMEOUT_MS)
                rows.filter(has_text="· chat").last.click()  # LLM rows read "model · operation"
                expect(explorer.locator(".lnb-msg.lnb-role-tool").first).to_be_visible()
                page.mouse.move(0, 0)  # no hover highlight
                # another cell active: no cell toolbar over the picture
                page.evaluate("() => { window.jupyterapp.shell.currentWidget.content.activeCellIndex = 0; }")
                # the detail pane scrolled to the conversation
                explorer.locator(".lnb-detail").evaluate(
                    "d => { const m = d.querySelector('.lnb-sec'); d.scrollTop = m.offsetTop - d.offsetTop + 1; }")
                cell = page.locator(".jp-Cell").nth(2)
                cell.scroll_into_view_if_needed()
                page.wait_for_timeout(300)
                top, view = cell.bounding_box(), explorer.bounding_box()
                left = cell.locator(".jp-InputPrompt").bounding_box()["x"]
                page.screenshot(path=str(path), clip={
                    "x": left, "y": top["y"], "width": view["x"] + view["width"] - left + 8,
                    "height": view["y"] + view["height"] - top["y"] + 8})
            finally:
                browser.close()
    print(f"wrote {path}")


# -- report ---------------------------------------------------------------------------------------------

def machine() -> dict[str, str]:
    cpu = platform.processor() or "?"
    with open("/proc/cpuinfo", encoding="utf-8") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = "?"
    with open("/proc/meminfo", encoding="utf-8") as f:
        for line in f:
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    chromium = subprocess.run([str(CHROMIUM), "--version"], capture_output=True, text=True, check=False).stdout
    from importlib.metadata import version

    return {"cpu": cpu, "cores": str(os.cpu_count()), "memory": mem, "os": f"{platform.system()} {platform.release()}",
            "python": platform.python_version(), "chromium": chromium.strip().split(" built")[0],
            "jupyterlab": version("jupyterlab"), "playwright": version("playwright"), "load": _load()}


def _load() -> str:
    with open("/proc/loadavg", encoding="utf-8") as f:
        return " ".join(f.read().split()[:3])


def _med(values: list[float]) -> float:
    return statistics.median(values)


def _kb(n: float) -> str:
    return f"{n / 1024:,.1f} KiB"


def report(info: dict[str, str], ex: dict[str, Any], tl: dict[str, Any], gr: dict[str, Any],
           kernel: dict[str, list[float]], runs: int, seconds: float, load_after: str) -> str:
    walls = [r["wall"] for r in ex["open"]]
    views = [r["view"] for r in ex["open"]]
    intervals = [i for s in ex["scroll"] for i in s["intervals"]]
    totals = [s["total"] for s in ex["scroll"]]
    frames = [len(s["intervals"]) for s in ex["scroll"]]
    slow = sum(1 for i in intervals if i > 25)
    longest = max(intervals)
    long_tasks = sum(len(s["longTasks"]) for s in ex["scroll"])
    dom_rows = max(s["domRows"] for s in ex["scroll"])
    p95 = statistics.quantiles(intervals, n=20)[-1]
    tl_walls = [r["wall"] for r in tl["open"]]
    tl_views = [r["view"] for r in tl["open"]]
    bd = ex["breakdown"]
    widget_state = bd.get("comm_open", 0)
    skeleton = bd.get("comm_msg custom response", 0)
    display = bd.get("execute_result", 0) + bd.get("display_data", 0)
    other = sum(bd.values()) - widget_state - skeleton - display
    day = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Browser benchmarks",
        "",
        "The trace explorer, the trace list and the agent graph measured in a real JupyterLab in headless chromium "
        "(not timed tests). Written by:",
        "",
        "```bash",
        "python benchmarks/browser_bench.py",
        "```",
        "",
        f"- **When:** {day}; {runs} measured runs per figure (medians), after one unmeasured run that starts "
        f"the kernel; whole run {seconds:.0f} s.",
        f"- **Machine:** {info['cores']} cores ({info['cpu']}), {info['memory']} RAM, {info['os']}, "
        f"Python {info['python']}, {info['chromium']}, JupyterLab {info['jupyterlab']}, "
        f"Playwright {info['playwright']}; load average {info['load']} before, {load_after} after.",
        "- **Setup:** JupyterLab on 127.0.0.1 with kernel and browser on the same machine (so no network "
        "latency), a 1280×1000 page; each run opens a fresh page, so the widget's JavaScript is loaded "
        "and the view built from nothing every time.",
        "",
        "| What | Median | Runs (ms) |",
        "|---|---:|---|",
        f"| 10,000-span trace, first render: view (its render call → rows drawn, the skeleton request "
        f"included) | **{_med(views):.0f} ms** | {', '.join(f'{v:.0f}' for v in views)} |",
        f"| 10,000-span trace, first render: end to end (run the cell → rows drawn) | {_med(walls):.0f} ms | "
        f"{', '.join(f'{v:.0f}' for v in walls)} |",
        f"| 10,000-span trace, scroll from the first row to the last, one screenful per frame "
        f"({_med(frames):.0f} frames) | {_med(totals):.0f} ms | {', '.join(f'{v:.0f}' for v in totals)} |",
        f"| `%llm_traces` on {TRACES:,} traces: view (render → first rows, the first page and the total "
        f"counted in DuckDB) | **{_med(tl_views):.0f} ms** | {', '.join(f'{v:.0f}' for v in tl_views)} |",
        f"| `%llm_traces` on {TRACES:,} traces: end to end (run the cell → first rows) | {_med(tl_walls):.0f} ms | "
        f"{', '.join(f'{v:.0f}' for v in tl_walls)} |",
        *_graph_browser.report_rows(gr),
        "",
        f"Scrolling: frame interval median {_med(intervals):.1f} ms, 95th percentile {p95:.1f} ms, longest "
        f"{longest:.0f} ms; {slow} of {len(intervals)} frames over 25 ms (a dropped frame at 60 Hz); "
        f"{long_tasks} long task{'' if long_tasks == 1 else 's'} (> 50 ms) in all runs; at most {dom_rows} row "
        "elements in the page whatever the scroll position (the rows are a recycled pool). The pass ends on the "
        "trace's last span.",
        "",
        "Between the two first-render clocks is the kernel's work before the view exists: running the cell, "
        f"building the script-free snapshot that goes out with the widget (median {_med(kernel['snapshot']):.0f} ms "
        f"for this trace: {', '.join(f'{v:.0f}' for v in kernel['snapshot'])} ms, timed outside the kernel on the "
        "same file), sending the widget's state; the skeleton query itself takes "
        f"{_med(kernel['skeleton']):.0f} ms of the view's time.",
        "",
        f"The first, unmeasured run (kernel start, imports, DuckDB files cold): explorer {ex['first']['view']:.0f} ms "
        f"view / {ex['first']['wall']:.0f} ms end to end; list {tl['first']['view']:.0f} ms / "
        f"{tl['first']['wall']:.0f} ms.",
        "",
        *_graph_browser.report_notes(gr),
        "## Bytes sent to the browser for the 10,000-span trace",
        "",
        "Every websocket frame the page received from running the cell until the rows were drawn (plus a "
        "second for stragglers), by message:",
        "",
        "| Message | Bytes |",
        "|---|---:|",
        f"| the widget's state (`comm_open`: view state plus the view's bundled JS and CSS) | {_kb(widget_state)} |",
        f"| the skeleton answer (every span's name, kind, timing, status, model, tokens, cost; no payloads) | "
        f"{_kb(skeleton)} |",
        f"| the cell's output (`execute_result`: the widget's reference, the script-free HTML snapshot of the "
        f"first 200 spans, the text summary) | {_kb(display)} |",
        f"| the kernel's own messages (status, execute input and reply, of both cells) | {_kb(other)} |",
        f"| **total** | **{_kb(_med(ex['bytes']))}** |",
        "",
        f"Selecting an LLM span then fetches that span alone: {_kb(_med(ex['span_bytes']))}. The trace's "
        "payloads (messages, tool inputs and outputs) stay in DuckDB until a span is selected.",
        "",
        "Messages seen while opening, for the record: "
        + ", ".join(f"`{k}` {_kb(v)}" for k, v in sorted(bd.items(), key=lambda kv: -kv[1])) + ".",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="measured runs per figure (default 5)")
    parser.add_argument("--output", default=str(ROOT / "docs" / "browser-benchmarks.md"),
                        help="markdown file to write ('-' prints only)")
    parser.add_argument("--screenshot", metavar="PNG", default=None,
                        help="only take the README's screenshot of the explorer, to this file")
    args = parser.parse_args(argv)
    if not CHROMIUM.exists():
        print(f"{CHROMIUM} is missing: apt-get install -y --no-install-recommends chromium", file=sys.stderr)
        return 2
    if args.screenshot:
        screenshot(Path(args.screenshot))
        return 0
    from playwright.sync_api import sync_playwright

    started = time.monotonic()
    info = machine()
    with tempfile.TemporaryDirectory(prefix="llmops_nb-browser-bench-") as tmp:
        base = Path(tmp)
        print(f"building a {SPANS:,}-span trace and a store of {TRACES:,} traces…", flush=True)
        trace_id, last_name = build_big_trace(base / "big.duckdb")
        kernel = kernel_side(trace_id, args.runs)
        build_many_traces(base / "many.duckdb")
        graph_trace = _graph_browser.build_graph_store(base / "graph.duckdb")
        graph_kernel = _graph_browser.kernel_side(graph_trace, args.runs)
        with start_jupyter("lab", base / "lab") as server:
            server.write_notebook("explorer.ipynb", [
                f"import llmops_nb\nllmops_nb.configure(db={str(base / 'big.duckdb')!r})",
                f"from llmops_nb.widgets import TraceExplorer\nTraceExplorer({trace_id!r}, height=600)"])
            server.write_notebook("list.ipynb", [
                f"%load_ext llmops_nb\nimport llmops_nb\nllmops_nb.configure(db={str(base / 'many.duckdb')!r})",
                "%llm_traces"])
            for notebook, cells in _graph_browser.cells(base / "graph.duckdb", graph_trace).items():
                server.write_notebook(notebook, cells)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
                try:
                    print("explorer…", flush=True)
                    ex = explorer_runs(server, browser, args.runs, last_name)
                    print("trace list…", flush=True)
                    tl = list_runs(server, browser, args.runs)
                    print("agent graph…", flush=True)
                    gr = {key: _graph_browser.graph_runs(server, browser, args.runs, f"graph_{key}.ipynb",
                                                         graph_kernel[key], open_and_run)
                          for key in ("one", "many")}
                    gr["kernel"] = graph_kernel
                finally:
                    browser.close()
    text = report(info, ex, tl, gr, kernel, args.runs, time.monotonic() - started, _load())
    print(text)
    if args.output != "-":
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
