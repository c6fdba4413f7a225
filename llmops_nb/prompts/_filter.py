"""``traces(prompt=...)``: traces with any span that loaded or formatted a prompt (version).

The store calls this through the filter the package wires in (``_runtime.install``), so the
store never imports prompts.
"""

from __future__ import annotations

import re
from typing import Any

from ._link import URIS
from ._refs import parse_ref, uri


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
