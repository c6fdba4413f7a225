"""Linking prompt versions to traces, and the ``traces(prompt=...)`` filter.

Loading or formatting a version inside a trace records, on the current span (and
on the traced cell's root span while it is open):

- ``llmops_nb.prompt.name``, ``llmops_nb.prompt.version``, ``llmops_nb.prompt.uri``: the last
  version used there, named as MLflow's trace-to-prompt links read;
- ``llmops_nb.prompt.uris``: every prompt version used there, in order, so a span that
  formats a system prompt and a user prompt keeps both.

The filter matches a trace when any of its spans used the prompt (version).
"""

from __future__ import annotations

import re
from typing import Any

from .._safety import log_once
from ..tracing import _context
from ._refs import parse_ref, uri

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


def trace_filter(prompt: Any) -> tuple[str, list[Any]]:
    """A WHERE clause on ``traces`` (and its parameters) for ``traces(prompt=...)``.

    ``prompt``: ``"qa"`` (any version), ``"qa@3"`` / ``"qa/3"`` / ``"prompts:/qa/3"`` (that version),
    ``"qa@production"`` (the version the alias points to now) or a ``PromptVersion``.

    >>> trace_filter("qa@3")[1]
    ['"prompts:/qa/3"']
    """
    if hasattr(prompt, "name") and hasattr(prompt, "version"):
        name, version, alias = prompt.name, int(prompt.version), None
    else:
        name, version, alias = parse_ref(prompt)
    if alias is not None:
        from ._registry import resolve_version

        version = resolve_version(name, None, alias)
    column = f"json_extract_string(attributes, '$.\"{URIS}\"')"
    # Names allow only [A-Za-z0-9_.-], so the JSON text holds the URI verbatim between quotes.
    if version is None:
        test, param = f"regexp_matches({column}, ?)", f'"{re.escape(uri(name, 0)[:-1])}[0-9]+"'
    else:
        test, param = f"contains({column}, ?)", f'"{uri(name, version)}"'
    return f"trace_id IN (SELECT trace_id FROM spans WHERE {test})", [param]
