"""``python -m llmops_nb``: command-line tools.

    python -m llmops_nb export NOTEBOOK.ipynb [-o OUT.html]
    python -m llmops_nb run NOTEBOOK.ipynb --record FILE.llmops | --replay FILE.llmops

``export`` writes the notebook as HTML in which llmops_nb's trace snapshots
show without a network (see ``llmops_nb._export`` for why plain nbconvert
may show nothing).
"""

from __future__ import annotations

import argparse
import sys


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
    args = parser.parse_args(argv)
    if args.command == "run":
        return _run(args)

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


if __name__ == "__main__":
    sys.exit(main())
