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
        # 19: failing cells whose root must end when the error leaves the cell's code: `shown` notes when
        # something other than our recording turns the error into text (IPython showing the traceback)
        "import inspect, time\nshown = []\nclass Shown(Exception):\n    def __str__(self):\n"
        "        if not any('llmops_nb/tracing' in f.filename for f in inspect.stack(0)):\n"
        "            shown.append(time.time_ns())\n        return 'shown'\n"
        "@llmops_nb.trace\ndef fails():\n    raise Shown()\n@llmops_nb.trace\ndef nested():\n    fails()",
        "%%llm_trace --name 'in a function'\nbefore = time.time_ns()\nnested()",
        "print(before, shown[0]); shown.clear()",
        "%%llm_trace --name 'in the cell'\nbefore = time.time_ns()\nraise Shown()",
        "print(before, shown[0]); shown.clear()",
        "%llm_autotrace on",
        "before = time.time_ns()\nnested()",  # 25: cell [27]
        "%llm_autotrace off",
        "print(before, shown[0]); shown.clear()",
        "get_ipython().run_cell_magic('llm_trace', \"--name 'called'\", 'before = time.time_ns()\\nnested()')",
        "print(before, shown[0]); shown.clear()",
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
    assert "ERROR · trace 'cell [4]'" in outputs_text(cells[2])  # the snapshot's text: words, no symbol font
    rows = _query(db, "SELECT status, error_message, error_count FROM traces WHERE name = 'cell [4]'")
    assert rows == [("ERROR", "bad input 42", 1)]


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


@pytest.mark.parametrize(("name", "cell", "printed"), [("in a function", 20, 21), ("in the cell", 22, 23),
                                                      ("cell [27]", 25, 27), ("called", 28, 29)])
def test_a_failing_cells_root_ends_when_the_error_leaves_the_cell(session, name, cell, printed):
    db, cells = session
    assert [e.ename for e in errors(cells[cell])] == ["Shown"]
    before, shown = map(int, outputs_text(cells[printed]).split())
    rows = _query(db, f"SELECT start_ns, end_ns, status, error_count FROM traces WHERE name = '{name}'")
    assert len(rows) == 1
    start, end, status, error_count = rows[0]
    # not after IPython turned the error into a traceback (nor its post_run_cell hooks); an autotraced
    # cell's root begins at its first span, after `before`
    assert before <= end <= shown and start <= end
    assert status == "ERROR" and error_count == 1  # one exception, however many spans it passed through
    (stored,) = _query(db, "SELECT s.error FROM spans s JOIN traces t USING (trace_id) "
                           f"WHERE t.name = '{name}' AND s.parent_span_id IS NULL")[0]
    # the root's copy of the traceback starts at the cell, named as IPython names it
    assert "Cell In[" in stored and "interactiveshell" not in stored and "llmops_nb" not in stored
