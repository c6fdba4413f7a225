"""``python -m llmops_nb run NOTEBOOK --record FILE | --replay FILE``: a notebook and its recording.

``--record`` runs the notebook for real (its LLM calls go out) in a fresh kernel with a fresh
store, then writes every recorded call to FILE together with the notebook's outputs. ``--replay``
runs it again with every LLM call answered from FILE — no network, no key, no model — and
compares the outputs cell by cell with the recorded ones; the first difference is shown and the
exit code is 1. That is the CI check: a notebook plus its recording re-runs anywhere.

Outputs are compared as text: ``text/plain`` (or the kinds of data shown when there is none),
streams and errors, with what differs on every run of any program masked first — ids, times,
durations, memory addresses, temporary paths (``VOLATILE``). A cell whose output depends on
timing in other ways (a latency table) is left out with the cell tag ``llmops-nb-volatile``.
"""

from __future__ import annotations

import asyncio
import difflib
import os
import re
import signal
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._errors import LlmopsError

SETUP_CELL = "import llmops_nb  # added by `python -m llmops_nb run`: record or replay from the first cell on"
FINISH_CELL = """\
import llmops_nb
assert llmops_nb.replay.flush(60), "recorded calls did not reach the store within 60 s"
_replay = llmops_nb.replay.status()
assert not _replay["record_failures"], f"recorded calls could not be stored: {_replay['last_error']}"
"""
VOLATILE_TAG = "llmops-nb-volatile"
VOLATILE = [
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"), "<uuid>"),
    (re.compile(r"\b[0-9a-f]{12,}\b"), "<id>"),
    (re.compile(r"\b0x[0-9a-fA-F]+\b"), "<address>"),
    (re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?"), "<time>"),
    (re.compile(r"\b\d+(\.\d+)?\s?(ns|µs|us|ms|s|seconds?|minutes?)\b"), "<duration>"),
    (re.compile(r"(/tmp|/var/folders)/[^\s'\"]+"), "<tmp>"),
    (re.compile(r"\b(127\.0\.0\.1|localhost|\[::1\]):\d+"), r"\1:<port>"),  # a local server's fresh port
]
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_PADDING = re.compile(r"[ \t]{2,}")


class NotebookRunError(LlmopsError, RuntimeError):
    """The notebook could not be run to its end; the message names the cell and the cause."""


@dataclass
class Difference:
    cell: int  # index among code cells, from 0
    source: str
    diff: str

    def __str__(self) -> str:
        first = self.source.strip().splitlines()[0] if self.source.strip() else ""
        return f"code cell {self.cell} (first line `{first}`) shows something else than when recorded:\n{self.diff}"


def normalized_outputs(nb: Any) -> list[list[str]]:
    """Per code cell, its outputs as comparable text (volatile cells give an empty list)."""
    cells: list[list[str]] = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if VOLATILE_TAG in cell.get("metadata", {}).get("tags", []):
            cells.append([])
            continue
        cells.append([_mask(text) for text in (_output_text(o) for o in _joined_streams(cell.get("outputs", [])))
                      if text])
    return cells


def _joined_streams(outputs: list[Any]) -> list[Any]:
    """Consecutive prints to one stream as one output: how a stream is split depends on timing."""
    joined: list[Any] = []
    for output in outputs:
        previous = joined[-1] if joined else None
        if (output.get("output_type") == "stream" and previous is not None
                and previous.get("output_type") == "stream" and previous.get("name") == output.get("name")):
            joined[-1] = {**previous, "text": previous.get("text", "") + output.get("text", "")}
        else:
            joined.append(output)
    return joined


def _output_text(output: Any) -> str:
    kind = output.get("output_type")
    if kind == "stream":
        return f"[{output.get('name')}] {output.get('text', '')}"
    if kind == "error":
        return f"[error] {output.get('ename')}: {_ANSI.sub('', output.get('evalue', ''))}"
    data = output.get("data", {})
    if "text/plain" in data and "application/vnd.jupyter.widget-view+json" not in data:
        text = data["text/plain"]
        return f"[{kind}] " + ("".join(text) if isinstance(text, list) else text)
    return f"[{kind}] " + ", ".join(sorted(data))  # a widget, an image: its kinds, not its ever-new ids


def _mask(text: str) -> str:
    for pattern, replacement in VOLATILE:
        text = pattern.sub(replacement, text)
    return text


def _unpadded(texts: list[str]) -> list[str]:
    # A table's columns are padded to their widest value, and a masked value's width varies (pandas
    # shows 15:21:03.123 for .123000 µs, else 15:21:03.123456): alignment is layout, not content.
    # Applied when comparing, to both sides: recordings keep the outputs as they were shown.
    return [_PADDING.sub(" ", text) for text in texts]


def compare(expected: list[list[str]], nb: Any) -> Difference | None:
    """The first code cell whose outputs differ from ``expected``, or None."""
    actual = normalized_outputs(nb)
    sources = [c.source for c in nb.cells if c.cell_type == "code"]
    if len(actual) != len(expected):
        return Difference(min(len(actual), len(expected)), "", f"the notebook has {len(actual)} code cells, the "
                          f"recording {len(expected)}: record it again")
    for index, (want, got) in enumerate(zip(expected, actual, strict=True)):
        if _unpadded(want) != _unpadded(got):
            diff = difflib.unified_diff("\n".join(want).splitlines(), "\n".join(got).splitlines(), "recorded",
                                        "replayed", lineterm="", n=2)
            return Difference(index, sources[index], "\n".join(list(diff)[:60]))
    return None


#: the cells ``execute`` adds around the notebook's own, by id, as errors name them
_OUR_CELLS = {"llmops-nb-run-setup": "the set-up before the first cell (import llmops_nb)",
              "llmops-nb-run-finish": "the check after the last cell"}


def execute(path: Path, env: dict[str, str], timeout: float) -> Any:
    """Run a notebook top to bottom in a fresh kernel with ``env``; return it with its outputs."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell(SETUP_CELL, id="llmops-nb-run-setup"))
    nb.cells.append(nbformat.v4.new_code_cell(FINISH_CELL, id="llmops-nb-run-finish"))
    try:
        run_cells(nb, path, Path(env["LLMOPS_NB_DB"]).parent, timeout, env=env, added=_OUR_CELLS)
    finally:
        nb.cells = [c for c in nb.cells if c.get("id") not in _OUR_CELLS]
    return nb


def run_cells(nb: Any, path: Path, workdir: Path, timeout: float, *, env: dict[str, str] | None = None,
              added: dict[str, str] | None = None) -> None:
    """Execute ``nb`` (read from ``path``) in a fresh kernel; ``NotebookRunError`` names the cell and the cause.

    ``added`` names cells the caller put around the notebook's own (by id), so that an error in
    one says what it is and the notebook's cells keep their own index. The kernel's sockets go in
    ``workdir``. Also used by ``scripts/run_notebooks.py``.
    """
    asyncio.run(_execute(nb, path, workdir, timeout, env=dict(os.environ) if env is None else env, added=added or {}))


async def _execute(nb: Any, path: Path, workdir: Path, timeout: float, *, env: dict[str, str],
                   added: dict[str, str]) -> None:
    from jupyter_client.manager import AsyncKernelManager
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    # The async kernel manager matters: with the blocking one, nbclient's wait for output blocks its
    # own event loop, so neither its dead-kernel check (every second) nor the cell timeout ever
    # runs, and a kernel killed by a native crash hangs the run for good.
    # IPC sockets in a private folder: quieter than TCP (ipykernel warns it is unencrypted).
    kernel = AsyncKernelManager(kernel_name="python3", transport="ipc", ip=str(workdir / "kernel"))
    running: dict[str, Any] = {}
    client = NotebookClient(nb, km=kernel, timeout=int(timeout), resources={"metadata": {"path": str(path.parent)}},
                            on_cell_execute=lambda cell, cell_index: running.update(cell=cell, index=cell_index))

    def where() -> str:
        return _where(running, nb, added)

    try:
        # cleanup_kc: nbclient closes the kernel client's sockets only for a manager it made itself
        await client.async_execute(env=env, cleanup_kc=True)
    except CellExecutionError as exc:
        raise NotebookRunError(f"{where()} failed:\n{_ANSI.sub('', str(exc))}") from None
    except DeadKernelError:
        raise NotebookRunError(f"the kernel died {exit_cause(kernel)} while running {where()}") from None
    except CellTimeoutError:
        raise NotebookRunError(f"{where()} ran longer than --timeout={timeout:g} s") from None
    finally:
        # asked to end, so its exit flushes and closes the store (nbclient has done so after a clean run;
        # a dead kernel is not asked: its sockets are closed)
        if kernel.has_kernel and await kernel.is_alive():
            await kernel.shutdown_kernel(now=False)


def _where(running: dict[str, Any], nb: Any, added: dict[str, str]) -> str:
    if not running:
        return "no cell (the kernel did not start)"
    cell_id = running["cell"].get("id")
    if cell_id in added:
        return added[cell_id]
    index = running["index"] - sum(1 for c in nb.cells[:running["index"]] if c.get("id") in added)
    lines = running["cell"].source.strip().splitlines()
    return f"cell index {index} (counting from 0; first line `{lines[0] if lines else ''}`)"


def exit_cause(kernel: Any) -> str:
    """Why a kernel process ended, from its exit status: ``(killed by SIGILL: ...)`` or ``(exit code 1)``."""
    process = getattr(kernel.provisioner, "process", None)
    code = process.poll() if process is not None else None
    if code is None:
        return ""
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"(killed by {name}: {signal.strsignal(-code) or 'a signal'})"
    return f"(exit code {code})"


def run(notebook: str | os.PathLike[str], *, record: str | os.PathLike[str] | None = None,
        replay: str | os.PathLike[str] | None = None, fallthrough: bool = False, check: bool = True,
        output: str | os.PathLike[str] | None = None, timeout: float = 600) -> Difference | None:
    """Record a notebook's LLM calls and outputs into a file, or replay it from one and compare.

    Returns the first difference from the recorded outputs (replay with ``check``), else None;
    raises ``NotebookRunError`` when a cell fails (a strict replay's unrecorded call among them).
    """
    import nbformat

    from .._config import current_author
    from ..store import get_store
    from . import _storage

    path = Path(notebook)
    if (record is None) == (replay is None):
        raise ValueError("Give exactly one of record= (run live and write the recording) or replay= (run from it).")
    expected, author = None, current_author()
    if replay is not None:
        _, meta = _storage.read_file(replay)  # a broken file fails here, before a kernel starts
        recorded = meta["notebook"] or {}
        expected = recorded.get("outputs")
        # Outputs name who registered a prompt or gave feedback: the recorded run's author, unless set.
        author = os.environ.get("LLMOPS_NB_AUTHOR") or recorded.get("author") or author
        if check and expected is None:
            raise _storage.RecordingError(f"{replay} holds no notebook outputs to compare with (it was made by "
                                          "llmops_nb.replay.export): run with check=False (--no-check), or record "
                                          "it with python -m llmops_nb run NOTEBOOK --record FILE.")
    with tempfile.TemporaryDirectory(prefix="llmops_nb-run-") as tmp:
        store = Path(tmp) / "traces.duckdb"
        env = {**os.environ, "LLMOPS_NB_DB": str(store), "LLMOPS_NB_RECORDING": path.stem, "LLMOPS_NB_AUTHOR": author,
               "LLMOPS_NB_REPLAY": "record" if record is not None else ("fallthrough" if fallthrough else "strict")}
        env.pop("LLMOPS_NB_REPLAY_FILE", None)
        if replay is not None:
            env["LLMOPS_NB_REPLAY_FILE"] = str(Path(replay).resolve())
        nb = execute(path, env, timeout)
        if output is not None:
            nbformat.write(nb, output)
        if record is not None:
            calls = _storage.read_calls(path.stem, db=store)  # what the kernel recorded, in its store
            get_store(store).close()  # before its folder is removed
            _storage.write_file(record, calls, {}, {"outputs": normalized_outputs(nb), "author": author})
            return None
    return compare(expected, nb) if check and expected is not None else None
