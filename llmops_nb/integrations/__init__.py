"""Automatic tracing of the provider SDKs: every OpenAI and Anthropic call becomes a CHAT_MODEL span.

>>> import llmops_nb
>>> llmops_nb.autolog()            # doctest: +SKIP
['anthropic', 'openai']

The SDKs' resource classes are patched, so clients created before ``autolog()``
are traced too. The SDKs are imported only here, when asked for. What each span
holds — request parameters (credentials removed), the response as a plain dict
(for streams, the aggregated response), OpenTelemetry GenAI usage attributes and
the cost — is described in ``_openai.py`` and ``_anthropic.py``.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
import threading
from typing import Any

from .._safety import log_once
from ..tracing import _context
from ._anthropic import disable_anthropic, enable_anthropic
from ._openai import disable_openai, enable_openai
from ._streams import finish_streams_of

__all__ = ["autolog", "disable_anthropic", "disable_openai", "enable_anthropic", "enable_openai"]

_PROVIDERS = {"anthropic": (enable_anthropic, disable_anthropic), "openai": (enable_openai, disable_openai)}
_waiting: set[str] = set()  # installed, not imported yet: patched the moment the user imports them
_lock = threading.Lock()

# A cell's trace must not end with one of its streams still open.
if finish_streams_of not in _context.root_end_hooks:
    _context.root_end_hooks.append(finish_streams_of)


def autolog(disable: bool = False) -> list[str]:
    """Trace every installed provider SDK (or stop, with ``disable=True``); returns the names affected.

    An SDK already imported is patched now; one installed but not imported yet
    is patched when the program first imports it — so enabling capture never
    costs the ~1 s import of an SDK the notebook does not use. Idempotent.
    """
    names = []
    with _lock:
        for name, (enable, stop) in _PROVIDERS.items():
            if disable:
                _waiting.discard(name)
                if name in sys.modules:
                    stop()
                names.append(name)
            elif name in sys.modules:
                if enable():
                    names.append(name)
            elif importlib.util.find_spec(name) is not None:
                _waiting.add(name)
                names.append(name)
        if _waiting and _ImportWatcher not in [type(f) for f in sys.meta_path]:
            sys.meta_path.insert(0, _ImportWatcher())
    return names


class _ImportWatcher(importlib.abc.MetaPathFinder):
    """Patches an SDK right after its top-level package finishes importing."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname not in _waiting:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None and spec.loader is not None and hasattr(spec.loader, "exec_module"):
                spec.loader = _PatchAfterLoad(spec.loader, fullname)
                return spec
            if spec is not None:
                return spec
        return None


class _PatchAfterLoad(importlib.abc.Loader):
    def __init__(self, loader: Any, name: str) -> None:
        self._loader = loader
        self._name = name

    def create_module(self, spec: Any) -> Any:
        return self._loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        self._loader.exec_module(module)
        with _lock:
            if self._name not in _waiting:
                return
            _waiting.discard(self._name)
        try:
            _PROVIDERS[self._name][0]()
        except Exception as exc:  # noqa: BLE001 - the user's import must succeed regardless
            log_once(f"{self._name}.autolog_on_import", exc)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)
