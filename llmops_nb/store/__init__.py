"""The store (a DuckDB file, or a DuckLake): schema migrations, batch writes, pandas queries, maintenance, copies."""

from ._connection import StoreLockedError, get_store
from ._copy import copy_store
from ._maintain import maintain
from ._queries import spans, sql, traces

__all__ = ["StoreLockedError", "copy_store", "get_store", "maintain", "spans", "sql", "traces"]
