"""The DuckDB store: schema migrations, batch writes, and pandas queries."""

from ._connection import StoreLockedError, get_store
from ._queries import spans, sql, traces

__all__ = ["StoreLockedError", "get_store", "spans", "sql", "traces"]
