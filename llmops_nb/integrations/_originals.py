"""The SDK methods capture replaced, with their originals: :func:`patch` once, :func:`unpatch` to restore.

A leaf of ``integrations``: :mod:`._patching` decides what to patch; this module only remembers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._safety import log_once

_patches: dict[str, list[tuple[type, str, Any]]] = {}


def patch(provider: str, owner: type, attr: str, make: Callable[[Any], Any], *, optional: bool = False) -> None:
    """Replace ``owner.attr`` with ``make(original)``, once; remembered for :func:`unpatch`."""
    original = owner.__dict__.get(attr)
    if original is None:
        if optional:
            return
        log_once(f"{provider}.patch.{owner.__name__}.{attr}", None,
                 f"llmops_nb: {owner.__module__}.{owner.__name__}.{attr} not found; that method is not traced")
        return
    if getattr(original, "__llmops_nb_original__", None) is not None:
        return
    wrapper = make(original)
    wrapper.__llmops_nb_original__ = original
    setattr(owner, attr, wrapper)
    _patches.setdefault(provider, []).append((owner, attr, original))


def unpatch(provider: str) -> None:
    """Put back every original method of ``provider`` (idempotent)."""
    for owner, attr, original in reversed(_patches.pop(provider, [])):
        setattr(owner, attr, original)


def is_patched(provider: str) -> bool:
    return provider in _patches
