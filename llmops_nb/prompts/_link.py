"""Linking prompt versions to traces (the ``traces(prompt=...)`` filter is in ``_filter.py``).

Loading or formatting a version inside a trace records, on the current span (and
on the traced cell's root span while it is open):

- ``llmops_nb.prompt.name``, ``llmops_nb.prompt.version``, ``llmops_nb.prompt.uri``: the last
  version used there, named as MLflow's trace-to-prompt links read;
- ``llmops_nb.prompt.uris``: every prompt version used there, in order, so a span that
  formats a system prompt and a user prompt keeps both.
"""

from __future__ import annotations

from typing import Any

from .._safety import log_once
from ..tracing import _context
from ._refs import uri

URIS = "llmops_nb.prompt.uris"


def link_current_span(prompt: Any) -> None:
    """Record ``prompt`` on the current span; never fails the caller."""
    try:
        root = _open_cell_root()
        span = _context.current_span.get() or root
        if span is None:
            return
        _record(span, prompt)
        if root is not None and root is not span and root.trace_id_int == span.trace_id_int:
            _record(root, prompt)
    except Exception as exc:  # noqa: BLE001 - linking must never break loading or formatting
        log_once("prompts.link", exc)


def _open_cell_root() -> Any:
    """The traced cell's root if it exists; never creates one (loading a prompt alone is not worth a trace)."""
    holder = _context._cell_root[0]
    return None if holder is None else getattr(holder, "root", holder)  # %llm_autotrace's root is lazy


def _record(span: Any, prompt: Any) -> None:
    if span.ended:
        return
    link = uri(prompt.name, prompt.version)
    used = span.attributes.get(URIS)
    span.set_attributes({
        "llmops_nb.prompt.name": prompt.name,
        "llmops_nb.prompt.version": prompt.version,
        "llmops_nb.prompt.uri": link,
        URIS: [*used, link] if isinstance(used, list) and link not in used else used or [link],
    })
