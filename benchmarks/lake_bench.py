"""The team store (DuckLake, its catalog in PostgreSQL) against the file store, side by side in one run (issue 11).

    python -m benchmarks --only lake_bench            # ~10 minutes; writes docs/lake-benchmarks.md
    python -m benchmarks --only lake_bench --quick    # about a minute; prints only

Not in the default suite: it needs PostgreSQL (``apt-get install postgresql``) and the lake's
packages — duckdb 1.5.5, its DuckLake and PostgreSQL extension wheels, psycopg — in the overlay
that ``scripts/test_lake.sh`` installs (``.venv/lake-overlay``; ``$LAKE_OVERLAY`` names another).
Without them the section says it was skipped, and why. A throwaway cluster on a unix socket
(``tests/postgres.py``) is owned by a worker process, so it is stopped and removed however the
run ends (EOF from the driver, an error, Ctrl-C).

Each contender runs in its real environment: the file store on the main venv's DuckDB (2.x),
which is what a kernel tracing to a file uses, the lake on the overlay's 1.5.5. Each store lives
in processes of its own; rounds alternate the contenders, order rotated each round.

1. **Writes**: 1 and 4 writer processes trace flat out through ``@llmops_nb.trace`` (11-span
   traces, persist.py's "typical" shape), the recorder batching as in a kernel, then ``flush()``;
   spans/s = spans ÷ (last flush returned − first span began), every writer starting at one
   instant on a fresh store. The spans are counted in the store afterwards (lost, duplicated).
   Then where a writer's time goes: one ``write_records`` call (a commit) of 1k, 5k and 20k spans.
2. **Queries at 1M spans**: query.py's generated store (20,000 traces of 50 spans), written by
   ``write_records`` in 1,000 commits of 1,000 spans (a team's flushes, not one bulk load) three
   times: a file and two lakes, one of which then gets ``maintain()``. ``traces()`` first page and
   ``spans(trace_id)`` on the file (cold: the file reopened; warm) and on each lake (attached, as a
   kernel keeps it), the three stores taking turns in every round.
3. **maintain()** on the second lake, timed, with the time of each DuckLake step.
4. **Per kernel**: a fresh process's ``import llmops_nb`` and first ``traces()`` on each 1M store.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any, NamedTuple

from . import _lake_report as report
from ._harness import ROOT, Worker, WorkerError, base_env, rotated, run_python
from ._report import Context, Section, Target

OVERLAY = Path(os.environ.get("LAKE_OVERLAY") or ROOT / ".venv" / "lake-overlay").absolute()
DOC = ROOT / "docs" / "lake-benchmarks.md"
MODULE = "_lake_workers"
KINDS = ("file", "lake")
COMMIT_SIZES = [1_000, 5_000, 20_000]  # spans per write_records call, for the cost of one commit


class Sizes(NamedTuple):
    write_rounds: int
    spans_per_writer: int
    commit_rounds: int
    commits_per_size: int
    traces: int  # in the store queried (50 spans each)
    traces_per_commit: int
    query_rounds: int
    kernel_rounds: int


FULL = Sizes(5, 66_000, 3, 5, 20_000, 20, 11, 7)
QUICK = Sizes(1, 5_500, 1, 2, 2_000, 20, 3, 2)


def environments(workdir: Path) -> dict[str, dict[str, str]]:
    """Each contender's variables: the file store without the overlay, the lake with it first."""
    inherited = [entry for entry in os.environ.get("PYTHONPATH", "").split(os.pathsep)
                 if entry and Path(entry).absolute() != OVERLAY and Path(entry).absolute() != ROOT]
    common = {"XDG_DATA_HOME": str(workdir / "xdg")}  # the lake's side files: never the user's home
    return {"file": {**common, "PYTHONPATH": os.pathsep.join([str(ROOT), *inherited])},
            "lake": {**common, "PYTHONPATH": os.pathsep.join([str(ROOT), str(OVERLAY), *inherited])}}


def missing(workdir: Path, env: dict[str, str]) -> str | None:
    """Why the lake cannot be measured here (no overlay, wrong DuckDB, no PostgreSQL), or None."""
    if not OVERLAY.is_dir():
        return (f"no lake overlay at {OVERLAY} (duckdb 1.5.5 and its extension packages): bash scripts/test_lake.sh "
                "installs it, or set LAKE_OVERLAY")
    try:
        out = run_python("from tests.postgres import missing\nprint(missing() or '')", {**base_env(workdir), **env},
                         workdir, timeout=120)
    except WorkerError as exc:
        return f"the lake's environment does not start: {str(exc)[-500:]}"
    return out.strip() or None


def run(ctx: Context) -> Section:
    root = ctx.workdir / "lake_bench"  # everything of this benchmark: removed on Ctrl-C, kept with --keep
    root.mkdir(parents=True, exist_ok=True)
    try:
        return _run(ctx, root)
    except KeyboardInterrupt:
        shutil.rmtree(root, ignore_errors=True)
        with contextlib.suppress(OSError):
            ctx.workdir.rmdir()  # the run's folder, when nothing else is in it
        raise


def _run(ctx: Context, root: Path) -> Section:
    envs = environments(root)
    reason = missing(root, envs["lake"])
    if reason is not None:
        ctx.log(f"lake_bench: skipped: {reason}")
        return Section("Team store (DuckLake) vs file store: skipped", f"Skipped: {reason.rstrip('.')}.",
                       [Target("Team store benchmarks (lake_bench)", "runs", f"skipped: {reason}", None)],
                       {"skipped": reason})
    sizes = QUICK if ctx.quick else FULL
    sizes = sizes._replace(**{name: ctx.pick_rounds(getattr(sizes, name), getattr(sizes, name))
                              for name in ("write_rounds", "commit_rounds", "query_rounds", "kernel_rounds")})
    data = root / "stores"
    started_at, load_before = time.time(), os.getloadavg()
    results: dict[str, Any] = {"quick": ctx.quick, "started_at": started_at, "overlay": str(OVERLAY)}
    pg = Worker(MODULE, "postgres", root, env=envs["lake"])
    try:
        results["postgres"] = pg.call("info")
        results["writes"], results["commit_costs"] = _writes(ctx, root, pg, envs, data, sizes)
        results.update(_queries_and_kernels(ctx, root, pg, envs, data, sizes))
    finally:
        pg.close()  # stops and removes the cluster (the worker's exit does, whatever happened)
        shutil.rmtree(data, ignore_errors=True)  # the stores are big; the workers' logs stay with the run
    results.update(loads=(load_before[0], os.getloadavg()[0]), elapsed_s=time.time() - started_at)
    section = report.section(results)
    if not ctx.quick:
        DOC.write_text(report.document(results, section), encoding="utf-8")
        ctx.log(f"lake_bench: wrote {DOC.relative_to(ROOT)}")
    return section


# --- 1. writes ---------------------------------------------------------------------------------

def _writes(ctx: Context, root: Path, pg: Worker, envs: dict[str, dict[str, str]], data: Path,
            sizes: Sizes) -> tuple[dict[str, Any], dict[str, Any]]:
    writers: dict[str, list[Worker]] = {kind: [] for kind in KINDS}
    cases = [(kind, count) for count in (1, 4) for kind in KINDS]
    out: dict[str, Any] = {f"{kind}x{count}": [] for kind, count in cases}
    costs: dict[str, Any] = {kind: [] for kind in KINDS}
    try:
        for kind in KINDS:
            writers[kind] = [Worker(MODULE, f"{kind}_writer{i}", root, env=envs[kind]) for i in range(4)]
        for index in range(sizes.write_rounds):
            for kind, count in rotated(cases, index):
                done = _write_round(pg, writers[kind][:count], kind, data / f"writes-{index}-{kind}{count}",
                                    sizes.spans_per_writer)
                out[f"{kind}x{count}"].append(done)
                ctx.log(f"lake_bench: writes round {index + 1}/{sizes.write_rounds}, {kind} × {count}: "
                        f"{done['spans_per_s']:,.0f} spans/s, lost {done['lost']}, duplicated {done['duplicated']}")
        for index in range(sizes.commit_rounds):  # where a writer's time goes: the cost of one commit by size
            for kind in rotated(KINDS, index):
                folder = data / f"commits-{index}-{kind}"
                db, data_path, _ = _fresh_store(pg, kind, folder)
                costs[kind].append(writers[kind][0].call("commit_costs", timeout=1800, db=db, data_path=data_path,
                                                         sizes=rotated(COMMIT_SIZES, index),
                                                         commits=sizes.commits_per_size))
                writers[kind][0].call("release")
                shutil.rmtree(folder, ignore_errors=True)
            ctx.log(f"lake_bench: commit costs, round {index + 1}/{sizes.commit_rounds}: " + ", ".join(
                f"{kind} {', '.join(f'{n} spans {s * 1000:.0f} ms' for n, s in costs[kind][-1].items())}"
                for kind in KINDS))
    finally:
        for worker in writers["file"] + writers["lake"]:
            worker.close()
    return out, costs


def _fresh_store(pg: Worker, kind: str, folder: Path) -> tuple[str, str | None, str | None]:
    """A new empty store in ``folder``: a DuckDB file, or a lake (a new catalog database, data files there).
    Returns what ``configure(db=..., data_path=...)`` takes, and the lake's catalog database."""
    folder.mkdir(parents=True)
    if kind == "lake":
        made = pg.call("database")
        return made["url"], f"{folder}/", made["name"]
    return str(folder / "store.duckdb"), None, None


def _write_round(pg: Worker, workers: list[Worker], kind: str, folder: Path, per_writer: int) -> dict[str, Any]:
    db, data_path, _ = _fresh_store(pg, kind, folder)
    prepared = [worker.call("prepare", db=db, data_path=data_path) for worker in workers]
    before = workers[0].call("count")
    answers = together(workers, "write", timeout=1200, spans=per_writer, start_at=time.time() + 0.3)
    after = workers[0].call("count")
    for worker in workers:
        worker.call("release")
    shutil.rmtree(folder, ignore_errors=True)
    made = sum(answer["spans"] for answer in answers)
    window = max(a["ended_wall"] for a in answers) - min(a["began_wall"] for a in answers)
    return {"writers": len(workers), "made": made, "window_s": window, "spans_per_s": made / window,
            "lost": made - (after["spans"] - before["spans"]), "duplicated": after["spans"] - after["distinct"],
            "totals_match": after["span_count_total"] == after["spans"], "before": before, "after": after,
            "answers": answers, "duckdb": prepared[0]["duckdb"], "attach_s": [p["attach_s"] for p in prepared]}


def together(workers: list[Worker], op: str, timeout: float, **args: Any) -> list[dict[str, Any]]:
    """Send ``op`` to every worker first, then collect the answers: they run at the same time."""
    line = json.dumps({"op": op, "args": args}) + "\n"
    for worker in workers:
        assert worker.proc.stdin is not None
        worker.proc.stdin.write(line)
        worker.proc.stdin.flush()
    answers = []
    for worker in workers:
        answer = worker._read(timeout)
        if "error" in answer:
            raise WorkerError(worker._failure(f"{op} failed: {answer['error']}"))
        answers.append(answer)
    return answers


# --- 2.–4. queries at 1M spans, maintain(), per-kernel cost -------------------------------------

#: the stores queried: the file, a lake of many small commits, and an identical lake after maintain()
QUERIED = {"file": "file_query", "before": "lake_query", "after": "lake_query_maintained"}


def _queries_and_kernels(ctx: Context, root: Path, pg: Worker, envs: dict[str, dict[str, str]], data: Path,
                         sizes: Sizes) -> dict[str, Any]:
    traces, per_commit = sizes.traces, sizes.traces_per_commit
    stores: dict[str, tuple[str, str | None]] = {}
    catalogs: dict[str, str | None] = {}
    for key in QUERIED:
        db, data_path, catalogs[key] = _fresh_store(pg, "file" if key == "file" else "lake", data / f"query-{key}")
        stores[key] = (db, data_path)
    # a lake's "before" state is many small commits: no background compaction may run meanwhile
    lake_env = {**envs["lake"], "LLMOPS_NB_AUTO_MAINTAIN": "0"}
    workers: dict[str, Worker] = {}
    try:
        for key, contender in QUERIED.items():
            workers[key] = Worker(MODULE, contender, root, env=envs["file"] if key == "file" else lake_env)
        out: dict[str, Any] = {"versions": {}, "built": {}, "rounds": []}
        for key in QUERIED:
            out["versions"][key] = workers[key].call("setup", db=stores[key][0], data_path=stores[key][1])
            ctx.log(f"lake_bench: building the {key if key == 'file' else 'lake ' + key} store: {traces * 50:,} "
                    f"spans in {-(-traces // per_commit):,} commits")
            out["built"][key] = workers[key].call("build", traces=traces, traces_per_batch=per_commit, timeout=3600)
            ctx.log(f"lake_bench: built in {out['built'][key]['write_s']:.1f} s")
        out["versions"]["lake"] = out["versions"]["after"]
        out["catalog_unmaintained"] = pg.call("info", name=catalogs["before"])
        out["catalog_before"] = pg.call("info", name=catalogs["after"])
        out["maintain"] = workers["after"].call("maintain", timeout=3600)
        ctx.log(f"lake_bench: maintain() took {out['maintain']['seconds']:.2f} s")
        out["catalog_after"] = pg.call("info", name=catalogs["after"])
        for index in range(sizes.query_rounds):  # the three stores alternate: load drifts hit them alike
            done = {key: workers[key].call("queries", seed=index, timeout=600) for key in rotated(list(QUERIED), index)}
            out["rounds"].append(done)
            ctx.log(f"lake_bench: queries, round {index + 1}/{sizes.query_rounds}: " + ", ".join(
                f"{key} traces {done[key]['traces_first'] * 1e3:.1f} ms, spans {done[key]['spans_first'] * 1e3:.1f} ms"
                for key in QUERIED))
        out["kernels"] = _kernels(ctx, root, envs, {"file": stores["file"], "lake": stores["after"]},
                                  sizes.kernel_rounds)
        return out
    finally:
        for worker in workers.values():
            worker.close()


_KERNEL = """
import json, time
started = time.perf_counter()
import llmops_nb
imported = time.perf_counter()
llmops_nb.configure(db={db!r}, data_path={data_path!r})
configured = time.perf_counter()
import duckdb
duckdb_imported = time.perf_counter()
import pandas
pandas_imported = time.perf_counter()
from benchmarks._lake_workers import TimedConnection
log = []
real_connect = duckdb.connect
def connect(*args, **kwargs):
    log.append((time.perf_counter(), "duckdb.connect"))
    return TimedConnection(real_connect(*args, **kwargs), log)
duckdb.connect = connect
began = time.perf_counter()
rows = len(llmops_nb.traces(limit=50))
first = time.perf_counter()
llmops_nb.traces(limit=50)
second = time.perf_counter()
print(json.dumps({{"import_s": imported - started, "duckdb_s": duckdb_imported - configured,
                  "pandas_s": pandas_imported - duckdb_imported, "first_s": first - began,
                  "second_s": second - first, "rows": rows,
                  "log": [(at - began, sql[:60]) for at, sql in log if at < first] + [(first - began, "")]}}))
"""


def _kernels(ctx: Context, root: Path, envs: dict[str, dict[str, str]], stores: dict[str, tuple[str, str | None]],
             rounds: int) -> dict[str, list[dict[str, Any]]]:
    """Fresh interpreters: ``import llmops_nb`` and the first ``traces()`` on each 1M store."""
    out: dict[str, list[dict[str, Any]]] = {kind: [] for kind in KINDS}
    for index in range(rounds):
        for kind in rotated(KINDS, index):
            env = {**base_env(root), **envs[kind]}
            code = _KERNEL.format(db=stores[kind][0], data_path=stores[kind][1])
            out[kind].append(json.loads(run_python(code, env, root, timeout=300).strip().splitlines()[-1]))
        ctx.log(f"lake_bench: per kernel, round {index + 1}/{rounds}: " + ", ".join(
            f"{kind} import + first traces() "
            f"{(out[kind][-1]['import_s'] + out[kind][-1]['duckdb_s'] + out[kind][-1]['first_s']) * 1000:.0f} ms"
            for kind in KINDS))
    return out
