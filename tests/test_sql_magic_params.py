"""``$name`` parameters of ``%llm_sql``: only those DuckDB sees as parameters are bound."""

from __future__ import annotations

from llmops_nb.magics._sql_magic import parameter_names


def test_parameters_in_comments_strings_identifiers_and_dollar_quotes_are_text():
    query = (
        "SELECT * FROM traces -- where $commented\n"
        "WHERE name = $name /* $blocked */ AND \"$column\" = '$literal' AND x = 'it''s $quoted'\n"
        "AND y = $$ $dollar $$ AND z = $tag$ $tagged $tag$ AND session = $session"
    )
    assert parameter_names(query) == {"name", "session"}


def test_positional_and_unterminated_constructs_are_safe():
    assert parameter_names("SELECT $1, $name") == {"name"}
    assert parameter_names("SELECT '$open") == set()
    assert parameter_names("SELECT 1 /* $open") == set()
