"""The store encrypted at rest (``store/_encryption.py``): real DuckDB files, real processes, no mocks.

Writing an encrypted file takes DuckDB's httpfs extension (OpenSSL). Where it cannot be loaded for
the running duckdb (duckdb 2.0.1 here: no ``duckdb-extension-httpfs`` for it, and nothing is
downloaded), the tests marked by the ``crypto`` fixture skip, and the others check what a user
without it sees. In the lake's environment (duckdb 1.5.5 with ``duckdb-extension-httpfs==1.5.5``)
every test runs.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from support import subprocess_env

import llmops_nb
from llmops_nb.store import _connection, _encryption
from llmops_nb.store._errors import StoreEncryptionError, StoreError, StoreKeyError
from llmops_nb.store._lake_extensions import LAKE_DUCKDB

KEY = "k3y-with-'quotes'); DROP TABLE spans; --"  # a key SQL would choke on, were it not quoted
OTHER_KEY = "another-key-entirely-42"


def _crypto_available() -> bool:
    con = duckdb.connect(":memory:", config=_connection.DUCKDB_CONFIG)
    try:
        _encryption.load_crypto(con)
    except StoreEncryptionError:
        return False
    finally:
        con.close()
    return True


CRYPTO = _crypto_available()


@pytest.fixture
def crypto() -> None:
    if not CRYPTO:
        if os.environ.get("CI") and duckdb.__version__ == LAKE_DUCKDB:  # the lake's environment must have it
            pytest.fail("duckdb-extension-httpfs is missing from the lake's environment (scripts/test_lake.sh)")
        pytest.skip(f"DuckDB's httpfs extension cannot be loaded for duckdb {duckdb.__version__}: encrypted writes "
                    "are tested in the lake's environment (scripts/test_lake.sh)")


@pytest.fixture(autouse=True)
def _no_key(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test starts with no key set, and leaves none behind (nor a store attached with one)."""
    from llmops_nb._config import settings

    monkeypatch.delenv(_encryption.KEY_VARIABLE, raising=False)
    monkeypatch.delenv(_encryption.KEY_FILE_VARIABLE, raising=False)
    yield
    llmops_nb.flush(timeout=5)
    settings.db_key_file = None
    _connection.forget_stores()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _header_says_encrypted(path: Path) -> bool:
    return _encryption.is_encrypted(path.read_bytes()[:_encryption.HEADER_BYTES])


def _encrypted_database(path: Path, key: str) -> None:
    """A small encrypted DuckDB file, made without llmops_nb. Without httpfs, DuckDB's test-only unsafe
    crypto makes it: only its nonces are weak, and these files hold nothing."""
    con = duckdb.connect(":memory:", config=_connection.DUCKDB_CONFIG)
    try:
        if CRYPTO:
            _encryption.load_crypto(con)
        else:
            con.execute("SET force_mbedtls_unsafe = true")
        con.execute(f"ATTACH '{path}' AS x (ENCRYPTION_KEY '{key.replace(chr(39), chr(39) * 2)}')")
        con.execute("CREATE TABLE x.t AS SELECT 42 AS answer")
        con.execute("DETACH x")
    finally:
        con.close()


def _trace(name: str, secret_marker: str = "") -> None:
    with llmops_nb.span(name, kind="AGENT") as root:
        root.set_inputs({"question": f"what is in the store? {secret_marker}"})


def _names() -> set[str]:
    return set(llmops_nb.traces(limit=None)["name"])


# --- the key: where it comes from, and what is refused ------------------------------------------


def test_the_key_comes_from_a_key_file_first_then_the_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    assert _encryption.key_source() is None and _encryption.configured_key() is None
    monkeypatch.setenv("LLMOPS_NB_DB_KEY", "  from-the-variable  ")
    assert _encryption.configured_key() == "from-the-variable"  # surrounding whitespace dropped
    assert _encryption.key_source() == "$LLMOPS_NB_DB_KEY"
    key_file = tmp_path / "key"
    key_file.write_text("from-the-configured-file\n")
    llmops_nb.configure(db_key_file=str(key_file))
    assert _encryption.configured_key() == "from-the-configured-file"
    assert str(key_file) in str(_encryption.key_source())
    llmops_nb.configure(db_key_file=None)
    monkeypatch.setenv("LLMOPS_NB_DB_KEY_FILE", str(key_file))
    with pytest.raises(StoreKeyError, match="Both \\$LLMOPS_NB_DB_KEY and \\$LLMOPS_NB_DB_KEY_FILE are set") as both:
        _encryption.configured_key()
    assert "from-the" not in str(both.value)
    monkeypatch.delenv("LLMOPS_NB_DB_KEY")
    assert _encryption.configured_key() == "from-the-configured-file"


def test_an_unusable_key_is_refused_without_showing_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("LLMOPS_NB_DB_KEY", "short")
    with pytest.raises(StoreKeyError, match="at least 8 characters") as short:
        _encryption.configured_key()
    assert "short" not in str(short.value).replace("too short", "")
    monkeypatch.delenv("LLMOPS_NB_DB_KEY")
    missing = tmp_path / "no-such-key"
    monkeypatch.setenv("LLMOPS_NB_DB_KEY_FILE", str(missing))
    with pytest.raises(StoreKeyError, match=f"cannot be read from the key file {missing}"):
        _encryption.configured_key()
    empty = tmp_path / "empty-key"
    empty.write_text("\n")
    monkeypatch.setenv("LLMOPS_NB_DB_KEY_FILE", str(empty))
    with pytest.raises(StoreKeyError, match="is empty"):
        _encryption.configured_key()


def test_the_variable_is_a_secret_to_the_redactor(monkeypatch: pytest.MonkeyPatch):
    from llmops_nb._redact import is_secret_name, redact_text

    assert is_secret_name("LLMOPS_NB_DB_KEY") and not is_secret_name("LLMOPS_NB_DB_KEY_FILE")
    monkeypatch.setenv("LLMOPS_NB_DB_KEY", KEY)
    assert KEY not in redact_text(f"the key is {KEY} here")


def test_an_encrypted_file_without_a_key_is_refused_and_left_unchanged(store_path: Path):
    _encrypted_database(store_path, KEY)
    before = _digest(store_path)
    with pytest.raises(StoreKeyError, match="is encrypted and no key is set: set \\$LLMOPS_NB_DB_KEY") as refused:
        llmops_nb.sql("SELECT 1")
    assert "LLMOPS_NB_DB_KEY_FILE" in str(refused.value) and "configure(db=" in str(refused.value)
    assert _digest(store_path) == before


def test_a_plain_store_is_not_written_in_the_clear_once_a_key_is_set(store_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch):
    _trace("plain")
    assert llmops_nb.flush(timeout=30)
    _connection.forget_stores()
    before = _digest(store_path)
    monkeypatch.setenv("LLMOPS_NB_DB_KEY", KEY)
    with pytest.raises(StoreKeyError, match="is not encrypted, but a key is set") as refused:
        llmops_nb.traces()
    assert f"python -m llmops_nb store copy {store_path} NEW.duckdb" in str(refused.value)
    assert KEY not in str(refused.value)
    assert _digest(store_path) == before


def test_spans_wait_in_memory_while_the_key_is_missing(store_path: Path):
    _encrypted_database(store_path, KEY)
    before = llmops_nb.status()
    _trace("kept")
    assert not llmops_nb.flush(timeout=1)
    status = llmops_nb.status()
    assert status["spans_waiting"] == before["spans_waiting"] + 1  # kept and counted, not dropped
    assert status["dropped_spans"] == before["dropped_spans"]
    assert "LLMOPS_NB_DB_KEY" in str(status["store_problem"])
    assert KEY not in repr(status)
    _connection.forget_stores()
    store_path.unlink()  # the span waiting goes to a new file at teardown's flush, at once


def test_without_httpfs_a_key_is_refused_before_any_file_is_made(store_path: Path, monkeypatch: pytest.MonkeyPatch):
    if CRYPTO:
        pytest.skip("httpfs loads here: the refusal is for environments without it")
    new = store_path.with_name("new.duckdb")
    llmops_nb.configure(db=str(new))
    monkeypatch.setenv("LLMOPS_NB_DB_KEY", KEY)
    with pytest.raises(StoreEncryptionError, match="needs DuckDB's httpfs extension") as refused:
        llmops_nb.sql("SELECT 1")
    assert "never uses its unsafe mode" in str(refused.value) and KEY not in str(refused.value)
    assert not new.exists()


# --- encrypted stores at work (DuckDB's httpfs needed) -------------------------------------------


def test_traces_round_trip_through_an_encrypted_file(crypto: None, store_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("LLMOPS_NB_DB_KEY", KEY)
    _trace("secret-trace", "PLAINTEXT-MARKER")
    assert llmops_nb.flush(timeout=30), llmops_nb.status()
    assert _names() == {"secret-trace"}
    _connection.forget_stores()  # detached: the file (and any WAL) is what stays on disk
    assert _header_says_encrypted(store_path)
    for leftover in [store_path, *store_path.parent.glob(f"{store_path.name}.wal*")]:
        assert b"PLAINTEXT-MARKER" not in leftover.read_bytes() and b"secret-trace" not in leftover.read_bytes()
    with pytest.raises(duckdb.Error, match="without a key"):  # plain DuckDB cannot read it either
        duckdb.connect(str(store_path)).close()
    assert _names() == {"secret-trace"}  # reopened with the key
    assert llmops_nb.sql("SELECT count(*) AS n FROM duckdb_tables() WHERE table_name = 'spans'")["n"][0] == 1
    for shown in ("SELECT * FROM duckdb_databases()", "SELECT * FROM duckdb_settings()"):  # queryable, keyless
        assert KEY not in llmops_nb.sql(shown).to_csv()
    assert KEY not in repr(llmops_nb.status()) and KEY not in repr(_connection.get_store().__dict__)


def test_a_wrong_key_is_refused_the_file_unchanged_and_spans_kept(crypto: None, store_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("LLMOPS_NB_DB_KEY", KEY)
    _trace("first")
    assert llmops_nb.flush(timeout=30)
    _connection.forget_stores()
    before = _digest(store_path)
    monkeypatch.setenv("LLMOPS_NB_DB_KEY", OTHER_KEY)
    with pytest.raises(StoreKeyError, match="encrypted with another key than the one set") as wrong:
        llmops_nb.traces()
    assert OTHER_KEY not in str(wrong.value) and KEY not in str(wrong.value)
    _trace("second")
    assert not llmops_nb.flush(timeout=1)
    assert llmops_nb.status()["spans_waiting"] == 1
    assert _digest(store_path) == before
    monkeypatch.setenv("LLMOPS_NB_DB_KEY", KEY)  # the right key again: what waited is written
    assert llmops_nb.flush(timeout=30), llmops_nb.status()
    assert _names() == {"first", "second"}


def test_a_key_file_opens_the_store_and_prompts_and_evals_use_it(crypto: None, store_path: Path, tmp_path: Path):
    key_file = tmp_path / "store.key"
    key_file.write_text(KEY + "\n")
    key_file.chmod(0o600)
    llmops_nb.configure(db_key_file=str(key_file))
    llmops_nb.prompts.register("greeting", "Hello {{name}}")
    assert llmops_nb.prompts.load("greeting").template == "Hello {{name}}"
    from llmops_nb.evals import scorers

    df = llmops_nb.evaluate([{"inputs": {"x": 1}, "expectations": {"expected_response": 1}}], predict_fn=lambda x: x,
                            scorers=[scorers.exact_match()], name="encrypted-run", progress=False)
    assert df.attrs["status"] == "FINISHED"
    assert llmops_nb.sql("SELECT count(*) AS n FROM eval_results")["n"][0] == 1
    _connection.forget_stores()
    assert _header_says_encrypted(store_path)
    llmops_nb.configure(db_key_file=None)
    with pytest.raises(StoreKeyError, match="no key is set"):
        llmops_nb.prompts.load("greeting")


WRITER = """
import sys, llmops_nb
llmops_nb.configure(flush_interval=0.05)
tag = sys.argv[1]
for i in range(100):
    with llmops_nb.span(f"{tag}-{i}", kind="AGENT") as root:
        root.set_inputs({"i": i})
        with llmops_nb.span("step", kind="TOOL"):
            pass
    if i % 25 == 0:
        assert llmops_nb.flush(timeout=120)
assert llmops_nb.flush(timeout=120), llmops_nb.status()
print(len(llmops_nb.traces(limit=None)), llmops_nb.status()["spans_written"], flush=True)
"""


@pytest.mark.slow
def test_two_kernels_share_one_encrypted_file(crypto: None, store_path: Path, tmp_path: Path):
    key_file = tmp_path / "shared.key"
    key_file.write_text(KEY)
    env = {**subprocess_env(store_path), "LLMOPS_NB_DB_KEY_FILE": str(key_file)}
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, tag], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=env) for tag in ("A", "B")]
    outs = [proc.communicate(timeout=240) for proc in procs]
    for proc, (_, err) in zip(procs, outs):
        assert proc.returncode == 0, err
        assert KEY not in err
    assert all(out.split()[1] == "200" for out, _ in outs), outs
    assert _header_says_encrypted(store_path)
    llmops_nb.configure(db_key_file=str(key_file))
    assert _names() == {f"{tag}-{i}" for tag in "AB" for i in range(100)}
    assert llmops_nb.sql("SELECT count(*) AS n FROM spans")["n"][0] == 400


def test_store_copy_encrypts_a_plain_store(crypto: None, store_path: Path, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch):
    llmops_nb.prompts.register("kept", "v1")
    _trace("migrated", "PLAINTEXT-MARKER")
    assert llmops_nb.flush(timeout=30)
    _connection.forget_stores()
    dst = tmp_path / "encrypted.duckdb"
    env = {**subprocess_env(store_path), "LLMOPS_NB_DB_KEY": KEY}
    done = subprocess.run([sys.executable, "-m", "llmops_nb", "store", "copy", str(store_path), str(dst)],
                          check=False, capture_output=True, text=True, env=env, timeout=240)
    assert done.returncode == 0, done.stderr
    assert "traces: 1 copied" in done.stdout and KEY not in done.stdout + done.stderr
    assert not _header_says_encrypted(store_path) and _header_says_encrypted(dst)
    assert b"PLAINTEXT-MARKER" not in dst.read_bytes()
    monkeypatch.setenv("LLMOPS_NB_DB_KEY", KEY)
    llmops_nb.configure(db=str(dst))
    assert _names() == {"migrated"}
    assert llmops_nb.prompts.load("kept").template == "v1"
    exported = tmp_path / "export"
    done = subprocess.run([sys.executable, "-m", "llmops_nb", "store", "export", str(exported), "--db", str(dst)],
                          check=False, capture_output=True, text=True, env=env, timeout=240)
    assert done.returncode == 0, done.stderr
    assert any(exported.rglob("*.parquet"))


def test_a_lake_refuses_a_key(lake: object, monkeypatch: pytest.MonkeyPatch):
    from llmops_nb._config import settings
    from llmops_nb.store._lake import LakeStore

    monkeypatch.setenv("LLMOPS_NB_DB_KEY", KEY)
    store = LakeStore(str(settings.lake_url()), settings.lake_data_path(), settings.db_path())
    try:
        with pytest.raises(StoreKeyError, match="is a DuckLake store") as refused, store.connect():
            pass
        assert isinstance(refused.value, StoreError) and KEY not in str(refused.value)
    finally:
        store.close()
