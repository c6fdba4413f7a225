"""The store's schema as an append-only list of named migrations.

Each migration runs once per file, inside the transaction that records it in
``_llmops_migrations``. Never edit or reorder a released migration: add a new
one at the end. ``docs/schema.md`` is generated from this list
(``python -m llmops_nb.store.schema_doc``).
"""

from __future__ import annotations

import contextlib
from typing import Any

from ._batch_sql import ROOT_SESSION, SESSION_MENTIONED
from ._migration_list import Migration, Migrations

_CORE = Migrations()  # this file's own; MIGRATIONS below is every feature's, in ORDER
migration = _CORE.add


@migration
def m001_spans(con: Any) -> None:
    """One row per span, OpenTelemetry-shaped; payloads are JSON text."""
    con.execute(
        """
        CREATE TABLE spans (
            trace_id        VARCHAR NOT NULL,  -- 32 hex chars (128-bit)
            span_id         VARCHAR NOT NULL,  -- 16 hex chars (64-bit)
            parent_span_id  VARCHAR,           -- NULL for the trace's root
            name            VARCHAR NOT NULL,
            kind            VARCHAR NOT NULL,  -- MLflow span type: LLM, CHAT_MODEL, TOOL, ...
            start_ns        BIGINT NOT NULL,   -- epoch nanoseconds
            end_ns          BIGINT NOT NULL,
            status          VARCHAR NOT NULL,  -- OK | ERROR | UNSET
            status_message  VARCHAR,
            error           VARCHAR,           -- JSON {type, message, traceback}
            inputs          VARCHAR,           -- JSON, capped (see attributes."llmops_nb.truncated")
            outputs         VARCHAR,           -- JSON, capped
            attributes      VARCHAR,           -- JSON object; OTel gen_ai.* names
            events          VARCHAR            -- JSON list of {name, time_ns, attributes}
        )
        """
    )


@migration
def m002_span_llm_columns(con: Any) -> None:
    """Typed copies of the GenAI attributes most queries filter and sum on."""
    con.execute("ALTER TABLE spans ADD COLUMN model VARCHAR")
    con.execute("ALTER TABLE spans ADD COLUMN input_tokens BIGINT")
    con.execute("ALTER TABLE spans ADD COLUMN output_tokens BIGINT")
    con.execute("ALTER TABLE spans ADD COLUMN cost_usd DOUBLE")


@migration
def m003_traces(con: Any) -> None:
    """One row per trace: the root's facts plus running totals over its spans."""
    con.execute(
        """
        CREATE TABLE traces (
            trace_id          VARCHAR PRIMARY KEY,  -- 32 hex chars, as in spans
            name              VARCHAR,         -- the root span's name
            status            VARCHAR,         -- root's status; NULL while the root is open
            start_ns          BIGINT,          -- root's start (earliest span's while the root is open)
            end_ns            BIGINT,          -- NULL while the root is open
            span_count        BIGINT NOT NULL DEFAULT 0,  -- spans written so far
            llm_calls         BIGINT NOT NULL DEFAULT 0,  -- spans of kind LLM or CHAT_MODEL
            error_count       BIGINT NOT NULL DEFAULT 0,  -- spans with status ERROR
            input_tokens      BIGINT NOT NULL DEFAULT 0,  -- sum of gen_ai.usage.input_tokens
            output_tokens     BIGINT NOT NULL DEFAULT 0,  -- sum of gen_ai.usage.output_tokens
            cost_usd          DOUBLE,          -- sum of llmops_nb.cost_usd; NULL if no span was priced
            dropped_spans     BIGINT NOT NULL DEFAULT 0,  -- spans lost at the memory bound
            tags              VARCHAR,         -- JSON object of string tags
            session           VARCHAR,         -- %%llm_trace --session
            cell              VARCHAR,         -- JSON {execution_count, source_sha256, kernel_session}
            request_preview   VARCHAR,         -- first 300 chars of the root's inputs JSON
            response_preview  VARCHAR,         -- first 300 chars of the root's outputs JSON
            error_message     VARCHAR          -- the root's error message
        )
        """
    )


@migration
def m004_drop_log(con: Any) -> None:
    """Every time spans were dropped at the memory bound: when, how many, which trace."""
    con.execute(
        """
        CREATE TABLE dropped_spans (
            recorded_at  TIMESTAMP NOT NULL DEFAULT current_timestamp,
            trace_id     VARCHAR NOT NULL,
            count        BIGINT NOT NULL,
            process_id   BIGINT
        )
        """
    )


# Feature schemas live beside the core's (``_schema_evals.py``, ``_schema_prompts.py``); names are
# unique across them and each migration touches only its feature's tables.
from ._schema_evals import MIGRATIONS as _EVAL_MIGRATIONS  # noqa: E402
from ._schema_gateway import MIGRATIONS as _GATEWAY_MIGRATIONS  # noqa: E402
from ._schema_governance import MIGRATIONS as _GOVERNANCE_MIGRATIONS  # noqa: E402
from ._schema_monitor import MIGRATIONS as _MONITOR_MIGRATIONS  # noqa: E402
from ._schema_prompts import MIGRATIONS as _PROMPT_MIGRATIONS  # noqa: E402
from ._schema_replay import MIGRATIONS as _REPLAY_MIGRATIONS  # noqa: E402

# The order files apply them in, whatever their feature: it only ever grows at the end, so every
# file's applied list is a prefix of it.
ORDER = (
    # wave 1 (2026-11)
    "m001_spans", "m002_span_llm_columns", "m003_traces", "m004_drop_log",
    "e001_eval_datasets", "e002_eval_runs", "e003_assessments",
    "p001_prompt_versions", "p002_prompt_aliases",
    # wave 2 (2026-12)
    "m005_drop_log_per_write", "e004_assessments_passed", "r001_recorded_calls",
    # wave 3 (2026-12): governance
    "g001_audit_log", "g002_daily_usage",
    # wave 4 (2026-12): the AI gateway
    "gw001_gateway_keys",
    # wave 5 (2026-12): production monitoring
    "e005_assessments_target", "mo001_monitor",
    # wave 6 (2026-12): AgentOps
    "m006_trace_session_from_root",
)


@migration
def m005_drop_log_per_write(con: Any) -> None:
    """The drop log: one row per write and reason (trace_id only when one trace lost spans; per-trace counts are in traces.dropped_spans)."""  # noqa: E501
    con.execute("ALTER TABLE dropped_spans ALTER COLUMN trace_id DROP NOT NULL")
    con.execute("ALTER TABLE dropped_spans ADD COLUMN traces BIGINT")  # how many traces lost spans
    con.execute("ALTER TABLE dropped_spans ADD COLUMN reason VARCHAR")  # memory bound, unwritable span, ...


#: the traces written before m006 whose root's attributes name a session, with that session
ROOT_SESSIONS = f"""
SELECT trace_id, {ROOT_SESSION} AS session FROM spans
WHERE parent_span_id IS NULL AND ({SESSION_MENTIONED})
"""


@migration
def m006_trace_session_from_root(con: Any) -> None:
    """traces.session also holds the session its root's attributes name (OpenInference session.id, else gen_ai.conversation.id) when the root gave none: written with the root from now on, filled in here for older traces."""  # noqa: E501
    con.execute(f"""
        UPDATE traces SET session = r.session FROM ({ROOT_SESSIONS}) AS r
        WHERE traces.trace_id = r.trace_id AND NULLIF(traces.session, '') IS NULL AND r.session IS NOT NULL
    """)


def _ordered() -> list[tuple[str, Migration]]:
    defined = dict(_CORE + _EVAL_MIGRATIONS + _PROMPT_MIGRATIONS + _REPLAY_MIGRATIONS
                   + _GOVERNANCE_MIGRATIONS + _GATEWAY_MIGRATIONS + _MONITOR_MIGRATIONS)
    missing = sorted(set(defined) - set(ORDER))
    if missing or len(defined) != len(ORDER):
        raise RuntimeError(f"migrations {missing or 'listed twice'} must be appended to ORDER in _migrations.py")
    return [(name, defined[name]) for name in ORDER]


MIGRATIONS = _ordered()


def migrate(con: Any, upto: int | None = None) -> list[str]:
    """Apply the migrations not yet recorded in this file; return their names."""
    return apply(con, MIGRATIONS[:upto], "name VARCHAR PRIMARY KEY")


def apply(con: Any, migrations: list[tuple[str, Migration]], name_column: str) -> list[str]:
    """Apply those of ``migrations`` not yet recorded in ``_llmops_migrations`` (created with ``name_column``),
    each in the transaction that records it; return their names. The file and the lake both use it."""
    con.execute(f"CREATE TABLE IF NOT EXISTS _llmops_migrations ({name_column}, applied_at TIMESTAMP NOT NULL)")
    done = {row[0] for row in con.execute("SELECT name FROM _llmops_migrations").fetchall()}
    applied = []
    for name, fn in migrations:
        if name in done:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            fn(con)
            con.execute("INSERT INTO _llmops_migrations VALUES (?, current_timestamp)", [name])
            con.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(Exception):  # must not hide the real error (e.g. a full disk)
                con.execute("ROLLBACK")
            raise
        applied.append(name)
    return applied
