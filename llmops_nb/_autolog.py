"""``llmops_nb.autolog()``: capture every LLM call the notebook makes, whatever makes it.

Two kinds of capture, each in its own layer: the official openai/anthropic SDKs are patched by
``integrations`` (our own spans), and frameworks (LangChain, LlamaIndex, ...) get their
OpenInference instrumentor through ``otel``. This module calls both, so neither imports the other.
"""

from __future__ import annotations

from .integrations import autolog as _sdks
from .tracing import install_thread_propagation


def autolog(disable: bool = False) -> list[str]:
    """Trace every installed provider SDK and framework (or stop, with ``disable=True``).

    Returns the SDK names affected (frameworks are listed in ``llmops_nb.status()["otel"]``). An SDK
    or framework installed but not imported yet is captured when the program imports it, so this
    never costs the import of something the notebook does not use. Idempotent.

    >>> import llmops_nb
    >>> llmops_nb.autolog()  # doctest: +SKIP
    ['anthropic', 'openai']
    """
    names = _sdks(disable)
    from .otel._frameworks import autolog_hook

    autolog_hook(disable)
    if not disable:
        install_thread_propagation()  # work a traced call hands to a ThreadPoolExecutor joins its trace
    return names
