"""Loading DuckLake's and the PostgreSQL scanner's DuckDB extensions from the installed packages, offline.

They are DuckDB extensions built for one DuckDB version, and nothing here downloads: they are
loaded from the wheels ``llmops_nb[lake]`` pins (``duckdb==1.5.5``, ``duckdb-extension-ducklake``,
``duckdb-extension-postgres``), with DuckDB's auto-install and auto-load off. The postgres
package's file is named differently from the extension inside (``postgres_scanner``), and DuckDB
takes an extension's name from its file's: so each is loaded through a symlink with the right
name, in a private folder (``load_extensions``). A missing package or another DuckDB version is a
``StoreError`` saying what to ``pip install``.
"""

from __future__ import annotations

import atexit
import importlib
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

from ._errors import StoreError

#: the DuckDB version the extension packages in ``llmops_nb[lake]`` are built for
LAKE_DUCKDB = "1.5.5"
# (package, the file's name in it, the extension's own name: what DuckDB derives from a loaded path)
_EXTENSIONS = (("duckdb_extension_ducklake", "ducklake", "ducklake"),
               ("duckdb_extension_postgres", "postgres", "postgres_scanner"))
INSTALL_HINT = (f"pip install 'llmops_nb[lake]' (that is duckdb=={LAKE_DUCKDB}, "
                f"duckdb-extension-ducklake=={LAKE_DUCKDB}, duckdb-extension-postgres=={LAKE_DUCKDB} and "
                "psycopg[binary])")


def load_extensions(con: Any) -> None:
    """LOAD both extensions into ``con`` from the installed packages.

    Each through a symlink named as the extension (DuckDB takes the extension's name from the
    file's): no copy of ~78 MB per process, measured 160 ms for both against ~600 ms for INSTALL,
    which copies them, then LOAD. Where a symlink cannot be made (Windows without the right),
    INSTALL from the package then LOAD by name, and the copies are dropped once loaded.
    """
    with _load_lock:
        folder = Path(process_extension_directory())
        for module, name, extension in _EXTENSIONS:
            source = extension_file(module, name)
            link = folder / f"{extension}.duckdb_extension"
            try:
                if not link.is_symlink():
                    os.symlink(source, link)
            except (OSError, NotImplementedError):
                con.execute(f"INSTALL '{_sql_string(str(source))}'")
                con.execute(f"LOAD {name}")
                _drop_extension_copies()
                continue
            con.execute(f"LOAD '{_sql_string(str(link))}'")


def _sql_string(text: str) -> str:
    return text.replace("'", "''")


def _drop_extension_copies() -> None:
    # Once loaded, INSTALL's copies (~75 MB, in <folder>/v<version>/<platform>/) are not needed:
    # nothing is auto-loaded later. The folder stays, so the next INSTALL puts them at the same paths
    # (see process_extension_directory). Where a loaded file cannot be removed (Windows), it stays.
    for child in Path(process_extension_directory()).iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)


#: this process's extension folder, by pid (a forked child makes its own)
_extension_dirs: dict[int, str] = {}
#: INSTALL + LOAD of one process's attachments, one at a time: they share the folder
_load_lock = threading.Lock()


def process_extension_directory() -> str:
    """One private folder per process for the extensions' copies, at the same path for every attachment.

    Private: INSTALL copies from the packages, and another process's copy in progress must never be
    what this one LOADs. The same path every time: the dynamic loader keeps a library loaded by
    its path, so a second DuckDB instance of this process (a store configured again, a lake
    reattached after its catalog dropped the connection) LOADs the library already in memory. A
    new folder each time mapped a fresh ~75 MB copy of both libraries per attachment, and after
    some hundred attachments in one process DuckDB crashed in LOAD.
    """
    pid = os.getpid()
    folder = _extension_dirs.get(pid)
    if folder is None:
        folder = _extension_dirs[pid] = tempfile.mkdtemp(prefix="llmops_nb-duckdb-ext-")
        atexit.register(_remove_extension_directory, pid, folder)
    return folder


def _remove_extension_directory(pid: int, folder: str) -> None:
    if os.getpid() == pid:  # a forked child inherits the parent's exit handlers, not its folder
        shutil.rmtree(folder, ignore_errors=True)


def require_packages() -> Any:
    """The ``duckdb`` module when it and the lake's packages match; else a StoreError saying what to install."""
    import duckdb

    if duckdb.__version__ != LAKE_DUCKDB:
        raise StoreError(
            f"A DuckLake store needs duckdb {LAKE_DUCKDB}, the version its extensions are built for; this "
            f"environment has duckdb {duckdb.__version__}. Install the lake's packages in their own environment: "
            f"{INSTALL_HINT}.")
    for module, name, _ in _EXTENSIONS:
        extension_file(module, name)
    try:
        importlib.import_module("psycopg")
    except ImportError:
        raise StoreError(f"A DuckLake store needs psycopg (for its PostgreSQL catalog's locks): {INSTALL_HINT}.") \
            from None
    return duckdb


def extension_file(module: str, name: str) -> Path:
    try:
        package = importlib.import_module(module)
    except ImportError:
        raise StoreError(f"A DuckLake store needs the {name} extension package ({module.replace('_', '-')}), "
                         f"which is not installed: {INSTALL_HINT}.") from None
    found = Path(str(package.__file__)).parent / "extensions" / f"v{LAKE_DUCKDB}" / f"{name}.duckdb_extension"
    if not found.is_file():
        raise StoreError(f"The installed {module.replace('_', '-')} has no {name} extension for duckdb "
                         f"{LAKE_DUCKDB} (looked for {found}): {INSTALL_HINT}.")
    return found
