"""The lake's schema: the file store's migrations, made append-only where DuckLake needs it.

DuckLake has no PRIMARY KEY, UNIQUE, ON CONFLICT or index, and two processes that delete or update
rows of one table at once conflict. Each logical table, and why it is shaped so on the lake:

- ``spans``, ``dropped_spans``, ``assessments``, ``eval_dataset_rows``, ``recorded_calls``: rows
  are only ever added (the file store's DDL as is); deleting a recording, the one DELETE among
  them, runs under an advisory lock like the updates below.
- ``traces`` is a VIEW over ``trace_parts``: one row per written batch per trace (and per batch of
  dropped-span counts), the totals summed and the root's facts (name, status, end, tags…) taken
  from the latest part that has them, at read time — exactly what the file store's upsert
  (``COALESCE(new, old)``, ``LEAST`` start, summed counts) leaves in its row. Several writer
  processes append parts at once without conflicts. ``trace_parts.batch_id`` names the write that
  added each part: a batch whose commit outcome is unknown is looked up before it is sent again.
- ``eval_datasets``, ``prompt_versions``, ``prompt_alias_history``, ``audit_log``: appends, but numbered
  ("the next version", "the next seq"): the number is read and the row written under a
  PostgreSQL advisory lock (``LakeStore.exclusive``), so numbers stay gap-free with many writers
  (and the audit trail's hash chain never forks: ``_audit.py``). ``daily_usage`` is appended only.
- ``prompt_aliases``, ``eval_runs``, ``eval_results``: updated in place (an alias moves, a run's
  progress and status, a row's usage) — under the same kind of advisory lock, so no two processes
  ever delete from one of these tables at once. Primary keys become NOT NULL columns; their
  uniqueness is kept by those locks (one writer at a time per key space). ``gateway_keys`` too: a key
  is appended, and revoked in place (``revoked_at``) under the lock ``gateway_keys``.
- ``monitor_scored`` is appended only, under the lock ``monitor`` (its key, an online scorer's
  exactly-once claim on a trace, is checked and written in one block); ``monitor_cursors`` and
  ``monitor_incidents`` are updated in place under the locks ``monitor`` and ``monitor_incidents``.
- ``_llmops_migrations``: the lake's own record, written by the one migrator that holds the
  migration lock.

The list has the file store's names, in the file store's ``ORDER``: where the logical change is the same
the very same function runs, through :class:`_AppendOnlyDDL`, which drops key constraints from its
CREATE TABLEs; ``m003_traces`` and ``m006_trace_session_from_root`` have their own bodies here. A new
file-store migration gets a lake entry automatically; one that needs a different shape on the lake is
overridden in ``_LAKE_BODIES``.
"""

from __future__ import annotations

import re
from typing import Any

from ._migration_list import Migration
from ._migrations import MIGRATIONS as FILE_MIGRATIONS
from ._migrations import ROOT_SESSIONS, apply

# column-level "PRIMARY KEY" (implies NOT NULL) and a table-level ", PRIMARY KEY (a, b)"
_COLUMN_KEY = re.compile(r"\bPRIMARY\s+KEY\b(?!\s*\()", re.IGNORECASE)
_TABLE_KEY = re.compile(r",\s*(?:--[^\n]*\n\s*)?PRIMARY\s+KEY\s*\([^)]*\)", re.IGNORECASE)

_PART_COLUMNS = """
    trace_id          VARCHAR NOT NULL,
    batch_id          VARCHAR NOT NULL,  -- the write that added this part; each batch is applied once
    written_ns        BIGINT NOT NULL,   -- when: a later part's root facts win, as in the file store's upsert
    name              VARCHAR,
    status            VARCHAR,
    start_ns          BIGINT,
    end_ns            BIGINT,
    span_count        BIGINT NOT NULL DEFAULT 0,
    llm_calls         BIGINT NOT NULL DEFAULT 0,
    error_count       BIGINT NOT NULL DEFAULT 0,
    input_tokens      BIGINT NOT NULL DEFAULT 0,
    output_tokens     BIGINT NOT NULL DEFAULT 0,
    cost_usd          DOUBLE,
    dropped_spans     BIGINT NOT NULL DEFAULT 0,
    tags              VARCHAR,
    session           VARCHAR,
    cell              VARCHAR,
    request_preview   VARCHAR,
    response_preview  VARCHAR,
    error_message     VARCHAR
"""
_LATEST = ("name", "status", "tags", "session", "cell", "request_preview", "response_preview", "error_message")
_SUMMED = ("span_count", "llm_calls", "error_count", "input_tokens", "output_tokens")


def _aggregates() -> dict[str, str]:
    """Each ``traces`` column as the aggregate of the trace's parts that gives it."""
    latest = {c: f"arg_max({c}, written_ns) FILTER (WHERE {c} IS NOT NULL) AS {c}" for c in (*_LATEST, "end_ns")}
    summed = {c: f"CAST(sum({c}) AS BIGINT) AS {c}" for c in (*_SUMMED, "dropped_spans")}
    return {**latest, **summed, "start_ns": "min(start_ns) AS start_ns", "cost_usd": "sum(cost_usd) AS cost_usd"}


_ORDER = ("name", "status", "start_ns", "end_ns", *_SUMMED, "cost_usd", "dropped_spans", "tags", "session", "cell",
          "request_preview", "response_preview", "error_message")


def traces_select(source: str = "trace_parts", columns: tuple[str, ...] = _ORDER) -> str:
    """One row per trace of ``source`` (trace_parts, or a filtered subquery of it): ``columns`` of ``traces``."""
    aggregates = _aggregates()
    select = ",\n       ".join(aggregates[c] for c in columns)
    return f"SELECT trace_id,\n       {select}\nFROM {source} GROUP BY trace_id"


def _traces_view() -> str:
    return f"CREATE VIEW traces AS\n{traces_select()}"


def m003_traces(con: Any) -> None:
    """One row per trace: a view summing the trace's parts (one per batch written)."""
    con.execute(f"CREATE TABLE trace_parts ({_PART_COLUMNS})")
    con.execute(_traces_view())


def m006_trace_session_from_root(con: Any) -> None:
    """Older traces get the session their root's attributes name: a part each (the view takes the latest)."""
    con.execute(f"""
        INSERT INTO trace_parts (trace_id, batch_id, written_ns, session)
        SELECT r.trace_id, 'm006_trace_session_from_root', CAST(epoch_ns(now()) AS BIGINT), r.session
        FROM ({ROOT_SESSIONS}) AS r JOIN traces AS t ON t.trace_id = r.trace_id
        WHERE NULLIF(t.session, '') IS NULL AND r.session IS NOT NULL
    """)


_LAKE_BODIES: dict[str, Migration] = {"m003_traces": m003_traces,
                                      "m006_trace_session_from_root": m006_trace_session_from_root}


class _AppendOnlyDDL:
    """A connection whose CREATE TABLEs lose their key constraints (DuckLake has none)."""

    def __init__(self, con: Any) -> None:
        self._con = con

    def execute(self, query: str, *args: Any) -> Any:
        if query.lstrip().upper().startswith("CREATE TABLE"):
            query = _COLUMN_KEY.sub("NOT NULL", _TABLE_KEY.sub("", query))
        return self._con.execute(query, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


def _lake_version(name: str, fn: Migration) -> Migration:
    body = _LAKE_BODIES.get(name)
    if body is not None:
        return body

    def run(con: Any) -> None:
        fn(_AppendOnlyDDL(con))

    run.__name__ = name
    run.__doc__ = fn.__doc__
    return run


LAKE_MIGRATIONS: list[tuple[str, Migration]] = [(name, _lake_version(name, fn)) for name, fn in FILE_MIGRATIONS]


def migrate(con: Any) -> list[str]:
    """Apply the lake migrations not yet recorded; the caller holds the migration lock."""
    return apply(con, LAKE_MIGRATIONS, "name VARCHAR NOT NULL")  # no key on the lake: the lock keeps it unique


def pending(con: Any) -> bool:
    """True when some lake migration is not applied yet (checked before taking the migration lock)."""
    try:
        done = {row[0] for row in con.execute("SELECT name FROM _llmops_migrations").fetchall()}
    except Exception:  # noqa: BLE001 - no table yet: a new lake
        return True
    return any(name not in done for name, _ in LAKE_MIGRATIONS)
