"""Test support: run cells in a real Jupyter kernel (nbclient); environments for child processes; tracebacks."""

from __future__ import annotations

import importlib.util
import os
import sys
import traceback
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = str(ROOT / "llmops_nb") + os.sep
#: Frames of ours a traced call's traceback keeps: none since Python 3.11. On 3.10 a bare ``raise``
#: re-raises the traceback entry of the frame it runs in, so the outermost wrapper's frame stays
#: (see llmops_nb/tracing/_tracebacks.py).
OURS_LEFT = 0 if sys.version_info >= (3, 11) else 1


def need(module: str, extra: str) -> None:
    """Skip the test when an optional framework is not installed, naming the extra that brings it."""
    import pytest

    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed (pip install llmops_nb[{extra}])")


def run_cells(cells: list[str], db: Path, timeout: int = 120, env: dict[str, str] | None = None) -> list[Any]:
    """Execute ``cells`` in a fresh kernel with the store at ``db``; return the executed cells."""
    setup = f"import llmops_nb\nllmops_nb.configure(db={str(db)!r})\n%load_ext llmops_nb"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in [setup, *cells]])
    kernel_env = dict(os.environ)
    kernel_env["PYTHONPATH"] = str(ROOT) + os.pathsep + kernel_env.get("PYTHONPATH", "")
    kernel_env.update(env or {})
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(db.parent)}})
    client.execute(env=kernel_env)
    return nb.cells[1:]


def outputs_text(cell: Any) -> str:
    """A cell's outputs as text, one per line. Consecutive stream outputs are joined as written: one
    ``print`` can arrive in several messages on a busy machine (``awaited`` then `` X``)."""
    parts: list[str] = []
    after_stream = False
    for out in cell.outputs:
        if out.output_type == "stream":
            if after_stream:
                parts[-1] += out.text
            else:
                parts.append(out.text)
            after_stream = True
            continue
        after_stream = False
        if out.output_type == "error":
            parts.append(f"{out.ename}: {out.evalue}")
        else:
            parts.append(str(out.get("data", {}).get("text/plain", "")))
    return "\n".join(parts)


def errors(cell: Any) -> list[Any]:
    return [out for out in cell.outputs if out.output_type == "error"]


def subprocess_env(db: Path) -> dict[str, str]:
    """Environment for a child Python process tracing into ``db`` with this checkout importable."""
    env = dict(os.environ)
    env["LLMOPS_NB_DB"] = str(db)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def frames(exc: BaseException | None) -> list[tuple[str, str, int | None]] | None:
    """(file, function, line) of each frame of ``exc``'s traceback, outermost first."""
    if exc is None:
        return None
    return [(frame.filename, frame.name, frame.lineno) for frame in traceback.extract_tb(exc.__traceback__)]


def assert_untraced_traceback(traced: BaseException, plain: BaseException) -> None:
    """``traced`` (raised by a traced call) is like ``plain`` (the untraced call's): type, frames, chain."""
    pairs = [(traced, plain)] + [(getattr(traced, link), getattr(plain, link)) for link in ("__cause__", "__context__")]
    for with_tracing, without in pairs:
        assert type(with_tracing) is type(without)
        if with_tracing is None:
            continue
        shown = frames(with_tracing)
        assert shown is not None
        ours = [frame for frame in shown if frame[0].startswith(PACKAGE)]
        assert len(ours) <= OURS_LEFT, ours
        assert [frame for frame in shown if frame not in ours] == frames(without)


def make_trace(name: str, *, tags: dict[str, str] | None = None, session: str | None = None, fail: bool = False,
               tokens: tuple[int, int] = (0, 0), text: str = "hello", cost: float = 0.5) -> str:
    """A two-span trace (a CHAIN root and one priced CHAT_MODEL call), ended; its trace id."""
    import llmops_nb

    root = llmops_nb.tracing.start_span(name, kind="CHAIN", parent=None)
    root.trace_meta = {"tags": tags or {}, "session": session, "cell": {"execution_count": 1}}
    root.set_inputs({"question": text})
    with llmops_nb.tracing.use_span(root):
        with llmops_nb.span("llm", kind="CHAT_MODEL") as s:
            s.set_attributes({"gen_ai.request.model": "m-1", "gen_ai.usage.input_tokens": tokens[0],
                              "gen_ai.usage.output_tokens": tokens[1], "llmops_nb.cost_usd": cost})
        if fail:
            root.record_exception(ValueError("bad things"))
    root.end()
    return root.trace_id
