"""scripts/run_notebooks.py on notebooks that crash their kernel or run too long: a fast, named failure.

A native crash (SIGILL from llama.cpp built for the wrong CPU) used to leave the runner waiting
forever on a dead kernel; these run the real script, with a real kernel, in a subprocess.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent


def write_notebook(path: Path, *sources: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# crash"), *(nbformat.v4.new_code_cell(s) for s in sources)]
    nbformat.write(nb, path)
    return path


def run_notebooks(*args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    start = time.monotonic()
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "run_notebooks.py"), *args], capture_output=True,
                          text=True, timeout=120, check=False)
    return done, time.monotonic() - start


def test_a_kernel_killed_by_a_native_crash_fails_in_seconds_naming_the_cell(tmp_path: Path) -> None:
    crash = write_notebook(tmp_path / "crash.ipynb", "x = 1", "import os, signal\nos.kill(os.getpid(), signal.SIGILL)",
                           "print(x)")
    fine = write_notebook(tmp_path / "fine.ipynb", "print(1 + 1)")
    done, seconds = run_notebooks(str(crash), str(fine))
    assert done.returncode == 1, done.stdout + done.stderr
    assert seconds < 30, f"took {seconds:.0f} s: the runner waited on a dead kernel"
    assert "FAIL" in done.stdout and "crash.ipynb" in done.stdout
    assert "killed by SIGILL" in done.stdout
    assert "cell index 2" in done.stdout and "`import os, signal`" in done.stdout
    assert "ok   " in done.stdout and "fine.ipynb" in done.stdout  # the next notebook still runs
    assert "1 passed, 1 failed" in done.stdout


def test_a_cell_over_the_timeout_fails_naming_the_cell(tmp_path: Path) -> None:
    slow = write_notebook(tmp_path / "slow.ipynb", "import time\ntime.sleep(600)")
    done, seconds = run_notebooks("--timeout", "2", str(slow))
    assert done.returncode == 1, done.stdout + done.stderr
    assert seconds < 30
    assert "cell index 1" in done.stdout and "ran longer than --timeout=2 s" in done.stdout


def test_a_replayed_table_whose_masked_times_are_padded_differently_compares_equal() -> None:
    """pandas pads a column to its widest value, and a time's width varies (15:21:03.123 when its last
    microseconds are zero): the replay check compares the table's content, not its alignment."""
    import pandas as pd

    from llmops_nb.replay._notebook import compare, normalized_outputs

    def notebook(moment: str) -> nbformat.NotebookNode:
        frame = pd.DataFrame({"name": ["chat"], "updated_at": [pd.Timestamp(moment)]})
        cell = nbformat.v4.new_code_cell("frame", outputs=[nbformat.v4.new_output(
            "execute_result", {"text/plain": repr(frame)}, execution_count=1)])
        return nbformat.v4.new_notebook(cells=[cell])

    recorded = notebook("2026-12-06 15:21:03.123456")
    replayed = notebook("2026-12-06 15:21:03.123")
    shown = [nb.cells[0].outputs[0].data["text/plain"] for nb in (recorded, replayed)]
    assert len(shown[0]) != len(shown[1])  # padded to different widths
    assert compare(normalized_outputs(recorded), replayed) is None
    other = notebook("2026-12-06 15:21:03.123")
    other.cells[0].outputs[0].data["text/plain"] = other.cells[0].outputs[0].data["text/plain"].replace("chat", "chit")
    assert compare(normalized_outputs(recorded), other) is not None  # a changed value still shows
