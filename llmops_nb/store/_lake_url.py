"""A DuckLake store's URL: parsed into its parts, and named in messages without its password.

``ducklake:postgres:dbname=llmops host=db.internal user=team password=...`` (a libpq string) or
``ducklake:postgres:postgresql://team:...@db.internal/llmops`` (a URI). The password is taken
out before DuckDB sees the string: it goes to DuckDB in a temporary secret, which DuckDB never
shows (``duckdb_databases()`` lists the attached path, and an ATTACH error quotes it whole), and
to psycopg as a keyword. Every message that names the store uses :func:`redact_dsn`.
"""

from __future__ import annotations

from dataclasses import dataclass

from .._config import LAKE_PREFIX, mask_dsn_passwords
from .._redact import redact_text

_PG_PREFIXES = ("postgres:", "postgresql:")
REDACTED = "[redacted]"
CONNECT_TIMEOUT_S = 10


def redact_dsn(text: str) -> str:
    """``text`` with every libpq/URI password replaced (and other secrets, by the general redactor).

    >>> redact_dsn("ducklake:postgres:dbname=lake password='s e' host=h")
    "ducklake:postgres:dbname=lake password='[redacted]' host=h"
    """
    return redact_text(mask_dsn_passwords(text, REDACTED))


@dataclass(frozen=True)
class LakeUrl:
    """A parsed ``ducklake:postgres:...`` URL: what DuckDB attaches, and the catalog's password apart."""

    conninfo: str  # the catalog's libpq string without the password
    password: str | None

    @property
    def catalog(self) -> str:
        return f"postgres:{self.conninfo}"


def parse(url: str) -> LakeUrl:
    """Split ``url``; ValueError (naming the URL redacted) when it is not a PostgreSQL-catalog DuckLake."""
    rest = url.removeprefix(LAKE_PREFIX)
    if rest.startswith(("postgres://", "postgresql://")):
        dsn = rest  # ducklake:postgresql://... : the URI itself names PostgreSQL
    elif rest.startswith(_PG_PREFIXES):
        dsn = rest.split(":", 1)[1].strip()
    else:
        raise ValueError(
            f"{redact_dsn(url)} is not a DuckLake URL with a PostgreSQL catalog: write "
            "ducklake:postgres:dbname=DB host=HOST user=USER (a libpq string) or "
            "ducklake:postgres:postgresql://USER@HOST/DB. Other catalogs (SQLite, a DuckDB file) cannot take "
            "writes from several processes at once, which is what the lake is for.")
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    try:
        params = conninfo_to_dict(dsn)
    except Exception as exc:  # noqa: BLE001 - psycopg's message may quote the string: name it redacted
        raise ValueError(f"The lake's catalog connection string {redact_dsn(dsn)!r} cannot be parsed "
                         f"({type(exc).__name__}); write key=value pairs, e.g. dbname=llmops host=/run/postgresql "
                         "user=team.") from None
    password = params.pop("password", None)
    # an unreachable catalog fails in seconds (and the writer keeps the spans) instead of hanging a cell
    params.setdefault("connect_timeout", str(CONNECT_TIMEOUT_S))
    return LakeUrl(make_conninfo("", **{k: str(v) for k, v in params.items()}),
                   None if password is None else str(password))
