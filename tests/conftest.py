"""Every test gets its own real DuckDB file on disk."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture(autouse=True)
def store_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    import llmops_nb
    from llmops_nb._config import settings

    path = tmp_path / "traces.duckdb"
    monkeypatch.setenv("LLMOPS_NB_DB", str(path))
    previous = settings.db
    llmops_nb.configure(db=str(path))
    yield path
    llmops_nb.flush(timeout=30)
    llmops_nb.configure(db=previous)
