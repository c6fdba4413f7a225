"""Two processes registering versions of one prompt, and moving one alias, at the same time."""

from __future__ import annotations

import itertools
import subprocess
import sys

import duckdb
import pytest
from support import subprocess_env

WRITER = """
import pathlib, sys, time
import duckdb, pandas  # imported before the barrier, so neither process starts late
from llmops_nb import prompts
tag, count, barrier = sys.argv[1], int(sys.argv[2]), pathlib.Path(sys.argv[3])
(barrier / tag).touch()
while len(list(barrier.iterdir())) < 2:  # both begin together, whatever their import times
    time.sleep(0.005)
for i in range(count):
    version = prompts.register("shared", f"{tag} {i}: {{{{question}}}}", commit_message=f"{tag}-{i}", author=tag)
    prompts.set_alias("shared", "production", version.version, author=tag)
    if i % 10 == 9:
        time.sleep(0.3)  # idle past the store's linger time: the file is released and the other process gets in
print("done", tag, flush=True)
"""


@pytest.mark.slow
def test_two_processes_get_distinct_gap_free_versions_and_lose_nothing(store_path, tmp_path):
    from llmops_nb import prompts

    prompts.register("shared", "seed: {{question}}")  # the file exists and is migrated before both start
    env = subprocess_env(store_path)
    count, barrier = 40, tmp_path / "barrier"
    barrier.mkdir()
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, tag, str(count), str(barrier)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env) for tag in ("A", "B")]
    outs = [proc.communicate(timeout=240) for proc in procs]
    for proc, (out, err) in zip(procs, outs):
        assert proc.returncode == 0, err
        assert out.startswith("done"), out
    from llmops_nb.store._connection import close_all

    close_all()
    con = duckdb.connect(str(store_path), read_only=True)
    try:
        rows = con.execute("SELECT version, commit_message FROM prompt_versions WHERE name = 'shared' "
                           "ORDER BY version").fetchall()
        history = con.execute("SELECT from_version, to_version, author FROM prompt_alias_history "
                              "WHERE name = 'shared' ORDER BY seq").fetchall()
        alias = con.execute("SELECT version FROM prompt_aliases WHERE name = 'shared'").fetchall()
    finally:
        con.close()
    versions = [version for version, _ in rows]
    assert versions == list(range(1, 2 * count + 2))  # distinct and gap-free
    messages = {message for _, message in rows[1:]}
    assert messages == {f"{tag}-{i}" for tag in "AB" for i in range(count)}  # nothing lost
    # both really ran at once: their versions interleave
    order = [message[0] for _, message in rows[1:]]
    assert sum(1 for x, y in itertools.pairwise(order) if x != y) >= 2, order
    # alias moves are atomic: each starts where the one before ended, and the alias is the last one's target
    assert len(history) == 2 * count
    assert all(history[i][0] == history[i - 1][1] for i in range(1, len(history)))
    assert alias == [(history[-1][1],)]
