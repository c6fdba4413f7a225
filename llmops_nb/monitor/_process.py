"""The monitor as a process: ``python -m llmops_nb monitor --config monitor.yaml [--once]``.

For cron (``--once``: one pass, then exit with 1 if a scorer's pass failed) or as a service: passes
every ``interval`` until SIGTERM or Ctrl-C, which let the calls in flight finish (up to the
scorer timeout), write what they finished, and flush. One line per pass on stdout.
"""

from __future__ import annotations

import signal
import sys
import threading
from typing import Any

from ..tracing import flush


def run(monitor: Any, *, once: bool, out: Any = None) -> int:
    """Run ``monitor`` in this process's main thread; the exit code."""
    out = out or sys.stdout
    if once:
        report = monitor.run_once()
        print(_line(report), file=out, flush=True)
        flush()
        return 1 if any(s.error for s in report.scorers) or report.alert_error else 0
    stopped = threading.Event()

    def stop(signum: int, frame: Any) -> None:
        stopped.set()
        monitor.stop(timeout=0)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    monitor.subscribe(_printer(out))
    try:
        monitor.start()
        print(f"llmops_nb monitor: {len(monitor.scorers)} scorer(s), a pass every {monitor.interval_s:g} s "
              "— Ctrl-C to stop", file=out, flush=True)
        while not stopped.wait(0.5):
            pass
        monitor.stop(timeout=monitor.timeout_s + 5)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        flush()
    return 0


def _printer(out: Any) -> Any:
    def show(report: Any) -> None:
        print(_line(report), file=out, flush=True)

    return show


def _line(report: Any) -> str:
    parts = []
    for done in report.scorers:
        text = f"{done.scorer} {done.scored} scored, {done.errors} errors"
        if done.timed_out:
            text += f" ({done.timed_out} timed out)"
        if done.error:
            text += f" — failed: {done.error}"
        parts.append(text)
    line = "pass: " + ("; ".join(parts) or "no scorers")
    for event in report.alerts:
        line += f"\nalert {event.state}: {event.message}"
    if report.alert_error:
        line += f"\nalert rules failed: {report.alert_error}"
    return line
