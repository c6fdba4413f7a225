"""Opening the DuckDB file so that several kernels can share it.

DuckDB lets one process at a time open a file for writing, and while it does,
no other process can open it at all. So no process keeps the file open: every
read and every batch write opens it, works for milliseconds, and closes it; a
process that finds the file locked retries with jittered backoff until
``settings.lock_timeout``. Inside one process, a lock serializes use of the one
connection. After use the connection lingers for ``LINGER_S`` so a burst of
queries or writes pays the ~10 ms open once; then it closes and other
processes get their turn.

Before DuckDB sees a file it is checked: a file that is not DuckDB's (a SQLite database, say)
is refused with a clear error — DuckDB would otherwise try to download an extension to read it —
and a write-ahead log left by a process that died without closing the store is copied aside
first, because DuckDB may discard a WAL it cannot read without a word. DuckDB's extension
auto-install and auto-load are off on every connection: nothing here ever reaches the network.
Every failure is named by ``_errors.classify`` (locked, disk full, permission, damaged, version).
A file may be encrypted at rest: its header says so, and ``_encryption.py`` decides from it and the
configured key how it is attached (with the key, refused, or as it is).

File locks have no queue, so fairness is ours to keep: a connection is never
held past ``MAX_HOLD_S`` of continuous use (it closes at the first idle
moment after that), and after closing, this process waits ``COOLDOWN_S``
before reopening, longer than a waiting process's retry interval — so a
notebook polling the store cannot starve another kernel's writes.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import os
import random
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._config import settings
from .._safety import log_once
from . import _encryption
from ._errors import StoreError, StoreLockedError, classify, corrupt

if TYPE_CHECKING:
    from ._lake import LakeStore

__all__ = ["LINGER_S", "MAX_HOLD_S", "Store", "StoreError", "StoreLockedError", "classify_current", "close_all",
           "exit_hooks", "forget_stores", "get_store", "store_label"]

_ALIAS = "llmops"
LINGER_S = 0.2
MAX_HOLD_S = 0.5
COOLDOWN_S = 0.03
RETRY_MAX_S = 0.01
#: WAL copies kept beside the store (newest first); each is a crash leftover, see _keep_wal_copy
WAL_COPIES_KEPT = 3
# No extension is ever installed or loaded behind our back (e.g. sqlite_scanner for a SQLite file).
DUCKDB_CONFIG: dict[str, str | bool | int | float | list[str]] = {
    "autoinstall_known_extensions": False, "autoload_known_extensions": False}


class Store:
    #: tables have keys and take INSERT … ON CONFLICT (a DuckLake store has neither, see _lake.py)
    supports_upsert = True
    writes_take_turns = True  # one process at a time holds the file: keep each write short

    def __init__(self, path: Path) -> None:
        self.path = path
        self.label = str(path)  # what messages name
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
        self.opens = 0  # times this process attached the file: each one a separate hold
        #: the longest this process kept the file open at once (seconds): another process waited that long
        self.longest_hold_s = 0.0

    def held_by_this_thread(self) -> bool:
        """Whether the calling thread is inside a ``connect()`` block of this store (the writer would wait for it)."""
        return bool(self._lock._is_owned())  # type: ignore[attr-defined]  # RLock's, as Condition uses it

    @contextlib.contextmanager
    def connect(self, timeout: float | None = None, expected_s: float = 0.0) -> Iterator[Any]:
        """A connection to the file for this block (reused while nested or lingering).

        ``expected_s`` is how long the caller expects the block to take: if the file has been open
        so long that the block would end past ``MAX_HOLD_S``, it is closed (and other processes get
        their turn) first.
        """
        with self._lock:
            if (self._con is not None and self._depth == 0 and expected_s
                    and time.monotonic() - self._opened_at + expected_s > MAX_HOLD_S):
                self.close()
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

    @contextlib.contextmanager
    def exclusive(self, name: str) -> Iterator[None]:
        """A block no other process's ``exclusive(name)`` block overlaps: for a file, every
        transaction already is (DuckDB's file lock admits one process at a time)."""
        yield

    def classify(self, exc: BaseException) -> StoreError | None:
        """The StoreError behind ``exc`` when the file is unavailable, else None (see ``_errors.classify``)."""
        return classify(exc, self.path)

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
                # measured once the lock is released: the checkpoint on DETACH is part of the hold
                self.longest_hold_s = max(self.longest_hold_s, time.monotonic() - self._opened_at)
                self._reopen_after = time.monotonic() + COOLDOWN_S

    def retire(self) -> None:
        """Dropped by ``forget_stores``: a file reopens safely on a later use (its lock is per use)."""

    def release_instance(self) -> None:
        """Free the in-memory DuckDB instance (at exit: nothing of DuckDB's is left for teardown)."""
        with self._lock:
            if self._con is None and self._instance is not None:
                with contextlib.suppress(Exception):
                    self._instance.close()
                self._instance = None

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

        pause = self._reopen_after - time.monotonic()
        if pause > 0:  # give a process waiting for the lock its turn
            time.sleep(pause)
        deadline = time.monotonic() + timeout
        delay = 0.002
        if self._instance is None:
            # One in-memory DuckDB per process; the file is ATTACHed per use. Building a
            # DuckDB instance costs ~15 ms, attaching a file ~0.5 ms.
            self._instance = duckdb.connect(":memory:", config=DUCKDB_CONFIG)
        con = self._instance
        encrypted = self._check_file()
        attach = f"ATTACH '{_sql_string(os.fspath(self.path))}' AS {_ALIAS}"
        key = _encryption.attach_key(self.path, encrypted, strict=self.path == _configured_path())
        if key is not None:
            _encryption.load_crypto(con)
            attach += f" (ENCRYPTION_KEY '{_sql_string(key)}')"
        while True:
            try:
                con.execute(attach)
                con.execute(f"USE {_ALIAS}")
                self.opens += 1
                break
            except duckdb.Error as exc:
                named = classify(exc, self.path)
                if key is not None and (key in str(exc) or _sql_string(key) in str(exc)):  # DuckDB quoted the SQL
                    raise named or StoreError(f"The llmops_nb store {self.path} could not be attached.") from None
                if not isinstance(named, StoreLockedError):
                    self._drop_broken_instance(exc)
                    if named is not None:
                        raise named from exc
                    raise
                self.lock_waits += 1
                if time.monotonic() >= deadline:
                    raise StoreLockedError(
                        f"The llmops_nb store {self.path} is locked by another process (waited {timeout:g} s: "
                        f"{str(exc).splitlines()[0]}). Close the other program holding it (a DuckDB shell or "
                        "another kernel's `duckdb.connect` on this file), or point this kernel elsewhere with "
                        "llmops_nb.configure(db=...)."
                    ) from exc
                time.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, RETRY_MAX_S)
        if not self._migrated:
            from ._migrations import migrate

            try:
                migrate(con)
            except BaseException as exc:
                with contextlib.suppress(Exception):
                    con.execute("USE memory")
                    con.execute(f"DETACH {_ALIAS}")
                named = classify(exc, self.path)
                if named is not None and named is not exc:
                    raise named from exc
                raise
            self._migrated = True
        self._opened_at = time.monotonic()
        return con

    def _drop_broken_instance(self, exc: BaseException) -> None:
        # DuckDB invalidates an instance after some I/O failures ("database has been invalidated"):
        # start from a fresh one next time rather than fail forever.
        if "invalidated" in str(exc).lower() or "fatal" in str(exc).lower():
            with contextlib.suppress(Exception):
                self._instance.close()
            self._instance = None

    def _check_file(self) -> bool | None:
        """Refuse what is not a DuckDB file and keep a copy of a crashed process's WAL, before ATTACH.

        Returns whether the file is encrypted, None when there is no file yet.
        """
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            size = self.path.stat().st_size if self.path.exists() else None
            if size == 0:
                self.path.unlink()  # an empty file holds nothing; DuckDB refuses it, so start afresh
                size = None
            if size is not None:
                with open(self.path, "rb") as handle:
                    head = handle.read(_encryption.HEADER_BYTES)
                if head.startswith(b"SQLite format 3"):
                    raise corrupt(self.path, "it is a SQLite database, not a DuckDB file")
                if len(head) < 12 or head[8:12] != b"DUCK":
                    raise corrupt(self.path, "it is not a DuckDB file (no DuckDB header)")
                _keep_wal_copy(self.path)
            return None if size is None else _encryption.is_encrypted(head)
        except StoreError:
            raise
        except OSError as exc:
            named = classify(exc, self.path)
            if named is not None:
                raise named from exc
            raise


def _keep_wal_copy(path: Path) -> None:
    """Copy aside the WAL of a process that died holding the store, before DuckDB replays it.

    DuckDB replays a WAL at ATTACH — or, if its header is damaged, discards it silently (seen:
    24,408 committed spans gone). A WAL while nobody holds the file's lock is such a leftover, so
    it is copied to ``<db>.wal.<time>.bak`` first (the newest few are kept). While another process
    holds the lock its WAL is live, and our ATTACH would fail anyway: nothing is copied.
    """
    wal = Path(f"{path}.wal")
    try:
        if not wal.exists() or wal.stat().st_size == 0 or locked_by_another_process(path):
            return
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        copy = Path(f"{wal}.{stamp}.bak")
        shutil.copy2(wal, copy)
        old = sorted(path.parent.glob(f"{glob_escape(wal.name)}.*.bak"), reverse=True)
        for stale in old[WAL_COPIES_KEPT:]:
            stale.unlink(missing_ok=True)
        log_once("store.wal_copy", None, f"llmops_nb: {path} had a write-ahead log left by a process that "
                 f"stopped without closing it (a crash or a kill); DuckDB replays it now, and a copy is kept at "
                 f"{copy} in case it cannot (delete the copy once your traces look complete)")
    except OSError as exc:  # the copy is a safety net; failing to make it must not block the store
        log_once("store.wal_copy_failed", exc)


def locked_by_another_process(path: Path) -> bool:
    """True when another process holds the DuckDB file's lock right now (a cheap probe, POSIX only)."""
    try:
        import fcntl
    except ImportError:  # Windows: DuckDB holds the file open exclusively; ATTACH will tell
        return False
    try:
        with open(path, "rb+") as handle:
            try:
                fcntl.lockf(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return True
            fcntl.lockf(handle, fcntl.LOCK_UN)
    except OSError:
        return False
    return False


def glob_escape(text: str) -> str:
    return "".join(f"[{ch}]" if ch in "*?[" else ch for ch in text)


def _sql_string(text: str) -> str:
    return text.replace("'", "''")


def _configured_path() -> Path | None:
    """The configured file store's path as ``get_store`` resolves it (None for a lake)."""
    return None if settings.lake_url() is not None else settings.db_path().expanduser().absolute()


#: run at interpreter exit, before DuckDB's own exit hook (the recorder's final flush goes here)
exit_hooks: list[Callable[[], None]] = []
_exit_hooks_ran = False


def _run_exit_hooks() -> None:
    global _exit_hooks_ran
    if _exit_hooks_ran:
        return
    _exit_hooks_ran = True
    for hook in list(exit_hooks):
        with contextlib.suppress(Exception):  # interpreter shutdown: best effort, each hook on its own
            hook()


def _register_exit_hooks() -> None:
    """Run our exit hooks before any ``atexit`` hook, DuckDB's included, whatever the import order.

    Once DuckDB's own exit hook has run it refuses to scan Python objects, so a flush after it
    loses the last spans. ``threading._register_atexit`` hooks run when the interpreter starts
    shutting down, before ``atexit`` hooks (``concurrent.futures`` relies on the same); the
    ``atexit`` registration is the fallback where that private hook does not exist.
    """
    register = getattr(threading, "_register_atexit", None)
    try:
        if register is not None:
            register(_run_exit_hooks)
            return
    except RuntimeError:  # already shutting down
        return
    atexit.register(_run_exit_hooks)


_register_exit_hooks()


_stores: dict[Path | str, Store | LakeStore] = {}
_stores_lock = threading.Lock()


def store_argument(store: Any, caller: str) -> Store | LakeStore:
    """What a reader's ``store=`` names: the configured store (None), the DuckDB file at a path, or a store.

    >>> store_argument(None, "metrics") is get_store()
    True
    """
    if store is None:
        return get_store()
    if isinstance(store, (str, Path)):
        return get_store(Path(store))
    if callable(getattr(store, "connect", None)):
        return store  # type: ignore[no-any-return]
    raise TypeError(f"{caller}(store=...) takes a path to a DuckDB file or a store (llmops_nb.store.get_store()); "
                    f"got {store!r}.")


def get_store(path: Path | None = None) -> Store | LakeStore:
    """The store for ``path`` (default: the configured one), one per process: a ``Store`` for a
    DuckDB file, a ``LakeStore`` when the configured ``db`` is a ``ducklake:`` URL — the one
    place the backend is chosen."""
    lake = settings.lake_url() if path is None else None
    if lake is not None:
        with _stores_lock:
            store = _stores.get(lake)
            if store is None:
                from ._lake import LakeStore

                store = _stores[lake] = LakeStore(lake, settings.lake_data_path(), settings.db_path())
            return store
    resolved = (path or settings.db_path()).expanduser().absolute()
    with _stores_lock:
        store = _stores.get(resolved)
        if store is None:
            store = _stores[resolved] = Store(resolved)
        return store


def classify_current(exc: BaseException) -> StoreError | None:
    """The configured store's reading of ``exc``: the StoreError it means, or None (not the store's fault)."""
    if settings.lake_url() is None:
        return classify(exc, settings.db_path())
    return get_store().classify(exc)


def store_label() -> str:
    """The configured store as messages name it (a lake's URL without its password)."""
    return str(settings.db_path()) if settings.lake_url() is None else get_store().label


def close_all(final: bool = False) -> None:
    """Close every store's file; ``final`` (at exit) also frees each process's DuckDB instance."""
    with _stores_lock:
        stores = list(_stores.values())
    for store in stores:
        store.close()
        if final:
            store.release_instance()


def forget_stores() -> None:
    """Close and drop every store (the configured file changed)."""
    close_all()
    with _stores_lock:
        stores = list(_stores.values())
        _stores.clear()
    for store in stores:
        store.retire()


def _forget_in_child() -> None:
    # A child must not share the parent's open DuckDB handle or its (possibly held) locks.
    global _stores, _stores_lock
    _stores = {}
    _stores_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_in_child)
