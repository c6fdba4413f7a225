"""The monitoring dashboard's first render: 30 days of hourly points, three models, every default chart.

    python -m benchmarks --only monitor_dashboard_bench            # ~1 minute; prints the section
    python -m benchmarks --only monitor_dashboard_bench --quick    # fewer rounds
    python benchmarks/monitor_dashboard_bench.py                   # the same, standalone

A fresh interpreter (so the store, the imports and the settings are its own) writes 30 days of traffic
into a DuckDB file through the tracing API — 3 models × 720 hours × 2 requests, each an LLM span with
tokens, cost and time to first token, a guardrail run, one failure in twenty — and a judge's verdict on
every trace, as the monitor writes them. Then, median of rounds after one warm-up:

1. **Python**: ``dashboard(by="model", since="30d", every="1h")`` to the complete mimebundle
   (``_repr_mimebundle_()``: the ``FigureWidget`` with its state serialized as for the browser, and the
   script-free snapshot with its matplotlib SVG charts), wall and process CPU; and each part alone
   (``metrics()``, the chart layout, plotly's figure, the ``FigureWidget``, the SVG charts, the HTML).
   The first call of the fresh process (imports included) is reported too.
2. **Browser**: the same figure (plotly's JSON) drawn by ``Plotly.newPlot`` in Debian's headless chromium,
   plotly.js loaded from the installed plotly package's own bundle (a ``file:`` URL, nothing from the
   network); a fresh page per round, the script's load reported apart from the drawing.

Target: the Python side ≤ 500 ms.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `python benchmarks/monitor_dashboard_bench.py`: make the repo importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._harness import base_env
from benchmarks._report import Context, Section, Target, num, table

TARGET_MS = 500.0
DAYS, MODELS, PER_HOUR = 30, ("gpt-4o", "claude-sonnet", "llama-3-70b"), 2

CHILD = r'''
import datetime as dt, json, statistics, sys, time
rounds, db, figure_path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
t_start = time.perf_counter()
import llmops_nb
llmops_nb.configure(db=db)
from llmops_nb.tracing import start_span
from llmops_nb.store import get_store

DAYS, MODELS, PER_HOUR = %(days)d, %(models)r, %(per_hour)d
now = dt.datetime.now(dt.timezone.utc).replace(minute=0, second=0, microsecond=0)
ids = []
for hour in range(DAYS * 24):
    at = now - dt.timedelta(hours=DAYS * 24 - 1 - hour)
    for m, model in enumerate(MODELS):
        for k in range(PER_HOUR):
            n = (hour * 7 + m * 3 + k) %% 20
            start = int((at + dt.timedelta(minutes=10 + 20 * k + m)).timestamp() * 1e9)
            span = start_span("chat", kind="LLM", parent=False, attributes={
                "gen_ai.request.model": model, "gen_ai.usage.input_tokens": 300 + 10 * n,
                "gen_ai.usage.output_tokens": 60 + n, "llmops_nb.cost_usd": 0.0004 * (m + 1) + 0.00001 * n,
                "llmops_nb.time_to_first_token_ms": 150 + 12 * n + 40 * m})
            span.start_ns = start
            guard = start_span("pii", kind="GUARDRAIL", parent=span, attributes={
                "llmops_nb.guardrail.name": "pii", "llmops_nb.guardrail.side": "input",
                "llmops_nb.guardrail.passed": n != 3})
            guard.start_ns = start + 1000
            guard.end(end_ns=start + 2_000_000)
            if n == 7:
                span.set_status("ERROR", "upstream timed out")
            span.end(end_ns=start + int((400 + 35 * n + 150 * m) * 1e6))
            ids.append((span.trace_id, n, at))
llmops_nb.flush(timeout=120)
rows = [(f"{i:032x}", trace_id, "relevance", "LLM_JUDGE", "judge", json.dumps(n %% 4 != 0), float(n %% 4 != 0),
         n %% 4 != 0, at.replace(tzinfo=None)) for i, (trace_id, n, at) in enumerate(ids)]
with get_store().connect() as con:
    con.executemany("INSERT INTO assessments (assessment_id, trace_id, name, source_type, source_id, value, "
                    "value_number, passed, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
history_s = time.perf_counter() - t_start

from llmops_nb.monitor._dashboard import dashboard

def first_render():
    wall, cpu = time.perf_counter(), time.process_time()
    board = dashboard(by="model", since="%(days)dd", every="1h")
    bundle = board._repr_mimebundle_()
    done = (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000
    board.close()
    return done, board, bundle

cold, board, bundle = first_render()
totals = [first_render()[0] for _ in range(rounds)]

import plotly.graph_objects as go
from llmops_nb.monitor import _dashboard_charts as charts, _dashboard_figure as figure, _dashboard_snapshot as snap
from llmops_nb.monitor import _dashboard_svg as svg
from llmops_nb.monitor._metrics import metrics

def timed(fn):
    samples = []
    for _ in range(rounds):
        t = time.perf_counter()
        out = fn()
        samples.append((time.perf_counter() - t) * 1000)
    return statistics.median(samples), out

query = board._query
parts = {}
parts["metrics()"], frame = timed(query.run)
parts["chart layout"], drawn = timed(lambda: charts.layout(frame, query.by, board._names))
parts["plotly figure (dicts)"], spec = timed(lambda: figure.build(drawn, "Monitoring"))
parts["go.FigureWidget + state"], _ = timed(lambda: go.FigureWidget(spec, _validate=False).get_state())
parts["SVG charts (matplotlib)"], svgs = timed(lambda: svg.chart_svgs(drawn))
parts["snapshot HTML (charts + table)"], _ = timed(
    lambda: snap.snapshot(drawn, heading="Monitoring", updated=board.updated_at))
refresh = []
live = dashboard(by="model", since="%(days)dd", every="1h")
live._repr_mimebundle_()
for _ in range(rounds):
    t = time.perf_counter()
    live.refresh()
    refresh.append((time.perf_counter() - t) * 1000)
Path = __import__("pathlib").Path
Path(figure_path).write_text(go.Figure(spec).to_json())
print(json.dumps({
    "history_s": history_s, "traces": len(ids), "rows": len(frame), "points_per_group": int(len(frame) / len(MODELS)),
    "charts": list(board.charts), "traces_in_figure": len(spec["data"]), "cold_ms": cold[0],
    "wall_ms": statistics.median(t[0] for t in totals), "cpu_ms": statistics.median(t[1] for t in totals),
    "wall_all": [t[0] for t in totals], "parts": parts, "refresh_ms": statistics.median(refresh),
    "html_bytes": len(bundle["text/html"].encode()), "svg_bytes": sum(len(s.encode()) for s in svgs),
    "figure_json_bytes": Path(figure_path).stat().st_size,
}))
'''

PAGE = """<!doctype html><meta charset="utf-8"><body style="margin:0"><div id="plot" style="width:1200px"></div>
<script>window.__loadStart = performance.now();</script>
<script src="{plotly}"></script>
<script>window.__loaded = performance.now();</script></body>"""

DRAW_JS = """async (figure) => {
  const start = performance.now();
  await Plotly.newPlot(document.getElementById('plot'), figure.data, figure.layout);
  await new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
  return {draw: performance.now() - start, load: window.__loaded - window.__loadStart,
          svg: document.querySelectorAll('.main-svg').length,
          lines: document.querySelectorAll('.scatterlayer .trace').length};
}"""


def run(ctx: Context) -> Section:
    rounds = ctx.pick_rounds(5, 3)
    db, figure_path = ctx.workdir / "dashboard.duckdb", ctx.workdir / "dashboard-figure.json"
    code = CHILD % {"days": DAYS, "models": MODELS, "per_hour": PER_HOUR}
    ctx.log(f"monitor_dashboard_bench: {DAYS} days × {len(MODELS)} models of hourly traffic, {rounds} rounds")
    python = json.loads(_child(code, rounds, db, figure_path, ctx))
    browser = _browser(figure_path, rounds, ctx)
    return _section(python, browser, rounds)


def _child(code: str, rounds: int, db: Path, figure_path: Path, ctx: Context) -> str:
    """The worker's last line of output (its JSON), run in a fresh interpreter on its own store."""
    done = subprocess.run([sys.executable, "-c", code, str(rounds), str(db), str(figure_path)], capture_output=True,
                          text=True, env=base_env(ctx.workdir), cwd=ctx.workdir, timeout=900, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the dashboard worker failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done.stdout.strip().splitlines()[-1]


def _browser(figure_path: Path, rounds: int, ctx: Context) -> dict[str, Any] | None:
    """Plotly.newPlot of the figure in headless chromium, or None (with the reason logged) when it cannot run."""
    try:
        import plotly
        from playwright.sync_api import sync_playwright

        from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
    except ImportError as exc:
        ctx.log(f"monitor_dashboard_bench: no browser measurement ({exc})")
        return None
    if not CHROMIUM.exists():
        ctx.log(f"monitor_dashboard_bench: no browser measurement ({CHROMIUM} is missing)")
        return None
    bundle = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    page_path = ctx.workdir / "dashboard-plot.html"
    page_path.write_text(PAGE.format(plotly=bundle.as_uri()), encoding="utf-8")
    figure = json.loads(figure_path.read_text())
    samples: list[dict[str, Any]] = []
    blocked: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 1000})
        context.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file:")
                      else (blocked.append(r.request.url), r.abort()))
        for i in range(rounds + 1):  # the first, unmeasured, warms the disk cache
            page = context.new_page()
            page.goto(page_path.as_uri())
            result = page.evaluate(DRAW_JS, figure)
            page.close()
            if i:
                samples.append(result)
        browser.close()
    return {"draw_ms": statistics.median(s["draw"] for s in samples),
            "load_ms": statistics.median(s["load"] for s in samples), "lines": samples[-1]["lines"],
            "svg": samples[-1]["svg"], "blocked": blocked, "draw_all": [s["draw"] for s in samples]}


def _section(python: dict[str, Any], browser: dict[str, Any] | None, rounds: int) -> Section:
    wall = python["wall_ms"]
    rows = [["`dashboard()` → complete mimebundle (wall)", num(wall)],
            ["… process CPU", num(python["cpu_ms"])],
            ["first call in a fresh process (imports included)", num(python["cold_ms"])],
            ["`refresh()` of a shown dashboard (query, figure in place, new snapshot)", num(python["refresh_ms"])]]
    rows += [[f"part: {name}", num(ms)] for name, ms in python["parts"].items()]
    if browser is not None:
        rows += [["browser: `Plotly.newPlot` of the figure, to drawn", num(browser["draw_ms"])],
                 ["browser: loading plotly.min.js (file:, apart)", num(browser["load_ms"])]]
    body = (f"{python['traces']:,} traces ({DAYS} days × {len(MODELS)} models × {PER_HOUR} per hour); "
            f"{python['rows']:,} rows of `metrics()` ({python['points_per_group']} points per group); charts "
            f"{', '.join(python['charts'])}: {python['traces_in_figure']} plotly traces. Median of {rounds} rounds, "
            "milliseconds:\n\n" + table(["What", "ms"], rows)
            + f"\n\nSnapshot HTML {python['html_bytes'] / 1000:,.0f} kB (SVG {python['svg_bytes'] / 1000:,.0f} kB); "
            f"plotly figure JSON {python['figure_json_bytes'] / 1000:,.0f} kB."
            + ("" if browser is None else f" In chromium: {browser['lines']} lines drawn in {browser['svg']} SVG "
               f"layers; requests off the machine: {len(browser['blocked'])}."))
    targets = [Target("dashboard first render, Python (30 days hourly × 3 groups, all charts)",
                      f"≤ {TARGET_MS:.0f} ms", f"{num(wall)} ms", wall <= TARGET_MS)]
    return Section("Monitoring dashboard: first render", body, targets, {"python": python, "browser": browser})


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory(prefix="llmops_nb-dashboard-bench-") as work:
        context = Context(workdir=Path(work), quick="--quick" in sys.argv,
                          log=lambda message: print(message, file=sys.stderr, flush=True))
        section = run(context)
        print(f"## {section.title}\n\n{section.body}\n")
        for target in section.targets:
            print(target.row())
