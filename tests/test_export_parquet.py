"""``export_parquet()`` and ``python -m llmops_nb store export``: a real store, real Parquet, read back by
pyarrow and DuckDB with Hive partitioning."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow.dataset as ds
import pytest

import llmops_nb
from llmops_nb import prompts
from llmops_nb.evals import evaluate, log_feedback, scorers
from llmops_nb.store import _parquet_export, parquet_doc
from llmops_nb.store._connection import get_store
from llmops_nb.tracing._api import start_span
from tests.support import ROOT

UTC = dt.timezone.utc
DAY1 = dt.datetime(2026, 11, 30, 23, 59, 58, tzinfo=UTC)  # a trace that crosses midnight UTC
DAY2 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
HOSTILE = "it's \"quoted\"\nline two '; DROP TABLE spans; --"
PARTITIONED = [t.name for t in _parquet_export.TABLES if t.time is not None]


def ns(when: dt.datetime) -> int:
    return int(when.timestamp()) * 10**9 + when.microsecond * 1000


def traced(name: str, start: dt.datetime, children: list[tuple[str, dt.datetime]]) -> str:
    """A trace whose spans start at the given times (each lasting a second)."""
    root = start_span(name, "AGENT", parent=None)
    root.start_ns = ns(start)
    for child_name, at in children:
        child = start_span(child_name, "TOOL", parent=root)
        child.start_ns = ns(at)
        child.set_inputs({"q": child_name})
        child.end(end_ns=ns(at) + 10**9)
    root.end(end_ns=ns(start) + 5 * 10**9)
    return root.trace_id


@pytest.fixture
def filled() -> dict[str, str]:
    """Traces over two days, an evaluation with feedback, prompts with an alias, a dataset."""
    first = traced("agent", DAY1, [("search", DAY1), ("answer", DAY1 + dt.timedelta(seconds=3))])
    second = traced("chat", DAY2, [(HOSTILE, DAY2)])
    llmops_nb.flush()
    run = evaluate([{"inputs": {"q": "capital of France?"}, "outputs": "Paris"}], scorers=[scorers.length()],
                   progress=False)
    log_feedback(first, value=False, comment="wrong tool", author="ana")
    prompts.register("qa", "Answer: {{question}}", commit_message="v1")
    prompts.register("qa", "Answer briefly: {{question}}", commit_message="v2")
    prompts.set_alias("qa", "production", 2)
    llmops_nb.datasets.create("capitals", [{"inputs": {"q": "France"}, "expectations": {"answer": "Paris"}}])
    llmops_nb.flush()
    return {"first": first, "second": second, "run": run.attrs["run_id"]}


def stored(table: str) -> list[tuple]:
    with get_store().connect() as con:
        return sorted(con.execute(f"SELECT * FROM {table}").fetchall(), key=repr)


def read_back(folder: Path) -> list[tuple]:
    """Rows of an exported table as DuckDB reads them with Hive partitioning, the partition column left out."""
    con = duckdb.connect()
    pattern = str(folder / "**" / "*.parquet").replace("'", "''")
    relation = f"read_parquet('{pattern}', hive_partitioning = true)"
    columns = {row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()}
    extra = [c for c in ("date", "year", "month") if c in columns]
    exclude = f" EXCLUDE ({', '.join(extra)})" if extra else ""
    return sorted(con.execute(f"SELECT *{exclude} FROM {relation}").fetchall(), key=repr)


def test_every_table_round_trips_with_date_partitions(filled, tmp_path):
    counts = llmops_nb.export_parquet(tmp_path / "out")
    out = tmp_path / "out"
    assert list(counts) == [t.name for t in _parquet_export.TABLES]
    for table in counts:
        rows = stored(table)
        assert read_back(out / table) == rows, table
        assert counts[table] == len(rows), table
    assert counts["spans"] >= 5 and counts["traces"] >= 3  # ours and the evaluation's
    assert counts["assessments"] >= 2 and counts["prompt_versions"] == 2 and counts["prompt_aliases"] == 1
    assert counts["eval_dataset_rows"] == 1 and counts["eval_results"] == 1
    # spans are placed by their own start: the first trace's children straddle midnight UTC
    spans = ds.dataset(out / "spans", format="parquet", partitioning="hive").to_table().to_pylist()
    assert len(spans) == counts["spans"]
    for span in spans:
        assert span["date"] == dt.datetime.fromtimestamp(span["start_ns"] / 1e9, UTC).date().isoformat()
    dates = {s["name"]: s["date"] for s in spans}
    assert (dates["agent"], dates["search"], dates["answer"], dates[HOSTILE]) == (
        "2026-11-30", "2026-11-30", "2026-12-01", "2026-12-01")
    assert {p.name for p in (out / "spans").iterdir()} >= {"date=2026-11-30", "date=2026-12-01"}
    # the results of a run sit beside the run, placed by the run's start
    runs = ds.dataset(out / "eval_runs", partitioning="hive").to_table().to_pylist()
    results = ds.dataset(out / "eval_results", partitioning="hive").to_table().to_pylist()
    assert [r["date"] for r in results] == [r["date"] for r in runs if r["run_id"] == filled["run"]]
    assert [p.name for p in (out / "prompt_aliases").iterdir()] == ["part-00000.parquet"]  # current state, whole
    manifest = json.loads((out / _parquet_export.MANIFEST).read_text())
    assert manifest["rows"] == counts and manifest["partition_by"] == ["date"] and manifest["since"] is None
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # the staging folder is gone
    # the columns the document marks JSON hold JSON text
    for table, columns in parquet_doc.JSON_COLUMNS.items():
        for row in ds.dataset(out / table, partitioning="hive").to_table(columns=sorted(columns)).to_pylist():
            for value in row.values():
                if value is not None:
                    json.loads(value)  # raises if it is not JSON


def test_feedback_json_and_hostile_text_survive(filled, tmp_path):
    bad_dir = tmp_path / "it's a \"dir\"\n; DROP TABLE spans; --"
    llmops_nb.export_parquet(bad_dir)
    spans = ds.dataset(bad_dir / "spans", format="parquet", partitioning="hive").to_table().to_pylist()
    hostile = [s for s in spans if s["name"] == HOSTILE]
    assert len(hostile) == 1 and json.loads(hostile[0]["inputs"]) == {"q": HOSTILE}
    assert len(stored("spans")) == len(spans)  # nothing was dropped, in the store or the export
    feedback = [a for a in ds.dataset(bad_dir / "assessments", partitioning="hive").to_table().to_pylist()
                if a["source_type"] == "HUMAN"]
    assert [(f["trace_id"], json.loads(f["value"]), f["rationale"], f["source_id"]) for f in feedback] == [
        (filled["first"], False, "wrong tool", "ana")]


def test_since_and_until_select_rows_by_their_time(filled, tmp_path):
    day2 = "2026-12-01T00:00Z"
    counts = llmops_nb.export_parquet(tmp_path / "day2", since=day2, until=dt.datetime(2026, 12, 2, tzinfo=UTC))
    spans = ds.dataset(tmp_path / "day2" / "spans", partitioning="hive").to_table().to_pylist()
    assert sorted(s["name"] for s in spans) == sorted(["answer", "chat", HOSTILE])
    assert {s["date"] for s in spans} == {"2026-12-01"}
    assert [t["trace_id"] for t in ds.dataset(tmp_path / "day2" / "traces", partitioning="hive").to_table()
            .to_pylist()] == [filled["second"]]
    assert counts["prompt_aliases"] == 1  # the aliases' current state, whatever the range
    assert counts["eval_runs"] == counts["eval_results"] == counts["prompt_versions"] == 0  # written today
    # an empty table is one file with no rows: readers still get its columns
    empty = ds.dataset(tmp_path / "day2" / "eval_runs", partitioning="hive").to_table()
    assert empty.num_rows == 0 and "run_id" in empty.column_names
    # an offset is honoured; Z means UTC (a time without one is local time, as traces() reads it)
    before = llmops_nb.export_parquet(tmp_path / "before", until="2026-12-01T01:00:00+01:00")
    assert before["spans"] == 2 and before["traces"] == 1
    assert llmops_nb.export_parquet(tmp_path / "z", since="2026-11-30T23:59:59Z", until="2026-12-01T00:00Z")[
        "spans"] == 0
    manifest = json.loads((tmp_path / "day2" / _parquet_export.MANIFEST).read_text())
    assert (manifest["since"], manifest["until"]) == ("2026-12-01T00:00:00+00:00", "2026-12-02T00:00:00+00:00")
    with pytest.raises(ValueError, match="not an ISO date"):
        llmops_nb.export_parquet(tmp_path / "x", since="yesterday")
    with pytest.raises(ValueError, match="not before"):
        llmops_nb.export_parquet(tmp_path / "x", since=day2, until=day2)
    assert not (tmp_path / "x").exists()


def test_partition_by_choices_and_mistakes(filled, tmp_path):
    llmops_nb.export_parquet(tmp_path / "flat", partition_by=())
    assert [p.name for p in (tmp_path / "flat" / "spans").iterdir()] == ["part-00000.parquet"]
    assert read_back(tmp_path / "flat" / "spans") == stored("spans")
    llmops_nb.export_parquet(tmp_path / "ym", partition_by=("year", "month"))
    assert sorted({p.relative_to(tmp_path / "ym" / "spans").parent.as_posix()
                   for p in (tmp_path / "ym" / "spans").rglob("*.parquet")}) == ["year=2026/month=11",
                                                                                 "year=2026/month=12"]
    assert read_back(tmp_path / "ym" / "spans") == stored("spans")
    with pytest.raises(ValueError, match=r"'dates' is not a partition column; use date, year, month, day, hour "
                                         r".*Did you mean 'date'\?"):
        llmops_nb.export_parquet(tmp_path / "bad", partition_by=("dates",))
    with pytest.raises(ValueError, match="twice"):
        llmops_nb.export_parquet(tmp_path / "bad", partition_by=["date", "date"])
    assert not (tmp_path / "bad").exists()


def test_a_folder_that_is_not_empty_is_refused_unless_overwrite(filled, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match=r"is not empty \(1 entries, e.g. 'notes.txt'\).*overwrite=True"):
        llmops_nb.export_parquet(out)
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    first = llmops_nb.export_parquet(out, overwrite=True)
    again = llmops_nb.export_parquet(out, overwrite=True, partition_by=())
    assert again == first and read_back(out / "spans") == stored("spans")  # replaced, not added to
    assert not (out / "spans" / "date=2026-12-01").exists() and (out / "notes.txt").read_text() == "mine"
    (tmp_path / "file").write_text("x")
    with pytest.raises(FileExistsError, match="is a file"):
        llmops_nb.export_parquet(tmp_path / "file")


def test_a_big_table_is_written_in_steps_each_row_once(tmp_path, monkeypatch):
    monkeypatch.setattr(_parquet_export, "SLICE_ROWS", 40)
    monkeypatch.setattr(_parquet_export, "STEP_S", 0.0)  # every step closes the file: others get their turn
    start = ns(DAY1)
    with get_store().connect() as con:
        con.execute("INSERT INTO spans (trace_id, span_id, name, kind, start_ns, end_ns, status) "
                    "SELECT printf('%032x', i // 10), printf('%016x', i), 's' || i, 'TOOL', ? + i * 600 * 10**9, "
                    "? + i * 600 * 10**9 + 1, 'OK' FROM range(500) r(i)", [start, start])
        con.execute("INSERT INTO traces (trace_id, name, start_ns, span_count) "
                    "SELECT trace_id, 'root', min(start_ns), count(*) FROM spans GROUP BY trace_id")
        # a trace known only from its dropped spans has no start: Hive's NULL folder
        con.execute("INSERT INTO traces (trace_id, dropped_spans) VALUES (?, 3)", ["e" * 32])
    opens = get_store().opens
    counts = llmops_nb.export_parquet(tmp_path / "out")
    assert counts["spans"] == 500 and get_store().opens - opens >= 10
    files = list((tmp_path / "out" / "spans").rglob("*.parquet"))
    assert len(files) >= 12 and len({p.parent.name for p in files}) == 5  # 500 x 10 min: 3.5 days
    assert read_back(tmp_path / "out" / "spans") == stored("spans")
    traces = ds.dataset(tmp_path / "out" / "traces", partitioning="hive").to_table().to_pylist()
    assert [t["date"] for t in traces if t["trace_id"] == "e" * 32] == [None]
    assert (tmp_path / "out" / "traces" / "date=__HIVE_DEFAULT_PARTITION__").is_dir()
    ranged = llmops_nb.export_parquet(tmp_path / "ranged", since=DAY1 + dt.timedelta(hours=10),
                                      until=DAY1 + dt.timedelta(hours=30))
    assert ranged["spans"] == 20 * 6  # 10-minute steps over 20 hours
    assert ranged["traces"] == 12  # ten spans a trace; the one without a start is not in any range


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    get_store().close()  # the child opens the same file
    # the store is the one LLMOPS_NB_DB names (set for every test by conftest.py)
    return subprocess.run([sys.executable, "-m", "llmops_nb", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=120, check=False)


def test_cli_exports_refuses_and_reports_mistakes(filled, tmp_path, store_path):
    out = tmp_path / "cli out"
    done = run_cli("store", "export", str(out), "--since", "2026-11-30T00:00Z", "--until", "2026-12-02T00:00Z")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"Exported to {out} in ") and "spans 5, " in done.stdout
    assert read_back(out / "spans") == [r for r in stored("spans") if r[5] < ns(DAY2 + dt.timedelta(days=1))]
    refused = run_cli("store", "export", str(out))
    assert refused.returncode == 1 and "is not empty" in refused.stderr and "--overwrite" in refused.stderr
    replaced = run_cli("store", "export", str(out), "--overwrite", "--partition-by", "none")
    assert replaced.returncode == 0 and [p.name for p in (out / "spans").iterdir()] == ["part-00000.parquet"]
    bad = run_cli("store", "export", str(tmp_path / "x"), "--partition-by", "date,kind")
    assert bad.returncode == 2 and "'kind' is not a partition column; use date, year, month, day, hour" in bad.stderr
    bad = run_cli("store", "export", str(tmp_path / "x"), "--since", "last week")
    assert bad.returncode == 2 and "--since='last week' is not an ISO date" in bad.stderr
    assert not (tmp_path / "x").exists()
    assert run_cli("store").returncode == 2
    missing = run_cli("store", "export", str(tmp_path / "x"), "--db", str(tmp_path / "typo.duckdb"))
    assert missing.returncode == 1 and "no store at" in missing.stderr and not (tmp_path / "typo.duckdb").exists()
    other = tmp_path / "other.duckdb"
    shutil.copy(store_path, other)
    with get_store().connect() as con:
        con.execute("DELETE FROM prompt_aliases")  # this store changes; the copy named by --db does not
    with_db = run_cli("store", "export", str(tmp_path / "other"), "--db", str(other))
    assert with_db.returncode == 0 and "prompt_aliases 1, " in with_db.stdout


def test_the_other_commands_still_parse():
    from llmops_nb.__main__ import main

    with pytest.raises(SystemExit) as exit_info:
        main(["export", "--help"])
    assert exit_info.value.code == 0
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "x.ipynb"])  # --record or --replay is required
    assert exit_info.value.code == 2


def test_the_export_document_is_generated_and_covers_every_column():
    committed = (ROOT / "docs" / "parquet-export.md").read_text()
    assert committed == parquet_doc.render(), "run: python -m llmops_nb.store.parquet_doc > docs/parquet-export.md"
    for line in committed.splitlines():
        if line.startswith("| `") and line.count("|") == 5:
            assert line.rstrip(" |").split("|")[-1].strip(), f"a column without a meaning: {line}"
