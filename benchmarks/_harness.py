"""Running contenders in their own processes, interleaved in rounds, and summarizing by medians.

Each contender lives in a long-lived worker process (``python -m benchmarks._worker``)
that imports only its own library. The driver sends one JSON request per line and
reads one JSON answer per line, so rounds can alternate contenders: on a noisy
2-core machine, a burst of background load then hits every contender alike, and
the per-round ratios stay meaningful even when absolute times drift.
"""

from __future__ import annotations

import json
import os
import select
import statistics
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


class WorkerError(RuntimeError):
    """A worker process failed; the message carries the tail of its log."""


def base_env(workdir: Path) -> dict[str, str]:
    """Environment for child processes: the repo importable, nothing reaching the network."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["PYTHONHASHSEED"] = "0"
    # Stores live in the benchmark's temporary directory, never the user's default file.
    env["LLMOPS_NB_DB"] = str(workdir / "default.duckdb")
    # MLflow: no telemetry, no tracking server; any stray HTTP call fails fast instead of waiting.
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    env["DO_NOT_TRACK"] = "true"
    env["MLFLOW_TRACKING_URI"] = f"sqlite:///{workdir / 'mlflow-default.db'}"
    env["GIT_PYTHON_REFRESH"] = "quiet"
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        env[name] = "http://127.0.0.1:9"
    env["NO_PROXY"] = env["no_proxy"] = ""
    return env


class Worker:
    """One contender in its own process, answering requests over a pipe."""

    def __init__(self, module: str, contender: str, workdir: Path, env: dict[str, str] | None = None,
                 timeout: float = 300.0) -> None:
        self.name = f"{module}:{contender}"
        self.workdir = workdir / f"{module}-{contender}"
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.workdir / "worker.log"
        child_env = base_env(workdir)
        child_env["LLMOPS_NB_DB"] = str(self.workdir / "store.duckdb")
        child_env["MLFLOW_TRACKING_URI"] = f"sqlite:///{self.workdir / 'mlflow.db'}"
        child_env.update(env or {})
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks._worker", module, contender, str(self.workdir)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, text=True,
            cwd=self.workdir, env=child_env, bufsize=1,
        )
        self.ready = self._read(timeout)

    def call(self, op: str, timeout: float = 300.0, **args: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps({"op": op, "args": args}) + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            raise WorkerError(self._failure(f"{op}: worker exited")) from None
        answer = self._read(timeout)
        if "error" in answer:
            raise WorkerError(self._failure(f"{op} failed: {answer['error']}"))
        return answer

    def _read(self, timeout: float) -> dict[str, Any]:
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            self.kill()
            raise WorkerError(self._failure(f"no answer within {timeout:g} s"))
        line = self.proc.stdout.readline()
        if not line:
            raise WorkerError(self._failure(f"worker exited with code {self.proc.wait()}"))
        return json.loads(line)

    def _failure(self, what: str) -> str:
        self._log.flush()
        tail = self.log_path.read_text(errors="replace")[-3000:]
        return f"{self.name}: {what}\n--- worker log ({self.log_path}) ---\n{tail}"

    def close(self, timeout: float = 120.0) -> None:
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.close()  # EOF: the worker returns from its loop and exits normally
                self.proc.wait(timeout)
            except (subprocess.TimeoutExpired, BrokenPipeError):
                self.kill()
        self._log.close()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def rotated(items: Sequence[Any], round_index: int) -> list[Any]:
    """The contenders in a different order each round, so no one always runs first."""
    shift = round_index % len(items)
    return list(items[shift:]) + list(items[:shift])


def median(values: Iterable[float]) -> float:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else float("nan")


def run_python(code: str, env: dict[str, str], cwd: Path, timeout: float = 120.0) -> str:
    """Run ``code`` in a fresh interpreter; return its stdout (raise with stderr on failure)."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=timeout, check=False)
    if done.returncode != 0:
        raise WorkerError(f"subprocess failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done.stdout


class Stopwatch:
    def __init__(self) -> None:
        self.start = time.perf_counter()

    def seconds(self) -> float:
        return time.perf_counter() - self.start
