"""Tracebacks as the user's program has them: without our frames, with notebook cells named as IPython names them.

Both functions run on the error path only; a call that returns pays nothing for them.

``drop_our_frames``: a traced call catches its user's exception, records it and re-raises it.
While it does, the wrapper's frame heads ``exc.__traceback__``, and it would show in the cell's
traceback between the user's own frames. The wrappers are tracing's (``@trace``, ``span()``), the
SDK patches of ``integrations`` (a call, its stream), the LangChain hooks of ``otel`` and the
import watcher (``_on_import``, which unlinks its own frame: it may not import tracing); each one
unlinks its frames before a bare ``raise``, which leaves exactly the traceback the untraced call
gets: since Python 3.11 a bare ``raise`` re-raises the exception with its ``__traceback__`` and
adds no frame.

Python 3.10 differs: a bare ``raise`` re-raises the traceback entry it caught, the one of the
re-raising frame itself, and no code can take that entry off (``raise exc`` would add it again).
There the outermost wrapper's frame stays, one entry of ours above the SDK's or the user's frames;
the frames below it are unlinked (that entry is relinked past them, and the one frame an inner
wrapper left is unlinked by the next one out). The frame that stays is marked ``__tracebackhide__``:
IPython shows ``[... skipping hidden 1 frame]`` in its place, pytest and IPython's debugger skip
it; ``traceback.extract_tb`` still lists it. The text stored on the span is without our frames on
every version.

``format_exception``: the traceback text stored on a span. Frames of a notebook cell read
``Cell In[4], line 2`` as in IPython's own traceback rather than ``/tmp/ipykernel_…/….py``; our
frames are left out; so are IPython's frames above the cell's code, which IPython hides too.
"""

from __future__ import annotations

import os
import re
import sys
import threading
import traceback
from typing import Any

from .._safety import log_once

_PACKAGE = os.path.dirname(os.path.dirname(__file__)) + os.sep
#: the files whose frames are wrappers around user code (see the module docstring). Named, not
#: imported: tracing loads neither the SDK patches nor OpenTelemetry.
_OURS = tuple(_PACKAGE + path for path in ("tracing" + os.sep, "integrations" + os.sep,
                                           os.path.join("otel", "_langchain.py"), "_on_import.py"))
#: Python 3.10's bare ``raise`` re-raises the traceback entry it caught instead of ``__traceback__``
_RERAISES_CAUGHT_ENTRY = sys.version_info < (3, 11)
#: IPython marks the frame that runs a cell's code (``run_code``) with this; it and the frames
#: above it are IPython's machinery, left out of IPython's tracebacks too
_IPYTHON_BOTTOM = "__ipython_bottom__"


def drop_our_frames(exc: BaseException) -> None:
    """Unlink our wrapper frames that head ``exc``'s traceback (call in the ``except`` before ``raise``).

    Only the head: frames further down were left by inner traced calls, which dropped their own
    frames on the way out, so this is O(1) per traced level even for deep recursion (Python 3.10
    also unlinks the one frame the inner level could not, see the module docstring).
    """
    try:
        head = tb = exc.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename.startswith(_OURS):
            tb = tb.tb_next
        if tb is not head:
            exc.__traceback__ = tb  # what Python 3.11's bare `raise`, `gen.throw(exc)` and `raise exc` use
            if _RERAISES_CAUGHT_ENTRY and head is not None:
                head.tb_next = tb  # 3.10's bare `raise` re-raises `head`: our frame, then the user's or the SDK's
                _unlink_left_frame(tb)
                # A name the frame's code lacks stays in 3.10's f_locals dict: IPython and pytest hide the frame
                head.tb_frame.f_locals["__tracebackhide__"] = True
    except Exception as error:  # noqa: BLE001 - an exotic exception: re-raised as it is, our frame shows
        log_once("traceback.drop_frames", error)


def _unlink_left_frame(tb: Any) -> None:
    """Python 3.10: unlink the next run of our frames below ``tb``, the frame an inner wrapper's ``raise`` left.

    Below that run the inner wrapper unlinked everything itself, so the walk stops there: O(frames
    between two traced levels). A run at the very end is where the exception was raised (our own
    error, or a call's bad arguments): kept, a traceback never loses its last line.
    """
    above = tb
    tb = tb.tb_next if tb is not None else None
    while tb is not None and not tb.tb_frame.f_code.co_filename.startswith(_OURS):
        above, tb = tb, tb.tb_next
    below = tb
    while below is not None and below.tb_frame.f_code.co_filename.startswith(_OURS):
        below = below.tb_next
    if tb is not None and below is not None:
        above.tb_next = below


# One exception propagating through N nested spans is recorded N times; formatting its traceback
# each time costs O(depth) per level — O(depth²) in all: a runaway recursion of 1,000 traced
# levels took 3 minutes to fail instead of an instant. The first (innermost) record formats it,
# the enclosing spans reuse that text. Kept per thread, one exception at a time.
_last = threading.local()


def traceback_text(exc: BaseException) -> str:
    """The traceback text of ``exc`` for a span (reusing the text of the last exception recorded on this thread)."""
    if getattr(_last, "exc", None) is exc:
        return _last.text  # type: ignore[no-any-return]
    text = format_exception(exc)
    _last.exc, _last.text = exc, text
    return text


def forget() -> None:
    """The exception left our outermost span: drop the reference that kept it (and its frames) alive."""
    _last.exc = _last.text = None


def format_exception(exc: BaseException) -> str:
    """Like ``traceback.format_exception``, with notebook cells named and our and IPython's frames left out."""
    try:
        report = traceback.TracebackException(type(exc), exc, _below_ipython(exc.__traceback__), compact=True)
        labels: dict[str, str | None] = {}
        _tidy(report, labels, _cell_namer())
        text = "".join(report.format())
        cells = {name: label for name, label in labels.items() if label}
        if cells:
            files = "|".join(re.escape(name) for name in cells)
            text = re.sub(f'File "({files})", line ', lambda m: f"{cells[m.group(1)]}, line ", text)
        return text
    except Exception as error:  # noqa: BLE001 - the plain text is still worth recording
        log_once("traceback.format", error)
        return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


def _below_ipython(tb: Any) -> Any:
    """The traceback from the first frame below IPython's ``run_code`` (the whole one when there is none)."""
    start = tb
    while tb is not None:
        frame = tb.tb_frame
        # f_locals only for the rare frame that has the variable: it builds a dict
        if "__tracebackhide__" in frame.f_code.co_varnames and \
                frame.f_locals.get("__tracebackhide__") == _IPYTHON_BOTTOM:
            start = tb.tb_next
        tb = tb.tb_next
    return start


def _tidy(report: traceback.TracebackException, labels: dict[str, str | None], namer: Any) -> None:
    """Leave our frames out of ``report`` and its chained exceptions; collect the cell files' labels."""
    pending, seen = [report], set()
    while pending:  # chains can be long: a loop, not recursion
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        current.stack[:] = [frame for frame in current.stack if not frame.filename.startswith(_OURS)]
        if namer is not None:
            files = {frame.filename for frame in current.stack}
            if getattr(current, "filename", None):  # a SyntaxError's own location
                files.add(current.filename)
            for name in files - labels.keys():
                labels[name] = _cell_label(namer, name)
        pending.extend(chained for chained in (current.__cause__, current.__context__,
                                               *(getattr(current, "exceptions", None) or ())) if chained is not None)


def _cell_namer() -> Any:
    """IPython's ``compile.format_code_name`` (IPython ≥ 8) when code runs in an IPython shell, else None.

    IPython is never imported here (tracing must not load it): if the program has not loaded it,
    no frame can be a cell's.
    """
    ipython = sys.modules.get("IPython")
    get_ipython = getattr(ipython, "get_ipython", None)
    shell = get_ipython() if get_ipython is not None else None
    return getattr(getattr(shell, "compile", None), "format_code_name", None)


def _cell_label(namer: Any, filename: str) -> str | None:
    try:
        named = namer(filename)  # ("Cell", "In[4]") for a cell's file, None for any other
    except Exception:  # noqa: BLE001 - a shell of another make: keep the file name
        return None
    if isinstance(named, tuple) and len(named) == 2:
        return f"{named[0]} {named[1]}"
    return None
