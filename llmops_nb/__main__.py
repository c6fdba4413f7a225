"""``python -m llmops_nb``: command-line tools.

    python -m llmops_nb export NOTEBOOK.ipynb [-o OUT.html]

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
    args = parser.parse_args(argv)

    from ._export import export_html

    try:
        written = export_html(args.notebook, args.output)
    except (OSError, ValueError, ImportError) as exc:
        print(f"llmops_nb export: {exc}", file=sys.stderr)
        return 2
    size_kb = written.stat().st_size / 1000
    print(f"Wrote {written} ({size_kb:,.0f} KB): trace snapshots shown as static HTML, readable offline.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
