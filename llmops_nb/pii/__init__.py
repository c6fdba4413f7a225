"""PII, found offline and handled by policy before anything is stored or exported.

``find_pii(text)`` lists findings (validated: checksums, numbering plans, context words);
``redact_pii(text, policy)`` applies a policy to one text; ``configure(pii=policy)`` applies it to
every span on its way to the store and to an OTLP backend.

The names load on first use: the store's writer imports ``pii._records`` with every
``import llmops_nb``, and the detector (its compiled patterns) is needed only once a policy is set.
"""

from __future__ import annotations

import importlib
from typing import Any

_NAMES = {
    "ENGINES": "_detect", "ENTITIES": "_detect", "PiiMatch": "_detect", "find_pii": "_detect",
    "ACTIONS": "_policy", "FIELDS": "_policy", "PiiPolicy": "_policy", "load_policy": "_policy",
    "PiiBlockedError": "_errors", "PiiPolicyError": "_errors",
    "Scrubber": "_scrub", "redact_pii": "_scrub",
}

__all__ = ["ACTIONS", "ENGINES", "ENTITIES", "FIELDS", "PiiBlockedError", "PiiMatch", "PiiPolicy", "PiiPolicyError",
           "Scrubber", "find_pii", "load_policy", "redact_pii"]


def __getattr__(name: str) -> Any:
    module = _NAMES.get(name)
    if module is None:
        raise AttributeError(f"module 'llmops_nb.pii' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
