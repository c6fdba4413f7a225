"""Schema of recorded LLM calls (record & replay): append-only migrations.

Collected into the store's migration list by ``_migrations.py``; each function runs
once per file, recorded by name. Never edit or reorder one that has been released.
"""

from __future__ import annotations

from typing import Any

from ._migration_list import Migrations

MIGRATIONS = Migrations()
_migration = MIGRATIONS.add


@_migration
def r001_recorded_calls(con: Any) -> None:
    """One row per LLM call recorded on the wire: its normalized request and its whole response."""
    con.execute(
        """
        CREATE TABLE recorded_calls (
            recording    VARCHAR NOT NULL,  -- the recording's name (a notebook, a test suite)
            started_ns   BIGINT NOT NULL,   -- when the request was sent: the replay order of equal requests
            call_key     VARCHAR NOT NULL,  -- sha256 of method, path and normalized body: what replay matches on
            method       VARCHAR NOT NULL,
            path         VARCHAR NOT NULL,  -- URL path and query, without host or port
            request      VARCHAR NOT NULL,  -- the normalized body (JSON, keys sorted, ignored parts masked, redacted)
            status       INTEGER NOT NULL,  -- HTTP status of the response
            headers      VARCHAR NOT NULL,  -- JSON list of [name, value] response headers (no cookies or secrets)
            chunks       BLOB[] NOT NULL,   -- the response body as received, chunk by chunk (still encoded)
            complete     BOOLEAN NOT NULL,  -- false: the caller stopped reading (a stream left early)
            client       VARCHAR,           -- the SDK and version, from the User-Agent (OpenAI/Python 1.99.0)
            trace_id     VARCHAR,           -- the span that made the call, when traced
            span_id      VARCHAR,
            provider     VARCHAR,           -- openai, anthropic, azure, or openai-/anthropic-compatible (by host)
            model        VARCHAR,           -- the request's model
            recorded_at  TIMESTAMP NOT NULL
        )
        """
    )
