"""Schema of the AI gateway (its virtual keys): append-only migrations.

Collected into the store's migration list by ``_migrations.py``; each function runs once per file,
recorded by name. Never edit or reorder one that has been released. A key's plaintext is shown
once, when it is created, and never stored: only its sha256 is (``llmops_nb/gateway/_keys.py``).
The gateway's requests, costs and budgets need no table of their own: they are spans
(``gateway <route>``, ``gateway.*`` attributes), and the budgets' spend is summed from them.
"""

from __future__ import annotations

from typing import Any

from ._migration_list import Migrations

MIGRATIONS = Migrations()
_migration = MIGRATIONS.add


@_migration
def gw001_gateway_keys(con: Any) -> None:
    """The gateway's virtual keys: their sha256, scopes and limits (never the key itself); revoked, not deleted."""
    con.execute(
        """
        CREATE TABLE gateway_keys (
            key_id           VARCHAR PRIMARY KEY,  -- public id (key_…): in traces, errors and the audit trail
            key_hash         VARCHAR NOT NULL,     -- sha256 hex of the key; the key is shown once and never stored
            name             VARCHAR,              -- the key's alias (LiteLLM key_alias)
            models           VARCHAR,              -- JSON list of model names it may use; NULL: every model
            rpm              BIGINT,               -- requests per minute; NULL: no limit
            tpm              BIGINT,               -- tokens per minute; NULL: no limit
            max_budget       DOUBLE,               -- USD per budget_duration; NULL: no budget
            budget_duration  VARCHAR,              -- daily | weekly | monthly (UTC windows); NULL: never resets
            user_id          VARCHAR,              -- the user its requests are attributed to
            team             VARCHAR,
            project          VARCHAR,
            created_at       TIMESTAMP NOT NULL,   -- UTC
            revoked_at       TIMESTAMP             -- UTC; NULL while the key works
        )
        """
    )
