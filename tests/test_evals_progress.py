"""The progress bar of evaluate(): a widget while the run goes, one line of text once it is done, so a saved
notebook or an export never holds the widgets' repr (``HBox(children=(IntProgress(...``)."""

from __future__ import annotations

import html
import json

import pytest
from support import errors, outputs_text, run_cells

from llmops_nb.evals._progress import Progress


@pytest.fixture(scope="module")
def cells(tmp_path_factory):
    db = tmp_path_factory.mktemp("evals-progress") / "nb.duckdb"
    return run_cells([
        # 0: a run with a bar, shown while it goes
        "import time\n"
        "from llmops_nb.evals import evaluate\n"
        "def slow(q):\n    time.sleep(0.02)\n    return q.upper()\n"
        "df = evaluate([{'inputs': {'q': c}} for c in 'abcdef'], predict_fn=slow, name='bar <run>')\n"
        "print('rows', len(df))",
        # 1: a run where some rows fail: the line says how many
        "def flaky(q):\n    if q == 'b':\n        raise ValueError('no')\n    return q\n"
        "evaluate([{'inputs': {'q': c}} for c in 'abc'], predict_fn=flaky, name='flaky run');",
    ], db)


def _outputs(cell):
    return [o for o in cell.outputs if o.output_type in ("display_data", "execute_result")]


def test_a_finished_bar_leaves_one_line_of_text(cells):
    assert not errors(cells[0]), outputs_text(cells[0])
    saved = json.dumps([o for cell in cells for o in cell.outputs])
    assert "IntProgress" not in saved and "HBox" not in saved
    lines = [o for o in _outputs(cells[0]) if o["data"].get("text/plain", "").startswith("bar <run>: ")]
    assert len(lines) == 1, outputs_text(cells[0])
    data = lines[0]["data"]
    assert set(data) == {"text/plain", "text/html"}  # the bar's widget view was replaced
    assert data["text/plain"].startswith("bar <run>: 6/6 rows · ") and data["text/plain"].endswith(" s")
    escaped = html.escape(data["text/plain"])  # the run's name is text, never markup
    assert data["text/html"] == f'<div class="llmops-nb-progress">{escaped}</div>' and "&lt;run&gt;" in escaped
    assert "rows 6" in outputs_text(cells[0])


def test_the_line_counts_failed_rows(cells):
    assert not errors(cells[1]), outputs_text(cells[1])
    (line,) = [o["data"]["text/plain"] for o in _outputs(cells[1])
               if o["data"].get("text/plain", "").startswith("flaky run: ")]
    assert line.startswith("flaky run: 3/3 rows · ") and line.endswith(" · 1 error")


def test_outside_a_notebook_nothing_is_shown(capsys):
    bar = Progress(3, "quiet")  # pytest: neither a kernel nor a terminal
    bar.update(2)
    bar.close("FINISHED", 3)
    assert capsys.readouterr() == ("", "")
