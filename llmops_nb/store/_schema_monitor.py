"""Schema of production monitoring (``llmops_nb.monitor``): append-only migrations.

Collected into the store's migration list by ``_migrations.py``; each function runs once per file,
recorded by name. Never edit or reorder one that has been released. An online scorer's results are
assessments (``assessments``, the evaluation's table); these tables only say which traces each
scorer version has done, how far its passes got, and which alerts are open.
"""

from __future__ import annotations

from typing import Any

from ._migration_list import Migrations

MIGRATIONS = Migrations()
_migration = MIGRATIONS.add


@_migration
def mo001_monitor(con: Any) -> None:
    """Online scorers' work done (one row per scorer version, trace and target: the exactly-once key),
    their cursors, and alert incidents."""
    con.execute(
        """
        CREATE TABLE monitor_scored (
            scorer          VARCHAR NOT NULL,   -- the online scorer's name (its assessments' name)
            version         VARCHAR NOT NULL,   -- the scorer's version: a hash of its definition, or the user's
            trace_id        VARCHAR NOT NULL,   -- the scored trace
            target_span_id  VARCHAR NOT NULL,   -- the scored span; '' when the scorer judges the whole trace
            assessment_id   VARCHAR,            -- the assessment written; NULL when the scorer had nothing to say
            status          VARCHAR NOT NULL,   -- OK | ERROR | SKIPPED (the scorer returned None)
            scored_at       TIMESTAMP NOT NULL, -- UTC
            PRIMARY KEY (scorer, version, trace_id, target_span_id)
        )
        """
    )
    con.execute(
        """
        CREATE TABLE monitor_cursors (
            scorer         VARCHAR NOT NULL,
            version        VARCHAR NOT NULL,
            floor_ns       BIGINT NOT NULL,    -- traces that ended before this are never scored by this version
            watermark_ns   BIGINT NOT NULL,    -- traces that ended before this (less the look-back) are done
            registered_at  TIMESTAMP NOT NULL, -- UTC: when this version first ran on this store
            last_pass_at   TIMESTAMP,          -- UTC
            definition     VARCHAR,            -- JSON: what the scorer is (name, source, model, sample_rate, filter)
            PRIMARY KEY (scorer, version)
        )
        """
    )
    con.execute(
        """
        CREATE TABLE monitor_incidents (
            incident_id  VARCHAR PRIMARY KEY,  -- 32 hex chars
            rule         VARCHAR NOT NULL,     -- the alert rule's name
            group_key    VARCHAR NOT NULL,     -- JSON object of the group's values ({} without by=)
            state        VARCHAR NOT NULL,     -- FIRING | RESOLVED
            opened_at    TIMESTAMP NOT NULL,   -- UTC
            resolved_at  TIMESTAMP,            -- UTC
            value        DOUBLE,               -- the metric's value when it fired (then the latest while firing)
            baseline     DOUBLE,               -- the baseline window's value, for change rules
            threshold    DOUBLE,
            message      VARCHAR,
            deliveries   VARCHAR,              -- JSON list of {channel, ok, error, at}
            updated_at   TIMESTAMP NOT NULL    -- UTC
        )
        """
    )
