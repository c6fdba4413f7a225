"""``%%llm_trace``: run a cell as one trace; ``%llm_autotrace``: every traced cell becomes one.

A ``%%llm_trace`` cell is rewritten before IPython compiles it: the magic line
becomes a call that opens the trace, the body stays as written (same line
numbers), and the ``post_run_cell`` hook closes the trace. So the body runs as
a normal cell — top-level ``await`` works, the last value displays as usual,
and an exception reaches the user with exactly its own traceback. Calling the
magic programmatically (``run_cell_magic``) takes the classic cell-magic path.
"""

from __future__ import annotations

from typing import Any

import IPython
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class, no_var_expand

from .._safety import log_once
from ..tracing import _context
from ._args import MagicParser, check_variable, parse_tags
from ._cell_trace import CellTrace

_TRACE = MagicParser("%%llm_trace", "%%llm_trace result --name 'rag v2' --tag env=dev --session s1")
_TRACE.add_argument("var", nargs="?", default=None)
_TRACE.add_argument("--name", default=None)
_TRACE.add_argument("--tag", action="append", default=[], metavar="KEY=VALUE")
_TRACE.add_argument("--session", default=None)
_TRACE.add_argument("--no-display", action="store_true", dest="no_display")


def _enable_autolog() -> None:
    try:
        from .._autolog import autolog

        autolog()
    except Exception as exc:  # noqa: BLE001 - capture is best effort; the cell must run
        log_once("magic.autolog", exc)


@magics_class
class TraceMagics(Magics):
    def __init__(self, shell: Any) -> None:
        super().__init__(shell)
        self._autotrace: CellTrace | None = None
        self._autotrace_on = False
        # (CellTrace, contextvar token, VAR, display?) of the %%llm_trace cell now running
        self._open: tuple[CellTrace, Any, str | None, bool] | None = None
        self._raw_cell = ""  # the running cell as the user wrote it (before our rewrite)

    def _user_ns(self) -> dict[str, Any]:
        assert self.shell is not None  # a registered magic always has its shell
        return self.shell.user_ns

    def rewrite_cell(self, lines: list[str]) -> list[str]:
        """Input transformer: '%%llm_trace ARGS' -> a line that opens the trace; the body is untouched."""
        if lines:
            first = lines[0].lstrip()
            head = first.split(None, 1)[0] if first.strip() else ""
            if head == "%%llm_trace":
                args = first[len("%%llm_trace"):].strip()
                return [f"get_ipython().run_line_magic('llm_trace_begin', {args!r})\n", *lines[1:]]
        return lines

    @no_var_expand
    @line_magic
    def llm_trace_begin(self, line: str) -> None:
        """Internal: opens the trace of a %%llm_trace cell (its first line is rewritten to call this)."""
        self._close_open(None, None)  # a previous cell whose post_run_cell never came
        opts = _TRACE.parse_line(line)
        var = check_variable(opts.var, "%%llm_trace")
        tags = parse_tags(opts.tag, "%%llm_trace")
        _enable_autolog()
        cell_trace = CellTrace(self.shell, self._raw_cell, name=opts.name, tags=tags,
                               session=opts.session, execution_count=_running_count(self.shell))
        root = cell_trace.materialize()
        token = _context.current_span.set(root)
        _context.set_cell_root(root)
        cell_trace.watch_raise()
        self._open = (cell_trace, token, var, not opts.no_display)

    def _close_open(self, result: Any, error: BaseException | None) -> None:
        opened, self._open = self._open, None
        if opened is None:
            return
        cell_trace, token, var, display = opened
        cell_trace.unwatch_raise()
        try:
            try:
                _context.current_span.reset(token)
            except ValueError:  # the hook runs in another context than the cell
                _context.current_span.set(None)
            if _context._cell_root[0] is cell_trace.root:
                _context.set_cell_root(None)
            cell_trace.finish(error, None if error or result is None else result.result)
            trace = cell_trace.persist_and_show(display=display)
            if var is not None:
                self._user_ns()[var] = trace
        except Exception as exc:  # noqa: BLE001
            log_once("magic.close", exc)

    @cell_magic
    def llm_trace(self, line: str, cell: str) -> None:
        """Run the cell as one trace: %%llm_trace [VAR] [--name NAME] [--tag K=V ...] [--session ID] [--no-display]

        Every span created while the cell runs — manual, auto-captured, in
        threads and asyncio tasks — joins this trace. VAR receives the Trace.
        """
        __tracebackhide__ = True
        opts = _TRACE.parse_line(line)
        var = check_variable(opts.var, "%%llm_trace")
        tags = parse_tags(opts.tag, "%%llm_trace")
        _enable_autolog()
        cell_trace = CellTrace(self.shell, cell, name=opts.name, tags=tags, session=opts.session,
                               execution_count=_running_count(self.shell))
        root = cell_trace.materialize()
        token = _context.current_span.set(root)
        previous_root = _context._cell_root[0]
        _context.set_cell_root(root)
        try:
            result = _run_quietly(self.shell, cell, cell_trace)
        finally:
            _context.set_cell_root(previous_root)
            _context.current_span.reset(token)
        error = result.error_before_exec or result.error_in_exec
        cell_trace.finish(error, None if error else result.result)
        trace = cell_trace.persist_and_show(display=not opts.no_display)
        if var is not None:
            self._user_ns()[var] = trace
        if error is not None:
            # The cell fails exactly as it would without the magic: same exception, one traceback.
            raise error.with_traceback(error.__traceback__)

    @line_magic
    def llm_autotrace(self, line: str) -> None:
        """%llm_autotrace on|off — every cell that records a span (an LLM call, a @trace function) becomes a trace."""
        from IPython.core.error import UsageError

        arg = line.strip().lower()
        if arg not in ("on", "off", ""):
            raise UsageError(f"%llm_autotrace: expected 'on' or 'off', got {line.strip()!r}. "
                             "Write %llm_autotrace on")
        if arg == "":
            print(f"llm_autotrace is {'on' if self._autotrace_on else 'off'}")
            return
        if arg == "on":
            _enable_autolog()
        self._autotrace_on = arg == "on"
        print(f"llm_autotrace is {arg}: "
              + ("each cell that makes an LLM call or records a span becomes one trace." if arg == "on"
                 else "cells are no longer traced unless you use %%llm_trace."))

    def pre_run_cell(self, info: Any) -> None:
        self._raw_cell = source = getattr(info, "raw_cell", "") or ""
        if not self._autotrace_on:
            return
        try:
            if source.lstrip().startswith("%%llm_trace"):
                self._autotrace = None  # the cell magic makes its own trace
                return
            self._autotrace = CellTrace(self.shell, source, execution_count=_running_count(self.shell))
            _context.set_cell_root(self._autotrace)
            self._autotrace.watch_raise()
        except Exception as exc:  # noqa: BLE001
            log_once("autotrace.pre", exc)

    def post_run_cell(self, result: Any) -> None:
        if self._open is not None:
            self._close_open(result, result.error_before_exec or result.error_in_exec)
        cell_trace, self._autotrace = self._autotrace, None
        if cell_trace is None:
            return
        cell_trace.unwatch_raise()
        try:
            if _context._cell_root[0] is cell_trace:
                _context.set_cell_root(None)
            error = result.error_before_exec or result.error_in_exec
            if cell_trace.finish(error, None if error else result.result):
                cell_trace.persist_and_show(display=True)
        except Exception as exc:  # noqa: BLE001
            log_once("autotrace.post", exc)


def _running_count(shell: Any) -> int | None:
    # IPython 9 increments execution_count before running a cell; IPython 8 after.
    count = getattr(shell, "execution_count", None)
    if count is None:
        return None
    return count - 1 if IPython.version_info[0] >= 9 else count


def _run_quietly(shell: Any, cell: str, cell_trace: CellTrace) -> Any:
    """Run the cell body, leaving its error for us to re-raise (so it is shown once, by the outer cell).

    IPython calls ``showtraceback`` as the error leaves the body's code: the time the root ends.
    """
    show_tb, show_syntax = shell.showtraceback, shell.showsyntaxerror
    shell.showtraceback = lambda *a, **k: cell_trace.note_raise()
    shell.showsyntaxerror = lambda *a, **k: None
    try:
        return shell.run_cell(cell, store_history=False)
    finally:
        shell.showtraceback, shell.showsyntaxerror = show_tb, show_syntax
