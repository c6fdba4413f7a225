"""The team store: DuckLake, its catalog in PostgreSQL and its data as Parquet files under ``data_path``.

``LakeStore`` has ``Store``'s interface (``connect()``, ``close()``, ``exclusive()``,
``classify()``…), chosen by ``get_store()`` for a ``ducklake:`` URL, so every query and write
runs unchanged: the lake is attached to this process's in-memory DuckDB AS ``llmops`` and
``USE llmops`` is in effect, as for a file. Unlike a file, many processes on many machines can
keep a lake attached at once, so the attachment stays for the life of the process (attaching
costs ~30 ms); inside the process a lock serializes use of the one connection.

DuckLake and its PostgreSQL scanner are DuckDB extensions built for one DuckDB version, loaded
offline from the packages ``llmops_nb[lake]`` pins (``_lake_extensions.py``).

What DuckLake cannot do — keys, upserts, two deleters on one table — is handled by the schema
(``_lake_schema.py``) and by ``exclusive(name)``: a PostgreSQL advisory lock (psycopg, one
session per process) that serializes numbered inserts and in-place updates across processes.
The same kind of lock makes one process the migrator. The catalog's password never reaches
DuckDB's attached path, an error, a log line or ``status()`` (``_lake_url.py``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ._encryption import refuse_key_for_lake
from ._errors import StoreError, StorePermissionError, StoreReplacedError
from ._lake_extensions import load_extensions, process_extension_directory, require_packages
from ._lake_url import LakeUrl, parse, redact_dsn

_ALIAS = "llmops"
_AS_OF_ALIAS = "llmops_as_of"  # the lake attached again at a past snapshot (connect_as_of)
_SECRET = "llmops_nb_catalog"
# DuckLake retries a commit that conflicts with another process's on its own, this many times
MAX_COMMIT_RETRIES = 100
_LOCK_NAMESPACE = "llmops_nb:"
# "duplicate key ... ducklake_snapshot_pkey": two processes committed the same snapshot id (what DuckLake's
# own retries handle, until they run out); the others are DuckLake's and PostgreSQL's conflict messages
_CONFLICT_WORDS = ("conflict", "altered", "serializ", "concurrent", "another transaction", "deadlock",
                   "maximum retry count", "has been modified", "ducklake_snapshot_pkey", "duplicate key value")


class LakeStore:
    """One process's attachment of a DuckLake store (see the module docstring)."""

    supports_upsert = False  # no keys, no ON CONFLICT: see _lake_schema.py
    writes_take_turns = False  # many processes commit at once: a writer may send all it has in one commit

    def __init__(self, url: str, data_path: str | None, side_path: Path) -> None:
        self._url = url
        self.label = redact_dsn(url)  # what every message names
        #: where this machine keeps the store's side files (notes of spans abandoned at exit)
        self.path = side_path
        with contextlib.suppress(OSError):  # a file store's folder exists with its file; this one must be made
            side_path.parent.mkdir(parents=True, exist_ok=True)
        self.data_path = _absolute_data_path(data_path)
        self._lock = threading.RLock()
        self._exclusive_lock = threading.RLock()
        self._con: Any = None
        self._pg: Any = None
        self._released = False
        self.opens = 0
        self.lock_waits = 0
        self.longest_hold_s = 0.0

    def __repr__(self) -> str:
        return f"<LakeStore {self.label}>"

    def held_by_this_thread(self) -> bool:
        """Whether the calling thread is inside a ``connect()`` block of this store (the writer would wait for it)."""
        return bool(self._lock._is_owned())  # type: ignore[attr-defined]  # RLock's, as Condition uses it

    @contextlib.contextmanager
    def connect(self, timeout: float | None = None, expected_s: float = 0.0) -> Iterator[Any]:
        """The attached connection (``USE llmops`` in effect) for this block; one thread at a time."""
        with self._lock:
            if self._released:  # configure() moved on: a thread that still holds this object must not reopen it
                raise StoreReplacedError(f"The llmops_nb lake {self.label} is no longer the configured store; "
                                 "llmops_nb.get_store() gives the current one.")
            if self._con is None:
                self._con = self._open()
            try:
                yield self._con
            except BaseException as exc:
                named = None if is_conflict(exc) else self.classify(exc)
                if named is not None and _refused(exc):
                    raise named from None  # the role's rights, not a broken connection: what to do, not DuckDB's SQL
                if named is not None:
                    self.close()  # the catalog's connection may be broken: attach afresh next time
                raise

    @contextlib.contextmanager
    def connect_as_of(self, moment: dt.datetime) -> Iterator[Any]:
        """A connection that reads the lake as it was at ``moment`` (an aware datetime), read-only.

        The lake is attached a second time at the snapshot current then (DuckLake's SNAPSHOT_TIME,
        ~25 ms) and made the default catalog for the block, so every query — the ``traces`` view
        included, which binds in its own catalog — reads that snapshot unchanged.
        """
        with self.connect() as con:
            try:
                con.execute(f"ATTACH '{_sql_string('ducklake:' + self._parsed().catalog)}' AS {_AS_OF_ALIAS} "
                            f"({', '.join(self._attach_options(con))}, "
                            f"SNAPSHOT_TIME '{moment.isoformat()}', READ_ONLY)")
            except Exception as exc:  # noqa: BLE001 - DuckDB quotes the attach string: never let it out raw
                if "snapshot" in str(exc).lower():
                    raise StoreError(
                        f"The lake {self.label} has no snapshot at {moment.isoformat()}: history older than what "
                        "llmops_nb.store.maintain(keep=...) keeps (7 days by default) is expired, and nothing "
                        "predates the lake's creation.") from None
                raise self.classify(exc) or StoreError(
                    f"The lake {self.label} could not be read as of {moment.isoformat()}: "
                    f"{redact_dsn(_first_line(str(exc)))}") from None
            try:
                con.execute(f"USE {_AS_OF_ALIAS}")
                yield con
            finally:
                with contextlib.suppress(Exception):
                    con.execute(f"USE {_ALIAS}")
                    con.execute(f"DETACH {_AS_OF_ALIAS}")

    def close(self) -> None:
        """Detach the lake (it is attached again on the next use)."""
        with self._lock:
            con, self._con = self._con, None
            if con is not None:
                with contextlib.suppress(Exception):
                    con.close()
            # The locks' session goes too, unless a block holds one of its locks (closing it would let
            # another process in): then it stays for the next use.
            if self._pg is not None and self._exclusive_lock.acquire(blocking=False):
                try:
                    pg, self._pg = self._pg, None
                    with contextlib.suppress(Exception):
                        pg.close()
                finally:
                    self._exclusive_lock.release()

    def release_instance(self) -> None:
        self.close()

    def retire(self) -> None:
        """Close for good: the configured store changed (``forget_stores``). A thread still holding
        this object (the writer, retrying a batch) gets a StoreError instead of reattaching a lake
        nobody would close again, and takes the current store on its next try."""
        with self._lock:
            self._released = True
            self.close()

    @contextlib.contextmanager
    def exclusive(self, name: str) -> Iterator[None]:
        """Hold the lake-wide lock ``name`` (a PostgreSQL advisory lock) for this block.

        For read-then-write changes (the next prompt version, an alias move, a run's status): no
        other process holding the same lock runs its block meanwhile. Taken before ``connect()``
        so a transaction begun inside sees every change committed before the lock was granted.
        """
        with self.connect():
            pass  # attach (and migrate) first: opening takes a lock of its own, always before this one
        # advisory locks are re-entrant per session: this process's threads queue on a lock of ours
        with self._exclusive_lock, self._advisory(name):
            yield

    @contextlib.contextmanager
    def try_exclusive(self, name: str) -> Iterator[bool]:
        """Take the lake-wide lock ``name`` if no process holds it; yields whether it was taken.

        For background work that another process may be doing already (maintenance): it never
        waits. The lock is held on a PostgreSQL session of its own, so this process's
        ``exclusive()`` blocks (prompts, eval runs) are not held up meanwhile.
        """
        import psycopg

        url = self._parsed()
        extra = {} if url.password is None else {"password": url.password}
        try:
            session = psycopg.connect(url.conninfo, autocommit=True, application_name="llmops_nb", **extra)
        except Exception as exc:  # noqa: BLE001
            raise self.unavailable(exc) from None
        with session:
            row = session.execute("SELECT pg_try_advisory_lock(%s)", [_lock_key(name)]).fetchone()
            yield bool(row and row[0])  # closing the session releases the lock

    @contextlib.contextmanager
    def side_connection(self) -> Iterator[Any]:
        """Another DuckDB connection to the attached lake (``USE llmops`` in effect), for a thread
        that works beside this process's writer (maintenance) without holding its lock."""
        with self.connect() as con:
            side = con.cursor()
        try:
            side.execute(f"USE {_ALIAS}")
            yield side
        finally:
            side.close()

    @contextlib.contextmanager
    def _advisory(self, name: str) -> Iterator[None]:
        key = _lock_key(name)
        for attempt in range(2):
            pg = self._catalog_session()
            try:
                pg.execute("SELECT pg_advisory_lock(%s)", [key])
                break
            except Exception as exc:  # noqa: BLE001 - the session died (a restart, a timeout): once more, anew
                self._pg = None
                with contextlib.suppress(Exception):
                    pg.close()
                if attempt:
                    raise self.unavailable(exc) from None
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                pg.execute("SELECT pg_advisory_unlock(%s)", [key])

    def classify(self, exc: BaseException) -> StoreError | None:
        """The StoreError behind ``exc`` when the lake is unavailable (catalog or data path), else None."""
        if isinstance(exc, StoreError):
            return exc
        if is_conflict(exc):  # retried already (_lake_writer): the lake is busy, the data is fine — keep it
            return StoreError(f"The llmops_nb lake {self.label} is busy: writes kept conflicting with other "
                              f"processes' ({redact_dsn(_first_line(str(exc)))[:300]}). They are retried.")
        lowered = str(exc).lower()
        if _refused(exc) and "must be owner of" in lowered:
            return self.not_owner(f" ({redact_dsn(_first_line(str(exc)))[:300]})")
        if "permission denied for" in lowered:  # the catalog's GRANTs (a file's "Permission denied" is below)
            return StorePermissionError(
                f"The llmops_nb lake {self.label} is read-only for the PostgreSQL role {self.role()} "
                f"({redact_dsn(_first_line(str(exc)))[:300]}). Reading works (traces(), spans(), sql()); to write "
                "traces, prompts or evaluations, connect with a role granted writes (see the README, 'A team store', "
                "roles).")
        if any(word in lowered for word in ("unable to connect", "connection to server", "could not connect",
                                            "server closed the connection", "terminating connection",
                                            "no such file or directory", "permission denied",
                                            "no space left", "failed to attach", "failed to commit",
                                            "failed to execute query")) \
                or type(exc).__name__ in ("IOException", "OperationalError"):
            return self.unavailable(exc)
        return None

    def role(self) -> str:
        """The catalog's PostgreSQL user, as messages name it."""
        from psycopg.conninfo import conninfo_to_dict

        user = conninfo_to_dict(self._parsed().conninfo).get("user")
        return str(user) if user else "(the login's default user)"

    def not_owner(self, detail: str = "") -> StoreError:
        return StorePermissionError(
            f"Maintaining or upgrading the llmops_nb lake {self.label} needs the PostgreSQL role that owns its "
            f"catalog; {self.role()} does not{detail}. Run it as the owner: python -m llmops_nb store maintain "
            "--db 'ducklake:postgres:... user=OWNER' (see the README, 'A team store', roles).")

    def owns_catalog(self) -> bool:
        """Whether this role owns the catalog's tables: maintenance drops and replaces some of them."""
        row = self._catalog_session().execute(
            "SELECT pg_has_role(current_user, tableowner, 'USAGE') FROM pg_tables "
            "WHERE schemaname = current_schema() AND tablename = 'ducklake_snapshot'").fetchone()
        return bool(row and row[0])

    def unavailable(self, exc: BaseException) -> StoreError:
        return StoreError(
            f"The llmops_nb lake {self.label} cannot be used ({redact_dsn(_first_line(str(exc)))}). Check that "
            "its PostgreSQL catalog is running and reachable with these settings, and that data_path is "
            "readable and writable here; or point llmops_nb elsewhere with llmops_nb.configure(db=...).")

    # --- opening -------------------------------------------------------------------------------

    def _open(self) -> Any:
        duckdb = require_packages()
        refuse_key_for_lake(self.label)  # a key of yours is not how DuckLake encrypts: see _encryption.py
        url = self._parsed()
        con = duckdb.connect(":memory:", config={
            "autoinstall_known_extensions": False, "autoload_known_extensions": False,
            "extension_directory": process_extension_directory()})
        try:
            load_extensions(con)
            con.execute(f"SET ducklake_max_retry_count = {MAX_COMMIT_RETRIES}")
            options = self._attach_options(con)
            started = time.monotonic()
            # One process at a time attaches and migrates: the first ATTACH of an empty catalog creates
            # DuckLake's tables, and two at once would collide.
            with self._advisory("migrate"):
                con.execute(f"ATTACH '{_sql_string('ducklake:' + url.catalog)}' AS {_ALIAS}"
                            + (f" ({', '.join(options)})" if options else ""))
                con.execute(f"USE {_ALIAS}")
                self._migrate(con)
            self.longest_hold_s = max(self.longest_hold_s, time.monotonic() - started)
            self.opens += 1
        except StoreError:
            con.close()
            raise
        except Exception as exc:  # DuckDB quotes the attach string: never let it out raw
            con.close()
            if type(exc).__name__ == "InterruptException":
                raise  # Ctrl-C (or an evaluation stopped): not the lake's fault, and quotes nothing
            hint = "" if self.data_path else (
                ". A new lake needs a place for its data files: llmops_nb.configure(data_path=...) or "
                "$LLMOPS_NB_DATA_PATH (a folder every writer can reach, or s3://...).")
            raise self.classify(exc) or StoreError(
                f"The llmops_nb lake {self.label} could not be attached or migrated: "
                f"{redact_dsn(_first_line(str(exc)))}{hint}") from None
        return con

    def _attach_options(self, con: Any) -> list[str]:
        """ATTACH's options: the data path, and the catalog's password through a temporary secret
        (so it is never part of the attached path that DuckDB shows)."""
        url = self._parsed()
        options = []
        if self.data_path:
            options.append(f"DATA_PATH '{_sql_string(self.data_path)}'")
        if url.password is not None:
            con.execute(f"CREATE OR REPLACE TEMPORARY SECRET {_SECRET} "
                        f"(TYPE postgres, PASSWORD '{_sql_string(url.password)}')")
            options.append(f"METADATA_PARAMETERS MAP {{'SECRET': '{_SECRET}'}}")
        return options

    def _migrate(self, con: Any) -> None:
        from ._lake_schema import migrate, pending

        if pending(con):
            migrate(con)

    def _parsed(self) -> LakeUrl:
        try:
            return parse(self._url)
        except ValueError as exc:
            raise StoreError(str(exc)) from None

    def _catalog_session(self) -> Any:
        if self._pg is None:
            require_packages()
            import psycopg

            url = self._parsed()
            extra = {} if url.password is None else {"password": url.password}
            try:
                self._pg = psycopg.connect(url.conninfo, autocommit=True, application_name="llmops_nb", **extra)
            except Exception as exc:  # noqa: BLE001
                raise self.unavailable(exc) from None
        return self._pg

def _absolute_data_path(data_path: str | None) -> str | None:
    """A local ``data_path`` made absolute, ending in '/': the catalog keeps it for every process,
    whatever its working directory. URLs (s3://, gs://...) as given."""
    if not data_path or "://" in data_path:
        return data_path
    return str(Path(data_path).expanduser().absolute()) + "/"


def _lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for ``name`` (the same in every process and host)."""
    digest = hashlib.sha256((_LOCK_NAMESPACE + name).encode()).digest()[:8]
    return int.from_bytes(digest, "big", signed=True)


def _sql_string(text: str) -> str:
    return text.replace("'", "''")


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text


def _refused(exc: BaseException) -> bool:
    """A statement the catalog refused for this role's rights (read-only, not the owner)."""
    lowered = str(exc).lower()
    return "permission denied for" in lowered or "must be owner of" in lowered


def is_conflict(exc: BaseException) -> bool:
    """True for a DuckLake/PostgreSQL write conflict: nothing was applied, the same transaction may be retried."""
    lowered = str(exc).lower()
    # by the words only: a lost catalog connection is a TransactionException too, and its outcome is unknown
    return any(word in lowered for word in _CONFLICT_WORDS)
