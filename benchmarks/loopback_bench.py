"""Benchmark: the hand-written loopback transport against httpx's default one, on the judge/evaluate path.

    python benchmarks/loopback_bench.py [--rounds 5] [--delay 0 0.05] [--requests 300] [--rows 200] [--publish]

Both contenders are the official ``openai`` SDK client the judge path builds
(SDK retries off, ours on as by default, traced by autolog); they differ only in the wire: the SDK's
default httpx transport (connection pool, h11) or the lean ``http.client``
transport that was ``llmops_nb/models/_loopback.py`` (deleted after this
benchmark; kept as ``benchmarks/_loopback_transport.py``). Each is driven through a
:class:`~llmops_nb.models.Model` as an LLM judge calls it:

- ``chat c=1``: ``Model.chat`` one call after another — per-request latency (median) and CPU per request;
- ``chat c=32``: 32 threads calling ``Model.chat`` — requests per second;
- ``evaluate c=1`` / ``c=32``: ``llmops_nb.evaluate(rows, scorers=[judge], max_concurrency=C)`` on stored
  outputs, one judge call per row, every row traced and stored — rows per second.

The server is ``tests/fakes``' :class:`FakeLLMServer` in its own process (its
CPU does not share our interpreter), answering a verdict after ``--delay``
seconds (0: the client's own cost is all there is to see; one table per
delay). Rounds alternate the contenders, rotating the order; the report gives
medians over rounds and the median of per-round ratios. Prints markdown;
``--publish`` also writes its section of ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

VERDICT = json.dumps({"rationale": "The response states the expected fact.", "result": "yes"})
SERVER = r"""
import sys
sys.path.insert(0, sys.argv[1])
from tests.fakes import FakeLLMServer, Reply, Usage, llm_server
# Answer in one segment, as llama.cpp, Ollama and vLLM do: with Nagle on, the fake's separate header and
# body writes wait ~40 ms for the client's delayed ACK, which would swamp what is measured here.
llm_server._Handler.disable_nagle_algorithm = True
# A listen backlog like theirs (socketserver's default is 5): 32 clients connecting at once would overflow
# it, and the connections it drops surface as failed attempts that only the retry layer hides.
llm_server.ThreadingHTTPServer.request_queue_size = 1024
server = FakeLLMServer()
reply = Reply(text=sys.argv[2], usage=Usage(120, 20), delay=float(sys.argv[3]))
server.enqueue(*[reply] * int(sys.argv[4]))
print(server.port, flush=True)
sys.stdin.read()  # until the benchmark closes our stdin
"""


def _loopback_client(sdk: Any, base_url: str) -> Any:
    from benchmarks._loopback_transport import http_client

    return sdk.OpenAI(api_key="bench", base_url=base_url, max_retries=0, timeout=60, http_client=http_client(sdk))


def _httpx_client(sdk: Any, base_url: str) -> Any:
    return sdk.OpenAI(api_key="bench", base_url=base_url, max_retries=0, timeout=60)


CONTENDERS: dict[str, Callable[[Any, str], Any]] = {"httpx (SDK default)": _httpx_client,
                                                     "loopback (http.client)": _loopback_client}


def _model(make_client: Callable[[Any, str], Any], base_url: str) -> Any:
    import openai

    from llmops_nb.models import Model

    model = Model(f"openai:/bench-judge?base_url={base_url}")  # our retry layer as users have it
    # The contender's client in place of the one Provider would build: only the transport differs.
    model._provider._sync = make_client(openai, base_url)
    return model


def chat_sequential(model: Any, requests: int) -> dict[str, float]:
    latencies = []
    cpu_started, started = time.process_time(), time.perf_counter()
    for _ in range(requests):
        t0 = time.perf_counter_ns()
        model.chat("Is the sky blue?", max_tokens=16)
        latencies.append(time.perf_counter_ns() - t0)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return {"latency_us": statistics.median(latencies) / 1e3, "cpu_us": cpu / requests * 1e6,
            "req_s": requests / wall}


def chat_threads(model: Any, requests: int, threads: int) -> dict[str, float]:
    per_thread = requests // threads
    barrier = threading.Barrier(threads + 1)

    failures: list[BaseException] = []

    def work() -> None:
        barrier.wait()
        try:
            for _ in range(per_thread):
                model.chat("Is the sky blue?", max_tokens=16)
        except Exception as exc:
            failures.append(exc)

    pool = [threading.Thread(target=work) for _ in range(threads)]
    for thread in pool:
        thread.start()
    barrier.wait()
    cpu_started, started = time.process_time(), time.perf_counter()
    for thread in pool:
        thread.join()
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    if failures:
        raise failures[0]
    done = per_thread * threads
    return {"req_s": done / wall, "cpu_us": cpu / done * 1e6}


def evaluate_rows(model: Any, rows: int, concurrency: int) -> dict[str, float]:
    from llmops_nb.evals import evaluate, make_judge

    judge = make_judge("correct", "Is {{ outputs }} a correct answer to {{ inputs }}?", model=model)
    data = [{"inputs": {"question": f"Capital of country #{i}?"}, "outputs": f"City {i}."} for i in range(rows)]
    cpu_started, started = time.process_time(), time.perf_counter()
    frame = evaluate(data, scorers=[judge], max_concurrency=concurrency, progress=False)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    errors = int(frame["correct/error"].notna().sum())
    if errors:
        raise RuntimeError(f"{errors} judge errors, e.g. {frame['correct/error'].dropna().iloc[0]}")
    return {"rows_s": rows / wall, "cpu_us": cpu / rows * 1e6}


def run(args: argparse.Namespace, delay: float) -> str:
    """One server delay: every round, both contenders, every case; returns the markdown table."""
    import llmops_nb

    rounds: list[dict[str, dict[str, dict[str, float]]]] = []
    names = list(CONTENDERS)
    with tempfile.TemporaryDirectory() as folder:
        llmops_nb.configure(db=os.path.join(folder, "bench.duckdb"))
        llmops_nb.autolog()
        per_round = args.requests + args.requests * 3 + args.rows * 2
        server = subprocess.Popen([sys.executable, "-c", SERVER, str(ROOT), VERDICT, str(delay),
                                   str(per_round * len(names) * (args.rounds + 1))],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            base_url = f"http://127.0.0.1:{int(server.stdout.readline())}/v1"  # type: ignore[union-attr]
            models = {name: _model(make, base_url) for name, make in CONTENDERS.items()}
            for model in models.values():  # warm up: connections open, SDK paths imported
                chat_sequential(model, 20)
                evaluate_rows(model, 10, 4)
            cases = {"chat c=1": lambda m: chat_sequential(m, args.requests),
                     "chat c=32": lambda m: chat_threads(m, args.requests * 3, 32),
                     "evaluate c=1": lambda m: evaluate_rows(m, args.rows // 2, 1),
                     "evaluate c=32": lambda m: evaluate_rows(m, args.rows, 32)}
            for index in range(args.rounds):
                order = names[index % len(names):] + names[:index % len(names)]
                result: dict[str, dict[str, dict[str, float]]] = {name: {} for name in order}
                for name in order:
                    for case, measure in cases.items():
                        llmops_nb.flush()  # each case starts with the store's writer idle
                        retried = models[name].stats.retries
                        result[name][case] = measure(models[name])
                        result[name][case]["retries"] = models[name].stats.retries - retried
                rounds.append(result)
                print(f"delay {delay:g} s: round {index + 1}/{args.rounds} done", file=sys.stderr)
        finally:
            server.stdin.close()  # type: ignore[union-attr]
            server.wait(10)
    return table(rounds, names, args, delay)


def table(rounds: list[dict[str, Any]], names: list[str], args: argparse.Namespace, delay: float) -> str:
    httpx_name, loop_name = names
    rows = []
    for case, metric, unit, higher_better in (
            ("chat c=1", "latency_us", "µs per request (median)", False),
            ("chat c=1", "cpu_us", "CPU µs per request", False),
            ("chat c=32", "req_s", "requests/s", True),
            ("chat c=32", "cpu_us", "CPU µs per request", False),
            ("evaluate c=1", "rows_s", "rows/s", True),
            ("evaluate c=32", "rows_s", "rows/s", True),
            ("evaluate c=32", "cpu_us", "CPU µs per row", False)):
        a = [r[httpx_name][case][metric] for r in rounds]
        b = [r[loop_name][case][metric] for r in rounds]
        # > 1 means the loopback transport is better, whichever way "better" points
        ratios = [(y / x if higher_better else x / y) for x, y in zip(a, b, strict=True)]
        rows.append(f"| {case} | {unit} | {statistics.median(a):,.0f} | {statistics.median(b):,.0f} "
                    f"| {statistics.median(ratios):.2f}× |")
    retries = {name: int(sum(c["retries"] for r in rounds for c in r[name].values())) for name in names}
    foot = (f"\n\nAttempts retried (a connection the server dropped): "
            f"{httpx_name} {retries[httpx_name]}, {loop_name} {retries[loop_name]}.")
    head = (f"Server answering after {delay * 1000:g} ms; {args.rounds} rounds of {args.requests} sequential and "
            f"{args.requests * 3} threaded chat calls, {args.rows // 2} + {args.rows} evaluate rows.\n\n"
            f"| case | measure | {httpx_name} | {loop_name} | loopback advantage |\n|---|---|---:|---:|---:|\n")
    return head + "\n".join(rows) + foot


PUBLISHED = """## Loopback transport vs httpx on the judge path

`python benchmarks/loopback_bench.py {argv}` ({date}, 1-minute load average {load_start:.1f} at the
start, {load_end:.1f} at the end). The official openai SDK client through `Model.chat` and
`evaluate()` with one LLM judge, against `tests/fakes`' server in its own process, on httpx's default
transport or on the hand-written `http.client` transport that was `llmops_nb/models/_loopback.py`.
Medians over rounds; the advantage is the median of per-round ratios (> 1: loopback better).

{tables}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--delay", type=float, nargs="+", default=[0.0],
                        help="server delay(s) before each answer, seconds; one table each")
    parser.add_argument("--requests", type=int, default=300, help="sequential chat calls per round")
    parser.add_argument("--rows", type=int, default=200, help="evaluate rows per round at c=32 (half at c=1)")
    parser.add_argument("--publish", action="store_true", help="also write the section of docs/benchmarks.md")
    args = parser.parse_args()
    load_start = os.getloadavg()[0]
    tables = "\n\n".join(run(args, delay) for delay in args.delay)
    print(tables)
    if args.publish:
        from benchmarks._standalone import publish

        argv = " ".join(sys.argv[1:]).replace("--publish", "").strip()
        publish("loopback_bench", PUBLISHED.format(argv=argv, date=time.strftime("%Y-%m-%d"), tables=tables,
                                                   load_start=load_start, load_end=os.getloadavg()[0]),
                ROOT / "docs" / "benchmarks.md")


if __name__ == "__main__":
    main()
