"""Generate docs/parquet-export.md: ``python -m llmops_nb.store.parquet_doc > docs/parquet-export.md``.

Like docs/schema.md, the document describes what the code does rather than what someone wrote
down: the migrations build an empty store in memory, ``export_tables`` exports it, and each
column's type is read back from the Parquet file (as pyarrow, Spark and Ray see it). Meanings come
from the migrations' ``--`` comments, or from ``NOTES`` below where a migration has none.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ._migrations import migrate
from ._parquet_export import MANIFEST, PARTITION_KEYS, SKIPPED, TABLES, Connect, export_tables
from .schema_doc import _column_comments

#: columns holding JSON text (Parquet strings: parse them with from_json / json.loads)
JSON_COLUMNS = {
    "spans": {"error", "inputs", "outputs", "attributes", "events"},
    "traces": {"tags", "cell"},
    "eval_runs": {"scorers", "summary", "params"},
    "eval_results": {"inputs", "outputs", "expectations"},
    "assessments": {"value"},
    "eval_dataset_rows": {"inputs", "expectations", "outputs"},
    "prompt_versions": {"template", "variables", "tags", "model_config"},
}

#: meanings of the columns whose migration has no ``--`` comment
NOTES = {
    ("spans", "name"): "the span's name (a function, a step, an SDK call)",
    ("spans", "end_ns"): "epoch nanoseconds",
    ("spans", "status_message"): "the message set with the status (an error's message)",
    ("spans", "model"): "gen_ai.response.model (or the request's model) of an LLM span",
    ("spans", "input_tokens"): "gen_ai.usage.input_tokens",
    ("spans", "output_tokens"): "gen_ai.usage.output_tokens",
    ("spans", "cost_usd"): "llmops_nb.cost_usd: the call's price in USD; NULL when not priced",
    ("dropped_spans", "recorded_at"): "when the spans were dropped (UTC)",
    ("dropped_spans", "trace_id"): "the trace that lost spans, when only one did",
    ("dropped_spans", "count"): "spans dropped",
    ("dropped_spans", "process_id"): "the process that dropped them",
    ("dropped_spans", "traces"): "how many traces lost spans",
    ("dropped_spans", "reason"): "why: the memory bound, an unwritable span, ...",
    ("eval_runs", "name"): "the run's name: evaluate(name=...), else the dataset's or the predict_fn's",
    ("eval_runs", "ended_at"): "UTC; NULL while running",
    ("eval_runs", "dataset_name"): "the evaluated dataset, when it came from the store",
    ("eval_runs", "dataset_version"): "its version",
    ("eval_runs", "wall_s"): "the run's wall time in seconds",
    ("eval_runs", "error_message"): "why the run failed or was interrupted",
    ("eval_results", "run_id"): "the run (eval_runs.run_id)",
    ("eval_results", "output_tokens"): "LLM tokens of the app's spans (judges' excluded)",
    ("assessments", "row_index"): "the run's row it assesses (eval_results.row_index)",
    ("eval_datasets", "name"): "the dataset's name",
    ("eval_datasets", "row_count"): "rows in this version",
    ("eval_datasets", "description"): "free text",
    ("eval_datasets", "author"): "who created this version",
    ("eval_dataset_rows", "name"): "the dataset (eval_datasets.name)",
    ("eval_dataset_rows", "version"): "its version (eval_datasets.version)",
    ("prompt_versions", "commit_message"): "why this version was registered",
    ("prompt_aliases", "name"): "the prompt (prompt_versions.name)",
    ("prompt_aliases", "version"): "the version the alias points to",
    ("prompt_alias_history", "name"): "the prompt",
    ("prompt_alias_history", "alias"): "the alias that moved",
    ("prompt_alias_history", "author"): "who moved it",
}


def render() -> str:
    import duckdb
    import pyarrow.parquet as pq

    con = duckdb.connect(":memory:")
    migrate(con)
    stored = {row[0] for row in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'").fetchall()}
    undecided = sorted(stored - {t.name for t in TABLES} - set(SKIPPED))
    if undecided:
        raise RuntimeError(f"tables {undecided} are neither exported nor skipped: add each to TABLES or SKIPPED "
                           "in llmops_nb/store/_parquet_export.py")
    comments = _column_comments()
    not_null = {(t.name, row[1]) for t in TABLES
                for row in con.execute(f"PRAGMA table_info('{t.name}')").fetchall() if row[3]}
    with tempfile.TemporaryDirectory() as tmp:
        export_tables(_plain(con), Path(tmp), ("date",))
        schemas = {t.name: pq.read_schema(next((Path(tmp) / t.name).rglob("*.parquet"))) for t in TABLES}
    con.close()
    lines = [*_INTRO.format(manifest=MANIFEST, keys=", ".join(f"`{k}`" for k in PARTITION_KEYS)).splitlines(),
             "", "| table | placed by (UTC) | notes |", "| --- | --- | --- |"]
    for table in TABLES:
        placed = f"`{table.time.split('.')[-1]}`" if table.time else "not partitioned"
        lines.append(f"| [`{table.name}`](#{table.name}) | {placed} | {table.note} |")
    lines += ["", "Not exported:", ""]
    lines += [f"- `{name}`: {why}." for name, why in sorted(SKIPPED.items())]
    for table in TABLES:
        lines += ["", f"## `{table.name}`", "", "| column | type | JSON | meaning |", "| --- | --- | --- | --- |"]
        for field in schemas[table.name]:
            meaning = comments.get((table.name, field.name)) or NOTES.get((table.name, field.name), "")
            json_mark = "JSON" if field.name in JSON_COLUMNS.get(table.name, ()) else ""
            required = " not null" if (table.name, field.name) in not_null else ""
            lines.append(f"| `{field.name}` | {field.type}{required} | {json_mark} "
                         f"| {meaning} |")
        if table.time is not None:
            lines.append("| `date` | partition (folder name) | | the UTC date of the row's time, `YYYY-MM-DD` |")
    return "\n".join(lines) + "\n"


def _plain(con: Any) -> Connect:
    @contextlib.contextmanager
    def connect(expected_s: float = 0.0) -> Iterator[Any]:
        yield con

    return connect


_INTRO = """# Parquet export

Generated from `llmops_nb/store/_parquet_export.py` and the store's migrations by
`python -m llmops_nb.store.parquet_doc > docs/parquet-export.md`; do not edit by hand.

`llmops_nb.export_parquet(DIR)` or `python -m llmops_nb store export DIR` writes the store's data as
Parquet that Spark, Ray Data, Trino, DuckDB and pyarrow read, one folder per table, Hive-partitioned:

```
DIR/
  {manifest}            what was exported: time range, partition columns, rows per table
  spans/date=2026-12-06/part-00000-0.parquet
  spans/date=2026-12-07/part-00001-0.parquet
  traces/date=2026-12-06/part-00000-0.parquet
  prompt_aliases/part-00000.parquet
  ...
```

- **Partitions.** `date` is the UTC date of each row's own time (the table below says which column).
  `partition_by` may name {keys} instead (nested in the order given, e.g.
  `("year", "month")` gives `year=2026/month=12/`), or `()` for none. A row without a time (a trace
  known only from dropped spans) is in `date=__HIVE_DEFAULT_PARTITION__`, Hive's folder for NULL; the
  partition column is in the folder name only, not inside the files.
- **Files.** `part-<step>-<n>.parquet` (unpartitioned: `part-<step>.parquet`): a table is written in
  steps over ranges of its time, so that the store's file is never held for long while other kernels
  write; each step writes one file per partition it touches, and no row is in two files. A table
  with no rows is one file with no rows, so readers still find its schema. Compression is DuckDB's
  default (Snappy).
- **Range.** `since` (inclusive) and `until` (exclusive) select rows by the same time that places them;
  a time without an offset is local time, as `traces(since=...)` reads it; write
  `--since 2026-12-06T00:00Z` to start exactly at `date=2026-12-06`.
  Rows without a time are exported only when neither is given.
- **Types.** Epoch-nanosecond columns (`*_ns`) are int64. Timestamp columns are UTC wall-clock times
  stored without a time zone (Parquet `TIMESTAMP(MICROS, isAdjustedToUTC=false)`). Columns marked JSON
  hold JSON text as strings: parse them in the reader (`from_json`, `json_extract`, `json.loads`).
- **Consistency.** Other kernels may write while the export runs. Each step sees the store as it is
  then, so a trace's totals may count spans written after its spans' step. Export a range that has
  ended (`--until` in the past) for a stable result.
- **Replacing.** `DIR` must be new or empty; `overwrite=True` (`--overwrite`) replaces the tables'
  folders and the manifest and leaves other files alone. Tables are written into a hidden folder in
  `DIR` and moved into place once all are written: a failed export leaves `DIR` as it was.

Reading it back:

```python
duckdb.sql("SELECT * FROM read_parquet('DIR/spans/**/*.parquet', hive_partitioning = true)")
pyarrow.dataset.dataset("DIR/spans", format="parquet", partitioning="hive")
spark.read.parquet("DIR/spans")            # discovers date=... as a column
ray.data.read_parquet("DIR/spans")         # Hive partitions become columns
```

Trino reads it through its Hive connector: an external table per folder (`external_location`,
`format = 'PARQUET'`, `partitioned_by = ARRAY['date']`, the partition column last and quoted,
as `date` is a keyword), then `CALL system.sync_partition_metadata(schema, table, 'ADD')` after
each export.

## Tables"""


if __name__ == "__main__":
    print(render(), end="")
