"""Run a callback right after a module finishes importing, without importing it ourselves.

Capture of an SDK or a framework is switched on when the user's program first imports it, so
``autolog()`` never pays the ~1 s import of a package the notebook does not use. One finder on
``sys.meta_path`` serves every caller (the SDK capture and the OpenTelemetry frameworks).
"""

from __future__ import annotations

import importlib.abc
import sys
import threading
from collections.abc import Callable
from typing import Any

from ._safety import log_once

__all__ = ["after_import"]

_callbacks: dict[str, list[Callable[[], Any]]] = {}
_lock = threading.Lock()


def after_import(module: str, callback: Callable[[], Any]) -> None:
    """Call ``callback()`` once, right after ``module`` is next imported (the same callback is kept once).

    The callback decides for itself whether it is still wanted (capture may have been turned off
    meanwhile); an exception in it is logged once and the user's import succeeds regardless.
    """
    with _lock:
        waiting = _callbacks.setdefault(module, [])
        if callback not in waiting:
            waiting.append(callback)
        if not any(isinstance(finder, _Watcher) for finder in sys.meta_path):
            sys.meta_path.insert(0, _Watcher())


class _Watcher(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname not in _callbacks:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _CallAfterLoad(spec.loader, fullname)
                return spec
        return None


class _CallAfterLoad(importlib.abc.Loader):
    def __init__(self, loader: Any, name: str) -> None:
        self._loader = loader
        self._name = name

    def create_module(self, spec: Any) -> Any:
        return self._loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        try:
            self._loader.exec_module(module)
        except BaseException as exc:
            # A failed import (a broken install of the SDK) raises without this frame, as an unwatched
            # import does: since Python 3.11 a bare `raise` keeps __traceback__ (tracing/_tracebacks.py)
            head = exc.__traceback__
            if head is not None and head.tb_frame.f_code is _CallAfterLoad.exec_module.__code__:
                exc.__traceback__ = head.tb_next
            raise
        with _lock:
            callbacks = _callbacks.pop(self._name, [])
        for callback in callbacks:
            try:
                callback()
            except Exception as exc:  # noqa: BLE001 - the user's import must succeed regardless
                log_once(f"after_import.{self._name}", exc)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)
