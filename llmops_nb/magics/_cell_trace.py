"""One notebook cell as one trace: the root span, its provenance, and its ending.

Shared by ``%%llm_trace`` (root created up front) and ``%llm_autotrace``
(root created lazily, only when the cell records a span).
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any

from .._safety import log_once
from ..tracing import _context
from ..tracing._span import Span
from ._provenance import cell_info

#: The end of a traced cell waits at most this long for a store that is unavailable (another
#: kernel holding the file, a full disk); past it, the trace is shown from memory and written
#: when the store takes it. While the writer is merely working (the kernel's first write imports
#: DuckDB and migrates the file) it waits up to CELL_WORKING_WAIT_S.
CELL_FLUSH_WAIT_S = 1.0
CELL_WORKING_WAIT_S = 30.0
#: exceptions whose traceback IPython was asked to show while the cell ran, kept to find the cell's own
_RAISES_KEPT = 8


class CellTrace:
    def __init__(self, shell: Any, source: str, *, name: str | None = None, tags: dict[str, str] | None = None,
                 session: str | None = None, execution_count: int | None = None) -> None:
        self.shell = shell
        self.source = source
        self.execution_count = count = execution_count
        self.name = name or (f"cell [{count}]" if count is not None else "cell")
        self.tags = tags or {}
        self.session = session
        self.root: Span | None = None
        self._lock = threading.Lock()
        self._raised: list[tuple[BaseException, int]] = []  # (exception, when IPython was asked to show it)
        self._watch: tuple[Any, Any] | None = None  # (the shell's showtraceback before ours or None, ours)

    def materialize(self) -> Span:
        """The root span, created on first use (spans started in any thread may call this)."""
        root = self.root
        if root is not None:
            return root
        with self._lock:
            if self.root is None:
                root = Span(self.name, "CHAIN", None, {"llmops_nb.source": "notebook_cell"})
                root.trace_meta = {"tags": self.tags, "session": self.session,
                                   "cell": cell_info(self.shell, self.source, self.execution_count)}
                root.set_inputs({"cell": self.source})
                self.root = root
            return self.root

    def watch_raise(self) -> None:
        """Note when an exception leaves the cell's code, so that a failing cell's root ends right then.

        IPython catches it around the cell's code and at once calls ``shell.showtraceback``;
        formatting the traceback, then the ``post_run_cell`` hooks (where the root ends) come after
        and can take far longer than the cell's work. IPython has no event for that moment, so the
        shell's method is wrapped while the cell runs: ours notes the time and calls it unchanged.
        """
        shell = self.shell
        if self._watch is not None or shell is None:
            return
        previous = vars(shell).get("showtraceback")  # None: the class's method
        original = shell.showtraceback

        def showtraceback(*args: Any, **kwargs: Any) -> Any:
            if self._watch is not None:
                self.note_raise()
            return original(*args, **kwargs)

        try:
            shell.showtraceback = showtraceback
            self._watch = (previous, showtraceback)
        except Exception as exc:  # noqa: BLE001 - without it the root ends later, nothing worse
            log_once("cell.watch_raise", exc)

    def unwatch_raise(self) -> None:
        """Put the shell's ``showtraceback`` back, unless another wrapper went on top of ours since.

        Then ours stays under it, calling the original and noting nothing.
        """
        watch, self._watch = self._watch, None
        if watch is None:
            return
        previous, ours = watch
        try:
            if vars(self.shell).get("showtraceback") is ours:
                if previous is None:
                    del self.shell.showtraceback
                else:
                    self.shell.showtraceback = previous
        except Exception as exc:  # noqa: BLE001
            log_once("cell.unwatch_raise", exc)

    def note_raise(self) -> None:
        """The exception being handled left the cell's code now (called in IPython's ``except``): keep the time.

        Kept per exception, the first time it is shown: ``showtraceback`` also runs for errors the
        cell's code showed and handled itself, and for failing ``post_run_cell`` hooks after it.
        """
        try:
            exc = sys.exc_info()[1]
            if exc is None or any(seen is exc for seen, _ in self._raised):
                return
            self._raised.append((exc, time.time_ns()))
            del self._raised[:-_RAISES_KEPT]
        except Exception as error:  # noqa: BLE001 - runs inside IPython's error handling: never raise
            log_once("cell.note_raise", error)

    def end_ns(self, root: Span, error: BaseException | None) -> int | None:
        """When ``error`` left the cell's code, if that was noted (and the root had begun by then); else None: now."""
        if error is None:
            return None
        when = next((when for seen, when in self._raised if seen is error), None)
        return when if when is not None and when >= root.start_ns else None

    def finish(self, error: BaseException | None, result: Any = None) -> bool:
        """End the root (if any span was recorded) and persist the trace. False when nothing was traced."""
        root = self.root
        if root is None:
            return False
        try:
            for hook in list(_context.root_end_hooks):
                try:
                    hook(root)
                except Exception as exc:  # noqa: BLE001
                    log_once("cell.root_end_hook", exc)
            if error is not None:
                root.record_exception(error)
            elif result is not None:
                root.set_outputs(result)
            # A failing cell's root ends when the error left the cell's code, not after IPython
            # showed its traceback (see watch_raise); else now.
            root.end(self.end_ns(root, error))
        except Exception as exc:  # noqa: BLE001
            log_once("cell.finish", exc)
        finally:
            self._raised.clear()
        return True

    def persist_and_show(self, display: bool) -> Any:
        """Flush (waiting at most CELL_FLUSH_WAIT_S), then show the trace; return the Trace.

        When the store does not take the trace in time, its summary is shown from memory with the
        reason, and the returned ``Trace`` reads from the store once the writer got it there.
        """
        from .._display import show
        from .._trace import Trace

        root = self.root
        if root is None:
            return None
        trace = Trace(root.trace_id)
        from ..store._recorder import recorder

        if not recorder.flush_for_cell(CELL_FLUSH_WAIT_S, CELL_WORKING_WAIT_S):
            if display:
                from ..store._memory import PendingTrace

                show(PendingTrace(root.trace_id))
            return trace
        if display:
            try:
                show(trace)
            except Exception as exc:  # noqa: BLE001 - display must not fail the cell
                log_once("cell.display", exc)
        return trace
