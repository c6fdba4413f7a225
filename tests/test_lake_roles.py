"""A team's PostgreSQL roles, as the README sets them up: the owner creates and migrates the lake,
a read-write role traces, registers prompts and evaluates, a read-only role reads everything and
is refused writes with a message that says what to do — and nothing of the writer's is lost."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from postgres import Cluster
from support import make_trace

import llmops_nb
from llmops_nb import prompts
from llmops_nb.store._errors import StoreError

#: the README's "Roles" section, run as the cluster's superuser (the database owner runs the GRANTs)
SETUP = """
CREATE ROLE llmops_admin LOGIN;
CREATE ROLE llmops_writer LOGIN;
CREATE ROLE llmops_reader LOGIN;
"""
GRANTS = """
GRANT USAGE ON SCHEMA public TO llmops_writer, llmops_reader;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO llmops_writer;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO llmops_reader;
ALTER DEFAULT PRIVILEGES FOR ROLE llmops_admin IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO llmops_writer;
ALTER DEFAULT PRIVILEGES FOR ROLE llmops_admin IN SCHEMA public GRANT SELECT ON TABLES TO llmops_reader;
"""


def _run(cluster: Cluster, sql: str, dbname: str = "postgres", user: str = "postgres") -> None:
    import psycopg

    with psycopg.connect(cluster.conninfo(dbname, user), autocommit=True) as con:
        for statement in filter(str.strip, sql.split(";")):
            con.execute(statement)


def _as(cluster: Cluster, dbname: str, user: str, data: Path) -> None:
    llmops_nb.configure(db=f"ducklake:postgres:{cluster.conninfo(dbname, user)}", data_path=f"{data}/")


def test_owner_writer_and_reader_roles(postgres: Cluster, store_path: Path, tmp_path: Path):
    try:
        _run(postgres, SETUP)
    except Exception as exc:  # roles live in the session's cluster: made by the first run only
        assert "already exists" in str(exc)
    dbname = postgres.create_database(owner="llmops_admin")
    data = tmp_path / "lake-data"
    data.mkdir()
    try:
        _as(postgres, dbname, "llmops_admin", data)  # the owner's first use creates and migrates the lake
        llmops_nb.sql("SELECT 1")
        _run(postgres, GRANTS, dbname, "llmops_admin")

        _as(postgres, dbname, "llmops_writer", data)
        failures_before = llmops_nb.status()["write_failures"]  # the process's count: earlier tests' too
        written = make_trace("by the writer")
        prompt = prompts.register("qa", "Answer: {{question}}")
        prompts.set_alias("qa", "production", prompt.version)
        assert llmops_nb.flush()
        assert llmops_nb.status()["write_failures"] == failures_before
        # maintenance replaces catalog tables, which only their owner may do: said, with what to run
        with pytest.raises(StoreError, match="needs the PostgreSQL role that owns its catalog; llmops_writer"):
            llmops_nb.store.maintain()

        _as(postgres, dbname, "llmops_admin", data)
        assert llmops_nb.store.maintain()["inlined_rows_flushed"] > 0
        _as(postgres, dbname, "llmops_writer", data)  # writes go on after the owner's maintenance
        assert make_trace("again") and llmops_nb.flush()

        _as(postgres, dbname, "llmops_reader", data)
        assert set(llmops_nb.traces().name) == {"by the writer", "again"}
        assert prompts.load("qa@production").version == prompt.version
        assert not llmops_nb.spans(written).empty
        with pytest.raises(StoreError, match="read-only") as refused:
            prompts.register("qa", "Changed: {{question}}")
        assert "llmops_reader" in str(refused.value) and "README" in str(refused.value)
        # a reader's traces cannot be stored: counted and explained, never a crash
        make_trace("by the reader")
        assert not llmops_nb.flush(timeout=2)
        deadline = time.monotonic() + 30
        while llmops_nb.status()["store_problem"] is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "read-only" in (llmops_nb.status()["store_problem"] or "")
        assert set(llmops_nb.traces().name) == {"by the writer", "again"}  # reading still works
    finally:
        llmops_nb.configure(db=str(store_path), data_path=None)
