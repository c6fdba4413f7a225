"""The AI gateway (issue 12) against LiteLLM: added latency, streaming throughput, budget overshoot, import time.

    python -m benchmarks --only gateway_bench            # ~3 minutes; writes docs/gateway-benchmarks.md
    python -m benchmarks --only gateway_bench --quick    # about a minute; prints only

Every contender talks to ONE fake OpenAI-compatible upstream (``_fake_upstream.py``, a bare asyncio
server in its own process, far cheaper than anything measured) and runs in its own worker process
(``_gateway_workers.py``) importing only its own library; the servers are processes of their own
(``_gateway_servers.py``):

- **direct** — the openai SDK calling the fake: the floor;
- **ours, in-kernel** — the same SDK through ``gw.client()`` / ``gw.async_client()`` (the gateway in
  the worker's process, traces written to a DuckDB store as in real use);
- **ours, server** — the SDK against ``python -m llmops_nb gateway --config FILE --port 0``;
- **LiteLLM Router** — ``litellm.Router(model_list=...)`` ``.completion()`` / ``.acompletion(stream=True)``;
- **LiteLLM Proxy** — the SDK against ``litellm --config cfg.yaml --port P`` (no database).

1. **Added latency**: sequential non-streamed completions, rounds alternating the contenders (order
   rotated); added p50 = median over rounds of (contender p50 − direct p50 in the same round); added
   p99 from all calls pooled. Also CPU per call: the client process's (all threads: our trace writer
   too) plus, for a server contender, the server process's (``/proc``), the steadier measure on a
   shared machine. Targets: in-kernel ≤ 0.5 ms, server ≤ 2 ms.
2. **Throughput**: 50 coroutines each doing streamed completions back to back; requests/s, median of
   rounds. Target: ours ≥ 2× LiteLLM (in-kernel vs Router, server vs Proxy).
3. **Budget overshoot**: 200 concurrent requests of $0.01 against a $0.50 budget; overshoot =
   max(0, answered × $0.01 − budget) / budget. Ours: a ``user`` budget (reserved before each call).
   LiteLLM: the budgets it enforces without a database — the Router's per-deployment
   ``max_budget``, the Proxy's (same mechanism) and the SDK-wide ``litellm.max_budget``. Three trials
   each (LiteLLM's outcome depends on timing), each on a fresh budget. Target: ours 0.
4. **Import time**: ``import llmops_nb.gateway`` + ``load(config)`` (+ ``gw.client()``) against
   ``import litellm`` (+ ``Router(model_list)``) in fresh interpreters, median of 5.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from benchmarks._gateway_report import document, section
from benchmarks._gateway_servers import (
    PROVIDER_KEY,
    Server,
    ServerError,
    child_env,
    extra_env,
    fake_upstream,
    gateway_config,
    litellm_model_list,
    litellm_proxy,
    ours_cli,
)
from benchmarks._gateway_workers import BUDGET
from benchmarks._harness import ROOT, Worker, WorkerError, rotated, run_python
from benchmarks._report import Context, Section

DOC = ROOT / "docs" / "gateway-benchmarks.md"
ORDER = ("direct", "ours", "ours_server", "litellm_router", "litellm_proxy")
CONCURRENCY = 50
OVERSHOOT_REQUESTS = 200


def run(ctx: Context) -> Section:
    quick = ctx.quick
    plan = {"latency_rounds": ctx.pick_rounds(10, 3), "calls_per_round": 50 if quick else 150,
            "throughput_rounds": ctx.pick_rounds(3, 1), "per_task": 2 if quick else 4,
            "import_rounds": ctx.pick_rounds(5, 2), "overshoot_trials": 1 if quick else 3}
    results: dict[str, Any] = {"quick": quick, "plan": plan, "missing": {}}
    servers: list[Server] = []
    workers: dict[str, Worker] = {}
    try:
        fake = fake_upstream(ctx.workdir)
        servers.append(fake)
        ctx.log(f"gateway_bench: fake upstream on {fake.url}")
        workers, serving = _start(ctx, fake.url, servers, results["missing"], plan["overshoot_trials"])
        names = [name for name in ORDER if name in workers]
        results["latency"] = _latency(ctx, workers, serving, names, plan)
        results["throughput"] = _throughput(ctx, workers, names, plan)
        results["overshoot"] = _overshoot(ctx, workers, plan["overshoot_trials"])
        results["stored"] = workers["ours"].call("stored", timeout=120) if "ours" in workers else {}
    finally:
        for worker in workers.values():
            worker.close()
        for server in servers:
            server.stop()
    results["imports"] = _imports(ctx, plan["import_rounds"], results["missing"])
    results["litellm_version"] = _version("litellm")
    built = section(results)
    if not quick:
        DOC.write_text(document(built, results), encoding="utf-8")
        ctx.log(f"gateway_bench: wrote {DOC.relative_to(ROOT)}")
    return built


def _start(ctx: Context, upstream: str, servers: list[Server], missing: dict[str, str], trials: int,
           ) -> tuple[dict[str, Worker], dict[str, Server]]:
    """One worker per contender, and the server each server contender talks to (ours, LiteLLM's Proxy);
    what could not start goes in ``missing``."""
    serving: dict[str, Server] = {}
    envs: dict[str, dict[str, str]] = {
        "direct": {"BENCH_BASE_URL": upstream + "/v1", "BENCH_API_KEY": PROVIDER_KEY, "BENCH_MODEL": "gpt-4o-mini"},
        "ours": {"BENCH_GATEWAY_CONFIG": json.dumps(gateway_config(upstream))},
        "litellm_router": {"BENCH_LITELLM_MODEL_LIST": json.dumps(litellm_model_list(upstream))},
    }
    try:
        ours, key = ours_cli(ctx.workdir, upstream)
        servers.append(ours)
        serving["ours_server"] = ours
        envs["ours_server"] = {"BENCH_BASE_URL": ours.url + "/v1", "BENCH_API_KEY": key, "BENCH_MODEL": "chat",
                               "BENCH_HEADERS": json.dumps({"x-llmops-project": "bench"})}
        ctx.log(f"gateway_bench: our gateway server on {ours.url}")
    except ServerError as exc:
        missing["ours_server"] = str(exc)
    started = time.perf_counter()
    try:
        proxy, key = litellm_proxy(ctx.workdir, upstream, trials)
        servers.append(proxy)
        serving["litellm_proxy"] = proxy
        envs["litellm_proxy"] = {"BENCH_BASE_URL": proxy.url + "/v1", "BENCH_API_KEY": key, "BENCH_MODEL": "chat",
                                 "BENCH_BUDGET_MODEL": "budgeted-{trial}"}
        ctx.log(f"gateway_bench: LiteLLM Proxy on {proxy.url} (up after {time.perf_counter() - started:.0f} s)")
    except ServerError as exc:
        missing["litellm_proxy"] = str(exc)
        ctx.log(f"gateway_bench: LiteLLM Proxy not measured: {_first_error(str(exc))}")
    workers: dict[str, Worker] = {}
    for name in ORDER:
        if name not in envs:
            continue
        try:
            workers[name] = Worker("_gateway_workers", name, ctx.workdir, env={**extra_env(), **envs[name]})
        except WorkerError as exc:
            missing[name] = str(exc)
            ctx.log(f"gateway_bench: {name} did not start: {_first_error(str(exc))}")
    return workers, serving


def _latency(ctx: Context, workers: dict[str, Worker], serving: dict[str, Server], names: list[str],
             plan: dict[str, Any]) -> dict[str, Any]:
    """Wall ns per call, per round; and CPU ms per call, per round: the client's process plus, for a server
    contender, the server's (on a shared 2-core machine CPU time is the steadier measure: a preempted
    call gets longer in wall time, not in CPU)."""
    ns: dict[str, list[list[int]]] = {name: [] for name in names}
    cpu: dict[str, list[float]] = {name: [] for name in names}
    # round 0 warms up (connections, caches) and is dropped; the Proxy, ~10× slower than the rest, makes half
    # the calls so the whole benchmark stays near three minutes
    for index in range(plan["latency_rounds"] + 1):
        for name in rotated(names, index):
            calls = plan["calls_per_round"] // (2 if name == "litellm_proxy" else 1) if index else 100
            server = serving.get(name)
            before = server.cpu_seconds() if server else 0.0
            answer = workers[name].call("latency", calls=calls, timeout=600)
            server_s = server.cpu_seconds() - before if server else 0.0
            if index:
                ns[name].append(answer["ns"])
                cpu[name].append((answer["cpu_ns"] / 1e9 + server_s) * 1000 / calls)
        if index:
            ctx.log(f"gateway_bench: latency round {index}/{plan['latency_rounds']} p50 ms: " + ", ".join(
                f"{name} {sorted(ns[name][-1])[len(ns[name][-1]) // 2] / 1e6:.2f}" for name in names))
    return {"ns": ns, "cpu_ms": cpu}


def _throughput(ctx: Context, workers: dict[str, Worker], names: list[str], plan: dict[str, Any]) -> dict[str, Any]:
    rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    for index in range(plan["throughput_rounds"]):
        for name in rotated(names, index):
            rounds[name].append(workers[name].call("throughput", tasks=CONCURRENCY, per_task=plan["per_task"],
                                                   timeout=900))
        ctx.log(f"gateway_bench: throughput round {index + 1}/{plan['throughput_rounds']} req/s: " + ", ".join(
            f"{name} {r[-1]['requests'] / r[-1]['seconds']:.0f}" for name, r in rounds.items()))
    return rounds


def _overshoot(ctx: Context, workers: dict[str, Worker], trials: int) -> dict[str, Any]:
    """Each contender's trials, each against a budget nobody has spent from (LiteLLM's outcome varies with
    timing, so more than one)."""
    out: dict[str, Any] = {"budget": BUDGET}
    for name in ("ours", "ours_server", "litellm_router", "litellm_proxy", "litellm_global"):
        worker = workers.get("litellm_router" if name == "litellm_global" else name)
        if worker is None:
            continue
        out[name] = []
        for trial in range(trials):
            if name == "litellm_global":
                out[name].append(worker.call("overshoot_global", requests=OVERSHOOT_REQUESTS, timeout=600))
            else:
                out[name].append(worker.call("overshoot", requests=OVERSHOOT_REQUESTS, tag=f"{name}-{trial}",
                                             trial=trial, timeout=600))
        ctx.log(f"gateway_bench: overshoot {name}: answered " + ", ".join(str(t["answered"]) for t in out[name])
                + f" of {OVERSHOOT_REQUESTS}")
    return out


# -- import time -----------------------------------------------------------------------------------
_TIMED = """
import json, os, sys, tempfile, time
config = json.loads(os.environ["BENCH_CONFIG"])
steps, start = [], time.perf_counter()
{steps}
print(json.dumps(steps))
"""
# One fresh interpreter per case and round; each step's time is cumulative from the first statement.
IMPORTS = {
    "ours": [("`import llmops_nb.gateway` + `load(config)`",
              "import llmops_nb, llmops_nb.gateway\n"
              "llmops_nb.configure(db=os.path.join(tempfile.mkdtemp(), 's.duckdb'))\n"
              "gw = llmops_nb.gateway.load(config['gateway'])"),
             ("… + `gw.client()` (imports openai)", "client = gw.client()")],
    "litellm": [("`import litellm`", "import litellm"),
                ("… + `Router(model_list)`", "router = litellm.Router(model_list=config['litellm'])")],
}


def _imports(ctx: Context, rounds: int, missing: dict[str, str]) -> dict[str, list[float]]:
    upstream = "http://127.0.0.1:9"  # never called: only building the gateway / router is timed
    env = {**child_env(ctx.workdir),
           "BENCH_CONFIG": json.dumps({"gateway": gateway_config(upstream), "litellm": litellm_model_list(upstream)})}
    samples: dict[str, list[float]] = {label: [] for steps in IMPORTS.values() for label, _ in steps}
    for index in range(rounds):
        for case in rotated(list(IMPORTS), index):
            code = "\n".join(f"{statement}\nsteps.append(time.perf_counter() - start)"
                             for _, statement in IMPORTS[case])
            try:
                out = run_python(_TIMED.format(steps=code), env, ctx.workdir)
            except WorkerError as exc:  # LiteLLM not installed: its rows stay empty, the reason is reported
                missing[f"import {case}"] = str(exc)
                continue
            for (label, _), seconds in zip(IMPORTS[case], json.loads(out.strip().splitlines()[-1]), strict=True):
                samples[label].append(seconds)
        ctx.log(f"gateway_bench: imports round {index + 1}/{rounds}: " + ", ".join(
            f"{label} {values[-1] * 1000:.0f} ms" for label, values in samples.items() if values))
    return samples


def _first_error(text: str) -> str:
    lines = [line for line in text.splitlines() if "Error" in line or "error" in line]
    return (lines[-1] if lines else text.splitlines()[0]).strip()[:300]


def _version(dist: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


if __name__ == "__main__":  # pragma: no cover - `python -m benchmarks --only gateway_bench` is the entry point
    raise SystemExit(f"run it as: python -m benchmarks --only gateway_bench (from {Path(__file__).parent.parent})")
