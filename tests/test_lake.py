"""The DuckLake store: the same API and the same results as the file store, on a real PostgreSQL catalog.

Run where duckdb 1.5.5 and the lake's packages are installed (``llmops_nb[lake]``); see ``postgres.py``.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest
from postgres import LAKE_USER, PASSWORD, Cluster, Lake
from support import ROOT, make_trace

import llmops_nb
from llmops_nb import prompts
from llmops_nb.evals import evaluate, feedback, log_feedback, scorers
from llmops_nb.store import _writer
from llmops_nb.store._connection import get_store
from llmops_nb.store._errors import StoreError
from llmops_nb.store._lake_url import parse, redact_dsn


def _frames() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    traces = llmops_nb.traces(limit=None).sort_values("trace_id").reset_index(drop=True)
    spans = llmops_nb.sql("SELECT * FROM spans ORDER BY trace_id, span_id")
    one = llmops_nb.spans(traces.trace_id[0])
    return traces, spans, one


def test_same_spans_give_the_same_frames_on_the_lake_and_a_file(lake: Lake, tmp_path: Path, monkeypatch):
    assert type(get_store()).__name__ == "LakeStore"
    chunks: list[list[tuple]] = []
    write = _writer.write_records

    def keep(records, **kwargs):  # the recorder's own chunks, kept to send the file store the same
        chunks.append(list(records))
        return write(records, **kwargs)

    monkeypatch.setattr(_writer, "write_records", keep)
    make_trace("alpha", tags={"env": "dev"}, session="s1", tokens=(3, 4))
    make_trace("beta", fail=True, tokens=(10, 1), cost=0.25)
    # a trace whose spans reach the store in three batches, its root last (open meanwhile)
    root = llmops_nb.tracing.start_span("gamma", kind="AGENT", parent=None)
    with llmops_nb.tracing.use_span(root):
        for step in range(2):
            with llmops_nb.span(f"step{step}", kind="LLM") as s:
                s.set_attributes({"gen_ai.usage.input_tokens": 5, "llmops_nb.cost_usd": 0.125})
            assert llmops_nb.flush()
            if step == 0:
                every = llmops_nb.traces(limit=None)
                open_row = every[every.trace_id == root.trace_id]  # no name yet: the root is open
                assert open_row.status.tolist() == ["IN_PROGRESS"] and open_row.span_count.tolist() == [1]
    root.end()
    assert llmops_nb.flush()
    drops = {int(root.trace_id, 16): 3}
    _writer.write_drops(dict(drops), {"memory bound": 3})
    lake_frames = _frames()
    lake_drops = llmops_nb.sql("SELECT trace_id, count, traces, reason FROM dropped_spans")

    llmops_nb.configure(db=str(tmp_path / "same.duckdb"))
    assert type(get_store()).__name__ == "Store"
    for chunk in chunks:
        write(chunk)
    _writer.write_drops(dict(drops), {"memory bound": 3})
    file_frames = _frames()
    file_drops = llmops_nb.sql("SELECT trace_id, count, traces, reason FROM dropped_spans")

    assert len(lake_frames[0]) == 3 and len(lake_frames[1]) == 7
    assert lake_frames[0].dropped_spans.sum() == 3
    for on_lake, on_file in zip(lake_frames, file_frames):
        pd.testing.assert_frame_equal(on_lake, on_file, check_exact=False, rtol=1e-12)
    pd.testing.assert_frame_equal(lake_drops, file_drops)


def test_sql_and_filters_work_unchanged(lake: Lake):
    a = make_trace("alpha", tags={"env": "dev"}, session="s1")
    make_trace("beta", fail=True)
    assert llmops_nb.flush()
    assert llmops_nb.traces(tag="env=dev").trace_id.tolist() == [a]
    assert llmops_nb.traces(status="ERROR").name.tolist() == ["beta"]
    assert llmops_nb.traces(text="hello", name="al*").trace_id.tolist() == [a]
    frame = llmops_nb.sql("SELECT kind, count(*) AS n FROM spans WHERE trace_id = ? GROUP BY kind ORDER BY kind", [a])
    assert frame.values.tolist() == [["CHAIN", 1], ["CHAT_MODEL", 1]]
    assert "lake" in set(llmops_nb.sql("SELECT 'lake' AS x").x)


def test_prompts_register_alias_load_rollback(lake: Lake):
    first = prompts.register("qa", "Answer: {{question}}", commit_message="first", author="ana")
    assert prompts.register("qa", "Answer: {{question}}").version == 1  # same content: not re-registered
    second = prompts.register("qa", "Answer briefly: {{question}}", author="ben")
    assert (first.version, second.version) == (1, 2)
    prompts.set_alias("qa", "production", 1, author="ana")
    prompts.set_alias("qa", "production", 2, author="ben")
    prompts.set_alias("qa", "staging", "production")
    assert prompts.load("prompts:/qa@production").version == 2
    assert prompts.load("qa", alias="staging").version == 2
    assert prompts.rollback("qa", "production").version == 1
    prompts.delete_alias("qa", "staging")
    assert prompts.load("qa").version == 2 and prompts.load("qa").aliases == ()
    assert prompts.load("qa", version=1).aliases == ("production",)
    aliases = llmops_nb.sql("SELECT alias, version FROM prompt_aliases WHERE name = 'qa'")
    assert aliases.values.tolist() == [["production", 1]]  # one row per alias: moves replace it
    seqs = llmops_nb.sql("SELECT seq FROM prompt_alias_history ORDER BY seq").seq.tolist()
    assert seqs == list(range(1, len(seqs) + 1))


def test_an_eval_run_with_feedback(lake: Lake):
    data = [{"inputs": {"q": i}, "outputs": "abc" * (i + 1)} for i in range(4)]
    df = evaluate(data, scorers=[scorers.length()], progress=False, name="lake-run")
    run_id = df.attrs["run_id"]
    runs = llmops_nb.sql("SELECT status, rows_done, row_count FROM eval_runs WHERE run_id = ?", [run_id])
    assert runs.values.tolist() == [["FINISHED", 4, 4]]
    assert llmops_nb.sql("SELECT count(*) AS n FROM eval_results WHERE run_id = ?", [run_id]).n[0] == 4
    log_feedback(df.trace_id[0], value=False, comment="too short", author="ana", run_id=run_id, row=0)
    log_feedback(df.trace_id[0], value=True, author="ana", run_id=run_id, row=0)
    latest = feedback(run_id=run_id, latest=True)
    assert latest[["value", "author", "row_index"]].values.tolist() == [[True, "ana", 0]]
    assert len(llmops_nb.traces(limit=None)) == 4


WRITER = textwrap.dedent("""
    import pathlib, sys, time
    import llmops_nb
    from llmops_nb import prompts
    from llmops_nb.evals import evaluate, scorers
    tag, count, barrier = sys.argv[1], int(sys.argv[2]), pathlib.Path(sys.argv[3])
    llmops_nb.sql("SELECT 1")  # attached and migrated before the start
    (barrier / tag).touch()
    while len(list(barrier.iterdir())) < 3:
        time.sleep(0.005)
    for i in range(count):
        with llmops_nb.span(f"{tag}-{i}", kind="CHAIN") as root:
            with llmops_nb.span("llm", kind="LLM") as child:
                child.set_attributes({"gen_ai.usage.input_tokens": 1})
        version = prompts.register("shared", f"{tag} {i}: {{{{question}}}}", commit_message=f"{tag}-{i}", author=tag)
        prompts.set_alias("shared", "production", version.version, author=tag)
        prompts.set_alias("shared", f"by-{tag}", version.version, author=tag)
        llmops_nb.flush()
        llmops_nb.log_feedback(root.trace_id, value=True, author=tag)
        if i == count // 2:  # an evaluation while the others write
            df = evaluate([{"inputs": {"q": k}, "outputs": "x" * k} for k in range(5)], scorers=[scorers.length()],
                          progress=False, name=f"run-{tag}")
            llmops_nb.log_feedback(df.trace_id[0], value=False, author=tag, run_id=df.attrs["run_id"], row=0)
    everyone = {f"{t}-{k}" for t in "ABC" for k in range(count)}
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # each sees the others' traces, aliases and runs
        names = set(llmops_nb.sql("SELECT name FROM traces").name)
        aliases = set(llmops_nb.sql("SELECT alias FROM prompt_aliases").alias)
        runs = set(llmops_nb.sql("SELECT name FROM eval_runs WHERE status = 'FINISHED'").name)
        if everyone <= names and {"by-A", "by-B", "by-C"} <= aliases and len(runs) == 3:
            break
        time.sleep(0.2)
    else:
        raise SystemExit(f"{tag} saw {len(names)} traces and aliases {sorted(aliases)}")
    print("done", tag, flush=True)
""")


@pytest.mark.slow
def test_three_processes_write_traces_prompts_and_aliases_at_once(lake: Lake, tmp_path: Path):
    llmops_nb.sql("SELECT 1")  # migrated once here, so the three race on writes, not on set-up
    env = dict(os.environ, LLMOPS_NB_DB=lake.url, LLMOPS_NB_DATA_PATH=lake.data_path,
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    count, barrier = 12, tmp_path / "barrier"
    barrier.mkdir()
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, tag, str(count), str(barrier)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env) for tag in "ABC"]
    outs = [proc.communicate(timeout=280) for proc in procs]
    for proc, (out, err) in zip(procs, outs):
        assert proc.returncode == 0, err[-3000:]
        assert out.startswith("done"), out
    traces = llmops_nb.traces(limit=None)
    traces = traces[~traces.name.str.startswith("run-")]
    assert sorted(traces.name) == sorted(f"{t}-{i}" for t in "ABC" for i in range(count))
    assert traces.span_count.tolist() == [2] * 3 * count and traces.input_tokens.tolist() == [1] * 3 * count
    assert llmops_nb.sql("SELECT count(*) AS n FROM spans WHERE name = 'llm'").n[0] == 3 * count  # nothing twice
    versions = llmops_nb.sql("SELECT version, commit_message FROM prompt_versions WHERE name = 'shared' "
                             "ORDER BY version")
    assert versions.version.tolist() == list(range(1, 3 * count + 1))  # distinct and gap-free
    assert set(versions.commit_message) == {f"{t}-{i}" for t in "ABC" for i in range(count)}
    aliases = llmops_nb.sql("SELECT alias, count(*) AS n FROM prompt_aliases GROUP BY alias ORDER BY alias")
    assert aliases.values.tolist() == [["by-A", 1], ["by-B", 1], ["by-C", 1], ["production", 1]]
    history = llmops_nb.sql("SELECT seq, from_version, to_version FROM prompt_alias_history "
                            "WHERE alias = 'production' ORDER BY seq")
    assert history.from_version.tolist()[1:] == history.to_version.tolist()[:-1]  # each move from where it was
    assert prompts.load("shared", alias="production").version == history.to_version.tolist()[-1]
    assert len(feedback()) == 3 * count + 3
    runs = llmops_nb.sql("SELECT name, status, rows_done FROM eval_runs ORDER BY name")
    assert runs.values.tolist() == [[f"run-{t}", "FINISHED", 5] for t in "ABC"]
    results = llmops_nb.sql("SELECT r.name, count(*) AS n FROM eval_results e JOIN eval_runs r USING (run_id) "
                            "GROUP BY r.name ORDER BY r.name")
    assert results.n.tolist() == [5, 5, 5]
    scores = llmops_nb.sql("SELECT count(*) AS n FROM assessments WHERE source_type = 'CODE'").n[0]
    assert scores == 15


def test_a_password_never_shows(postgres: Cluster, store_path: Path, tmp_path: Path, capsys, caplog):
    dbname = postgres.create_database(owner=LAKE_USER)
    url = f"ducklake:postgres:dbname={dbname} host={postgres.socket_dir} user={LAKE_USER} password={PASSWORD}"
    shown = repr(llmops_nb.configure(db=url, data_path=f"{tmp_path}/data/"))  # a cell's last line shows it
    assert PASSWORD not in shown and "password=[redacted]" in shown
    try:
        trace_id = make_trace("secretive")
        assert llmops_nb.flush()
        assert llmops_nb.traces().trace_id.tolist() == [trace_id]
        # time travel attaches the lake a second time: its password goes the same way, and no error quotes it
        assert llmops_nb.traces(as_of=dt.timedelta(0)).trace_id.tolist() == [trace_id]
        with pytest.raises(StoreError) as too_early:
            llmops_nb.traces(as_of="2001-01-01T00:00Z")
        assert PASSWORD not in str(too_early.value)
        status = repr(llmops_nb.status())
        assert PASSWORD not in status and "password=[redacted]" in status
        shown = llmops_nb.sql("SELECT * FROM duckdb_databases()").to_string() + \
            llmops_nb.sql("SELECT * FROM duckdb_secrets()").to_string() + \
            llmops_nb.sql("SELECT * FROM duckdb_settings()").to_string()
        assert PASSWORD not in shown
        with pytest.raises(Exception, match="unredacted secrets is disabled"):  # nor by asking for it
            llmops_nb.sql("SELECT secret_string FROM duckdb_secrets(redact := false)")
        stored = llmops_nb.sql("SELECT * FROM spans").to_string() + llmops_nb.sql("SELECT * FROM traces").to_string()
        assert PASSWORD not in stored
        assert PASSWORD not in repr(get_store())
        llmops_nb.configure(db=url.replace(PASSWORD, "wrong-" + PASSWORD))
        with pytest.raises(StoreError) as failed:
            llmops_nb.sql("SELECT 1")
        assert PASSWORD not in str(failed.value) and "password=[redacted]" in str(failed.value)
        assert "authentication failed" in str(failed.value)
        llmops_nb.configure(db=url.replace(str(postgres.socket_dir), "/nonexistent"))
        make_trace("lost")
        assert not llmops_nb.flush(timeout=1)
        deadline = time.monotonic() + 30
        while llmops_nb.status()["store_problem"] is None and time.monotonic() < deadline:
            time.sleep(0.1)  # the writer's first attempt (a new DuckDB instance, its extensions) may take a while
        problem = llmops_nb.status()
        assert problem["store_problem"] and "password=[redacted]" in problem["store_problem"]
        assert PASSWORD not in repr(problem)
    finally:
        llmops_nb.configure(db=str(store_path), data_path=None)
    out = capsys.readouterr()
    assert PASSWORD not in out.out + out.err + caplog.text


@pytest.mark.lake  # parsing needs psycopg, one of the lake's packages
@pytest.mark.parametrize("text", [
    f"ducklake:postgres:dbname=x password={PASSWORD} host=h",
    f"ducklake:postgres:dbname=x password='{PASSWORD} b' host=h",
    f"ducklake:postgres:postgresql://bob:{PASSWORD}@db/lake",
    f"ducklake:postgres:postgresql://db/lake?password={PASSWORD}&sslmode=require",
])
def test_redact_dsn_and_parse_take_the_password_out(text):
    assert PASSWORD not in redact_dsn(text) and "[redacted]" in redact_dsn(text)
    if os.environ.get("CI") is None:
        pytest.importorskip("psycopg", reason="parsing a libpq string needs psycopg (llmops_nb[lake])")
    parsed = parse(text)
    assert parsed.password is not None and PASSWORD in parsed.password
    assert PASSWORD not in parsed.catalog


def test_other_catalogs_are_refused_by_name():
    with pytest.raises(ValueError, match="PostgreSQL catalog"):
        parse(f"ducklake:sqlite:lake.db?password={PASSWORD}")


def test_another_duckdb_version_says_what_to_install(tmp_path: Path):
    """Run where the current DuckDB (not 1.5.5) is installed: the message names what to pip install."""
    code = textwrap.dedent("""
        import duckdb, llmops_nb
        from llmops_nb.store._errors import StoreError
        try:
            llmops_nb.sql("SELECT 1")
        except StoreError as exc:
            print(duckdb.__version__, "|", exc)
        else:
            print(duckdb.__version__, "| no error")
    """)
    env = dict(os.environ, LLMOPS_NB_DB=f"ducklake:postgres:dbname=x host=/nowhere password={PASSWORD}",
               LLMOPS_NB_DATA_PATH=str(tmp_path), PYTHONPATH=str(ROOT), XDG_DATA_HOME=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, env=env,
                         timeout=120)
    version, _, message = out.stdout.partition(" | ")
    assert out.returncode == 0, out.stderr
    if version == "1.5.5":
        pytest.skip("this interpreter sees only duckdb 1.5.5; the mismatch needs another version")
    assert f"this environment has duckdb {version}" in message
    assert "pip install 'llmops_nb[lake]'" in message and "duckdb==1.5.5" in message
    assert PASSWORD not in out.stdout + out.stderr


def test_a_chunk_sent_again_after_an_unknown_commit_outcome_is_applied_once(lake: Lake, monkeypatch):
    from llmops_nb.store import _lake_writer

    chunks: list[list[tuple]] = []
    write = _writer.write_records

    def keep(records, **kwargs):  # the recorder's chunk, kept to send it again
        chunks.append(list(records))
        return write(records, **kwargs)

    monkeypatch.setattr(_writer, "write_records", keep)
    make_trace("once")
    assert llmops_nb.flush() and len(chunks) == 1
    # as after a COMMIT that failed without saying whether it landed (the catalog's connection dropped)
    batch_id = llmops_nb.sql("SELECT DISTINCT batch_id FROM trace_parts").batch_id.tolist()
    assert len(batch_id) == 1
    _lake_writer._uncertain.add(batch_id[0])
    write(chunks[0])  # the recorder's retry of the same chunk: the same id, looked up, not written again
    assert batch_id[0] not in _lake_writer._uncertain
    assert len(llmops_nb.sql("SELECT * FROM spans")) == 2
    assert llmops_nb.traces().span_count.tolist() == [2]


def test_spans_abandoned_at_exit_are_recorded_by_the_next_writer(lake: Lake):
    from llmops_nb._config import settings
    from llmops_nb.store import _lost

    trace_id = make_trace("partly lost")
    assert llmops_nb.flush()
    assert _lost.note(settings.db_path(), {int(trace_id, 16): 4}, "the catalog was down")
    assert PASSWORD not in settings.db_path().name and "lake-" in settings.db_path().name
    _lost.ingest_pending(settings.db_path())
    assert llmops_nb.traces().dropped_spans.tolist() == [4]
    log = llmops_nb.sql("SELECT trace_id, count, reason FROM dropped_spans")
    assert log.values.tolist() == [[trace_id, 4, "abandoned at exit: the catalog was down"]]


ALTERED_WRITER = textwrap.dedent("""
    import sys, time
    import llmops_nb
    count = int(sys.argv[1])
    for i in range(count):
        with llmops_nb.span(f"w-{i}", kind="CHAIN"):
            with llmops_nb.span("llm", kind="LLM"):
                pass
        if i % 5 == 4:
            assert llmops_nb.flush(timeout=60)
            print(i, flush=True)
    assert llmops_nb.flush(timeout=60)
    print("done", flush=True)
""")


@pytest.mark.slow
def test_a_schema_change_by_another_process_mid_write_loses_nothing(lake: Lake):
    """Another process alters the tables being written (as a migration would): the writes are retried."""
    env = dict(os.environ, LLMOPS_NB_DB=lake.url, LLMOPS_NB_DATA_PATH=lake.data_path,
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    count = 300
    child = subprocess.Popen([sys.executable, "-c", ALTERED_WRITER, str(count)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=env)
    assert child.stdout is not None
    child.stdout.readline()  # it is writing
    step = 0
    while child.poll() is None and step < 30:  # alter both tables while it writes, as migrations would
        llmops_nb.sql(f"ALTER TABLE spans ADD COLUMN extra_{step} VARCHAR")
        llmops_nb.sql(f"ALTER TABLE trace_parts ADD COLUMN extra_{step} VARCHAR")
        step += 1
        time.sleep(0.02)
    out, err = child.communicate(timeout=280)
    assert child.returncode == 0, "\n".join(line[:400] for line in err.splitlines()[-40:])
    assert "done" in out, err
    assert llmops_nb.sql("SELECT count(*) AS n FROM spans").n[0] == 2 * count  # all, and none twice
    assert llmops_nb.traces(limit=None).span_count.tolist() == [2] * count


def test_a_conflicting_commit_is_retried_and_applied_once(lake: Lake, tmp_path: Path):
    """Another process commits between our transaction's start and its COMMIT, and DuckLake's own
    retries are off: the commit fails as a conflict, and apply_once runs the transaction again."""
    from llmops_nb.store import _lake_writer
    from llmops_nb.store._lake import LakeStore

    store = get_store()
    other = LakeStore(lake.url, lake.data_path, tmp_path / "other")  # a second attachment, as another process's
    calls: list[int] = []

    def step(con):
        calls.append(1)
        con.execute("INSERT INTO dropped_spans (trace_id, count, reason) VALUES ('t', 1, 'ours')")
        if len(calls) == 1:
            with other.connect() as theirs:
                theirs.execute("INSERT INTO dropped_spans (trace_id, count, reason) VALUES ('o', 1, 'theirs')")

    before = _lake_writer.retried["conflicts"]
    with store.connect() as con:
        con.execute("SET ducklake_max_retry_count = 0")
    try:
        _lake_writer.apply_once(store, "conflict-test", [], [step], marker=False)
    finally:
        with store.connect() as con:
            con.execute("SET ducklake_max_retry_count = 100")
        other.close()
    assert len(calls) == 2 and _lake_writer.retried["conflicts"] == before + 1
    rows = llmops_nb.sql("SELECT reason, count(*) AS n FROM dropped_spans GROUP BY reason ORDER BY reason")
    assert rows.values.tolist() == [["ours", 1], ["theirs", 1]]


def test_a_commit_with_an_unknown_outcome_is_looked_up_then_applied_once(lake: Lake, postgres: Cluster):
    """The catalog's connections are cut during the transaction (a PostgreSQL restart, a network
    drop): the COMMIT fails without saying whether it landed; the batch id is looked up through a
    new attachment, and the batch is sent again only because it is not there."""
    import psycopg

    from llmops_nb.store import _lake_writer

    store = get_store()
    calls: list[int] = []

    def step(con):
        calls.append(1)
        con.execute("INSERT INTO trace_parts (trace_id, batch_id, written_ns) VALUES ('t', 'cut-batch', 1)")
        if len(calls) == 1:
            with psycopg.connect(postgres.conninfo(), autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
                              "AND pid <> pg_backend_pid()", [lake.dbname])

    before = dict(_lake_writer.retried)
    _lake_writer.apply_once(store, "cut-batch", [], [step])
    assert len(calls) == 2
    assert _lake_writer.retried["unknown_outcomes"] == before["unknown_outcomes"] + 1
    assert llmops_nb.sql("SELECT count(*) AS n FROM trace_parts WHERE batch_id = 'cut-batch'").n[0] == 1
    assert "cut-batch" not in _lake_writer._uncertain
    prompts.register("after-the-cut", "still {{works}}")  # the advisory-lock session comes back too


def test_the_lake_schema_has_every_logical_table_and_no_keys():
    """The lake's migrations (run here on a plain DuckDB): the file store's tables, without the keys
    and upserts DuckLake rejects, ``traces`` a view over appended parts."""
    import duckdb

    from llmops_nb.store import _lake_schema, _migrations

    con = duckdb.connect(":memory:")
    assert _lake_schema.migrate(con) == [name for name, _ in _migrations.MIGRATIONS]
    assert _lake_schema.migrate(con) == []
    keys = con.execute("SELECT table_name, constraint_type FROM duckdb_constraints() "
                       "WHERE constraint_type IN ('PRIMARY KEY', 'UNIQUE')").fetchall()
    assert keys == []
    file_con = duckdb.connect(":memory:")
    _migrations.migrate(file_con)
    query = ("SELECT table_name, column_name, data_type FROM information_schema.columns "
             "WHERE table_name NOT IN ('trace_parts') ORDER BY table_name, ordinal_position")
    assert con.execute(query).fetchall() == file_con.execute(query).fetchall()  # same logical tables
    kinds = dict(con.execute("SELECT table_name, table_type FROM information_schema.tables").fetchall())
    assert kinds["traces"] == "VIEW" and kinds["trace_parts"] == "BASE TABLE"


ATTACHER = textwrap.dedent("""
    import pathlib, sys, time
    import llmops_nb
    barrier = pathlib.Path(sys.argv[1])
    (barrier / sys.argv[2]).touch()
    while len(list(barrier.iterdir())) < 3:
        time.sleep(0.005)
    with llmops_nb.span(f"first-{sys.argv[2]}"):
        pass
    assert llmops_nb.flush(timeout=60)
    print(len(llmops_nb.sql("SELECT name FROM _llmops_migrations")), flush=True)
""")


@pytest.mark.slow
def test_three_processes_attach_a_new_lake_at_once(postgres: Cluster, tmp_path: Path):
    """The first ATTACH creates DuckLake's catalog and the first process migrates: one at a time."""
    from llmops_nb.store._lake_schema import LAKE_MIGRATIONS

    url = f"ducklake:postgres:{postgres.conninfo(postgres.create_database())}"
    env = dict(os.environ, LLMOPS_NB_DB=url, LLMOPS_NB_DATA_PATH=str(tmp_path / "data"),
               XDG_DATA_HOME=str(tmp_path / "xdg"),
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    procs = [subprocess.Popen([sys.executable, "-c", ATTACHER, str(barrier), tag], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env) for tag in "ABC"]
    outs = [proc.communicate(timeout=200) for proc in procs]
    for proc, (out, err) in zip(procs, outs):
        assert proc.returncode == 0, err[-3000:]
        assert out.split() == [str(len(LAKE_MIGRATIONS))]  # each migration recorded once


def test_maintain_compacts_many_small_commits_and_keeps_every_row(lake: Lake, tmp_path: Path):
    """A flush per trace is a commit, and a commit is a file (or rows inlined in the catalog): maintain()
    merges them into few files, expires the snapshots and deletes the old files; every row stays."""
    from llmops_nb.store import maintain
    from llmops_nb.store._maintain import live_files

    for i in range(25):  # 12 spans a commit: past DuckLake's inlining limit (10 rows), so each makes a file
        with llmops_nb.span(f"t{i}", kind="AGENT"):
            for j in range(11):
                with llmops_nb.span(f"step{j}", kind="TOOL") as step:
                    step.set_attribute("gen_ai.usage.input_tokens", j)
        assert llmops_nb.flush()
    before = llmops_nb.traces(limit=None).sort_values("trace_id").reset_index(drop=True)
    spans_before = llmops_nb.sql("SELECT * FROM spans ORDER BY span_id")
    with get_store().connect() as con:
        files = live_files(con)
    assert files >= 25  # a file per commit of spans; the one-row trace parts are inlined in the catalog
    data = Path(lake.data_path)
    on_disk = sum(1 for _ in data.rglob("*.parquet"))

    done = maintain(keep=dt.timedelta(0))
    assert done["store"] == "lake" and done["files_before"] == files
    assert done["files_after"] < files / 5, done
    assert done["snapshots_expired"] > 0 and done["files_deleted"] > 0 and done["inlined_rows_flushed"] > 0, done
    assert sum(1 for _ in data.rglob("*.parquet")) < on_disk / 5  # the old files are gone from the disk
    after = llmops_nb.traces(limit=None).sort_values("trace_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(before, after)
    pd.testing.assert_frame_equal(spans_before, llmops_nb.sql("SELECT * FROM spans ORDER BY span_id"))
    # writing goes on after maintenance, and a second pass has little left to do
    make_trace("after")
    assert llmops_nb.flush()
    assert "after" in set(llmops_nb.traces(limit=None).name)
    assert maintain()["files_after"] <= done["files_after"] + 2
    with pytest.raises(ValueError, match="non-negative timedelta"):
        maintain(keep=3)


def test_store_maintain_from_the_command_line(lake: Lake, tmp_path: Path):
    make_trace("cli")
    assert llmops_nb.flush()
    env = dict(os.environ, LLMOPS_NB_DATA_PATH=lake.data_path, XDG_DATA_HOME=str(tmp_path / "xdg"),
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    command = [sys.executable, "-m", "llmops_nb", "store", "maintain"]
    done = subprocess.run([*command, "--db", lake.url, "--keep-days", "0"], check=False, capture_output=True,
                          text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Maintained: store lake, files_before ")
    bad = subprocess.run([*command, "--keep-days", "-1"], check=False, capture_output=True, text=True, env=env,
                         timeout=120)
    assert bad.returncode == 2 and "--keep-days" in bad.stderr
