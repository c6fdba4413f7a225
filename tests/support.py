"""Test support: run cells in a real Jupyter kernel (nbclient); environments for child processes."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent


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
    parts = []
    for out in cell.outputs:
        if out.output_type == "stream":
            parts.append(out.text)
        elif out.output_type == "error":
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
