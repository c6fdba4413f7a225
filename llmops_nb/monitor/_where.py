"""A user's SQL filter over traces (``where="t.name = ?"``), checked before it goes anywhere near a query.

A filter is SQL text by nature, so it cannot be a bound parameter; what keeps it from injecting is
that DuckDB's own parser sees it inside the whole statement it will run in: exactly one statement,
a SELECT. ``1=1); DROP TABLE spans; --`` parses as two statements and is refused with the parser's
words. Values belong in ``params`` (``?`` placeholders), never in the text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .._errors import LlmopsError


class FilterError(LlmopsError, ValueError):
    """A ``where=`` filter that is not one SQL predicate over traces."""


def check_where(where: str | None, params: Sequence[Any] | None, *, what: str = "where") -> tuple[str, list[Any]]:
    """``(sql, params)`` to AND into a query over ``traces t``: ``("TRUE", [])`` without a filter.

    >>> check_where("t.name = ?", ["support"])
    ('(t.name = ?)', ['support'])
    """
    values = list(params or ())
    if where is None:
        if values:
            raise FilterError(f"{what}: params were given without a filter; pass where='t.name = ?' with them.")
        return "TRUE", []
    if not isinstance(where, str) or not where.strip():
        raise FilterError(f"{what} is a SQL predicate over traces (alias t), e.g. where=\"t.name = ?\", "
                          f"params=['support']; got {where!r}.")
    if isinstance(params, (str, bytes)):
        raise FilterError(f"{what}: params is a list of values for the ? placeholders, e.g. params=['support'].")
    import duckdb

    statement = f"SELECT t.trace_id FROM traces t WHERE ({where})"
    try:
        parsed = duckdb.connect(":memory:")
        try:
            statements = parsed.extract_statements(statement)
        finally:
            parsed.close()
    except duckdb.Error as exc:
        raise FilterError(f"{what} {where!r} is not valid SQL: {exc}. Write one predicate over the traces table "
                          "(alias t), with ? for values, e.g. \"t.name = ? AND t.status = 'OK'\".") from None
    if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
        raise FilterError(f"{what} {where!r} is not one predicate: it would make the query "
                          f"{len(statements)} statement(s). Write one condition over traces (alias t) and pass "
                          "values as params with ? placeholders.")
    if not _only_a_predicate(statement):
        raise FilterError(f"{what} {where!r} changes the query around it (a UNION, ORDER BY, LIMIT or GROUP BY "
                          "after a closing parenthesis): write one condition over traces (alias t).")
    names = set(statements[0].named_parameters)
    if any(not name.isdigit() for name in names):
        raise FilterError(f"{what} {where!r} uses named parameters; use ? placeholders with params=[...].")
    if len(names) != len(values):
        raise FilterError(f"{what} {where!r} has {len(names)} ? placeholder(s) but {len(values)} param(s) "
                          "were given.")
    return f"({where})", values


def _only_a_predicate(statement: str) -> bool:
    """Whether the wrapped statement is still a plain ``SELECT … WHERE (…)``: a filter that closes our
    parenthesis can still parse as one SELECT, with a UNION or an ORDER BY after it."""
    import json

    import duckdb

    con = duckdb.connect(":memory:")
    try:
        found = con.execute("SELECT json_serialize_sql(?)", [statement]).fetchone()
        tree: dict[str, Any] = json.loads(found[0]) if found else {"error": True}
    finally:
        con.close()
    if tree.get("error"):
        return False
    node = tree["statements"][0]["node"]
    return (node.get("type") == "SELECT_NODE" and not node.get("modifiers") and not node.get("group_expressions")
            and node.get("having") is None and node.get("qualify") is None)
