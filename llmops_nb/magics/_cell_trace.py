"""One notebook cell as one trace: the root span, its provenance, and its ending.

Shared by ``%%llm_trace`` (root created up front) and ``%llm_autotrace``
(root created lazily, only when the cell records a span).
"""

from __future__ import annotations

import threading
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
            root.end()
        except Exception as exc:  # noqa: BLE001
            log_once("cell.finish", exc)
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
