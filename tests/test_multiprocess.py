"""Two kernels tracing into one file at once both succeed and lose nothing, while a third reads."""

from __future__ import annotations

import subprocess
import sys

import duckdb
import pytest
from support import subprocess_env

WRITER = """
import os, sys, time, llmops_nb
llmops_nb.configure(flush_interval=0.05)
tag, started = sys.argv[1], sys.argv[2]
deadline = time.monotonic() + 60
while not os.path.exists(started) and time.monotonic() < deadline:  # the reader is reading: go
    time.sleep(0.01)
for i in range(300):
    with llmops_nb.span(f"{tag}-{i}", kind="AGENT") as root:
        root.set_inputs({"writer": tag, "i": i})
        for j in range(9):
            with llmops_nb.span(f"step-{j}", kind="TOOL") as s:
                s.set_attribute("gen_ai.usage.input_tokens", 1)
    time.sleep(0.003)  # spread the writes over a few seconds, so the reader reads while they happen
    if i % 50 == 0:
        assert llmops_nb.flush(timeout=120)
assert llmops_nb.flush(timeout=120), llmops_nb.status()
print("written", llmops_nb.status()["spans_written"], flush=True)
"""

READER = """
import pathlib, sys, time, llmops_nb
started = pathlib.Path(sys.argv[1])
reads = errors = during = 0
deadline = time.monotonic() + 60
seen = 0
while time.monotonic() < deadline:
    try:
        seen = len(llmops_nb.traces(limit=None))
        llmops_nb.sql("SELECT count(*) FROM spans")
        reads += 1
        during += 0 < seen < 600
    except Exception as exc:
        errors += 1
        print("read error", exc, flush=True)
    started.touch()  # after the first read: the writers start now, so reads overlap their writes
    if seen >= 600:
        break
    time.sleep(0.02)
print("reads", reads, "errors", errors, "during", during, "seen", seen, flush=True)
"""


@pytest.mark.slow
def test_two_writers_and_a_reader_share_one_file(store_path):
    env = subprocess_env(store_path)
    started = str(store_path.with_name("reader-started"))
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, tag, started], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=env) for tag in ("A", "B")]
    reader = subprocess.Popen([sys.executable, "-c", READER, started], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env)
    outs = [proc.communicate(timeout=240) for proc in [*writers, reader]]
    for proc, (out, err) in zip([*writers, reader], outs):
        assert proc.returncode == 0, err
    assert all(out.strip() == "written 3000" for out, _ in outs[:2]), outs
    words = outs[2][0].split()
    errors, during, seen = int(words[3]), int(words[5]), int(words[7])
    assert errors == 0 and seen == 600, outs[2]
    assert during >= 1, f"the reader never read while the writers were writing: {outs[2]}"
    con = duckdb.connect(str(store_path), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM spans").fetchone()[0] == 6000
        rows = con.execute("SELECT count(*), min(span_count), max(span_count), sum(input_tokens) "
                           "FROM traces WHERE status = 'OK'").fetchone()
        assert rows == (600, 10, 10, 5400)
        names = {r[0] for r in con.execute("SELECT name FROM traces").fetchall()}
        assert names == {f"{w}-{i}" for w in "AB" for i in range(300)}
        assert con.execute("SELECT count(DISTINCT span_id) FROM spans").fetchone()[0] == 6000
    finally:
        con.close()
