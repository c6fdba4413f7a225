"""A feature's schema migrations, in the order they are defined: ``@MIGRATIONS.add`` collects one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Migration = Callable[[Any], None]


class Migrations(list[tuple[str, Migration]]):
    """(name, function) pairs; ``_migrations.ORDER`` decides the order files apply them in."""

    def add(self, fn: Migration) -> Migration:
        self.append((fn.__name__, fn))
        return fn
