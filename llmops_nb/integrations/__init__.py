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

import importlib.util
import sys
import threading
from collections.abc import Callable

from .._on_import import after_import
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
                if name not in _waiting:
                    _waiting.add(name)
                    after_import(name, _enable_after_import(name))
                names.append(name)
    return names


def _enable_after_import(name: str) -> Callable[[], None]:
    def enable() -> None:
        with _lock:
            if name not in _waiting:  # autolog(disable=True) came first
                return
            _waiting.discard(name)
        _PROVIDERS[name][0]()

    return enable
