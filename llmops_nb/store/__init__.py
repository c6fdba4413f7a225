"""The store (a DuckDB file, or a DuckLake): schema migrations, batch writes, pandas queries, maintenance."""

from ._connection import StoreLockedError, get_store
from ._maintain import maintain
from ._queries import spans, sql, traces

__all__ = ["StoreLockedError", "get_store", "maintain", "spans", "sql", "traces"]
