"""Migration m006: ``traces.session`` gets the session a root's attributes name, on the file store and
with the lake's body (its ``trace_parts`` view, applied here to a plain DuckDB: the SQL is the same)."""

from __future__ import annotations

import duckdb

from llmops_nb.store import _lake_schema, _migrations

M006 = "m006_trace_session_from_root"
# (trace, traces.session, the root's attributes) -> the session expected after the migration
CASES = [
    ("a" * 32, None, '{"session.id": "oi-1"}', "oi-1"),
    ("b" * 32, "", '{"gen_ai.conversation.id": "otel-2"}', "otel-2"),
    ("c" * 32, None, '{"session.id": "", "gen_ai.conversation.id": "otel-3"}', "otel-3"),  # empty: the next name
    ("d" * 32, "own", '{"session.id": "ignored"}', "own"),  # the trace's own session comes first
    ("e" * 32, None, '{"session.id": "broken', None),  # malformed JSON: left alone, the migration runs
    ("f" * 32, None, '{"user.id": "u"}', None),
    ("1" * 32, None, '{"session.id": 7}', "7"),  # a number, as its text
    ("0" * 32, None, None, None),
]


def _fill(con: duckdb.DuckDBPyConnection, traces_table: str) -> None:
    for i, (trace_id, session, attributes, _) in enumerate(CASES):
        con.execute("INSERT INTO spans (trace_id, span_id, name, kind, start_ns, end_ns, status, attributes) "
                    "VALUES (?, ?, 'root', 'AGENT', ?, ?, 'OK', ?)", [trace_id, f"{i + 1:016x}", i, i + 1, attributes])
        # a child that names a session too: only roots count
        con.execute("INSERT INTO spans (trace_id, span_id, parent_span_id, name, kind, start_ns, end_ns, status, "
                    "attributes) VALUES (?, ?, ?, 'child', 'LLM', ?, ?, 'OK', '{\"session.id\": \"child\"}')",
                    [trace_id, f"{i + 100:016x}", f"{i + 1:016x}", i, i + 1])
        if traces_table == "traces":
            con.execute("INSERT INTO traces (trace_id, name, status, start_ns, end_ns, span_count, session) "
                        "VALUES (?, 'root', 'OK', ?, ?, 2, ?)", [trace_id, i, i + 1, session])
        else:
            con.execute("INSERT INTO trace_parts (trace_id, batch_id, written_ns, name, status, start_ns, end_ns, "
                        "span_count, session) VALUES (?, 'b1', 1, 'root', 'OK', ?, ?, 2, ?)",
                        [trace_id, i, i + 1, session])


def _sessions(con: duckdb.DuckDBPyConnection) -> dict[str, str | None]:
    return dict(con.execute("SELECT trace_id, session FROM traces").fetchall())


def _expected() -> dict[str, str | None]:
    return {trace_id: expected for trace_id, _, _, expected in CASES}


def test_the_file_store_migration_fills_in_the_roots_session():
    con = duckdb.connect(":memory:")
    _migrations.migrate(con, upto=[name for name, _ in _migrations.MIGRATIONS].index(M006))
    _fill(con, "traces")
    assert _migrations.migrate(con) == [M006]
    assert _sessions(con) == _expected()


def test_the_lake_migration_adds_a_part_the_view_reads():
    con = duckdb.connect(":memory:")
    names = [name for name, _ in _lake_schema.LAKE_MIGRATIONS]
    _migrations.apply(con, _lake_schema.LAKE_MIGRATIONS[:names.index(M006)], "name VARCHAR NOT NULL")
    _fill(con, "trace_parts")
    assert _migrations.apply(con, _lake_schema.LAKE_MIGRATIONS, "name VARCHAR NOT NULL") == [M006]
    assert _sessions(con) == _expected()
    # the totals are untouched by the parts it added
    assert set(con.execute("SELECT span_count FROM traces").fetchall()) == {(2,)}
