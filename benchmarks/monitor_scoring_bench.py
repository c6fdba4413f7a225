"""Benchmark: an online judge over 10,000 new traces, against a local OpenAI-compatible server answering after 50 ms.

    python benchmarks/monitor_scoring_bench.py [--traces 10000] [--delay 0.05] [--concurrency 32]
                                               [--repeat 3] [--mlflow-traces 300]

The judge server (``evals_bench.SERVER``: an asyncio HTTP/1.1 server in its own process) counts the
requests in flight. Each round writes ``--traces`` production-like traces (a CHAIN root and a
CHAT_MODEL child) into a fresh DuckDB store, then times one ``Monitor.run_once()`` with one judge
at ``concurrency``: every trace's judge call through the official ``openai`` SDK, its EVALUATOR
trace, and its assessment plus exactly-once key written in batches. Ideal wall time: traces x delay
/ concurrency (10,000 x 50 ms / 32 = 15.6 s); the target is at most 1.3x that.

With ``--mlflow-traces N`` (needs ``mlflow``): MLflow scores *existing* traces with
``mlflow.genai.evaluate(data=mlflow.search_traces(...), scorers=[judge])`` (its scheduled
scorers need Databricks; this is what runs offline). N traces are logged with ``@mlflow.trace`` to
a SQLite tracking store first (not timed), then evaluated with 32 workers against the same server;
llmops_nb's monitor scores N traces on the same server beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.evals_bench import SERVER, VERDICT, _request  # noqa: E402 - the same judge server


def write_traces(count: int) -> None:
    import llmops_nb

    for i in range(count):
        with llmops_nb.span("support", kind="CHAIN") as root:
            root.set_inputs({"question": f"What is the capital of country #{i}?"})
            with llmops_nb.span("chat", kind="CHAT_MODEL") as call:
                call.set_attributes({"gen_ai.request.model": "app-model", "gen_ai.usage.input_tokens": 40,
                                     "gen_ai.usage.output_tokens": 12})
            root.set_outputs(f"The capital of country #{i} is City {i}.")
    assert llmops_nb.flush(timeout=120)


def run_monitor(port: int, traces: int, concurrency: int, workdir: Path, label: str) -> dict:
    import llmops_nb
    from llmops_nb.evals import make_judge
    from llmops_nb.models import forget_models
    from llmops_nb.monitor._monitor import Monitor

    forget_models()
    llmops_nb.configure(db=str(workdir / f"{label}.duckdb"))
    write_traces(traces)
    judge = make_judge("correct", "Is {{ outputs }} a correct answer to {{ inputs }}?",
                       model=f"openai:/bench-judge?base_url=http://127.0.0.1:{port}/v1&max_concurrency=64")
    monitor = Monitor(concurrency=concurrency)
    monitor.add(judge, backfill=True)
    _request(port, "POST", "/reset")
    cpu_started = time.process_time()
    started = time.perf_counter()
    report = monitor.run_once()
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    monitor.close()
    stats = _request(port, "GET", "/stats")
    done = report.scorers[0]
    return {"wall_s": wall, "cpu_s": cpu, "scored": done.scored, "errors": done.errors,
            "requests": stats["requests"], "peak": stats["peak"]}


MLFLOW_RUN = r'''
import json, sys, time
import mlflow
from mlflow.genai.judges import make_judge
count = int(sys.argv[1])

@mlflow.trace(name="support", span_type="CHAIN")
def app(question):
    return f"The capital of {question[-3:]} is a city."

mlflow.set_experiment("monitor-bench")
for i in range(count):
    app(f"What is the capital of country #{i}?")
if hasattr(mlflow, "flush_trace_async_logging"):
    mlflow.flush_trace_async_logging()
traces = mlflow.search_traces(max_results=count)
judge = make_judge(name="correct", instructions="Is {{ outputs }} a correct answer to {{ inputs }}?",
                   model="openai:/bench-judge", feedback_value_type=bool)
started = time.perf_counter()
result = mlflow.genai.evaluate(data=traces, scorers=[judge])
wall = time.perf_counter() - started
values = list(result.result_df["correct/value"])
print(json.dumps({"wall_s": wall, "traces": len(traces), "parsed": sum(v in ("yes", True) for v in values)}))
'''


def run_mlflow(port: int, traces: int, concurrency: int, workdir: Path) -> dict | None:
    env = dict(os.environ, OPENAI_API_KEY="sk-bench", OPENAI_API_BASE=f"http://127.0.0.1:{port}/v1",
               MLFLOW_TRACKING_URI=f"sqlite:///{workdir / 'mlflow.db'}", MLFLOW_DISABLE_TELEMETRY="true",
               DO_NOT_TRACK="true", MLFLOW_GENAI_EVAL_MAX_WORKERS=str(concurrency),
               MLFLOW_SQLALCHEMYSTORE_POOL_SIZE="40", MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW="40",
               GIT_PYTHON_REFRESH="quiet", MLFLOW_ENABLE_ASYNC_TRACE_LOGGING="false")
    done = subprocess.run([sys.executable, "-c", MLFLOW_RUN, str(traces)], cwd=workdir, env=env, check=False,
                          capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        print(f"(mlflow.genai.evaluate could not run: {done.stderr.strip().splitlines()[-3:]})")
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=int, default=10_000)
    parser.add_argument("--delay", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--mlflow-traces", type=int, default=0, help="also score this many traces with MLflow")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="llmops_nb-monitor-bench-"))
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(args.delay), VERDICT], stdout=subprocess.PIPE,
                              text=True)
    try:
        port = int(server.stdout.readline())
        run_monitor(port, 100, args.concurrency, workdir, "warmup")
        results = [run_monitor(port, args.traces, args.concurrency, workdir, f"round{i}") for i in range(args.repeat)]
        side = None
        if args.mlflow_traces:
            ours = run_monitor(port, args.mlflow_traces, args.concurrency, workdir, "side")
            theirs = run_mlflow(port, args.mlflow_traces, args.concurrency, workdir)
            side = (ours, theirs) if theirs else None
    finally:
        server.kill()
        server.wait()
    ideal = args.traces * args.delay / args.concurrency
    walls = [r["wall_s"] for r in results]
    median = statistics.median(walls)
    last = results[-1]
    print(f"### Monitor.run_once(): one judge over {args.traces:,} new traces, server delay "
          f"{args.delay * 1000:.0f} ms, concurrency {args.concurrency}\n")
    print("| measure | value |\n| --- | --- |")
    print(f"| ideal wall time (traces x delay / concurrency) | {ideal:.2f} s |")
    print(f"| wall time, median of {len(walls)} | {median:.2f} s ({', '.join(f'{w:.2f}' for w in walls)}) |")
    print(f"| ratio to ideal (target <= 1.3) | {median / ideal:.2f}x |")
    print(f"| scored / errors / judge calls served | {last['scored']} / {last['errors']} / {last['requests']} |")
    print(f"| peak calls in flight at the server | {last['peak']} (limit {args.concurrency}) |")
    cpu = statistics.median(r["cpu_s"] for r in results)
    print(f"| CPU time of the monitoring process, median | {cpu:.2f} s ({cpu / args.traces * 1000:.2f} ms per trace) |")
    if side:
        ours, theirs = side
        small_ideal = args.mlflow_traces * args.delay / args.concurrency
        print(f"\n### Side by side: {args.mlflow_traces} stored traces, one judge, same server, "
              f"{args.concurrency} workers each\n")
        print("| system | wall time | ratio to ideal | verdicts |\n| --- | --- | --- | --- |")
        print(f"| llmops_nb Monitor.run_once | {ours['wall_s']:.2f} s | {ours['wall_s'] / small_ideal:.1f}x | "
              f"{ours['scored']} / {args.mlflow_traces} |")
        print(f"| mlflow.genai.evaluate on search_traces() (SQLite store) | {theirs['wall_s']:.2f} s | "
              f"{theirs['wall_s'] / small_ideal:.1f}x | {theirs['parsed']} / {theirs['traces']} |")
    print(f"\nmachine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; stores: {workdir}")


if __name__ == "__main__":
    main()
