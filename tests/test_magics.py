"""The magics in a real Jupyter kernel (nbclient), reading the trace back from the DuckDB file."""

from __future__ import annotations

import duckdb
import pytest
from support import errors, outputs_text, run_cells


def _query(db, sql):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    """One kernel run covering the magics' behaviours; tests below read its outputs and store."""
    db = tmp_path_factory.mktemp("magics") / "nb.duckdb"
    cells = [
        # 0: a trace with a VAR, tags, session, threads, tasks and a raw thread
        "%%llm_trace t --name 'my run' --tag env=dev --tag team=x --session s-1\n"
        "import asyncio, concurrent.futures, threading\n"
        "@llmops_nb.trace(kind='TOOL')\n"
        "def tool(i):\n    return i * 2\n"
        "with concurrent.futures.ThreadPoolExecutor(2) as pool:\n    list(pool.map(tool, range(3)))\n"
        "th = threading.Thread(target=tool, args=(9,)); th.start(); th.join()\n"
        "@llmops_nb.trace\nasync def job(i):\n    await asyncio.sleep(0.001)\n    return tool(i)\n"
        "await asyncio.gather(*(job(i) for i in range(2)))\n"
        "'last value'",
        # 1: the variable holds the Trace
        "print(type(t).__name__, t.status, t.span_count, t.tags, t.session)",
        # 2: an exception inside the cell
        "%%llm_trace\ndef broken():\n    raise ValueError('bad input 42')\nbroken()",
        # 3: user mistakes
        "%%llm_trace --nmae x\n1",
        "%%llm_trace --tag novalue\n1",
        "%%llm_trace 1bad\n1",
        # 6: --no-display
        "%%llm_trace --no-display\n@llmops_nb.trace\ndef quiet():\n    return 1\nquiet()",
        # 7: sql magics, with a bound variable
        "name = 'my run'\n%llm_sql SELECT name, span_count FROM traces WHERE name = $name",
        "%%llm_sql frame\nSELECT count(*) AS n FROM traces",
        "print(int(frame.n[0]))",
        "%llm_sql SELECT * FROM no_such_table",
        "%llm_sql SELECT 1 WHERE 1 = $undefined_var",
        # 12: autotrace
        "%llm_autotrace on",
        "@llmops_nb.trace\ndef auto():\n    return 5\nauto()",
        "1 + 1",
        "%llm_autotrace off",
        "auto()",
        "%llm_autotrace maybe",
        # 18: a syntax error inside a traced cell fails the cell like it would without the magic
        "%%llm_trace\nx = (",
    ]
    executed = run_cells(cells, db)
    return db, executed


def test_trace_cell_records_everything_as_one_trace(session):
    db, cells = session
    assert not errors(cells[0]), outputs_text(cells[0])
    text = outputs_text(cells[0])
    assert "'last value'" in text  # the cell's last value still displays
    assert "my run" in text and "spans" in text and "LLM call" in text
    rows = _query(db, "SELECT trace_id, span_count, status, tags, session, cell, request_preview FROM traces "
                      "WHERE name = 'my run'")
    assert len(rows) == 1
    trace_id, span_count, status, tags, sess, cell, preview = rows[0]
    assert preview.startswith('{"cell": "%%llm_trace t --name')  # the cell as written, not our rewrite
    assert status == "OK" and sess == "s-1" and '"env": "dev"' in tags and '"team": "x"' in tags
    assert '"execution_count": 2' in cell and "source_sha256" in cell and "kernel_session" in cell
    # root + 3 pool tools + 1 raw-thread tool + 2 jobs + 2 tools inside jobs
    assert span_count == 9
    spans = _query(db, f"SELECT name, parent_span_id IS NULL FROM spans WHERE trace_id = '{trace_id}'")
    assert sum(1 for _, is_root in spans if is_root) == 1
    assert "tool" in [name for name, _ in spans]


def test_variable_receives_the_trace(session):
    _, cells = session
    assert outputs_text(cells[1]).strip() == "Trace OK 9 {'env': 'dev', 'team': 'x'} s-1"


def test_exception_reaches_the_user_unchanged_and_marks_error(session):
    db, cells = session
    errs = errors(cells[2])
    assert len(errs) == 1 and errs[0].ename == "ValueError" and errs[0].evalue == "bad input 42"
    assert "broken()" in "\n".join(errs[0].traceback)
    assert "✗" in outputs_text(cells[2])
    rows = _query(db, "SELECT status, error_message FROM traces WHERE status = 'ERROR'")
    assert rows == [("ERROR", "bad input 42")]


def test_user_mistakes_raise_usage_errors_with_the_fix(session):
    _, cells = session
    assert "Did you mean '--name'?" in outputs_text(cells[3])
    assert "UsageError" in outputs_text(cells[3])
    assert "--tag KEY=VALUE" in outputs_text(cells[4])
    assert "not a valid Python variable name" in outputs_text(cells[5])
    assert "not a notebook variable" in outputs_text(cells[11])
    assert "expected 'on' or 'off'" in outputs_text(cells[17])
    for index in (3, 4, 5, 11, 17):
        assert "Traceback" not in outputs_text(cells[index])


def test_no_display_shows_nothing(session):
    _, cells = session
    assert outputs_text(cells[6]).strip() == "1"


def test_sql_magics(session):
    _, cells = session
    assert "my run" in outputs_text(cells[7]) and "9" in outputs_text(cells[7])
    assert int(outputs_text(cells[9]).strip()) >= 3
    assert "no_such_table" in outputs_text(cells[10]) and "UsageError" in outputs_text(cells[10])


def test_autotrace_traces_cells_that_record_spans_only(session):
    db, cells = session
    # execution counts: the setup cell is In[1], so cells[i] is In[i + 2]
    assert "trace 'cell [15]'" in outputs_text(cells[13]) and "2 spans" in outputs_text(cells[13])
    assert outputs_text(cells[14]).strip() == "2"
    assert outputs_text(cells[16]).strip() == "5"
    names = [r[0] for r in _query(db, "SELECT name FROM traces ORDER BY start_ns")]
    assert names.count("cell [15]") == 1  # auto() under autotrace
    assert "cell [16]" not in names and "cell [18]" not in names


def test_syntax_error_in_a_traced_cell(session):
    _, cells = session
    errs = errors(cells[18])
    assert len(errs) == 1 and errs[0].ename == "SyntaxError"
