"""``python -m llmops_nb``: command-line tools.

    python -m llmops_nb export NOTEBOOK.ipynb [-o OUT.html]
    python -m llmops_nb run NOTEBOOK.ipynb --record FILE.llmops | --replay FILE.llmops
    python -m llmops_nb store export DIR [--partition-by date] [--since ISO] [--until ISO] [--overwrite]
    python -m llmops_nb store maintain [--keep-days 7] [--db PATH|URL]
    python -m llmops_nb store retention --days 90 [--db PATH|URL]
    python -m llmops_nb store copy SRC DST [--data-path PATH]
    python -m llmops_nb gateway --config gateway.yaml [--host 127.0.0.1] [--port 4000] [--db PATH] [--allow-remote]

``export`` writes the notebook as HTML in which llmops_nb's trace snapshots
show without a network (see ``llmops_nb._export`` for why plain nbconvert
may show nothing). ``store`` groups the commands that work on the store's data
as a whole; each ``store`` command is one ``_add_store_*`` function that adds
its parser and names its handler, so a new one is added without touching the others.
``gateway`` serves an AI gateway (``llmops_nb.gateway``) over HTTP until Ctrl-C or SIGTERM: exit
code 0 after a clean stop, 1 when it cannot listen, 2 for a bad config or arguments.

Exit codes of the ``store`` commands: 0 done; 1 the work failed or was refused
(the store is locked, the folder is not empty, a write failed, a copy's SRC and DST
hold conflicting versions); 2 bad arguments (argparse's own code for a usage error).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m llmops_nb", description="llmops_nb command-line tools.")
    commands = parser.add_subparsers(dest="command", required=True)
    export = commands.add_parser(
        "export", help="write a notebook as HTML whose trace snapshots show offline",
        description="Write NOTEBOOK as HTML, showing each llmops_nb trace as its static snapshot (no network, "
                    "no JavaScript needed).")
    export.add_argument("notebook", metavar="NOTEBOOK.ipynb")
    export.add_argument("-o", "--output", metavar="OUT.html", default=None,
                        help="where to write (default: the notebook's path with .html)")
    run = commands.add_parser(
        "run", help="run a notebook recording its LLM calls, or replay them and compare the outputs",
        description="Run NOTEBOOK in a fresh kernel. --record: its LLM calls go out and are written, with the "
                    "notebook's outputs, to FILE. --replay: every LLM call is answered from FILE (no network, no "
                    "key) and the outputs are compared with the recorded ones; exit code 1 on a difference.")
    run.add_argument("notebook", metavar="NOTEBOOK.ipynb")
    mode = run.add_mutually_exclusive_group(required=True)
    mode.add_argument("--record", metavar="FILE.llmops", help="run live and write the recording here")
    mode.add_argument("--replay", metavar="FILE.llmops", help="answer LLM calls from this recording")
    run.add_argument("--fallthrough", action="store_true",
                     help="with --replay: send calls that were not recorded instead of failing")
    run.add_argument("--no-check", action="store_true", help="with --replay: do not compare the outputs")
    run.add_argument("-o", "--output", metavar="OUT.ipynb", help="also save the executed notebook")
    run.add_argument("--timeout", type=float, default=600, help="seconds per cell (default 600)")
    run.set_defaults(handler=_run)
    export.set_defaults(handler=_export)
    store = commands.add_parser(
        "store", help="work on the store's data as a whole (export, maintain, retention, copy)",
        description="Commands on the store's data as a whole. The store is the configured one "
                    "(LLMOPS_NB_DB, or the default path) unless --db names another.")
    store_commands = store.add_subparsers(dest="store_command", required=True, metavar="COMMAND")
    _add_store_export(store_commands)
    _add_store_maintain(store_commands)
    _add_store_retention(store_commands)
    _add_store_copy(store_commands)
    _add_gateway(commands)
    _add_monitor(commands)
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    return handler(args)


def _export(args: argparse.Namespace) -> int:
    from ._export import export_html

    try:
        written = export_html(args.notebook, args.output)
    except (OSError, ValueError, ImportError) as exc:
        print(f"llmops_nb export: {exc}", file=sys.stderr)
        return 2
    size_kb = written.stat().st_size / 1000
    print(f"Wrote {written} ({size_kb:,.0f} KB): trace snapshots shown as static HTML, readable offline.")
    return 0


def _run(args: argparse.Namespace) -> int:
    from .replay._notebook import NotebookRunError, run
    from .replay._storage import RecordingError

    try:
        difference = run(args.notebook, record=args.record, replay=args.replay, fallthrough=args.fallthrough,
                         check=not args.no_check, output=args.output, timeout=args.timeout)
    except (NotebookRunError, RecordingError, OSError, ValueError, ImportError) as exc:
        print(f"llmops_nb run: {exc}", file=sys.stderr)
        return 1
    if difference is not None:
        print(f"llmops_nb run: {args.notebook}: {difference}", file=sys.stderr)
        return 1
    done = f"recorded into {args.record}" if args.record else f"replayed from {args.replay}" + (
        ", outputs as recorded" if not args.no_check else "")
    print(f"llmops_nb run: {args.notebook}: {done}")
    return 0


def _add_db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", metavar="PATH|URL", default=None,
                        help="the store: a DuckDB file or a ducklake:postgres:... URL (default: LLMOPS_NB_DB or the "
                             "configured store; a lake's data path from LLMOPS_NB_DATA_PATH)")


def _use_db(args: argparse.Namespace) -> str | None:
    """Point this process at ``--db`` (a file must exist: a mistyped path would be a new, empty store);
    returns why it cannot, or None."""
    if args.db is None:
        return None
    from pathlib import Path

    from ._runtime import configure

    if not args.db.startswith("ducklake:") and not Path(args.db).expanduser().is_file():
        return f"no store at {args.db} (--db names an existing llmops_nb DuckDB file or a ducklake: URL)"
    configure(db=args.db)
    return None


def _add_store_maintain(store_commands: Any) -> None:
    maintain = store_commands.add_parser(
        "maintain", help="compact the store (a lake: flush inlined rows, merge files, expire snapshots, delete files)",
        description="On a DuckLake store: flush rows inlined in the catalog, merge small Parquet files, expire "
                    "snapshots older than --keep-days and delete the files no kept snapshot needs. On a DuckDB file: "
                    "checkpoint. Safe while other processes write; run it from cron on a team store.")
    maintain.add_argument("--keep-days", type=float, default=7.0,
                          help="days of history kept for time travel (default 7)")
    _add_db_option(maintain)
    maintain.set_defaults(handler=_store_maintain)


def _store_maintain(args: argparse.Namespace) -> int:
    import datetime as dt

    from .store._maintain import maintain

    if args.keep_days < 0:
        print("llmops_nb store maintain: --keep-days is a number of days, 0 or more", file=sys.stderr)
        return 2
    return _on_store("maintain", args, lambda: maintain(keep=dt.timedelta(days=args.keep_days)),
                     lambda done: "Maintained: " + ", ".join(f"{key} {value}" for key, value in done.items()))


def _on_store(command: str, args: argparse.Namespace, work: Callable[[], Any], report: Callable[[Any], str],
              errors: tuple[type[BaseException], ...] = ()) -> int:
    """The store ``--db`` names (or the configured one), ``work()`` run on it and ``report`` of its result
    printed: 0. A store that cannot be used, or a StoreError (or one of ``errors``) from the work: 1, the
    cause printed as ``llmops_nb store COMMAND: ...``."""
    from .store._errors import StoreError

    caught: tuple[type[BaseException], ...] = (StoreError, *errors)
    problem = _use_db(args)
    if problem:
        print(f"llmops_nb store {command}: {problem}", file=sys.stderr)
        return 1
    try:
        done = work()
    except caught as exc:
        print(f"llmops_nb store {command}: {exc}", file=sys.stderr)
        return 1
    print(report(done))
    return 0


def _add_store_retention(store_commands: Any) -> None:
    retention = store_commands.add_parser(
        "retention", help="delete traces older than --days, keeping per-day, per-model totals (for cron)",
        description="Delete the traces that started more than DAYS days ago with their spans, after adding "
                    "their per-day, per-model totals to daily_usage; recorded in the audit trail. Run it from "
                    "cron (or the served app's scheduler) to keep a retention rule.")
    retention.add_argument("--days", type=float, required=True, help="how many days of traces to keep (> 0)")
    _add_db_option(retention)
    retention.set_defaults(handler=_store_retention)


def _store_retention(args: argparse.Namespace) -> int:
    from .store._retention import apply_retention

    if not args.days > 0:
        print("llmops_nb store retention: --days is how many days of traces to keep, more than 0", file=sys.stderr)
        return 2
    return _on_store("retention", args, lambda: apply_retention(days=args.days),
                     lambda done: "Retention: " + ", ".join(f"{key} {value}" for key, value in done.items()))


def _add_store_export(store_commands: Any) -> None:
    export = store_commands.add_parser(
        "export", help="write the store's tables as Hive-partitioned Parquet (Spark, Ray Data, Trino, DuckDB)",
        description="Write traces, spans, evaluation runs, results and assessments (feedback included), "
                    "datasets and prompts as Parquet under DIR, one folder per table, partitioned by the UTC "
                    "date of each row's time (DIR/spans/date=2026-12-06/...). Layout and columns: "
                    "docs/parquet-export.md.")
    export.add_argument("dir", metavar="DIR", help="a new or empty folder (see --overwrite)")
    export.add_argument("--partition-by", metavar="COLUMNS", default="date",
                        help="comma-separated partition columns among date, year, month, day, hour; "
                             "'none' for no partitioning (default: date)")
    export.add_argument("--since", metavar="ISO",
                        help="only rows at or after this time (local time without an offset; Z for UTC)")
    export.add_argument("--until", metavar="ISO", help="only rows before this time (local time without an offset)")
    export.add_argument("--overwrite", action="store_true",
                        help="replace the tables' folders in a DIR that is not empty (other files are kept)")
    _add_db_option(export)
    export.set_defaults(handler=_store_export)


def _store_export(args: argparse.Namespace) -> int:
    import duckdb

    from .store._parquet_export import export_parquet, partition_columns, utc_bound

    text = args.partition_by.strip()
    names = () if text.lower() in ("", "none") else tuple(part.strip() for part in text.split(","))
    try:
        keys = partition_columns(names)
        utc_bound(args.since, "--since")
        utc_bound(args.until, "--until")
    except ValueError as exc:
        print(f"llmops_nb store export: {exc}", file=sys.stderr)
        return 2
    started = time.monotonic()

    def report(counts: dict[str, int]) -> str:
        rows = ", ".join(f"{table} {count:,}" for table, count in counts.items())
        return f"Exported to {args.dir} in {time.monotonic() - started:.1f} s: {rows} rows."

    # DuckDB's errors: a Parquet write that failed
    return _on_store("export", args, lambda: export_parquet(args.dir, keys, since=args.since, until=args.until,
                                                            overwrite=args.overwrite),
                     report, (OSError, ValueError, duckdb.Error))


def _add_store_copy(store_commands: Any) -> None:
    copy = store_commands.add_parser(
        "copy", help="copy everything a store holds into another: file <-> lake, or an export folder into either",
        description="Copy traces, spans, evaluations, feedback, datasets, prompts and recorded calls from SRC to DST, "
                    "skipping what DST already has (running it again adds nothing; a copy that stopped is finished "
                    "by running it again). Prompt or dataset versions both hold with different content stop the copy "
                    "before anything is written; DST's aliases are never moved. A DuckDB file written by duckdb 2.x "
                    "reaches a lake in two steps: `store export DIR --db FILE` where the file opens, then "
                    "`store copy DIR ducklake:...` where the lake's packages (duckdb 1.5.5) are.")
    copy.add_argument("src", metavar="SRC", help="a DuckDB file, a ducklake:postgres:... URL, or a folder written by "
                                                 "`store export`")
    copy.add_argument("dst", metavar="DST", help="a DuckDB file (created if new) or a ducklake:postgres:... URL")
    copy.add_argument("--data-path", metavar="PATH", default=None,
                      help="where a new lake DST keeps its data files (default: LLMOPS_NB_DATA_PATH)")
    copy.set_defaults(handler=_store_copy)


def _store_copy(args: argparse.Namespace) -> int:
    import duckdb

    from ._config import mask_dsn_passwords
    from ._errors import LlmopsError
    from .store._copy import copy_store

    try:
        report = copy_store(args.src, args.dst, data_path=args.data_path)
    except (LlmopsError, OSError, ValueError, duckdb.Error) as exc:
        print(f"llmops_nb store copy: {mask_dsn_passwords(str(exc))}", file=sys.stderr)
        return 1
    for line in report.lines():
        print(line)
    return 0


def _add_gateway(commands: Any) -> None:
    gateway = commands.add_parser(
        "gateway", help="serve an AI gateway (OpenAI and Anthropic routes, virtual keys, budgets) over HTTP",
        description="Serve the gateway a config describes (LiteLLM's model_list / router_settings vocabulary) on "
                    "HOST:PORT until Ctrl-C or SIGTERM; every request is a trace in the store. Every route needs a "
                    "key: the config's general_settings.master_key, or a virtual key made with POST /key/generate.")
    gateway.add_argument("--config", metavar="gateway.yaml", required=True, help="the gateway's config (YAML)")
    gateway.add_argument("--host", default="127.0.0.1",
                         help="the address to listen on (default 127.0.0.1; another needs --allow-remote)")
    gateway.add_argument("--port", type=int, default=4000, help="the port (default 4000; 0: a free one)")
    gateway.add_argument("--allow-remote", action="store_true",
                         help="allow --host to be an address other machines reach (needs the config's master_key)")
    _add_db_option(gateway)
    gateway.set_defaults(handler=_gateway)


def _add_monitor(commands: Any) -> None:
    monitor = commands.add_parser(
        "monitor", help="score new traces with online judges and check alert rules, pass after pass",
        description="Run the monitor a config describes (scorers, alert rules, webhooks): a pass every interval "
                    "until Ctrl-C or SIGTERM, or one pass with --once (for cron). Each trace is scored once per "
                    "scorer version, however often this runs and wherever it is killed.")
    monitor.add_argument("--config", metavar="monitor.yaml", required=True, help="the monitor's config (YAML)")
    monitor.add_argument("--once", action="store_true", help="one pass, then exit (1 if a scorer's pass failed)")
    _add_db_option(monitor)
    monitor.set_defaults(handler=_monitor)


def _monitor(args: argparse.Namespace) -> int:
    from ._errors import LlmopsError
    from ._runtime import configure
    from .monitor._config import load_monitor
    from .monitor._process import run

    try:
        monitor, store = load_monitor(args.config)
        db = args.db or store  # --db wins over the config's store
        if db is not None:
            configure(db=db)
    except (LlmopsError, OSError, ValueError) as exc:
        print(f"llmops_nb monitor: {exc}", file=sys.stderr)
        return 2
    try:
        return run(monitor, once=args.once)
    finally:
        monitor.close()


def _gateway(args: argparse.Namespace) -> int:
    from ._errors import LlmopsError
    from ._runtime import configure
    from .gateway import load, load_config
    from .gateway._server import NO_MASTER_KEY, serve
    from .tracing import flush

    if not 0 <= args.port <= 65535:
        print(f"llmops_nb gateway: --port is 0 (a free port) to 65535, not {args.port}", file=sys.stderr)
        return 2
    try:
        config = load_config(args.config)
        db = args.db or config.store  # --db wins over general_settings.store
        if db is not None:  # before the gateway reads the spend so far from the store
            configure(db=db)
        gateway = load(config)
    except (LlmopsError, OSError, ValueError) as exc:
        print(f"llmops_nb gateway: {exc}", file=sys.stderr)
        return 2
    if gateway.config.master_key_ref is None:
        print(f"llmops_nb gateway: {args.config}: {NO_MASTER_KEY}", file=sys.stderr)
        return 2
    try:
        server = serve(gateway, args.host, args.port, allow_remote=args.allow_remote)
    except ValueError as exc:  # a refused --host: a usage error
        print(f"llmops_nb gateway: {exc}", file=sys.stderr)
        return 2
    except (LlmopsError, OSError) as exc:
        print(f"llmops_nb gateway: cannot serve on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    models = len(gateway.model_names(None))
    print(f"llmops_nb gateway on {server.url} ({models} model{'s' if models != 1 else ''}) — Ctrl-C to stop",
          flush=True)
    try:
        server.wait()
    finally:
        flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
