"""A real PostgreSQL for the lake's tests: one throwaway cluster per session, a fresh database per test.

The cluster lives in a temp dir and listens only on a unix socket there (no TCP port to collide
with). ``initdb``/``pg_ctl`` come from PATH or Debian's ``/usr/lib/postgresql/<version>/bin``
(``apt-get install postgresql``). PostgreSQL refuses to run as root, so as root the cluster is run
as the ``postgres`` user (``runuser -u postgres --``), its temp dir handed over to that user.
The role ``lakeuser`` logs in with a password (scram-sha-256 for it, trust for ``postgres``), for
the tests that check a password never shows.

Without PostgreSQL or the lake's packages (duckdb 1.5.5 and its extension wheels, psycopg) the
lake's tests are skipped, saying which is missing — but they FAIL when ``$CI`` is set: CI must run them.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PASSWORD = "s3cr3t-Pa55word"  # the lakeuser's; no message may ever show it
LAKE_USER = "lakeuser"


def _binaries() -> Path | None:
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return Path(found).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), reverse=True)
    return Path(candidates[0]).parent if candidates else None


def missing() -> str | None:
    """Why the lake cannot be tested here, or None."""
    if _binaries() is None:
        return "PostgreSQL binaries (initdb, pg_ctl) not found: apt-get install postgresql"
    try:
        from llmops_nb.store._lake_extensions import require_packages

        require_packages()
    except Exception as exc:  # the reason is the message
        return str(exc)
    return None


def skip_or_fail(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"the lake's tests must run in CI: {reason}")
    pytest.skip(reason)


@dataclass
class Cluster:
    socket_dir: Path

    def conninfo(self, dbname: str = "postgres", user: str = "postgres") -> str:
        return f"dbname={dbname} host={self.socket_dir} user={user}"

    def create_database(self, owner: str = "postgres") -> str:
        import psycopg

        name = f"lake_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.conninfo(), autocommit=True) as con:
            con.execute(f'CREATE DATABASE "{name}" OWNER "{owner}"')
        return name


def _as_postgres(args: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return args
    return ["runuser", "-u", "postgres", "--", *args]


class ClusterError(RuntimeError):
    """PostgreSQL could not be started (the message has its log)."""


@contextlib.contextmanager
def local_cluster() -> Iterator[Cluster]:
    """A throwaway PostgreSQL cluster on a unix socket in a temp dir, stopped and removed after the block.

    Used by the ``postgres`` fixture and, outside pytest, by the lake's benchmarks.
    """
    bin_dir = _binaries()
    if bin_dir is None:
        raise ClusterError("PostgreSQL binaries (initdb, pg_ctl) not found: apt-get install postgresql")
    root = Path(tempfile.mkdtemp(prefix="llmops-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    data = root / "data"
    env = {**os.environ, "LC_ALL": "C"}
    subprocess.run(_as_postgres([str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"]),
                   check=True, capture_output=True, env=env)
    hba = data / "pg_hba.conf"
    hba.write_text(f"local all {LAKE_USER} scram-sha-256\n" + hba.read_text())
    started = subprocess.run(_as_postgres([
        str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-w", "-o",
        f"-c listen_addresses='' -c unix_socket_directories={root} -c max_connections=200 -c fsync=off", "start"]),
        check=False, capture_output=True, env=env)
    if started.returncode:
        log = (root / "log").read_text() if (root / "log").exists() else ""
        shutil.rmtree(root, ignore_errors=True)
        raise ClusterError(f"PostgreSQL did not start: {started.stderr.decode()}\n{log}")
    cluster = Cluster(root)
    try:
        import psycopg

        with psycopg.connect(cluster.conninfo(), autocommit=True) as con:
            con.execute(f"CREATE ROLE {LAKE_USER} LOGIN PASSWORD '{PASSWORD}'")
        yield cluster
    finally:
        subprocess.run(_as_postgres([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
                       check=False, capture_output=True, env=env)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Cluster]:
    reason = missing()
    if reason is not None:
        skip_or_fail(reason)
    try:
        with local_cluster() as cluster:
            yield cluster
    except ClusterError as exc:
        pytest.fail(str(exc))


@dataclass
class Lake:
    url: str
    data_path: str
    dbname: str


@pytest.fixture
def lake(postgres: Cluster, store_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Lake]:
    """A fresh, empty lake configured as this process's store (the file store is restored after)."""
    import llmops_nb
    from llmops_nb._config import settings

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))  # the lake's side files: not in the real home

    dbname = postgres.create_database()
    data = tmp_path / "lake-data"
    data.mkdir()
    found = Lake(f"ducklake:postgres:{postgres.conninfo(dbname)}", f"{data}/", dbname)
    previous = settings.db, settings.data_path
    llmops_nb.configure(db=found.url, data_path=found.data_path)
    try:
        llmops_nb.sql("SELECT 1")  # attached and migrated, as a kernel's store is after its first use
        yield found
    finally:
        llmops_nb.flush(timeout=30)
        llmops_nb.configure(db=previous[0], data_path=previous[1])
