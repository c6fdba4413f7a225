"""evaluate() in a real Jupyter kernel: the kernel's loop keeps running, the progress bar is a widget,
an interrupt (SIGINT, as the notebook's stop button sends) keeps the finished rows."""

from __future__ import annotations

import pytest
from support import errors, outputs_text, run_cells


@pytest.fixture(scope="module")
def cells(tmp_path_factory):
    db = tmp_path_factory.mktemp("evals-kernel") / "nb.duckdb"
    return run_cells([
        # 0: async predict_fn and a top-level await in the same kernel: evaluate() never touches its loop
        "import asyncio\n"
        "from llmops_nb.evals import evaluate, aevaluate, scorers, EvaluationInterrupted, eval_runs\n"
        "async def app(q):\n    await asyncio.sleep(0.01)\n    return q.upper()\n"
        "df = evaluate([{'inputs': {'q': c}} for c in 'abcdef'], predict_fn=app, scorers=[scorers.length()])\n"
        "await asyncio.sleep(0)\n"
        "print('rows', len(df), list(df.outputs), df.attrs['status'])",
        # 1: aevaluate on the kernel's own loop
        "df2 = await aevaluate([{'inputs': {'q': 'x'}}], predict_fn=app, progress=False)\n"
        "print('awaited', df2.outputs[0])",
        # 2: the stop button: SIGINT lands in the kernel's main thread while rows are running
        "import os, signal, threading, time\n"
        "def slow(i):\n    time.sleep(0.05)\n    return i\n"
        "threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT)).start()\n"
        "try:\n"
        "    evaluate([{'inputs': {'i': i}} for i in range(400)], predict_fn=slow, max_concurrency=2, name='long')\n"
        "except EvaluationInterrupted as stop:\n"
        "    partial = stop.results\n"
        "    print('interrupted', 0 < len(partial) < 400, partial.attrs['status'])\n"
        "    run = eval_runs().iloc[0]\n"
        "    print('stored', run['name'], run.status, run.rows_done == len(partial))",
        # 3: the kernel is fine afterwards
        "print('alive', evaluate([{'inputs': {'i': 1}}], predict_fn=slow, progress=False).outputs[0])",
    ], db)


def test_evaluate_in_a_running_kernel_loop(cells):
    assert not errors(cells[0]), outputs_text(cells[0])
    assert "rows 6 ['A', 'B', 'C', 'D', 'E', 'F'] FINISHED" in outputs_text(cells[0])
    widgets = [o for o in cells[0].outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert widgets, "the progress bar is an ipywidgets view in a kernel"
    assert "awaited X" in outputs_text(cells[1])


def test_interrupt_in_the_kernel_keeps_finished_rows(cells):
    text = outputs_text(cells[2])
    assert not errors(cells[2]), text
    assert "interrupted True INTERRUPTED" in text and "stored long INTERRUPTED True" in text
    assert "alive 1" in outputs_text(cells[3])
