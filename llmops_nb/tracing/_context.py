"""Which span is current: a contextvar, plus the cell's root as a fallback.

asyncio tasks copy contextvars when created, so spans in tasks nest by
themselves. Threads do not: ``ThreadPoolExecutor.submit`` is wrapped to carry
the *current span only* into the worker (not the whole context, which would
change other contextvars the user relies on). Work in a thread that carries no
span — a raw ``threading.Thread`` started in a traced cell — falls back to the
cell's root span, so it still lands in the cell's trace.
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import functools
from typing import TYPE_CHECKING, Any

from ._tracebacks import drop_our_frames

if TYPE_CHECKING:
    from ._span import Span

current_span: contextvars.ContextVar[Span | None] = contextvars.ContextVar("llmops_nb_current_span", default=None)

# Root span of the notebook cell being traced (set by %%llm_trace / %llm_autotrace).
_cell_root: list[Any] = [None]

# Called with a cell's root span just before it ends, e.g. to finish streams the
# user stopped reading but never closed, so they belong to the cell's trace.
root_end_hooks: list[Any] = []


def get_current_span() -> Span | None:
    """The span new spans become children of, or None when none is active."""
    return current_span.get() or cell_root_span()


def cell_root_span() -> Span | None:
    """The traced cell's root span, for work that carries no span of its own (e.g. a raw thread)."""
    root = _cell_root[0]
    if root is None:
        return None
    span: Span | None = root.materialize() if hasattr(root, "materialize") else root
    return span


def started_cell_root() -> Span | None:
    """The traced cell's root if it exists already; unlike ``cell_root_span``, never creates it."""
    root = _cell_root[0]
    span: Span | None = getattr(root, "root", None) if hasattr(root, "materialize") else root
    return span


def set_cell_root(root: Any) -> None:
    _cell_root[0] = root


_original_submit = concurrent.futures.ThreadPoolExecutor.submit


def _submit_with_span(self: concurrent.futures.ThreadPoolExecutor, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
    parent = current_span.get()
    if parent is None:
        return _original_submit(self, fn, *args, **kwargs)
    return _original_submit(self, functools.partial(_run_under, parent, fn), *args, **kwargs)


def _run_under(parent: Span, fn: Any, *args: Any, **kwargs: Any) -> Any:
    token = current_span.set(parent)
    try:
        return fn(*args, **kwargs)
    except BaseException as exc:
        drop_our_frames(exc)  # ``future.result()`` re-raises it: without this frame, as untraced
        raise
    finally:
        current_span.reset(token)


installed = False


def install_thread_propagation() -> None:
    """Carry the current span into ThreadPoolExecutor work (idempotent).

    Called when tracing is first used (``@trace``, ``span()``), by ``%load_ext llmops_nb`` and by
    ``autolog()`` — never by ``import llmops_nb``, which must not change the process.
    """
    global installed
    concurrent.futures.ThreadPoolExecutor.submit = _submit_with_span  # type: ignore[method-assign,assignment]
    installed = True


def uninstall_thread_propagation() -> None:
    global installed
    concurrent.futures.ThreadPoolExecutor.submit = _original_submit  # type: ignore[method-assign]
    installed = False
