"""A traced call fails with the untraced call's traceback; the span's copy names notebook cells as IPython does.

In-process: every shape ``@trace`` wraps raises the same exception object with the same frames as
the undecorated function. In a real kernel: a traced cell's printed traceback is the untraced
cell's, and the span stores ``Cell In[n], line m`` instead of ``/tmp/ipykernel_…/….py``.
On Python 3.10 the outermost wrapper's frame stays (``support.OURS_LEFT``), and nothing else.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import re
from pathlib import Path

import duckdb
import pytest
from support import OURS_LEFT, assert_untraced_traceback, errors, frames, run_cells

import llmops_nb
from llmops_nb import _safety
from llmops_nb.tracing import _serialize

TRACING = str(Path(llmops_nb.__file__).parent / "tracing")


def _untraced(fn):
    return fn


def _sync(deco):
    @deco
    def inner():
        raise ValueError("boom")

    @deco
    def outer():
        return inner()

    return outer


def _async(deco):
    @deco
    async def inner():
        raise ValueError("boom")

    @deco
    async def outer():
        return await inner()

    return lambda: asyncio.run(outer())


def _generator(deco):
    @deco
    def numbers():
        yield 1
        raise ValueError("boom")

    return lambda: list(numbers())


def _thrown_into_generator(deco):
    @deco
    def numbers():
        try:
            yield 1
        except KeyError as error:
            raise ValueError("boom") from error

    def run():
        gen = numbers()
        next(gen)
        gen.throw(KeyError("k"))

    return run


def _async_generator(deco):
    @deco
    async def numbers():
        yield 1
        raise ValueError("boom")

    async def consume():
        return [n async for n in numbers()]

    return lambda: asyncio.run(consume())


def _thrown_into_async_generator(deco):
    @deco
    async def numbers():
        yield 1
        yield 2

    async def run():
        gen = numbers()
        await gen.__anext__()
        await gen.athrow(KeyError("k"))

    return lambda: asyncio.run(run())


def _thread_pool(deco):
    inner = _sync(deco)

    def run():
        block = llmops_nb.span("fan-out") if deco is llmops_nb.trace else contextlib.nullcontext()
        with block, concurrent.futures.ThreadPoolExecutor(1) as pool:
            future = pool.submit(inner)
            # Future.result() raises from one of two lines, depending on whether the worker has finished;
            # waiting first makes both runs take the same line, so their frames can be compared.
            concurrent.futures.wait([future])
            return future.result()

    return run


def _wrong_arguments(deco):
    @deco
    def one(a):
        return a

    return lambda: one(1, 2)


def _chained(deco):
    inner = _sync(deco)

    @deco
    def outer():
        try:
            inner()
        except ValueError as error:
            raise KeyError("k") from error

    return outer


SHAPES = [_sync, _async, _generator, _thrown_into_generator, _async_generator, _thrown_into_async_generator,
          _thread_pool, _wrong_arguments, _chained]


def _failure(run):
    try:
        run()
    except BaseException as exc:
        return exc
    raise AssertionError("expected the call to fail")


@pytest.mark.parametrize("shape", SHAPES, ids=lambda shape: shape.__name__.strip("_"))
def test_a_traced_call_raises_with_the_untraced_traceback(shape):
    plain, traced = _failure(shape(_untraced)), _failure(shape(llmops_nb.trace))
    assert str(traced) == str(plain)
    assert_untraced_traceback(traced, plain)


def test_the_same_exception_object_propagates_with_its_chain():
    cause = KeyError("cause")
    err = ValueError("boom")

    @llmops_nb.trace
    def fails():
        try:
            raise cause
        except KeyError:
            raise err from cause

    with pytest.raises(ValueError) as caught:
        fails()
    assert caught.value is err and err.__cause__ is cause and err.__context__ is cause


def test_an_internal_failure_neither_chains_our_error_nor_adds_our_frame(monkeypatch):
    monkeypatch.setattr(_serialize, "to_json", lambda *a, **k: 1 / 0)  # recording inputs fails
    monkeypatch.setattr(_safety, "_seen", set(_safety._seen))  # other tests still see its first warning

    def plain(x):
        raise ValueError(x)

    traced = llmops_nb.trace(plain)
    error = _failure(lambda: traced(1))
    assert error.__context__ is None  # not "During handling of ZeroDivisionError …"
    shown = [frame[1] for frame in frames(error) or []]
    assert [name for name in shown if name != "wrapper"] == ["_failure", "<lambda>", "plain"]  # as untraced
    assert len(shown) == 3 + OURS_LEFT


def test_the_stored_traceback_leaves_out_our_frames():
    _failure(_chained(llmops_nb.trace))
    assert llmops_nb.flush()
    stored = llmops_nb.sql("SELECT error FROM spans WHERE status = 'ERROR'").error
    assert len(stored) == 3
    for text in stored:
        assert "Traceback (most recent call last)" in text and "raise ValueError" in text
        assert TRACING not in text and "in wrapper" not in text


# --- in a real kernel --------------------------------------------------------------------------

DEFINITIONS = """\
@deco
def inner():
    raise ValueError('boom')
@deco
def outer():
    return inner()
@deco
async def ainner():
    raise ValueError('boom')
@deco
def numbers():
    yield 1
    raise KeyError('k')
"""
FAILING = [
    "outer()",
    "await ainner()",
    "list(numbers())",
    "with block('b'):\n    outer()",
    "with block('b'), concurrent.futures.ThreadPoolExecutor(1) as pool:\n    pool.submit(outer).result()",
]
FILLER = "a = 1\nb = 2\nc = 3\nd = 4\nouter()"  # the cell's first line out of the traceback's context


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    db = tmp_path_factory.mktemp("tracebacks") / "nb.duckdb"
    cells = [
        "import concurrent.futures, contextlib\ndeco, block = llmops_nb.trace, llmops_nb.span",
        DEFINITIONS, *FAILING,
        f"%%llm_trace\n{FILLER}",
        "deco, block = (lambda f: f), (lambda name: contextlib.nullcontext())",
        DEFINITIONS, *FAILING,
        f"# untraced\n{FILLER}",
        "print(llmops_nb.flush())",
    ]
    executed = run_cells(cells, db)
    half = len(FAILING) + 3
    traced, untraced = executed[2:half], executed[half + 2:2 * half]
    return db, traced, untraced, executed


def _shown(cell):
    (error,) = errors(cell)
    text = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(error.traceback))
    text = re.sub(r"In\[\d+\]", "In[N]", text)
    # the first line of the %%llm_trace cell (the magic, as IPython rewrites it) and of its untraced twin
    return re.sub(r"\n *1 (get_ipython\(\)\.run_line_magic\('llm_trace_begin', ''\)|# untraced)\n", "\n", text)


def test_a_traced_cell_shows_the_untraced_cells_traceback(kernel):
    _, traced, untraced, _ = kernel
    assert len(traced) == len(untraced) == len(FAILING) + 1
    for with_tracing, without in zip(traced, untraced, strict=True):
        shown = _shown(with_tracing)
        if OURS_LEFT:  # Python 3.10: the frame of ours that stays is hidden, IPython says so in its place
            shown, hidden = re.subn(r"\n *\[\.\.\. skipping hidden 1 frame\]\n", "", shown)
            assert hidden <= OURS_LEFT
        assert "Cell In[N]" in shown and "raise" in shown
        assert "llmops_nb" not in shown, shown
        assert shown == _shown(without)


def test_the_span_names_the_cell_as_ipython_does(kernel):
    db, *_ = kernel
    con = duckdb.connect(str(db), read_only=True)
    try:
        stored = [row[0] for row in con.execute("SELECT error FROM spans WHERE status = 'ERROR'").fetchall()]
    finally:
        con.close()
    assert stored
    for text in stored:
        assert re.search(r"Cell In\[\d+\], line \d+, in ", text), text
        assert "ipykernel_" not in text and "llmops_nb" not in text and "interactiveshell" not in text
