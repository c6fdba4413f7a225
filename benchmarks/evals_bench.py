"""Benchmark: 1,000 examples x 3 LLM judges against a local OpenAI-compatible server answering after 50 ms.

    python benchmarks/evals_bench.py [--rows 1000] [--delay 0.05] [--concurrency 32] [--repeat 3]
                                     [--mlflow-rows 100]

The server runs in its own process (an asyncio HTTP/1.1 server, so its own CPU
use does not compete with the evaluation's interpreter) and counts requests in
flight. The evaluation is ``llmops_nb.evaluate(data, scorers=[3 judges],
max_concurrency=32)`` on stored outputs: 3,000 judge calls through the official
``openai`` SDK, each traced (an EVALUATOR span and a CHAT_MODEL span) and stored
as an assessment in a fresh DuckDB file. Ideal wall time: calls x delay /
concurrency (3,000 x 50 ms / 32 = 4.69 s); the target is at most 1.3x that.
Peak memory is the process's peak RSS growth (``ru_maxrss``) during the run.
With ``--mlflow-rows N`` (needs ``mlflow``), ``mlflow.genai.evaluate`` runs N
examples x 3 ``make_judge`` judges against the same server, offline (SQLite
tracking store in a temporary directory, 32 workers), next to llmops_nb on the
same N. Prints markdown tables.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VERDICT = json.dumps({"rationale": "The response states the expected fact.", "result": "yes"})

SERVER = r'''
import asyncio, json, sys
DELAY = float(sys.argv[1])
REPLY = json.dumps({"id": "chatcmpl-bench", "object": "chat.completion", "created": 0, "model": "bench-judge",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": sys.argv[2]}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 120, "completion_tokens": 20, "total_tokens": 140}}).encode()
state = {"in_flight": 0, "peak": 0, "requests": 0}

async def handle(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            if length:
                await reader.readexactly(length)
            if head.startswith(b"GET /stats"):
                body = json.dumps(state).encode()
            elif head.startswith(b"POST /reset"):
                state.update(in_flight=0, peak=0, requests=0)
                body = b"{}"
            else:
                state["requests"] += 1
                state["in_flight"] += 1
                state["peak"] = max(state["peak"], state["in_flight"])
                await asyncio.sleep(DELAY)
                state["in_flight"] -= 1
                body = REPLY
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n"
                         % len(body) + body)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()

async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=1024)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()

asyncio.run(main())
'''


def _request(port: int, method: str, path: str) -> dict:
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request(method, path, body=b"" if method == "POST" else None)
    data = json.loads(connection.getresponse().read())
    connection.close()
    return data


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def run_llmops_nb(port: int, rows: int, concurrency: int) -> dict:
    import llmops_nb
    from llmops_nb.evals import evaluate, scorers
    from llmops_nb.models import forget_models

    forget_models()
    model = f"openai:/bench-judge?base_url=http://127.0.0.1:{port}/v1&max_concurrency=64"
    judges = [scorers.correctness(model=model), scorers.relevance_to_query(model=model),
              scorers.guidelines(["Answer in one sentence."], model=model)]
    data = [{"inputs": {"question": f"What is the capital of country #{i}?"},
             "outputs": f"The capital of country #{i} is City {i}.",
             "expectations": {"expected_response": f"City {i}"}} for i in range(rows)]
    _request(port, "POST", "/reset")
    rss_before = _peak_rss_mb()
    cpu_started = time.process_time()
    started = time.perf_counter()
    frame = evaluate(data, scorers=judges, max_concurrency=concurrency, progress=False)
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    llmops_nb.flush()
    stats = _request(port, "GET", "/stats")
    values = [frame[f"{j.name}/value"] for j in judges]
    errors = int(sum(frame[f"{j.name}/error"].notna().sum() for j in judges))
    return {"wall_s": wall, "cpu_s": cpu, "requests": stats["requests"], "server_peak_in_flight": stats["peak"],
            "rss_growth_mb": _peak_rss_mb() - rss_before, "peak_rss_mb": _peak_rss_mb(),
            "passed": int(sum(v.sum() for v in values)), "errors": errors}


MLFLOW_RUN = r'''
import json, sys, time
import mlflow
from mlflow.genai.judges import make_judge
rows = int(sys.argv[1])
judges = [make_judge(name=name, instructions=text, model="openai:/bench-judge", feedback_value_type=bool)
          for name, text in (("correctness", "Is {{ outputs }} a correct answer to {{ inputs }}?"),
                             ("relevance", "Does {{ outputs }} address {{ inputs }}?"),
                             ("guidelines", "Is {{ outputs }} one sentence long?"))]
data = [{"inputs": {"question": f"What is the capital of country #{i}?"},
         "outputs": f"The capital of country #{i} is City {i}."} for i in range(rows)]
started = time.perf_counter()
result = mlflow.genai.evaluate(data=data, scorers=judges)
wall = time.perf_counter() - started
values = [v for j in ("correctness", "relevance", "guidelines") for v in result.result_df[f"{j}/value"]]
print(json.dumps({"wall_s": wall, "parsed": sum(v in ("yes", True) for v in values)}))
'''


def run_mlflow(port: int, rows: int, concurrency: int, workdir: Path) -> dict | None:
    """mlflow.genai.evaluate on the same server, in its own process and directory; None if it cannot run."""
    env = dict(os.environ, OPENAI_API_KEY="sk-bench", OPENAI_API_BASE=f"http://127.0.0.1:{port}/v1",
               MLFLOW_TRACKING_URI=f"sqlite:///{workdir / 'mlflow.db'}", MLFLOW_DISABLE_TELEMETRY="true",
               DO_NOT_TRACK="true", MLFLOW_GENAI_EVAL_MAX_WORKERS=str(concurrency),
               MLFLOW_SQLALCHEMYSTORE_POOL_SIZE="40", MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW="40",
               GIT_PYTHON_REFRESH="quiet")
    done = subprocess.run([sys.executable, "-c", MLFLOW_RUN, str(rows)], cwd=workdir, env=env, check=False,
                          capture_output=True,
                          text=True, timeout=1800)
    if done.returncode != 0:
        print(f"(mlflow.genai.evaluate could not run: {done.stderr.strip().splitlines()[-1:]})")
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--delay", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--mlflow-rows", type=int, default=0,
                        help="also run mlflow.genai.evaluate on this many examples (0: skip)")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="llmops_nb-evals-bench-"))
    os.environ["LLMOPS_NB_DB"] = str(workdir / "bench.duckdb")
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"
    sys.path.insert(0, str(ROOT))
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(args.delay), VERDICT], stdout=subprocess.PIPE,
                              text=True)
    try:
        port = int(server.stdout.readline())
        import llmops_nb

        llmops_nb.configure(db=str(workdir / "bench.duckdb"))
        run_llmops_nb(port, min(args.rows, 50), args.concurrency)  # warm-up: imports, SDK client, schema
        results = [run_llmops_nb(port, args.rows, args.concurrency) for _ in range(args.repeat)]
        side_by_side = None
        if args.mlflow_rows:
            ours = run_llmops_nb(port, args.mlflow_rows, args.concurrency)
            theirs = run_mlflow(port, args.mlflow_rows, args.concurrency, workdir)
            side_by_side = (ours, theirs) if theirs else None
    finally:
        server.kill()
    calls = args.rows * 3
    ideal = calls * args.delay / args.concurrency
    walls = [r["wall_s"] for r in results]
    median = statistics.median(walls)
    last = results[-1]
    print(f"### evaluate(): {args.rows} examples x 3 LLM judges, server delay {args.delay * 1000:.0f} ms, "
          f"max_concurrency={args.concurrency}\n")
    print("| measure | value |")
    print("| --- | --- |")
    print(f"| ideal wall time (calls x delay / concurrency) | {ideal:.2f} s |")
    print(f"| wall time, median of {len(walls)} | {median:.2f} s ({', '.join(f'{w:.2f}' for w in walls)}) |")
    print(f"| ratio to ideal (target <= 1.3) | {median / ideal:.2f}x |")
    print(f"| judge calls served / expected | {last['requests']} / {calls} |")
    print(f"| peak requests in flight at the server | {last['server_peak_in_flight']} (limit {args.concurrency}) |")
    print(f"| verdicts parsed (yes) / errors | {last['passed']} / {last['errors']} |")
    print(f"| peak RSS of the process | {last['peak_rss_mb']:.0f} MB |")
    print(f"| peak RSS growth during the first run | {results[0]['rss_growth_mb']:.0f} MB |")
    print(f"| calls per second | {calls / median:.0f} |")
    cpu = statistics.median(r["cpu_s"] for r in results)
    print(f"| CPU time of the evaluating process (all threads), median | {cpu:.2f} s "
          f"({cpu / calls * 1000:.2f} ms per judge call) |")
    if side_by_side:
        ours, theirs = side_by_side
        small_ideal = args.mlflow_rows * 3 * args.delay / args.concurrency
        print(f"\n### Side by side: {args.mlflow_rows} examples x 3 judges, same server, 32 workers each\n")
        print("| system | wall time | ratio to ideal | verdicts parsed |")
        print("| --- | --- | --- | --- |")
        print(f"| llmops_nb.evaluate | {ours['wall_s']:.2f} s | {ours['wall_s'] / small_ideal:.1f}x | "
              f"{ours['passed']} / {args.mlflow_rows * 3} |")
        print(f"| mlflow.genai.evaluate (SQLite store) | {theirs['wall_s']:.2f} s | "
              f"{theirs['wall_s'] / small_ideal:.1f}x | {theirs['parsed']} / {args.mlflow_rows * 3} |")
    print(f"\nmachine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; store: {workdir}")


if __name__ == "__main__":
    main()
