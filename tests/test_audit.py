"""The audit trail: governance events recorded with actor and time, hash-chained; ``verify_audit()`` finds
an edited, deleted, replaced or forked row. Runs on the file store and, in scripts/test_lake.sh, on a lake
(tests that edit the DuckDB file with plain ``duckdb`` are file-only; test_lake_audit.py tampers on a lake)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import nbformat
import pytest
from support import make_trace, subprocess_env

import llmops_nb
from llmops_nb import prompts
from llmops_nb._export import export_html
from llmops_nb.otel._export import export_otlp
from llmops_nb.store._audit import GENESIS, AuditCheck, audit, record, row_hash, verify_audit
from llmops_nb.store._connection import get_store
from llmops_nb.store._parquet_export import export_parquet


def actions() -> list[str]:
    return audit(limit=None).sort_values("seq").action.tolist()


def test_prompt_versions_and_alias_moves_are_recorded_with_actor_and_time():
    prompts.register("qa", "Answer: {{q}}", author="ana")
    prompts.register("qa", "Answer: {{q}}", author="ana")  # the same content: no new version, no event
    prompts.register("qa", "Answer briefly: {{q}}", author="ben")
    prompts.set_alias("qa", "production", 1, author="ana")
    prompts.set_alias("qa", "production", 2, author="ben")
    prompts.set_alias("qa", "production", 2, author="ben")  # already there: nothing moved
    prompts.rollback("qa", "production", author="cy")
    prompts.delete_alias("qa", "production", author="cy")
    trail = audit().sort_values("seq")
    assert trail.seq.tolist() == list(range(1, 7))
    assert trail.action.tolist() == ["prompt.version_created", "prompt.version_created", "prompt.alias_set",
                                     "prompt.alias_moved", "prompt.alias_moved", "prompt.alias_deleted"]
    assert trail.actor.tolist() == ["ana", "ben", "ana", "ben", "cy", "cy"]
    assert trail.subject.tolist()[:3] == ["prompts:/qa/1", "prompts:/qa/2", "prompts:/qa@production"]
    moved = trail.details.tolist()[4]
    assert moved == {"name": "qa", "alias": "production", "from_version": 2, "to_version": 1}
    assert trail.logged_at.notna().all() and trail.logged_at.is_monotonic_increasing
    assert trail.prev_hash.tolist()[0] == GENESIS and trail.prev_hash.tolist()[1:] == trail.hash.tolist()[:-1]
    check = verify_audit()
    assert check.ok and bool(check) and check.rows == 6 and check.head == (6, trail.hash.tolist()[-1])
    assert str(check).startswith("audit trail ok: 6 rows")


def test_the_actor_follows_the_author_setting(monkeypatch):
    monkeypatch.setenv("LLMOPS_NB_AUTHOR", "from-env")
    record("export.parquet", "/tmp/x", {"rows": {}})
    llmops_nb.configure(author="configured")
    try:
        record("export.parquet", "/tmp/y", {"rows": {}})
    finally:
        llmops_nb.configure(author=None)
    assert audit().sort_values("seq").actor.tolist() == ["from-env", "configured"]


def test_filters_since_action_glob_and_limit():
    prompts.register("a", "x {{y}}", author="ana")
    record("export.html", "/tmp/a.html", {})
    prompts.set_alias("a", "prod", 1, author="ana")
    assert audit(action="prompt.*").action.tolist() == ["prompt.alias_set", "prompt.version_created"]  # newest first
    assert audit(action="export.html").subject.tolist() == ["/tmp/a.html"]
    assert audit(limit=1).seq.tolist() == [3]
    assert len(audit(since="2000-01-01")) == 3 and audit(since="2999-01-01").empty
    with pytest.raises(ValueError, match="limit"):
        audit(limit=-1)
    with pytest.raises(ValueError, match=r"area\.event"):
        record("nodot")


def test_secrets_never_reach_the_details():
    record("export.otlp", "https://collector", {"headers": {"Authorization": "Bearer sk-abcdefghijklmnop1234"},
                                                "api_key": "sk-proj-abcdefghijklmnopqrstuvwx"})
    row = llmops_nb.sql("SELECT details FROM audit_log").details[0]
    assert "sk-" not in row and "[redacted]" in row
    assert verify_audit().ok


def test_exports_are_recorded(tmp_path: Path):
    make_trace("t1")
    assert llmops_nb.flush()
    counts = export_parquet(tmp_path / "out")
    notebook = tmp_path / "nb.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("hi")]), notebook)
    html = export_html(notebook)
    with _collector() as port:
        sent = export_otlp(endpoint=f"http://user:hunter2pass@127.0.0.1:{port}/v1/traces")
    trail = audit().sort_values("seq")
    assert trail.action.tolist() == ["export.parquet", "export.html", "export.otlp"]
    parquet, page, otlp = trail.details.tolist()
    assert parquet["rows"] == counts and parquet["partition_by"] == ["date"]
    assert trail.subject.tolist()[0] == str(tmp_path / "out") and trail.subject.tolist()[1] == str(html.absolute())
    assert page == {"notebook": str(notebook.absolute())}
    assert otlp == {"traces": 1, "spans": sent["spans"], "requests": 1}
    assert "hunter2pass" not in trail.subject.tolist()[2]  # the URL's password is redacted
    assert verify_audit().ok


def test_a_pii_policy_change_is_recorded():
    llmops_nb.configure(pii="mask")
    try:
        assert audit().action.tolist() == ["pii.policy_changed"]
        assert audit().details[0] == {"policy": "mask"}
    finally:
        llmops_nb.configure(pii=None)
    assert audit().details.tolist()[0] == {"policy": None}


class _Sink(BaseHTTPRequestHandler):
    def do_POST(self):  # the name http.server dispatches to
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


class _collector:
    """A real OTLP/HTTP endpoint on localhost that accepts everything."""

    def __enter__(self) -> int:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return int(self.server.server_address[1])

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


# --- tampering with the DuckDB file itself ---------------------------------------------------------

def _three_events() -> None:
    prompts.register("qa", "one {{q}}", author="ana")
    prompts.register("qa", "two {{q}}", author="ana")
    prompts.set_alias("qa", "production", 2, author="ana")
    assert verify_audit().ok


def _edit(path: Path, statement: str, params: list[object] | None = None) -> None:
    import duckdb

    get_store().close()  # the file is edited by another program now: ours lets go of it first
    con = duckdb.connect(str(path))
    try:
        con.execute(statement, params)
    finally:
        con.close()


@pytest.mark.file_store
def test_an_edited_row_fails_verification_naming_it(store_path: Path):
    _three_events()
    _edit(store_path, "UPDATE audit_log SET actor = 'mallory' WHERE seq = 2")
    check = verify_audit()
    assert not check.ok and not check
    assert check.seq == 2 and "do not match its hash" in check.reason
    assert str(check).startswith("audit trail BROKEN at seq 2:")


@pytest.mark.file_store
def test_an_edit_with_its_hash_recomputed_breaks_the_next_link(store_path: Path):
    _three_events()
    row = llmops_nb.sql("SELECT * FROM audit_log WHERE seq = 2").iloc[0]
    forged = row_hash((2, row.logged_at.to_pydatetime(), "mallory", row.action, row.subject, row.details,
                       row.prev_hash))
    _edit(store_path, "UPDATE audit_log SET actor = 'mallory', hash = ? WHERE seq = 2", [forged])
    check = verify_audit()
    assert check.seq == 3 and "prev_hash is not row 2's hash" in check.reason


@pytest.mark.file_store
def test_a_deleted_row_is_found(store_path: Path):
    _three_events()
    _edit(store_path, "DELETE FROM audit_log WHERE seq = 2")
    check = verify_audit()
    assert check.seq == 2 and "row 2 is missing (deleted)" in check.reason and check.rows == 1


@pytest.mark.file_store
def test_rows_removed_from_the_end_are_found_against_an_anchor(store_path: Path):
    _three_events()
    anchor = verify_audit()
    _edit(store_path, "DELETE FROM audit_log WHERE seq = 3")
    assert verify_audit().ok  # a shorter chain is whole: only an anchor kept elsewhere shows the loss
    check = verify_audit(anchor=anchor)
    assert check.seq == 3 and "removed from its end" in check.reason
    assert verify_audit(anchor=(2, llmops_nb.sql("SELECT hash FROM audit_log WHERE seq = 2").hash[0])).ok
    with pytest.raises(TypeError, match="anchor"):
        verify_audit(anchor="nonsense")


@pytest.mark.file_store
def test_a_replaced_first_row_and_a_fork_are_found(store_path: Path):
    _three_events()
    _edit(store_path, "ALTER TABLE audit_log RENAME TO old_log")  # to drop the key the file store keeps on seq
    _edit(store_path, "CREATE TABLE audit_log AS SELECT * FROM old_log")
    _edit(store_path, "INSERT INTO audit_log SELECT * REPLACE (hash || '' AS hash) FROM audit_log WHERE seq = 3")
    assert "two rows have seq 3" in verify_audit().reason
    _edit(store_path, "DELETE FROM audit_log")
    _edit(store_path, "INSERT INTO audit_log SELECT * FROM old_log")
    _edit(store_path, "UPDATE audit_log SET prev_hash = ? WHERE seq = 1", ["f" * 64])
    assert verify_audit().seq == 1  # the changed prev_hash is part of the row's hash


def test_an_empty_trail_verifies():
    assert verify_audit() == AuditCheck(True, 0, None)


WRITER = textwrap.dedent("""
    import sys
    from llmops_nb.store._audit import record
    for i in range(int(sys.argv[2])):
        record("export.parquet", f"{sys.argv[1]}-{i}", {"i": i})
""")


@pytest.mark.slow
@pytest.mark.file_store
def test_processes_appending_at_once_keep_one_chain(store_path: Path):
    """Several kernels share the file: each append reads the last row and writes the next in one turn."""
    get_store().close()
    env = subprocess_env(store_path)
    count = 15
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, tag, str(count)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for tag in "ABC"]
    for proc in procs:
        _, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err[-3000:]
    check = verify_audit()
    assert check.ok and check.rows == 3 * count
    assert sorted(audit(limit=None).subject) == sorted(f"{t}-{i}" for t in "ABC" for i in range(count))
