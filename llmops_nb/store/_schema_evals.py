"""Schema of evaluation (datasets, runs, results, assessments, feedback): append-only migrations.

Collected into the store's migration list by ``_migrations.py``; each function runs
once per file, recorded by name. Never edit or reorder one that has been released.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

MIGRATIONS: list[tuple[str, Callable[[Any], None]]] = []
