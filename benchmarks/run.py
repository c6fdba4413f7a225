"""Run the benchmarks, print the markdown report, and write ``docs/benchmarks.md``.

    python -m benchmarks            # full suite (a few minutes on 2 cores)
    python -m benchmarks --quick    # smoke run, about a minute; prints only
    python benchmarks/run.py --only overhead,query
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

if __package__ in (None, ""):  # `python benchmarks/run.py`: make the repo importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._harness import ROOT
from benchmarks._report import Context, Section, Target, render
from benchmarks._standalone import keep as keep_standalone

BENCHMARKS = ("overhead", "burst", "persist", "query", "imports", "overload", "otel", "replay_bench",
              "notebook_replay")
# Run only when named in --only: the team store's needs PostgreSQL and a second DuckDB (the lake
# overlay), takes ~10 minutes and writes its own docs/lake-benchmarks.md; PII detection writes
# docs/pii-benchmarks.md (with Presidio beside it when presidio-analyzer is installed); the gateway's
# against LiteLLM (~3 minutes, server processes of its own) writes docs/gateway-benchmarks.md.
# Monitoring's metrics() on 1M traces and the dashboard's first render print their sections
# (docs/monitoring-benchmarks.md collects them with the standalone scoring benchmark's).
OPT_IN = ("lake_bench", "pii_bench", "gateway_bench", "monitor_metrics_bench", "monitor_dashboard_bench")
DEFAULT_OUTPUT = ROOT / "docs" / "benchmarks.md"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds and smaller sizes (about a minute)")
    parser.add_argument("--only", default=",".join(BENCHMARKS),
                        help=f"comma-separated subset of: {', '.join(BENCHMARKS)}; or, not run by default: "
                        f"{', '.join(OPT_IN)}")
    parser.add_argument("--rounds", type=int, default=None, help="override every benchmark's round count")
    parser.add_argument("--output", type=Path, default=None,
                        help=f"markdown file to write (default: {DEFAULT_OUTPUT.relative_to(ROOT)} for a full run "
                        "of every benchmark; a quick or partial run only prints unless this is given)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (stores, worker logs)")
    args = parser.parse_args(argv)
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in BENCHMARKS + OPT_IN]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS + OPT_IN)}")
    output = args.output
    if output is None and not args.quick and chosen == list(BENCHMARKS):
        output = DEFAULT_OUTPUT

    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    workdir = Path(tempfile.mkdtemp(prefix="llmops_nb-bench-"))

    def log(message: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f} s] {message}", file=sys.stderr, flush=True)

    log(f"working in {workdir}")
    ctx = Context(workdir=workdir, quick=args.quick, log=log, rounds=args.rounds)
    sections: list[Section] = []
    failed = False
    for name in chosen:
        log(f"== {name}")
        try:
            sections.append(importlib.import_module(f"benchmarks.{name}").run(ctx))
        except Exception:
            failed = True
            trace = traceback.format_exc()
            log(f"{name} failed:\n{trace}")
            sections.append(Section(f"{name}: FAILED", f"```\n{trace[-4000:]}\n```",
                                    [Target(f"{name} benchmark", "runs", "failed", False)]))
    loads = (load_before, os.getloadavg()[0])
    report = render(sections, argv, args.quick, time.perf_counter() - started, loads)
    raw = workdir / "results.json"
    raw.write_text(json.dumps({section.title: section.raw for section in sections}, indent=1, default=str))
    print(report)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(keep_standalone(report, output))
        log(f"wrote {output}")
    if args.keep:
        log(f"kept {workdir} (raw per-round numbers in {raw.name})")
    else:
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)
    log(f"done in {time.perf_counter() - started:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
