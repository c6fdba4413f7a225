"""Export a notebook to HTML that shows llmops_nb's traces offline.

Every llmops_nb view displays as a widget *and* carries a script-free HTML
snapshot of the trace (``text/html``) in the same output. What a plain
``jupyter nbconvert --to html`` does with that output depends on the
notebook's saved widget state (measured with nbconvert 7.17):

- **With saved widget state** — nbclient saves it by default
  (``store_widget_state=True``, so ``jupyter execute``, papermill and CI runs
  have it), and so does JupyterLab's "Save Widget State Automatically" —
  nbconvert prefers the widget view. The page then builds the widget with
  require.js, ``@jupyter-widgets/html-manager`` and anywidget fetched from
  public CDNs: offline, or wherever those scripts are blocked, the output is
  **empty**, and the snapshot is not in the page at all.
- **Without saved state** nbconvert shows the ``text/html`` snapshot.

``export_html`` (and ``python -m llmops_nb export``) runs nbconvert's
HTMLExporter with ``text/html`` first in ``display_data_priority``, so the
snapshot wins wherever an output has one. It needs no network and no
JavaScript; other widgets in the notebook (without an HTML fallback) keep
their usual rendering. From a shell::

    python -m llmops_nb export analysis.ipynb              # writes analysis.html
    python -m llmops_nb export analysis.ipynb -o out.html

The same with nbconvert alone::

    jupyter nbconvert --to html analysis.ipynb --NbConvertBase.display_data_priority="[\\
        'text/html', 'application/vnd.jupyter.widget-view+json', 'application/javascript', \\
        'text/markdown', 'image/svg+xml', 'text/vnd.mermaid', 'text/latex', 'image/png', \\
        'image/jpeg', 'text/plain']"

(A live offline export, widgets included, would need require.js, the widgets
HTML manager and anywidget's JavaScript shipped beside the page via
``--HTMLExporter.require_js_url`` and ``--HTMLExporter.widget_renderer_url``;
the snapshot makes that unnecessary for reading a trace.)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def export_html(notebook_path: str | os.PathLike[str], output_path: str | os.PathLike[str] | None = None) -> Path:
    """Write ``notebook_path`` as HTML in which trace snapshots show without a network; return the path.

    The default output is the notebook's path with ``.html``.

    >>> import llmops_nb
    >>> llmops_nb.export_html("analysis.ipynb")  # doctest: +SKIP
    PosixPath('analysis.html')
    """
    source = Path(notebook_path)
    if not source.is_file():
        raise FileNotFoundError(f"No notebook at {os.fspath(source)!r}: pass the path of an .ipynb file.")
    target = Path(output_path) if output_path is not None else source.with_suffix(".html")
    if target.resolve() == source.resolve():
        raise ValueError(f"The output {os.fspath(target)!r} would overwrite the notebook; choose another path.")
    body, _ = _exporter().from_filename(os.fspath(source))
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(body, encoding="utf-8")
    from .store._audit import record_quietly

    record_quietly("export.html", os.fspath(target.absolute()), {"notebook": os.fspath(source.absolute())})
    return target


def snapshot_first_priority(default: list[str]) -> list[str]:
    """nbconvert's output order with ``text/html`` moved first (the rest keeps its order)."""
    return ["text/html", *(mime for mime in default if mime != "text/html")]


def _exporter() -> Any:
    try:
        from nbconvert import HTMLExporter
        from traitlets.config import Config
    except ImportError:
        raise ImportError("Exporting to HTML needs nbconvert: pip install nbconvert") from None
    default = list(HTMLExporter().default_config.NbConvertBase.display_data_priority)
    config = Config({"NbConvertBase": {"display_data_priority": snapshot_first_priority(default)}})
    return HTMLExporter(config=config)
