"""``copy_store(SRC, DST)`` and ``python -m llmops_nb store copy``: move a store's data, file ↔ lake.

SRC is a DuckDB file, a ``ducklake:postgres:...`` URL, or a folder written by ``store export``;
DST a DuckDB file (made if new) or a lake (a new one's data path from ``data_path`` or
``$LLMOPS_NB_DATA_PATH``). Everything is copied: traces and spans with their drop counts and
drop log, evaluation runs, results and assessments (feedback), datasets, prompts with versions,
aliases and their history, and record & replay's recorded calls (an export has none).

Why a folder: the lake's extensions need duckdb 1.5.5, which cannot open a file written by
duckdb 2.x. A file reaches a lake in two steps: ``store export DIR`` where the file opens, then
``store copy DIR ducklake:...`` where the lake's packages are. Lake → file works in one step (the
new file is duckdb 1.5.5's, which 2.x reads). An unreadable file is refused saying exactly that.

What a copy into a store that already holds data does — the team lake with colleagues' traces:

- **Rows DST has are skipped, by key** (spans by trace and span id, runs by run id, assessments
  by id, dataset rows by name, version and index; tables without a key, like the drop log, by
  the whole row). A second run of the same copy adds nothing; the report counts both per table.
- **A trace** is copied with its row of totals as SRC has it. If DST already has the trace (a copy
  taken while it was running, or another store's part of a distributed trace), the spans DST lacks
  are added and the totals grow by exactly those spans, as the writer would have done had it
  received them (``_writer.py``); root facts come from SRC, and drop counts grow to SRC's when
  larger. The file's ``traces`` takes an upsert; the lake gets one more ``trace_parts`` row, which
  its view adds up the same way, so file → lake → file reads back equal.
- **An evaluation run** DST holds as RUNNING that SRC has taken further (ended, more rows) is
  replaced by SRC's, results included: a run copied mid-way is finished by the next copy.
- **The audit trail** is not copied: it is DST's own hash chain (``_audit.py``), which SRC's rows
  would break; SRC's stays readable and verifiable where it is. The daily usage retention kept
  (``_retention.py``) is copied row by row, like the drop log. Neither are the gateway's virtual
  keys: a copy taken before a revocation would bring the revoked key back, so DST issues its own.
- **Prompt and dataset versions** are numbered per name: one that both stores hold must be the
  same version (equal ``content_sha256``; for datasets equal creation time and size), else the
  copy is refused before anything is written, naming them. A DST alias is never moved: one that
  DST points elsewhere is reported with the command that would move it.

Safe to run again: each chunk (a range of trace ids with their spans, of run ids with their
results, of dataset names with their versions' rows; all prompts) is one transaction in DST, read
from SRC in one snapshot as Arrow (~20k rows): memory holds one chunk, and a copy that failed
leaves whole chunks behind, which the rerun skips. Each chunk is one use of a file, which
``_connection.py`` closes after its usual hold, so kernels writing to SRC or DST wait about a
chunk (~0.1 s), not the copy. On a lake, ``exclusive("copy")`` keeps two copies apart, and each
table is written under the lock its own writers take (``prompts``, ``eval_datasets``,
``eval_runs``, ``recorded_calls``), so numbered inserts never collide. SRC and DST must differ, a
missing SRC is refused (a typo must not become an empty store), and a lake is named without its
password everywhere.

Encrypted files (``_encryption.py``) are opened with the configured key; a new DST is encrypted when
a key is set, and SRC is read as it is, so ``store copy PLAIN NEW.duckdb`` with the key set is how a
plain store becomes an encrypted one.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

from .._config import LAKE_PREFIX, Settings, settings
from ._connection import DUCKDB_CONFIG, Store, get_store
from ._copy_prompts import PROMPT_TABLES, copy_prompts
from ._copy_tables import (
    CONFLICTS,
    CopyRefusedError,
    CopyReport,
    Keyed,
    Target,
    arrow,
    columns,
    conflicts,
    copy_datasets,
    copy_keyed,
    copy_runs,
    copy_traces,
    refuse_conflicts,
)
from ._encryption import as_it_is
from ._errors import StoreError, StoreVersionError
from ._parquet_export import MANIFEST, SKIPPED, TABLES

__all__ = ["CopyRefusedError", "CopyReport", "copy_store"]

Copier = Callable[[Any, Target, CopyReport], None]
# The order tables are copied in: prompts and datasets first, so that a conflicting version found
# under their writers' lock stops the copy before traces are written.
PLAN: tuple[tuple[tuple[str, ...], Copier], ...] = (
    (PROMPT_TABLES, copy_prompts),
    (("eval_datasets", "eval_dataset_rows"), copy_datasets),
    (("traces", "spans"), copy_traces),
    (("dropped_spans",), partial(copy_keyed, spec=Keyed(
        "dropped_spans", ("recorded_at", "trace_id", "count", "process_id", "traces", "reason"), "recorded_at"))),
    (("eval_runs", "eval_results"), copy_runs),
    (("assessments",), partial(copy_keyed, spec=Keyed("assessments", ("assessment_id",), "assessment_id"))),
    (("recorded_calls",), partial(copy_keyed, spec=Keyed(
        "recorded_calls", ("recording", "call_key", "started_ns"), "started_ns", "recorded_calls"))),
    (("daily_usage",), partial(copy_keyed, spec=Keyed("daily_usage", ("day", "model", "recorded_at"), "recorded_at"))),
    # online scorers' keys travel with the assessments they guard: a monitor on DST does not score the
    # copied traces again; a version DST already follows keeps DST's own cursor
    (("monitor_scored",), partial(copy_keyed, spec=Keyed(
        "monitor_scored", ("scorer", "version", "trace_id", "target_span_id"), "trace_id", "monitor"))),
    (("monitor_cursors",), partial(copy_keyed, spec=Keyed("monitor_cursors", ("scorer", "version"), None, "monitor"))),
    (("monitor_incidents",), partial(copy_keyed, spec=Keyed(
        "monitor_incidents", ("incident_id",), "incident_id", "monitor_incidents"))),
)
#: tables store copy leaves in SRC, and why
NOT_COPIED = {"_llmops_migrations": "each store records its own migrations",
              "audit_log": "DST's audit trail is its own hash chain, which SRC's rows would break",
              "gateway_keys": "keys are credentials of the store that issued them: a copy made before a "
                              "revocation would bring the revoked key back; issue new keys against DST"}


def _check_plan() -> None:
    """Every logical table (the export's list, and those it skips) has a rule here: a new one must get one."""
    planned = {table for tables, _ in PLAN for table in tables}
    logical = ({table.name for table in TABLES} | set(SKIPPED)) - set(NOT_COPIED)
    if planned != logical:
        raise RuntimeError(f"store copy has no rule for {sorted(logical - planned)} (or one for a table that is "
                           f"gone: {sorted(planned - logical)}): add it to PLAN in llmops_nb/store/_copy.py")


_check_plan()


def copy_store(src: str | os.PathLike[str], dst: str | os.PathLike[str], *,
               data_path: str | None = None) -> CopyReport:
    """Copy everything ``src`` holds into ``dst``, skipping what ``dst`` already has; returns what was done.

    ``src``: a DuckDB file, a ``ducklake:postgres:...`` URL or a folder written by ``store export``;
    ``dst``: a DuckDB file (created if new) or a lake URL; ``data_path``: a new lake's data files
    (default ``$LLMOPS_NB_DATA_PATH``). Running it again adds nothing; a copy that stopped is
    finished by running it again. Rules: this module's docstring.

    >>> from llmops_nb.store import copy_store
    >>> print(copy_store("/data/export-2026-12", "ducklake:postgres:dbname=llmops host=db"))  # doctest: +SKIP
    traces: 1,204 copied, 0 skipped (already in DST)
    ...
    """
    from ..tracing import flush

    src_text, dst_text = _text(src, "SRC"), _text(dst, "DST")
    _check_ends(src_text, dst_text)
    flush()  # what this process traced before the call is part of the copy
    started = time.monotonic()
    with _opened(src_text, "SRC", None) as source, _opened(dst_text, "DST", data_path) as store:
        report = CopyReport(src=source.label, dst=store.label)
        if isinstance(source, ExportSource) and (source.manifest.get("since") or source.manifest.get("until")):
            report.notes.append(f"SRC is an export of rows from {source.manifest.get('since') or 'the start'} to "
                                f"{source.manifest.get('until') or 'its end'} only")
        target = Target(store)
        with target.lock("copy"):
            present = _tables_of(source)
            _preflight(source, target, present)
            for tables, copier in PLAN:
                if not set(tables) <= present:
                    report.absent += [table for table in tables if table not in present]
                    continue
                for table in tables:  # in the report in this order, copied or not
                    report.table(table)
                _run(copier, source, target, report, tables)
    report.seconds = time.monotonic() - started
    return report


def _run(copier: Copier, source: Any, target: Target, report: CopyReport, tables: tuple[str, ...]) -> None:
    import duckdb

    try:
        copier(source, target, report)
    except CopyRefusedError:
        raise
    except (StoreError, duckdb.Error) as exc:  # either end's: named as raised (a StoreError names its store)
        from ._lake_url import redact_dsn

        kind = type(exc) if isinstance(exc, StoreError) else StoreError
        raise kind(f"store copy stopped while copying {', '.join(tables)}: {redact_dsn(str(exc).strip())} "
                   "What it copied so far is kept, whole chunks only: run the same copy again to finish "
                   "(rows already in DST are skipped).") from exc


def _preflight(source: Any, target: Target, present: set[str]) -> None:
    """Refuse before any write: columns DST lacks (a newer llmops_nb wrote SRC), conflicting versions."""
    for table in sorted(present & {name for tables, _ in PLAN for name in tables}):
        with source.connect() as con:
            extra = sorted(set(columns(con, table)) - set(target.columns(table)))
        if extra:
            raise CopyRefusedError(f"Nothing was copied: SRC's {table} has columns DST's lacks ({', '.join(extra)}): "
                                   "a newer llmops_nb wrote SRC. Upgrade llmops_nb here (pip install -U llmops_nb) "
                                   "and copy again.")
    found = {}
    for table, (names, _) in CONFLICTS.items():
        if table in present:
            with source.connect() as con:
                versions = arrow(con, f"SELECT {names} FROM {table}")
            found[table] = target.apply({f"_copy_{table}": versions}, partial(conflicts, table=table))
    refuse_conflicts(found)


def _tables_of(source: Any) -> set[str]:
    with source.connect() as con:
        return {row[0] for row in con.execute("SELECT table_name FROM information_schema.tables "
                                              "WHERE table_catalog = current_database()").fetchall()}


# --- the two ends -----------------------------------------------------------------------------------


def _text(end: str | os.PathLike[str], role: str) -> str:
    text = os.fspath(end)
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"{role} must name a DuckDB file, a ducklake:postgres:... URL or an export folder, "
                         f"got {end!r}.")
    return text


def _is_lake(text: str) -> bool:
    return text.startswith(LAKE_PREFIX)


def _check_ends(src: str, dst: str) -> None:
    """Refuse a missing SRC, a folder as DST and SRC == DST, before anything is opened (or created)."""
    if not _is_lake(src) and not Path(src).expanduser().exists():
        raise CopyRefusedError(
            f"SRC {src} does not exist: name an llmops_nb DuckDB file, a folder written by `python -m llmops_nb "
            "store export`, or a ducklake:postgres:... URL. (A missing SRC is never created as an empty store.)")
    if not _is_lake(dst) and Path(dst).expanduser().is_dir():
        raise CopyRefusedError(f"DST {dst} is a folder: store copy writes to a DuckDB file or a ducklake: URL. To "
                               "write Parquet, use python -m llmops_nb store export DIR.")
    if _is_lake(src) != _is_lake(dst):
        return
    if _is_lake(src):
        same = _catalog(src) == _catalog(dst)
    else:
        a, b = Path(src).expanduser(), Path(dst).expanduser()
        same = a.resolve() == b.resolve() or (b.exists() and os.path.samefile(a, b))
    if same:
        raise CopyRefusedError(f"SRC and DST are the same store ({_label(src)}): name another DST.")


def _catalog(url: str) -> dict[str, str]:
    """A lake's catalog connection as parsed, without password or timeout: equal for the same database."""
    from psycopg.conninfo import conninfo_to_dict

    from ._lake_url import parse

    _require_lake(url)
    try:
        params = conninfo_to_dict(parse(url).conninfo)
    except ValueError as exc:
        raise CopyRefusedError(str(exc)) from None
    params.pop("connect_timeout", None)
    return {key: str(value) for key, value in params.items()}


def _label(text: str) -> str:
    from ._lake_url import redact_dsn

    return redact_dsn(text) if _is_lake(text) else text


@contextlib.contextmanager
def _opened(text: str, role: str, data_path: str | None) -> Iterator[Any]:
    """One end of the copy, opened (a file's DuckDB version checked), and closed after if the copy opened it."""
    if _is_lake(text):
        store, owned = _lake(text, role, data_path)
    elif role == "SRC" and Path(text).expanduser().is_dir():
        store, owned = ExportSource(Path(text).expanduser().absolute()), True
    else:
        store, owned = get_store(Path(text).expanduser().absolute()), False
    try:
        # a plain SRC is read as it is when a key is set: that is how a store gets encrypted
        with as_it_is(store.path) if role == "SRC" and isinstance(store, Store) else contextlib.nullcontext():
            try:
                with store.connect():
                    pass
            except StoreVersionError as exc:
                raise CopyRefusedError(_two_steps(role, store.label, exc)) from None
            yield store
    finally:
        if owned or isinstance(store, Store):  # a file is free for other processes as soon as the copy ends
            store.close()


def _require_lake(url: str) -> None:
    from ._lake_extensions import require_packages

    try:
        require_packages()
    except StoreError as exc:
        raise CopyRefusedError(
            f"{_label(url)}: {exc} A DuckDB file written by duckdb 2.x reaches a lake in two steps: where the "
            "file opens, python -m llmops_nb store export DIR --db FILE; then, where the lake's packages are "
            "installed, python -m llmops_nb store copy DIR ducklake:...") from None


def _lake(url: str, role: str, data_path: str | None) -> tuple[Any, bool]:
    from ._lake import LakeStore

    _require_lake(url)
    if url == settings.lake_url():
        return get_store(), False  # this process's own attachment: its locks are the ones its writers take
    # a SRC lake's data path is in its catalog; a new DST needs one
    data_path = (data_path or settings.lake_data_path()) if role == "DST" else None
    store = LakeStore(url, data_path, Settings(db=url).db_path())
    try:
        if role == "SRC":
            _check_lake_exists(store)
    except BaseException:
        store.close()
        raise
    return store, True


def _check_lake_exists(store: Any) -> None:
    """A SRC lake must be one: attaching an empty catalog would make a new, empty lake in it."""
    found = store._catalog_session().execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'ducklake_metadata'").fetchone()
    if not found or not found[0]:
        raise CopyRefusedError(f"SRC {store.label} holds no DuckLake catalog (no ducklake_metadata table in that "
                               "database): check the URL. (A missing SRC is never created as an empty store.)")


def _two_steps(role: str, label: str, exc: BaseException) -> str:
    import duckdb

    why = str(exc.__cause__ or exc).strip().splitlines()[0]
    head = (f"{role} {label} was written by a DuckDB that this environment's duckdb {duckdb.__version__} cannot "
            f"open ({why}). The lake's packages need duckdb 1.5.5, which cannot open files written by duckdb 2.x.")
    if role == "SRC":
        return (f"{head} Copy in two steps: where the file opens (the environment that wrote it), python -m "
                f"llmops_nb store export DIR --db {label}; then here, python -m llmops_nb store copy DIR DST.")
    return (f"{head} Copy in two steps: here, into a new file, python -m llmops_nb store copy SRC NEW.duckdb; then "
            f"where {label} opens, python -m llmops_nb store copy NEW.duckdb {label}.")


class ExportSource:
    """A folder written by ``store export`` read as a store: a view per exported table over its Parquet files."""

    def __init__(self, folder: Path) -> None:
        if not (folder / MANIFEST).is_file():
            raise CopyRefusedError(f"SRC {folder} is a folder but no llmops_nb export (it has no {MANIFEST}): "
                                   "write one with python -m llmops_nb store export DIR --db FILE.")
        self.folder = folder
        self.label = str(folder)
        self.manifest = json.loads((folder / MANIFEST).read_text())
        self._con: Any = None

    @contextlib.contextmanager
    def connect(self, timeout: float | None = None, expected_s: float = 0.0) -> Iterator[Any]:
        if self._con is None:
            self._con = self._open()
        yield self._con

    def _open(self) -> Any:
        import duckdb

        con = duckdb.connect(":memory:", config=DUCKDB_CONFIG)
        for table in TABLES:
            files = sorted(os.fspath(path) for path in (self.folder / table.name).rglob("*.parquet"))
            if files:  # the partition columns are in the folders' names only: not read (hive_partitioning off)
                listed = ", ".join("'" + name.replace("'", "''") + "'" for name in files)
                con.execute(f"CREATE VIEW {table.name} AS SELECT * FROM read_parquet([{listed}], "
                            "hive_partitioning = false)")
        return con

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None

    def classify(self, exc: BaseException) -> StoreError | None:
        return None
