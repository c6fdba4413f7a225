"""Re-running ``notebooks/evaluation.ipynb``: live with its recording made, and replayed from it.

The notebook runs two evaluations with the offline model answering and judging (25 LLM calls).
Each round runs ``python -m llmops_nb run notebooks/evaluation.ipynb --record FILE`` (the model
answers; the recording is written) and then ``--replay FILE`` (every call answered from the
file, outputs compared with the recorded ones), each in a fresh kernel; wall time of the whole
command, kernel start included. The order alternates per round. Reported: medians and the
median of per-round ratios. No target in the issue beyond "re-scoring costs nothing": the ratio
says how much of a notebook's run time was the model.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks._report import Context, Section, Target, num, table

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "evaluation.ipynb"


def _timed(args: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "llmops_nb", "run", str(NOTEBOOK), *args], check=False,
                          capture_output=True, text=True, cwd=ROOT)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"llmops_nb run {' '.join(args)} failed: {done.stderr[-2000:]}")
    return seconds


def run(ctx: Context) -> Section:
    rounds = ctx.pick_rounds(3, 1)
    recording = ctx.workdir / "evaluation.llmops"
    live: list[float] = []
    replayed: list[float] = []
    for index in range(rounds):
        if index % 2 == 0 or not recording.exists():
            live.append(_timed(["--record", str(recording)]))
            replayed.append(_timed(["--replay", str(recording)]))
        else:  # the other order: the replay first, from the previous round's recording
            replayed.append(_timed(["--replay", str(recording)]))
            live.append(_timed(["--record", str(recording)]))
        ctx.log(f"notebook_replay round {index + 1}/{rounds}: live {live[-1]:.1f} s, replay {replayed[-1]:.1f} s")
    ratio = statistics.median(r / li for r, li in zip(replayed, live, strict=True))
    rows = [["live, recording made (`--record`)", num(statistics.median(live)), "1.00×"],
            ["replayed from the recording (`--replay`)", num(statistics.median(replayed)), f"{ratio:.2f}×"]]
    body = (f"`notebooks/evaluation.ipynb` (two evaluations, 25 LLM calls to the offline model answering and "
            f"judging), {rounds} rounds, wall seconds of `python -m llmops_nb run`, a fresh kernel each.\n\n"
            + table(["Run", "Median s", "÷ live"], rows))
    targets = [Target("Re-running evaluation.ipynb from its recording", "faster than live, no model",
                      f"{ratio:.2f}× the live run", ratio < 1)]
    return Section("9. Re-running a notebook from its recording", body, targets,
                   {"live_s": live, "replayed_s": replayed, "ratio": ratio})
