"""Traced recursion reaches the same depth as untraced recursion.

Each traced call adds one Python frame (the wrapper), so a function traced with ``@trace`` would
hit ``RecursionError`` at about half the depth it reaches untraced (500 instead of 900 levels
under the default limit of 1000) — tracing would change the program. So when spans nest deeper
than ``DEEP``, the interpreter's recursion limit is raised by the nesting depth (the frames we
added) for as long as such deep calls run, and put back when the last one returns, unless the
user changed it meanwhile. Shallow calls — nearly all — pay one integer comparison.
"""

from __future__ import annotations

import sys
import threading

DEEP = 64
_lock = threading.Lock()
_active = 0  # deep traced calls running now, in every thread
_user_limit = 0  # the limit the program set, before we raised it
_our_limit = 0  # what we set it to, to tell the program's own changes apart


def reserve(depth: int) -> None:
    """A traced call at span depth ``depth`` (> DEEP) starts: make room for the frames we add."""
    global _active, _user_limit, _our_limit
    with _lock:
        limit = sys.getrecursionlimit()
        if limit != _our_limit:
            _user_limit = limit  # first deep call, or the program set its own limit
        _active += 1
        wanted = _user_limit + depth + 8
        if limit < wanted:
            sys.setrecursionlimit(wanted)
            _our_limit = wanted


def release() -> None:
    """A deep traced call returned; the last one puts the program's own limit back."""
    global _active, _our_limit
    with _lock:
        _active -= 1
        if _active == 0 and _our_limit and sys.getrecursionlimit() == _our_limit:
            sys.setrecursionlimit(_user_limit)
            _our_limit = 0
