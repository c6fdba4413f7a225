"""The markdown of ``gateway_bench.py``: its section of the run's report and ``docs/gateway-benchmarks.md``."""

from __future__ import annotations

import datetime as dt
import os
import statistics
from typing import Any

from benchmarks._gateway_servers import OVERLAY_COMMAND
from benchmarks._report import Section, Target, _git_commit, _version, machine, num, table

LABELS = {
    "direct": "openai SDK → fake (direct, the floor)",
    "ours": "ours, in-kernel (`gw.client()` / `gw.async_client()`)",
    "ours_server": "ours, server (`python -m llmops_nb gateway`, SDK client)",
    "litellm_router": "LiteLLM `Router` (in-process)",
    "litellm_proxy": "LiteLLM Proxy (`litellm --config`, SDK client)",
}
MECHANISMS = {
    "ours": "`budgets: [{scope: user, id: \"*\", max_budget: 0.5}]`, in-kernel async client; max cost reserved "
            "before each call",
    "ours_server": "the same rule in our server (`user` in the request body)",
    "litellm_router": "Router per-deployment budget (`litellm_params.max_budget: 0.5`, `budget_duration: 1d`); "
                      "spend added by a success callback after each call",
    "litellm_proxy": "the Proxy's per-deployment budget (same mechanism; key/user budgets need its database)",
    "litellm_global": "SDK-wide `litellm.max_budget = 0.5` (checked against `litellm._current_cost`)",
}
TARGET_KERNEL_MS, TARGET_SERVER_MS, TARGET_THROUGHPUT = 0.5, 2.0, 2.0


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def latency_stats(ns: dict[str, list[list[int]]], cpu: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    """Per contender, in ms: p50 (median of per-round p50s), p99 (all calls pooled), CPU per call (median of
    rounds), and each minus direct's (per round, then the median; p99s pooled)."""
    stats: dict[str, dict[str, float]] = {}
    direct = ns.get("direct")
    direct_cpu = cpu.get("direct")
    for name, rounds in ns.items():
        p50s = [_quantile(r, 0.5) / 1e6 for r in rounds]
        pooled = [v for r in rounds for v in r]
        row = {"p50": statistics.median(p50s), "p99": _quantile(pooled, 0.99) / 1e6, "calls": len(pooled)}
        if direct:
            base = [_quantile(r, 0.5) / 1e6 for r in direct]
            row["added_p50"] = statistics.median(a - b for a, b in zip(p50s, base, strict=True))
            row["added_p99"] = row["p99"] - _quantile([v for r in direct for v in r], 0.99) / 1e6
        if cpu.get(name):
            row["cpu"] = statistics.median(cpu[name])
            if direct_cpu:
                row["added_cpu"] = statistics.median(a - b for a, b in zip(cpu[name], direct_cpu, strict=True))
        stats[name] = row
    return stats


def throughput_stats(rounds: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    out = {}
    for name, runs in rounds.items():
        rates = [r["requests"] / r["seconds"] for r in runs]
        errors: dict[str, int] = {}
        for r in runs:
            for kind, count in r["errors"].items():
                errors[kind] = errors.get(kind, 0) + count
        out[name] = {"rates": rates, "rps": statistics.median(rates), "errors": errors,
                     "requests": sum(r["requests"] for r in runs)}
    return out


def _round_ratio(a: dict[str, Any] | None, b: dict[str, Any] | None) -> float | None:
    if not a or not b:
        return None
    return statistics.median(x / y for x, y in zip(a["rates"], b["rates"], strict=True))


def overshoot(entry: dict[str, Any], budget: float) -> float:
    return max(0.0, entry["settled_usd"] - budget) / budget


def section(results: dict[str, Any]) -> Section:
    lat = latency_stats(results["latency"]["ns"], results["latency"].get("cpu_ms", {})) if "latency" in results else {}
    thr = throughput_stats(results["throughput"]) if "throughput" in results else {}
    over = results.get("overshoot", {})
    budget = over.get("budget", 0.5)
    parts = [_latency_table(lat), _throughput_table(thr), _overshoot_table(over, budget),
             _imports_table(results["imports"]), _missing(results.get("missing", {}))]
    stored = results.get("stored", {})
    if stored:
        parts.append(f"Traces: the in-kernel gateway's store holds {stored['gateway_spans']:,} `gateway chat` root "
                     "spans after the run (one per request it answered, refused ones included).")

    def added(name: str) -> float | None:
        return lat.get(name, {}).get("added_p50")

    kernel, server = added("ours"), added("ours_server")
    vs_router = _round_ratio(thr.get("ours"), thr.get("litellm_router"))
    vs_proxy = _round_ratio(thr.get("ours_server"), thr.get("litellm_proxy"))
    targets = [
        _target("Gateway added latency, in-kernel, p50", f"≤ {TARGET_KERNEL_MS} ms", kernel, TARGET_KERNEL_MS, " ms"),
        _target("Gateway added latency, server, p50", f"≤ {TARGET_SERVER_MS:.0f} ms", server, TARGET_SERVER_MS, " ms"),
        _ratio_target("Gateway streaming throughput at 50 concurrent, in-kernel vs LiteLLM Router", vs_router),
        _ratio_target("Gateway streaming throughput at 50 concurrent, server vs LiteLLM Proxy", vs_proxy),
    ]
    for name, what in (("ours", "in-kernel"), ("ours_server", "server")):
        trials = over.get(name) or []
        value = max(overshoot(t, budget) for t in trials) if trials else None
        targets.append(Target(f"Gateway budget overshoot, {_requests(over, name)} concurrent requests, {what} "
                              f"(worst of {len(trials)})", "0", "–" if value is None else f"{value:.0%}",
                              None if value is None else value == 0))
    return Section("Gateway: llmops_nb vs LiteLLM", "\n\n".join(p for p in parts if p), targets,
                   {"latency_ms": lat, "throughput": thr, **{k: v for k, v in results.items() if k != "latency"}})


def _requests(over: dict[str, Any], name: str) -> int:
    trials = over.get(name) or [{}]
    return int(trials[0].get("requests", 200))


def _target(what: str, goal: str, value: float | None, limit: float, unit: str) -> Target:
    if value is None:
        return Target(what, goal, "not measured", None)
    return Target(what, goal, f"{num(value)}{unit}", value <= limit)


def _ratio_target(what: str, ratio: float | None) -> Target:
    goal = f"≥ {TARGET_THROUGHPUT:.0f}×"
    if ratio is None:
        return Target(what, goal, "not measured", None)
    return Target(what, goal, f"{num(ratio)}×", ratio >= TARGET_THROUGHPUT)


def _latency_table(lat: dict[str, dict[str, float]]) -> str:
    if not lat:
        return ""
    peers = {"litellm_router": "ours", "litellm_proxy": "ours_server"}
    rows = []
    for name, row in lat.items():
        peer = lat.get(peers.get(name, ""), {})
        vs = row.get("added_p50", 0) / peer["added_p50"] if peer.get("added_p50", 0) > 0 else None
        first = name == "direct"
        rows.append([LABELS[name], f"{row['calls']:,}", num(row["p50"]), num(row["p99"]),
                     "–" if first else num(row.get("added_p50")), "–" if first else num(row.get("added_p99")),
                     f"{num(vs)}× ours" if vs is not None else "–", num(row.get("cpu")),
                     "–" if first else num(row.get("added_cpu"))])
    return ("**1. Added latency** per request, sequential non-streamed chat completions (ms; p50 = median of the "
            "rounds' p50s; p99 over all calls; added = contender − direct, p50 per round then the median). CPU "
            "per call = the client process's CPU time (all its threads, so our trace writer too) plus, for a "
            "server, the server process's, over the round's calls; the fake upstream's is the same for all and "
            "left out:\n\n"
            + table(["Contender", "Calls", "p50", "p99", "Added p50", "Added p99", "LiteLLM's added p50 vs ours",
                     "CPU/call", "Added CPU/call"], rows))


def _throughput_table(thr: dict[str, dict[str, Any]]) -> str:
    if not thr:
        return ""
    direct = thr.get("direct")
    rows = []
    for name, row in thr.items():
        ratio = _round_ratio(row, direct) if direct and name != "direct" else None
        errors = ", ".join(f"{k}: {v}" for k, v in row["errors"].items()) or "0"
        rows.append([LABELS[name], f"{row['requests']:,}", num(row["rps"]), "–" if ratio is None else f"{num(ratio)}×",
                     errors])
    text = ("**2. Throughput** at 50 concurrent streams (50 coroutines, each doing streamed completions back to back "
            "and reading every chunk; requests/s, median of rounds):\n\n"
            + table(["Contender", "Streams", "Requests/s", "vs direct", "Errors"], rows))
    ratios = [("in-kernel ÷ LiteLLM Router", _round_ratio(thr.get("ours"), thr.get("litellm_router"))),
              ("server ÷ LiteLLM Proxy", _round_ratio(thr.get("ours_server"), thr.get("litellm_proxy")))]
    shown = [f"{label} **{num(value)}×**" for label, value in ratios if value is not None]
    return text + ("\n\nOurs vs LiteLLM (median of per-round ratios): " + "; ".join(shown) + "." if shown else "")


def _overshoot_table(over: dict[str, Any], budget: float) -> str:
    rows = []
    for name, mechanism in MECHANISMS.items():
        trials = over.get(name)
        if not trials:
            continue
        refused: dict[str, int] = {}
        for trial in trials:
            for message, count in trial["refused"].items():
                kind = _short(message.split("'")[0].strip())  # without the trial's user or deployment name
                refused[kind] = refused.get(kind, 0) + count
        shoots = [overshoot(t, budget) for t in trials]
        rows.append([LABELS.get(name, "LiteLLM SDK (`litellm.acompletion`)"), mechanism,
                     ", ".join(str(t["answered"]) for t in trials),
                     ", ".join(f"${t['settled_usd']:.2f}" for t in trials),
                     f"{statistics.median(shoots):.0%}" + (f" ({min(shoots):.0%}–{max(shoots):.0%})"
                                                           if len(shoots) > 1 else ""),
                     "; ".join(f"{k} ×{v}" for k, v in refused.items()) or "none"])
    if not rows:
        return ""
    trials = len(next(v for k, v in over.items() if k != "budget"))
    text = (f"**3. Budget overshoot**: {_requests(over, 'ours')} concurrent requests, each costing the upstream "
            f"$0.01 (10 output tokens at $0.001), against a ${budget:.2f} budget (room for {round(budget / 0.01)}); "
            f"{trials} trial(s) per contender, each on a budget nobody has spent from; settled = answered × $0.01; "
            "overshoot = max(0, settled − budget) ÷ budget, median of the trials (range):\n\n"
            + table(["Contender", "Budget", "Answered (per trial)", "Settled", "Overshoot", "Refusals (all trials)"],
                    rows))
    counted = [t.get("litellm_current_cost") for t in over.get("litellm_global") or []]
    if counted:
        text += (f"\n\n`litellm._current_cost` after each SDK-wide trial: {', '.join(f'${c:.4f}' for c in counted)} "
                 "— the counter `litellm.max_budget` is checked against"
                 + (": chat completions did not add to it here, so that budget never refused anything."
                    if not any(counted) else "."))
    return text


def _short(message: str) -> str:
    return message if len(message) <= 100 else message[:99] + "…"


def _imports_table(samples: dict[str, list[float]]) -> str:
    first = next(iter(samples))
    base = statistics.median(samples[first])
    rows = [[name, num(statistics.median(v) * 1000), num(min(v) * 1000), num(max(v) * 1000),
             f"{num(statistics.median(v) / base)}×"] for name, v in samples.items() if v]
    return (f"**4. Import time** in fresh interpreters ({len(samples[first])} each, order rotated; ms, each step "
            "counted from the first statement):\n\n"
            + table(["Statement", "median", "min", "max", "vs ours (import + load)"], rows))


def _missing(missing: dict[str, str]) -> str:
    if not missing:
        return ""
    lines = ["**Not measured in this run:**", ""]
    for name, reason in missing.items():
        last = [line for line in reason.splitlines() if line.strip()]
        why = next((line for line in reversed(last) if "Error" in line), last[0] if last else "unknown")
        fix = f" To run it: `{OVERLAY_COMMAND}`." if name == "litellm_proxy" else ""
        lines.append(f"- {LABELS.get(name, name)}: `{why.strip()[:240]}`.{fix}")
    return "\n".join(lines)


def document(built: Section, results: dict[str, Any]) -> str:
    info = machine()
    now = dt.datetime.now(dt.timezone.utc).astimezone()
    load = os.getloadavg()[0]
    plan = results["plan"]
    versions = ", ".join(f"{name} {_version(name)}" for name in ("litellm", "openai", "httpx", "uvicorn", "starlette"))
    return (
        "# Gateway benchmarks\n\n"
        "Written by `python -m benchmarks --only gateway_bench` — do not edit by hand; what it measures and how: "
        "[benchmarks/gateway_bench.py](../benchmarks/gateway_bench.py).\n\n"
        f"- **Date:** {now:%Y-%m-%d %H:%M %Z}; llmops_nb at commit {_git_commit()} (plus uncommitted work in the "
        f"tree); 1-minute load average {load:.1f} at the end\n"
        f"- **Machine:** {info['cores']} cores ({info['cpu']}), {info['os']}, {info['python']}\n"
        f"- **Versions:** {versions}, duckdb {info['duckdb']}\n"
        f"- **Sizes:** latency {plan['latency_rounds']} rounds × {plan['calls_per_round']} calls per contender (the "
        "Proxy, ~10× slower, half as many) after a 100-call warm-up; "
        f"throughput {plan['throughput_rounds']} rounds × 50 streams × {plan['per_task']}; "
        f"imports {plan['import_rounds']} fresh interpreters per statement\n\n"
        "**Setup.** One fake OpenAI-compatible upstream (`benchmarks/_fake_upstream.py`: a bare asyncio server in "
        "its own process; JSON answers and 10-chunk SSE streams with fixed usage) serves every contender. Each "
        "contender runs in its own worker process importing only its own library; our server and LiteLLM's Proxy "
        "are processes of their own, with the openai SDK as their client. Our in-kernel gateway writes every "
        "request's trace to a DuckDB store, as in real use, and its latency/throughput requests carry a project "
        "that has a budget, so each one reserves and settles; LiteLLM's latency/throughput contenders run with no "
        "budget. LiteLLM's Proxy runs on uvloop (its default), ours on the standard asyncio loop (uvloop is not "
        "installed in the venv); both serve HTTP with uvicorn's h11.\n\n"
        "**Noise.** The machine is shared and has 2 cores, which the fake upstream, the server under test and the "
        "client share. Absolute times drift from run to run with the machine's load; rounds alternate the "
        "contenders (order rotated) so a burst of load hits them alike, and the ratios (per round, then the "
        "median) are what to compare. p99s are the noisiest numbers here.\n\n"
        + built.body + "\n\n## Targets\n\n"
        + table(["What", "Goal", "Measured", "Met"],
                [[t.what, t.goal, t.measured, "n/a" if t.met is None else ("yes" if t.met else "**no**")]
                 for t in built.targets]) + "\n")
