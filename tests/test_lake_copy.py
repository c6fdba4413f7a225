"""``store copy`` to and from a real DuckLake on a real PostgreSQL: file → lake → file reads back equal,
a duckdb 2.x file reaches the lake through an export folder, reruns add nothing, conflicts are refused,
the password never shows. Run where the lake's packages are (``postgres.py``, scripts/test_lake.sh)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from postgres import LAKE_USER, PASSWORD, Cluster, Lake
from support import ROOT, make_trace
from test_store_copy import assert_same, counts, fill, logical

import llmops_nb
from llmops_nb import prompts
from llmops_nb.store import copy_store
from llmops_nb.store._connection import get_store
from llmops_nb.store._copy_tables import CopyRefusedError
from llmops_nb.store._lake_extensions import LAKE_DUCKDB

#: this checkout, without the lake's overlay: the venv's own DuckDB (2.x), as a user's notebook has it
FILE_ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "llmops_nb", "store", *args], check=False, capture_output=True,
                          text=True, env=env or dict(os.environ), timeout=300)


def test_file_to_lake_to_file_reads_back_equal_and_reruns_add_nothing(lake: Lake, store_path: Path,
                                                                       tmp_path: Path):
    llmops_nb.configure(db=str(store_path))
    fill()
    first = copy_store(store_path, lake.url, data_path=lake.data_path)
    back = tmp_path / "back.duckdb"
    second = copy_store(lake.url, back)  # duckdb 1.5.5 writes the new file, in the same process
    original = logical(str(store_path))
    assert_same(original, logical(lake.url, lake.data_path))
    assert_same(original, logical(str(back)))
    assert counts(first) == counts(second)
    assert all(skipped == updated == 0 for _, skipped, updated in counts(first).values())
    for src, dst in ((store_path, lake.url), (lake.url, back)):
        assert {name: copied for name, (copied, _, _) in counts(copy_store(src, dst)).items()} == \
            dict.fromkeys(counts(first), 0)
    assert_same(original, logical(lake.url, lake.data_path))
    llmops_nb.configure(db=lake.url, data_path=lake.data_path)
    parts = llmops_nb.sql("SELECT count(*) AS n, count(DISTINCT trace_id) AS traces FROM trace_parts")
    assert parts.n[0] == parts.traces[0] == 7  # one part per trace (fill() writes 7): the totals as SRC had them


def test_a_trace_that_grew_is_merged_on_the_lake_as_on_a_file(lake: Lake, store_path: Path):
    llmops_nb.configure(db=str(store_path))
    root = llmops_nb.tracing.start_span("long", kind="AGENT", parent=None)
    with llmops_nb.tracing.use_span(root), llmops_nb.span("step1", kind="LLM") as step:
        step.set_attributes({"gen_ai.usage.input_tokens": 5, "llmops_nb.cost_usd": 0.25})
    assert llmops_nb.flush()
    copy_store(store_path, lake.url, data_path=lake.data_path)
    with llmops_nb.tracing.use_span(root), llmops_nb.span("step2", kind="LLM") as step:
        step.set_attributes({"gen_ai.usage.input_tokens": 7, "llmops_nb.cost_usd": 0.125})
    root.end()
    assert llmops_nb.flush()
    report = copy_store(store_path, lake.url)
    assert counts(report)["traces"] == (0, 0, 1) and counts(report)["spans"] == (2, 1, 0)
    assert_same(logical(str(store_path)), logical(lake.url, lake.data_path))
    assert logical(lake.url, lake.data_path)["traces()"].span_count.tolist() == [3]


def test_a_run_copied_while_running_is_finished_on_the_lake(lake: Lake, store_path: Path):
    llmops_nb.configure(db=str(store_path))
    ids = fill()
    copy_store(store_path, lake.url, data_path=lake.data_path)
    llmops_nb.configure(db=lake.url, data_path=lake.data_path)
    with get_store().connect() as con:  # as a copy taken after the run's first row would have left it
        con.execute("UPDATE eval_runs SET status = 'RUNNING', rows_done = 1, ended_at = NULL WHERE run_id = ?",
                    [ids["run"]])
        con.execute("DELETE FROM eval_results WHERE run_id = ? AND row_index > 0", [ids["run"]])
    report = copy_store(store_path, lake.url)
    assert counts(report)["eval_runs"] == (0, 0, 1) and counts(report)["eval_results"] == (3, 0, 0)
    assert_same(logical(str(store_path)), logical(lake.url, lake.data_path))


WRITE_FILE = textwrap.dedent("""
    import sys, duckdb, llmops_nb
    from llmops_nb import prompts
    llmops_nb.configure(db=sys.argv[1])
    for i in range(3):
        with llmops_nb.span(f"nb-{i}", kind="CHAIN"):
            with llmops_nb.span("llm", kind="CHAT_MODEL") as s:
                s.set_attributes({"gen_ai.usage.input_tokens": i})
    prompts.register("qa", "Answer: {{question}}")
    prompts.set_alias("qa", "production", 1)
    llmops_nb.flush()
    print(duckdb.__version__)
""")
SAME_FILES = textwrap.dedent("""
    import sys, duckdb
    con = duckdb.connect()
    con.execute(f"ATTACH '{sys.argv[1]}' AS a (READ_ONLY)")
    con.execute(f"ATTACH '{sys.argv[2]}' AS b (READ_ONLY)")
    for table in sys.argv[3:]:
        a = con.execute(f"SELECT * FROM a.{table} ORDER BY ALL").fetchall()
        b = con.execute(f"SELECT * FROM b.{table} ORDER BY ALL").fetchall()
        assert a == b and (a or table != "spans"), (table, len(a), len(b))
    print("same")
""")


def test_a_duckdb_2_file_reaches_the_lake_through_an_export(lake: Lake, tmp_path: Path):
    notebook = tmp_path / "notebook.duckdb"
    made = subprocess.run([sys.executable, "-c", WRITE_FILE, str(notebook)], check=False, capture_output=True,
                          text=True, env=FILE_ENV, timeout=120)
    assert made.returncode == 0, made.stderr
    if made.stdout.strip() == LAKE_DUCKDB:
        pytest.skip(f"the venv's own duckdb is the lake's ({LAKE_DUCKDB}): no file here it cannot open")
    with pytest.raises(CopyRefusedError) as refused:  # duckdb 1.5.5 cannot open what 2.x wrote
        copy_store(notebook, lake.url)
    message = str(refused.value)
    assert f"SRC {notebook} was written by a DuckDB that this environment's duckdb {LAKE_DUCKDB} cannot open" in message
    assert f"python -m llmops_nb store export DIR --db {notebook}; then here, python -m llmops_nb store copy DIR DST" \
        in message
    with pytest.raises(CopyRefusedError, match="Copy in two steps: here, into a new file"):
        copy_store(lake.url, notebook)  # nor can it add to that file
    exported = _cli("export", str(tmp_path / "out"), "--db", str(notebook), env=FILE_ENV)  # step 1, where it opens
    assert exported.returncode == 0, exported.stderr
    copied = _cli("copy", str(tmp_path / "out"), lake.url, "--data-path", lake.data_path)  # step 2, here
    assert copied.returncode == 0, copied.stderr
    assert "traces: 3 copied, 0 skipped (already in DST)" in copied.stdout.splitlines()
    assert "recorded_calls: not in SRC" in copied.stdout
    again = _cli("copy", str(tmp_path / "out"), lake.url)
    assert "spans: 0 copied, 6 skipped (already in DST)" in again.stdout.splitlines(), again.stderr
    # and back: the lake into a new file here, which the notebook's DuckDB reads equal to its own
    back = tmp_path / "back.duckdb"
    copy_store(lake.url, back)
    compared = subprocess.run([sys.executable, "-c", SAME_FILES, str(notebook), str(back), "traces", "spans",
                               "prompt_versions", "prompt_aliases", "prompt_alias_history"], check=False,
                              capture_output=True, text=True, env=FILE_ENV, timeout=120)
    assert compared.stdout.strip() == "same", compared.stderr


def test_conflicting_prompts_are_refused_before_the_lake_is_written(lake: Lake, store_path: Path):
    prompts.register("qa", "The team's own qa: {{question}}")  # on the lake, configured by the fixture
    before = logical(lake.url, lake.data_path)
    llmops_nb.configure(db=str(store_path))
    fill()
    with pytest.raises(CopyRefusedError, match="Nothing was copied: SRC and DST both hold prompts qa v1"):
        copy_store(store_path, lake.url)
    after = logical(lake.url, lake.data_path)
    assert_same(before, after)
    assert after["traces()"].empty


def test_an_empty_catalog_is_no_source_and_stays_empty(postgres: Cluster, tmp_path: Path):
    import psycopg

    dbname = postgres.create_database()
    url = f"ducklake:postgres:{postgres.conninfo(dbname)}"
    with pytest.raises(CopyRefusedError, match="holds no DuckLake catalog"):
        copy_store(url, tmp_path / "out.duckdb")
    with psycopg.connect(postgres.conninfo(dbname)) as con:
        assert con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
                           ).fetchone() == (0,)
    assert not (tmp_path / "out.duckdb").exists()


def test_a_password_never_shows(postgres: Cluster, store_path: Path, tmp_path: Path, capsys):
    dbname = postgres.create_database(owner=LAKE_USER)
    url = f"ducklake:postgres:dbname={dbname} host={postgres.socket_dir} user={LAKE_USER} password={PASSWORD}"
    make_trace("secretive")
    assert llmops_nb.flush()
    env = {**os.environ, "LLMOPS_NB_DATA_PATH": f"{tmp_path}/data/", "XDG_DATA_HOME": str(tmp_path / "xdg")}
    runs = [_cli("copy", str(store_path), url, env=env),  # works, and names the lake
            _cli("copy", url, url, env=env),  # the same store
            _cli("copy", url, str(tmp_path / "out.duckdb"), env=env),  # lake → file
            _cli("copy", str(store_path), url.replace(PASSWORD, "wrong-" + PASSWORD), env=env)]
    assert [run.returncode for run in runs] == [0, 1, 0, 1], [run.stderr for run in runs]
    assert "password=[redacted]" in runs[0].stdout and "same store" in runs[1].stderr
    assert "authentication failed" in runs[3].stderr
    report = copy_store(str(store_path), url, data_path=f"{tmp_path}/data/")
    shown = "".join(run.stdout + run.stderr for run in runs) + str(report) + repr(report)
    assert PASSWORD not in shown and PASSWORD not in "".join(capsys.readouterr())
    assert get_store().label == str(store_path)  # the copy left this process's store alone
