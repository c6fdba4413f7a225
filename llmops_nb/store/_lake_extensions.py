"""Loading DuckLake's and the PostgreSQL scanner's DuckDB extensions from the installed packages, offline.

They are DuckDB extensions built for one DuckDB version, and nothing here downloads: they are
installed from the wheels ``llmops_nb[lake]`` pins (``duckdb==1.5.5``,
``duckdb-extension-ducklake``, ``duckdb-extension-postgres``) into a private extension directory,
with DuckDB's auto-install and auto-load off. ``LOAD '<path>'`` cannot be used: the postgres
package's file is named differently from the extension inside (``postgres_scanner``), which
``INSTALL '<path>'`` copies under the right name. A missing package or another DuckDB version is a
``StoreError`` saying what to ``pip install``.
"""

from __future__ import annotations

import atexit
import contextlib
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
_EXTENSIONS = (("duckdb_extension_ducklake", "ducklake"), ("duckdb_extension_postgres", "postgres"))
INSTALL_HINT = (f"pip install 'llmops_nb[lake]' (that is duckdb=={LAKE_DUCKDB}, "
                f"duckdb-extension-ducklake=={LAKE_DUCKDB}, duckdb-extension-postgres=={LAKE_DUCKDB} and "
                "psycopg[binary])")


def load_extensions(con: Any) -> None:
    """INSTALL and LOAD both extensions into ``con`` (made with ``process_extension_directory()``)."""
    with _load_lock:
        for module, name in _EXTENSIONS:
            con.execute(f"INSTALL '{str(extension_file(module, name)).replace(chr(39), chr(39) * 2)}'")
            con.execute(f"LOAD {name}")
        _drop_extension_copies()


def _drop_extension_copies() -> None:
    # Once loaded, the copies (~75 MB) are not needed: nothing is auto-loaded later. The folder
    # stays, so the next INSTALL puts them at the same paths (see process_extension_directory).
    # Where a loaded file cannot be removed (Windows), it stays in the temp dir.
    for child in Path(process_extension_directory()).iterdir():
        if child.is_dir():
            shutil.rmtree(child, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                child.unlink()


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
    for module, name in _EXTENSIONS:
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
