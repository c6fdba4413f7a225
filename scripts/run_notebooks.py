"""Execute notebooks top to bottom with nbclient; exit non-zero if any cell fails.

    python scripts/run_notebooks.py                 # every notebooks/*.ipynb
    python scripts/run_notebooks.py path.ipynb ...  # just these
    python scripts/run_notebooks.py --strip         # remove outputs in place, run nothing
    python scripts/run_notebooks.py --save-to DIR   # also keep the executed copies, to look at
    python scripts/run_notebooks.py --record        # run live and write each notebook's recording

Each notebook ships with its recording (``notebooks/NAME.llmops``, made with ``--record``). After
the live run, the notebook runs again with every LLM call answered from that recording (no
network, no key, no model) and its outputs must equal the recorded ones: ``python -m llmops_nb
run NOTEBOOK --replay FILE``, the check a user runs in their own CI.

Notebooks run as a newcomer without an API key would: the provider variables are removed from
the kernel's environment (so the offline model answers) unless --keep-provider-env is given, and
each notebook writes its traces to a fresh store in a temporary folder. Files in git must carry no
outputs; a notebook that does is reported as a failure, with the command that strips it.

A notebook marked ``"llmops_nb": {"needs": "lake"}`` in its metadata (notebooks/team.ipynb) needs
the team store's packages and a PostgreSQL, which this environment lacks: it is only checked for
outputs here, and runs in ``scripts/test_lake.sh`` (tests/test_lake_team.py).

llmops_nb never lets its own failures break a user's cell (it logs them once and carries on), so a
clean run is not enough: after the last cell the runner asks ``llmops_nb.status()`` and fails the
notebook if anything was dropped or failed inside llmops_nb.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from llmops_nb.replay._notebook import NotebookRunError, run_cells
from llmops_nb.replay._notebook import run as run_with_recording

ROOT = Path(__file__).resolve().parent.parent
# Runs after the notebook's own cells, in the same kernel.
HEALTH_CHECK = """\
import sys
if "llmops_nb" in sys.modules:
    import llmops_nb
    assert llmops_nb.flush(), "llmops_nb.flush() timed out"
    _status = llmops_nb.status()
    _problems = {k: _status[k] for k in ("internal_failures", "dropped_spans", "write_failures") if _status[k]}
    assert not _problems, f"llmops_nb swallowed problems while the notebook ran: {_problems}"
"""
HEALTH_CHECK_ID = "llmops-nb-health-check"
PROVIDER_ENV = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL")


def has_outputs(nb: nbformat.NotebookNode) -> bool:
    return any(c.get("outputs") or c.get("execution_count") for c in nb.cells if c.cell_type == "code")


def strip(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        cell.metadata.pop("execution", None)
    nb.metadata.pop("widgets", None)
    nbformat.write(nb, path)


def run(path: Path, timeout: int, save_to: Path | None) -> str | None:
    """Execute one notebook with a fresh trace store; return an error message or None."""
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(HEALTH_CHECK, id=HEALTH_CHECK_ID))
    try:
        with tempfile.TemporaryDirectory(prefix="llmops_nb-notebook-") as tmp:
            os.environ["LLMOPS_NB_DB"] = str(Path(tmp) / "traces.duckdb")
            run_cells(nb, path, Path(tmp), timeout, added={HEALTH_CHECK_ID: "the runner's health check"})
    except NotebookRunError as exc:
        return str(exc)
    finally:
        nb.cells.pop()
        if save_to:
            save_to.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, save_to / path.name)
    return None


def record_or_replay(path: Path, timeout: int, *, record: bool) -> str | None:
    """Write the notebook's recording, or replay it from the recording and compare; an error message or None."""
    recording = path.with_suffix(".llmops")
    if not record and not recording.exists():
        if path.resolve().parent != ROOT / "notebooks":
            return None  # a notebook from elsewhere: replayed only when it has a recording
        return f"no recording {recording}: make it with `python scripts/run_notebooks.py --record {path}`"
    try:
        difference = run_with_recording(path, record=recording if record else None,
                                        replay=None if record else recording, timeout=timeout)
    except (NotebookRunError, ValueError) as exc:
        return f"{'recording' if record else 'replaying'} {recording}: {exc}"
    if difference is not None:
        return (f"replayed from {recording}, {difference}\nIf the change is intended, record again: "
                f"`python scripts/run_notebooks.py --record {path}`")
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/*.ipynb")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell (default 600)")
    parser.add_argument("--strip", action="store_true", help="remove outputs in place and exit")
    parser.add_argument("--save-to", type=Path, help="write the executed notebooks to this folder")
    parser.add_argument("--keep-provider-env", action="store_true", help="let notebooks use your API keys")
    parser.add_argument("--record", action="store_true",
                        help="run each notebook live and write its recording (NAME.llmops beside it); no replay check")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("*.ipynb"))
    if not paths:
        print("No notebooks found in notebooks/.", file=sys.stderr)
        return 1
    if args.strip:
        for path in paths:
            strip(path)
            print(f"stripped {path}")
        return 0
    if not args.keep_provider_env:
        for name in PROVIDER_ENV:
            os.environ.pop(name, None)

    failures, skipped = [], []
    for path in (Path(os.path.relpath(p)) for p in paths):
        nb = nbformat.read(path, as_version=4)
        if has_outputs(nb):
            failures.append(path)
            print(f"FAIL {path}: saved with outputs; run `python scripts/run_notebooks.py --strip {path}`")
            continue
        if nb.metadata.get("llmops_nb", {}).get("needs") == "lake":
            skipped.append(path)
            print(f"skip {path}: needs the team store (a lake); it runs in scripts/test_lake.sh")
            continue
        start = time.perf_counter()
        error = (record_or_replay(path, args.timeout, record=True) if args.record
                 else run(path, args.timeout, args.save_to) or record_or_replay(path, args.timeout, record=False))
        seconds = time.perf_counter() - start
        if error:
            failures.append(path)
            print(f"FAIL {path} ({seconds:.1f} s)\n{error}")
        else:
            print(f"ok   {path} ({seconds:.1f} s)")
    print(f"{len(paths) - len(failures) - len(skipped)} passed, {len(failures)} failed"
          + (f", {len(skipped)} left to scripts/test_lake.sh" if skipped else ""))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
