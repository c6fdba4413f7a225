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

from ._anthropic import disable_anthropic, enable_anthropic
from ._openai import disable_openai, enable_openai

__all__ = ["autolog", "disable_anthropic", "disable_openai", "enable_anthropic", "enable_openai"]

_PROVIDERS = (("anthropic", enable_anthropic, disable_anthropic), ("openai", enable_openai, disable_openai))


def autolog(disable: bool = False) -> list[str]:
    """Trace every installed provider SDK (or stop, with ``disable=True``); returns the names affected.

    Idempotent: calling it again changes nothing and returns the same names.
    """
    names = []
    for name, enable, stop in _PROVIDERS:
        if importlib.util.find_spec(name) is None:
            continue
        if disable:
            stop()
            names.append(name)
        elif enable():
            names.append(name)
    return names
