"""IPython magics: ``%%llm_trace``, ``%llm_autotrace``, ``%llm_sql``, ``%llm_traces``, ``%llm_sessions``,
``%llm_receive``, ``%llm_replay``.

Loaded by ``%load_ext llmops_nb``.
"""

from __future__ import annotations

from typing import Any

from ._prompt_magic import PromptMagics
from ._receive_magic import ReceiveMagics
from ._replay_magic import ReplayMagics
from ._sessions_magic import SessionsMagics
from ._sql_magic import SqlMagics
from ._trace_magic import TraceMagics
from ._traces_magic import TracesMagics

_loaded: dict[int, TraceMagics] = {}


def load(ipython: Any) -> None:
    if id(ipython) in _loaded:
        return
    trace_magics = TraceMagics(ipython)
    ipython.register_magics(trace_magics)
    ipython.register_magics(SqlMagics(ipython))
    ipython.register_magics(PromptMagics(ipython))
    ipython.register_magics(TracesMagics(ipython))
    ipython.register_magics(SessionsMagics(ipython))
    ipython.register_magics(ReceiveMagics(ipython))
    ipython.register_magics(ReplayMagics(ipython))
    ipython.input_transformers_cleanup.append(trace_magics.rewrite_cell)
    ipython.events.register("pre_run_cell", trace_magics.pre_run_cell)
    ipython.events.register("post_run_cell", trace_magics.post_run_cell)
    _loaded[id(ipython)] = trace_magics
    from ..widgets import install_display

    install_display()  # traces display as the explorer widget (with a script-free snapshot inside)
    from ..store._recorder import recorder
    from ..tracing import install_thread_propagation

    install_thread_propagation()  # ThreadPoolExecutor work in traced cells joins the cell's trace
    recorder.warm_up()  # the first traced cell should not wait for DuckDB's import and the migrations


def unload(ipython: Any) -> None:
    trace_magics = _loaded.pop(id(ipython), None)
    if trace_magics is None:
        return
    if trace_magics.rewrite_cell in ipython.input_transformers_cleanup:
        ipython.input_transformers_cleanup.remove(trace_magics.rewrite_cell)
    ipython.events.unregister("pre_run_cell", trace_magics.pre_run_cell)
    ipython.events.unregister("post_run_cell", trace_magics.post_run_cell)
    from ..widgets import uninstall_display

    uninstall_display()
