"""Schema of the prompt registry (prompts, versions, aliases, alias history): append-only migrations.

Collected into the store's migration list by ``_migrations.py``; each function runs
once per file, recorded by name. Never edit or reorder one that has been released.
"""

from __future__ import annotations

from typing import Any

from ._migration_list import Migrations

MIGRATIONS = Migrations()
_migration = MIGRATIONS.add


@_migration
def p001_prompt_versions(con: Any) -> None:
    """Immutable prompt versions, numbered 1, 2, 3… per prompt name without gaps."""
    con.execute(
        """
        CREATE TABLE prompt_versions (
            name            VARCHAR NOT NULL,  -- letters, digits, '_', '-', '.'
            version         BIGINT NOT NULL,   -- 1, 2, 3 … per name, no gaps
            template        VARCHAR NOT NULL,  -- JSON: a string, or a list of {role, content} messages
            prompt_type     VARCHAR NOT NULL,  -- text | chat
            variables       VARCHAR NOT NULL,  -- JSON list of {{variable}} names, in order of appearance
            commit_message  VARCHAR,
            tags            VARCHAR,           -- JSON object of string tags
            model_config    VARCHAR,           -- JSON object (model, temperature, ...)
            content_sha256  VARCHAR NOT NULL,  -- of template + tags + model_config; equal content is not re-registered
            author          VARCHAR,           -- who registered it (getpass user or a configured author)
            created_ns      BIGINT NOT NULL,   -- epoch nanoseconds
            PRIMARY KEY (name, version)
        )
        """
    )


@_migration
def p002_prompt_aliases(con: Any) -> None:
    """Aliases (production, staging, …) pointing at one version each, and every move of one."""
    con.execute(
        """
        CREATE TABLE prompt_aliases (
            name        VARCHAR NOT NULL,
            alias       VARCHAR NOT NULL,   -- any name but 'latest' or digits
            version     BIGINT NOT NULL,
            author      VARCHAR,            -- who moved it last
            updated_ns  BIGINT NOT NULL,    -- epoch nanoseconds
            PRIMARY KEY (name, alias)
        )
        """
    )
    con.execute(
        """
        CREATE TABLE prompt_alias_history (
            seq           BIGINT PRIMARY KEY,  -- order of changes across the file
            name          VARCHAR NOT NULL,
            alias         VARCHAR NOT NULL,
            action        VARCHAR NOT NULL,    -- set | delete
            from_version  BIGINT,              -- NULL when the alias was new
            to_version    BIGINT,              -- NULL when the alias was deleted
            author        VARCHAR,
            changed_ns    BIGINT NOT NULL      -- epoch nanoseconds
        )
        """
    )
