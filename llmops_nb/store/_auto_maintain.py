"""Maintenance that runs by itself on a team store, when commits have piled up since the last one.

Every flush of every kernel is a DuckLake commit: a small Parquet file, or rows inlined in the
catalog. Reads slow down as they pile up (interop facts: 1,000 commits made a one-trace query
30–48 ms, 8–16 ms after compaction), and nobody should have to remember a cron job for a team
store to stay fast. So after a write, at most every ``CHECK_EVERY_S`` per process, a background
thread counts the commits since the lake's last compaction (one catalog query, ~2 ms); at
``settings.auto_maintain`` commits or more (default ``AUTO_MAINTAIN_COMMITS``;
``$LLMOPS_NB_AUTO_MAINTAIN``; 0 turns it off) it runs ``compact()`` — unless another process is
maintaining already (a lock tried, never waited for), or this process's PostgreSQL role does not own
the catalog: compaction drops and replaces catalog tables, which only their owner may do, so on a
team whose writers have only row privileges (the README's roles) the owner maintains, from cron;
``status()["maintenance"]["skipped"]`` then says so.

"Since the last compaction" is read from DuckLake's own record of snapshots: a compaction is a
snapshot whose changes include a flush of inlined rows or a merge of files. The thread works on a
connection of its own, beside the writer, so tracing never waits for it; DuckLake retries a
writer's commit that meets a merge. A failure is logged once and counted
(``status()["internal_failures"]``), and the last run shows in ``status()["maintenance"]``.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

from ._errors import StoreError

#: commits since the last compaction that start one (a kernel tracing without pause flushes ~2 a second)
AUTO_MAINTAIN_COMMITS = 500
#: how often one process asks, at most
CHECK_EVERY_S = 30.0
_CHANGES = "__ducklake_metadata_llmops.ducklake_snapshot_changes"
_SINCE_COMPACTION = f"""
SELECT count(*) FROM {_CHANGES}
WHERE snapshot_id > greatest(?, COALESCE((SELECT max(snapshot_id) FROM {_CHANGES}
                                          WHERE changes_made LIKE '%inline_flush%' OR changes_made LIKE '%compact%'
                                             OR changes_made LIKE '%merge%'), 0))
"""

_log = logging.getLogger("llmops_nb")
_lock = threading.Lock()
_state: dict[str, Any] = {"last_check": 0.0, "thread": None, "last_run": None, "runs": 0, "not_owner": False,
                          "compacted_to": {}, "stopped": False}


def threshold() -> int:
    """Commits since the last compaction that start one; 0: never."""
    from .._config import settings

    chosen = settings.auto_maintain
    if chosen is None:
        text = os.environ.get("LLMOPS_NB_AUTO_MAINTAIN", "").strip()
        chosen = int(text) if text.isdigit() else AUTO_MAINTAIN_COMMITS
    return max(0, int(chosen))


def commits_since_compaction(con: Any, lake: str = "") -> int:
    """Commits since ``lake``'s last compaction, or since this process's last run on it (one that
    found nothing to merge or flush leaves no snapshot of its own)."""
    return int(con.execute(_SINCE_COMPACTION, [_state["compacted_to"].get(lake, 0)]).fetchone()[0])


def after_commit(store: Any) -> None:
    """Called by the lake's writer after each commit: maybe start a check in the background."""
    limit = threshold()
    if not limit:
        return
    now = time.monotonic()
    with _lock:
        running = _state["thread"]
        if (_state.get("stopped") or now - _state["last_check"] < CHECK_EVERY_S
                or (running is not None and running.is_alive())):
            return
        _state["last_check"] = now
        thread = threading.Thread(target=_check_and_compact, args=(store, limit), name="llmops_nb-maintain",
                                  daemon=True)
        _state["thread"] = thread
    thread.start()


def _check_and_compact(store: Any, limit: int) -> None:
    from .._safety import log_once
    from ._maintain import compact

    try:
        with store.side_connection() as con:
            pending = commits_since_compaction(con, store.label)
            if pending < limit:
                return
            if not store.owns_catalog():  # a writer's role: maintenance is the owner's (README, roles)
                with _lock:
                    _state["not_owner"] = True
                return
            with store.try_exclusive("maintain") as taken:
                if not taken:  # another process is at it
                    return
                if commits_since_compaction(con, store.label) < limit:  # it just finished one
                    return
                started = time.monotonic()
                done = compact(con)
                last = con.execute(f"SELECT max(snapshot_id) FROM {_CHANGES}").fetchone()[0]
        done = {**done, "commits_before": pending, "seconds": round(time.monotonic() - started, 3),
                "finished_at": time.time()}
        with _lock:
            _state["last_run"] = done
            _state["runs"] += 1
            _state["compacted_to"][store.label] = int(last or 0)
        _log.info("llmops_nb maintained the lake after %d commits: %d files -> %d in %.1f s", pending,
                  done["files_before"], done["files_after"], done["seconds"])
    except Exception as exc:  # noqa: BLE001 - background work: never the user's problem, but never silent
        from ._lake_url import redact_dsn

        shown = exc if isinstance(exc, StoreError) else StoreError(redact_dsn(str(exc)))  # DuckDB may quote the URL
        log_once("auto-maintenance", shown, "llmops_nb could not maintain the lake in the background "
                 "(run llmops_nb.store.maintain() to see why)")


def stop(timeout: float) -> None:
    """At exit: start no more checks and wait up to ``timeout`` s for the one running. A thread still
    inside a DuckDB call while the interpreter tears down aborts the process ("terminate called
    without an active exception"), as the writer's would: found by three processes exiting right
    after their first commit, each with its check still running."""
    with _lock:
        _state["stopped"] = True
    wait(timeout)


def status() -> dict[str, Any]:
    """What ``status()["maintenance"]`` shows: the threshold, runs by this process, the last one."""
    with _lock:
        running = _state["thread"] is not None and _state["thread"].is_alive()
        shown = {"auto_maintain_commits": threshold(), "runs": _state["runs"], "running": running,
                 "last_run": _state["last_run"]}
        if _state["not_owner"]:
            shown["skipped"] = ("this role does not own the lake's catalog: run python -m llmops_nb store maintain "
                                "as the owner, e.g. from cron")
        return shown


def wait(timeout: float = 60.0) -> None:
    """Wait for a background maintenance of this process to finish (tests, shutdown)."""
    with _lock:
        thread = _state["thread"]
    if thread is not None:
        thread.join(timeout)
