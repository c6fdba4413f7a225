"""Opening the DuckDB file so that several kernels can share it.

DuckDB lets one process at a time open a file for writing, and while it does,
no other process can open it at all. So no process keeps the file open: every
read and every batch write opens it, works for milliseconds, and closes it; a
process that finds the file locked retries with jittered backoff until
``settings.lock_timeout``. Inside one process, a lock serializes use of the one
connection. After use the connection lingers for ``LINGER_S`` so a burst of
queries or writes pays the ~10 ms open once; then it closes and other
processes get their turn.

File locks have no queue, so fairness is ours to keep: a connection is never
held past ``MAX_HOLD_S`` of continuous use (it closes at the first idle
moment after that), and after closing, this process waits ``COOLDOWN_S``
before reopening, longer than a waiting process's retry interval — so a
notebook polling the store cannot starve another kernel's writes.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .._config import settings

_ALIAS = "llmops"
LINGER_S = 0.2
MAX_HOLD_S = 0.5
COOLDOWN_S = 0.03
RETRY_MAX_S = 0.01


class StoreLockedError(RuntimeError):
    """Another process kept the store's file locked for longer than the timeout."""


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._con: Any = None
        self._depth = 0
        self._close_at = 0.0
        self._opened_at = 0.0
        self._reopen_after = 0.0
        self._closer: threading.Thread | None = None
        self._migrated = False
        self._instance: Any = None
        self.lock_waits = 0

    @contextlib.contextmanager
    def connect(self, timeout: float | None = None) -> Iterator[Any]:
        """A connection to the file for this block (reused while nested or lingering)."""
        with self._lock:
            if self._con is None:
                self._con = self._open(settings.lock_timeout if timeout is None else timeout)
            self._depth += 1
            try:
                yield self._con
            finally:
                self._depth -= 1
                if self._depth == 0 and time.monotonic() - self._opened_at >= MAX_HOLD_S:
                    self.close()
                elif self._depth == 0:
                    self._close_at = time.monotonic() + LINGER_S
                    if self._closer is None:
                        self._closer = threading.Thread(target=self._close_when_idle, daemon=True,
                                                        name="llmops_nb-store-closer")
                        self._closer.start()
                    self._cond.notify()

    def close(self) -> None:
        """Close the file now (it reopens on the next use)."""
        with self._lock:
            if self._con is not None and self._depth == 0:
                con, self._con = self._con, None
                try:
                    con.execute("USE memory")
                    con.execute(f"DETACH {_ALIAS}")  # checkpoints and releases the file lock
                except Exception:  # noqa: BLE001 - a broken instance: drop it, a new one is made on reopen
                    self._instance = None
                    con.close()
                self._reopen_after = time.monotonic() + COOLDOWN_S

    def _close_when_idle(self) -> None:
        with self._cond:
            while True:
                if self._con is None:
                    self._cond.wait()
                    continue
                remaining = self._close_at - time.monotonic()
                if self._depth == 0 and remaining <= 0:
                    self.close()
                else:
                    self._cond.wait(max(remaining, 0.01))

    def _open(self, timeout: float) -> Any:
        import duckdb

        _flush_before_duckdb_exits()

        self.path.parent.mkdir(parents=True, exist_ok=True)
        pause = self._reopen_after - time.monotonic()
        if pause > 0:  # give a process waiting for the lock its turn
            time.sleep(pause)
        deadline = time.monotonic() + timeout
        delay = 0.002
        if self._instance is None:
            # One in-memory DuckDB per process; the file is ATTACHed per use. Building a
            # DuckDB instance costs ~15 ms, attaching a file ~0.5 ms.
            self._instance = duckdb.connect(":memory:")
        con = self._instance
        while True:
            try:
                con.execute(f"ATTACH '{_sql_string(os.fspath(self.path))}' AS {_ALIAS}")
                con.execute(f"USE {_ALIAS}")
                break
            except duckdb.Error as exc:
                if "lock" not in str(exc).lower():
                    raise
                self.lock_waits += 1
                if time.monotonic() >= deadline:
                    raise StoreLockedError(
                        f"The llmops_nb store {self.path} stayed locked by another process for {timeout:g} s "
                        f"({exc}). Close the other program holding it (a DuckDB shell or another kernel's "
                        "`duckdb.connect` on this file), or point this kernel elsewhere with "
                        "llmops_nb.configure(db=...)."
                    ) from exc
                time.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, RETRY_MAX_S)
        if not self._migrated:
            from ._migrations import migrate

            try:
                migrate(con)
            except BaseException:
                con.execute("USE memory")
                con.execute(f"DETACH {_ALIAS}")
                raise
            self._migrated = True
        self._opened_at = time.monotonic()
        return con


def _sql_string(text: str) -> str:
    return text.replace("'", "''")


_exit_hook_registered = False


def _flush_before_duckdb_exits() -> None:
    """Register the exit flush after DuckDB's own exit hook, so ours runs first.

    atexit runs hooks last-in first-out, and once DuckDB's has run it refuses
    to scan Python objects — a flush after it would lose the last spans.
    """
    global _exit_hook_registered
    if not _exit_hook_registered:
        _exit_hook_registered = True
        from ..tracing._recorder import flush_at_exit

        atexit.register(flush_at_exit)


_stores: dict[Path, Store] = {}
_stores_lock = threading.Lock()


def get_store(path: Path | None = None) -> Store:
    """The Store for ``path`` (default: the configured file), one per process."""
    resolved = (path or settings.db_path()).expanduser().absolute()
    with _stores_lock:
        store = _stores.get(resolved)
        if store is None:
            store = _stores[resolved] = Store(resolved)
        return store


def close_all() -> None:
    with _stores_lock:
        stores = list(_stores.values())
    for store in stores:
        store.close()


def forget_stores() -> None:
    """Close and drop every store (the configured file changed)."""
    close_all()
    with _stores_lock:
        _stores.clear()


def _forget_in_child() -> None:
    # A child must not share the parent's open DuckDB handle or its (possibly held) locks.
    global _stores, _stores_lock
    _stores = {}
    _stores_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_in_child)
