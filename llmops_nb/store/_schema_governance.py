"""Schema of governance (the audit trail, the daily usage kept by retention): append-only migrations.

Collected into the store's migration list by ``_migrations.py``; each function runs
once per file, recorded by name. Never edit or reorder one that has been released.
Both tables only ever grow: the audit trail by one hash-chained row per event (``_audit.py``),
the usage by one row per day and model each time retention deletes traces (``_retention.py``).
"""

from __future__ import annotations

from typing import Any

from ._migration_list import Migrations

MIGRATIONS = Migrations()
_migration = MIGRATIONS.add


@_migration
def g001_audit_log(con: Any) -> None:
    """Governance events (prompt versions and alias moves, erasures, retention, exports, policy changes), hash-chained."""  # noqa: E501
    con.execute(
        """
        CREATE TABLE audit_log (
            seq        BIGINT PRIMARY KEY,  -- 1, 2, 3 … without gaps: a missing number is a deleted row
            logged_at  TIMESTAMP NOT NULL,  -- UTC, microseconds ("at" is a reserved word)
            actor      VARCHAR NOT NULL,    -- who: author=, configure(author=), $LLMOPS_NB_AUTHOR or the login
            action     VARCHAR NOT NULL,    -- prompt.version_created, data.erased, export.parquet, ...
            subject    VARCHAR,             -- what it acted on: prompts:/qa/3, a folder, an endpoint
            details    VARCHAR NOT NULL,    -- JSON object, keys sorted; counts and names, never content or secrets
            prev_hash  VARCHAR NOT NULL,    -- the previous row's hash; 64 zeros for row 1
            hash       VARCHAR NOT NULL     -- sha256 of [seq, logged_at, actor, action, subject, details, prev_hash]
        )
        """
    )


@_migration
def g002_daily_usage(con: Any) -> None:
    """Per-day, per-model totals of traces that retention deleted, so long-window metrics survive."""
    con.execute(
        """
        CREATE TABLE daily_usage (
            day            DATE NOT NULL,     -- UTC date of the trace's start
            model          VARCHAR,           -- the span's model; NULL for spans without one (chains, tools)
            traces         BIGINT NOT NULL,   -- traces with such spans that day
            spans          BIGINT NOT NULL,
            llm_calls      BIGINT NOT NULL,   -- spans of kind LLM or CHAT_MODEL
            input_tokens   BIGINT NOT NULL,
            output_tokens  BIGINT NOT NULL,
            cost_usd       DOUBLE,            -- NULL when no span was priced
            errors         BIGINT NOT NULL,   -- spans with status ERROR
            recorded_at    TIMESTAMP NOT NULL  -- UTC: the retention run that deleted them; sum rows per day and model
        )
        """
    )
