"""A caller's SQL condition on traces (``where="t.name = ?"``), checked so that it can be nothing else.

Online scorers, ``metrics()``, alert rules and ``compare_versions()`` all take one, and all check it
here. A condition cannot be a bound parameter, so its text goes into ours; before it does, DuckDB's
own parser reads it inside the very wrapper it will sit in, ``SELECT ? FROM traces AS t WHERE (⏎<where>⏎)``
(the line breaks end a trailing ``--`` comment before our closing parenthesis):

1. exactly one statement, a SELECT (``extract_statements``): ``1=1); DROP TABLE spans; --`` is refused;
2. the same statement as with the condition ``TRUE`` but for its WHERE clause (``json_serialize_sql``):
   a condition that closes our parenthesis to add a UNION, GROUP BY, ORDER BY or LIMIT changes more;
3. no table functions and no file paths as tables (``read_csv('/etc/passwd')``, ``FROM 'x.csv'``): the
   condition reads the store's tables, nothing else;
4. ``?`` placeholders only, one value in ``params`` for each; given a connection, it is run once on no
   rows, so a misspelt column fails here and not in the middle of a monitor's pass.

Values belong in ``params``, never in the text: the messages say so.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from .._errors import LlmopsError

__all__ = ["TRAFFIC", "FilterError", "check_where", "wrap"]

#: Production traffic, as every monitoring query reads it: traces llmops_nb wrote itself — a monitor's
#: judge calls (tagged ``llmops_nb.monitor``), an evaluation's rows (``llmops_nb.eval_run``) — are not
#: the app's traffic: no metric counts them and no online scorer scores them.
TRAFFIC = ("(t.tags IS NULL OR (json_extract(t.tags, '$.\"llmops_nb.monitor\"') IS NULL "
           "AND json_extract(t.tags, '$.\"llmops_nb.eval_run\"') IS NULL))")

_PREFIX = "SELECT ? FROM traces AS t WHERE "
_EXAMPLE = "e.g. where=\"t.name = ? AND json_extract_string(t.tags, '$.env') = ?\", params=['chat', 'prod']"
_PATH_CHARS = frozenset("./\\:")


class FilterError(LlmopsError, ValueError):
    """A ``where=`` that is not one SQL condition on ``traces t`` with its ``params``."""


def wrap(where: str) -> str:
    """``where`` as it sits in every query: its own lines inside parentheses."""
    return f"(\n{where}\n)"


def check_where(where: Any, params: Sequence[Any] | None, *, what: str = "where",
                con: Any = None) -> tuple[str, list[Any]]:
    """``(sql, params)`` to AND into a query over ``traces t``: ``("TRUE", [])`` without a condition.

    ``what`` names the argument in errors (``metrics(where=...)``); ``con``: run it once on no rows too.

    >>> check_where("t.name = ?", ["support"])
    ('(\\nt.name = ?\\n)', ['support'])
    """
    import duckdb

    if where is None:
        if params:
            raise FilterError(f"{what}: params fill the ? placeholders of a condition: give where= too, "
                              f"{_EXAMPLE}.")
        return "TRUE", []
    if not isinstance(where, str) or not where.strip():
        raise TypeError(f"{what} takes a SQL condition on the traces table t, {_EXAMPLE}; got {where!r}.")
    if params is not None and (isinstance(params, (str, bytes)) or not isinstance(params, Sequence)):
        raise TypeError(f"{what}: params is a list of values, one per ? in the condition; got {params!r}.")
    values = list(params or ())
    statement = _PREFIX + wrap(where)
    parser = con if con is not None else duckdb.connect(":memory:")
    try:
        try:
            statements = parser.extract_statements(statement)
        except duckdb.Error as exc:
            raise _refused(what, where, f"DuckDB could not parse it: {_first_lines(exc)}") from None
        if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
            raise _refused(what, where, f"it makes {len(statements)} statements of our one SELECT")
        names = set(statements[0].named_parameters) - {"1"}  # "1" is the wrapper's own ?
        if any(not name.isdigit() for name in names):
            raise _refused(what, where, "it uses named parameters ($name); use ? placeholders")
        if len(names) != len(values):
            raise FilterError(f"{what} {where!r} has {len(names)} ? placeholder(s) but {len(values)} value(s) in "
                              f"params: give one value in params for each ?, {_EXAMPLE}.")
        _check_shape(parser, what, where)
    finally:
        if con is None:
            parser.close()
    if con is not None:
        try:
            con.execute(statement + " LIMIT 0", [None, *values]).fetchall()
        except duckdb.Error as exc:
            raise FilterError(f"{what} {where!r} with params={values!r} cannot run: {_first_lines(exc)}. Name the "
                              f"traces columns as t.<column> (t.name, t.status, t.tags, t.session, ...), give one "
                              f"value in params for each ?, {_EXAMPLE}.") from None
    return wrap(where), values


def _check_shape(con: Any, what: str, where: str) -> None:
    """Refuse a condition that changes our statement beyond its WHERE clause, or reads outside the store."""
    mine, reference = (_node(con, what, _PREFIX + wrap(text)) for text in (where, "TRUE"))
    condition = mine.pop("where_clause", None)
    reference.pop("where_clause", None)
    if mine != reference:
        raise _refused(what, where, "it is more than a condition: it changes the query around it (a closing "
                                    "parenthesis followed by UNION, GROUP BY, ORDER BY, LIMIT, ...)")
    for node in _walk(condition):
        kind, table = node.get("type"), node.get("table_name")
        if kind == "TABLE_FUNCTION" or (kind == "BASE_TABLE" and isinstance(table, str) and _PATH_CHARS & set(table)):
            raise _refused(what, where, "it reads outside the store (a table function or a file); a condition may "
                                        "read the store's tables only, e.g. t.trace_id IN (SELECT trace_id FROM spans "
                                        "WHERE ...)")


def _node(con: Any, what: str, statement: str) -> dict[str, Any]:
    import duckdb

    try:
        found = con.execute("SELECT json_serialize_sql(?)", [statement]).fetchone()
    except duckdb.Error as exc:
        raise FilterError(f"{what} could not be checked: {_first_lines(exc)}.") from None
    parsed: dict[str, Any] = json.loads(found[0]) if found else {"error": True}
    if parsed.get("error") or len(parsed.get("statements", ())) != 1:
        message = parsed.get("error_message") or "not a single SELECT"
        raise FilterError(f"{what} must be one SQL condition on the traces table t: {message}. {_EXAMPLE}.")
    node: dict[str, Any] = parsed["statements"][0]["node"]
    return node


def _walk(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        yield value
        for item in value.values():
            yield from _walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item)


def _refused(what: str, where: str, why: str) -> FilterError:
    return FilterError(f"{what} {where!r} is refused: {why}. It is one SQL condition on the traces table t, with "
                       f"values as ? placeholders filled from params=, {_EXAMPLE}.")


def _first_lines(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return " ".join(lines[:3])
