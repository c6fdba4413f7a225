"""Generate docs/schema.md from the migrations: ``python -m llmops_nb.store.schema_doc > docs/schema.md``.

The schema is whatever the migrations build, so the document is built by
running them on an in-memory database and describing the result.
"""

from __future__ import annotations

import inspect
import re

from ._migrations import MIGRATIONS, migrate


def render() -> str:
    import duckdb

    con = duckdb.connect(":memory:")
    migrate(con)
    lines = [
        "# Store schema",
        "",
        "Generated from `llmops_nb/store/_migrations.py` by `python -m llmops_nb.store.schema_doc`;",
        "do not edit by hand. Times are epoch nanoseconds; payload columns hold JSON text.",
        "",
        "## Migrations (append-only, applied in order, recorded in `_llmops_migrations`)",
        "",
    ]
    lines += [f"1. `{name}`: {inspect.getdoc(fn) or ''}" for name, fn in MIGRATIONS]
    comments = _column_comments()
    core = ["traces", "spans", "dropped_spans"]
    others = sorted(r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'").fetchall()
        if r[0] not in core and r[0] != "_llmops_migrations")
    for table in [*core, *others, "_llmops_migrations"]:
        lines += ["", f"## `{table}`", "", "| column | type | notes |", "| --- | --- | --- |"]
        for _, name, kind, not_null, default, primary in con.execute(
                f"PRAGMA table_info('{table}')").fetchall():
            note = comments.get((table, name), "")
            if primary:
                note = ("primary key. " + note).strip()
            if default is not None:
                note = (note + f" (default {default})").strip()
            lines.append(f"| `{name}` | {kind}{' NOT NULL' if not_null else ''} | {note} |")
    con.close()
    return "\n".join(lines) + "\n"


def _column_comments() -> dict[tuple[str, str], str]:
    """``-- comments`` after column definitions in the migrations' CREATE TABLE and ALTER TABLE ... ADD
    COLUMN statements."""
    comments: dict[tuple[str, str], str] = {}
    for _, fn in MIGRATIONS:
        source = inspect.getsource(fn)
        for table, body in re.findall(r"CREATE TABLE (\w+) \((.*?)\n\s*\)", source, re.DOTALL):
            for column, note in re.findall(r"^\s+(\w+)\s+[A-Z][^\n]*?--\s*(.+)$", body, re.MULTILINE):
                comments[(table, column)] = note.strip().replace("|", "\\|")
        for table, column, note in re.findall(r"ALTER TABLE (\w+) ADD COLUMN (\w+) [^\n]*?--\s*(.+)$", source,
                                              re.MULTILINE):
            comments[(table, column)] = note.strip().replace("|", "\\|")
    return comments


if __name__ == "__main__":
    print(render(), end="")
