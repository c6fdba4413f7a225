"""``%llm_sql`` / ``%%llm_sql``: SQL on the store, returning a pandas DataFrame.

``$name`` in the query binds the notebook variable ``name`` as a query
parameter — never pasted into the SQL text.
"""

from __future__ import annotations

import re
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class, no_var_expand

from ._args import check_variable

# One pass over the query: literals, quoted identifiers, comments and dollar-quoted strings are
# skipped whole, so a "$name" inside them is text, not a parameter (as DuckDB reads it).
_TOKENS = re.compile(
    r"'(?:[^']|'')*'?"  # 'string' ('' escapes a quote)
    r'|"(?:[^"]|"")*"?'  # "quoted identifier"
    r"|--[^\n]*"  # -- line comment
    r"|/\*.*?(?:\*/|\Z)"  # /* block comment */
    r"|\$(?P<tag>[A-Za-z_]\w*|)\$.*?(?:\$(?P=tag)\$|\Z)"  # $$dollar-quoted$$, $t$...$t$
    r"|(?<![\w$])\$(?P<name>[A-Za-z_]\w*)",  # $name: a parameter
    re.DOTALL,
)


def parameter_names(query: str) -> set[str]:
    """The ``$name`` parameters DuckDB will see in ``query`` (not those in strings or comments)."""
    return {m.group("name") for m in _TOKENS.finditer(query) if m.group("name")}


@magics_class
class SqlMagics(Magics):
    @no_var_expand
    @line_cell_magic
    def llm_sql(self, line: str, cell: str | None = None) -> Any:
        """SQL on the llmops_nb store. %llm_sql SELECT ... | %%llm_sql [VAR] with the query as the cell body.

        Tables: traces, spans, dropped_spans. ``$var`` binds a notebook variable safely.
        """
        var = None
        if cell is None:
            query = line
        else:
            var = check_variable(line.strip() or None, "%%llm_sql")
            query = cell
        if not query.strip():
            raise UsageError("%llm_sql: no query. Write e.g. %llm_sql SELECT name, cost_usd FROM traces LIMIT 10")
        params = self._bind(query)
        from ..store._connection import StoreLockedError
        from ..store._queries import sql

        try:
            frame = sql(query, params or None)
        except StoreLockedError:
            raise
        except Exception as exc:
            if "duckdb" in type(exc).__module__:
                raise UsageError(f"%llm_sql: {exc}\nTables: traces, spans, dropped_spans "
                                 "(see the README's schema section).") from None
            raise
        if var is not None:
            self._user_ns()[var] = frame
            return None
        return frame

    def _user_ns(self) -> dict[str, Any]:
        assert self.shell is not None  # a registered magic always has its shell
        return self.shell.user_ns

    def _bind(self, query: str) -> dict[str, Any]:
        names = parameter_names(query)
        missing = sorted(name for name in names if name not in self._user_ns())
        if missing:
            raise UsageError(f"%llm_sql: ${missing[0]} is not a notebook variable; define it first "
                             f"(e.g. {missing[0]} = ...) or remove the $.")
        return {name: self._user_ns()[name] for name in names}
