"""Sections of ``docs/benchmarks.md`` written by standalone scripts, kept when ``python -m benchmarks`` rewrites it.

The suite regenerates the whole file; a script outside it (``loopback_bench.py --publish``) writes
its section after :data:`MARKER`, between ``<!-- NAME -->`` and ``<!-- /NAME -->``, and the suite
carries everything from the marker on into the new file.
"""

from __future__ import annotations

from pathlib import Path

MARKER = "<!-- Standalone benchmarks: each section is written by its own script and kept across runs. -->"


def keep(report: str, output: Path) -> str:
    """``report`` followed by the standalone sections of the file it replaces."""
    old = output.read_text(encoding="utf-8") if output.exists() else ""
    if MARKER not in old:
        return report
    return report.rstrip("\n") + "\n\n" + old[old.index(MARKER):]


def publish(name: str, markdown: str, output: Path) -> None:
    """Write (or replace) the standalone section ``name`` of ``output``."""
    text = output.read_text(encoding="utf-8") if output.exists() else ""
    section = f"<!-- {name} -->\n{markdown.strip()}\n<!-- /{name} -->\n"
    start, end = text.find(f"<!-- {name} -->"), text.find(f"<!-- /{name} -->")
    if start >= 0 and end > start:
        text = text[:start] + section + text[end + len(f"<!-- /{name} -->\n"):]
    else:
        if MARKER not in text:
            text = text.rstrip("\n") + "\n\n" + MARKER + "\n"
        text = text.rstrip("\n") + "\n\n" + section
    output.write_text(text, encoding="utf-8")
