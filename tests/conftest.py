"""Every test gets its own real DuckDB file on disk — or, with ``LLMOPS_NB_TEST_STORE=lake``, its own
DuckLake on a real PostgreSQL (``postgres.py``): the shared suite, run against the other backend."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

#: the lake's fixtures (a real PostgreSQL per session, a fresh lake per test), used on request only
pytest_plugins = ["postgres"]

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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Tests on a real lake (they use the PostgreSQL fixture) are marked ``lake``: they run where the
    # lake's packages are installed (scripts/test_lake.sh), selected with -m lake.
    for item in items:
        if "postgres" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.lake)


@pytest.fixture(autouse=True)
def _backend(store_path: Path, request: pytest.FixtureRequest) -> None:
    if os.environ.get("LLMOPS_NB_TEST_STORE") == "lake" and "lake" not in request.fixturenames:
        if request.node.get_closest_marker("file_store"):
            pytest.skip("checks the DuckDB file itself; the suite runs on the lake")
        request.getfixturevalue("lake")


@pytest.fixture
def collector():
    """A local OTLP/HTTP collector (``tests/otlp_sink.py``): ``_Sink.bodies`` holds what it received."""
    from tests.otlp_sink import start_collector

    yield from start_collector()
